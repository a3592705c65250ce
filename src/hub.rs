//! The live runtime: finds sessions by join code and runs each as one actor task.
//!
//! The actor owns its [`Session`]: commands arrive over a bounded channel, so the vote
//! path takes no lock. Events go to the [`Store`]; a vote is acknowledged from the
//! store's writer once it is committed. What clients see is published through
//! `watch` channels on a short tick, serialized once per role and shared by every
//! connection, so a burst of votes costs one message per client per tick at most and a
//! slow phone holds up only itself.

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

use crate::deck::{self, Deck, SlideKind};
use crate::protocol::{
    Lang, OwnVote, Phase, Role, ServerMsg, SlideKindName, SlideView, StateTag, StateView, TimerView,
};
use crate::session::{Command, ParticipantId, Session};
use crate::store::{self, SessionRecord, Store, StoredSession};

/// How often a session publishes what changed. 50 ms keeps the projector's bars
/// fluid (20 frames a second) while a burst of thousands of votes per second costs
/// each screen and host at most 20 messages a second.
pub const SNAPSHOT_TICK: Duration = Duration::from_millis(50);

/// Commands queued per session before senders wait: enough to absorb a burst of a
/// few thousand votes between two actor wake-ups, small enough to push back on a flood.
pub const COMMAND_QUEUE: usize = 8192;

/// Join codes use letters and digits that cannot be mistaken for each other when read
/// off a projector (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

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
    /// Admit a phone; answers with its id and what it voted before.
    Join {
        /// The id the phone presented, if any.
        participant: Option<ParticipantId>,
        /// Where the answer goes.
        reply: oneshot::Sender<JoinInfo>,
    },
    /// Run a command; refusals go to the outbox, a vote's ack once it is stored.
    Command {
        /// The command (role checks are done by the caller).
        command: Command,
        /// The vote's client message id, for the ack or error.
        vote_id: Option<u64>,
        /// Language for the error message.
        lang: Lang,
        /// The connection to answer.
        outbox: Outbox,
    },
    /// Build the session's report.
    Report {
        /// Where the report goes.
        reply: oneshot::Sender<crate::report::Report>,
    },
}

/// The answer to [`Request::Join`].
#[derive(Debug, Clone)]
pub struct JoinInfo {
    /// The participant's id (new if none or an unknown one was presented).
    pub participant: ParticipantId,
    /// Its group, if chosen.
    pub group: Option<String>,
    /// Its votes in the current round of each statement.
    pub votes: Vec<OwnVote>,
}

/// The serialized views a session publishes, one per role.
struct Publishers {
    participant: watch::Sender<Utf8Bytes>,
    screen: watch::Sender<Utf8Bytes>,
    host: watch::Sender<Utf8Bytes>,
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
    deck: Arc<Deck>,
    host_key: Key,
    screen_key: Key,
    tx: mpsc::Sender<Request>,
    participant: watch::Receiver<Utf8Bytes>,
    screen: watch::Receiver<Utf8Bytes>,
    host: watch::Receiver<Utf8Bytes>,
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

    /// The deck.
    pub fn deck(&self) -> &Arc<Deck> {
        &self.inner.deck
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
    pub fn subscribe(&self, role: Role) -> watch::Receiver<Utf8Bytes> {
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
        rx.await
            .with_context(|| format!("session {} stopped while reporting", self.inner.code))
    }

    /// Admits a phone and returns who it is.
    pub async fn join(&self, participant: Option<ParticipantId>) -> Result<JoinInfo> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Join { participant, reply }).await?;
        rx.await
            .with_context(|| format!("session {} stopped while joining", self.inner.code))
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

/// All live sessions, by join code.
pub struct Hub {
    sessions: DashMap<String, SessionHandle>,
    store: Store,
    base_url: String,
}

impl Hub {
    /// A hub with no sessions; `base_url` (e.g. `http://192.168.1.20:8080`) is what
    /// participant URLs start with.
    pub fn new(store: Store, base_url: String) -> Self {
        Hub {
            sessions: DashMap::new(),
            store,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
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

    /// Finds a live session; codes are case-insensitive.
    pub fn get(&self, code: &str) -> Option<SessionHandle> {
        let code = code.trim().to_ascii_uppercase();
        self.sessions.get(&code).map(|h| h.value().clone())
    }

    /// Rebuilds every stored session by replaying its events; returns their handles.
    pub fn restore_all(&self) -> Result<Vec<SessionHandle>> {
        let stored = self.store.load_all()?;
        stored.into_iter().map(|s| self.restore(s)).collect()
    }

    fn restore(&self, stored: StoredSession) -> Result<SessionHandle> {
        let StoredSession { record, events } = stored;
        let deck = deck::parse(&record.deck_name, &record.deck_source)
            .with_context(|| format!("the stored deck of session {}", record.code))?;
        let mut session = Session::new(Arc::new(deck));
        for event in &events {
            session.replay(event);
        }
        Ok(self.spawn(
            record.code,
            record.created_ms,
            Key(record.host_key),
            Key(record.screen_key),
            session,
        ))
    }

    /// Creates, stores and starts a new session on a deck.
    pub async fn create(&self, deck: Arc<Deck>, deck_source: &str) -> Result<SessionHandle> {
        let code = loop {
            let code = generate_code();
            if !self.sessions.contains_key(&code) {
                break code;
            }
        };
        let (host_key, screen_key) = (Key::generate(), Key::generate());
        let created_ms = store::now_ms();
        self.store
            .create(SessionRecord {
                code: code.clone(),
                deck_name: deck.source_name.clone(),
                deck_source: deck_source.to_owned(),
                host_key: host_key.expose().to_owned(),
                screen_key: screen_key.expose().to_owned(),
                created_ms,
            })
            .await
            .with_context(|| format!("storing new session {code}"))?;
        Ok(self.spawn(code, created_ms, host_key, screen_key, Session::new(deck)))
    }

    /// The newest live session on the same deck, or a new one; with `always_new` a
    /// new one. This keeps a restart of the default deck from piling up sessions.
    pub async fn open_or_reuse(
        &self,
        deck: Arc<Deck>,
        deck_source: &str,
        always_new: bool,
    ) -> Result<(SessionHandle, bool)> {
        if !always_new {
            let newest = self
                .sessions
                .iter()
                .filter(|h| **h.value().deck() == *deck)
                .max_by_key(|h| h.value().inner.created_ms)
                .map(|h| h.value().clone());
            if let Some(handle) = newest {
                return Ok((handle, true));
            }
        }
        Ok((self.create(deck, deck_source).await?, false))
    }

    fn spawn(
        &self,
        code: String,
        created_ms: u64,
        host_key: Key,
        screen_key: Key,
        session: Session,
    ) -> SessionHandle {
        let clock = Clock::new();
        let now = clock.now_ms();
        let (participant_tx, participant_rx) =
            watch::channel(serialize(&view(&session, Role::Participant, now)));
        let (screen_tx, screen_rx) = watch::channel(serialize(&view(&session, Role::Screen, now)));
        let (host_tx, host_rx) = watch::channel(serialize(&view(&session, Role::Host, now)));
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let handle = SessionHandle {
            inner: Arc::new(HandleInner {
                code: code.clone(),
                created_ms,
                clock,
                deck: session.deck().clone(),
                host_key,
                screen_key,
                tx,
                participant: participant_rx,
                screen: screen_rx,
                host: host_rx,
            }),
        };
        let actor = Actor {
            code: code.clone(),
            session,
            store: self.store.clone(),
            publishers: Publishers {
                participant: participant_tx,
                screen: screen_tx,
                host: host_tx,
            },
            clock,
            stage_dirty: false,
            counts_dirty: false,
        };
        tokio::spawn(actor.run(rx));
        self.sessions.insert(code, handle.clone());
        handle
    }
}

fn generate_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// The task that owns one session.
struct Actor {
    code: String,
    session: Session,
    store: Store,
    publishers: Publishers,
    clock: Clock,
    /// Something every client sees changed since the last publish.
    stage_dirty: bool,
    /// Only counts (seen by host and screen) changed since the last publish.
    counts_dirty: bool,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut tick = tokio::time::interval(SNAPSHOT_TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let timer_at = self
                .session
                .timer()
                .map(|t| self.clock.instant_at(t.ends_at_ms));
            tokio::select! {
                request = rx.recv() => match request {
                    Some(request) => self.handle(request),
                    None => break,
                },
                _ = tick.tick(), if self.stage_dirty || self.counts_dirty => self.publish(),
                _ = sleep_until_some(timer_at) => {
                    let now_ms = self.clock.now_ms();
                    self.run_command(Command::TimerExpired { now_ms }, None, Lang::Nl, None);
                }
            }
        }
        tracing::info!(code = %self.code, "session actor stopped");
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Join { participant, reply } => {
                let participant = participant.unwrap_or_else(Uuid::new_v4);
                self.run_command(Command::Join { participant }, None, Lang::Nl, None);
                let info = JoinInfo {
                    participant,
                    group: self.session.group_of(&participant).map(str::to_owned),
                    votes: self
                        .session
                        .votes_of(&participant)
                        .into_iter()
                        .map(|(slide, round, option)| OwnVote {
                            slide,
                            round,
                            option,
                        })
                        .collect(),
                };
                // The connection may have gone while waiting; then nobody needs the answer.
                reply.send(info).ok();
            }
            Request::Command {
                command,
                vote_id,
                lang,
                outbox,
            } => self.run_command(command, vote_id, lang, Some(outbox)),
            Request::Report { reply } => {
                // The requester may have given up waiting; then nobody needs it.
                reply
                    .send(crate::report::build(&self.session, &self.code))
                    .ok();
            }
        }
    }

    fn run_command(
        &mut self,
        command: Command,
        vote_id: Option<u64>,
        lang: Lang,
        outbox: Option<Outbox>,
    ) {
        let ack = match (&command, vote_id, &outbox) {
            (
                Command::Vote {
                    slide,
                    round,
                    option,
                    ..
                },
                Some(id),
                Some(outbox),
            ) => Some((
                outbox.clone(),
                ServerMsg::Ack {
                    id,
                    slide: *slide,
                    round: *round,
                    option: *option,
                },
            )),
            _ => None,
        };
        match self.session.apply(command) {
            Ok(events) => {
                let done = ack.map(|(outbox, msg)| -> Box<dyn FnOnce() + Send> {
                    Box::new(move || {
                        // A phone that left before its ack resends the vote when it is back.
                        outbox.send(msg).ok();
                    })
                });
                for event in &events {
                    if event.changes_stage() {
                        self.stage_dirty = true;
                    } else {
                        self.counts_dirty = true;
                    }
                }
                let stored = if events.is_empty() {
                    match done {
                        Some(done) => self.store.after_pending(done),
                        None => Ok(()),
                    }
                } else {
                    self.store.append(&self.code, events, done)
                };
                if let Err(e) = stored {
                    tracing::error!(code = %self.code, "cannot store events: {e:#}");
                }
            }
            Err(rejection) => {
                if let Some(outbox) = outbox {
                    let msg = ServerMsg::Error {
                        code: rejection.code().to_owned(),
                        message: rejection.message(lang).to_owned(),
                        id: vote_id,
                    };
                    // A closed outbox means the connection is gone; nobody to tell.
                    outbox.send(msg).ok();
                }
            }
        }
    }

    fn publish(&mut self) {
        let now = self.clock.now_ms();
        if self.stage_dirty {
            let bytes = serialize(&view(&self.session, Role::Participant, now));
            self.publishers.participant.send_if_modified(|old| {
                if *old == bytes {
                    false
                } else {
                    *old = bytes;
                    true
                }
            });
        }
        // `send_replace` stores the value even with no receiver, so nothing is lost
        // while no screen is connected; the returned old view is not needed.
        self.publishers
            .screen
            .send_replace(serialize(&view(&self.session, Role::Screen, now)));
        self.publishers
            .host
            .send_replace(serialize(&view(&self.session, Role::Host, now)));
        self.stage_dirty = false;
        self.counts_dirty = false;
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

/// What a role sees of a session right now.
pub fn view(session: &Session, role: Role, now_ms: u64) -> StateView {
    let deck = session.deck();
    let index = session.current();
    let slide = &deck.slides[index];
    let statement = session.statement(index);
    let (kind, options) = match &slide.kind {
        SlideKind::Content => (SlideKindName::Content, vec![]),
        SlideKind::Statement { options } => (SlideKindName::Statement, options.clone()),
    };
    let phase = statement.map(|s| s.phase);
    let show_tally = match role {
        Role::Host => true,
        Role::Screen => session.revealed(),
        Role::Participant => session.revealed() && phase == Some(Phase::Closed),
    };
    let counts_visible = role != Role::Participant;
    StateView {
        kind: StateTag::State,
        slide: SlideView {
            index,
            count: deck.slides.len(),
            kind,
            html: slide.html.clone(),
            options,
            phase,
            round: statement.map(|s| s.round_number()),
        },
        revealed: session.revealed(),
        joined: counts_visible.then(|| session.joined() as u64),
        voted: counts_visible
            .then(|| statement.map(|s| s.current().voted()))
            .flatten(),
        tally: statement
            .filter(|_| show_tally)
            .map(|s| s.current().tally()),
        hands: statement
            .filter(|_| show_tally && role != Role::Participant)
            .filter(|s| s.current().hands.iter().any(|&h| h > 0))
            .map(|s| s.current().hands.clone()),
        timer: session.timer().map(|t| TimerView {
            remaining_ms: t.ends_at_ms.saturating_sub(now_ms),
        }),
    }
}
