//! Cluster mode (`--nats`): real `nats-server` processes, started per test on free
//! loopback ports, and real `stemzaal` binaries as nodes.
//!
//! Without `nats-server` (Debian package `nats-server`) these tests skip with a loud
//! message; with `CI=true` they fail instead.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::core::deck::Deck;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{first_statement, TestClient};

use crate::nats::nats_or_skip;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed (SIGKILL) by `kill` or when dropped.
struct Process(Child);

impl Process {
    fn kill(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `nats-server` process.
pub(crate) struct Nats {
    child: Process,
    pub(crate) url: String,
}

/// One JetStream server on a free port.
pub(crate) fn single_nats(bin: &Path, dir: &Path) -> Nats {
    single_nats_on(bin, dir, free_port())
}

/// One JetStream server on `port`, storing in `dir` (so a restart finds its streams).
fn single_nats_on(bin: &Path, dir: &Path, port: u16) -> Nats {
    let child = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server");
    let nats = Nats {
        child: Process(child),
        url: format!("nats://127.0.0.1:{port}"),
    };
    wait_port(port);
    nats
}

/// Three JetStream servers in one cluster. Routes need fixed ports (a 2.9 cluster
/// with JetStream refuses a random cluster port).
fn nats_cluster(bin: &Path, dir: &Path) -> Vec<Nats> {
    // Ports found free a moment before may be taken in between (by another test's
    // outgoing connection); a server that cannot bind exits, and the three start anew.
    for attempt in 0..3 {
        if let Some(servers) = try_nats_cluster(bin, &dir.join(format!("try{attempt}"))) {
            return servers;
        }
        eprintln!("a NATS server of the cluster could not listen; starting the three again");
    }
    panic!("three times a NATS server of the cluster could not listen");
}

/// [`nats_cluster`]'s one try: `None` if a server exited or did not listen in time.
fn try_nats_cluster(bin: &Path, dir: &Path) -> Option<Vec<Nats>> {
    std::fs::create_dir_all(dir).unwrap();
    let clients: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let route_list = routes
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut servers: Vec<Nats> = (0..3)
        .map(|i| {
            let config = dir.join(format!("n{i}.conf"));
            std::fs::write(
                &config,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: stemzaal, listen: 127.0.0.1:{}, routes: [{route_list}] }}\n",
                    clients[i],
                    dir.join(format!("n{i}")).display(),
                    routes[i],
                ),
            )
            .unwrap();
            let child = Command::new(bin)
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nats-server");
            Nats {
                child: Process(child),
                url: format!("nats://127.0.0.1:{}", clients[i]),
            }
        })
        .collect();
    for (server, port) in servers.iter_mut().zip(clients) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = server.child.0.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Some(servers)
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The console password the nodes of most tests are given.
const PASSWORD: &str = "kraan-fiets-molen-tulp";

/// A `stemzaal` node in cluster mode.
pub(crate) struct Node {
    child: Process,
    port: u16,
    code: String,
    host_key: String,
    screen_key: String,
    /// The admin password the banner showed (made on the cluster's first start).
    shown_password: Option<String>,
}

impl Node {
    /// Starts a node with the console password [`PASSWORD`] and reads its banner (the
    /// session's code and keys).
    pub(crate) fn start(nats: &str, replicas: u8, data: &Path) -> Node {
        Node::start_with(nats, replicas, data, Some(PASSWORD))
    }

    /// Starts a node, with `--admin-password` if `password` is given.
    fn start_with(nats: &str, replicas: u8, data: &Path, password: Option<&str>) -> Node {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stemzaal"));
        command
            .args(["--bind", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .args(["--nats", nats, "--nats-replicas", &replicas.to_string()]);
        if let Some(password) = password {
            command.args(["--admin-password", password]);
        }
        let mut child = command
            .env(
                "RUST_LOG",
                std::env::var("STEMZAAL_TEST_LOG").unwrap_or("stemzaal=info,warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start stemzaal");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut code, mut host_key, mut screen_key) = (None, None, None);
        let mut shown_password = None;
        for line in lines.by_ref() {
            let line = line.expect("the banner");
            let key = |l: &str| l.rsplit("key=").next().unwrap().trim().to_owned();
            if line.contains("Code:") {
                code = line.split_whitespace().last().map(str::to_owned);
            } else if line.contains("/host/") {
                host_key = Some(key(&line));
            } else if line.contains("/screen/") {
                screen_key = Some(key(&line));
            } else if line.contains("admin password:") {
                shown_password = line.split_whitespace().last().map(str::to_owned);
            } else if line.contains("Data:") {
                break;
            }
        }
        // The rest of stdout is drained, so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node {
            child: Process(child),
            port,
            code: code.expect("a code in the banner"),
            host_key: host_key.expect("a host URL in the banner"),
            screen_key: screen_key.expect("a screen URL in the banner"),
            shown_password,
        }
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws/{}", self.port, self.code)
    }

    pub(crate) async fn host(&self) -> TestClient {
        TestClient::hello(
            &self.ws_url(),
            json!({"type": "hello", "key": self.host_key}),
        )
        .await
    }

    async fn screen(&self) -> TestClient {
        TestClient::hello(
            &self.ws_url(),
            json!({"type": "hello", "key": self.screen_key}),
        )
        .await
    }
}

fn tally(state: &Value) -> Vec<u64> {
    state["tally"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_u64().unwrap()).collect())
        .unwrap_or_default()
}

/// The host opens the vote on the first statement (and shows its results); returns
/// the statement's slide.
async fn open_first_statement(host: &mut TestClient) -> u64 {
    let slide = first_statement(&Deck::default_deck()) as u64;
    host.send(json!({"type": "go_to", "slide": slide, "id": 1}))
        .await;
    host.wait_for("ok").await;
    host.send(json!({"type": "open_vote", "id": 2})).await;
    host.wait_for("ok").await;
    host.send(json!({"type": "reveal", "visible": true, "id": 3}))
        .await;
    host.wait_for("ok").await;
    slide
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_one_session_with_host_screen_and_phones_on_different_nodes() {
    let Some(bin) = nats_or_skip("three_nodes_serve_one_session") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = single_nats(&bin, dir.path());
    let nodes: Vec<Node> = (0..3)
        .map(|i| Node::start(&nats.url, 1, &dir.path().join(format!("node{i}"))))
        .collect();
    // Every node serves the session the first one started.
    for node in &nodes[1..] {
        assert_eq!(node.code, nodes[0].code);
        assert_eq!(node.host_key, nodes[0].host_key);
    }
    let mut host = nodes[0].host().await;
    let mut screen = nodes[1].screen().await;
    let slide = open_first_statement(&mut host).await;

    // 300 phones, a hundred on each node; phone i votes B when i % 3 == 1, else A,
    // then every fifth changes its mind.
    const PHONES: usize = 300;
    let mut phones = Vec::with_capacity(PHONES);
    for i in 0..PHONES {
        let url = nodes[i % 3].ws_url();
        phones.push(TestClient::hello(&url, json!({"type": "hello"})).await);
    }
    let mut choice = vec![0u64; PHONES];
    for (i, phone) in phones.iter_mut().enumerate() {
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        choice[i] = u64::from(i % 3 == 1);
        let ack = phone.vote(slide, 1, choice[i]).await;
        assert_eq!(ack["type"], "ack", "phone {i} got {ack}");
    }
    for (i, phone) in phones.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
        choice[i] = 1 - choice[i];
        let ack = phone.vote(slide, 1, choice[i]).await;
        assert_eq!(ack["option"], choice[i], "phone {i} got {ack}");
    }
    let b = choice.iter().sum::<u64>();
    let expected = vec![PHONES as u64 - b, b];
    let seen = screen.wait_state(|s| tally(s) == expected).await;
    assert_eq!(seen["voted"], PHONES as u64);
    host.wait_state(|s| tally(s) == expected).await;
    // A refusal travels back from the owner too, with its code.
    let refused = phones[2].vote(slide, 1, 7).await;
    assert_eq!(refused["code"], "unknown_option", "{refused}");

    // A phone that comes back on another node is the same participant, vote and all.
    let id = phones[1].participant_id();
    let again = TestClient::hello(
        &nodes[2].ws_url(),
        json!({"type": "hello", "participant_id": id}),
    )
    .await;
    assert_eq!(again.participant_id(), id);
    assert_eq!(
        again.welcome["votes"][0]["option"], choice[1],
        "{}",
        again.welcome
    );

    // The host on one node closes the vote; the report from a third counts it all.
    host.send(json!({"type": "close_vote", "id": 9})).await;
    host.wait_for("ok").await;
    let report = report_json(&nodes[2], &nodes[2].host_key).await;
    assert_eq!(
        report["statements"][0]["rounds"][0]["counts"],
        json!(expected),
        "{report}"
    );

    // The console of a node that neither owns the session nor serves these pages lists
    // it and closes it: the pages on the other nodes hear 4001.
    let console = Console::login(&nodes[2]).await;
    let (status, list) = console.call("GET", "/api/sessions", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["sessions"][0]["code"],
        nodes[0].code.as_str(),
        "{list}"
    );
    assert_eq!(list["sessions"][0]["status"], "open");
    // A running session's deck is not edited in cluster mode: the console offers a new
    // session, as for a changed structure.
    let text = stemzaal::core::deck::DEFAULT_DECK_SOURCE.replacen("Stelling", "Stelling:", 1);
    let path = format!("/api/sessions/{}/deck", nodes[0].code);
    let (status, refused) = console
        .call("PUT", &path, Some(json!({ "source": text })))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "structure_changed", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("cluster"),
        "{refused}"
    );
    let path = format!("/api/sessions/{}/close", nodes[0].code);
    let (status, closed) = console.call("POST", &path, None).await;
    assert_eq!(
        (status, &closed["status"]),
        (200, &json!("closed")),
        "{closed}"
    );
    assert_eq!(
        phones[0].closed().await,
        Some(4001),
        "a phone on the owner's node"
    );
    assert_eq!(
        screen.closed().await,
        Some(4001),
        "the screen on another node"
    );
    assert_eq!(
        phones[1].closed().await,
        Some(4001),
        "a phone on another node"
    );
    // A page opened later on any node hears the ending, read from the session's log.
    for node in &nodes {
        let mut late = TestClient::connect(&node.ws_url(), json!({"type": "hello"})).await;
        let ended = late.next_message().await.expect("an ending");
        assert_eq!(ended["type"], "ended", "{ended}");
        assert!(ended["results"].is_array(), "{ended}");
        assert_eq!(late.closed().await, Some(4001));
    }
    // Closed, its report is still there, read from its log.
    let report = report_json(&nodes[1], &nodes[1].host_key).await;
    assert_eq!(
        report["statements"][0]["rounds"][0]["counts"],
        json!(expected),
        "{report}"
    );
}

/// A logged-in console of one node.
struct Console {
    addr: std::net::SocketAddr,
    cookie: String,
}

impl Console {
    async fn login(node: &Node) -> Console {
        Console::login_with(node, PASSWORD).await
    }

    async fn login_with(node: &Node, password: &str) -> Console {
        Console::try_login(node, password)
            .await
            .unwrap_or_else(|(status, text)| panic!("login refused: {status} {text}"))
    }

    /// Logs in, or returns the status and body of the refusal.
    async fn try_login(node: &Node, password: &str) -> Result<Console, (u16, String)> {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", node.port).parse().unwrap();
        let origin = format!("http://{addr}");
        let body = json!({ "password": password }).to_string();
        let headers = [
            ("Origin", origin.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, head, text) =
            crate::support::http_request(addr, "POST", "/api/login", &headers, body.as_bytes())
                .await;
        if status != 204 {
            return Err((status, text));
        }
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .expect("a login cookie")
            .to_owned();
        Ok(Console { addr, cookie })
    }

    /// The same login, used on another node.
    fn on(&self, node: &Node) -> Console {
        Console {
            addr: format!("127.0.0.1:{}", node.port).parse().unwrap(),
            cookie: self.cookie.clone(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let origin = format!("http://{}", self.addr);
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", "application/json"),
        ];
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, _, text) =
            crate::support::http_request(self.addr, method, path, &headers, body.as_bytes()).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// The JSON export of a session, from a node. Right after a NATS server went away
/// the node may first wait out JetStream's election (see docs/SCALING.md).
async fn report_json(node: &Node, key: &str) -> Value {
    let path = format!("/export/{}.json?key={key}", node.code);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", node.port).parse().unwrap();
    let started = Instant::now();
    let get = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = vec![];
        stream.read_to_end(&mut raw).await.unwrap();
        crate::support::parse_response(&raw)
    };
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(60), get)
        .await
        .expect("the export within 60 s");
    eprintln!("export answered after {:?}", started.elapsed());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Three nodes on a cluster of three NATS servers, everything kept on all three; the
/// first node started the session and owns it.
fn replicated_nodes(bin: &Path, dir: &Path) -> (Vec<Nats>, Vec<Node>) {
    let servers = nats_cluster(bin, dir);
    let urls = servers
        .iter()
        .map(|s| s.url.clone())
        .collect::<Vec<_>>()
        .join(",");
    let nodes = (0..3)
        .map(|i| Node::start(&urls, 3, &dir.join(format!("node{i}"))))
        .collect();
    (servers, nodes)
}

/// Which server (0, 1 or 2) leads the session's log stream.
async fn log_leader(url: &str, code: &str) -> usize {
    let ask = async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(format!("SZ_{code}")).await.unwrap();
        stream.info().await.unwrap().clone()
    };
    let info = tokio::time::timeout(Duration::from_secs(10), ask)
        .await
        .expect("the stream's info in time");
    let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
    let leader = leader.expect("a replicated log has a leader");
    leader.trim_start_matches('n').parse().unwrap()
}

/// A phone that keeps voting through a failover: on a closed socket or a refused
/// write it reconnects (to the next node) as the same participant and sends again.
struct Phone {
    id: String,
    urls: Vec<String>,
    at: usize,
    ws: Option<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    >,
    next_id: u64,
}

impl Phone {
    async fn connect(urls: Vec<String>, at: usize) -> Phone {
        let mut phone = Phone {
            id: String::new(),
            urls,
            at,
            ws: None,
            next_id: 1,
        };
        phone.reconnect(false).await;
        phone
    }

    /// Connects (to the next node if `elsewhere`) and reads the welcome.
    async fn reconnect(&mut self, elsewhere: bool) {
        if elsewhere {
            self.at = (self.at + 1) % self.urls.len();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "phone {} cannot get back in",
                self.id
            );
            let hello = if self.id.is_empty() {
                json!({"type": "hello"})
            } else {
                json!({"type": "hello", "participant_id": self.id})
            };
            if let Ok(Ok((mut ws, _))) = tokio::time::timeout(
                Duration::from_secs(5),
                tokio_tungstenite::connect_async(&self.urls[self.at]),
            )
            .await
            {
                if ws.send(Message::text(hello.to_string())).await.is_ok() {
                    if let Some(welcome) = read_until(&mut ws, |m| m["type"] == "welcome").await {
                        self.id = welcome["participant_id"].as_str().unwrap().to_owned();
                        self.ws = Some(ws);
                        return;
                    }
                }
            }
            self.at = (self.at + 1) % self.urls.len();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Votes until the vote is acknowledged; returns how many times it was sent, and
    /// when last.
    async fn vote(&mut self, slide: u64, option: u64) -> (u32, Instant) {
        let mut sent = 0;
        loop {
            let id = self.next_id;
            self.next_id += 1;
            sent += 1;
            let sent_at = Instant::now();
            let vote =
                json!({"type": "vote", "id": id, "slide": slide, "round": 1, "option": option});
            let ws = self.ws.as_mut().unwrap();
            if ws.send(Message::text(vote.to_string())).await.is_ok() {
                let answer = read_until(ws, |m| m["id"] == id && m["type"] != "state").await;
                match answer {
                    Some(a) if a["type"] == "ack" => {
                        assert_eq!(a["option"], option);
                        return (sent, sent_at);
                    }
                    // Refused while the session moves (storage_unavailable): again.
                    Some(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    None => {}
                }
            }
            self.reconnect(true).await;
        }
    }
}

/// Reads until a message matches; `None` when the socket closes or stays silent.
async fn read_until(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pred: impl Fn(&Value) -> bool,
) -> Option<Value> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
        match next {
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: Value = serde_json::from_str(&text).ok()?;
                if pred(&value) {
                    return Some(value);
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_owner_or_a_nats_server_in_a_burst_loses_no_acknowledged_vote() {
    let Some(bin) = nats_or_skip("killing_the_owner_in_a_burst") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut servers, mut nodes) = replicated_nodes(&bin, dir.path());
    // The first node created the session, so it owns it.
    let mut host = nodes[1].host().await;
    let slide = open_first_statement(&mut host).await;

    const PHONES: usize = 90;
    // Each phone votes this often before and after the barrier at which the test
    // finds the NATS server leading the log.
    const VOTES: u64 = 15;
    let ws_urls: Vec<String> = nodes.iter().map(Node::ws_url).collect();
    let acked = Arc::new(AtomicU64::new(0));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    // When the first vote sent after the kill was acknowledged: the takeover's length.
    let taken_over: Arc<Mutex<Option<Instant>>> = Arc::default();
    let barrier = Arc::new(tokio::sync::Barrier::new(PHONES + 1));
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..PHONES {
        let urls = ws_urls.clone();
        let (acked, barrier) = (acked.clone(), barrier.clone());
        let (killed_at, taken_over) = (killed_at.clone(), taken_over.clone());
        burst.spawn(async move {
            let mut phone = Phone::connect(urls, i % 3).await;
            let (mut last, mut resent) = (0, 0);
            for k in 0..2 * VOTES {
                if k == VOTES {
                    barrier.wait().await;
                }
                last = (k + i as u64) % 2;
                let (sent, sent_at) = phone.vote(slide, last).await;
                resent += sent - 1;
                acked.fetch_add(1, Ordering::SeqCst);
                if killed_at.lock().unwrap().is_some_and(|kill| sent_at > kill) {
                    taken_over.lock().unwrap().get_or_insert_with(Instant::now);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (phone.id.clone(), last, resent)
        });
    }
    let total = PHONES as u64 * 2 * VOTES;
    // A third into the burst: kill -9 the owner.
    while acked.load(Ordering::SeqCst) < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = acked.load(Ordering::SeqCst);
    nodes[0].child.kill();
    let kill = Instant::now();
    *killed_at.lock().unwrap() = Some(kill);
    // Half-way, every phone waits while the test finds the log's leader; then, with
    // the burst going again, that NATS server is killed: one of three.
    barrier.wait().await;
    let leader = log_leader(&servers[1].url, &nodes[1].code).await;
    while acked.load(Ordering::SeqCst) < total * 2 / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_nats_kill = acked.load(Ordering::SeqCst);
    let nats_kill = Instant::now();
    servers[leader].child.kill();
    let phones = burst.join_all().await;
    let resent: u32 = phones.iter().map(|p| p.2).sum();
    eprintln!(
        "failover: {before} votes acknowledged before the owner was killed; the first vote \
         sent after it was acknowledged {:?} later; with {at_nats_kill} of {total} \
         acknowledged the NATS server leading the log (n{leader}) was killed, and the \
         burst ended {:?} later; {resent} votes sent again",
        taken_over.lock().unwrap().map(|t| t - kill),
        nats_kill.elapsed(),
    );
    assert_eq!(acked.load(Ordering::SeqCst), total);
    assert!(at_nats_kill < total, "the NATS server was killed mid-burst");

    // Every acknowledged vote counts, once: the tally is the ledger's.
    assert_eq!(phones.len(), PHONES);
    let b = phones.iter().filter(|p| p.1 == 1).count() as u64;
    let expected = vec![PHONES as u64 - b, b];
    let mut host = TestClient::hello(
        &nodes[2].ws_url(),
        json!({"type": "hello", "key": nodes[2].host_key}),
    )
    .await;
    let seen = host.wait_state(|s| tally(s) == expected).await;
    assert_eq!(seen["voted"], PHONES as u64);
    let report = report_json(&nodes[1], &nodes[1].host_key).await;
    assert_eq!(
        report["statements"][0]["rounds"][0]["counts"],
        json!(expected),
        "{report}"
    );
    drop(nodes.remove(0));
}

/// Appends through a writer and waits for the log's word.
async fn append(
    writer: &stemzaal::cluster::LogWriter,
    epoch: u64,
    events: Vec<stemzaal::core::session::Event>,
) -> Result<(), stemzaal::store::WriteFailed> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    writer
        .append(
            epoch,
            events,
            Box::new(move |outcome| drop(tx.send(outcome))),
        )
        .unwrap();
    rx.await.unwrap()
}

#[tokio::test]
async fn a_node_that_lost_its_session_cannot_append_to_the_log() {
    use stemzaal::cluster::{Attached, Claim, Cluster, LogWriter, LEASE_TTL};
    use stemzaal::core::session::Event;
    let Some(bin) = nats_or_skip("a_node_that_lost_its_session_cannot_append") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = single_nats(&bin, dir.path());
    let (a, b) = (
        Cluster::connect(&nats.url, 1).await.unwrap(),
        Cluster::connect(&nats.url, 1).await.unwrap(),
    );
    let code = "FENCE2";
    a.create_log(code).await.unwrap();
    let record = stemzaal::store::SessionRecord {
        code: code.into(),
        deck_name: "ingebouwd".into(),
        deck_source: stemzaal::core::deck::DEFAULT_DECK_SOURCE.into(),
        ..Default::default()
    };
    assert!(a.create_record(&record).await.unwrap());
    let Claim::Owner(revision) = a.claim(code).await.unwrap() else {
        panic!("a fresh session's lease is free");
    };
    assert!(matches!(b.claim(code).await.unwrap(), Claim::Held));
    let old = LogWriter::start(&a, code, revision, 0);
    let first = uuid::Uuid::new_v4();
    append(&old, 0, vec![Event::Joined { participant: first }])
        .await
        .unwrap();

    // Node a stalls: it stops renewing, and b, asked for the session, waits until
    // a's lease ran out and takes the session over from the log.
    let asked = Instant::now();
    let Attached::Owner { stored, .. } = b.attach(code).await.unwrap() else {
        panic!("b owns the session once a's lease expired");
    };
    assert!(asked.elapsed() >= LEASE_TTL / 2, "b waited for a's lease");
    assert_eq!(stored.events, vec![Event::Joined { participant: first }]);

    // Node a wakes up and appends on: refused, and it hears it lost the session.
    let late = uuid::Uuid::new_v4();
    let refused = append(&old, 0, vec![Event::Joined { participant: late }]).await;
    assert!(refused.is_err(), "a deposed owner appended");
    assert!(*old.deposed().borrow());
    // Whatever it tries after is refused at once, and the log holds only b's view.
    assert!(append(&old, 0, vec![]).await.is_err());
    let (events, _) = b.read_log(code).await.unwrap();
    assert_eq!(events, vec![Event::Joined { participant: first }]);
}

#[test]
fn the_nats_password_is_shown_neither_by_help_nor_when_the_connection_fails() {
    let secret = "geheim-wachtwoord-42";
    let url = format!("nats://stemzaal:{secret}@127.0.0.1:{}", free_port());
    let help = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .arg("--help")
        .env("STEMZAAL_NATS", &url)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--nats"), "{help}");
    assert!(!help.contains(secret), "{help}");

    let dir = tempfile::tempdir().unwrap();
    let failed = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(["--nats", &url, "--admin-password", "kraan-fiets-molen-tulp"])
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(
        said.contains("connecting to NATS at nats://…@127.0.0.1"),
        "{said}"
    );
    assert!(!said.contains(secret), "{said}");
}

#[tokio::test]
async fn an_append_the_log_cannot_take_is_refused_and_nothing_unstored_is_acknowledged() {
    use stemzaal::cluster::{Claim, Cluster, LogWriter};
    use stemzaal::core::session::Event;
    let Some(bin) = nats_or_skip("an_append_the_log_cannot_take_is_refused") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut nats = single_nats_on(&bin, dir.path(), port);
    let cluster = Cluster::connect(&nats.url, 1).await.unwrap();
    let code = "FAIL22";
    cluster.create_log(code).await.unwrap();
    let Claim::Owner(revision) = cluster.claim(code).await.unwrap() else {
        panic!("a fresh session's lease is free");
    };
    let writer = LogWriter::start(&cluster, code, revision, 0);
    let joined = |p| vec![Event::Joined { participant: p }];
    let (first, lost, next) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    append(&writer, 0, joined(first)).await.unwrap();

    // NATS goes away: the append is refused once its retries ran out, and so is the
    // rest of its epoch, at once.
    nats.child.kill();
    let refused = append(&writer, 0, joined(lost)).await;
    assert!(refused.is_err(), "an append without a log was acknowledged");
    assert!(!*writer.deposed().borrow());
    let at_once = Instant::now();
    assert!(append(&writer, 0, vec![]).await.is_err());
    assert!(at_once.elapsed() < Duration::from_secs(1));

    // NATS comes back with its streams. The next epoch is either stored, or, if the
    // refused batch reached the log after all, refused with the writer deposed (the
    // session is then read again from the log): never acknowledged without being
    // stored.
    let _nats = single_nats_on(&bin, dir.path(), port);
    let outcome = append(&writer, 1, joined(next)).await;
    let (events, _) = cluster.read_log(code).await.unwrap();
    assert_eq!(events.first(), joined(first).first(), "{events:?}");
    match outcome {
        Ok(()) => assert!(
            events.contains(&joined(next)[0]),
            "acknowledged, not stored: {events:?}"
        ),
        Err(_) => assert!(*writer.deposed().borrow(), "refused without a reason"),
    }
}

/// A deck of about 1 MB (the largest a deck may be is 1 MiB, NATS's largest message
/// by default): 400 slides of 2,500 bytes.
fn large_deck() -> String {
    let mut source = String::from("---\ntitle: Groot deck\n---\n");
    for n in 0..400 {
        source.push_str(&format!("\n## Bevinding {n}\n\n"));
        source.push_str(&"De raad kreeg de stukken op tijd. ".repeat(75));
        source.push_str("\n\n---\n");
    }
    source.push_str("\n## Stelling\n\nA) Ja\nB) Nee\n");
    assert!(
        source.len() > 990_000 && source.len() <= 1024 * 1024,
        "{}",
        source.len()
    );
    source
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_saved_on_one_node_outlives_it_and_starts_no_session_until_fixed() {
    let Some(bin) = nats_or_skip("a_draft_saved_on_one_node_outlives_it") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = single_nats(&bin, dir.path());
    let mut first = Node::start(&nats.url, 1, &dir.path().join("node0"));
    let console = Console::login(&first).await;
    let broken = "## Stelling\n\nA) Ja\n";
    let deck = json!({"name": "concept.md", "source": broken, "draft": true});
    let (status, draft) = console.call("POST", "/api/decks", Some(deck)).await;
    assert_eq!((status, &draft["draft"]), (201, &json!(true)), "{draft}");
    let id = draft["id"].as_i64().unwrap();

    // The node that stored it stops; a node started after it, on a data directory of
    // its own, reads the draft from NATS.
    first.child.kill();
    let second = Node::start(&nats.url, 1, &dir.path().join("node1"));
    let console = Console::login(&second).await;
    let path = format!("/api/decks/{id}");
    let (status, kept) = console.call("GET", &path, None).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(
        (&kept["draft"], &kept["version"], &kept["source"]),
        (&json!(true), &json!(1), &json!(broken))
    );
    let (_, listed) = console.call("GET", "/api/decks", None).await;
    let summary = listed["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == json!(id))
        .cloned();
    assert_eq!(summary.map(|d| d["draft"].clone()), Some(json!(true)));
    let start = json!({ "deck": id });
    let (status, refused) = console
        .call("POST", "/api/sessions", Some(start.clone()))
        .await;
    assert_eq!(
        (status, &refused["code"]),
        (409, &json!("deck_draft")),
        "{refused}"
    );
    assert_eq!(refused["errors"][0]["line"], 3, "{refused}");

    // Fixed, it is the next version, no draft, and a session starts on it.
    let fixed = json!({"source": format!("{broken}B) Nee\n"), "draft": true});
    let (status, saved) = console.call("PUT", &path, Some(fixed)).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (&saved["draft"], &saved["version"]),
        (&json!(false), &json!(2))
    );
    let (status, started) = console.call("POST", "/api/sessions", Some(start)).await;
    assert_eq!(status, 201, "{started}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_the_same_console_and_a_failed_write_changes_nothing() {
    let Some(bin) = nats_or_skip("every_node_serves_the_same_console") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut nats = single_nats_on(&bin, dir.path(), port);
    // Two nodes without --admin-password start at the same moment on an empty
    // cluster: one makes the password and shows it, one starts the session on the
    // built-in deck, which both serve, and the library gets one built-in deck.
    let starts: Vec<_> = (0..2)
        .map(|n| {
            let (url, data) = (nats.url.clone(), dir.path().join(format!("node{n}")));
            std::thread::spawn(move || Node::start_with(&url, 1, &data, None))
        })
        .collect();
    let nodes: Vec<Node> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let shown: Vec<&String> = nodes
        .iter()
        .filter_map(|n| n.shown_password.as_ref())
        .collect();
    assert_eq!(shown.len(), 1, "one node shows the new password");
    let password = shown[0].clone();
    assert_eq!(nodes[0].code, nodes[1].code, "one session for both");

    // A code no session can have is answered at once: it never becomes a NATS key.
    let asked = Instant::now();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", nodes[0].port).parse().unwrap();
    for path in ["/A*B%3EC", "/AB.CD.", "/report/A*B?key=x"] {
        let (status, _, _) = crate::support::http_request(addr, "GET", path, &[], b"").await;
        assert!(status == 404 || status == 403, "{path}: {status}");
    }
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );

    // A login on one node opens the console on the other.
    let a = Console::login_with(&nodes[0], &password).await;
    let b = a.on(&nodes[1]);
    let (status, decks) = b.call("GET", "/api/decks", None).await;
    assert_eq!(status, 200, "{decks}");
    let builtin: Vec<&Value> = decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["builtin"] == json!(true))
        .collect();
    assert_eq!(builtin.len(), 1, "{decks}");
    let builtin_id = builtin[0]["id"].as_i64().unwrap();

    // A deck uploaded on b is on a, with its versions; a large one whole.
    let v1 = "---\ntitle: Raad december\n---\n\n## Stelling\n\nA) Ja\nB) Nee\n";
    let (status, deck) = b
        .call(
            "POST",
            "/api/decks",
            Some(json!({"name": "raad.md", "source": v1})),
        )
        .await;
    assert_eq!(status, 201, "{deck}");
    let id = deck["id"].as_i64().unwrap();
    assert_ne!(id, builtin_id);
    let (_, listed) = a.call("GET", "/api/decks", None).await;
    assert!(
        listed["decks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == json!(id)),
        "{listed}"
    );
    let v2 = v1.replace("Ja", "Ja, nu");
    let (status, saved) = a
        .call(
            "PUT",
            &format!("/api/decks/{id}"),
            Some(json!({"source": v2, "name": "raad-v2.md"})),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let (_, newest) = b.call("GET", &format!("/api/decks/{id}"), None).await;
    assert_eq!(newest["version"], json!(2), "{newest}");
    assert_eq!(newest["name"], json!("raad-v2.md"));
    assert_eq!(newest["source"], json!(v2));
    assert_eq!(newest["versions"].as_array().unwrap().len(), 2);
    let (_, first) = b
        .call("GET", &format!("/api/decks/{id}?version=1"), None)
        .await;
    assert_eq!(first["source"], json!(v1));
    let large = large_deck();
    let (status, big) = a
        .call(
            "POST",
            "/api/decks",
            Some(json!({"name": "groot.md", "source": large})),
        )
        .await;
    assert_eq!(status, 201, "{}", big["code"]);
    let (_, read) = b
        .call("GET", &format!("/api/decks/{}", big["id"]), None)
        .await;
    assert_eq!(read["source"].as_str(), Some(large.as_str()));
    assert_eq!(read["slides"], json!(401));

    // A session with voting cards started from it on b is in a's list; a prints its
    // cards, and a phone on a that uses one is counted on a, read from the log.
    let (status, started) = b
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"deck": id, "cards": 3})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let code = started["code"].as_str().unwrap().to_owned();
    let counts = |sessions: &Value| {
        sessions["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == json!(code))
            .map(|s| s["cards"].clone())
    };
    let (_, sessions) = a.call("GET", "/api/sessions", None).await;
    assert_eq!(counts(&sessions), Some(json!({"issued": 3, "used": 0})));
    let (status, _, sheet) = crate::support::http_request(
        a.addr,
        "GET",
        &format!("/admin/cards/{code}"),
        &[("Cookie", a.cookie.as_str())],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let printed: Vec<String> = sheet
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.len() == 11 && stemzaal::core::cards::normalize(w).is_some())
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(printed.len(), 3, "{printed:?}");
    let phone = TestClient::hello(
        &format!("ws://{}/ws/{code}", a.addr),
        json!({"type": "hello", "card": printed[0]}),
    )
    .await;
    assert_eq!(phone.welcome["type"], "welcome", "{}", phone.welcome);
    let (_, sessions) = a.call("GET", "/api/sessions", None).await;
    assert_eq!(counts(&sessions), Some(json!({"issued": 3, "used": 1})));
    // The same card on a phone on b: one phone per card, across nodes.
    let mut phone = phone;
    let second = TestClient::hello(
        &format!("ws://{}/ws/{code}", b.addr),
        json!({"type": "hello", "card": printed[0]}),
    )
    .await;
    assert_eq!(second.participant_id(), phone.participant_id());
    assert_eq!(
        phone.closed_with_reason().await,
        (Some(4004), "card used elsewhere".to_owned())
    );

    // A deck deleted on a is gone on b; the built-in deck stays.
    let (status, _) = a.call("DELETE", &format!("/api/decks/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, gone) = b.call("GET", &format!("/api/decks/{id}"), None).await;
    assert_eq!((status, &gone["code"]), (404, &json!("unknown_deck")));
    let (status, kept) = b
        .call("DELETE", &format!("/api/decks/{builtin_id}"), None)
        .await;
    assert_eq!((status, &kept["code"]), (409, &json!("builtin_deck")));

    // A logout on b ends the login on a too.
    let (status, _) = b.call("POST", "/api/logout", None).await;
    assert_eq!(status, 204);
    let (status, refused) = a.call("GET", "/api/decks", None).await;
    assert_eq!((status, &refused["code"]), (401, &json!("login_required")));

    // A new password made against the cluster reaches the running nodes at once.
    let reset = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args([
            "--nats",
            &nats.url,
            "--nats-replicas",
            "1",
            "admin",
            "reset-password",
        ])
        .arg("--data")
        .arg(dir.path().join("reset"))
        .output()
        .unwrap();
    assert!(reset.status.success(), "{reset:?}");
    let said = String::from_utf8_lossy(&reset.stdout);
    let new_password = said
        .lines()
        .find_map(|l| l.strip_prefix("new admin password: "))
        .expect("the new password")
        .trim()
        .to_owned();
    let old = Console::try_login(&nodes[1], &password).await;
    assert!(
        matches!(&old, Err((401, _))),
        "the old password still works"
    );
    let a = Console::login_with(&nodes[0], &new_password).await;
    let b = Console::login_with(&nodes[1], &new_password).await;

    // Without NATS every console write and read is refused and says why; when NATS
    // is back, nothing of the refused writes is there and the console works again.
    let (_, before) = a.call("GET", "/api/decks", None).await;
    nats.child.kill();
    let (status, refused) = a
        .call(
            "POST",
            "/api/decks",
            Some(json!({"name": "nieuw.md", "source": v1})),
        )
        .await;
    assert_eq!(
        (status, &refused["code"]),
        (503, &json!("storage_unavailable"))
    );
    let (status, refused) = b.call("GET", "/api/decks", None).await;
    assert_eq!(
        (status, &refused["code"]),
        (503, &json!("storage_unavailable"))
    );
    let refused = Console::try_login(&nodes[1], &new_password).await;
    assert!(matches!(&refused, Err((503, _))), "a login without NATS");
    nats = single_nats_on(&bin, dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let (status, after) = b.call("GET", "/api/decks", None).await;
        if status == 200 {
            break after;
        }
        assert!(Instant::now() < deadline, "no console after NATS came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(after, before);
    let (status, _) = a
        .call(
            "POST",
            "/api/decks",
            Some(json!({"name": "nieuw.md", "source": v1})),
        )
        .await;
    assert_eq!(status, 201);
    drop(nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_flooded_with_forwarded_votes_keeps_its_lease_and_its_views_flowing() {
    let Some(bin) = nats_or_skip("an_owner_flooded_with_forwarded_votes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = single_nats(&bin, dir.path());
    // The first node creates the session and owns it; every phone is on the second.
    let owner = Node::start(&nats.url, 1, &dir.path().join("owner"));
    let other = Node::start(&nats.url, 1, &dir.path().join("other"));
    assert_eq!(owner.code, other.code);
    let mut host = other.host().await;
    let slide = open_first_statement(&mut host).await;
    let mut phones = vec![];
    for _ in 0..400 {
        phones.push(TestClient::hello(&other.ws_url(), json!({"type": "hello"})).await);
    }
    let mut screen = other.screen().await;
    // The owner's views on NATS are the heartbeat the other nodes watch: published on
    // every change and repeated every VIEW_REPEAT even when nothing changed.
    let watcher = async_nats::connect(&nats.url).await.unwrap();
    let mut heartbeat = watcher
        .subscribe(format!("sz.{}.view.>", owner.code))
        .await
        .unwrap();
    watcher.flush().await.unwrap();

    // Every phone sends its whole burst allowance at once, each vote a change, without
    // waiting: 16,000 requests forwarded to the owner as fast as the node takes them.
    const VOTES: u64 = 40;
    let flood = Instant::now();
    for phone in &mut phones {
        for n in 0..VOTES {
            phone
                .send(json!({"type": "vote", "id": n + 1, "slide": slide, "round": 1, "option": n % 2}))
                .await;
        }
    }
    let voting = tokio::spawn(async move {
        let mut acked = 0;
        for mut phone in phones {
            let mut answered = 0;
            while answered < VOTES {
                let message = phone
                    .next_message()
                    .await
                    .expect("no phone is disconnected");
                if message["id"].is_u64() {
                    assert_eq!(message["type"], "ack", "{message}");
                    answered += 1;
                    acked += 1;
                }
            }
        }
        acked
    });
    // Meanwhile the owner's heartbeat never stops for as long as the other nodes would
    // take for the owner's death.
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    while !voting.is_finished() {
        match tokio::time::timeout(Duration::from_millis(100), heartbeat.next()).await {
            Ok(message) => {
                assert!(message.is_some(), "the subscription to the views ended");
                longest = longest.max(last.elapsed());
                last = Instant::now();
            }
            Err(_) => longest = longest.max(last.elapsed()),
        }
    }
    let acked = voting.await.unwrap();
    eprintln!(
        "{acked} votes acknowledged in {:?}; longest silence of the owner's views {longest:?}",
        flood.elapsed()
    );
    assert_eq!(acked, 400 * VOTES);
    assert!(
        longest < stemzaal::cluster::OWNER_SILENT,
        "the owner's views stopped for {longest:?}"
    );
    // Each phone's last vote (the 40th) was option 1: the screen comes to show that
    // (through the older states it holds), or the wait fails.
    screen.wait_state(|s| tally(s) == [0, 400]).await;
    drop((owner, other));
}

mod map;
mod media;
mod order;
mod seams;
