//! The live runtime: finds sessions by join code and runs each as one actor task.
//!
//! The actor owns its [`Session`]: commands arrive over a bounded channel, so the vote
//! path takes no lock. Events go to the session's [`Log`]; a vote is acknowledged once
//! the log has taken it. What clients see is published through `watch` channels on a
//! short tick, serialized once per role and shared by every connection, so a burst of
//! votes costs one message per client per tick at most and a slow phone holds up only
//! itself.
//!
//! Storage is a port the hub owns ([`ports`]): it holds one [`Sessions`] catalog,
//! picked at start-up, and never asks which adapter that is.

mod actor;
mod handle;
pub mod library;
pub mod media;
pub(crate) mod opinion;
mod pace;
pub mod ports;
pub(crate) mod seats;
mod spread;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use dashmap::DashMap;
use rand::Rng;
use tokio::sync::{mpsc, watch};

pub use actor::{COMMAND_QUEUE, SNAPSHOT_TICK, UPVOTES_TICK};
pub use handle::{
    JoinInfo, Key, NotAdmitted, Notice, Outbox, ProxyParts, Published, Request, SessionHandle,
    Stopped,
};
pub use ports::{
    Completion, Log, Meeting, Owned, Placement, Proxied, SessionRecord, Sessions, Status,
    StoredSession, WriteFailed,
};

use crate::core::deck::{Deck, StructureChange};
use crate::core::edits::WordingChange;
use crate::core::session::Session;

/// Join codes use letters and digits that cannot be mistaken for each other when read
/// off a projector (no 0/O, 1/I/L), as voting cards do.
const CODE_ALPHABET: &[u8] = crate::core::cards::ALPHABET;

/// Stored events that cannot be applied are logged one by one up to this many; the
/// rest only in the count.
const MAX_UNFIT_LOGGED: usize = 10;

/// Length of a join code: 31^6 ≈ 887 million codes, short enough to type on a phone.
pub const CODE_LEN: usize = 6;

/// How long a process starting on a deck waits for another that claimed the start of
/// a session on it (see [`Sessions::claim_start`]) before it starts one itself: ten
/// lifetimes of such a claim.
const START_WAIT: Duration = Duration::from_secs(12);

/// How often a process that waits for another's start looks in the catalog again.
const START_LOOK: Duration = Duration::from_millis(100);

/// All live sessions, by join code.
pub struct Hub {
    live: DashMap<String, SessionHandle>,
    /// Codes handed to sessions that are being stored, not yet live: a second create
    /// in that moment must not pick the same code. The lock is never held across an
    /// `.await`.
    reserved: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Loading, closing, deleting and editing a session one at a time, so a session is
    /// never loaded twice or loaded while it closes.
    lifecycle: tokio::sync::Mutex<()>,
    /// Where sessions are stored and how this process serves them.
    catalog: Arc<dyn Sessions>,
    base_url: String,
    /// The `ended` message of each closed session asked for, as JSON: a closed
    /// session no longer changes, so its log is replayed once, not for every phone
    /// that reloads. Used only while the catalog still says closed (a deleted session's
    /// ending is forgotten at the next ask).
    endings: DashMap<String, Arc<str>>,
}

/// How [`Hub::open_or_reuse`] found its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// A new session.
    New,
    /// The newest open session on the same deck.
    Resumed,
    /// The newest open session on an earlier text of the deck: its texts were replaced.
    Edited,
}

/// Why the hub changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No session with this code.
    Unknown,
    /// The session is closed.
    Closed,
    /// The edited deck differs in what the votes rest on.
    Structure(StructureChange),
    /// The edited deck rewords a statement people voted on.
    Wording(WordingChange),
    /// The catalog runs sessions on several nodes, where a running session's deck is
    /// not edited (see [`Sessions::edits_running_decks`]).
    Clustered,
}

impl Hub {
    /// A hub with no sessions running, over the catalog `catalog` (the SQLite store, or
    /// NATS); `base_url` (e.g. `http://192.168.1.20:8080`) is what participant URLs
    /// start with.
    pub fn new(catalog: impl Sessions + 'static, base_url: String) -> Self {
        Hub {
            live: DashMap::new(),
            reserved: Default::default(),
            lifecycle: Default::default(),
            catalog: Arc::new(catalog),
            base_url: base_url.trim_end_matches('/').to_owned(),
            endings: DashMap::new(),
        }
    }

    /// A session's voting cards as stored (a session need not be loaded for its list
    /// entry or its printed cards).
    pub async fn cards(&self, code: &str) -> Result<crate::core::cards::Cards> {
        self.catalog.cards(code).await
    }

    /// The base of every URL the server hands out.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The participant URL of a session.
    pub fn join_url(&self, code: &str) -> String {
        format!("{}/{code}", self.base_url)
    }

    /// The screen URL with its key.
    pub fn screen_url(&self, handle: &SessionHandle) -> String {
        format!(
            "{}/screen/{}?key={}",
            self.base_url,
            handle.code(),
            handle.screen_key().expose()
        )
    }

    /// The host URL with its key.
    pub fn host_url(&self, handle: &SessionHandle) -> String {
        format!(
            "{}/host/{}?key={}",
            self.base_url,
            handle.code(),
            handle.host_key().expose()
        )
    }

    /// Finds a running session; codes are case-insensitive. A session whose task ended
    /// without being unloaded (another node took it over, or its owner went away) is
    /// not found, so the next [`Hub::find`] places it again.
    pub fn get(&self, code: &str) -> Option<SessionHandle> {
        self.live
            .get(&normalize(code))
            .map(|h| h.value().clone())
            .filter(SessionHandle::is_running)
    }

    /// Finds an open session, placing it here (from what is stored, or through its
    /// owner elsewhere) if this is its first use.
    pub async fn find(&self, code: &str) -> Result<Option<SessionHandle>> {
        if let Some(handle) = self.get(code) {
            return Ok(Some(handle));
        }
        let code = normalize(code);
        // A code the catalog cannot hold open (a typo, a guess) is answered without
        // waiting for the loads of others.
        if !self.catalog.may_be_open(&code).await? {
            return Ok(None);
        }
        let _one_at_a_time = self.lifecycle.lock().await;
        self.place(&code).await
    }

    /// Runs an open session here, as its owner or through a proxy, as the catalog
    /// places it (the caller holds `lifecycle`).
    async fn place(&self, code: &str) -> Result<Option<SessionHandle>> {
        if let Some(handle) = self.get(code) {
            return Ok(Some(handle));
        }
        let handle = match self.catalog.place(code).await? {
            None => return Ok(None),
            Some(Placement::Owner { stored, owned }) => self.restore(stored, owned)?,
            Some(Placement::Proxy(proxied)) => self.start_proxy(proxied)?,
        };
        Ok(Some(handle))
    }

    /// Takes note of every open stored session, to be loaded when first used; returns
    /// their codes.
    pub fn restore_open(&self) -> Result<Vec<String>> {
        self.catalog.restore_open()
    }

    /// Runs a stored session here, going on from its events.
    fn restore(&self, stored: StoredSession, owned: Owned) -> Result<SessionHandle> {
        let (session, unfit) = stored.replay()?;
        let StoredSession { record, events } = stored;
        for (number, why) in unfit.iter().take(MAX_UNFIT_LOGGED) {
            let json = serde_json::to_string(&events[*number]).unwrap_or_default();
            tracing::error!(
                code = %record.code,
                "stored event {} of {} cannot be applied and is skipped ({why}): {json}",
                number + 1,
                events.len()
            );
        }
        if !unfit.is_empty() {
            tracing::error!(
                code = %record.code,
                "SESSION RESTORED WITH {} STORED EVENTS SKIPPED: its tally may differ from what was voted",
                unfit.len()
            );
        }
        tracing::info!(code = %record.code, events = events.len(), "session loaded");
        Ok(self.start_owned(record, session, owned, unfit.len() as u64))
    }

    /// Starts the actor of a session this process owns, and what runs beside it;
    /// `skipped` stored events could not be applied (the host is told).
    fn start_owned(
        &self,
        record: SessionRecord,
        session: Session,
        owned: Owned,
        skipped: u64,
    ) -> SessionHandle {
        let code = record.code.clone();
        let handle = actor::spawn(record, session, owned.log, skipped);
        self.live.insert(code, handle.clone());
        (owned.companion)(handle.clone());
        handle
    }

    /// Serves a session another process owns: a handle whose requests and views its
    /// forwarder carries to and from the owner.
    fn start_proxy(&self, proxied: Proxied) -> Result<SessionHandle> {
        let Proxied {
            record,
            views,
            forwarder,
        } = proxied;
        let code = record.code.clone();
        // A session served through proxies never has its deck edited while it runs.
        let deck = crate::core::deck::parse(&record.deck_name, &record.deck_source)
            .with_context(|| format!("the stored deck of session {code}"))?;
        let (tx, requests) = mpsc::channel(COMMAND_QUEUE);
        let [p, s, h] = views;
        let (participant_tx, participant_rx) = watch::channel(p);
        let (screen_tx, screen_rx) = watch::channel(s);
        let (host_tx, host_rx) = watch::channel(h);
        let receivers = [participant_rx, screen_rx, host_rx];
        let clock = handle::Clock::new();
        let handle = SessionHandle::new(record, Arc::new(deck), clock, tx, receivers);
        let parts = ProxyParts {
            requests,
            views: [participant_tx, screen_tx, host_tx],
        };
        forwarder(handle.clone(), parts);
        self.live.insert(code, handle.clone());
        Ok(handle)
    }

    /// A session's record, open or closed.
    pub async fn record(&self, code: &str) -> Result<Option<SessionRecord>> {
        self.catalog.record(&normalize(code)).await
    }

    /// Every session's record, newest first.
    pub async fn records(&self) -> Result<Vec<SessionRecord>> {
        self.catalog.records().await
    }

    /// Waits until everything queued is stored, then leaves the storage tidy (for
    /// SQLite: the WAL folded into the database).
    pub async fn checkpoint(&self) -> Result<()> {
        self.catalog.checkpoint().await
    }

    /// Stops every session: each stores and answers what it took, then its connections
    /// close. Returns when all have, or after `within`.
    pub async fn stop_all(&self, within: Duration) {
        let handles: Vec<SessionHandle> = self.live.iter().map(|h| h.value().clone()).collect();
        let mut stopping = tokio::task::JoinSet::new();
        for handle in handles {
            stopping.spawn(async move { handle.stop().await });
        }
        // At the deadline the set is dropped, which ends only the waiting: each session
        // goes on storing what it took.
        if tokio::time::timeout(within, stopping.join_all())
            .await
            .is_err()
        {
            tracing::warn!("not every session stopped within {within:?}");
        }
    }

    /// Creates, stores and starts a new session on a deck.
    pub async fn create(&self, deck: Arc<Deck>, deck_source: &str) -> Result<SessionHandle> {
        self.create_for(deck, deck_source, Meeting::default(), None)
            .await
    }

    /// Creates, stores and starts a new session on a deck (stored in the library as
    /// `deck_id`), for a meeting; this process owns it.
    pub async fn create_for(
        &self,
        deck: Arc<Deck>,
        deck_source: &str,
        meeting: Meeting,
        deck_id: Option<i64>,
    ) -> Result<SessionHandle> {
        let mut reservation = self.reserve_code();
        let mut record = SessionRecord {
            code: reservation.code.clone(),
            deck_name: deck.source_name.clone(),
            deck_source: deck_source.to_owned(),
            host_key: Key::generate().expose().to_owned(),
            screen_key: Key::generate().expose().to_owned(),
            created_ms: now_ms(),
            meeting,
            deck_id,
            ..SessionRecord::default()
        };
        let owned = loop {
            let code = record.code.clone();
            let created = self.catalog.create(&record).await;
            match created.with_context(|| format!("storing new session {code}"))? {
                Some(owned) => break owned,
                // Stored already (another node drew it meanwhile): another code.
                None => {
                    reservation = self.reserve_code();
                    record.code = reservation.code.clone();
                }
            }
        };
        let handle = self.start_owned(record, Session::new(deck), owned, 0);
        drop(reservation);
        Ok(handle)
    }

    /// A code no running session has and no other create holds; released when dropped.
    /// Whether the catalog holds it already, [`Sessions::create`] says.
    fn reserve_code(&self) -> Reservation<'_> {
        // A poisoned lock only means another create panicked; the set is still valid.
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        let code = loop {
            let code = generate_code();
            if !self.live.contains_key(&code) && !reserved.contains(&code) {
                break code;
            }
        };
        reserved.insert(code.clone());
        Reservation { hub: self, code }
    }

    /// The newest open session on a deck of the same name, or a new one; with
    /// `always_new` a new one. A stored session on an earlier text of the deck is kept
    /// when only texts changed (its texts are replaced), so a restart with an edited
    /// deck file keeps the room's code; a structural change starts a new session and
    /// the log says why.
    pub async fn open_or_reuse(
        &self,
        deck: Arc<Deck>,
        deck_source: &str,
        always_new: bool,
    ) -> Result<(SessionHandle, Opened)> {
        if always_new {
            return Ok((self.create(deck, deck_source).await?, Opened::New));
        }
        let started = tokio::time::Instant::now();
        loop {
            if let Some(found) = self.reuse(&deck, deck_source).await? {
                return Ok(found);
            }
            // Of processes starting at once on this deck, one starts the session; the
            // others find it in the catalog once it is there.
            if self.catalog.claim_start(deck_source).await? || started.elapsed() > START_WAIT {
                break;
            }
            tokio::time::sleep(START_LOOK).await;
        }
        Ok((self.create(deck, deck_source).await?, Opened::New))
    }

    /// The newest open session on a deck of this name, if it runs this text or can be
    /// edited to it.
    async fn reuse(
        &self,
        deck: &Arc<Deck>,
        deck_source: &str,
    ) -> Result<Option<(SessionHandle, Opened)>> {
        let records = self.catalog.records().await?;
        let newest = records
            .into_iter()
            .find(|r| r.status == Status::Open && r.deck_name == deck.source_name);
        let Some(record) = newest else {
            return Ok(None);
        };
        let code = record.code.clone();
        let stored = crate::core::deck::parse(&record.deck_name, &record.deck_source)
            .with_context(|| format!("the stored deck of session {code}"))?;
        if stored == **deck {
            return Ok(self.find(&code).await?.map(|h| (h, Opened::Resumed)));
        }
        let edited = self
            .replace_deck(&code, deck.clone(), deck_source, record.deck_id)
            .await?;
        match edited {
            Ok(handle) => return Ok(Some((handle, Opened::Edited))),
            Err(Refused::Structure(change)) => tracing::warn!(
                "{} changed since session {code} started ({}): starting a new session",
                deck.source_name,
                change.describe(true)
            ),
            // Neither kept nor left behind: the room would find its votes under other
            // words, or in a session its code no longer reaches.
            Err(Refused::Wording(change)) => anyhow::bail!(
                "{name}: {}; herstel de tekst, of start een nieuwe sessie met --new \
                 (sessie {code} blijft bewaard).\n{name}: {}; restore the text, or start a \
                 new session with --new (session {code} stays stored).",
                change.describe(false),
                change.describe(true),
                name = deck.source_name,
            ),
            Err(_) => {}
        }
        Ok(None)
    }

    /// Runs an open session on an edited deck, keeping its code, links, phones and
    /// votes, if the structure is the same (see [`Deck::structure_change`]). The new
    /// text is stored first; connected pages reconnect for the new titles.
    pub async fn replace_deck(
        &self,
        code: &str,
        deck: Arc<Deck>,
        deck_source: &str,
        deck_id: Option<i64>,
    ) -> Result<Result<SessionHandle, Refused>> {
        if !self.catalog.edits_running_decks() {
            return Ok(Err(Refused::Clustered));
        }
        let _one_at_a_time = self.lifecycle.lock().await;
        let code = normalize(code);
        let Some(handle) = self.place(&code).await? else {
            return Ok(Err(self.why_not_open(&code).await?));
        };
        let running = handle.deck();
        if let Some(change) = running.structure_change(&deck) {
            return Ok(Err(Refused::Structure(change)));
        }
        // The session checks the words against its votes and swaps in one step, so no
        // vote comes between; then the text is stored, and put back if it cannot be.
        if let Err(change) = handle.swap_deck(deck.clone()).await? {
            return Ok(Err(Refused::Wording(change)));
        }
        let stored = self
            .catalog
            .store_deck(&code, &deck.source_name, deck_source, deck_id)
            .await
            .with_context(|| format!("storing the edited deck of session {code}"));
        if let Err(e) = stored {
            // The way back is the same small edit, so the session takes it.
            if let Err(back) = handle.swap_deck(running).await {
                tracing::warn!(
                    code,
                    "putting back the deck whose edit was not stored: {back:#}"
                );
            }
            return Err(e);
        }
        handle.announce_deck(deck);
        tracing::info!(code, "the deck's texts were edited; the session goes on");
        Ok(Ok(handle))
    }

    /// Closes an open session: it takes no more votes, stores what it took, its
    /// connections close with "session closed", and it leaves memory; its record and
    /// events stay for the report. Returns the stored record, or why not.
    pub async fn close(&self, code: &str) -> Result<Result<SessionRecord, Refused>> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let code = normalize(code);
        let Some(record) = self.catalog.record(&code).await? else {
            return Ok(Err(Refused::Unknown));
        };
        if record.status == Status::Closed {
            return Ok(Ok(record));
        }
        // Stored first: if the storage refuses, nothing changes and the room goes on.
        // Votes taken between this write and the stop below are stored and counted.
        let closed = self
            .catalog
            .close(record)
            .await
            .with_context(|| format!("closing session {code}"))?;
        self.unload(&code).await;
        tracing::info!(code, "session closed");
        Ok(Ok(closed))
    }

    /// Deletes a session, open or closed, with every vote: nothing of it is left in
    /// the storage. Returns `false` if there was none.
    pub async fn delete(&self, code: &str) -> Result<bool> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let code = normalize(code);
        let Some(record) = self.catalog.record(&code).await? else {
            return Ok(false);
        };
        // Closed first, as by `close`: a delete that then fails leaves a closed session,
        // never one whose pages were told it closed while it still takes votes.
        if record.status == Status::Open {
            self.catalog
                .close(record)
                .await
                .with_context(|| format!("closing session {code}"))?;
        }
        self.unload(&code).await;
        self.catalog
            .delete(&code)
            .await
            .with_context(|| format!("deleting session {code}"))?;
        tracing::info!(code, "session deleted");
        Ok(true)
    }

    /// Stops a running session (its connections hear "session closed") and forgets it.
    async fn unload(&self, code: &str) {
        if let Some(handle) = self.get(code) {
            handle.set_notice(Notice::Closed);
            handle.stop().await;
            self.live.remove(code);
        }
    }

    async fn why_not_open(&self, code: &str) -> Result<Refused> {
        Ok(match self.catalog.record(code).await? {
            Some(r) if r.status == Status::Closed => Refused::Closed,
            _ => Refused::Unknown,
        })
    }

    /// The ending of a closed session (see [`crate::wire::view::ended`]); `None` for a
    /// session that is open or unknown.
    /// As JSON, ready to send.
    pub async fn ended(&self, code: &str) -> Result<Option<Arc<str>>> {
        let code = normalize(code);
        if self.get(&code).is_some() {
            return Ok(None);
        }
        match self.catalog.record(&code).await? {
            Some(r) if r.status == Status::Closed => {}
            _ => {
                self.endings.remove(&code);
                return Ok(None);
            }
        }
        if let Some(ended) = self.endings.get(&code) {
            return Ok(Some(ended.clone()));
        }
        let Some(stored) = self.catalog.stored(&code).await? else {
            return Ok(None);
        };
        let ended: Arc<str> = tokio::task::spawn_blocking(move || -> Result<Arc<str>> {
            let (session, _) = stored.replay()?;
            let view = crate::wire::view::ended(&session);
            Ok(serde_json::to_string(&view)?.into())
        })
        .await
        .context("reading a closed session")??;
        self.endings.insert(code, ended.clone());
        Ok(Some(ended))
    }

    /// The report of a session, open or closed.
    pub async fn report(&self, code: &str) -> Result<Option<crate::report::Report>> {
        if let Some(handle) = self.find(code).await? {
            match handle.report().await {
                Ok(report) => return Ok(Some(report)),
                // The session stopped or moved to another node meanwhile; what it
                // acknowledged is stored.
                Err(e) => tracing::debug!("the session went away while reporting: {e:#}"),
            }
        }
        let Some(stored) = self.catalog.stored(&normalize(code)).await? else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || stored_report(&stored).map(Some))
            .await
            .context("building a report")?
    }
}

/// A code held for a session being created (see [`Hub::reserve_code`]).
struct Reservation<'a> {
    hub: &'a Hub,
    code: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut reserved = self.hub.reserved.lock().unwrap_or_else(|p| p.into_inner());
        reserved.remove(&self.code);
    }
}

/// A code as stored: codes are case-insensitive and typed with spaces around.
fn normalize(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Whether a normalized code is one [`Hub`] could have made. An adapter that turns a
/// code into a key or a subject lets nothing else get that far.
pub(crate) fn could_be_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// The report of a stored session, replayed from its events.
pub(crate) fn stored_report(stored: &StoredSession) -> Result<crate::report::Report> {
    let (session, unfit) = stored.replay()?;
    let mut report = crate::report::build(&session, &stored.record.code);
    report.skipped_events = unfit.len() as u64;
    let map = crate::core::opinion::compute(&crate::core::opinion::votes(&session));
    report.opinion_map = crate::report::opinion_map(session.deck(), &map);
    Ok(with_meeting(report, &stored.record.meeting))
}

/// The report with the meeting the console gave in place of the deck's front matter.
pub(crate) fn with_meeting(
    mut report: crate::report::Report,
    meeting: &Meeting,
) -> crate::report::Report {
    if meeting.name.is_some() {
        report.meeting.clone_from(&meeting.name);
    }
    if meeting.date.is_some() {
        report.date.clone_from(&meeting.date);
    }
    if meeting.place.is_some() {
        report.place.clone_from(&meeting.place);
    }
    report
}

fn generate_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Milliseconds since the Unix epoch, for records and the sessions' clocks.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
