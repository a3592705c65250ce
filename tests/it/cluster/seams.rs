//! Cluster mode at its seams: nodes starting together, pages a node cannot serve yet,
//! a takeover as the other nodes' pages see it, a NATS outage in the log, and errors
//! of JetStream that no retry heals. Real `nats-server` processes and real nodes.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{free_port, nats_cluster, Node, Process, PASSWORD};
use crate::nats::nats_or_skip;

/// A node's standard error, kept as it is written.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Lines that contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}

/// Starts a node without waiting for it; its standard error goes to a [`Log`]. It
/// binds a port the system picks ([`banner`] reads which): ten nodes given ports found
/// free a moment before could meet one taken meanwhile.
fn spawn_node(nats: &str, replicas: u8, data: &Path) -> (Child, Log) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(["--nats", nats, "--nats-replicas", &replicas.to_string()])
        .args(["--admin-password", PASSWORD])
        .env("RUST_LOG", "stemzaal=info,warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stemzaal");
    let log = Log::default();
    let mut stderr = child.stderr.take().unwrap();
    let kept = log.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
            kept.0.lock().unwrap().push_str(&text);
        }
    });
    (child, log)
}

/// Reads a started node's banner; `Err` with its exit status and log if it ended
/// (or printed nothing within `within`) instead.
fn banner(mut child: Child, log: &Log, within: Duration) -> Result<Node, String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = vec![];
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            let done = line.contains("Data:");
            seen.push(line);
            if done {
                break;
            }
        }
        tx.send(seen).ok();
        for _ in lines {}
    });
    let seen = rx.recv_timeout(within).unwrap_or_default();
    let key = |l: &str| l.rsplit("key=").next().unwrap().trim().to_owned();
    let find = |what: &str| seen.iter().find(|l| l.contains(what)).cloned();
    let (Some(code), Some(host), Some(screen)) = (find("Code:"), find("/host/"), find("/screen/"))
    else {
        child.kill().ok();
        let status = child.wait().ok();
        return Err(format!("ended with {status:?}; its log:\n{}", log.text()));
    };
    // The port the system gave it, from the host link: `http://127.0.0.1:PORT/host/…`.
    let port = host
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| format!("no port in the banner's host link: {host}"))?;
    Ok(Node {
        child: Process(child),
        port,
        code: code.split_whitespace().last().unwrap().to_owned(),
        host_key: key(&host),
        screen_key: key(&screen),
        shown_password: None,
    })
}

/// A phone's hello on `url`: the welcome, or what the server answered instead and the
/// close code (`None`: closed without a close frame).
async fn try_hello(url: &str, hello: Value) -> Result<Value, (Vec<Value>, Option<u16>)> {
    let Ok(Ok((mut ws, _))) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    else {
        return Err((vec![], None));
    };
    ws.send(Message::text(hello.to_string())).await.ok();
    let mut said = vec![];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == "welcome" {
                    return Ok(message);
                }
                said.push(message);
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err((said, frame.map(|f| f.code.into())));
            }
            Ok(Some(Ok(_))) => {}
            _ => return Err((said, None)),
        }
    }
}

/// How many rounds the start-up test runs (`STEMZAAL_START_ROUNDS` for more).
fn start_rounds() -> usize {
    std::env::var("STEMZAAL_START_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

/// Ten nodes started at the same instant on a NATS cluster that has just started
/// (three servers, three replicas): every node comes up, and all serve one session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_at_the_same_instant_on_an_empty_cluster_all_serve_one_session() {
    let Some(bin) = nats_or_skip("nodes_started_at_the_same_instant") else {
        return;
    };
    const NODES: usize = 10;
    for round in 0..start_rounds() {
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let servers = nats_cluster(&bin, dir.path());
        let urls = servers
            .iter()
            .map(|s| s.url.clone())
            .collect::<Vec<_>>()
            .join(",");
        let spawned: Vec<_> = (0..NODES)
            .map(|i| spawn_node(&urls, 3, &dir.path().join(format!("node{i}"))))
            .collect();
        let logs: Vec<Log> = spawned.iter().map(|s| s.1.clone()).collect();
        let waits: Vec<_> = spawned
            .into_iter()
            .map(|(child, log)| {
                std::thread::spawn(move || banner(child, &log, Duration::from_secs(60)))
            })
            .collect();
        let mut nodes = vec![];
        for (i, wait) in waits.into_iter().enumerate() {
            match wait.join().unwrap() {
                Ok(node) => nodes.push(node),
                Err(why) => panic!("round {round}: node {i} did not come up: {why}"),
            }
        }
        let up = started.elapsed();
        let code = &nodes[0].code;
        for (i, node) in nodes.iter().enumerate() {
            assert_eq!(
                &node.code, code,
                "round {round}: node {i} serves another session"
            );
            let welcome = try_hello(&node.ws_url(), json!({"type": "hello"})).await;
            assert!(welcome.is_ok(), "round {round}: node {i}: {welcome:?}");
        }
        let waited = logs.iter().filter(|l| l.count("waiting for") > 0).count();
        eprintln!(
            "round {round}: {NODES} nodes up {up:?} after the start of NATS; {waited} logged \
             what they waited for"
        );
        drop(nodes);
        drop(servers);
    }
}

/// A single NATS server asked for three replicas: the node says so at once, names the
/// option that mends it and exits with its own status, instead of trying for a minute.
#[test]
fn replicas_a_single_nats_server_cannot_keep_are_reported_at_once() {
    let Some(bin) = nats_or_skip("replicas_a_single_nats_server_cannot_keep") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = super::single_nats(&bin, dir.path());
    let (mut child, log) = spawn_node(&nats.url, 3, &dir.path().join("node"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the node still tries after 10 s; its log:\n{}", log.text());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(100));
    let said = log.text();
    assert_eq!(status.code(), Some(78), "{said}");
    assert!(said.contains("--nats-replicas 1"), "{said}");
    assert!(said.contains("10074"), "{said}");
    assert_eq!(log.count("waiting for NATS JetStream"), 0, "{said}");
}

/// Three nodes on one NATS server; the first started the session and owns it.
fn three_nodes(bin: &Path, dir: &Path) -> (super::Nats, Vec<Node>) {
    let nats = super::single_nats(bin, dir);
    let nodes = (0..3)
        .map(|i| Node::start(&nats.url, 1, &dir.join(format!("node{i}"))))
        .collect();
    (nats, nodes)
}

/// Says `hello` on `urls` in turn (as the phone `id`, or as a new one) until welcomed;
/// returns the welcome and every refusal on the way.
async fn hello_until_welcomed(
    urls: &[String],
    id: Option<String>,
) -> (Value, Vec<(Vec<Value>, Option<u16>)>) {
    let hello = match id {
        Some(id) => json!({"type": "hello", "participant_id": id}),
        None => json!({"type": "hello"}),
    };
    let mut refused = vec![];
    let deadline = Instant::now() + Duration::from_secs(30);
    for url in urls.iter().cycle() {
        assert!(Instant::now() < deadline, "never welcomed: {refused:?}");
        match try_hello(url, hello.clone()).await {
            Ok(welcome) => return (welcome, refused),
            Err(refusal) => refused.push(refusal),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!("the urls cycle")
}

/// While the owner is dead and no node has taken its session over, the other nodes
/// answer every phone's `hello`: with `session_unavailable` and the close 1013, never
/// by dropping the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_serve_a_phone_yet_says_so_and_closes_with_1013() {
    let Some(bin) = nats_or_skip("a_node_that_cannot_serve_a_phone_yet") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_nats, mut nodes) = three_nodes(&bin, dir.path());
    let mut ids = vec![];
    for _ in 0..10 {
        let welcome = try_hello(&nodes[0].ws_url(), json!({"type": "hello"})).await;
        ids.push(
            welcome.unwrap()["participant_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let others = vec![nodes[1].ws_url(), nodes[2].ws_url()];
    nodes[0].child.kill();
    // The dead node's phones come back on the others, and new phones arrive.
    let mut phones = tokio::task::JoinSet::new();
    for id in ids.into_iter().map(Some).chain([None, None, None, None]) {
        let urls = others.clone();
        phones.spawn(async move { hello_until_welcomed(&urls, id).await });
    }
    let mut refusals = vec![];
    while let Some(joined) = phones.join_next().await {
        let (welcome, refused) = joined.unwrap();
        assert_eq!(welcome["type"], "welcome");
        refusals.extend(refused);
    }
    assert!(
        !refusals.is_empty(),
        "no phone came while the session had no owner"
    );
    // Each refusal is documented: `session_unavailable` and 1013 while no node serves
    // the session, or 1001 from a node whose forwarding ends as the new owner takes
    // over (its pages reconnect at once). Never a connection dropped without a frame.
    let unavailable_code = json!("session_unavailable");
    let unavailable = vec![&unavailable_code];
    for (said, close) in &refusals {
        let codes: Vec<&Value> = said.iter().map(|m| &m["code"]).collect();
        let documented = (codes == unavailable && *close == Some(1013))
            || (codes.is_empty() && *close == Some(1001));
        assert!(
            documented,
            "{said:?} {close:?} of {} refusals",
            refusals.len()
        );
    }
    assert!(
        refusals.iter().any(|(_, close)| *close == Some(1013)),
        "some hello met the session without an owner"
    );
    eprintln!("{} hellos refused while the owner changed", refusals.len());
}

/// When the owner dies, the pages on every other node are closed with 1001 (the
/// proxies end: a connection never hears answers from two owners), come back and
/// vote on, also where a node took the session over while the others still proxied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_owner_dies_every_other_node_closes_its_pages_with_1001_and_they_come_back() {
    let Some(bin) = nats_or_skip("when_the_owner_dies_every_other_node") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_nats, mut nodes) = three_nodes(&bin, dir.path());
    let mut host = nodes[1].host().await;
    let slide = super::open_first_statement(&mut host).await;
    let mut screen = nodes[2].screen().await;
    let dead = try_hello(&nodes[0].ws_url(), json!({"type": "hello"})).await;
    let dead = dead.unwrap()["participant_id"].as_str().unwrap().to_owned();
    let mut phones = vec![];
    for node in [1, 2, 1, 2] {
        let url = nodes[node].ws_url();
        let phone = crate::support::TestClient::hello(&url, json!({"type": "hello"})).await;
        phones.push((node, phone));
    }
    nodes[0].child.kill();
    // The dead node's phone is back first on node 1, which takes the session over
    // while node 2 may still proxy the dead owner.
    let back = vec![nodes[1].ws_url()];
    let (welcome, _) = hello_until_welcomed(&back, Some(dead)).await;
    assert_eq!(welcome["type"], "welcome");
    let server_stopping = (Some(1001), "server stopping".to_owned());
    assert_eq!(host.closed_with_reason().await, server_stopping, "host");
    assert_eq!(screen.closed_with_reason().await, server_stopping, "screen");
    for (node, phone) in &mut phones {
        assert_eq!(
            phone.closed_with_reason().await,
            server_stopping,
            "a phone on node {node}"
        );
    }
    // Every page comes back on its node, and the room votes on.
    let mut host = nodes[1].host().await;
    let mut screen = nodes[2].screen().await;
    for (i, (node, phone)) in phones.iter().enumerate() {
        let mut phone = crate::support::TestClient::hello(
            &nodes[*node].ws_url(),
            json!({"type": "hello", "participant_id": phone.participant_id()}),
        )
        .await;
        phone
            .send(json!({"type": "vote", "id": 1, "slide": slide, "round": 1, "option": i % 2}))
            .await;
        assert_eq!(phone.wait_for("ack").await["option"], json!(i % 2));
    }
    host.wait_state(|s| super::tally(s) == vec![2, 2]).await;
    screen.wait_state(|s| super::tally(s) == vec![2, 2]).await;
}

/// Waits until a node's log has a line with `needle`.
async fn logged(log: &Log, needle: &str, within: Duration) {
    logged_any(log, &[needle], within).await;
}

/// Waits until a node's log has a line with one of `needles`.
async fn logged_any(log: &Log, needles: &[&str], within: Duration) {
    let deadline = Instant::now() + within;
    while needles.iter().all(|needle| log.count(needle) == 0) {
        assert!(
            Instant::now() < deadline,
            "none of {needles:?} in:\n{}",
            log.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The NATS server goes away while a phone votes and comes back: the node logs the
/// outage (of its connection, its log's writes and its session's lease) once when it
/// starts and once when it ends, and what it refused meanwhile;
/// the vote is stored once NATS is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_is_logged_once_as_it_starts_and_once_as_it_ends_with_what_was_refused() {
    let Some(bin) = nats_or_skip("a_nats_outage_is_logged") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut nats = super::single_nats_on(&bin, dir.path(), port);
    let (child, log) = spawn_node(&nats.url, 1, &dir.path().join("node"));
    let node = banner(child, &log, Duration::from_secs(60)).unwrap();
    let mut host = node.host().await;
    let slide = super::open_first_statement(&mut host).await;
    let mut phone = super::Phone::connect(vec![node.ws_url()], 0).await;
    phone.vote(slide, 0).await;

    nats.child.kill();
    let voting = tokio::spawn(async move {
        phone.vote(slide, 1).await;
    });
    logged(&log, "refused 1 change(s)", Duration::from_secs(40)).await;
    let _nats = super::single_nats_on(&bin, dir.path(), port);
    tokio::time::timeout(Duration::from_secs(60), voting)
        .await
        .expect("the vote is stored once NATS is back")
        .unwrap();
    let mut host = node.host().await;
    host.wait_state(|s| super::tally(s) == vec![0, 1]).await;
    logged(&log, "connected to NATS again", Duration::from_secs(10)).await;
    // The lease's outage ends with the lease renewed or, when a change the node had
    // refused reached the log after all (its NATS client sends what waited once it is
    // connected again), with the session read again under a new one; each said once.
    let renewed = "lease is renewed again";
    let read_again = "the session is read again from its log";
    logged_any(&log, &[renewed, read_again], Duration::from_secs(10)).await;
    let said = log.text();
    assert_eq!(log.count("cannot renew the session's lease"), 1, "{said}");
    assert!(
        log.count(renewed) <= 1 && log.count(read_again) <= 1,
        "{said}"
    );
    // No other node exists to take the session.
    assert_eq!(
        log.count("another node took this session over"),
        0,
        "{said}"
    );
    assert_eq!(log.count("lost the connection to NATS"), 1, "{said}");
    assert_eq!(log.count("connected to NATS again"), 1, "{said}");
    assert_eq!(log.count("does not take appends"), 1, "{said}");
    assert!(log.count("refused 1 change(s)") >= 1, "{said}");
    eprintln!("{said}");
}
