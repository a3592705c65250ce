//! The live runtime: finds sessions by join code and runs each as one actor task.
//!
//! The actor owns its [`Session`]: commands arrive over a bounded channel, so the vote
//! path takes no lock. Events go to the [`Store`]; a vote is acknowledged from the
//! store's writer once it is committed. What clients see is published through
//! `watch` channels on a short tick, serialized once per role and shared by every
//! connection, so a burst of votes costs one message per client per tick at most and a
//! slow phone holds up only itself.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use rand::Rng;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::cluster::{self, Attached, Cluster, LogWriter, ProxyParts};
use crate::deck::{Deck, StructureChange};
use crate::library::Library;
use crate::protocol::{Lang, OwnArgument, OwnVote, Role, ServerMsg, StateView, Storage};
use crate::seats::{Seat, Seats};
use crate::session::{Command, Event, ParticipantId, Reach, Rejection, Session};
use crate::store::{self, Meeting, SessionRecord, Status, Store, StoredSession, WriteFailed};
use crate::view;

/// How often a session publishes what changed. 50 ms keeps the projector's bars
/// fluid (20 frames a second) while a burst of thousands of votes per second costs
/// each screen and host at most 20 messages a second.
pub const SNAPSHOT_TICK: Duration = Duration::from_millis(50);

/// How often phones hear the upvotes of the listed arguments, at most. Each phone holds
/// the list and gets only the counts (an `upvotes` message of a few hundred bytes), so
/// a room upvoting hundreds of times a second costs a phone on slow 3G about one small
/// message a second, while the projector follows on [`SNAPSHOT_TICK`].
pub const UPVOTES_TICK: Duration = Duration::from_secs(1);

/// Commands queued per session before senders wait: enough to absorb a burst of a
/// few thousand votes between two actor wake-ups, small enough to push back on a flood.
pub const COMMAND_QUEUE: usize = 8192;

/// Join codes use letters and digits that cannot be mistaken for each other when read
/// off a projector (no 0/O, 1/I/L), as voting cards do.
const CODE_ALPHABET: &[u8] = crate::cards::ALPHABET;

/// After a failed write, how long before the session itself tries to write again (a
/// countdown that ended); phones retry their votes on their own schedule.
const STORAGE_RETRY: Duration = Duration::from_secs(1);

/// Stored events that cannot be applied are logged one by one up to this many; the
/// rest only in the count.
const MAX_UNFIT_LOGGED: usize = 10;

/// Length of a join code: 31^6 ≈ 887 million codes, short enough to type on a phone.
pub const CODE_LEN: usize = 6;

/// A secret that grants a role: 128 random bits, hex-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// A fresh random key.
    pub fn generate() -> Key {
        let bits: u128 = rand::thread_rng().gen();
        Key(format!("{bits:032x}"))
    }

    /// The key's text, for URLs shown to the facilitator and for the store.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so response timing tells nothing about the key.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

/// Where a connection's personal messages (acks, errors) go.
pub type Outbox = mpsc::UnboundedSender<ServerMsg>;

/// What a connection asks of a session's actor.
pub enum Request {
    /// Admit a phone; answers with its id and what it voted before, once its joining
    /// is stored (or why not).
    Join {
        /// The id the phone presented, if any.
        participant: Option<ParticipantId>,
        /// The voting card it presented, as typed, if any (ignored by a session
        /// without cards).
        card: Option<String>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<JoinInfo, NotAdmitted>>,
    },
    /// Run a command; refusals go to the outbox, and for a message with an `id` the
    /// `ack` (a vote) or `ok` (a host command) once what it changed is stored.
    Command {
        /// The command (role checks are done by the caller).
        command: Command,
        /// The client's message id, for the answer.
        id: Option<u64>,
        /// Language for the error message.
        lang: Lang,
        /// The connection to answer.
        outbox: Outbox,
    },
    /// Whether a participant with this id is stored (a phone returning after a restart).
    Knows {
        /// The id the phone presented.
        participant: ParticipantId,
        /// Where the answer goes.
        reply: oneshot::Sender<bool>,
    },
    /// Build the session's report.
    Report {
        /// Where the report goes.
        reply: oneshot::Sender<crate::report::Report>,
    },
    /// Run on an edited deck with the same structure (see [`Deck::structure_change`]).
    ReplaceDeck {
        /// The edited deck.
        deck: Arc<Deck>,
    },
    /// Stop taking commands, wait until everything taken is stored and answered, then
    /// end the session's task (its views close, so its connections end).
    Stop {
        /// Told when the task has ended.
        done: oneshot::Sender<()>,
    },
}

/// The answer to [`Request::Join`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JoinInfo {
    /// The participant's id (new if none or an unknown one was presented).
    pub participant: ParticipantId,
    /// Its group, if chosen.
    pub group: Option<String>,
    /// Its votes in the current round of each statement.
    pub votes: Vec<OwnVote>,
    /// Its arguments not removed.
    pub arguments: Vec<OwnArgument>,
    /// The arguments it upvoted.
    pub upvoted: Vec<u32>,
    /// Whether it holds a voting card (then one phone at a time holds its seat).
    pub holds_card: bool,
}

/// Why a phone was not admitted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum NotAdmitted {
    /// The session refused it: `card_required` or `unknown_card`.
    Refused(Rejection),
    /// The store could not write its joining.
    Storage(WriteFailed),
}

/// The serialized views a session publishes, one per role.
struct Publishers {
    participant: watch::Sender<Published>,
    screen: watch::Sender<Published>,
    host: watch::Sender<Published>,
}

/// What a role's connections are to have sent: the newest `state`, and for phones the
/// newest `upvotes` message when counts moved after that state. One value, so a
/// connection never sends counts older than the state it sent before them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    /// The `state` message.
    pub state: Utf8Bytes,
    /// An `upvotes` message newer than `state` (phones only), if any.
    pub upvotes: Option<Utf8Bytes>,
}

impl Published {
    /// A view with only a `state`.
    pub fn state(state: Utf8Bytes) -> Published {
        Published {
            state,
            upvotes: None,
        }
    }

    /// Puts a new `state` in place (and drops the counts that came before it); false
    /// if the view says that already. Upvotes only grow, so a state with the counts
    /// of the one in place has no newer counts after it.
    pub fn set_state(&mut self, state: Utf8Bytes) -> bool {
        if self.state == state {
            return false;
        }
        *self = Published::state(state);
        true
    }

    /// Puts a newer `upvotes` message in place; false if it was there already.
    pub fn set_upvotes(&mut self, upvotes: Utf8Bytes) -> bool {
        if self.upvotes.as_ref() == Some(&upvotes) {
            return false;
        }
        self.upvotes = Some(upvotes);
        true
    }
}

/// What a session tells its connections besides its views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Notice {
    /// Nothing: the session runs.
    #[default]
    Running,
    /// Its deck's texts were edited (for the n-th time): a page reconnects to get the
    /// new titles in its `welcome`.
    DeckEdited(u32),
    /// Closed or deleted from the console: when the session's task has ended, its
    /// connections close with "session closed" rather than "server stopping".
    Closed,
}

/// Everything a connection needs to reach a live session; cheap to clone.
#[derive(Clone)]
pub struct SessionHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    code: String,
    created_ms: u64,
    clock: Clock,
    /// Replaced by an edit of the texts. The lock is only held to clone the `Arc`,
    /// never across an `.await`.
    deck: std::sync::RwLock<Arc<Deck>>,
    meeting: Meeting,
    notice: watch::Sender<Notice>,
    /// The connection of each card's participant that holds its seat.
    seats: Arc<Seats>,
    host_key: Key,
    screen_key: Key,
    tx: mpsc::Sender<Request>,
    participant: watch::Receiver<Published>,
    screen: watch::Receiver<Published>,
    host: watch::Receiver<Published>,
}

impl SessionHandle {
    /// The join code.
    pub fn code(&self) -> &str {
        &self.inner.code
    }

    /// The session's clock, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The deck (as last edited).
    pub fn deck(&self) -> Arc<Deck> {
        // A poisoned lock only means a panic while cloning; the value is whole.
        self.inner
            .deck
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The meeting the console gave for the report.
    pub fn meeting(&self) -> &Meeting {
        &self.inner.meeting
    }

    /// When the session was created, in milliseconds since the Unix epoch.
    pub fn created_ms(&self) -> u64 {
        self.inner.created_ms
    }

    /// What the session tells its connections besides its views.
    pub fn notices(&self) -> watch::Receiver<Notice> {
        self.inner.notice.subscribe()
    }

    /// The current notice.
    pub fn notice(&self) -> Notice {
        *self.inner.notice.borrow()
    }

    /// The host key (to print the host URL; never log it).
    pub fn host_key(&self) -> &Key {
        &self.inner.host_key
    }

    /// The screen key (to print the screen URL; never log it).
    pub fn screen_key(&self) -> &Key {
        &self.inner.screen_key
    }

    /// The role a presented key grants: host, screen, or `None` for a wrong key.
    /// No key (or an empty one) is a participant.
    pub fn role_for(&self, key: Option<&str>) -> Option<Role> {
        match key {
            None | Some("") => Some(Role::Participant),
            Some(k) if self.inner.host_key.matches(k) => Some(Role::Host),
            Some(k) if self.inner.screen_key.matches(k) => Some(Role::Screen),
            Some(_) => None,
        }
    }

    /// A receiver of the serialized view for `role`.
    pub fn subscribe(&self, role: Role) -> watch::Receiver<Published> {
        match role {
            Role::Participant => self.inner.participant.clone(),
            Role::Screen => self.inner.screen.clone(),
            Role::Host => self.inner.host.clone(),
        }
    }

    /// Sends a request to the actor, waiting if its queue is full.
    pub async fn request(&self, request: Request) -> Result<()> {
        self.inner
            .tx
            .send(request)
            .await
            .map_err(|_| anyhow::anyhow!("session {} has stopped", self.inner.code))
    }

    /// The session's report, built by its actor.
    pub async fn report(&self) -> Result<crate::report::Report> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Report { reply }).await?;
        let report = rx
            .await
            .with_context(|| format!("session {} stopped while reporting", self.inner.code))?;
        Ok(with_meeting(report, &self.inner.meeting))
    }

    /// Admits a phone and returns who it is, once that is stored; the inner error
    /// says why not.
    pub async fn join(
        &self,
        participant: Option<ParticipantId>,
    ) -> Result<Result<JoinInfo, NotAdmitted>> {
        self.join_with_card(participant, None).await
    }

    /// Admits a phone that may present a voting card, as typed.
    pub async fn join_with_card(
        &self,
        participant: Option<ParticipantId>,
        card: Option<String>,
    ) -> Result<Result<JoinInfo, NotAdmitted>> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Join {
            participant,
            card,
            reply,
        })
        .await?;
        rx.await
            .with_context(|| format!("session {} stopped while joining", self.inner.code))
    }

    /// Takes the seat of a card's participant for a new connection: an older one
    /// hears that its card is used elsewhere.
    pub fn seat(&self, participant: ParticipantId) -> Seat {
        self.inner.seats.take(participant, self.now_ms())
    }

    /// The seats of the session's card holders on this node.
    pub(crate) fn seats(&self) -> &Arc<Seats> {
        &self.inner.seats
    }

    /// Runs a command that is not a phone's (the console's), and returns once what it
    /// changed is stored; the inner error is the refusal's code.
    pub async fn command(&self, command: Command) -> Result<Result<(), String>> {
        let (outbox, mut answers) = mpsc::unbounded_channel();
        self.request(Request::Command {
            command,
            id: Some(0),
            lang: Lang::En,
            outbox,
        })
        .await?;
        match answers.recv().await {
            Some(ServerMsg::Ok { .. }) => Ok(Ok(())),
            Some(ServerMsg::Error { code, .. }) => Ok(Err(code)),
            Some(_) | None => anyhow::bail!("session {} stopped while asked", self.inner.code),
        }
    }

    /// Whether the session has stored this participant.
    pub async fn knows(&self, participant: ParticipantId) -> Result<bool> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Knows { participant, reply }).await?;
        rx.await
            .with_context(|| format!("session {} stopped while asked", self.inner.code))
    }

    /// Resolves once the session's task has ended (or, for a proxy, its forwarding).
    pub async fn stopped(&self) {
        self.inner.tx.closed().await
    }

    /// Whether the session's task still takes requests.
    fn is_running(&self) -> bool {
        !self.inner.tx.is_closed()
    }

    /// Tells the session's connections its news.
    pub fn set_notice(&self, notice: Notice) {
        self.inner.notice.send_replace(notice);
    }

    /// Ends the session's task once everything it took is stored and answered.
    pub async fn stop(&self) {
        let (done, rx) = oneshot::channel();
        // A task that is gone already has nothing left to store.
        if self.request(Request::Stop { done }).await.is_ok() {
            rx.await.ok();
        }
    }
}

/// Maps the actor's clock onto wall time: events keep Unix milliseconds (they must
/// mean the same after a restart), while waiting uses tokio's clock so tests can pause
/// and advance time.
#[derive(Clone, Copy)]
struct Clock {
    base_ms: u64,
    base: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            base_ms: store::now_ms(),
            base: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.base_ms + self.base.elapsed().as_millis() as u64
    }

    fn instant_at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms.saturating_sub(self.base_ms))
    }
}

/// Where a session's events are stored: the local database, or (in cluster mode) the
/// session's log in JetStream.
#[derive(Clone)]
enum Log {
    Local(Store),
    Cluster(LogWriter),
}

impl Log {
    fn append(
        &self,
        code: &str,
        epoch: u64,
        events: Vec<Event>,
        done: store::Completion,
    ) -> Result<()> {
        match self {
            Log::Local(store) => store.append(code, epoch, events, done),
            Log::Cluster(writer) => writer.append(epoch, events, done),
        }
    }
}

/// All live sessions, by join code.
pub struct Hub {
    sessions: DashMap<String, SessionHandle>,
    /// Codes handed to sessions that are being stored, not yet live: a second create
    /// in that moment must not pick the same code. The lock is never held across an
    /// `.await`.
    reserved: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Open sessions that are stored but not loaded: each is loaded when first asked
    /// for. The lock is never held across an `.await`.
    dormant: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Loading, closing, deleting and editing a session one at a time, so a session is
    /// never loaded twice or loaded while it closes.
    lifecycle: tokio::sync::Mutex<()>,
    store: Store,
    base_url: String,
    /// In cluster mode, the connection to NATS: sessions live there, not in `store`.
    cluster: Option<Arc<Cluster>>,
    /// The console's decks and settings: in `store`, or in the cluster.
    library: Library,
    /// In cluster mode, each session's cards as read from its log, with the sequence
    /// read up to: the next read goes on from there.
    cards: DashMap<String, (u64, crate::cards::Cards)>,
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
    /// In cluster mode a running session's deck is not edited.
    Clustered,
}

impl Hub {
    /// A hub with no sessions; `base_url` (e.g. `http://192.168.1.20:8080`) is what
    /// participant URLs start with.
    pub fn new(store: Store, base_url: String) -> Self {
        Hub {
            sessions: DashMap::new(),
            reserved: Default::default(),
            dormant: Default::default(),
            lifecycle: Default::default(),
            library: Library::Local(store.clone()),
            cards: DashMap::new(),
            store,
            base_url: base_url.trim_end_matches('/').to_owned(),
            cluster: None,
        }
    }

    /// A hub whose sessions live in a NATS cluster (see [`crate::cluster`]); `store`
    /// keeps only the console's decks and settings.
    pub fn clustered(store: Store, base_url: String, cluster: Arc<Cluster>) -> Self {
        Hub {
            library: Library::Cluster(cluster.clone()),
            cluster: Some(cluster),
            ..Hub::new(store, base_url)
        }
    }

    /// The console's decks and settings.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// A session's voting cards as stored (a session need not be loaded for its list
    /// entry or its printed cards). In cluster mode they are read from its log, each
    /// read going on from where the last ended.
    pub async fn cards(&self, code: &str) -> Result<crate::cards::Cards> {
        let Some(cluster) = &self.cluster else {
            return self.store.cards(code);
        };
        let (after, mut cards) = self
            .cards
            .get(code)
            .map(|read| read.value().clone())
            .unwrap_or_default();
        let (events, last) = cluster.read_log_after(code, after).await?;
        for event in &events {
            cards.apply(event);
        }
        self.cards.insert(code.to_owned(), (last, cards.clone()));
        Ok(cards)
    }

    /// The store the sessions write to.
    pub fn store(&self) -> &Store {
        &self.store
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

    /// Finds a loaded session; codes are case-insensitive. A session whose task ended
    /// without being unloaded (in cluster mode: another node took it over, or its owner
    /// went away) is not found, so the next [`Hub::find`] attaches it again.
    pub fn get(&self, code: &str) -> Option<SessionHandle> {
        self.sessions
            .get(&normalize(code))
            .map(|h| h.value().clone())
            .filter(SessionHandle::is_running)
    }

    /// Finds an open session, loading it from the store if this is its first use since
    /// the start.
    pub async fn find(&self, code: &str) -> Result<Option<SessionHandle>> {
        if let Some(handle) = self.get(code) {
            return Ok(Some(handle));
        }
        let code = normalize(code);
        if let Some(cluster) = &self.cluster {
            // A code no session can have, or one the catalog does not hold (a typo, a
            // guess), is answered without NATS or without waiting for other attaches.
            if !could_be_code(&code) {
                return Ok(None);
            }
            match cluster.record(&code).await? {
                Some(record) if record.status == Status::Open => {}
                _ => return Ok(None),
            }
            let _one_at_a_time = self.lifecycle.lock().await;
            return self.attach(cluster, &code).await;
        }
        if !self.is_dormant(&code) {
            return Ok(None);
        }
        let _one_at_a_time = self.lifecycle.lock().await;
        self.load(&code).await
    }

    /// Serves a session of the cluster on this node, as its owner or through a proxy
    /// (the caller holds `lifecycle`).
    async fn attach(&self, cluster: &Arc<Cluster>, code: &str) -> Result<Option<SessionHandle>> {
        if let Some(handle) = self.get(code) {
            return Ok(Some(handle));
        }
        // Read again under the lock: the session may have closed while this waited.
        let record = match cluster.record(code).await? {
            Some(record) if record.status == Status::Open => record,
            _ => return Ok(None),
        };
        let handle = match cluster.attach(code).await? {
            Attached::Owner {
                stored,
                last,
                revision,
            } => {
                let events = stored.events.len();
                let writer = LogWriter::start(cluster, code, revision, last);
                let handle = self.restore(*stored, Log::Cluster(writer.clone()))?;
                tokio::spawn(cluster::serve_owned(
                    cluster.clone(),
                    handle.clone(),
                    writer,
                    revision,
                ));
                tracing::info!(
                    code,
                    events,
                    node = cluster.node(),
                    "this node owns the session"
                );
                handle
            }
            Attached::Proxy(views) => {
                // The record read above: in cluster mode a running session's deck is
                // never edited.
                let deck = crate::deck::parse(&record.deck_name, &record.deck_source)
                    .with_context(|| format!("the stored deck of session {code}"))?;
                let (tx, requests) = mpsc::channel(COMMAND_QUEUE);
                let [p, s, h] = *views;
                let (participant_tx, participant_rx) = watch::channel(p);
                let (screen_tx, screen_rx) = watch::channel(s);
                let (host_tx, host_rx) = watch::channel(h);
                let handle = SessionHandle {
                    inner: Arc::new(HandleInner {
                        code: code.to_owned(),
                        created_ms: record.created_ms,
                        clock: Clock::new(),
                        deck: std::sync::RwLock::new(Arc::new(deck)),
                        meeting: record.meeting.clone(),
                        notice: watch::channel(Notice::Running).0,
                        seats: Arc::default(),
                        host_key: Key(record.host_key.clone()),
                        screen_key: Key(record.screen_key.clone()),
                        tx,
                        participant: participant_rx,
                        screen: screen_rx,
                        host: host_rx,
                    }),
                };
                let parts = ProxyParts {
                    requests,
                    views: [participant_tx, screen_tx, host_tx],
                };
                tokio::spawn(cluster::run_proxy(cluster.clone(), handle.clone(), parts));
                tracing::info!(
                    code,
                    node = cluster.node(),
                    "this node serves the session through its owner"
                );
                handle
            }
        };
        self.sessions.insert(code.to_owned(), handle.clone());
        Ok(Some(handle))
    }

    fn is_dormant(&self, code: &str) -> bool {
        self.dormant
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(code)
    }

    fn set_dormant(&self, code: &str, dormant: bool) {
        let mut set = self.dormant.lock().unwrap_or_else(|p| p.into_inner());
        if dormant {
            set.insert(code.to_owned());
        } else {
            set.remove(code);
        }
    }

    /// Loads a dormant session (the caller holds `lifecycle`).
    async fn load(&self, code: &str) -> Result<Option<SessionHandle>> {
        if let Some(handle) = self.get(code) {
            return Ok(Some(handle));
        }
        if !self.is_dormant(code) {
            return Ok(None);
        }
        let store = self.store.clone();
        let wanted = code.to_owned();
        let stored = tokio::task::spawn_blocking(move || store.load(&wanted))
            .await
            .context("loading a session")??;
        let Some(stored) = stored.filter(|s| s.record.status == Status::Open) else {
            self.set_dormant(code, false);
            return Ok(None);
        };
        let events = stored.events.len();
        let handle = self.restore(stored, Log::Local(self.store.clone()))?;
        self.set_dormant(code, false);
        tracing::info!(code, events, "session loaded");
        Ok(Some(handle))
    }

    /// Takes note of every open stored session, to be loaded when first used; returns
    /// their codes.
    pub fn restore_open(&self) -> Result<Vec<String>> {
        if self.cluster.is_some() {
            // In cluster mode every node finds every session in the catalog when asked.
            return Ok(vec![]);
        }
        let codes = self.store.open_codes()?;
        for code in &codes {
            self.set_dormant(code, true);
        }
        Ok(codes)
    }

    fn restore(&self, stored: StoredSession, log: Log) -> Result<SessionHandle> {
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
        Ok(self.spawn(
            record.code,
            record.created_ms,
            record.meeting,
            Key(record.host_key),
            Key(record.screen_key),
            session,
            log,
        ))
    }

    /// A session's record, open or closed: from the store, or in cluster mode from
    /// the catalog.
    pub async fn record(&self, code: &str) -> Result<Option<SessionRecord>> {
        let code = normalize(code);
        match &self.cluster {
            Some(_) if !could_be_code(&code) => Ok(None),
            Some(cluster) => cluster.record(&code).await,
            None => self.store.record(&code),
        }
    }

    /// Every session's record, newest first.
    pub async fn records(&self) -> Result<Vec<SessionRecord>> {
        match &self.cluster {
            Some(cluster) => cluster.records().await,
            None => self.store.records(),
        }
    }

    /// Waits until everything queued is stored, then folds the WAL into the database.
    pub async fn checkpoint(&self) -> Result<()> {
        self.store.checkpoint().await
    }

    /// Stops every session: each stores and answers what it took, then its connections
    /// close. Returns when all have, or after `within`.
    pub async fn stop_all(&self, within: Duration) {
        let handles: Vec<SessionHandle> = self.sessions.iter().map(|h| h.value().clone()).collect();
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
    /// `deck_id`), for a meeting.
    pub async fn create_for(
        &self,
        deck: Arc<Deck>,
        deck_source: &str,
        meeting: Meeting,
        deck_id: Option<i64>,
    ) -> Result<SessionHandle> {
        let reservation = self.reserve_code();
        let code = reservation.code.clone();
        let (host_key, screen_key) = (Key::generate(), Key::generate());
        let created_ms = store::now_ms();
        let record = SessionRecord {
            code: code.clone(),
            deck_name: deck.source_name.clone(),
            deck_source: deck_source.to_owned(),
            host_key: host_key.expose().to_owned(),
            screen_key: screen_key.expose().to_owned(),
            created_ms,
            meeting: meeting.clone(),
            deck_id,
            ..SessionRecord::default()
        };
        if let Some(cluster) = &self.cluster {
            return self.create_in_cluster(cluster, record, deck).await;
        }
        self.store
            .create(record)
            .await
            .with_context(|| format!("storing new session {code}"))?;
        let handle = self.spawn(
            code,
            created_ms,
            meeting,
            host_key,
            screen_key,
            Session::new(deck),
            Log::Local(self.store.clone()),
        );
        drop(reservation);
        Ok(handle)
    }

    /// Stores a new session in the cluster (its log first, then its record, so no node
    /// finds a record without a log) and runs it here, as its owner.
    async fn create_in_cluster(
        &self,
        cluster: &Arc<Cluster>,
        mut record: SessionRecord,
        deck: Arc<Deck>,
    ) -> Result<SessionHandle> {
        // A code another node took in the meantime is drawn again.
        loop {
            cluster.create_log(&record.code).await?;
            if cluster.create_record(&record).await? {
                break;
            }
            let reservation = self.reserve_code();
            record.code = reservation.code.clone();
        }
        let code = record.code.clone();
        let revision = match cluster.claim(&code).await? {
            cluster::Claim::Owner(revision) => revision,
            cluster::Claim::Held => anyhow::bail!("session {code} was claimed before it started"),
        };
        let writer = LogWriter::start(cluster, &code, revision, 0);
        let handle = self.spawn(
            code.clone(),
            record.created_ms,
            record.meeting,
            Key(record.host_key),
            Key(record.screen_key),
            Session::new(deck),
            Log::Cluster(writer.clone()),
        );
        tokio::spawn(cluster::serve_owned(
            cluster.clone(),
            handle.clone(),
            writer,
            revision,
        ));
        Ok(handle)
    }

    /// A code no live session has and no other create holds; released when dropped.
    fn reserve_code(&self) -> Reservation<'_> {
        // A poisoned lock only means another create panicked; the set is still valid.
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        let code = loop {
            let code = generate_code();
            if !self.sessions.contains_key(&code)
                && !reserved.contains(&code)
                && !self.is_dormant(&code)
                && !matches!(self.store.record(&code), Ok(Some(_)))
            {
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
            let records = match &self.cluster {
                Some(cluster) => cluster.records().await?,
                None => self.store.records()?,
            };
            let newest = records
                .into_iter()
                .find(|r| r.status == Status::Open && r.deck_name == deck.source_name);
            if let Some(record) = newest {
                let code = record.code.clone();
                let stored = crate::deck::parse(&record.deck_name, &record.deck_source)
                    .with_context(|| format!("the stored deck of session {code}"))?;
                if stored == *deck {
                    if let Some(handle) = self.find(&code).await? {
                        return Ok((handle, Opened::Resumed));
                    }
                } else if self.cluster.is_none() {
                    match self
                        .replace_deck(&code, deck.clone(), deck_source, record.deck_id)
                        .await?
                    {
                        Ok(handle) => return Ok((handle, Opened::Edited)),
                        Err(Refused::Structure(change)) => tracing::warn!(
                            "{} changed since session {code} started ({}): starting a new session",
                            deck.source_name,
                            change.describe(true)
                        ),
                        Err(_) => {}
                    }
                }
            }
            // Of cluster nodes starting at once on this deck, one starts the session;
            // the others find it in the catalog once it is there.
            let Some(cluster) = &self.cluster else { break };
            let digest = crate::cluster::console::digest(deck_source.as_bytes());
            if cluster.claim_start(&digest).await? || started.elapsed() > cluster::LEASE_TTL * 10 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok((self.create(deck, deck_source).await?, Opened::New))
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
        if self.cluster.is_some() {
            return Ok(Err(Refused::Clustered));
        }
        let _one_at_a_time = self.lifecycle.lock().await;
        let code = normalize(code);
        let Some(handle) = self.load(&code).await? else {
            return Ok(Err(self.why_not_open(&code)?));
        };
        if let Some(change) = handle.deck().structure_change(&deck) {
            return Ok(Err(Refused::Structure(change)));
        }
        let (name, source, id) = (deck.source_name.clone(), deck_source.to_owned(), deck_id);
        let stored_code = code.clone();
        self.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE sessions SET deck_name = ?1, deck_source = ?2,
                         deck_id = COALESCE(?3, deck_id)
                     WHERE code = ?4",
                    rusqlite::params![name, source, id, stored_code],
                )
            })
            .await
            .with_context(|| format!("storing the edited deck of session {code}"))?;
        *handle.inner.deck.write().unwrap_or_else(|p| p.into_inner()) = deck.clone();
        handle.request(Request::ReplaceDeck { deck }).await?;
        handle.inner.notice.send_modify(|notice| {
            let edits = match notice {
                Notice::DeckEdited(n) => *n + 1,
                _ => 1,
            };
            *notice = Notice::DeckEdited(edits);
        });
        tracing::info!(code, "the deck's texts were edited; the session goes on");
        Ok(Ok(handle))
    }

    /// Closes an open session: it takes no more votes, stores what it took, its
    /// connections close with "session closed", and it leaves memory; its record and
    /// events stay for the report. Returns the stored record, or why not.
    pub async fn close(&self, code: &str) -> Result<Result<SessionRecord, Refused>> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let code = normalize(code);
        if let Some(cluster) = &self.cluster {
            return self.close_in_cluster(cluster, &code).await;
        }
        let Some(record) = self.store.record(&code)? else {
            return Ok(Err(Refused::Unknown));
        };
        if record.status == Status::Closed {
            return Ok(Ok(record));
        }
        // Stored first: if the disk refuses, nothing changes and the room goes on.
        // Votes taken between this write and the stop below are stored and counted.
        let closed_ms = self.store_closed(&code).await?;
        self.unload(&code).await;
        tracing::info!(code, "session closed");
        Ok(Ok(SessionRecord {
            status: Status::Closed,
            closed_ms: Some(closed_ms),
            ..record
        }))
    }

    /// Closes a session of the cluster: the record first, then every node hears it
    /// (the owner stops after storing what it took, the proxies follow).
    async fn close_in_cluster(
        &self,
        cluster: &Arc<Cluster>,
        code: &str,
    ) -> Result<Result<SessionRecord, Refused>> {
        let Some(record) = cluster.record(code).await? else {
            return Ok(Err(Refused::Unknown));
        };
        if record.status == Status::Closed {
            return Ok(Ok(record));
        }
        let closed = SessionRecord {
            status: Status::Closed,
            closed_ms: Some(store::now_ms()),
            ..record
        };
        cluster.put_record(&closed).await?;
        cluster.announce(code, Notice::Closed).await?;
        self.unload(code).await;
        tracing::info!(code, "session closed");
        Ok(Ok(closed))
    }

    /// Deletes a session, open or closed, with every vote: gone from the database file
    /// and its WAL (in cluster mode: its log and record). Returns `false` if there was
    /// none.
    pub async fn delete(&self, code: &str) -> Result<bool> {
        if let Some(cluster) = &self.cluster {
            let code = normalize(code);
            if self.close(&code).await?.is_err() {
                return Ok(false);
            }
            let _one_at_a_time = self.lifecycle.lock().await;
            cluster.delete_session(&code).await?;
            self.cards.remove(&code);
            tracing::info!(code, "session deleted");
            return Ok(true);
        }
        let _one_at_a_time = self.lifecycle.lock().await;
        let code = normalize(code);
        let Some(record) = self.store.record(&code)? else {
            return Ok(false);
        };
        // Closed first, as by `close`: a delete that then fails leaves a closed session,
        // never one whose pages were told it closed while it still takes votes.
        if record.status == Status::Open {
            self.store_closed(&code).await?;
        }
        self.unload(&code).await;
        self.store
            .delete_everywhere(&code)
            .await
            .with_context(|| format!("deleting session {code}"))?;
        tracing::info!(code, "session deleted");
        Ok(true)
    }

    /// Stores that a session is closed; returns when.
    async fn store_closed(&self, code: &str) -> Result<u64> {
        let closed_ms = store::now_ms();
        let stored_code = code.to_owned();
        self.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE sessions SET status = 'closed', closed_ms = ?1 WHERE code = ?2",
                    rusqlite::params![closed_ms as i64, stored_code],
                )
            })
            .await
            .with_context(|| format!("closing session {code}"))?;
        Ok(closed_ms)
    }

    /// Stops a loaded session (its connections hear "session closed") and forgets it.
    async fn unload(&self, code: &str) {
        self.set_dormant(code, false);
        if let Some(handle) = self.get(code) {
            handle.inner.notice.send_replace(Notice::Closed);
            handle.stop().await;
            self.sessions.remove(code);
        }
    }

    fn why_not_open(&self, code: &str) -> Result<Refused> {
        Ok(match self.store.record(code)? {
            Some(r) if r.status == Status::Closed => Refused::Closed,
            _ => Refused::Unknown,
        })
    }

    /// The report of a session, open or closed.
    pub async fn report(&self, code: &str) -> Result<Option<crate::report::Report>> {
        if let Some(handle) = self.find(code).await? {
            match handle.report().await {
                Ok(report) => return Ok(Some(report)),
                // In cluster mode the session may move to another node meanwhile; its
                // log has everything acknowledged.
                Err(e) if self.cluster.is_some() => {
                    tracing::debug!("the session moved while reporting: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(cluster) = &self.cluster {
            return cluster::report_from_log(cluster, &normalize(code)).await;
        }
        let store = self.store.clone();
        let code = normalize(code);
        tokio::task::spawn_blocking(move || {
            let Some(stored) = store.load(&code)? else {
                return Ok(None);
            };
            let (session, _) = stored.replay()?;
            let report = crate::report::build(&session, &code);
            Ok(Some(with_meeting(report, &stored.record.meeting)))
        })
        .await
        .context("building a report")?
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        code: String,
        created_ms: u64,
        meeting: Meeting,
        host_key: Key,
        screen_key: Key,
        session: Session,
        log: Log,
    ) -> SessionHandle {
        let clock = Clock::new();
        let now = clock.now_ms();
        let view = |role| Published::state(serialize(&view::state(&session, role, now)));
        let (participant_tx, participant_rx) = watch::channel(view(Role::Participant));
        let (screen_tx, screen_rx) = watch::channel(view(Role::Screen));
        let (host_tx, host_rx) = watch::channel(view(Role::Host));
        let mut phones = view::PhoneArguments::default();
        phones.sent_state(&session);
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let handle = SessionHandle {
            inner: Arc::new(HandleInner {
                code: code.clone(),
                created_ms,
                clock,
                deck: std::sync::RwLock::new(session.deck().clone()),
                meeting,
                notice: watch::channel(Notice::Running).0,
                seats: Arc::default(),
                host_key,
                screen_key,
                tx,
                participant: participant_rx,
                screen: screen_rx,
                host: host_rx,
            }),
        };
        let (outcome_tx, outcome_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            code: code.clone(),
            stored: session.clone(),
            live: session,
            epoch: 0,
            in_flight: VecDeque::new(),
            outcomes: outcome_tx,
            storage_failing: false,
            retry_at: Instant::now(),
            log,
            publishers: Publishers {
                participant: participant_tx,
                screen: screen_tx,
                host: host_tx,
            },
            clock,
            stage_dirty: false,
            counts_dirty: false,
            arguments_dirty: false,
            upvotes_dirty: false,
            phones,
        };
        tokio::spawn(actor.run(rx, outcome_rx));
        self.sessions.insert(code, handle.clone());
        handle
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

/// Whether a normalized code is one [`generate_code`] could have made. In cluster mode
/// a code becomes a key and a subject in NATS, so nothing else gets that far.
fn could_be_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))
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

/// The task that owns one session.
///
/// It keeps the session twice. `live` is what commands are decided on: every event
/// taken, stored or on its way to the store. `stored` has only the events the store has
/// committed, and it is all anyone sees: views, reports, the answers to a phone. So
/// nothing is shown or acknowledged before it is on disk. When a write fails, `live`
/// starts again from `stored` in a new epoch, and the store refuses the rest of the
/// old epoch (decided on top of the lost events).
struct Actor {
    code: String,
    live: Session,
    stored: Session,
    epoch: u64,
    /// Appends sent to the store, oldest first; outcomes return in the same order.
    in_flight: VecDeque<InFlight>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    /// The last write of this session failed.
    storage_failing: bool,
    /// No countdown ends before this (see [`STORAGE_RETRY`]).
    retry_at: Instant,
    log: Log,
    publishers: Publishers,
    clock: Clock,
    /// Something every client sees changed since the last publish.
    stage_dirty: bool,
    /// Only counts (seen by host and screen) changed since the last publish.
    counts_dirty: bool,
    /// Arguments changed: phones need a new state if their list did.
    arguments_dirty: bool,
    /// Upvotes changed since phones last heard them.
    upvotes_dirty: bool,
    /// What phones were last sent of the listed arguments.
    phones: view::PhoneArguments,
}

/// Events on their way to the store, and who hears once they are stored.
struct InFlight {
    epoch: u64,
    events: Vec<Event>,
    replies: Vec<Reply>,
}

/// The store's word on the oldest [`InFlight`].
type Outcome = Result<(), WriteFailed>;

/// An answer that waits for the store.
enum Reply {
    /// An `ack` or `ok` to a connection; on failure an error with the message's id.
    Done {
        outbox: Outbox,
        msg: ServerMsg,
        id: u64,
        lang: Lang,
    },
    /// A phone's admission.
    Join {
        participant: ParticipantId,
        reply: oneshot::Sender<Result<JoinInfo, NotAdmitted>>,
    },
}

impl Actor {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Request>,
        mut outcomes: mpsc::UnboundedReceiver<Outcome>,
    ) {
        let mut tick = tokio::time::interval(SNAPSHOT_TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first upvote after a quiet spell goes out at once; the rest of a stream
        // of them once a tick.
        let mut upvotes_tick = tokio::time::interval(UPVOTES_TICK);
        upvotes_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stopping: Vec<oneshot::Sender<()>> = vec![];
        loop {
            if !stopping.is_empty() && self.in_flight.is_empty() {
                break;
            }
            // A countdown runs once it is stored, like everything else the room sees, and
            // ends once: not again while its end is on its way to the store, and after a
            // failed write only once a second, so a full disk is not hammered.
            let timer_at = self
                .stored
                .timer()
                .filter(|_| self.live.timer().is_some())
                .map(|t| self.clock.instant_at(t.ends_at_ms).max(self.retry_at));
            tokio::select! {
                // Outcomes first: they free answers and memory that requests pile up.
                biased;
                Some(outcome) = outcomes.recv() => self.on_outcome(outcome),
                request = rx.recv(), if stopping.is_empty() => match request {
                    Some(Request::Stop { done }) => {
                        // Requests queued behind the stop are dropped with the channel;
                        // their senders hear that the session stopped.
                        rx.close();
                        stopping.push(done);
                    }
                    Some(request) => self.handle(request),
                    None => break,
                },
                _ = tick.tick(), if self.stage_dirty || self.counts_dirty => self.publish(),
                _ = upvotes_tick.tick(), if self.upvotes_dirty => self.publish_upvotes(),
                _ = sleep_until_some(timer_at) => {
                    let now_ms = self.clock.now_ms();
                    self.run_command(Command::TimerExpired { now_ms }, None, Lang::Nl, None);
                }
            }
        }
        if self.stage_dirty || self.counts_dirty {
            self.publish();
        }
        if self.upvotes_dirty {
            self.publish_upvotes();
        }
        for done in stopping {
            // The stopper may have given up waiting.
            done.send(()).ok();
        }
        tracing::info!(code = %self.code, "session actor stopped");
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Join {
                participant,
                card,
                reply,
            } => {
                let fresh = Uuid::new_v4();
                let admitted = match card.filter(|_| self.live.cards().required()) {
                    Some(typed) => self.live.card_participant(&typed, participant, fresh).map(
                        |(participant, card)| (participant, Command::UseCard { card, participant }),
                    ),
                    None => {
                        let participant = participant.unwrap_or(fresh);
                        Ok((participant, Command::Join { participant }))
                    }
                };
                match admitted.and_then(|(p, command)| Ok((p, self.live.apply(command)?))) {
                    Ok((participant, events)) => {
                        self.submit(events, Reply::Join { participant, reply })
                    }
                    Err(rejection) => {
                        // The connection may have gone while waiting; then nobody needs it.
                        reply.send(Err(NotAdmitted::Refused(rejection))).ok();
                    }
                }
            }
            Request::Command {
                command,
                id,
                lang,
                outbox,
            } => self.run_command(command, id, lang, Some(outbox)),
            Request::Knows { participant, reply } => {
                // The connection may have gone while waiting; then nobody needs it.
                reply.send(self.stored.has_participant(&participant)).ok();
            }
            Request::Report { reply } => {
                // The requester may have given up waiting; then nobody needs it.
                reply
                    .send(crate::report::build(&self.stored, &self.code))
                    .ok();
            }
            Request::ReplaceDeck { deck } => {
                self.live.replace_deck(deck.clone());
                self.stored.replace_deck(deck);
                self.stage_dirty = true;
                self.publish();
            }
            Request::Stop { .. } => unreachable!("handled in run"),
        }
    }

    fn run_command(
        &mut self,
        command: Command,
        id: Option<u64>,
        lang: Lang,
        outbox: Option<Outbox>,
    ) {
        let answer = match (&command, id) {
            (
                Command::Vote {
                    slide,
                    round,
                    option,
                    ..
                },
                Some(id),
            ) => Some(ServerMsg::Ack {
                id,
                slide: *slide,
                round: *round,
                option: *option,
            }),
            (_, Some(id)) => Some(ServerMsg::Ok { id }),
            (_, None) => None,
        };
        let argue = matches!(command, Command::Argue { .. });
        match self.live.apply(command) {
            Ok(events) => {
                // An argument's answer names the number it was given.
                let answer = match (argue, answer) {
                    (true, Some(ServerMsg::Ok { id })) => events.iter().find_map(|e| match e {
                        Event::ArgumentAdded {
                            argument,
                            slide,
                            option,
                            ..
                        } => Some(ServerMsg::Argued {
                            id,
                            slide: *slide,
                            argument: *argument,
                            option: *option,
                        }),
                        _ => None,
                    }),
                    (_, answer) => answer,
                };
                let reply = match (outbox, answer, id) {
                    (Some(outbox), Some(msg), Some(id)) => Some(Reply::Done {
                        outbox,
                        msg,
                        id,
                        lang,
                    }),
                    _ => None,
                };
                match reply {
                    Some(reply) => self.submit(events, reply),
                    None if events.is_empty() => {}
                    None => self.send_to_store(events, vec![]),
                }
            }
            Err(rejection) => {
                if let Some(outbox) = outbox {
                    let msg = ServerMsg::error(rejection.code(), lang, id);
                    // A closed outbox means the connection is gone; nobody to tell.
                    outbox.send(msg).ok();
                }
            }
        }
    }

    /// Stores `events` and answers `reply` once they are stored. With no events the
    /// answer waits for the writes of this epoch still on their way: a repeated vote
    /// whose first copy is not yet stored is acknowledged only after that copy.
    fn submit(&mut self, events: Vec<Event>, reply: Reply) {
        if !events.is_empty() {
            return self.send_to_store(events, vec![reply]);
        }
        match self.in_flight.back_mut() {
            Some(last) if last.epoch == self.epoch => last.replies.push(reply),
            // Nothing of this epoch is on its way, so `live` is what is stored.
            _ => self.answer(reply, Ok(())),
        }
    }

    fn send_to_store(&mut self, events: Vec<Event>, replies: Vec<Reply>) {
        let outcomes = self.outcomes.clone();
        let sent = self.log.append(
            &self.code,
            self.epoch,
            events.clone(),
            Box::new(move |outcome| {
                // The actor is gone only when the session stopped; then nobody waits.
                outcomes.send(outcome).ok();
            }),
        );
        let in_flight = InFlight {
            epoch: self.epoch,
            events,
            replies,
        };
        match sent {
            Ok(()) => self.in_flight.push_back(in_flight),
            // The writer thread is gone: nothing will be stored again.
            Err(e) => self.fail(
                in_flight,
                WriteFailed {
                    reason: format!("{e:#}"),
                },
            ),
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        let Some(done) = self.in_flight.pop_front() else {
            tracing::error!(code = %self.code, "a store outcome for nothing in flight");
            return;
        };
        match outcome {
            Ok(()) => {
                for event in &done.events {
                    match event.reach() {
                        Reach::Stage => self.stage_dirty = true,
                        Reach::Counts => self.counts_dirty = true,
                        Reach::Arguments => self.arguments_dirty = true,
                        Reach::Upvote => self.upvotes_dirty = true,
                    }
                    self.stored
                        .replay(event)
                        .expect("an event decided on the live session fits the stored one");
                }
                if std::mem::take(&mut self.arguments_dirty) {
                    // The host sees every argument; phones and the screen the listed
                    // ones, which a pending argument does not change.
                    self.counts_dirty = true;
                    if self.phones.list_changed(&self.stored) {
                        self.stage_dirty = true;
                    }
                }
                if self.upvotes_dirty {
                    self.counts_dirty = true;
                }
                if self.storage_failing {
                    self.storage_failing = false;
                    self.stage_dirty = true;
                }
                // A slide or phase change (rare, from the host) goes out at once; votes
                // wait for the tick, which bounds messages per second in a burst.
                if self.stage_dirty {
                    self.publish();
                }
                for reply in done.replies {
                    self.answer(reply, Ok(()));
                }
            }
            Err(failed) => self.fail(done, failed),
        }
    }

    /// A write failed: its answers are refusals, and if it is the first failure of
    /// this epoch, `live` starts over from what is stored.
    fn fail(&mut self, done: InFlight, failed: WriteFailed) {
        if done.epoch == self.epoch {
            self.live = self.stored.clone();
            self.epoch += 1;
            self.retry_at = Instant::now() + STORAGE_RETRY;
        }
        if !self.storage_failing {
            tracing::error!(code = %self.code, "{failed}; changes are refused, the session goes on from what is stored");
            self.storage_failing = true;
            self.stage_dirty = true;
        }
        for reply in done.replies {
            self.answer(reply, Err(failed.clone()));
        }
    }

    fn answer(&self, reply: Reply, outcome: Result<(), WriteFailed>) {
        match (reply, outcome) {
            (Reply::Done { outbox, msg, .. }, Ok(())) => {
                // A phone that left before its ack resends the vote when it is back.
                outbox.send(msg).ok();
            }
            (
                Reply::Done {
                    outbox, id, lang, ..
                },
                Err(_),
            ) => {
                outbox
                    .send(ServerMsg::error("storage_unavailable", lang, Some(id)))
                    .ok();
            }
            (Reply::Join { participant, reply }, outcome) => {
                let info = outcome.map_err(NotAdmitted::Storage).map(|()| JoinInfo {
                    participant,
                    group: self.stored.group_of(&participant).map(str::to_owned),
                    votes: view::own_votes(&self.stored, &participant),
                    arguments: view::own_arguments(&self.stored, &participant),
                    upvoted: self.stored.arguments().upvoted_by(&participant),
                    holds_card: self.stored.cards().card_of(&participant).is_some(),
                });
                // The connection may have gone while waiting; then nobody needs it.
                reply.send(info).ok();
            }
        }
    }

    fn publish(&mut self) {
        let now = self.clock.now_ms();
        if self.stage_dirty {
            let bytes = serialize(&view::state(&self.stored, Role::Participant, now));
            self.phones.sent_state(&self.stored);
            self.publishers
                .participant
                .send_if_modified(|old| old.set_state(bytes));
        }
        // `send_replace` stores the value even with no receiver, so nothing is lost
        // while no screen is connected; the returned old view is not needed.
        self.publishers
            .screen
            .send_replace(Published::state(serialize(&view::state(
                &self.stored,
                Role::Screen,
                now,
            ))));
        let mut host = view::state(&self.stored, Role::Host, now);
        host.storage = Some(if self.storage_failing {
            Storage::Failing
        } else {
            Storage::Ok
        });
        self.publishers
            .host
            .send_replace(Published::state(serialize(&host)));
        self.stage_dirty = false;
        self.counts_dirty = false;
    }

    /// Tells phones the upvotes of their listed arguments: only the counts, or a whole
    /// state where an upvote changed which arguments are listed.
    fn publish_upvotes(&mut self) {
        self.upvotes_dirty = false;
        if self.phones.list_changed(&self.stored) {
            self.stage_dirty = true;
            self.publish();
        } else if let Some(upvotes) = self.phones.upvotes(&self.stored) {
            let bytes =
                Utf8Bytes::from(serde_json::to_string(&upvotes).expect("upvotes serialize"));
            self.publishers
                .participant
                .send_if_modified(|old| old.set_upvotes(bytes));
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn serialize(view: &StateView) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(view).expect("a state view serializes"))
}
