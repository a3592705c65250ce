//! The servers under test, each run in its own child process (the file limit is per
//! process, and the RSS we report must be the server's alone):
//!
//! - `loadgen serve-stemzaal`: the stemzaal library exactly as the real binary runs it
//!   (store, hub, `web::serve`), on 127.0.0.1:0 with the built-in deck;
//! - `loadgen serve-floor`: the bare fan-out floor on the same stack (axum WebSocket
//!   with the same buffer sizes, a 50 ms tick) that counts votes and stores nothing.
//!
//! A child prints one JSON line ([`ServerInfo`]) on stdout and then serves until its
//! stdin closes (the parent went away), it is killed, or its `--max-secs` run out.
//! The parent holds it in a [`ServerProc`], which kills it on every exit path.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use stemzaal::core::deck::{Deck, DEFAULT_DECK_SOURCE};
use stemzaal::hub::Hub;
use stemzaal::store::{Durability, Store};
use stemzaal::web::limits::Limits;
use tokio::sync::{watch, Notify};
use tokio::time::MissedTickBehavior;

/// The floor's join code (it runs one session).
pub const FLOOR_CODE: &str = "FLOOR1";
/// The floor's host key.
const FLOOR_HOST_KEY: &str = "f100f100f100f100f100f100f100f100";
/// The floor's screen key.
const FLOOR_SCREEN_KEY: &str = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c";
/// The floor's single statement slide.
const FLOOR_SLIDE: usize = 1;

/// What a child server reports on its first stdout line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The session's join code.
    pub code: String,
    /// The host key.
    pub host_key: String,
    /// The screen key.
    pub screen_key: String,
    /// The child's process id (for /proc).
    pub pid: u32,
}

/// Raises this process's soft file limit to its hard limit, as the server does;
/// returns the new limit.
pub fn raise_nofile() -> u64 {
    stemzaal::web::limits::raise_fd_limit()
}

/// Ends the process when the parent closes our stdin (or dies): a child never
/// outlives the load generator, even if the generator is killed with SIGKILL.
fn exit_when_parent_goes() {
    std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(|| {
            let mut buf = [0u8; 64];
            let mut stdin = std::io::stdin();
            // Bounded: every read either returns data (the parent never writes) or
            // ends the loop.
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            std::process::exit(0);
        })
        .expect("a thread to watch the parent");
}

fn announce(info: &ServerInfo) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(info)?)?;
    out.flush()?;
    Ok(())
}

/// `loadgen serve-stemzaal`: the real server, in-process in this child.
pub fn serve_stemzaal(data: &Path, durability: Durability, max_secs: u64) -> Result<()> {
    raise_nofile();
    exit_when_parent_goes();
    // The same runtime the `stemzaal` binary builds.
    let runtime = tokio::runtime::Runtime::new().context("a tokio runtime")?;
    runtime.block_on(async {
        // Bound as the `stemzaal` binary binds (backlog 1024).
        let listener = stemzaal::app::listen("127.0.0.1:0".parse()?)?;
        let addr = listener.local_addr()?;
        let store = Store::open(data, durability)?;
        let hub = Arc::new(Hub::new(store.clone(), format!("http://{addr}")));
        let session = hub
            .create(Arc::new(Deck::default_deck()), DEFAULT_DECK_SOURCE)
            .await?;
        announce(&ServerInfo {
            addr,
            code: session.code().to_owned(),
            host_key: session.host_key().expose().to_owned(),
            screen_key: session.screen_key().expose().to_owned(),
            pid: std::process::id(),
        })?;
        // The ramp connects thousands of new phones from each of a few loopback
        // addresses; the join limit per address is for rooms, not for this test.
        let limits = Limits {
            join_burst: f64::MAX,
            ..Limits::default()
        };
        tokio::select! {
            served = stemzaal::web::serve_with(listener, hub, Arc::new(store), limits) => served,
            _ = tokio::time::sleep(Duration::from_secs(max_secs)) => Ok(()),
        }
    })
}

/// `loadgen serve-floor`: the bare fan-out floor.
pub fn serve_floor(nodelay: bool, max_secs: u64) -> Result<()> {
    raise_nofile();
    exit_when_parent_goes();
    let runtime = tokio::runtime::Runtime::new().context("a tokio runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let floor = Floor::new();
        tokio::spawn(floor.clone().publisher());
        let app = Router::new()
            .route("/ws/{code}", get(floor_ws))
            .with_state(floor);
        announce(&ServerInfo {
            addr,
            code: FLOOR_CODE.to_owned(),
            host_key: FLOOR_HOST_KEY.to_owned(),
            screen_key: FLOOR_SCREEN_KEY.to_owned(),
            pid: std::process::id(),
        })?;
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(move |tcp| {
            if nodelay {
                // Best effort, as a server would do it.
                tcp.set_nodelay(true).ok();
            }
        });
        tokio::select! {
            served = axum::serve(listener, app) => served.context("serving the floor"),
            _ = tokio::time::sleep(Duration::from_secs(max_secs)) => Ok(()),
        }
    })
}

/// The floor's whole state: what a fan-out server must know and nothing more.
#[derive(Default, Clone, Copy)]
struct Counts {
    joined: u64,
    voted: u64,
    tally: [u64; 2],
    slide: usize,
    open: bool,
    revealed: bool,
}

/// A bare fan-out server: counts votes, acknowledges them at once (nothing is
/// stored), and publishes the count on a 50 ms tick exactly like the hub does (the
/// first change after a quiet spell goes out at once, then at most every 50 ms).
struct Floor {
    counts: Mutex<Counts>,
    counts_dirty: AtomicBool,
    stage_dirty: AtomicBool,
    wake: Notify,
    screen: watch::Sender<Utf8Bytes>,
    phones: watch::Sender<Utf8Bytes>,
    ids: AtomicU64,
}

impl Floor {
    fn new() -> Arc<Floor> {
        let counts = Counts {
            slide: FLOOR_SLIDE,
            ..Counts::default()
        };
        Arc::new(Floor {
            counts: Mutex::new(counts),
            counts_dirty: AtomicBool::new(false),
            stage_dirty: AtomicBool::new(false),
            wake: Notify::new(),
            screen: watch::channel(screen_view(&counts)).0,
            phones: watch::channel(phone_view(&counts)).0,
            ids: AtomicU64::new(1),
        })
    }

    fn change(&self, stage: bool, f: impl FnOnce(&mut Counts)) {
        f(&mut self.counts.lock().expect("floor counts"));
        if stage {
            self.stage_dirty.store(true, Ordering::Release);
        }
        if !self.counts_dirty.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    async fn publisher(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if !self.counts_dirty.load(Ordering::Acquire) {
                self.wake.notified().await;
            }
            tick.tick().await;
            self.counts_dirty.store(false, Ordering::Release);
            let counts = *self.counts.lock().expect("floor counts");
            if self.stage_dirty.swap(false, Ordering::AcqRel) {
                self.phones.send_replace(phone_view(&counts));
            }
            self.screen.send_replace(screen_view(&counts));
        }
    }
}

fn phase(c: &Counts) -> &'static str {
    if c.open {
        "open"
    } else {
        "pending"
    }
}

fn screen_view(c: &Counts) -> Utf8Bytes {
    let tally = if c.revealed {
        format!(",\"tally\":[{},{}]", c.tally[0], c.tally[1])
    } else {
        String::new()
    };
    Utf8Bytes::from(format!(
        "{{\"type\":\"state\",\"slide\":{{\"index\":{},\"kind\":\"statement\",\"phase\":\"{}\",\"round\":1}},\"revealed\":{},\"joined\":{},\"voted\":{}{tally}}}",
        c.slide,
        phase(c),
        c.revealed,
        c.joined,
        c.voted
    ))
}

fn phone_view(c: &Counts) -> Utf8Bytes {
    Utf8Bytes::from(format!(
        "{{\"type\":\"state\",\"slide\":{{\"index\":{},\"kind\":\"statement\",\"phase\":\"{}\",\"round\":1}},\"revealed\":{}}}",
        c.slide,
        phase(c),
        c.revealed
    ))
}

/// Any client message the floor understands (hello, vote, the host's commands).
#[derive(Deserialize)]
struct FloorIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    key: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    slide: Option<usize>,
    #[serde(default)]
    option: Option<usize>,
    #[serde(default)]
    visible: Option<bool>,
}

#[derive(Clone, Copy, PartialEq)]
enum FloorRole {
    Phone,
    Host,
    Screen,
}

async fn floor_ws(State(floor): State<Arc<Floor>>, upgrade: WebSocketUpgrade) -> Response {
    // The same WebSocket settings as `stemzaal::web`, so the floor costs what our
    // stack costs per connection.
    upgrade
        .read_buffer_size(stemzaal::web::WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(stemzaal::web::WS_MAX_WRITE_BUFFER)
        .max_message_size(stemzaal::web::MAX_MESSAGE_BYTES)
        .max_frame_size(stemzaal::web::MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| floor_conn(socket, floor))
}

async fn floor_conn(mut socket: WebSocket, floor: Arc<Floor>) {
    let hello = match tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        _ => return,
    };
    let role = match serde_json::from_str::<FloorIn>(&hello) {
        Ok(m) if m.kind == "hello" => match m.key.as_deref() {
            None | Some("") => FloorRole::Phone,
            Some(FLOOR_HOST_KEY) => FloorRole::Host,
            Some(FLOOR_SCREEN_KEY) => FloorRole::Screen,
            Some(_) => return,
        },
        _ => return,
    };
    let mut view = match role {
        FloorRole::Phone => floor.phones.subscribe(),
        FloorRole::Host | FloorRole::Screen => floor.screen.subscribe(),
    };
    let welcome = match role {
        FloorRole::Phone => {
            floor.change(false, |c| c.joined += 1);
            let id = floor.ids.fetch_add(1, Ordering::Relaxed);
            format!(
                "{{\"type\":\"welcome\",\"version\":1,\"role\":\"participant\",\"code\":\"{FLOOR_CODE}\",\"participant_id\":\"00000000-0000-4000-8000-{id:012x}\"}}"
            )
        }
        FloorRole::Host => format!(
            "{{\"type\":\"welcome\",\"version\":1,\"role\":\"host\",\"code\":\"{FLOOR_CODE}\",\"slides\":[{{\"index\":0,\"kind\":\"content\",\"title\":\"floor\"}},{{\"index\":{FLOOR_SLIDE},\"kind\":\"statement\",\"title\":\"floor\"}}]}}"
        ),
        FloorRole::Screen => {
            format!("{{\"type\":\"welcome\",\"version\":1,\"role\":\"screen\",\"code\":\"{FLOOR_CODE}\"}}")
        }
    };
    if socket.send(Message::Text(welcome.into())).await.is_err() {
        return;
    }
    let first = view.borrow_and_update().clone();
    if socket.send(Message::Text(first)).await.is_err() {
        return;
    }
    let mut mine: Option<usize> = None;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => continue,
                    _ => return,
                };
                let Ok(msg) = serde_json::from_str::<FloorIn>(&text) else { continue };
                match (role, &*msg.kind) {
                    (FloorRole::Phone, "vote") => {
                        let (Some(id), Some(option)) = (msg.id, msg.option) else { continue };
                        if option > 1 {
                            continue;
                        }
                        let previous = mine.replace(option);
                        if previous != Some(option) {
                            floor.change(false, |c| {
                                match previous {
                                    Some(p) => c.tally[p] -= 1,
                                    None => c.voted += 1,
                                }
                                c.tally[option] += 1;
                            });
                        }
                        let ack = format!(
                            "{{\"type\":\"ack\",\"id\":{id},\"slide\":{},\"round\":1,\"option\":{option}}}",
                            msg.slide.unwrap_or(FLOOR_SLIDE)
                        );
                        if socket.send(Message::Text(ack.into())).await.is_err() {
                            return;
                        }
                    }
                    (FloorRole::Host, "go_to") => {
                        let slide = msg.slide.unwrap_or(FLOOR_SLIDE);
                        floor.change(true, |c| c.slide = slide);
                    }
                    (FloorRole::Host, "open_vote") => floor.change(true, |c| c.open = true),
                    (FloorRole::Host, "reveal") => {
                        let visible = msg.visible.unwrap_or(false);
                        floor.change(true, |c| c.revealed = visible);
                    }
                    _ => {}
                }
            }
            changed = view.changed() => {
                if changed.is_err() {
                    return;
                }
                let bytes = view.borrow_and_update().clone();
                if socket.send(Message::Text(bytes)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Which server a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The stemzaal library server.
    Stemzaal,
    /// The bare fan-out floor.
    Floor,
    /// The real `stemzaal` binary, several nodes on NATS (`--nodes`).
    Cluster,
}

impl Kind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stemzaal => "stemzaal",
            Kind::Floor => "floor",
            Kind::Cluster => "cluster",
        }
    }
}

/// A running child server; killed (and its data directory removed) when dropped.
pub struct ServerProc {
    child: Child,
    /// Held only so that the child sees EOF when we go.
    stdin: Option<ChildStdin>,
    /// Started under a profiler: end it by closing stdin, so it can write its output.
    wrapped: bool,
    data: Option<PathBuf>,
    /// What the child announced.
    pub info: ServerInfo,
}

impl ServerProc {
    /// Starts `loadgen serve-…` for `kind` and waits (up to 30 s) for its line.
    pub fn start(
        kind: Kind,
        durability: Durability,
        floor_nodelay: bool,
        wrap: Option<&str>,
        max_secs: u64,
    ) -> Result<ServerProc> {
        let exe = std::env::current_exe().context("finding the loadgen binary")?;
        let mut words = wrap.unwrap_or_default().split_whitespace();
        let mut cmd = match words.next() {
            Some(program) => {
                let mut cmd = Command::new(program);
                cmd.args(words).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        let data = match kind {
            Kind::Stemzaal => {
                static RUNS: AtomicU64 = AtomicU64::new(0);
                let dir = std::env::temp_dir().join(format!(
                    "stemzaal-loadgen-{}-{}",
                    std::process::id(),
                    RUNS.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                cmd.arg("serve-stemzaal")
                    .arg("--data")
                    .arg(&dir)
                    .arg("--durability")
                    .arg(match durability {
                        Durability::Normal => "normal",
                        Durability::Full => "full",
                    });
                Some(dir)
            }
            Kind::Cluster => bail!("a cluster is started by cluster::Cluster"),
            Kind::Floor => {
                cmd.arg("serve-floor");
                if floor_nodelay {
                    cmd.arg("--nodelay");
                }
                None
            }
        };
        cmd.arg("--max-secs").arg(max_secs.to_string());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("starting the server process")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("the child's stdout")?;
        // From here on the guard kills the child whatever happens.
        let mut proc = ServerProc {
            child,
            stdin,
            wrapped: wrap.is_some_and(|w| !w.trim().is_empty()),
            data,
            info: ServerInfo {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                code: String::new(),
                host_key: String::new(),
                screen_key: String::new(),
                pid: 0,
            },
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            tx.send(read.map(|_| line)).ok();
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(Ok(_)) => bail!("the {} server exited before it was ready", kind.name()),
            Ok(Err(e)) => return Err(e).context("reading the server's first line"),
            Err(_) => bail!("the {} server did not start within 30 s", kind.name()),
        };
        proc.info = serde_json::from_str(line.trim())
            .with_context(|| format!("the server's first line: {line}"))?;
        Ok(proc)
    }

    /// The data directory of a stemzaal child.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data.as_deref()
    }

    /// Kills the child (SIGKILL, like a crash) and waits for it; keeps the data.
    pub fn kill(&mut self) {
        if self.wrapped {
            // A profiler writes its file when the program exits normally: close stdin
            // (the child then exits) and wait, at most two minutes, before killing.
            self.stdin.take();
            for _ in 0..1200 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.data {
            std::fs::remove_dir_all(dir).ok();
        }
    }
}
