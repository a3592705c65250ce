//! The load generator's side of the wire: connecting from a chosen 127.0.0.x source
//! address, the phones (one task each, open-loop), the screen and the host.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::upvotes::{self, Setup, UpvotePlan};

/// A client WebSocket over plain TCP.
pub type Ws = WebSocketStream<TcpStream>;

/// How long any single handshake step may take before the run fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Ids of the messages that are not scheduled votes, far above any vote's id (the
/// vote ids count from 0): an arguer's setup vote is `SETUP_VOTE_ID + phone`, its
/// argument `ARGUE_ID + phone`, its question `ASK_ID + phone`, upvote `u` of the
/// schedule `UPVOTE_ID + u`.
pub const SETUP_VOTE_ID: u64 = 1 << 40;
/// See [`SETUP_VOTE_ID`].
pub const ARGUE_ID: u64 = 2 << 40;
/// See [`SETUP_VOTE_ID`].
pub const ASK_ID: u64 = (2 << 40) + (1 << 39);
/// See [`SETUP_VOTE_ID`].
pub const UPVOTE_ID: u64 = 3 << 40;

/// How a `state` begins as the server writes it (the tag first): a phone that has seen
/// the vote open reads nothing more from a state, so it skips parsing it.
const STATE_HEAD: &str = "{\"type\":\"state\"";

/// Small buffers: a phone reads a few tiny messages, and 19,000 of them share the box.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Opens a TCP connection from `source` (port chosen by the kernel) and upgrades it.
pub async fn connect(server: SocketAddr, url: &str, source: Ipv4Addr) -> Result<Ws> {
    let socket = TcpSocket::new_v4().context("a socket")?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .with_context(|| format!("binding to {source}"))?;
    let stream = socket
        .connect(server)
        .await
        .with_context(|| format!("connecting from {source}"))?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
        .await
        .context("WebSocket handshake")?;
    Ok(ws)
}

/// The `type` of a server message (every other field skipped).
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// An `ack` or `error`: the vote id and, for an error, its code.
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
}

/// The parts of a `state` the generator looks at.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct StateIn {
    /// The current slide.
    pub slide: SlideIn,
    /// Whether results are visible.
    #[serde(default)]
    pub revealed: bool,
    /// Joined participants (host and screen).
    #[serde(default)]
    pub joined: Option<u64>,
    /// Participants who voted in this round (host and screen).
    #[serde(default)]
    pub voted: Option<u64>,
    /// Count per option, when visible.
    #[serde(default)]
    pub tally: Option<Vec<u64>>,
    /// The statement's arguments (the host: every one not removed).
    #[serde(default)]
    pub arguments: Option<ArgumentsIn>,
    /// The questions from the room (the host: every one not removed).
    #[serde(default)]
    pub questions: Option<QuestionsIn>,
}

/// The parts of a state's `questions` the generator looks at.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct QuestionsIn {
    /// The questions listed.
    #[serde(default)]
    pub items: Vec<QuestionIn>,
}

/// One listed question (its text skipped).
#[derive(Deserialize, Debug, Clone)]
pub struct QuestionIn {
    /// Its number in the session.
    pub question: u32,
    /// `pending`, `approved`, `highlighted` or `answered`.
    #[serde(default)]
    pub status: Option<String>,
    /// Its upvotes.
    #[serde(default)]
    pub upvotes: u64,
}

/// The parts of a state's `arguments` the generator looks at.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct ArgumentsIn {
    /// The arguments listed.
    #[serde(default)]
    pub items: Vec<ArgumentIn>,
}

/// One listed argument (its text skipped).
#[derive(Deserialize, Debug, Clone)]
pub struct ArgumentIn {
    /// Its number in the session.
    pub argument: u32,
    /// `pending`, `approved` or `highlighted` (to the host).
    #[serde(default)]
    pub status: Option<String>,
    /// Its upvotes.
    #[serde(default)]
    pub upvotes: u64,
}

/// The parts of a state's slide the generator looks at.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct SlideIn {
    /// Slide index.
    pub index: usize,
    /// `pending`, `open` or `closed` for a statement.
    #[serde(default)]
    pub phase: Option<String>,
    /// The current round of a statement.
    #[serde(default)]
    pub round: Option<u32>,
}

/// One incoming message, classified.
enum Incoming {
    State(StateIn),
    Ack(u64),
    /// An `ok` (to an upvote).
    Ok(u64),
    /// An `argued` (to an argument) or an `asked` (to a question).
    Taken(u64),
    Error(Option<u64>, String),
    Other,
}

fn classify(text: &str) -> Incoming {
    let Ok(head) = serde_json::from_str::<Head>(text) else {
        return Incoming::Other;
    };
    let id = || match serde_json::from_str::<Reply>(text) {
        Ok(Reply { id: Some(id), .. }) => Some(id),
        _ => None,
    };
    match &*head.kind {
        "ack" => id().map_or(Incoming::Other, Incoming::Ack),
        "ok" => id().map_or(Incoming::Other, Incoming::Ok),
        "argued" | "asked" => id().map_or(Incoming::Other, Incoming::Taken),
        "error" => match serde_json::from_str::<Reply>(text) {
            Ok(r) => Incoming::Error(r.id, r.code.unwrap_or_default().into_owned()),
            Err(_) => Incoming::Error(None, "unparsable error".into()),
        },
        "state" => serde_json::from_str(text)
            .map(Incoming::State)
            .unwrap_or(Incoming::Other),
        _ => Incoming::Other,
    }
}

/// Reads the next text message (skipping pings), bounded by [`STEP_TIMEOUT`].
async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        let msg = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .context("timed out waiting for the server")?;
        match msg {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => bail!("the server closed the connection"),
            Some(Err(e)) => return Err(e).context("reading from the server"),
            Some(Ok(_)) => continue,
        }
    }
}

/// Connects, says `hello` (with `key` for host or screen) and reads the welcome and
/// the first state.
pub async fn hello(
    server: SocketAddr,
    url: &str,
    source: Ipv4Addr,
    key: Option<&str>,
) -> Result<(Ws, serde_json::Value, StateIn)> {
    let mut ws = connect(server, url, source).await?;
    let hello = match key {
        Some(key) => serde_json::json!({"type": "hello", "key": key}).to_string(),
        None => r#"{"type":"hello"}"#.to_owned(),
    };
    ws.send(Message::text(hello))
        .await
        .context("sending hello")?;
    let welcome: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await?)?;
    if welcome["type"] != "welcome" {
        bail!("expected a welcome, got {welcome}");
    }
    let state = loop {
        if let Incoming::State(state) = classify(&next_text(&mut ws).await?) {
            break state;
        }
    };
    Ok((ws, welcome, state))
}

/// The vote schedule, shared by every phone: known in full before the first vote, so
/// each phone sleeps until its own votes' times and no central scheduler is needed.
///
/// Vote `k` (its message id) is scheduled at `burst_t0 + k / burst_rate` for
/// `k < burst_votes` (sent by phone `k`: each phone's first vote), and at
/// `sustain_t0 + j / sustain_rate` for `k = burst_votes + j` (sent by phone
/// `j mod phones`: a changed vote). Latency is measured from these times, never from
/// when a vote actually left, so a slow server cannot hide its delay.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The statement slide.
    pub slide: usize,
    /// Its round.
    pub round: u32,
    /// Number of phones.
    pub phones: u64,
    /// Start of the burst.
    pub burst_t0: Instant,
    /// Burst votes per second.
    pub burst_rate: f64,
    /// Votes in the burst (≤ phones).
    pub burst_votes: u64,
    /// Start of the sustained phase.
    pub sustain_t0: Instant,
    /// Sustained votes per second.
    pub sustain_rate: f64,
    /// Votes in the sustained phase.
    pub sustain_votes: u64,
    /// Phones that voted before the burst (the arguers); the burst's votes come from
    /// the others.
    pub voters_before: u64,
    /// The upvotes, with `--arguments`.
    pub upvotes: Option<UpvotePlan>,
}

impl Plan {
    /// When vote `id` is due.
    pub fn due(&self, id: u64) -> Instant {
        if id < self.burst_votes {
            self.burst_t0 + Duration::from_secs_f64(id as f64 / self.burst_rate)
        } else {
            let j = id - self.burst_votes;
            self.sustain_t0 + Duration::from_secs_f64(j as f64 / self.sustain_rate)
        }
    }

    /// When the sustained phase ends.
    pub fn sustain_end(&self) -> Instant {
        self.sustain_t0 + Duration::from_secs_f64(self.sustain_votes as f64 / self.sustain_rate)
    }

    /// Total votes.
    pub fn total(&self) -> u64 {
        self.burst_votes + self.sustain_votes
    }

    /// How many votes phone `p` sends: its first vote (if the burst reaches it) and
    /// every `phones`-th sustained vote from `p` on.
    pub fn votes_of(&self, p: u64) -> u64 {
        let first = u64::from(p < self.burst_votes);
        let sustained =
            self.sustain_votes / self.phones + u64::from(p < self.sustain_votes % self.phones);
        first + sustained
    }

    /// The first vote id of phone `p` at or after `after`, if any.
    fn next_for(&self, p: u64, after: Option<u64>) -> Option<u64> {
        let candidate = match after {
            None if p < self.burst_votes => Some(p),
            None => Some(self.burst_votes + p),
            Some(id) if id < self.burst_votes => Some(self.burst_votes + p),
            Some(id) => Some(id + self.phones),
        }?;
        (candidate < self.total()).then_some(candidate)
    }

    /// The message of vote `id` with `option`.
    fn message(&self, id: u64, option: u8) -> String {
        vote_message(id, self.slide, self.round, option)
    }
}

/// A `vote` message.
fn vote_message(id: u64, slide: usize, round: u32, option: u8) -> String {
    format!(
        "{{\"type\":\"vote\",\"id\":{id},\"slide\":{slide},\"round\":{round},\"option\":{option}}}"
    )
}

/// The first option a phone picks: a fixed pseudo-random bit, so the tally is not a
/// trivial half-and-half.
pub fn first_option(p: u64) -> u8 {
    let mut z = p.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) & 1) as u8
}

/// What the controller tells the phones.
#[derive(Clone)]
pub enum Control {
    /// Connected; wait.
    Wait,
    /// The arguers among the phones vote and argue.
    Setup(Arc<Setup>),
    /// Vote on this schedule.
    Run(Arc<Plan>),
    /// Stop and report.
    Stop,
}

/// Counters every phone updates, for the controller to watch.
#[derive(Default)]
pub struct Shared {
    /// Votes sent.
    pub sent: AtomicU64,
    /// Votes acknowledged.
    pub acked: AtomicU64,
    /// Votes refused with an error.
    pub errors: AtomicU64,
    /// Phones that have seen the vote open.
    pub opened: AtomicUsize,
    /// Phones whose connection ended early.
    pub lost: AtomicUsize,
    /// Arguers whose argument is stored.
    pub argued: AtomicUsize,
    /// Arguers whose setup vote or argument was refused.
    pub setup_failed: AtomicUsize,
    /// Upvotes sent.
    pub upvotes_sent: AtomicU64,
    /// Upvotes answered `ok`.
    pub upvotes_ok: AtomicU64,
    /// Upvotes refused, counted by error code.
    pub upvotes_refused: Mutex<BTreeMap<String, u64>>,
    /// The first problem a phone met, for the report.
    pub first_problem: Mutex<Option<String>>,
}

impl Shared {
    fn problem(&self, text: String) {
        let mut first = self.first_problem.lock().expect("problem lock");
        if first.is_none() {
            *first = Some(text);
        }
    }

    /// Upvotes refused so far, all codes together.
    pub fn refused_upvotes(&self) -> u64 {
        self.upvotes_refused
            .lock()
            .expect("refusals lock")
            .values()
            .sum()
    }
}

/// What a phone reports when told to stop; it keeps its connection open until the
/// controller drops it (after the server is gone, so the kernel leaves no TIME_WAIT on
/// the generator's ports).
pub struct PhoneResult {
    /// The connection, kept open.
    pub ws: Option<Ws>,
    /// When the phone saw the vote open.
    pub opened_at: Option<Instant>,
    /// vote→ack latency of burst votes, µs from the scheduled time.
    pub burst_ack_us: Vec<u32>,
    /// vote→ack latency of sustained votes, µs from the scheduled time.
    pub sustain_ack_us: Vec<u32>,
    /// How late the generator sent each vote, µs after its scheduled time.
    pub send_lag_us: Vec<u32>,
    /// The option of the phone's last vote, if it voted.
    pub last_option: Option<u8>,
    /// The option of the phone's last vote once the server acknowledged it: what the
    /// tally must count for this phone.
    pub last_acked: Option<u8>,
    /// Votes sent and not (yet) acknowledged.
    pub unacked: u64,
    /// Time of the first ack of a sustained vote.
    pub first_sustain_ack: Option<Instant>,
    /// Time of the last ack of a sustained vote.
    pub last_sustain_ack: Option<Instant>,
    /// upvote→ok latency of each upvote, µs from the scheduled time.
    pub upvote_ok_us: Vec<u32>,
    /// What the phone received in the upvote window.
    pub window: Received,
}

/// Text frames a phone received in the upvote window.
#[derive(Debug, Default, Clone, Copy)]
pub struct Received {
    /// Payload bytes.
    pub bytes: u64,
    /// Messages, of any type.
    pub messages: u32,
    /// Of which `state`.
    pub states: u32,
}

impl PhoneResult {
    fn empty() -> PhoneResult {
        PhoneResult {
            upvote_ok_us: Vec::new(),
            window: Received::default(),
            ws: None,
            opened_at: None,
            burst_ack_us: Vec::new(),
            sustain_ack_us: Vec::new(),
            send_lag_us: Vec::new(),
            last_option: None,
            last_acked: None,
            unacked: 0,
            first_sustain_ack: None,
            last_sustain_ack: None,
        }
    }
}

/// The result of a phone that never connected.
pub fn phone_failed() -> PhoneResult {
    PhoneResult::empty()
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// Runs one phone from its connected socket until [`Control::Stop`].
pub async fn phone(
    index: u64,
    ws: Ws,
    opened: bool,
    shared: Arc<Shared>,
    mut control: watch::Receiver<Control>,
) -> PhoneResult {
    let mut p = Phone::new(index, ws, opened, shared);
    loop {
        tokio::select! {
            incoming = p.ws.next(), if p.alive => p.on_incoming(incoming).await,
            () = &mut p.vote_timer, if p.alive && p.next.is_some() => p.send_vote().await,
            () = &mut p.upvote_timer, if p.alive && p.next_upvote.is_some() => {
                p.send_upvote().await;
            }
            changed = control.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = control.borrow_and_update().clone();
                if !p.on_control(now).await {
                    break;
                }
            }
        }
    }
    let mut result = p.result;
    result.ws = p.alive.then_some(p.ws);
    result
}

/// One phone between messages: its socket, what it saw, and what it sends next.
struct Phone {
    index: u64,
    ws: Ws,
    shared: Arc<Shared>,
    result: PhoneResult,
    seen_open: bool,
    alive: bool,
    plan: Option<Arc<Plan>>,
    /// The next vote to send; due when `vote_timer` fires.
    next: Option<u64>,
    vote_timer: Pin<Box<Sleep>>,
    /// The next upvote to send (its number in the schedule); due when `upvote_timer`
    /// fires.
    next_upvote: Option<u64>,
    upvote_timer: Pin<Box<Sleep>>,
    /// The id of the newest vote sent: its ack makes `last_option` the acked choice.
    newest: Option<u64>,
    /// The setup, while this phone argues: its argument goes once its vote is acked.
    setup: Option<Arc<Setup>>,
}

impl Phone {
    fn new(index: u64, ws: Ws, opened: bool, shared: Arc<Shared>) -> Phone {
        let mut result = PhoneResult::empty();
        if opened {
            shared.opened.fetch_add(1, Ordering::Relaxed);
            result.opened_at = Some(Instant::now());
        }
        let far = Instant::now() + Duration::from_secs(86_400);
        Phone {
            index,
            ws,
            shared,
            result,
            seen_open: opened,
            alive: true,
            plan: None,
            next: None,
            vote_timer: Box::pin(tokio::time::sleep_until(far)),
            next_upvote: None,
            upvote_timer: Box::pin(tokio::time::sleep_until(far)),
            newest: None,
            setup: None,
        }
    }

    /// The connection is gone (or failed): the phone stops sending.
    fn lose(&mut self, why: String) {
        self.alive = false;
        self.shared.lost.fetch_add(1, Ordering::Relaxed);
        self.shared.problem(format!("phone {}: {why}", self.index));
    }

    /// Sends one text frame; a failure loses the connection.
    async fn send(&mut self, text: String, what: &str) -> bool {
        match self.ws.send(Message::text(text)).await {
            Ok(()) => true,
            Err(e) => {
                self.lose(format!("sending {what} failed: {e}"));
                false
            }
        }
    }

    async fn on_incoming(
        &mut self,
        incoming: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        match incoming {
            Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
            Some(Ok(_)) => {}
            Some(Err(e)) => self.lose(format!("connection failed: {e}")),
            None => self.lose("the server closed the connection".into()),
        }
    }

    async fn on_text(&mut self, text: &str) {
        let state = text.starts_with(STATE_HEAD);
        if let Some(up) = self.plan.as_ref().and_then(|p| p.upvotes.as_ref()) {
            if up.in_window(Instant::now()) {
                let w = &mut self.result.window;
                w.bytes += text.len() as u64;
                w.messages += 1;
                w.states += u32::from(state);
            }
        }
        if state && self.seen_open {
            // Nothing more to learn from a state, and with arguments it is long.
            return;
        }
        match classify(text) {
            Incoming::Ack(id) if id >= SETUP_VOTE_ID => self.on_setup_ack(id).await,
            Incoming::Ack(id) => self.on_ack(id),
            Incoming::Ok(id) => self.on_ok(id),
            Incoming::Taken(id) => self.on_taken(id).await,
            Incoming::Error(id, code) => self.on_error(id, code),
            Incoming::State(state) => {
                if !self.seen_open && state.slide.phase.as_deref() == Some("open") {
                    self.seen_open = true;
                    self.result.opened_at = Some(Instant::now());
                    self.shared.opened.fetch_add(1, Ordering::Relaxed);
                }
            }
            Incoming::Other => {}
        }
    }

    fn on_ack(&mut self, id: u64) {
        let now = Instant::now();
        let result = &mut self.result;
        result.unacked = result.unacked.saturating_sub(1);
        self.shared.acked.fetch_add(1, Ordering::Relaxed);
        if self.newest == Some(id) {
            result.last_acked = result.last_option;
        }
        if let Some(plan) = &self.plan {
            let lat = micros(now.saturating_duration_since(plan.due(id)));
            if id < plan.burst_votes {
                result.burst_ack_us.push(lat);
            } else {
                result.sustain_ack_us.push(lat);
                result.first_sustain_ack.get_or_insert(now);
                result.last_sustain_ack = Some(now);
            }
        }
    }

    /// The arguer's vote is stored: it counts from now on, and the argument follows.
    async fn on_setup_ack(&mut self, id: u64) {
        let Some(setup) = self.setup.clone() else {
            return;
        };
        if id != SETUP_VOTE_ID + self.index {
            return;
        }
        let option = first_option(self.index);
        self.result.last_option = Some(option);
        self.result.last_acked = Some(option);
        let text = upvotes::argue_message(
            ARGUE_ID + self.index,
            setup.slide,
            option,
            self.index - setup.first,
        );
        self.send(text, "an argument").await;
    }

    /// The arguer's argument (or question) is stored: an asker asks next; the arguer
    /// is done when it has nothing more to send.
    async fn on_taken(&mut self, id: u64) {
        let Some(setup) = self.setup.clone() else {
            return;
        };
        if id == ARGUE_ID + self.index && setup.asks(self.index) {
            let text = upvotes::ask_message(ASK_ID + self.index, self.index - setup.first);
            self.send(text, "a question").await;
        } else if id == ARGUE_ID + self.index || id == ASK_ID + self.index {
            self.setup = None;
            self.shared.argued.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_ok(&mut self, id: u64) {
        let Some(up) = self.plan.as_ref().and_then(|p| p.upvotes.as_ref()) else {
            return;
        };
        if id >= UPVOTE_ID {
            let lat = Instant::now().saturating_duration_since(up.due(id - UPVOTE_ID));
            self.result.upvote_ok_us.push(micros(lat));
            self.shared.upvotes_ok.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_error(&mut self, id: Option<u64>, code: String) {
        let index = self.index;
        match id {
            Some(id) if id >= UPVOTE_ID => {
                let mut refused = self.shared.upvotes_refused.lock().expect("refusals lock");
                *refused.entry(code.clone()).or_default() += 1;
                drop(refused);
                self.shared.problem(format!(
                    "phone {index}: upvote {} refused: {code}",
                    id - UPVOTE_ID
                ));
            }
            Some(id) if id >= SETUP_VOTE_ID => {
                self.setup = None;
                self.shared.setup_failed.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .problem(format!("phone {index}: setup message {id} refused: {code}"));
            }
            _ => {
                let result = &mut self.result;
                result.unacked = result.unacked.saturating_sub(u64::from(id.is_some()));
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .problem(format!("phone {index}: vote {id:?} refused: {code}"));
            }
        }
    }

    async fn send_vote(&mut self) {
        let (Some(id), Some(p)) = (self.next, self.plan.clone()) else {
            return;
        };
        let option = match self.result.last_option {
            None => first_option(self.index),
            Some(o) => 1 - o,
        };
        let lag = Instant::now().saturating_duration_since(p.due(id));
        self.result.send_lag_us.push(micros(lag));
        if self
            .send(p.message(id, option), &format!("vote {id}"))
            .await
        {
            self.result.last_option = Some(option);
            self.newest = Some(id);
            self.result.unacked += 1;
            self.shared.sent.fetch_add(1, Ordering::Relaxed);
        }
        self.next = p.next_for(self.index, Some(id));
        if let Some(n) = self.next {
            self.vote_timer.as_mut().reset(p.due(n));
        }
    }

    async fn send_upvote(&mut self) {
        let Some(u) = self.next_upvote else {
            return;
        };
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let Some(up) = plan.upvotes.as_ref() else {
            return;
        };
        if self.send(up.message(u), &format!("upvote {u}")).await {
            self.shared.upvotes_sent.fetch_add(1, Ordering::Relaxed);
        }
        self.next_upvote = up.after(u);
        if let Some(n) = self.next_upvote {
            self.upvote_timer.as_mut().reset(up.due(n));
        }
    }

    /// Follows the controller; `false` when told to stop.
    async fn on_control(&mut self, control: Control) -> bool {
        match control {
            Control::Wait => {}
            Control::Setup(setup) => {
                if setup.holds(self.index) {
                    let option = first_option(self.index);
                    let vote =
                        vote_message(SETUP_VOTE_ID + self.index, setup.slide, setup.round, option);
                    self.setup = Some(setup);
                    self.send(vote, "a setup vote").await;
                }
            }
            Control::Run(p) => {
                self.next = p.next_for(self.index, None);
                if let Some(n) = self.next {
                    self.vote_timer.as_mut().reset(p.due(n));
                }
                self.next_upvote = p.upvotes.as_ref().and_then(|up| up.first_for(self.index));
                if let (Some(u), Some(up)) = (self.next_upvote, p.upvotes.as_ref()) {
                    self.upvote_timer.as_mut().reset(up.due(u));
                }
                self.plan = Some(p);
            }
            Control::Stop => return false,
        }
        true
    }
}

/// One state as the screen saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScreenObs {
    /// When it arrived.
    pub at: Option<Instant>,
    /// Joined participants.
    pub joined: u64,
    /// Participants who voted.
    pub voted: u64,
    /// The tally (zero when not shown).
    pub tally: [u64; 2],
    /// Whether the tally was shown.
    pub revealed: bool,
}

/// Reads the screen until `stop`; records every state and publishes the newest.
pub async fn screen(
    mut ws: Ws,
    first: StateIn,
    latest: watch::Sender<ScreenObs>,
    mut stop: watch::Receiver<bool>,
) -> (Vec<ScreenObs>, Option<Ws>) {
    let obs = |s: &StateIn| {
        let tally = s.tally.clone().unwrap_or_default();
        ScreenObs {
            at: Some(Instant::now()),
            joined: s.joined.unwrap_or(0),
            voted: s.voted.unwrap_or(0),
            tally: [
                tally.first().copied().unwrap_or(0),
                tally.get(1).copied().unwrap_or(0),
            ],
            revealed: s.tally.is_some(),
        }
    };
    let mut seen = Vec::with_capacity(4096);
    let o = obs(&first);
    seen.push(o);
    latest.send_replace(o);
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Incoming::State(state) = classify(text.as_str()) {
                        let o = obs(&state);
                        seen.push(o);
                        latest.send_replace(o);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (seen, None),
            },
            _ = stop.changed() => return (seen, Some(ws)),
        }
    }
}

/// The host: sends commands, and reads (and keeps the newest of) its states so its
/// socket never backs up.
pub struct Host {
    sink: SplitSink<Ws, Message>,
    /// The newest state the host saw.
    pub state: watch::Receiver<StateIn>,
    reader: tokio::task::JoinHandle<SplitStream<Ws>>,
}

impl Host {
    /// Wraps a connected host socket.
    pub fn new(ws: Ws, first: StateIn) -> Host {
        let (sink, mut stream) = ws.split();
        let (tx, state) = watch::channel(first);
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(text) = msg {
                    if let Incoming::State(s) = classify(text.as_str()) {
                        tx.send_replace(s);
                    }
                }
            }
            stream
        });
        Host {
            sink,
            state,
            reader,
        }
    }

    /// Sends one command.
    pub async fn send(&mut self, command: serde_json::Value) -> Result<()> {
        self.sink
            .send(Message::text(command.to_string()))
            .await
            .context("sending a host command")
    }

    /// Waits (bounded) until the host's state satisfies `pred`.
    pub async fn wait(&mut self, what: &str, pred: impl Fn(&StateIn) -> bool) -> Result<StateIn> {
        // Cloned at once: the watch's read guard must not be held any longer.
        tokio::time::timeout(STEP_TIMEOUT, self.state.wait_for(|s| pred(s)))
            .await
            .with_context(|| format!("timed out waiting for the host to see {what}"))?
            .map(|state| (*state).clone())
            .context("the host connection ended")
    }

    /// Ends the reader.
    pub fn abort(self) {
        self.reader.abort();
    }
}
