//! One phone per voting card across the cluster: a seat taken on one node is
//! announced, so the connection holding the same card elsewhere hears it.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{seat_subject, Cluster};
use crate::core::session::ParticipantId;
use crate::hub::SessionHandle;

/// A card's seat taken on a node.
#[derive(Serialize, Deserialize)]
struct SeatTaken {
    participant: ParticipantId,
    taken_ms: u64,
    node: String,
}

/// Shares the session's seats with the other nodes, owner and proxies alike: a take
/// here is announced, and a take announced by another node reaches the connections
/// here that hold the same card. Ends when the session's seats are gone.
pub(super) fn share_seats(cluster: &Arc<Cluster>, handle: &SessionHandle) {
    let (announce, mut taken) = mpsc::unbounded_channel();
    handle.seats().announce_to(announce);
    let seats = Arc::downgrade(handle.seats());
    let (cluster, subject) = (cluster.clone(), seat_subject(handle.code()));
    tokio::spawn(async move {
        let mut others = match cluster.client.subscribe(subject.clone()).await {
            Ok(others) => others,
            Err(e) => {
                tracing::warn!("sharing voting card seats: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                mine = taken.recv() => {
                    let Some((participant, taken_ms)) = mine else { return };
                    let seat = SeatTaken { participant, taken_ms, node: cluster.node.clone() };
                    let Ok(body) = serde_json::to_vec(&seat) else { continue };
                    if let Err(e) = cluster.client.publish(subject.clone(), body.into()).await {
                        tracing::debug!("announcing a voting card's seat: {e}");
                    }
                }
                theirs = others.next() => {
                    let Some(message) = theirs else { return };
                    let Ok(seat) = serde_json::from_slice::<SeatTaken>(&message.payload) else {
                        continue;
                    };
                    let Some(seats) = seats.upgrade() else { return };
                    if seat.node != cluster.node {
                        seats.taken_elsewhere(seat.participant, seat.taken_ms);
                    }
                }
            }
        }
    });
}
