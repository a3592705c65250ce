//! The load generator's side of the wire: connecting from a chosen 127.0.0.x source
//! address, the phones (one task each, open-loop), the screen and the host.

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A client WebSocket over plain TCP.
pub type Ws = WebSocketStream<TcpStream>;

/// How long any single handshake step may take before the run fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

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
    Error(Option<u64>, String),
    Other,
}

fn classify(text: &str) -> Incoming {
    let Ok(head) = serde_json::from_str::<Head>(text) else {
        return Incoming::Other;
    };
    match &*head.kind {
        "ack" => match serde_json::from_str::<Reply>(text) {
            Ok(Reply { id: Some(id), .. }) => Incoming::Ack(id),
            _ => Incoming::Other,
        },
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
        format!(
            "{{\"type\":\"vote\",\"id\":{id},\"slide\":{},\"round\":{},\"option\":{option}}}",
            self.slide, self.round
        )
    }
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
}

impl PhoneResult {
    fn empty() -> PhoneResult {
        PhoneResult {
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
    mut ws: Ws,
    opened: bool,
    shared: Arc<Shared>,
    mut control: watch::Receiver<Control>,
) -> PhoneResult {
    let mut result = PhoneResult::empty();
    let mut seen_open = opened;
    if opened {
        shared.opened.fetch_add(1, Ordering::Relaxed);
        result.opened_at = Some(Instant::now());
    }
    let mut plan: Option<Arc<Plan>> = None;
    let mut next: Option<u64> = None;
    // The id of the newest vote sent: its ack makes `last_option` the acked choice.
    let mut newest: Option<u64> = None;
    let far = Instant::now() + Duration::from_secs(86_400);
    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    let mut alive = true;
    loop {
        tokio::select! {
            incoming = ws.next(), if alive => match incoming {
                Some(Ok(Message::Text(text))) => match classify(text.as_str()) {
                    Incoming::Ack(id) => {
                        let now = Instant::now();
                        result.unacked = result.unacked.saturating_sub(1);
                        shared.acked.fetch_add(1, Ordering::Relaxed);
                        if newest == Some(id) {
                            result.last_acked = result.last_option;
                        }
                        if let Some(plan) = &plan {
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
                    Incoming::Error(id, code) => {
                        result.unacked = result.unacked.saturating_sub(u64::from(id.is_some()));
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                        shared.problem(format!("phone {index}: vote {id:?} refused: {code}"));
                    }
                    Incoming::State(state) => {
                        if !seen_open && state.slide.phase.as_deref() == Some("open") {
                            seen_open = true;
                            result.opened_at = Some(Instant::now());
                            shared.opened.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Incoming::Other => {}
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    alive = false;
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("phone {index}: connection failed: {e}"));
                }
                None => {
                    alive = false;
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("phone {index}: the server closed the connection"));
                }
            },
            () = &mut sleep, if next.is_some() && alive => {
                let (Some(id), Some(p)) = (next, plan.as_ref()) else { continue };
                let option = match result.last_option {
                    None => first_option(index),
                    Some(o) => 1 - o,
                };
                let lag = Instant::now().saturating_duration_since(p.due(id));
                result.send_lag_us.push(micros(lag));
                match ws.send(Message::text(p.message(id, option))).await {
                    Ok(()) => {
                        result.last_option = Some(option);
                        newest = Some(id);
                        result.unacked += 1;
                        shared.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        alive = false;
                        shared.lost.fetch_add(1, Ordering::Relaxed);
                        shared.problem(format!("phone {index}: sending vote {id} failed: {e}"));
                    }
                }
                next = p.next_for(index, Some(id));
                if let Some(n) = next {
                    sleep.as_mut().reset(p.due(n));
                }
            }
            changed = control.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = control.borrow_and_update().clone();
                match now {
                    Control::Wait => {}
                    Control::Run(p) => {
                        next = p.next_for(index, None);
                        if let Some(n) = next {
                            sleep.as_mut().reset(p.due(n));
                        }
                        plan = Some(p);
                    }
                    Control::Stop => break,
                }
            }
        }
    }
    result.ws = alive.then_some(ws);
    result
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
