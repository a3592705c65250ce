//! A live session as its connections see it: the [`SessionHandle`] they hold, the
//! [`Request`]s they send its actor, and the views and notices they read. An adapter
//! that serves a session through a proxy uses the same types.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::ws::Utf8Bytes;
use rand::Rng;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::ports::{Meeting, SessionRecord, WriteFailed};
use crate::core::deck::Deck;
use crate::core::edits::WordingChange;
use crate::core::session::{Command, ParticipantId, Rejection};
use crate::hub::seats::{Seat, Seats};
use crate::hub::spread::Spread;
use crate::wire::protocol::{Lang, OwnArgument, OwnVote, Role, ServerMsg};

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
    /// Run on an edited deck with the same structure (see [`Deck::structure_change`]),
    /// unless it rewords a statement people voted on (see
    /// [`crate::core::edits::wording_change`]); answers which, then.
    ReplaceDeck {
        /// The edited deck.
        deck: Arc<Deck>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<(), WordingChange>>,
    },
    /// Stop taking commands, wait until everything taken is stored and answered, then
    /// end the session's task (its views close, so its connections end).
    Stop {
        /// Told when the task has ended.
        done: oneshot::Sender<()>,
    },
}

/// A request came after the session stopped taking them: the server is stopping, or
/// the session was closed. A connection then ends the way the session's end says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The session's code.
    pub code: String,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session {} has stopped", self.code)
    }
}

impl std::error::Error for Stopped {}

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
    /// Its questions not removed.
    #[serde(default)]
    pub questions: Vec<crate::wire::protocol::OwnQuestion>,
    /// The questions it upvoted.
    #[serde(default)]
    pub upvoted_questions: Vec<u32>,
}

/// Why a phone was not admitted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum NotAdmitted {
    /// The session refused it: `card_required` or `unknown_card`.
    Refused(Rejection),
    /// The store could not write its joining.
    Storage(WriteFailed),
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
    /// The participant view, in turns for phones' connections.
    phones: Spread,
    screen: watch::Receiver<Published>,
    host: watch::Receiver<Published>,
}

impl SessionHandle {
    /// A handle on the session of `record`, running `deck` (with its clock), whose
    /// requests go to `tx` and whose views are read from `views` (participant, screen,
    /// host).
    pub(super) fn new(
        record: SessionRecord,
        deck: Arc<Deck>,
        clock: Clock,
        tx: mpsc::Sender<Request>,
        views: [watch::Receiver<Published>; 3],
    ) -> SessionHandle {
        let [participant, screen, host] = views;
        SessionHandle {
            inner: Arc::new(HandleInner {
                code: record.code,
                created_ms: record.created_ms,
                clock,
                deck: std::sync::RwLock::new(deck),
                meeting: record.meeting,
                notice: watch::channel(Notice::Running).0,
                seats: Arc::default(),
                host_key: Key(record.host_key),
                screen_key: Key(record.screen_key),
                tx,
                phones: Spread::start(participant.clone()),
                participant,
                screen,
                host,
            }),
        }
    }

    /// Runs the session on an edited deck (same structure) if it keeps the words of
    /// every statement with votes; the pages are told by [`Self::announce_deck`].
    pub(super) async fn swap_deck(&self, deck: Arc<Deck>) -> Result<Result<(), WordingChange>> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::ReplaceDeck { deck, reply }).await?;
        Ok(rx.await.map_err(|_| Stopped {
            code: self.inner.code.clone(),
        })?)
    }

    /// Tells the session's pages that it runs on `deck` now: they reconnect for the
    /// new titles.
    pub(super) fn announce_deck(&self, deck: Arc<Deck>) {
        *self.inner.deck.write().unwrap_or_else(|p| p.into_inner()) = deck;
        self.inner.notice.send_modify(|notice| {
            let edits = match notice {
                Notice::DeckEdited(n) => *n + 1,
                _ => 1,
            };
            *notice = Notice::DeckEdited(edits);
        });
    }

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

    /// A receiver of the serialized view for `role`, as the session publishes it.
    pub fn subscribe(&self, role: Role) -> watch::Receiver<Published> {
        match role {
            Role::Participant => self.inner.participant.clone(),
            Role::Screen => self.inner.screen.clone(),
            Role::Host => self.inner.host.clone(),
        }
    }

    /// A receiver of the serialized view for one connection of `role`: a phone's
    /// hears new counts in its turn within the tick (see [`super::spread`]).
    pub fn subscribe_connection(&self, role: Role) -> watch::Receiver<Published> {
        match role {
            Role::Participant => self.inner.phones.subscribe(),
            Role::Screen => self.inner.screen.clone(),
            Role::Host => self.inner.host.clone(),
        }
    }

    /// Sends a request to the actor, waiting if its queue is full; [`Stopped`] once the
    /// session takes no more requests (the server is stopping, or it was closed).
    pub async fn request(&self, request: Request) -> Result<(), Stopped> {
        self.inner.tx.send(request).await.map_err(|_| Stopped {
            code: self.inner.code.clone(),
        })
    }

    /// The session's report, built by its actor.
    pub async fn report(&self) -> Result<crate::report::Report> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Report { reply }).await?;
        let report = rx
            .await
            .with_context(|| format!("session {} stopped while reporting", self.inner.code))?;
        Ok(super::with_meeting(report, &self.inner.meeting))
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
        // A task that ended without an answer has stopped.
        Ok(rx.await.map_err(|_| Stopped {
            code: self.inner.code.clone(),
        })?)
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
        // A task that ended without an answer has stopped.
        Ok(rx.await.map_err(|_| Stopped {
            code: self.inner.code.clone(),
        })?)
    }

    /// Resolves once the session takes no more requests (its task has ended or is
    /// ending, or for a proxy, its forwarding).
    pub async fn stopped(&self) {
        self.inner.tx.closed().await
    }

    /// Whether the session's task still takes requests.
    pub(super) fn is_running(&self) -> bool {
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
pub(super) struct Clock {
    base_ms: u64,
    base: Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            base_ms: super::now_ms(),
            base: Instant::now(),
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.base_ms + self.base.elapsed().as_millis() as u64
    }

    pub(super) fn instant_at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms.saturating_sub(self.base_ms))
    }
}

/// The parts of a proxy's handle its forwarder drives (see
/// [`Forwarder`](super::ports::Forwarder)).
pub struct ProxyParts {
    /// The requests of this process's connections.
    pub requests: mpsc::Receiver<Request>,
    /// The views this process's connections read, fed from the owner's.
    pub views: [watch::Sender<Published>; 3],
}
