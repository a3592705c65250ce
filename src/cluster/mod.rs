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
//!
//! The cluster is an adapter: it implements the hub's ports (`sessions`: the catalog
//! and placement; [`LogWriter`]: a session's log) and the console's ([`console`]),
//! and `app` picks it at start-up. It sits above the hub and uses its types; the hub
//! knows nothing of it.

pub mod console;
mod log;
pub mod media;
mod owner;
mod proxy;
mod seats;
mod sessions;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::time::Instant;

use log::take_over;
pub use log::LogWriter;

use crate::core::session::Event;
use crate::hub::{Notice, Published, SessionRecord, StoredSession};
use crate::wire::protocol::Role;

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

/// How long a starting node waits for JetStream: a cluster that has just started elects
/// the leaders of its streams first, and nodes started at once make the same buckets
/// and the same session. What it waits for is logged.
pub const START_FOR: Duration = Duration::from_secs(60);

/// How long a node waits for JetStream to answer a request (instead of the client's
/// five seconds). A request that reached no leader (a cluster that has just started,
/// or is electing one) is never answered; asked again, the next one is.
const JETSTREAM_ASK: Duration = Duration::from_secs(2);

/// How long a node that took the start of a session holds it (renewing the key as a
/// lease), so no other node starts a second session while it makes the first.
const START_HOLD: Duration = Duration::from_secs(10);

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
    media: media::ClusterMedia,
    replicas: usize,
    /// Each session's cards as read from its log, with the sequence read up to: the
    /// next read goes on from there.
    cards: DashMap<String, (u64, crate::core::cards::Cards)>,
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
        let outage = std::sync::Arc::new(std::sync::Mutex::new(Outage::default()));
        let client = async_nats::ConnectOptions::new()
            .name(format!("stemzaal-{node}"))
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |event| {
                log_connection(event, &outage);
                async {}
            })
            .connect(addrs)
            .await
            .with_context(|| format!("connecting to NATS at {}", without_secrets(urls)))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(JETSTREAM_ASK);
        let catalog = ensure_bucket(&js, CATALOG, replicas, Duration::ZERO).await?;
        let leases = ensure_bucket(&js, LEASES, replicas, LEASE_TTL).await?;
        let console =
            console::Console::open(&client, &js, replicas, crate::hub::library::LOGIN_LIFETIME)
                .await?;
        let media = media::ClusterMedia::open(&client, &js, replicas).await?;
        Ok(Cluster {
            node,
            client,
            js,
            catalog,
            leases,
            console,
            media,
            replicas,
            cards: DashMap::new(),
        })
    }

    /// The console's decks, settings and logins.
    pub fn console(&self) -> &console::Console {
        &self.console
    }

    /// Decks' images.
    pub fn media(&self) -> &media::ClusterMedia {
        &self.media
    }

    /// This node's name in leases and log messages.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Stores a new session's record; `false` if the code is taken. Retried while
    /// JetStream elects leaders: a create that was stored although its answer was lost
    /// finds its own record the next time, and counts as made.
    pub async fn create_record(&self, record: &SessionRecord) -> Result<bool> {
        let value = Bytes::from(serde_json::to_vec(record)?);
        let made = retrying("storing a session in the catalog", || async {
            match self.catalog.create(&record.code, value.clone()).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let stored = self.catalog.get(&record.code).await?;
                    Ok(stored.as_ref() == Some(&value))
                }
                Err(e) => Err(anyhow::Error::from(e)),
            }
        });
        made.await
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
        let config = stream::Config {
            name: log_stream(code),
            subjects: vec![log_subject(code)],
            num_replicas: self.replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        // Making a stream that is there with the same configuration changes nothing.
        let what = format!("making the log of session {code}");
        retrying(&what, || self.js.create_stream(config.clone())).await?;
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

    /// Takes a new lease, retrying while JetStream elects leaders. A create whose
    /// answer was lost may have stored the lease: one that names this node is its own,
    /// taken at its revision.
    async fn claim_new(&self, key: &str) -> Result<Claim> {
        retrying("taking a lease", || async {
            match self.claim(key).await? {
                Claim::Owner(revision) => Ok(Claim::Owner(revision)),
                Claim::Held => match live_entry(self.leases.entry(key).await?) {
                    Some(e) if e.value.as_ref() == self.node.as_bytes() => {
                        Ok(Claim::Owner(e.revision))
                    }
                    _ => Ok::<_, anyhow::Error>(Claim::Held),
                },
            }
        })
        .await
    }

    /// The node that holds a session's lease, if any.
    async fn lease_holder(&self, code: &str) -> Result<Option<String>> {
        let value = self.leases.get(code).await.context("reading a lease")?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Takes the right to start a session on the deck whose text has this digest, if
    /// nobody holds it: of nodes starting at once on the same deck, one starts a
    /// session and the others find it. The right is a lease, renewed for
    /// [`START_HOLD`] (making a session on a cluster that has just started can take
    /// longer than a lease lives), then left to expire.
    pub async fn claim_start(&self, digest: &str) -> Result<bool> {
        let key = format!("start.{digest}");
        let Claim::Owner(revision) = self.claim_new(&key).await? else {
            return Ok(false);
        };
        let leases = self.leases.clone();
        let node = Bytes::from(self.node.clone());
        tokio::spawn(async move {
            let until = Instant::now() + START_HOLD;
            let mut revision = revision;
            while Instant::now() < until {
                tokio::time::sleep(LEASE_RENEW).await;
                match leases.update(&key, node.clone(), revision).await {
                    Ok(next) => revision = next,
                    Err(_) => return,
                }
            }
        });
        Ok(true)
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

    /// The owner's views of a session and the node that sent them, or `None` when no
    /// owner answers.
    async fn views_of(&self, code: &str) -> Result<Option<OwnerViews>> {
        let asked = tokio::time::timeout(
            Duration::from_secs(2),
            self.client.request(views_subject(code), Bytes::new()),
        )
        .await;
        match asked {
            Ok(Ok(reply)) => {
                let views: [(String, Option<String>); 3] =
                    serde_json::from_slice(&reply.payload).context("reading an owner's views")?;
                Ok(Some(OwnerViews {
                    owner: sender(&reply),
                    views: views.map(|(state, upvotes)| Published {
                        state: state.into(),
                        upvotes: upvotes.map(Into::into),
                    }),
                }))
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

/// Something that fails for a while (the connection to NATS, a session's appends or
/// lease): logged once when it starts failing and once when it works again, not at
/// every try.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
}

impl Outage {
    /// A failure; `true` if it is the first since the thing last worked.
    fn failed(&mut self) -> bool {
        let first = self.since.is_none();
        self.since.get_or_insert_with(Instant::now);
        first
    }

    /// A success; how long it had failed, if it had.
    fn ended(&mut self) -> Option<Duration> {
        self.since.take().map(|since| since.elapsed())
    }
}

/// Logs the connection's news: an outage once when it starts and once when it ends.
fn log_connection(event: async_nats::Event, outage: &std::sync::Mutex<Outage>) {
    let mut outage = outage.lock().unwrap_or_else(|p| p.into_inner());
    match event {
        async_nats::Event::Disconnected => {
            if outage.failed() {
                tracing::warn!(
                    "lost the connection to NATS; reconnecting. Until it is back, changes \
                     wait (and are refused after {APPEND_RETRY_FOR:?}), phones of sessions \
                     this node cannot reach are refused, and the console answers 503"
                );
            }
        }
        async_nats::Event::Connected => {
            if let Some(lasted) = outage.ended() {
                tracing::warn!("connected to NATS again, after {lasted:.1?}");
            }
        }
        async_nats::Event::ServerError(e) => tracing::warn!("NATS: {e}"),
        event => tracing::debug!("NATS: {event}"),
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
    Proxy(Box<OwnerViews>),
}

/// An owner's views, and the node that owns the session (from [`OWNER_HEADER`]).
pub struct OwnerViews {
    pub owner: Option<String>,
    pub views: [Published; 3],
}

/// The node a view (or the answer with the views) came from.
fn sender(message: &async_nats::Message) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(OWNER_HEADER))
        .map(|v| v.to_string())
}

/// Runs `op` until it succeeds, for at most [`ATTACH_FOR`]: after a NATS server of
/// the cluster went away, JetStream answers with errors until it has elected new
/// leaders (4–9 s on 2.9).
async fn retrying<T, E, F, Fut>(what: &str, op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    retry_for(what, ATTACH_FOR, op).await
}

/// Runs `op` until it succeeds, for at most `within`. The first failure is logged
/// (what the node waits for, and why), and so is the success after it; an error no
/// retry heals ([`Misconfigured`]) ends the wait at once.
pub async fn retry_for<T, E, F, Fut>(what: &str, within: Duration, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    let started = Instant::now();
    let mut failures = 0u32;
    loop {
        let e: anyhow::Error = match op().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!("{what}: done after {:.1?}", started.elapsed());
                }
                return Ok(value);
            }
            Err(e) => e.into(),
        };
        if e.chain().any(|e| e.is::<Misconfigured>()) {
            return Err(e);
        }
        if let Some(why) = unfixable(&e) {
            return Err(anyhow!(Misconfigured(format!("{what}: {why}"))));
        }
        if started.elapsed() >= within {
            return Err(e).context(format!("{what} (tried for {within:?})"));
        }
        if failures == 0 {
            tracing::warn!("waiting for NATS JetStream: {what}: {e:#}; trying again");
        } else {
            tracing::debug!("{what}: {e:#}; trying again");
        }
        failures += 1;
        // Spread, so nodes started together do not ask again in step.
        let pause = rand::random::<u64>() % 200 + 150;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// An error of the cluster's set-up that no retry heals: JetStream refuses what the
/// node asks of it (more replicas than servers, a configuration it does not take).
/// The node stops at once and says why; `main` exits with [`Misconfigured::EXIT`].
#[derive(Debug)]
pub struct Misconfigured(pub String);

impl Misconfigured {
    /// The exit status (`EX_CONFIG` of sysexits.h), so a service manager can tell a
    /// set-up to correct from a failure worth a restart.
    pub const EXIT: u8 = 78;
}

impl std::fmt::Display for Misconfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Misconfigured {}

/// What JetStream said, if it is an error that waiting does not heal.
fn unfixable(e: &anyhow::Error) -> Option<String> {
    use async_nats::jetstream::context::{CreateStreamError, CreateStreamErrorKind};
    use async_nats::jetstream::ErrorCode;
    let refused = e
        .chain()
        .find_map(|e| e.downcast_ref::<CreateStreamError>())?;
    let CreateStreamErrorKind::JetStream(error) = refused.kind() else {
        return None;
    };
    let code = error.error_code();
    if code == ErrorCode::STREAM_REPLICAS_NOT_SUPPORTED {
        return Some(format!(
            "{error}: a single NATS server (not a cluster) keeps one copy; \
             start every node with --nats-replicas 1"
        ));
    }
    (code == ErrorCode::STREAM_INVALID_CONFIG).then(|| error.to_string())
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
    make_bucket_stream(js, bucket, config).await?;
    retry_for(&format!("opening the bucket {bucket}"), START_FOR, || {
        js.get_key_value(bucket)
    })
    .await
}

/// Refuses at once while NATS is not connected: a write handed to the client then
/// would wait in its buffer and might be stored after its caller was told it failed.
fn connected(client: &async_nats::Client) -> Result<()> {
    match client.connection_state() {
        async_nats::connection::State::Connected => Ok(()),
        state => anyhow::bail!("NATS is not reachable ({state})"),
    }
}

/// Makes the stream under a bucket, or finds it made by another node; a cluster that
/// has just started elects its leaders first.
async fn make_bucket_stream(
    js: &jetstream::Context,
    bucket: &str,
    config: stream::Config,
) -> Result<()> {
    let replicas = config.num_replicas;
    let what = format!("making the bucket {bucket} with {replicas} replica(s)");
    retry_for(&what, START_FOR, || js.get_or_create_stream(config.clone())).await?;
    Ok(())
}

/// An entry that holds a value (not a delete or purge marker).
fn live_entry(entry: Option<kv::Entry>) -> Option<kv::Entry> {
    entry.filter(|e| e.operation == kv::Operation::Put)
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

/// The report of a session, built from its log (for a session this node does not run).
pub(super) async fn report_from_log(
    cluster: &Cluster,
    code: &str,
) -> Result<Option<crate::report::Report>> {
    let Some((stored, _)) = cluster.load(code).await? else {
        return Ok(None);
    };
    // Replaying the log and computing the opinion map take milliseconds for a large
    // room: on a blocking thread, as the hub does for a stored session.
    tokio::task::spawn_blocking(move || crate::hub::stored_report(&stored))
        .await
        .context("building a report from the log")?
        .map(Some)
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
