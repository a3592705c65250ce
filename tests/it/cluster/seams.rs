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

/// Starts a node without waiting for it; its standard error goes to a [`Log`].
fn spawn_node(nats: &str, replicas: u8, data: &Path) -> (Child, u16, Log) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data"])
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
    (child, port, log)
}

/// Reads a started node's banner; `Err` with its exit status and log if it ended
/// (or printed nothing within `within`) instead.
fn banner(mut child: Child, port: u16, log: &Log, within: Duration) -> Result<Node, String> {
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
        let logs: Vec<Log> = spawned.iter().map(|s| s.2.clone()).collect();
        let waits: Vec<_> = spawned
            .into_iter()
            .map(|(child, port, log)| {
                std::thread::spawn(move || banner(child, port, &log, Duration::from_secs(60)))
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
    let (mut child, _, log) = spawn_node(&nats.url, 3, &dir.path().join("node"));
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
