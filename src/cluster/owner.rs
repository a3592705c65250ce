//! The owner's side of a session: answers the proxies' forwarded requests in order,
//! publishes the views (the heartbeat other nodes watch), and keeps the lease.

use std::sync::Arc;

use anyhow::Result;
use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use super::log::LogWriter;
use super::seats::share_seats;
use super::{
    cmd_subject, notice_subject, upvotes_subject, view_subject, views_subject, Claim, Cluster,
    Outage, LEASE_RENEW, OWNER_HEADER, ROLES, VIEW_REPEAT,
};
use crate::core::session::{Command, ParticipantId};
use crate::hub::{JoinInfo, NotAdmitted, Notice, Outbox, Published, Request, SessionHandle};
use crate::wire::protocol::{Lang, ServerMsg};

/// What a proxy asks of the owner.
#[derive(Serialize, Deserialize)]
pub(super) enum Forward {
    Join {
        participant: Option<ParticipantId>,
        card: Option<String>,
    },
    Command {
        command: Command,
        id: Option<u64>,
        lang: Lang,
    },
    Knows {
        participant: ParticipantId,
    },
}

/// The owner's answer.
#[derive(Serialize, Deserialize)]
pub(super) enum Answer {
    Joined(Result<JoinInfo, NotAdmitted>),
    Replies(Vec<ServerMsg>),
    Knows(bool),
}

/// The owner's side of a session: answers the proxies, publishes the views, keeps the
/// lease. Stops the session when another node took it over; ends with the session.
pub async fn serve_owned(
    cluster: Arc<Cluster>,
    handle: SessionHandle,
    writer: LogWriter,
    revision: u64,
) {
    let code = handle.code().to_owned();
    share_seats(&cluster, &handle);
    if let Err(e) = serve(&cluster, &handle, writer, revision).await {
        tracing::error!(code, "serving the session to the cluster: {e:#}");
    }
    // Whatever ended the serving, this node no longer owns the session.
    handle.stop().await;
}

async fn serve(
    cluster: &Arc<Cluster>,
    handle: &SessionHandle,
    writer: LogWriter,
    revision: u64,
) -> Result<()> {
    let code = handle.code().to_owned();
    let client = &cluster.client;
    let mut commands = client.subscribe(cmd_subject(&code)).await?;
    let mut asks = client.subscribe(views_subject(&code)).await?;
    let mut notices = client.subscribe(notice_subject(&code)).await?;
    let views: [watch::Receiver<Published>; 3] = ROLES.map(|r| handle.subscribe(r));
    let mut deposed = writer.deposed();
    // The lease and the views go on in tasks of their own: a flood of forwarded
    // requests, or a session whose queue is full, must not hold back the renewals and
    // the views that tell the other nodes this one is alive.
    let (revision_tx, revision_rx) = watch::channel(revision);
    let (lost_tx, mut lost) = oneshot::channel();
    let lease = AbortOnDrop(tokio::spawn(keep_lease(
        cluster.clone(),
        code.clone(),
        revision_tx,
        lost_tx,
    )));
    let (ended_tx, mut ended) = oneshot::channel();
    let _views = AbortOnDrop(tokio::spawn(publish_views(
        cluster.clone(),
        code.clone(),
        views.clone(),
        ended_tx,
    )));
    loop {
        tokio::select! {
            biased;
            () = handle.stopped() => {
                give_up(cluster, &code, lease, &revision_rx).await;
                return Ok(());
            }
            Ok(()) = deposed.changed() => {
                if *deposed.borrow() {
                    // Freed at once if it is still this node's, so the session is
                    // taken over (and its log read again) without waiting it out.
                    give_up(cluster, &code, lease, &revision_rx).await;
                    return Ok(());
                }
            }
            _ = &mut lost => return Ok(()),
            _ = &mut ended => {
                // The session ended.
                give_up(cluster, &code, lease, &revision_rx).await;
                return Ok(());
            }
            Some(message) = asks.next() => {
                if let Some(reply) = message.reply {
                    let headers = owner_header(cluster);
                    client.publish_with_headers(reply, headers, current_views(&views)).await?;
                }
            }
            Some(message) = notices.next() => {
                // A close from the console of another node.
                if let Ok(Notice::Closed) = serde_json::from_slice(&message.payload) {
                    handle.set_notice(Notice::Closed);
                    return Ok(());
                }
            }
            Some(message) = commands.next() => {
                let Some(reply) = message.reply else { continue };
                match serde_json::from_slice::<Forward>(&message.payload) {
                    Ok(forward) => answer_forward(cluster, handle, forward, reply).await?,
                    Err(e) => tracing::warn!(code, "a forwarded request that does not parse: {e}"),
                }
            }
        }
    }
}

/// Stops renewing the lease and frees it, so another node need not wait it out.
async fn give_up(
    cluster: &Cluster,
    code: &str,
    lease: AbortOnDrop,
    revision: &watch::Receiver<u64>,
) {
    drop(lease);
    let revision = *revision.borrow();
    cluster.release(code, revision).await;
}

/// A task that is stopped when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the session's lease every [`LEASE_RENEW`], keeping its revision in
/// `revision`; ends, and says so on `lost`, when another node holds it.
async fn keep_lease(
    cluster: Arc<Cluster>,
    code: String,
    revision: watch::Sender<u64>,
    lost: oneshot::Sender<()>,
) {
    let mut renew = tokio::time::interval(LEASE_RENEW);
    let mut outage = Outage::default();
    loop {
        renew.tick().await;
        let current = *revision.borrow();
        match cluster
            .leases
            .update(&code, cluster.node.clone().into(), current)
            .await
        {
            Ok(next) => {
                if let Some(lasted) = outage.ended() {
                    tracing::warn!(
                        code,
                        "the session's lease is renewed again, after {lasted:.1?}"
                    );
                }
                revision.send_replace(next);
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                // Expired during a stall of NATS, or taken by another node: only a
                // lease nobody holds is taken back.
                match cluster.claim(&code).await {
                    Ok(Claim::Owner(next)) => {
                        if let Some(lasted) = outage.ended() {
                            tracing::warn!(
                                code,
                                "the session's lease is renewed again, after {lasted:.1?} \
                                 (taken back: it ran out meanwhile)"
                            );
                        }
                        revision.send_replace(next);
                    }
                    _ => {
                        tracing::warn!(
                            code,
                            "the lease went to another node; it takes the session"
                        );
                        lost.send(()).ok();
                        return;
                    }
                }
            }
            // NATS is electing a leader or reconnecting: the lease is renewed at the
            // next tick, and the log fences whatever happens meanwhile.
            Err(e) if outage.failed() => tracing::warn!(
                code,
                "cannot renew the session's lease ({e}); this node serves it on, and \
                 the log refuses its appends if another node takes it over"
            ),
            Err(e) => tracing::debug!(code, "renewing the lease: {e}"),
        }
    }
}

/// Publishes the session's views on every change and again every [`VIEW_REPEAT`];
/// says so on `ended` when the session's views are closed (or NATS is gone for good).
async fn publish_views(
    cluster: Arc<Cluster>,
    code: String,
    mut views: [watch::Receiver<Published>; 3],
    ended: oneshot::Sender<()>,
) {
    let mut repeat = tokio::time::interval(VIEW_REPEAT);
    let published = loop {
        let published = tokio::select! {
            changed = changed_view(&mut views) => match changed {
                Some(index) => publish_view(&cluster, &code, index, &mut views).await,
                None => break Ok(()),
            },
            _ = repeat.tick() => {
                let mut published = Ok(());
                for index in 0..ROLES.len() {
                    published = published.and(publish_view(&cluster, &code, index, &mut views).await);
                }
                published
            }
        };
        if published.is_err() {
            break published;
        }
    };
    if let Err(e) = published {
        tracing::error!(code, "publishing the session's views: {e:#}");
    }
    ended.send(()).ok();
}

/// Which view changed first; `None` once the session's views are closed.
async fn changed_view(views: &mut [watch::Receiver<Published>; 3]) -> Option<usize> {
    let [p, s, h] = views;
    tokio::select! {
        r = p.changed() => r.ok().map(|()| 0),
        r = s.changed() => r.ok().map(|()| 1),
        r = h.changed() => r.ok().map(|()| 2),
    }
}

fn current_views(views: &[watch::Receiver<Published>]) -> Bytes {
    // Each view is cloned (counted references), so no borrow is held while serializing.
    let views: Vec<Published> = views.iter().map(|v| v.borrow().clone()).collect();
    let texts: Vec<(&str, Option<&str>)> = views
        .iter()
        .map(|v| (v.state.as_str(), v.upvotes.as_ref().map(|u| u.as_str())))
        .collect();
    Bytes::from(serde_json::to_vec(&texts).expect("views serialize"))
}

async fn publish_view(
    cluster: &Cluster,
    code: &str,
    index: usize,
    views: &mut [watch::Receiver<Published>],
) -> Result<()> {
    let view = views[index].borrow_and_update().clone();
    // The counts after the state, on the same connection, so a proxy takes them in the
    // order its phones must get them.
    let subjects = [(view_subject(code, ROLES[index]), Some(&view.state))]
        .into_iter()
        .chain([(upvotes_subject(code), view.upvotes.as_ref())]);
    for (subject, text) in subjects {
        let Some(text) = text else { continue };
        let headers = owner_header(cluster);
        let payload = Bytes::copy_from_slice(text.as_bytes());
        cluster
            .client
            .publish_with_headers(subject, headers, payload)
            .await?;
    }
    Ok(())
}

/// The header that names this node as the session's owner.
fn owner_header(cluster: &Cluster) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(OWNER_HEADER, cluster.node.as_str());
    headers
}

/// Hands a forwarded request to the session in order, and answers it from a task of
/// its own once the session has.
async fn answer_forward(
    cluster: &Arc<Cluster>,
    handle: &SessionHandle,
    forward: Forward,
    reply: async_nats::Subject,
) -> Result<()> {
    let client = cluster.client.clone();
    match forward {
        Forward::Join { participant, card } => {
            let (tx, rx) = oneshot::channel();
            let join = Request::Join {
                participant,
                card,
                reply: tx,
            };
            handle.request(join).await?;
            tokio::spawn(async move {
                if let Ok(joined) = rx.await {
                    respond(&client, reply, &Answer::Joined(joined)).await;
                }
            });
        }
        Forward::Command { command, id, lang } => {
            let replies = forward_command(handle, command, id, lang).await?;
            tokio::spawn(async move {
                let replies = replies.collect().await;
                respond(&client, reply, &Answer::Replies(replies)).await;
            });
        }
        Forward::Knows { participant } => {
            let (tx, rx) = oneshot::channel();
            let knows = Request::Knows {
                participant,
                reply: tx,
            };
            handle.request(knows).await?;
            tokio::spawn(async move {
                if let Ok(knows) = rx.await {
                    respond(&client, reply, &Answer::Knows(knows)).await;
                }
            });
        }
    }
    Ok(())
}

/// Hands a forwarded command to the session; returns where its replies come.
async fn forward_command(
    handle: &SessionHandle,
    command: Command,
    id: Option<u64>,
    lang: Lang,
) -> Result<CommandReplies> {
    let (outbox, answers): (Outbox, _) = mpsc::unbounded_channel();
    let request = Request::Command {
        command,
        id,
        lang,
        outbox,
    };
    handle.request(request).await?;
    // Without an id only a refusal comes back, at once: asking the session anything
    // after it tells that it was handled.
    let barrier = match id {
        Some(_) => None,
        None => {
            let (tx, rx) = oneshot::channel();
            let knows = Request::Knows {
                participant: ParticipantId::nil(),
                reply: tx,
            };
            handle.request(knows).await?;
            Some(rx)
        }
    };
    Ok(CommandReplies { answers, barrier })
}

/// Where a forwarded command's replies come, and (for a command without an id) the
/// answer after which no more will.
struct CommandReplies {
    answers: mpsc::UnboundedReceiver<ServerMsg>,
    barrier: Option<oneshot::Receiver<bool>>,
}

impl CommandReplies {
    /// The command's replies: its one answer, or every refusal before the barrier.
    async fn collect(mut self) -> Vec<ServerMsg> {
        let mut replies = vec![];
        match self.barrier {
            None => {
                if let Some(msg) = self.answers.recv().await {
                    replies.push(msg);
                }
            }
            Some(barrier) => {
                barrier.await.ok();
                while let Ok(msg) = self.answers.try_recv() {
                    replies.push(msg);
                }
            }
        }
        replies
    }
}

async fn respond(client: &async_nats::Client, reply: async_nats::Subject, answer: &Answer) {
    let payload = serde_json::to_vec(answer).expect("answers serialize");
    if let Err(e) = client.publish(reply, payload.into()).await {
        tracing::warn!("answering a forwarded request: {e}");
    }
}
