//! A session's log in JetStream: one stream per session, one message per group
//! commit, each append fenced by the sequence the stream ends at, so a node that lost
//! the session cannot append after the one that took it over.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use async_nats::jetstream;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{log_subject, Cluster, Outage, APPEND_ACK_WAIT, APPEND_RETRY_FOR, MAX_BATCH_EVENTS};
use crate::core::session::Event;
use crate::hub::{Completion, Log, WriteFailed};

/// Appends the new owner's marker (an empty batch) where the log ends now.
pub(super) async fn take_over(
    js: &jetstream::Context,
    code: &str,
    node: &str,
    revision: u64,
    last: u64,
) -> Result<u64> {
    let id = format!("{node}.{revision}.{last}.owner");
    let mut outage = Outage::default();
    match publish_fenced(js, code, b"[]".to_vec().into(), last, &id, &mut outage).await {
        Ok(seq) => Ok(seq),
        Err(Fenced::Deposed) => bail!("another node appended first"),
        Err(Fenced::Failed(reason)) => bail!("{reason}"),
    }
}

/// Why a fenced append was not stored.
enum Fenced {
    /// The log goes on past where this node thinks it ends: another node owns it.
    Deposed,
    /// JetStream did not take it in time.
    Failed(String),
}

/// Appends a message where the log ends at `last`, retrying for [`APPEND_RETRY_FOR`].
/// The first failed try of an `outage` is logged, and so is the append that ends it.
async fn publish_fenced(
    js: &jetstream::Context,
    code: &str,
    payload: Bytes,
    last: u64,
    id: &str,
    outage: &mut Outage,
) -> Result<u64, Fenced> {
    let deadline = Instant::now() + APPEND_RETRY_FOR;
    let mut why = String::new();
    while Instant::now() < deadline {
        let message = jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .expected_last_sequence(last)
            .message_id(id);
        // Both the publish (waiting for a connection) and its acknowledgement (waiting
        // for a leader) are bounded, so a retry comes.
        let ack = tokio::time::timeout(APPEND_ACK_WAIT, async {
            js.send_publish(log_subject(code), message).await?.await
        })
        .await;
        match ack {
            Ok(Ok(ack)) => {
                if let Some(lasted) = outage.ended() {
                    tracing::warn!(
                        code,
                        "the session's log takes appends again, after {lasted:.1?}"
                    );
                }
                return Ok(ack.sequence);
            }
            Ok(Err(e)) if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                return Err(Fenced::Deposed)
            }
            Ok(Err(e)) => why = e.to_string(),
            Err(_) => why = "no acknowledgement in time".to_owned(),
        }
        if outage.failed() {
            tracing::warn!(
                code,
                "the session's log does not take appends ({why}); changes wait, \
                 each for up to {APPEND_RETRY_FOR:?}"
            );
        } else {
            tracing::debug!(code, "appending to the log: {why}; trying again");
        }
        // A leader election or a reconnect: the same message again, soon.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Fenced::Failed(format!(
        "the log did not take the events: {why}"
    )))
}

/// A session's writer to its log: group commit, one message in flight, each fenced by
/// the sequence the log ends at.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::UnboundedSender<Append>,
    deposed: watch::Receiver<bool>,
}

struct Append {
    epoch: u64,
    events: Vec<Event>,
    done: Completion,
}

impl LogWriter {
    /// A writer for the session `code` whose log ends at `last`, owned by this node
    /// under lease `revision`.
    pub fn start(cluster: &Cluster, code: &str, revision: u64, last: u64) -> LogWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        let (deposed_tx, deposed) = watch::channel(false);
        let writer = Writer {
            js: cluster.js.clone(),
            code: code.to_owned(),
            prefix: format!("{}.{revision}", cluster.node),
            batches: 0,
            last,
            fenced: None,
            deposed: deposed_tx,
            outage: Outage::default(),
        };
        tokio::spawn(writer.run(rx));
        LogWriter { tx, deposed }
    }

    /// Queues events; `done` hears once the log has them (or not).
    pub fn append(&self, epoch: u64, events: Vec<Event>, done: Completion) -> Result<()> {
        self.tx
            .send(Append {
                epoch,
                events,
                done,
            })
            .map_err(|_| anyhow!("the log writer has stopped"))
    }

    /// Turns `true` when another node appended to the log: this node no longer owns
    /// the session.
    pub fn deposed(&self) -> watch::Receiver<bool> {
        self.deposed.clone()
    }
}

struct Writer {
    js: jetstream::Context,
    code: String,
    /// Node and lease revision: with `batches`, each batch's message id.
    prefix: String,
    /// Batches sent so far. A retry of a batch keeps its id, so JetStream stores it
    /// once; every other batch has an id of its own, so a batch that reached the log
    /// after it was given up on is never taken for a later one.
    batches: u64,
    last: u64,
    /// The newest epoch in which an append failed: the rest of it is refused, as the
    /// local store does.
    fenced: Option<u64>,
    deposed: watch::Sender<bool>,
    /// Since when appends fail, if they do.
    outage: Outage,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Append>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let mut count = batch[0].events.len();
            while count < MAX_BATCH_EVENTS {
                match rx.try_recv() {
                    Ok(next) => {
                        count += next.events.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            self.write(batch).await;
        }
    }

    async fn write(&mut self, batch: Vec<Append>) {
        // Appends arrive in epoch order, so the refused ones come first.
        let (refused, taken): (Vec<Append>, Vec<Append>) = batch
            .into_iter()
            .partition(|a| *self.deposed.borrow() || self.fenced.is_some_and(|f| f >= a.epoch));
        if !refused.is_empty() {
            let events: usize = refused.iter().map(|a| a.events.len()).sum();
            tracing::warn!(
                code = %self.code,
                "refused {events} change(s) of {} write(s): {}",
                refused.len(),
                self.refusal().reason
            );
        }
        for append in refused {
            (append.done)(Err(self.refusal()));
        }
        if taken.is_empty() {
            return;
        }
        let events: Vec<&Event> = taken.iter().flat_map(|a| &a.events).collect();
        let payload = Bytes::from(serde_json::to_vec(&events).expect("events serialize"));
        self.batches += 1;
        let id = format!("{}.{}", self.prefix, self.batches);
        let outcome = publish_fenced(
            &self.js,
            &self.code,
            payload,
            self.last,
            &id,
            &mut self.outage,
        )
        .await;
        let result = match outcome {
            Ok(seq) => {
                self.last = seq;
                Ok(())
            }
            Err(Fenced::Deposed) => {
                if self.own_batch_ends_the_log().await {
                    tracing::warn!(
                        code = %self.code,
                        "changes this node refused during the outage reached the log after \
                         all (they were on their way); the session is read again from its log"
                    );
                } else {
                    tracing::warn!(code = %self.code, "another node took this session over");
                }
                self.deposed.send_replace(true);
                Err(self.refusal())
            }
            Err(Fenced::Failed(reason)) => {
                tracing::warn!(
                    code = %self.code,
                    "refused {} change(s) of {} write(s): {reason}",
                    events.len(),
                    taken.len()
                );
                self.fenced = taken.iter().map(|a| a.epoch).max();
                Err(WriteFailed { reason })
            }
        };
        for append in taken {
            (append.done)(result.clone());
        }
    }

    /// Whether the log ends with a batch this writer sent: one it gave up on, which
    /// the NATS client still delivered once it was connected again.
    async fn own_batch_ends_the_log(&self) -> bool {
        let Ok(stream) = self.js.get_stream(super::log_stream(&self.code)).await else {
            return false;
        };
        let Ok(last) = stream
            .get_last_raw_message_by_subject(&log_subject(&self.code))
            .await
        else {
            return false;
        };
        last.headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .is_some_and(|id| id.as_str().starts_with(&format!("{}.", self.prefix)))
    }

    fn refusal(&self) -> WriteFailed {
        WriteFailed {
            reason: if *self.deposed.borrow() {
                "another node owns the session now".to_owned()
            } else {
                "an earlier append of this epoch failed".to_owned()
            },
        }
    }
}

impl Log for LogWriter {
    /// The writer serves one session, so the code is its own.
    fn append(&self, _code: &str, epoch: u64, events: Vec<Event>, done: Completion) -> Result<()> {
        LogWriter::append(self, epoch, events, done)
    }
}
