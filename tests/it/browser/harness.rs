//! The browser harness: finds Chromium and chromedriver, and axe-core (installing it
//! from npm into `target/npm` the first time); starts chromedriver; opens each browser
//! behind its own recording proxy, so a test can cut a page's connections, and with
//! Chromium's record of each page's requests, so a test can tell what a page asked for
//! from what the browser fetches for itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// How long a step may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The flags every Chromium gets: headless, and as little background networking as
/// Chromium allows (component updates, safe browsing, metrics, sync, push messaging).
/// What it still fetches for itself goes to the proxy, which refuses it; the privacy
/// check judges only what the pages asked for.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-features=Translate,OptimizationHints,OptimizationHintsFetching,OptimizationGuideModelDownloading,OptimizationTargetPrediction,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,InterestFeedContentSuggestions,NetworkTimeServiceQuerying,PreconnectToSearch,SearchPrefetchServicePrefetching,SearchEnginePreconnectInterval,SearchEnginePreconnect2,CertificateTransparencyComponentUpdater,SafeBrowsingEnhancedProtection,PushMessaging",
    // Chromium's own Google services (sign-in, component updates, push messaging's
    // check-in at android.clients.google.com, field trials) despite the flags above:
    // pointed at port 1, which Chromium refuses to contact at all.
    "--gaia-url=http://127.0.0.1:1/",
    "--google-apis-url=http://127.0.0.1:1/",
    "--lso-url=http://127.0.0.1:1/",
    "--component-updater=url-source=http://127.0.0.1:1/",
    "--gcm-checkin-url=http://127.0.0.1:1/",
    "--gcm-mcs-endpoint=http://127.0.0.1:1/",
    "--gcm-registration-url=http://127.0.0.1:1/",
    "--variations-server-url=http://127.0.0.1:1/",
    "--safebrowsing-disable-auto-update",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-default-browser-check",
    "--no-first-run",
    "--no-pings",
    // Metrics are recorded in memory and never reported.
    "--metrics-recording-only",
    "--disable-quic",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--force-color-profile=srgb",
    "--lang=nl",
];

/// What the browser tests need from the machine.
pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    /// axe-core's `axe.min.js`, injected into each page by the accessibility test.
    pub axe: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn env_file(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

/// Where the harness (or anyone) installs axe-core with npm: `target/npm`, ignored by
/// git and removed by `cargo clean`.
fn npm_prefix() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/npm")
}

/// The major version of axe-core the accessibility test is written against.
const AXE_CORE: &str = "axe-core@4";

/// Where axe-core's `axe.min.js` may be: in `target/npm`, or in a `node_modules` at the
/// repository root.
pub fn axe_candidates() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        npm_prefix().join("node_modules/axe-core/axe.min.js"),
        root.join("node_modules/axe-core/axe.min.js"),
    ]
}

/// axe-core, installed with npm into `target/npm` if it is not there yet: once per
/// process (a `OnceLock`), and under a file lock so that two test processes do not run
/// npm into the same directory at once. `Err` says what is missing.
fn axe_core() -> Result<PathBuf, String> {
    static AXE: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        if let Some(path) = env_file("AXE_CORE_JS") {
            return Ok(path);
        }
        let found = || axe_candidates().into_iter().find(|p| p.is_file());
        if let Some(path) = found() {
            return Ok(path);
        }
        let Some(npm) = on_path("npm") else {
            return Err("axe-core, and npm to install it (apt-get install npm)".to_owned());
        };
        let prefix = npm_prefix();
        std::fs::create_dir_all(&prefix)
            .map_err(|e| format!("axe-core: cannot create {}: {e}", prefix.display()))?;
        let lock = std::fs::File::create(prefix.join(".install.lock"))
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|e| format!("axe-core: cannot lock {}: {e}", prefix.display()))?;
        // Another process may have installed it while this one waited for the lock.
        if let Some(path) = found() {
            return Ok(path);
        }
        let started = Instant::now();
        let out = Command::new(npm)
            .args(["install", "--prefix"])
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", "--silent"])
            .args(["--fetch-retries=1", "--fetch-timeout=30000", AXE_CORE])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("axe-core: npm did not run: {e}"))?;
        drop(lock);
        match found() {
            Some(path) if out.status.success() => {
                eprintln!(
                    "installed {AXE_CORE} into {} in {:?}",
                    prefix.display(),
                    started.elapsed()
                );
                Ok(path)
            }
            _ => {
                let why = String::from_utf8_lossy(&out.stderr);
                let why = why
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                Err(format!(
                    "axe-core: `npm install --prefix {} {AXE_CORE}` failed ({}): {why}",
                    prefix.display(),
                    out.status
                ))
            }
        }
    })
    .clone()
}

impl Tools {
    /// The tools, or `None` after a loud message when one is missing. Under `CI=true`
    /// a missing tool fails the test instead: CI must never pass by skipping.
    pub fn find(test: &str) -> Option<Tools> {
        let chromium = env_file("CHROMIUM")
            .or_else(|| Some(PathBuf::from("/usr/lib/chromium/chromium")).filter(|p| p.is_file()))
            .or_else(|| on_path("chromium"))
            .or_else(|| on_path("chromium-browser"));
        let chromedriver = env_file("CHROMEDRIVER")
            .or_else(|| on_path("chromedriver"))
            .or_else(|| {
                Some(PathBuf::from("/usr/lib/chromium/chromedriver")).filter(|p| p.is_file())
            });
        let mut missing = vec![];
        if chromium.is_none() {
            missing.push("chromium (apt-get install chromium)".to_owned());
        }
        if chromedriver.is_none() {
            missing.push("chromedriver (apt-get install chromium-driver)".to_owned());
        }
        // Only worth fetching when the browser tests can run at all.
        let axe = if missing.is_empty() {
            axe_core().map_err(|e| missing.push(e)).ok()
        } else {
            None
        };
        if missing.is_empty() {
            return Some(Tools {
                chromium: chromium.unwrap(),
                chromedriver: chromedriver.unwrap(),
                axe: axe.unwrap(),
            });
        }
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let lines: Vec<String> = std::iter::once(format!("BROWSER TESTS SKIPPED: {test}"))
            .chain(std::iter::once("missing:".to_owned()))
            .chain(missing.iter().map(|m| format!("  - {m}")))
            .chain(std::iter::once(
                "apt-get install chromium chromium-driver npm, then cargo test again".to_owned(),
            ))
            .chain(std::iter::once(
                "(the tests install axe-core with npm); with CI=true this is a failure.".to_owned(),
            ))
            .collect();
        let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let bar = "#".repeat(width + 6);
        let mut text = format!("\n{bar}\n{bar}\n");
        for line in &lines {
            text.push_str(&format!("##  {line:<width$}  ##\n"));
        }
        text.push_str(&format!("{bar}\n{bar}\n"));
        if ci {
            panic!("CI=true and the browser tests cannot run:{text}");
        }
        // Straight to the process's stderr: the test harness captures eprintln!, and this
        // must be seen in a plain `cargo test`.
        use std::io::Write;
        let _ = std::io::stderr().write_all(text.as_bytes());
        None
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver on a free loopback port, in its own process group; dropping it kills
/// that group (chromedriver and the browsers it started).
pub struct Driver {
    child: Child,
    pub url: String,
    chromium: PathBuf,
}

impl Driver {
    pub async fn start(tools: &Tools) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: tools.chromium.clone(),
        };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request a page made, as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target: `http://host:port/path`, or `host:port` for CONNECT.
    pub target: String,
    /// host:port the request was for.
    pub authority: String,
}

struct ProxyState {
    server: SocketAddr,
    seen: Mutex<Vec<Seen>>,
    tunnels: Mutex<Vec<AbortHandle>>,
    blocked: AtomicBool,
    /// Requests whose path ends so wait until this is cleared.
    held: Mutex<Option<String>>,
}

/// A tiny HTTP proxy in front of one browser. Chromium sends it every request (with
/// `--proxy-bypass-list=<-loopback>` even those for loopback); it records each one and
/// forwards only those for the server's own host:port, refusing all others. WebSockets
/// come as CONNECT (or an Upgrade request) and are spliced as plain TCP, so the test can
/// cut them.
pub struct Proxy {
    pub port: u16,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(server: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState {
            server,
            seen: Mutex::new(vec![]),
            tunnels: Mutex::new(vec![]),
            blocked: AtomicBool::new(false),
            held: Mutex::new(None),
        });
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(proxy_one(stream, state.clone()));
                }
            }
        });
        Proxy { port, state, task }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Cuts every open tunnel (the page's WebSocket) at the TCP level.
    pub fn cut(&self) {
        for tunnel in self.state.tunnels.lock().unwrap().drain(..) {
            tunnel.abort();
        }
    }

    /// Holds back every request whose path ends with `path` (say a script, to see the
    /// page without it) until called with `None`.
    pub fn hold(&self, path: Option<&str>) {
        *self.state.held.lock().unwrap() = path.map(str::to_owned);
    }

    /// While blocked, new tunnels are refused: the page cannot reconnect.
    pub fn block(&self, on: bool) {
        self.state.blocked.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn refuse(mut client: TcpStream, status: &str) {
    let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = client.write_all(response.as_bytes()).await;
}

async fn proxy_one(mut client: TcpStream, state: Arc<ProxyState>) {
    let mut buf = Vec::with_capacity(2048);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return refuse(client, "431 Request Header Fields Too Large").await;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let version = request_line.next().unwrap_or("HTTP/1.1").to_owned();
    let headers: Vec<&str> = lines.collect();
    let server = state.server.to_string();

    let (authority, path) = if method == "CONNECT" {
        (target.clone(), String::new())
    } else {
        let after = target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("ws://"))
            .unwrap_or("");
        match after.find('/') {
            Some(i) => (after[..i].to_owned(), after[i..].to_owned()),
            None => (after.to_owned(), "/".to_owned()),
        }
    };
    state.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        authority: authority.clone(),
    });
    if authority != server {
        return refuse(client, "403 Forbidden").await;
    }
    let held = |state: &ProxyState| {
        let held = state.held.lock().unwrap();
        held.as_deref()
            .is_some_and(|h| !path.is_empty() && path.ends_with(h))
    };
    while held(&state) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let Ok(mut upstream) = TcpStream::connect(state.server).await else {
        return refuse(client, "502 Bad Gateway").await;
    };
    let blocked = state.blocked.load(Ordering::SeqCst);
    if method == "CONNECT" {
        if blocked {
            return refuse(client, "503 Service Unavailable").await;
        }
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
            || upstream.write_all(&rest).await.is_err()
        {
            return;
        }
        return tunnel(client, upstream, &state).await;
    }
    // One request per connection (Connection: close), so the next request comes through
    // here again and is seen; an Upgrade keeps its Connection header and becomes a tunnel.
    let upgrade = headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("upgrade:"));
    if upgrade && blocked {
        return refuse(client, "503 Service Unavailable").await;
    }
    let mut out = format!("{method} {path} {version}\r\n");
    for h in &headers {
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("proxy-connection:") || (!upgrade && lower.starts_with("connection:"))
        {
            continue;
        }
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !upgrade {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    if upstream.write_all(out.as_bytes()).await.is_err() || upstream.write_all(&rest).await.is_err()
    {
        return;
    }
    if upgrade {
        tunnel(client, upstream, &state).await;
    } else {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

async fn tunnel(mut client: TcpStream, mut upstream: TcpStream, state: &ProxyState) {
    let task = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    });
    state.tunnels.lock().unwrap().push(task.abort_handle());
    let _ = task.await;
}

/// One request a page made, from Chromium's own record of the page's network events.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// `Document`, `Script`, `Fetch`, `Image`, … or `WebSocket`.
    pub kind: String,
    pub url: String,
    /// What in the page asked for it: `parser`, `script`, `other` (a navigation), …
    pub initiator: String,
    /// The document it was made for (empty for a WebSocket).
    pub document: String,
}

impl PageRequest {
    /// Whether the request belongs to one of Chromium's own pages (the new-tab page it
    /// opens before the first navigation, for one), not to a page of the web.
    pub fn of_the_browser(&self) -> bool {
        ["chrome:", "chrome-untrusted:", "devtools:", "about:"]
            .iter()
            .any(|scheme| self.document.starts_with(scheme))
    }

    /// Whether the request went to `authority` (`host:port`) over the network; a `data:`
    /// URL is no request at all. Anything else is a request that left the server.
    pub fn stays_with(&self, authority: &str) -> bool {
        if self.url.starts_with("data:") {
            return true;
        }
        ["http://", "ws://"].iter().any(|scheme| {
            self.url
                .strip_prefix(scheme)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .is_some_and(|a| a == authority)
        })
    }
}

/// A POST of JSON to chromedriver (plain HTTP/1.1 on loopback); its answer's `value`.
async fn driver_post(url: &str, body: &Value) -> Value {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let body = body.to_string();
    let mut stream = TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| panic!("connect to chromedriver at {authority}: {e}"));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write to chromedriver");
    // chromedriver keeps the connection open whatever the request says: read the head,
    // then as many bytes as it announces.
    let read = async {
        let mut raw = vec![];
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("chromedriver's answer has no length: {head}"));
                if raw.len() >= split + 4 + length {
                    return raw[split + 4..split + 4 + length].to_vec();
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => panic!("chromedriver closed the connection mid-answer"),
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let body = tokio::time::timeout(WAIT, read)
        .await
        .expect("chromedriver answers in time");
    let answer: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("chromedriver's answer to {path} is not JSON: {e}"));
    answer["value"].clone()
}

/// One headless Chromium (its own profile, so its own localStorage: its own participant)
/// behind its own proxy.
pub struct Browser {
    pub name: String,
    pub client: Client,
    pub proxy: Proxy,
    /// chromedriver's endpoint for this browser's logs.
    log_url: String,
    /// The pages' requests read from the performance log so far (reading drains it).
    requests: Mutex<Vec<PageRequest>>,
    /// The window's size less the viewport's, once known.
    chrome: Mutex<(i64, i64)>,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn open(
        driver: &Driver,
        server: SocketAddr,
        name: &str,
        size: (u32, u32),
    ) -> Browser {
        Browser::open_with(driver, server, name, size, "normal").await
    }

    /// [`Browser::open`] with WebDriver's page load strategy: `"none"` lets a test act
    /// on a page whose files have not all arrived (its `goto` does not wait for them).
    pub async fn open_with(
        driver: &Driver,
        server: SocketAddr,
        name: &str,
        size: (u32, u32),
        page_load: &str,
    ) -> Browser {
        let proxy = Proxy::start(server).await;
        let profile = tempfile::tempdir().expect("a profile dir");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--proxy-server=http://127.0.0.1:{}", proxy.port));
        args.push("--proxy-bypass-list=<-loopback>".to_owned());
        args.push(format!("--window-size={},{}", size.0, size.1));
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": page_load,
            // Chromium's record of each page's network events (see `page_requests`).
            "goog:loggingPrefs": {"performance": "ALL"},
            "goog:chromeOptions": {
                "binary": driver.chromium,
                "args": args,
                "perfLoggingPrefs": {"enableNetwork": true, "enablePage": false},
                // No prediction, and a search engine on port 1: Chromium preconnects to
                // its search engine.
                "prefs": {
                    "net": {"network_prediction_options": 2},
                    "safebrowsing": {"enabled": false},
                    "default_search_provider_data": {"template_url_data": {
                        "keyword": "none",
                        "short_name": "none",
                        "url": "http://127.0.0.1:1/?q={searchTerms}",
                    }},
                },
            },
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("{name}: start Chromium through chromedriver: {e}"));
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{name}: a WebDriver session id"));
        let browser = Browser {
            name: name.to_owned(),
            client,
            proxy,
            log_url: format!("{}/session/{session}/se/log", driver.url),
            requests: Mutex::new(vec![]),
            chrome: Mutex::new((0, 0)),
            _profile: profile,
        };
        browser.viewport(size.0, size.1).await;
        browser
    }

    /// Every request this browser's tab made so far, in order: read from Chromium's
    /// performance log, which records each page's network events (requests, WebSockets)
    /// with what initiated them and for which document, and nothing the browser fetches
    /// for itself in the background (component updates, safe browsing, push messaging),
    /// which the proxy sees as well. Chromium's own pages in the tab are marked by
    /// [`PageRequest::of_the_browser`].
    pub async fn page_requests(&self) -> Vec<PageRequest> {
        loop {
            let entries = driver_post(&self.log_url, &json!({"type": "performance"})).await;
            let entries = entries
                .as_array()
                .unwrap_or_else(|| panic!("{}: the performance log: {entries}", self.name));
            if entries.is_empty() {
                break;
            }
            let mut requests = self.requests.lock().unwrap();
            for entry in entries {
                let message: Value = entry["message"]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or_default();
                let params = &message["message"]["params"];
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                match message["message"]["method"].as_str() {
                    Some("Network.requestWillBeSent") => requests.push(PageRequest {
                        kind: text(&params["type"]),
                        url: text(&params["request"]["url"]),
                        initiator: text(&params["initiator"]["type"]),
                        document: text(&params["documentURL"]),
                    }),
                    Some("Network.webSocketCreated") => requests.push(PageRequest {
                        kind: "WebSocket".to_owned(),
                        url: text(&params["url"]),
                        initiator: text(&params["initiator"]["type"]),
                        document: String::new(),
                    }),
                    _ => {}
                }
            }
        }
        self.requests.lock().unwrap().clone()
    }

    /// Slows this browser's network as a poor link would: `latency_ms` added to every
    /// request's round trip, and `bytes_per_second` each way (Chromium's own network
    /// emulation, through chromedriver's DevTools endpoint).
    pub async fn emulate_network(&self, latency_ms: u64, bytes_per_second: u64) {
        let session = self.log_url.trim_end_matches("/se/log");
        let cdp = format!("{session}/goog/cdp/execute");
        let params = json!({"offline": false, "latency": latency_ms,
            "downloadThroughput": bytes_per_second, "uploadThroughput": bytes_per_second});
        for (cmd, params) in [
            ("Network.enable", json!({})),
            ("Network.setCacheDisabled", json!({"cacheDisabled": true})),
            ("Network.emulateNetworkConditions", params),
        ] {
            let answer = driver_post(&cdp, &json!({"cmd": cmd, "params": params})).await;
            assert!(
                answer.get("error").is_none(),
                "{}: {cmd}: {answer}",
                self.name
            );
        }
    }

    /// Sets the page's viewport (not the window) to exactly `width`×`height`.
    pub async fn viewport(&self, width: u32, height: u32) {
        let want = json!([width, height]);
        let size = "return [innerWidth, innerHeight]";
        let mut inner = self.js(size).await;
        if inner == want {
            return;
        }
        let (dw, dh) = *self.chrome.lock().unwrap();
        let (mut w, mut h) = (
            (i64::from(width) + dw) as u32,
            (i64::from(height) + dh) as u32,
        );
        for _ in 0..5 {
            let before = inner.clone();
            self.client
                .set_window_size(w, h)
                .await
                .unwrap_or_else(|e| panic!("{}: resize: {e}", self.name));
            // The page may hear of the resize a moment later.
            for _ in 0..40 {
                inner = self.js(size).await;
                if inner != before {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if inner == want {
                *self.chrome.lock().unwrap() = (i64::from(w - width), i64::from(h - height));
                return;
            }
            let (iw, ih) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
            w = (i64::from(w) + i64::from(width) - iw).max(100) as u32;
            h = (i64::from(h) + i64::from(height) - ih).max(100) as u32;
        }
        panic!(
            "{}: could not set the viewport to {width}×{height}; it is {inner}",
            self.name
        );
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: open {url}: {e}", self.name));
    }

    /// Runs a script (a function body: `return …`) and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.name))
    }

    /// Polls `script` until it returns something truthy; fails the test after [`WAIT`].
    pub async fn wait(&self, what: &str, script: &str) -> Value {
        self.wait_for(what, script, WAIT).await
    }

    pub async fn wait_for(&self, what: &str, script: &str, limit: Duration) -> Value {
        self.wait_with(what, script, vec![], limit).await
    }

    /// Polls `script` with `arg` as `arguments[0]` until it returns something truthy.
    pub async fn wait_script(&self, what: &str, script: &str, arg: &str) -> Value {
        self.wait_with(what, script, vec![Value::String(arg.to_owned())], WAIT)
            .await
    }

    async fn wait_with(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        limit: Duration,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let last = match self.client.execute(script, args.clone()).await {
                Ok(v) if truthy(&v) => return v,
                Ok(v) => v,
                Err(e) => Value::String(format!("script error: {e}")),
            };
            if Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let shot = self
                    .screenshot(&format!("failed-{}", self.name.replace(' ', "-")))
                    .await;
                panic!(
                    "{}: waited {limit:?} for {what}; last value {last}; at {url:?}; screenshot {}",
                    self.name,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element matching a CSS selector (as a pointer would).
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: find {css}: {e}", self.name));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: click {css}: {e}", self.name));
    }

    /// Types into the element matching a CSS selector, replacing its value.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self
            .client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: find {css}: {e}", self.name));
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }

    /// Presses and releases one key (a character, or a [`fantoccini::key::Key`] code) on
    /// whatever has the focus, as a keyboard would.
    pub async fn press(&self, key: char) {
        let actions = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("{}: press {key:?}: {e}", self.name));
    }

    /// Presses Tab until the focused element matches `css` (at most `limit` times); fails
    /// if it never does. Returns how many presses it took.
    pub async fn tab_to(&self, css: &str, limit: usize) -> usize {
        let check = format!(
            "const a = document.activeElement; return !!a && a.matches({});",
            serde_json::to_string(css).unwrap()
        );
        for n in 0..=limit {
            if self.js(&check).await == Value::Bool(true) {
                return n;
            }
            self.press(fantoccini::key::Key::Tab.into()).await;
        }
        let active = self
            .js("const a = document.activeElement; return a ? a.outerHTML.slice(0, 200) : null")
            .await;
        panic!(
            "{}: {limit} presses of Tab never reached {css}; focus is on {active}",
            self.name
        );
    }

    /// The focus indicator of the focused element: it must match `:focus-visible` and
    /// draw an outline or a box-shadow. Returns a description for the failure message.
    pub async fn focus_visible(&self) -> Value {
        self.js(
            "const a = document.activeElement;
             if (!a || a === document.body) return {ok: false, why: 'nothing focused'};
             const s = getComputedStyle(a);
             const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
             const shadow = s.boxShadow && s.boxShadow !== 'none';
             return {ok: a.matches(':focus-visible') && (outline || shadow),
                     element: a.outerHTML.slice(0, 120), outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor,
                     shadow: s.boxShadow};",
        )
        .await
    }

    /// Saves a PNG of the viewport as `target/screenshots/NAME.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("{}: screenshot: {e}", self.name));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Runs axe-core (injected from `axe_source` if the page has none yet) with the rules
    /// of `tags`; returns the violations as {id, impact, help, nodes}.
    pub async fn axe(&self, axe_source: &str, tags: &[&str]) -> Vec<Value> {
        if self.js("return typeof window.axe === 'object'").await != Value::Bool(true) {
            self.js(axe_source).await;
        }
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {
                   runOnly: {type: 'tag', values: arguments[0]},
                   resultTypes: ['violations'],
                 }).then((r) => done({passes: r.passes.length, violations: r.violations.map((v) => ({
                   id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
                 }))})).catch((e) => done({error: String(e)}));",
                vec![json!(tags)],
            )
            .await
            .unwrap_or_else(|e| panic!("{}: axe.run: {e}", self.name));
        match (&result["violations"], result["passes"].as_u64()) {
            (Value::Array(violations), Some(passes)) if passes > 0 => violations.clone(),
            _ => panic!("{}: axe.run failed: {result}", self.name),
        }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// JavaScript truthiness of a returned value; an object with `ok` is as truthy as its
/// `ok` (the rest of it explains a timeout).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Object(o) if o.contains_key("ok") => truthy(&o["ok"]),
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
