//! What the hub needs from storage, said as traits the hub owns: a [`Log`] per session
//! and a [`Sessions`] catalog. The SQLite store and the NATS adapter implement them
//! below; `app` picks one at start-up, and the hub never asks which it holds.
//!
//! The ports are shaped by what the hub does, not by either adapter:
//! - **A log per session, with an outcome per write.** The actor decides commands on
//!   its live session and shows only what the log has taken; [`Log::append`] hands
//!   each batch a [`Completion`] that runs once, with `Ok` when the events are durable
//!   or `Err` when they never will be. An append names the actor's epoch: once one
//!   append of an epoch fails, every later one of the same epoch fails too (its events
//!   were decided on top of the lost ones), and the actor goes on in a new epoch from
//!   what is stored (docs/ARCHITECTURE.md, "When a write fails").
//! - **Placement, not modes.** [`Sessions::place`] says how this process serves a
//!   session: as its owner (the stored session, a log and a companion task the adapter
//!   runs beside it), or through a proxy of an owner elsewhere (the owner's views and a
//!   task that forwards). One machine always answers "owner"; nodes that share
//!   their sessions answer either. The hub builds the handle and the actor in both cases, so connections
//!   never know which they talk to.
//! - **Plain data.** Records, meetings and stored sessions are values here, so the
//!   adapters depend on the hub and not the other way round.

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;

use super::handle::{ProxyParts, Published, SessionHandle};
use crate::core::session::{Event, Session, Unfit};

/// Where a session's events are stored.
pub trait Log: Send + Sync {
    /// Queues the events of session `code`, decided in `epoch`; `done` runs once with
    /// the outcome. An `Err` here means the log takes nothing more (its writer is gone).
    fn append(&self, code: &str, epoch: u64, events: Vec<Event>, done: Completion) -> Result<()>;
}

/// Runs once the log has taken a write (`Ok`) or given it up (`Err`); it may run on
/// the log's own thread, so it only hands the outcome on.
pub type Completion = Box<dyn FnOnce(Result<(), WriteFailed>) + Send>;

/// Why a write was not stored. Whatever it carried is not acknowledged to anyone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteFailed {
    /// What went wrong, for the log.
    pub reason: String,
}

impl std::fmt::Display for WriteFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the store could not write: {}", self.reason)
    }
}

impl std::error::Error for WriteFailed {}

/// Started with the handle of a session this process owns, once it runs: what the
/// adapter keeps going beside it (answering other nodes, holding a lease), or nothing.
pub type Companion = Box<dyn FnOnce(SessionHandle) + Send>;

/// Started with a proxy's handle and the parts it feeds: forwards the requests to the
/// owner and its views to the connections here, and ends when the owner is gone.
pub type Forwarder = Box<dyn FnOnce(SessionHandle, ProxyParts) + Send>;

/// A session this process runs: where its events go and what runs beside it.
pub struct Owned {
    /// The session's log.
    pub log: Arc<dyn Log>,
    /// Started once the session runs.
    pub companion: Companion,
}

/// A session another process runs, served here through a proxy.
pub struct Proxied {
    /// Its record (deck, keys, meeting).
    pub record: SessionRecord,
    /// The owner's views now: participant, screen, host.
    pub views: [Published; 3],
    /// Started with the proxy's handle.
    pub forwarder: Forwarder,
}

/// How this process serves an open session (see [`Sessions::place`]).
pub enum Placement {
    /// It runs the session, going on from what is stored.
    Owner {
        /// The record and every stored event.
        stored: StoredSession,
        /// Its log and companion.
        owned: Owned,
    },
    /// Another process runs it.
    Proxy(Proxied),
}

/// The catalog of sessions: finds, creates, places, closes and deletes them, and reads
/// what is stored of them. Codes come normalized (upper case, trimmed).
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Notes the open sessions stored before this start, to be placed when first
    /// asked for; returns their codes (none where every node finds every session in
    /// the catalog anyway).
    fn restore_open(&self) -> Result<Vec<String>>;

    /// Whether `code` may name an open session: cheap, so a guess or a typo is
    /// answered without waiting for the loads of others.
    async fn may_be_open(&self, code: &str) -> Result<bool>;

    /// Decides how this process serves an open session; `None` if it is not open (or
    /// was closed meanwhile). The hub holds its lifecycle lock.
    async fn place(&self, code: &str) -> Result<Option<Placement>>;

    /// Stores a new session's record and readies its log, with this process as its
    /// owner; `None` if the code is taken (the hub draws another).
    async fn create(&self, record: &SessionRecord) -> Result<Option<Owned>>;

    /// A session's record, open or closed.
    async fn record(&self, code: &str) -> Result<Option<SessionRecord>>;

    /// Every session's record, newest first.
    async fn records(&self) -> Result<Vec<SessionRecord>>;

    /// A session's record and all its events, open or closed (for a report).
    async fn stored(&self, code: &str) -> Result<Option<StoredSession>>;

    /// A session's voting cards as stored (it need not be loaded).
    async fn cards(&self, code: &str) -> Result<crate::core::cards::Cards>;

    /// Stores that an open session is closed, and tells whoever else serves it;
    /// returns the closed record.
    async fn close(&self, record: SessionRecord) -> Result<SessionRecord>;

    /// Removes a closed session with every event, leaving nothing of it behind.
    async fn delete(&self, code: &str) -> Result<()>;

    /// Whether a running session's deck may be replaced by an edited text. A catalog
    /// whose sessions run on several nodes says no: their proxies hold the deck too.
    fn edits_running_decks(&self) -> bool;

    /// Stores an open session's edited deck (name, text, library id if given).
    async fn store_deck(
        &self,
        code: &str,
        deck_name: &str,
        deck_source: &str,
        deck_id: Option<i64>,
    ) -> Result<()>;

    /// Takes the right to start a new session on this deck text now; `false` while
    /// another process holds it (it is starting one: look in the catalog again soon).
    async fn claim_start(&self, deck_source: &str) -> Result<bool>;

    /// Waits until everything queued is stored and leaves the storage tidy (a stop).
    async fn checkpoint(&self) -> Result<()>;
}

/// Whether a session is running or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Live: phones may join and vote; restored at start (when first used).
    #[default]
    Open,
    /// Over: no more votes; its report and exports stay.
    Closed,
}

/// What the console says of a session's meeting, for the report; a field left out
/// leaves the deck's front matter to stand in.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Meeting {
    /// The meeting's name ("Raadsvergadering").
    #[serde(default)]
    pub name: Option<String>,
    /// Its date as the facilitator writes it ("2026-12-01").
    #[serde(default)]
    pub date: Option<String>,
    /// Where it is held ("Raadzaal").
    #[serde(default)]
    pub place: Option<String>,
}

/// What is kept of a session besides its events.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// The join code.
    pub code: String,
    /// The deck's source name.
    pub deck_name: String,
    /// The deck's full text, so the session recovers even if the file changed.
    pub deck_source: String,
    /// The facilitator's key.
    pub host_key: String,
    /// The projector's key.
    pub screen_key: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Open or closed.
    pub status: Status,
    /// When it was closed.
    pub closed_ms: Option<u64>,
    /// The meeting, as the console gave it.
    pub meeting: Meeting,
    /// The stored deck it was started from, if any.
    pub deck_id: Option<i64>,
}

/// A stored session with its events, as read at start-up.
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// The session's record.
    pub record: SessionRecord,
    /// Its events in the order they happened.
    pub events: Vec<Event>,
}

impl StoredSession {
    /// Rebuilds the session by replaying its events on its stored deck: what a restart
    /// runs. Returns the session and the events that did not fit (their index, why),
    /// which replay refused and skipped.
    pub fn replay(&self) -> Result<(Session, Vec<(usize, Unfit)>)> {
        let deck = crate::core::deck::parse(&self.record.deck_name, &self.record.deck_source)
            .with_context(|| format!("the stored deck of session {}", self.record.code))?;
        let mut session = Session::new(Arc::new(deck));
        let unfit = self
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, event)| session.replay(event).err().map(|why| (i, why)))
            .collect();
        Ok((session, unfit))
    }
}
