//! One phone per voting card at a time: each connection of a card's participant takes
//! its seat, and the connection that held it before hears that it was taken. The
//! runtime's part of the cards (`cards` is the pure part): a lock, watch channels, and
//! the time of each take, which the caller passes in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, watch};

use crate::core::ids::ParticipantId;

/// The seats of one session's card holders on this node. In cluster mode a take is
/// announced to the other nodes, whose older connections of the same participant hear
/// it too ([`Seats::taken_elsewhere`]).
#[derive(Debug, Default)]
pub struct Seats {
    /// Per participant with a connection, the number of the connection that holds its
    /// seat, and when it took it. The lock is held only to look up or insert, never
    /// across an `.await`.
    seats: Mutex<HashMap<ParticipantId, Held>>,
    /// In cluster mode, where each take goes to be announced: the participant and when.
    announce: OnceLock<mpsc::UnboundedSender<(ParticipantId, u64)>>,
}

#[derive(Debug)]
struct Held {
    holder: watch::Sender<u64>,
    /// When the newest connection took the seat (ms since the epoch).
    taken_ms: u64,
}

impl Seats {
    /// Takes the participant's seat for a new connection at `now_ms` (ms since the
    /// epoch, the session's clock); an older connection's [`Seat::taken`] resolves.
    pub fn take(self: &Arc<Self>, participant: ParticipantId, now_ms: u64) -> Seat {
        // A poisoned lock only means a panic elsewhere; the map is whole.
        let mut seats = self.seats.lock().unwrap_or_else(|p| p.into_inner());
        let held = seats.entry(participant).or_insert_with(|| Held {
            holder: watch::channel(0).0,
            taken_ms: now_ms,
        });
        held.taken_ms = now_ms;
        held.holder.send_modify(|n| *n += 1);
        let mut rx = held.holder.subscribe();
        let mine = *rx.borrow_and_update();
        if let Some(announce) = self.announce.get() {
            // The receiver ends only with the session.
            announce.send((participant, now_ms)).ok();
        }
        Seat {
            seats: self.clone(),
            participant,
            rx,
            mine,
        }
    }

    /// Sends every take from now on to `announce` (once; later calls change nothing).
    pub fn announce_to(&self, announce: mpsc::UnboundedSender<(ParticipantId, u64)>) {
        self.announce.set(announce).ok();
    }

    /// Another node's connection took the participant's seat at `taken_ms`: the
    /// connections here that took it before hear that it was taken.
    pub fn taken_elsewhere(&self, participant: ParticipantId, taken_ms: u64) {
        let seats = self.seats.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = seats.get(&participant) {
            if held.taken_ms < taken_ms {
                held.holder.send_modify(|n| *n += 1);
            }
        }
    }

    /// Participants with a seat held (for tests of the clean-up).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seats.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no seat is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connection's hold on its card; dropping it frees the seat when nobody else holds it.
#[derive(Debug)]
pub struct Seat {
    seats: Arc<Seats>,
    participant: ParticipantId,
    rx: watch::Receiver<u64>,
    mine: u64,
}

impl Seat {
    /// Resolves once a later connection of the same participant took the seat.
    pub async fn taken(&mut self) {
        // The sender lives in the map while this receiver does (see `Drop`).
        while *self.rx.borrow_and_update() == self.mine {
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut seats = self.seats.seats.lock().unwrap_or_else(|p| p.into_inner());
        // This receiver still counts: one means it was the last.
        if seats
            .get(&self.participant)
            .is_some_and(|s| s.holder.receiver_count() <= 1)
        {
            seats.remove(&self.participant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_later_connection_takes_the_seat_and_the_last_one_frees_it() {
        let seats = Arc::new(Seats::default());
        let participant = uuid::Uuid::new_v4();
        let mut first = seats.take(participant, 1_000);
        let mut second = seats.take(participant, 2_000);
        tokio::time::timeout(std::time::Duration::from_secs(1), first.taken())
            .await
            .expect("the first connection hears it was taken");
        let still =
            tokio::time::timeout(std::time::Duration::from_millis(50), second.taken()).await;
        assert!(still.is_err(), "the newest connection keeps its seat");
        drop(first);
        assert_eq!(seats.len(), 1);
        drop(second);
        assert!(seats.is_empty());
    }

    #[tokio::test]
    async fn a_take_elsewhere_reaches_only_the_connections_that_took_the_seat_before_it() {
        let seats = Arc::new(Seats::default());
        let participant = uuid::Uuid::new_v4();
        let mut here = seats.take(participant, 2_000);
        seats.taken_elsewhere(participant, 1_000);
        let still = tokio::time::timeout(std::time::Duration::from_millis(50), here.taken()).await;
        assert!(still.is_err(), "an older take elsewhere changes nothing");
        seats.taken_elsewhere(participant, 3_000);
        tokio::time::timeout(std::time::Duration::from_secs(1), here.taken())
            .await
            .expect("a newer take elsewhere reaches this connection");
    }
}
