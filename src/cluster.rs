//! Cluster mode: several nodes serve the same sessions through NATS JetStream.
//!
//! - **Catalog**: a key-value bucket holds each session's record (deck text, keys,
//!   meeting, status), so every node can find every session by its code.
//! - **Log**: each session appends its events to a stream of its own, `SZ_<CODE>`, one
//!   message per group commit. An append names the sequence it expects the stream to
//!   end at; a node that lost the session cannot append, because the node that took
//!   it over appended first. (The per-subject fence is not safe on replicated streams
//!   of NATS 2.9, the per-stream one is.) A vote is acknowledged once JetStream has
//!   acknowledged the message that holds it, which with three replicas means a quorum
//!   has it.
//! - **Lease**: a key-value entry with a short lifetime names the node that owns a
//!   session. Only the owner runs the session's state machine. The lease is a hint for
//!   who should own; the log's fence decides.
//! - **Forwarding**: every other node keeps a proxy of the session. Its connections'
//!   requests go to the owner in order (`sz.<CODE>.cmd`), and the owner's views come
//!   back on `sz.<CODE>.view.<role>`, so the fan-out to phones stays on each node.
//! - **Takeover**: when the owner stops being heard, the proxies end, their
//!   connections reconnect, and the first node asked for the session after the lease
//!   expired reads the log and goes on from it.
//! - **Console**: the deck library, the settings and the logins are in buckets of
//!   their own ([`console`]), so every node serves the same console.

pub mod console;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::{self, kv, stream};
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::hub::{JoinInfo, NotAdmitted, Notice, Outbox, Published, Request, SessionHandle};
use crate::protocol::{Lang, Role, ServerMsg};
use crate::session::{Command, Event, ParticipantId};
use crate::store::{Completion, SessionRecord, Status, StoredSession, WriteFailed};

/// How long a lease lives after its last renewal: after this much silence from its
/// owner another node may take the session.
pub const LEASE_TTL: Duration = Duration::from_millis(1200);

/// How often an owner renews its leases.
pub const LEASE_RENEW: Duration = Duration::from_millis(300);

/// How often an owner repeats its views when nothing changed: the heartbeat by which
/// the other nodes know it is alive.
pub const VIEW_REPEAT: Duration = Duration::from_millis(250);

/// How long a proxy waits without a view from the owner before it asks whether the
/// owner is still there.
pub const OWNER_SILENT: Duration = Duration::from_millis(1000);

/// How long an append is retried (with the same message id, so a retry of a message
/// that was stored is recognised as a duplicate) before it counts as failed.
const APPEND_RETRY_FOR: Duration = Duration::from_secs(12);

/// How long one publish waits for JetStream's acknowledgement before it is retried.
const APPEND_ACK_WAIT: Duration = Duration::from_secs(2);

/// The header naming the node that published a view.
const OWNER_HEADER: &str = "Stemzaal-Owner";

/// How long a proxy waits for the owner's answer to a forwarded request before it
/// refuses the request (the phone sends it again; a vote sent twice counts once).
/// Longer than an append may take through a JetStream leader election.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(15);

/// The most events in one log message (a message stays well under NATS's 1 MB).
const MAX_BATCH_EVENTS: usize = 2000;

/// How long one reading of a log or of the catalog may take before it starts again
/// (a log of 100,000 votes is read in about 0.1 s).
const READ_ATTEMPT: Duration = Duration::from_secs(5);

/// How long a node tries to reach or take over a session before it gives up.
const ATTACH_FOR: Duration = Duration::from_secs(15);

/// The bucket of session records.
const CATALOG: &str = "stemzaal_sessions";

/// The bucket of leases.
const LEASES: &str = "stemzaal_leases";

/// The connection to the cluster, shared by a node's sessions.
pub struct Cluster {
    node: String,
    client: async_nats::Client,
    js: jetstream::Context,
    catalog: kv::Store,
    leases: kv::Store,
    console: console::Console,
    replicas: usize,
}

/// How [`Cluster::claim`] found a session's lease.
pub enum Claim {
    /// This node holds it now, at this revision.
    Owner(u64),
    /// Another node holds it.
    Held,
}

impl Cluster {
    /// Connects to NATS (`urls` comma-separated) and makes sure the buckets exist, with
    /// `replicas` copies of everything (1 for a single server, 3 for a cluster of three).
    pub async fn connect(urls: &str, replicas: usize) -> Result<Cluster> {
        let addrs = urls
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading the NATS addresses {}", without_secrets(urls)))?;
        let node = format!("{:08x}", rand::random::<u32>());
        let client = async_nats::ConnectOptions::new()
            .name(format!("stemzaal-{node}"))
            .connection_timeout(Duration::from_secs(5))
            .connect(addrs)
            .await
            .with_context(|| format!("connecting to NATS at {}", without_secrets(urls)))?;
        let js = jetstream::new(client.clone());
        let catalog = ensure_bucket(&js, CATALOG, replicas, Duration::ZERO).await?;
        let leases = ensure_bucket(&js, LEASES, replicas, LEASE_TTL).await?;
        let console =
            console::Console::open(&client, &js, replicas, crate::admin::LOGIN_LIFETIME).await?;
        Ok(Cluster {
            node,
            client,
            js,
            catalog,
            leases,
            console,
            replicas,
        })
    }

    /// The console's decks, settings and logins.
    pub fn console(&self) -> &console::Console {
        &self.console
    }

    /// This node's name in leases and log messages.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Stores a new session's record; `false` if the code is taken.
    pub async fn create_record(&self, record: &SessionRecord) -> Result<bool> {
        let value = Bytes::from(serde_json::to_vec(record)?);
        created(
            self.catalog.create(&record.code, value).await,
            "storing a session in the catalog",
        )
    }

    /// Replaces a session's record.
    pub async fn put_record(&self, record: &SessionRecord) -> Result<()> {
        let value = Bytes::from(serde_json::to_vec(record)?);
        self.catalog
            .put(&record.code, value)
            .await
            .context("storing a session in the catalog")?;
        Ok(())
    }

    /// A session's record.
    pub async fn record(&self, code: &str) -> Result<Option<SessionRecord>> {
        let read = retrying("reading the catalog", || self.catalog.get(code)).await?;
        let Some(value) = read else {
            return Ok(None);
        };
        Ok(Some(
            serde_json::from_slice(&value).context("reading a catalog record")?,
        ))
    }

    /// Every session's record, newest first.
    pub async fn records(&self) -> Result<Vec<SessionRecord>> {
        retrying("listing the catalog", || async {
            match tokio::time::timeout(READ_ATTEMPT, self.records_once()).await {
                Ok(records) => records,
                Err(_) => bail!("no end of the catalog within {READ_ATTEMPT:?}"),
            }
        })
        .await
    }

    async fn records_once(&self) -> Result<Vec<SessionRecord>> {
        let mut keys = match self.catalog.keys().await {
            Ok(keys) => keys,
            Err(e) => return Err(e).context("listing the catalog"),
        };
        let mut records = vec![];
        while let Some(key) = keys.next().await {
            let key = key.context("listing the catalog")?;
            if let Some(record) = self.record(&key).await? {
                records.push(record);
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_ms));
        Ok(records)
    }

    /// Removes a session: its log and its record.
    pub async fn delete_session(&self, code: &str) -> Result<()> {
        match self.js.delete_stream(log_stream(code)).await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("not found") => {}
            Err(e) => return Err(e).context("deleting a session's log"),
        }
        self.catalog
            .purge(code)
            .await
            .context("removing a session from the catalog")?;
        Ok(())
    }

    /// Makes a session's log.
    pub async fn create_log(&self, code: &str) -> Result<()> {
        self.js
            .create_stream(stream::Config {
                name: log_stream(code),
                subjects: vec![log_subject(code)],
                num_replicas: self.replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .with_context(|| format!("making the log of session {code}"))?;
        Ok(())
    }

    /// Reads a session's whole log: its events and the sequence it ends at.
    pub async fn read_log(&self, code: &str) -> Result<(Vec<Event>, u64)> {
        self.read_log_after(code, 0).await
    }

    /// Reads the events a session's log holds after sequence `after`, and the sequence
    /// it ends at.
    pub async fn read_log_after(&self, code: &str, after: u64) -> Result<(Vec<Event>, u64)> {
        // A consumer whose stream lost its leader while it read may wait for messages
        // that never come: each attempt is bounded, and the next starts afresh.
        retrying("reading a log", || async {
            match tokio::time::timeout(READ_ATTEMPT, self.read_log_once(code, after)).await {
                Ok(read) => read,
                Err(_) => bail!("no end of the log within {READ_ATTEMPT:?}"),
            }
        })
        .await
    }

    async fn read_log_once(&self, code: &str, after: u64) -> Result<(Vec<Event>, u64)> {
        let mut stream = self
            .js
            .get_stream(log_stream(code))
            .await
            .with_context(|| format!("opening the log of session {code}"))?;
        let last = stream.info().await?.state.last_sequence;
        let mut events = vec![];
        if last <= after {
            return Ok((events, last));
        }
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ..Default::default()
            })
            .await
            .context("reading a log")?;
        let mut messages = consumer.messages().await.context("reading a log")?;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| anyhow!("reading a log: {e}"))?;
            let seq = message
                .info()
                .map_err(|e| anyhow!("reading a log: {e}"))?
                .stream_sequence;
            let batch: Vec<Event> = serde_json::from_slice(&message.payload)
                .with_context(|| format!("log message {seq} of session {code}"))?;
            events.extend(batch);
            if seq >= last {
                break;
            }
        }
        Ok((events, last))
    }

    /// The stored session: its record and its log.
    pub async fn load(&self, code: &str) -> Result<Option<(StoredSession, u64)>> {
        let Some(record) = self.record(code).await? else {
            return Ok(None);
        };
        let (events, last) = self.read_log(code).await?;
        Ok(Some((StoredSession { record, events }, last)))
    }

    /// Takes the session's lease if nobody holds it.
    pub async fn claim(&self, code: &str) -> Result<Claim> {
        match self.leases.create(code, self.node.clone().into()).await {
            Ok(revision) => Ok(Claim::Owner(revision)),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(Claim::Held),
            Err(e) => Err(e).context("taking a lease"),
        }
    }

    /// The node that holds a session's lease, if any.
    async fn lease_holder(&self, code: &str) -> Result<Option<String>> {
        let value = self.leases.get(code).await.context("reading a lease")?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Takes the right to start a session on the deck whose text has this digest, for
    /// a lease's lifetime, if nobody holds it: of nodes starting at once on the same
    /// deck, one starts a session and the others find it.
    pub async fn claim_start(&self, digest: &str) -> Result<bool> {
        let key = format!("start.{digest}");
        created(
            self.leases.create(&key, self.node.clone().into()).await,
            "taking the start of a session",
        )
    }

    /// Lets a lease go (a graceful stop), so another node need not wait for it to expire.
    async fn release(&self, code: &str, revision: u64) {
        if let Err(e) = self
            .leases
            .delete_expect_revision(code, Some(revision))
            .await
        {
            tracing::debug!(code, "releasing the lease: {e}");
        }
    }

    /// The owner's views of a session, or `None` when no owner answers.
    async fn views_of(&self, code: &str) -> Result<Option<[Published; 3]>> {
        let asked = tokio::time::timeout(
            Duration::from_secs(2),
            self.client.request(views_subject(code), Bytes::new()),
        )
        .await;
        match asked {
            Ok(Ok(reply)) => {
                let views: [(String, Option<String>); 3] =
                    serde_json::from_slice(&reply.payload).context("reading an owner's views")?;
                Ok(Some(views.map(|(state, upvotes)| Published {
                    state: state.into(),
                    upvotes: upvotes.map(Into::into),
                })))
            }
            // No responders, a timeout, a reconnect: no owner answers now.
            Ok(Err(e)) => {
                tracing::debug!(code, "asking for the owner's views: {e}");
                Ok(None)
            }
            Err(_) => Ok(None),
        }
    }

    /// Tells every node a session's news (closed, deck edited).
    pub async fn announce(&self, code: &str, notice: Notice) -> Result<()> {
        let payload = serde_json::to_vec(&notice)?;
        self.client
            .publish(notice_subject(code), payload.into())
            .await
            .context("announcing to the cluster")?;
        self.client
            .flush()
            .await
            .context("announcing to the cluster")?;
        Ok(())
    }

    /// Decides how this node serves a session: as its owner (returns the lease
    /// revision and the stored session) or through a proxy (returns the owner's
    /// views). Waits out an expiring lease of an owner that stopped answering.
    pub async fn attach(&self, code: &str) -> Result<Attached> {
        let deadline = Instant::now() + ATTACH_FOR;
        loop {
            match retrying("taking a lease", || self.claim(code)).await? {
                Claim::Owner(revision) => {
                    let Some((stored, last)) = self.load(code).await? else {
                        self.release(code, revision).await;
                        bail!("session {code} has no record");
                    };
                    // The first append of the new owner fences out the old one: any
                    // append it still tries names a sequence that is gone.
                    match take_over(&self.js, code, &self.node, revision, last).await {
                        Ok(last) => {
                            return Ok(Attached::Owner {
                                stored: Box::new(stored),
                                last,
                                revision,
                            })
                        }
                        Err(e) => {
                            tracing::warn!(code, "taking over the log: {e:#}");
                            self.release(code, revision).await;
                        }
                    }
                }
                Claim::Held => {
                    if let Some(views) = self.views_of(code).await? {
                        return Ok(Attached::Proxy(Box::new(views)));
                    }
                }
            }
            if Instant::now() >= deadline {
                bail!("session {code} has an owner that does not answer and keeps its lease");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How a node serves a session (see [`Cluster::attach`]).
pub enum Attached {
    /// It owns the session from this log sequence on, under this lease revision.
    Owner {
        stored: Box<StoredSession>,
        last: u64,
        revision: u64,
    },
    /// Another node owns it; these are its views now.
    Proxy(Box<[Published; 3]>),
}

/// Runs `op` until it succeeds, for at most [`ATTACH_FOR`]: after a NATS server of
/// the cluster went away, JetStream answers with errors until it has elected new
/// leaders (4–9 s on 2.9).
async fn retrying<T, E, F, Fut>(what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    let deadline = Instant::now() + ATTACH_FOR;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= deadline => return Err(e.into()).context(what.to_owned()),
            Err(e) => {
                let e: anyhow::Error = e.into();
                tracing::debug!("{what}: {e:#}; trying again");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store> {
    // Made as a stream, the way the key-value API would: its own call fails on the
    // account information a 2.9 server returns.
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        // The duplicate window may not exceed the lifetime of an entry.
        duplicate_window: if max_age.is_zero() {
            Duration::from_secs(120)
        } else {
            max_age
        },
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: replicas,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    // A cluster that has just started elects its leaders first.
    let what = format!(
        "making the bucket {bucket} with {replicas} replica(s) \
         (a single NATS server needs --nats-replicas 1)"
    );
    retrying(&what, || js.get_or_create_stream(config.clone())).await?;
    js.get_key_value(bucket)
        .await
        .with_context(|| format!("opening the bucket {bucket}"))
}

/// Whether a key-value `create` made its key: `false` if the key was there already.
fn created(made: Result<u64, kv::CreateError>, what: &str) -> Result<bool> {
    match made {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).context(what.to_owned()),
    }
}

/// NATS URLs as they may be shown: a user name or password in them is left out.
fn without_secrets(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}…@{}", &url[..scheme + 3], &url[at + 1..])
            }
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn log_stream(code: &str) -> String {
    format!("SZ_{code}")
}

fn log_subject(code: &str) -> String {
    format!("sz.{code}.log")
}

fn cmd_subject(code: &str) -> String {
    format!("sz.{code}.cmd")
}

fn views_subject(code: &str) -> String {
    format!("sz.{code}.views")
}

fn view_subject(code: &str, role: Role) -> String {
    format!("sz.{code}.view.{}", role_name(role))
}

/// Where an owner publishes the phones' `upvotes` messages, beside their views.
fn upvotes_subject(code: &str) -> String {
    format!("sz.{code}.view.upvotes")
}

fn seat_subject(code: &str) -> String {
    format!("sz.{code}.seat")
}

fn notice_subject(code: &str) -> String {
    format!("sz.{code}.notice")
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Participant => "participant",
        Role::Screen => "screen",
        Role::Host => "host",
    }
}

const ROLES: [Role; 3] = [Role::Participant, Role::Screen, Role::Host];

/// Appends the new owner's marker (an empty batch) where the log ends now.
async fn take_over(
    js: &jetstream::Context,
    code: &str,
    node: &str,
    revision: u64,
    last: u64,
) -> Result<u64> {
    let id = format!("{node}.{revision}.{last}.owner");
    match publish_fenced(js, code, b"[]".to_vec().into(), last, &id).await {
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

async fn publish_fenced(
    js: &jetstream::Context,
    code: &str,
    payload: Bytes,
    last: u64,
    id: &str,
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
            Ok(Ok(ack)) => return Ok(ack.sequence),
            Ok(Err(e)) if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                return Err(Fenced::Deposed)
            }
            Ok(Err(e)) => why = e.to_string(),
            Err(_) => why = "no acknowledgement in time".to_owned(),
        }
        tracing::debug!(code, "appending to the log: {why}; trying again");
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
        let outcome = publish_fenced(&self.js, &self.code, payload, self.last, &id).await;
        let result = match outcome {
            Ok(seq) => {
                self.last = seq;
                Ok(())
            }
            Err(Fenced::Deposed) => {
                tracing::warn!(code = %self.code, "another node took this session over");
                self.deposed.send_replace(true);
                Err(self.refusal())
            }
            Err(Fenced::Failed(reason)) => {
                self.fenced = taken.iter().map(|a| a.epoch).max();
                Err(WriteFailed { reason })
            }
        };
        for append in taken {
            (append.done)(result.clone());
        }
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

/// What a proxy asks of the owner.
#[derive(Serialize, Deserialize)]
enum Forward {
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
fn share_seats(cluster: &Arc<Cluster>, handle: &SessionHandle) {
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

/// The owner's answer.
#[derive(Serialize, Deserialize)]
enum Answer {
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
                    client.publish(reply, current_views(&views)).await?;
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
    loop {
        renew.tick().await;
        let current = *revision.borrow();
        match cluster
            .leases
            .update(&code, cluster.node.clone().into(), current)
            .await
        {
            Ok(next) => {
                revision.send_replace(next);
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                // Expired during a stall of NATS, or taken by another node: only a
                // lease nobody holds is taken back.
                match cluster.claim(&code).await {
                    Ok(Claim::Owner(next)) => {
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
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(OWNER_HEADER, cluster.node.as_str());
        let payload = Bytes::copy_from_slice(text.as_bytes());
        cluster
            .client
            .publish_with_headers(subject, headers, payload)
            .await?;
    }
    Ok(())
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
            handle
                .request(Request::Join {
                    participant,
                    card,
                    reply: tx,
                })
                .await?;
            tokio::spawn(async move {
                if let Ok(joined) = rx.await {
                    respond(&client, reply, &Answer::Joined(joined)).await;
                }
            });
        }
        Forward::Command { command, id, lang } => {
            let (outbox, mut answers): (Outbox, _) = mpsc::unbounded_channel();
            handle
                .request(Request::Command {
                    command,
                    id,
                    lang,
                    outbox,
                })
                .await?;
            // Without an id only a refusal comes back, at once: asking the session
            // anything after it tells that it was handled.
            let barrier = match id {
                Some(_) => None,
                None => {
                    let (tx, rx) = oneshot::channel();
                    handle
                        .request(Request::Knows {
                            participant: ParticipantId::nil(),
                            reply: tx,
                        })
                        .await?;
                    Some(rx)
                }
            };
            tokio::spawn(async move {
                let mut replies = vec![];
                match barrier {
                    None => {
                        if let Some(msg) = answers.recv().await {
                            replies.push(msg);
                        }
                    }
                    Some(barrier) => {
                        barrier.await.ok();
                        while let Ok(msg) = answers.try_recv() {
                            replies.push(msg);
                        }
                    }
                }
                respond(&client, reply, &Answer::Replies(replies)).await;
            });
        }
        Forward::Knows { participant } => {
            let (tx, rx) = oneshot::channel();
            handle
                .request(Request::Knows {
                    participant,
                    reply: tx,
                })
                .await?;
            tokio::spawn(async move {
                if let Ok(knows) = rx.await {
                    respond(&client, reply, &Answer::Knows(knows)).await;
                }
            });
        }
    }
    Ok(())
}

async fn respond(client: &async_nats::Client, reply: async_nats::Subject, answer: &Answer) {
    let payload = serde_json::to_vec(answer).expect("answers serialize");
    if let Err(e) = client.publish(reply, payload.into()).await {
        tracing::warn!("answering a forwarded request: {e}");
    }
}

/// The parts of a proxy's handle the hub assembles (see [`crate::hub`]).
pub struct ProxyParts {
    /// The requests of the node's connections.
    pub requests: mpsc::Receiver<Request>,
    /// The views the node's connections read, fed from the owner's.
    pub views: [watch::Sender<Published>; 3],
}

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

/// The report of a session, built from its log (for a session this node does not run).
pub async fn report_from_log(
    cluster: &Cluster,
    code: &str,
) -> Result<Option<crate::report::Report>> {
    let Some((stored, _)) = cluster.load(code).await? else {
        return Ok(None);
    };
    let (session, _) = stored.replay()?;
    let report = crate::report::build(&session, code);
    Ok(Some(crate::hub::with_meeting(
        report,
        &stored.record.meeting,
    )))
}

#[cfg(test)]
mod tests {
    use super::without_secrets;

    #[test]
    fn nats_urls_are_shown_without_their_credentials() {
        assert_eq!(
            without_secrets("nats://stemzaal:geheim@10.0.0.21:4222,nats://10.0.0.22:4222"),
            "nats://…@10.0.0.21:4222,nats://10.0.0.22:4222"
        );
        assert_eq!(without_secrets("10.0.0.21:4222"), "10.0.0.21:4222");
    }
}
