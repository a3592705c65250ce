//! A proxy of a session another node owns: forwards this node's requests to the
//! owner in order, feeds the owner's views to this node's connections, and ends (so
//! they reconnect) when the owner is gone.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Result};
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::owner::{Answer, Forward};
use super::report_from_log;
use super::seats::share_seats;
use super::{
    cmd_subject, notice_subject, role_name, Cluster, FORWARD_TIMEOUT, OWNER_HEADER, OWNER_SILENT,
    ROLES,
};
use crate::hub::{Notice, ProxyParts, Request, SessionHandle, Status};
use crate::protocol::ServerMsg;

/// A proxy of a session another node owns: forwards requests in order, feeds the
/// views, and ends (so its connections reconnect) when the owner is gone.
pub async fn run_proxy(cluster: Arc<Cluster>, handle: SessionHandle, parts: ProxyParts) {
    let code = handle.code().to_owned();
    share_seats(&cluster, &handle);
    if let Err(e) = proxy(&cluster, &handle, parts).await {
        tracing::warn!(code, "the session's owner is gone: {e:#}");
    }
}

async fn proxy(cluster: &Arc<Cluster>, handle: &SessionHandle, parts: ProxyParts) -> Result<()> {
    let code = handle.code().to_owned();
    let client = &cluster.client;
    let ProxyParts {
        mut requests,
        views,
    } = parts;
    let mut view_messages = client.subscribe(format!("sz.{code}.view.*")).await?;
    let mut notices = client.subscribe(notice_subject(&code)).await?;
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(format!("{inbox}.*")).await?;
    // Forwarded requests not yet answered, with when they were sent. Dropping one
    // refuses its request.
    let mut waiting: HashMap<u64, (Instant, oneshot::Sender<Answer>)> = HashMap::new();
    let mut owner: Option<String> = None;
    let mut next_id: u64 = 0;
    let mut heard = Instant::now();
    let mut check = tokio::time::interval(OWNER_SILENT / 2);
    loop {
        tokio::select! {
            request = requests.recv() => {
                let Some(request) = request else { return Ok(()) };
                let (forward, waiter) = match request {
                    Request::Join { participant, card, reply } => {
                        let (tx, rx) = oneshot::channel();
                        tokio::spawn(async move {
                            // The owner went away if no answer comes: dropping `reply` tells the
                            // connection, which closes and reconnects.
                            if let Ok(Answer::Joined(joined)) = rx.await {
                                reply.send(joined).ok();
                            }
                        });
                        (Forward::Join { participant, card }, tx)
                    }
                    Request::Command { command, id, lang, outbox } => {
                        let (tx, rx) = oneshot::channel();
                        tokio::spawn(async move {
                            match rx.await {
                                Ok(Answer::Replies(replies)) => {
                                    for reply in replies {
                                        outbox.send(reply).ok();
                                    }
                                }
                                // No owner took it: nothing was stored, and the phone
                                // sends it again, as after a failed write.
                                _ => {
                                    if let Some(id) = id {
                                        let refusal = ServerMsg::error("storage_unavailable", lang, Some(id));
                                        outbox.send(refusal).ok();
                                    }
                                }
                            }
                        });
                        (Forward::Command { command, id, lang }, tx)
                    }
                    Request::Knows { participant, reply } => {
                        let (tx, rx) = oneshot::channel();
                        tokio::spawn(async move {
                            if let Ok(Answer::Knows(knows)) = rx.await {
                                reply.send(knows).ok();
                            }
                        });
                        (Forward::Knows { participant }, tx)
                    }
                    Request::Report { reply } => {
                        let cluster = cluster.clone();
                        let code = code.clone();
                        tokio::spawn(async move {
                            match report_from_log(&cluster, &code).await {
                                Ok(Some(report)) => drop(reply.send(report)),
                                Ok(None) => {}
                                Err(e) => tracing::error!(code, "building a report: {e:#}"),
                            }
                        });
                        continue;
                    }
                    Request::ReplaceDeck { .. } => continue,
                    Request::Stop { done } => {
                        done.send(()).ok();
                        return Ok(());
                    }
                };
                next_id += 1;
                waiting.insert(next_id, (Instant::now(), waiter));
                let payload = serde_json::to_vec(&forward).expect("requests serialize");
                client
                    .publish_with_reply(cmd_subject(&code), format!("{inbox}.{next_id}"), payload.into())
                    .await?;
            }
            Some(message) = answers.next() => {
                let Some(id) = message.subject.rsplit('.').next().and_then(|s| s.parse::<u64>().ok()) else {
                    continue;
                };
                let Some((_, waiter)) = waiting.remove(&id) else { continue };
                // No responders (the owner is gone, or this node is reconnecting to
                // NATS): the waiter is dropped, which refuses the request; whether the
                // owner is gone the silence of its views tells.
                if let Ok(answer) = serde_json::from_slice::<Answer>(&message.payload) {
                    waiter.send(answer).ok();
                }
            }
            Some(message) = view_messages.next() => {
                heard = Instant::now();
                let from = message.headers.as_ref().and_then(|h| h.get(OWNER_HEADER)).map(|v| v.to_string());
                if from != owner {
                    // A new owner: what the old one took and never answered died with
                    // it. Refused, those requests are sent again.
                    if owner.is_some() {
                        waiting.clear();
                    }
                    owner = from;
                }
                let Ok(text) = String::from_utf8(message.payload.to_vec()) else { continue };
                let bytes = Utf8Bytes::from(text);
                // Compared by content: an owner repeats its views unchanged.
                match message.subject.rsplit('.').next().unwrap_or_default() {
                    "upvotes" => views[0].send_if_modified(|old| old.set_upvotes(bytes)),
                    role => match ROLES.iter().position(|r| role_name(*r) == role) {
                        Some(index) => views[index].send_if_modified(|old| old.set_state(bytes)),
                        None => continue,
                    },
                };
            }
            Some(message) = notices.next() => {
                match serde_json::from_slice::<Notice>(&message.payload) {
                    Ok(Notice::Closed) => {
                        handle.set_notice(Notice::Closed);
                        return Ok(());
                    }
                    Ok(notice) => handle.set_notice(notice),
                    Err(_) => {}
                }
            }
            _ = check.tick() => {
                waiting.retain(|_, (sent, _)| sent.elapsed() < FORWARD_TIMEOUT);
                if heard.elapsed() >= OWNER_SILENT && cluster.views_of(&code).await?.is_some() {
                    // A view was lost on its way; the owner answers.
                    heard = Instant::now();
                }
                if heard.elapsed() >= OWNER_SILENT && heard.elapsed() < FORWARD_TIMEOUT {
                    // Views come late from an owner on a busy machine; while the node
                    // they came from still renews its lease, it is alive.
                    let holder = cluster.lease_holder(&code).await.ok().flatten();
                    if holder.is_some() && holder == owner {
                        continue;
                    }
                }
                if heard.elapsed() >= OWNER_SILENT {
                    if let Ok(Some(r)) = cluster.record(&code).await {
                        if r.status == Status::Closed {
                            handle.set_notice(Notice::Closed);
                            return Ok(());
                        }
                    }
                    // Answers that never came go with the proxy: their connections
                    // close, reconnect and send again.
                    bail!("no view from the owner for {:?}", heard.elapsed());
                }
            }
        }
    }
}
