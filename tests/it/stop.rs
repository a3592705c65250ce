//! A graceful stop of the real binary: every open socket hears its close frame (1001
//! "server stopping") before the process exits, on SIGTERM and on SIGINT alike.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::recovery::{free_port, start_binary, Server};
use crate::support::{first_statement, TestClient};

/// Phones connected when the stop comes: the room the stop was first seen to fail in.
const PHONES: usize = 100;

/// Sockets opened and not yet past `hello` when the stop comes (a phone whose `hello`
/// is still on its way).
const SILENT: usize = 5;

/// Stops per signal: the close frames race the process's exit, so one clean run proves
/// little.
const RUNS: usize = 3;

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A phone that has joined (its `welcome` and first `state` read), with its id.
pub(crate) async fn joined(url: &str) -> (Ws, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    ws.send(Message::text(json!({"type": "hello"}).to_string()))
        .await
        .expect("send hello");
    let mut id = None;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a state in time")
            .expect("the socket open")
            .expect("a message");
        if let Message::Text(text) = msg {
            let value: Value = serde_json::from_str(&text).expect("JSON");
            if value["type"] == "welcome" {
                id = value["participant_id"].as_str().map(str::to_owned);
            }
            if value["type"] == "state" {
                return (ws, id.expect("a welcome before the state"));
            }
        }
    }
}

/// The real binary on a fresh port with the default deck, its first statement's vote
/// open.
pub(crate) struct Voting {
    pub(crate) server: Server,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The session's join code.
    pub(crate) code: String,
    /// Its host key.
    pub(crate) key: String,
    /// The session's WebSocket URL.
    pub(crate) url: String,
    /// The statement whose vote is open.
    pub(crate) slide: u64,
    /// The host's socket, which opened it.
    pub(crate) host: TestClient,
}

/// Starts the binary on `data` and opens the vote of the default deck's first statement.
pub(crate) async fn voting_on_binary(data: &Path) -> Voting {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (server, code, key) = start_binary(addr, data);
    let url = format!("ws://{addr}/ws/{code}");
    let slide = first_statement(&stemzaal::core::deck::Deck::default_deck()) as u64;
    let mut host = TestClient::hello(&url, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    Voting {
        server,
        addr,
        code,
        key,
        url,
        slide,
        host,
    }
}

/// How a socket that sends nothing ended (see [`voting`]).
async fn ending(mut ws: Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Err(_) => panic!("the socket neither closed nor ended within 10 s"),
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code.into()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Votes on `slide` as a phone in a lively room does (a new vote once the last one
/// was answered, a few a second) until the socket ends; returns how it ended: its close
/// code, or `None` for an end without a close frame (what a browser reports as 1006).
async fn voting(mut ws: Ws, slide: u64) -> Option<u16> {
    let mut id = 0u64;
    let mut next_vote = tokio::time::Instant::now();
    loop {
        let wait = tokio::time::sleep_until(next_vote);
        tokio::select! {
            () = wait => {
                id += 1;
                let vote = json!({"type": "vote", "id": id, "slide": slide, "round": 1, "option": id % 2});
                // A socket the server has closed ends the loop below.
                ws.send(Message::text(vote.to_string())).await.ok();
                next_vote = tokio::time::Instant::now() + Duration::from_millis(150);
            }
            msg = tokio::time::timeout(Duration::from_secs(10), ws.next()) => match msg {
                Err(_) => panic!("the socket neither closed nor ended within 10 s"),
                Ok(None | Some(Err(_))) => return None,
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code.into()),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// Starts the binary, opens a vote, connects [`PHONES`] phones that keep voting and
/// [`SILENT`] sockets that say nothing, sends `signal` and returns how each socket (the
/// host's last) ended, and the exit status.
async fn stop_with(signal: &str) -> (Vec<Option<u16>>, std::process::ExitStatus) {
    let data = tempfile::tempdir().unwrap();
    let Voting {
        mut server,
        url,
        slide,
        mut host,
        ..
    } = voting_on_binary(data.path()).await;
    let mut phones = Vec::with_capacity(PHONES);
    for _ in 0..PHONES {
        phones.push(joined(&url).await.0);
    }
    let endings: Vec<_> = phones
        .into_iter()
        .map(|ws| tokio::spawn(voting(ws, slide)))
        .collect();
    let mut silent = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        let (ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        silent.push(tokio::spawn(ending(ws)));
    }
    // Votes are on their way from every phone when the signal comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} failed");
    let mut codes = Vec::with_capacity(PHONES);
    for ending in endings {
        codes.push(ending.await.expect("the reading task"));
    }
    for ending in silent {
        codes.push(ending.await.expect("the reading task"));
    }
    codes.push(host.closed().await);
    let exit = tokio::task::spawn_blocking(move || server.child.wait().expect("wait"))
        .await
        .expect("the waiting task");
    (codes, exit)
}

async fn every_socket_hears_1001(signal: &str) {
    for run in 1..=RUNS {
        let (codes, exit) = stop_with(signal).await;
        let other = codes.iter().filter(|c| **c != Some(1001)).count();
        println!(
            "{signal} run {run}: {other} of {} sockets ended without 1001",
            codes.len()
        );
        assert_eq!(
            other, 0,
            "{signal}, run {run}: every socket closes with 1001; got {codes:?}"
        );
        assert!(exit.success(), "{signal}, run {run}: exit status {exit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_each_of_100_sockets_with_1001() {
    every_socket_hears_1001("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_closes_each_of_100_sockets_with_1001() {
    every_socket_hears_1001("INT").await;
}
