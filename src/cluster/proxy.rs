//! A proxy of a session another node owns: forwards this node's requests to the
//! owner in order, feeds the owner's views to this node's connections, and ends (so
//! they reconnect) when the owner is gone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::owner::{Answer, Forward};
use super::report_from_log;
use super::seats::share_seats;
use super::{
    cmd_subject, notice_subject, role_name, sender, Cluster, FORWARD_TIMEOUT, OWNER_SILENT, ROLES,
};
use crate::hub::{
    JoinInfo, NotAdmitted, Notice, Outbox, ProxyParts, Published, Request, SessionHandle, Status,
};
use crate::wire::protocol::{Lang, ServerMsg};

/// A proxy of a session another node owns: forwards requests in order, feeds the
/// views, and ends (so its connections reconnect) when the owner is gone.
pub async fn run_proxy(
    cluster: Arc<Cluster>,
    handle: SessionHandle,
    parts: ProxyParts,
    owner: Option<String>,
) {
    let code = handle.code().to_owned();
    share_seats(&cluster, &handle);
    if let Err(e) = proxy(&cluster, &handle, parts, owner).await {
        tracing::warn!(code, "the session's owner is gone: {e:#}");
    }
}

async fn proxy(
    cluster: &Arc<Cluster>,
    handle: &SessionHandle,
    parts: ProxyParts,
    owner: Option<String>,
) -> Result<()> {
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
    let mut proxy = Proxy {
        cluster: cluster.clone(),
        handle: handle.clone(),
        code,
        inbox,
        views,
        waiting: BTreeMap::new(),
        overtaken_below: 0,
        owner,
        next_id: 0,
        heard: Instant::now(),
    };
    let mut check = tokio::time::interval(OWNER_SILENT / 2);
    loop {
        let going_on = tokio::select! {
            request = requests.recv() => match request {
                Some(request) => proxy.forward(request).await?,
                None => false,
            },
            Some(message) = answers.next() => proxy.on_answer(&message),
            Some(message) = view_messages.next() => proxy.on_view(&message),
            Some(message) = notices.next() => proxy.on_notice(&message),
            _ = check.tick() => proxy.check_owner().await?,
        };
        if !going_on {
            return Ok(());
        }
    }
}

/// What a proxy keeps while it runs. Each handler returns whether the proxy goes on.
struct Proxy {
    cluster: Arc<Cluster>,
    handle: SessionHandle,
    code: String,
    /// Where the owner's answers come: `<inbox>.<id>`.
    inbox: String,
    /// The views this node's connections read (participant, screen, host).
    views: [watch::Sender<Published>; 3],
    /// Forwarded requests not yet answered, by the order they were sent in. Dropping
    /// one refuses its request.
    waiting: BTreeMap<u64, Waiting>,
    /// Every request still waiting below this number was overtaken: a later one was
    /// answered.
    overtaken_below: u64,
    /// The node the views come from.
    owner: Option<String>,
    next_id: u64,
    /// When the owner was last heard.
    heard: Instant,
}

impl Proxy {
    /// Sends a request of this node's connections to the owner, in order.
    async fn forward(&mut self, request: Request) -> Result<bool> {
        let (forward, waiter) = match request {
            Request::Join {
                participant,
                card,
                reply,
            } => (Forward::Join { participant, card }, await_joined(reply)),
            Request::Command {
                command,
                id,
                lang,
                outbox,
            } => (
                Forward::Command { command, id, lang },
                await_replies(outbox, id, lang),
            ),
            Request::Knows { participant, reply } => {
                (Forward::Knows { participant }, await_knows(reply))
            }
            Request::Report { reply } => {
                self.report(reply);
                return Ok(true);
            }
            Request::ReplaceDeck { .. } => return Ok(true),
            Request::Stop { done } => {
                done.send(()).ok();
                return Ok(false);
            }
        };
        self.next_id += 1;
        let waiting = Waiting {
            sent: Instant::now(),
            overtaken: None,
            waiter,
        };
        self.waiting.insert(self.next_id, waiting);
        let payload = serde_json::to_vec(&forward).expect("requests serialize");
        let reply_to = format!("{}.{}", self.inbox, self.next_id);
        self.cluster
            .client
            .publish_with_reply(cmd_subject(&self.code), reply_to, payload.into())
            .await?;
        Ok(true)
    }

    /// Builds the report from the log, in a task of its own.
    fn report(&self, reply: oneshot::Sender<crate::report::Report>) {
        let cluster = self.cluster.clone();
        let code = self.code.clone();
        tokio::spawn(async move {
            match report_from_log(&cluster, &code).await {
                Ok(Some(report)) => drop(reply.send(report)),
                Ok(None) => {}
                Err(e) => tracing::error!(code, "building a report: {e:#}"),
            }
        });
    }

    /// Hands the owner's answer to the request that waits for it.
    fn on_answer(&mut self, message: &async_nats::Message) -> bool {
        let id = message.subject.rsplit('.').next();
        let Some(id) = id.and_then(|s| s.parse::<u64>().ok()) else {
            return true;
        };
        let Some(Waiting { waiter, .. }) = self.waiting.remove(&id) else {
            return true;
        };
        // No responders (the owner is gone, or this node is reconnecting to NATS): the
        // waiter is dropped, which refuses the request; whether the owner is gone the
        // silence of its views tells.
        let Ok(answer) = serde_json::from_slice::<Answer>(&message.payload) else {
            return true;
        };
        // The owner answers whether it knows a participant at once, not in line.
        if !matches!(answer, Answer::Knows(_)) && id > self.overtaken_below {
            let now = Instant::now();
            for (_, earlier) in self.waiting.range_mut(self.overtaken_below..id) {
                earlier.overtaken.get_or_insert(now);
            }
            self.overtaken_below = self.overtaken_below.max(id);
        }
        waiter.send(answer).ok();
        true
    }

    /// Takes a view (or the phones' upvotes) from the owner. A view from another node
    /// ends the proxy: the session was taken over.
    fn on_view(&mut self, message: &async_nats::Message) -> bool {
        self.heard = Instant::now();
        let from = sender(message);
        if from != self.owner {
            if self.owner.is_some() {
                return self.moved(from.as_deref());
            }
            self.owner = from;
        }
        let Ok(text) = String::from_utf8(message.payload.to_vec()) else {
            return true;
        };
        let bytes = Utf8Bytes::from(text);
        // Compared by content: an owner repeats its views unchanged.
        match message.subject.rsplit('.').next().unwrap_or_default() {
            "upvotes" => self.views[0].send_if_modified(|old| old.set_upvotes(bytes)),
            role => match ROLES.iter().position(|r| role_name(*r) == role) {
                Some(index) => self.views[index].send_if_modified(|old| old.set_state(bytes)),
                None => false,
            },
        };
        true
    }

    /// The session has a new owner: the proxy ends (returns `false`), so this node's
    /// connections close with 1001 and reconnect to it. Requests the old owner took and
    /// never answered are refused (`storage_unavailable`) first; a connection never
    /// hears answers from two owners.
    fn moved(&self, to: Option<&str>) -> bool {
        tracing::info!(
            code = self.code,
            to = to.unwrap_or("?"),
            "the session moved to another node; this node's pages reconnect"
        );
        false
    }

    /// Passes a session's news on to its connections; a close ends the proxy.
    fn on_notice(&self, message: &async_nats::Message) -> bool {
        match serde_json::from_slice::<Notice>(&message.payload) {
            Ok(Notice::Closed) => {
                self.handle.set_notice(Notice::Closed);
                false
            }
            Ok(notice) => {
                self.handle.set_notice(notice);
                true
            }
            Err(_) => true,
        }
    }

    /// Refuses requests that waited too long, and ends the proxy when the owner has
    /// gone silent (unless the session closed: then its connections hear so).
    async fn check_owner(&mut self) -> Result<bool> {
        let before = self.waiting.len();
        self.waiting
            .retain(|_, w| w.sent.elapsed() < FORWARD_TIMEOUT && !w.lost());
        let unanswered = before - self.waiting.len();
        if unanswered > 0 {
            tracing::warn!(
                code = self.code,
                "refused {unanswered} request(s) the owner did not answer within \
                 {FORWARD_TIMEOUT:?}, or {OVERTAKEN_GRACE:?} after it answered a later one"
            );
        }
        let cluster = &self.cluster;
        let code = &self.code;
        if self.heard.elapsed() >= OWNER_SILENT {
            if let Some(answer) = cluster.views_of(code).await? {
                if answer.owner != self.owner {
                    return Ok(self.moved(answer.owner.as_deref()));
                }
                // A view was lost on its way; the owner answers.
                self.heard = Instant::now();
            }
        }
        let silent = self.heard.elapsed();
        if silent < OWNER_SILENT {
            return Ok(true);
        }
        if silent < FORWARD_TIMEOUT {
            // Views come late from an owner on a busy machine; while the node they
            // came from still renews its lease, it is alive.
            let holder = cluster.lease_holder(code).await.ok().flatten();
            if holder.is_some() && holder == self.owner {
                return Ok(true);
            }
        }
        if let Ok(Some(r)) = cluster.record(code).await {
            if r.status == Status::Closed {
                self.handle.set_notice(Notice::Closed);
                return Ok(false);
            }
        }
        // Answers that never came go with the proxy: their connections close,
        // reconnect and send again.
        bail!("no view from the owner for {silent:?}")
    }
}

/// How long a forwarded request may stay unanswered after the owner answered one sent
/// after it. The owner takes a node's requests in order and answers them in order, so
/// an answer overtaken for this long was lost on its way (a NATS server went down
/// with it); refused, its connection can answer the later ones (`web::answers` keeps
/// a connection's answers in the order of its messages).
const OVERTAKEN_GRACE: Duration = Duration::from_secs(3);

/// A forwarded request waiting for the owner's answer.
struct Waiting {
    sent: Instant,
    /// When an answer to a later request came.
    overtaken: Option<Instant>,
    waiter: oneshot::Sender<Answer>,
}

impl Waiting {
    /// Whether its answer is taken to be lost.
    fn lost(&self) -> bool {
        self.overtaken
            .is_some_and(|at| at.elapsed() >= OVERTAKEN_GRACE)
    }
}

/// A waiter that admits the phone once the owner has. The owner went away if no
/// answer comes: dropping `reply` tells the connection, which closes and reconnects.
fn await_joined(reply: oneshot::Sender<Result<JoinInfo, NotAdmitted>>) -> oneshot::Sender<Answer> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok(Answer::Joined(joined)) = rx.await {
            reply.send(joined).ok();
        }
    });
    tx
}

/// A waiter that hands the owner's replies to the connection.
fn await_replies(outbox: Outbox, id: Option<u64>, lang: Lang) -> oneshot::Sender<Answer> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        match rx.await {
            Ok(Answer::Replies(replies)) => {
                for reply in replies {
                    outbox.send(reply).ok();
                }
            }
            // No owner took it: nothing was stored, and the phone sends it again, as
            // after a failed write.
            _ => {
                if let Some(id) = id {
                    let refusal = ServerMsg::error("storage_unavailable", lang, Some(id));
                    outbox.send(refusal).ok();
                }
            }
        }
    });
    tx
}

/// A waiter that tells whether the owner knows the participant.
fn await_knows(reply: oneshot::Sender<bool>) -> oneshot::Sender<Answer> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok(Answer::Knows(knows)) = rx.await {
            reply.send(knows).ok();
        }
    });
    tx
}
