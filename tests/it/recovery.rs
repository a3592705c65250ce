//! Never lose a vote: restart recovery in-process, and SIGKILL of the real binary in the
//! middle of a burst of votes.

use crate::support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{json, Value};
use stemzaal::store::{Durability, Store};
use support::{first_statement, TestClient, TestServer};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

#[tokio::test]
async fn a_restarted_hub_rebuilds_slide_phase_votes_and_keys_from_the_log() {
    let server = TestServer::start().await;
    let slide = first_statement(&server.session.deck()) as u64;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    host.send(json!({"type": "reveal", "visible": true})).await;
    let mut ids = vec![];
    for i in 0..5u64 {
        let mut phone = server.participant().await;
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        assert_eq!(phone.vote(slide, 1, i % 2).await["type"], "ack");
        ids.push(phone.participant_id());
    }
    host.wait_state(|s| s["voted"] == 5 && s["revealed"] == true)
        .await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();

    let (_copy, hub) = server.restarted_hub();
    let restored = hub.restore_open().unwrap();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0], code);
    assert!(hub.get(&code).is_none(), "loaded only when first used");
    let again = hub
        .find(&code.to_ascii_lowercase())
        .await
        .unwrap()
        .expect("the session is back under its code");
    assert_eq!(again.host_key().expose(), host_key);
    let mut state = again.subscribe(stemzaal::wire::protocol::Role::Host);
    let view: Value = serde_json::from_str(&state.borrow_and_update().state).unwrap();
    assert_eq!(view["slide"]["index"], slide);
    assert_eq!(view["slide"]["phase"], "open");
    assert_eq!(view["revealed"], true);
    assert_eq!(view["tally"], json!([3, 2]));
    assert_eq!(view["joined"], 5);
    // A phone finds its own vote after the restart.
    let info = again
        .join(Some(ids[1].parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.votes.len(), 1);
    assert_eq!(info.votes[0].option, 1);
    // Opening the default deck again reuses the restored session instead of a new one.
    let deck = again.deck().clone();
    let (reused, was_reused) = hub
        .open_or_reuse(
            deck.clone(),
            stemzaal::core::deck::DEFAULT_DECK_SOURCE,
            false,
        )
        .await
        .unwrap();
    assert_eq!(was_reused, stemzaal::hub::Opened::Resumed);
    assert_eq!(reused.code(), code);
    let (fresh, was_reused) = hub
        .open_or_reuse(deck, stemzaal::core::deck::DEFAULT_DECK_SOURCE, true)
        .await
        .unwrap();
    assert_eq!(was_reused, stemzaal::hub::Opened::New);
    assert_ne!(fresh.code(), code);
    drop(server);
}

#[tokio::test]
async fn only_open_sessions_come_back_and_each_loads_when_first_used() {
    let server = TestServer::start().await;
    let deck = server.session.deck();
    let source = stemzaal::core::deck::DEFAULT_DECK_SOURCE;
    let second = server.hub.create(deck.clone(), source).await.unwrap();
    let third = server.hub.create(deck, source).await.unwrap();
    let mut phone = TestClient::hello(
        &format!("ws://{}/ws/{}", server.addr, third.code()),
        json!({"type": "hello"}),
    )
    .await;
    let (closed, open) = (third.code().to_owned(), second.code().to_owned());
    // A vote stored before the close counts in the closed session's report.
    let slide = first_statement(&third.deck()) as u64;
    let mut host = TestClient::hello(
        &format!("ws://{}/ws/{closed}", server.addr),
        json!({"type": "hello", "key": third.host_key().expose()}),
    )
    .await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(slide, 1, 0).await["type"], "ack");
    assert!(server.hub.close(&closed).await.unwrap().is_ok());

    let (_copy, hub) = server.restarted_hub();
    let mut restored = hub.restore_open().unwrap();
    restored.sort();
    let mut want = vec![server.code().to_owned(), open.clone()];
    want.sort();
    assert_eq!(restored, want, "the closed session is not restored");
    assert!(hub.get(&open).is_none() && hub.get(server.code()).is_none());
    assert!(hub.find(&closed).await.unwrap().is_none());
    assert!(hub.find(&open).await.unwrap().is_some());
    assert!(
        hub.get(server.code()).is_none(),
        "only what is used is loaded"
    );
    let report = hub
        .report(&closed)
        .await
        .unwrap()
        .expect("the closed one's report");
    let round = &report.statements[0].rounds[0];
    assert_eq!(round.counts, [1, 0], "the vote before the close counts");
}

// ----- the crash test: the real binary, SIGKILL, restart, resend -----

const PHONES: usize = 200;
const VOTES_PER_PHONE: usize = 25;
const KILLS: usize = 3;

pub(crate) struct Server {
    pub(crate) child: Child,
}

impl Server {
    /// Sends SIGTERM, as a service manager's stop does.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Sends SIGTERM and waits for the process to end; returns how it ended.
    pub(crate) async fn stop(mut self) -> std::process::ExitStatus {
        self.terminate();
        tokio::task::spawn_blocking(move || self.child.wait().expect("wait for the server"))
            .await
            .expect("the waiting task")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary and returns it with the host key read from its banner.
pub(crate) fn start_binary(addr: SocketAddr, data: &Path) -> (Server, String, String) {
    // A pipe, passed on: the tests' own stderr may be a file (a CI log), and under the
    // fault test's file-size limit the server's log writes to it would fail.
    start_binary_logging(addr, data, Stdio::piped())
}

/// Starts the binary with its log going to `stderr`.
fn start_binary_logging(addr: SocketAddr, data: &Path, stderr: Stdio) -> (Server, String, String) {
    start_binary_with(addr, data, &[], stderr)
}

/// Starts the binary with more arguments (`--deck FILE`) and its log going to `stderr`.
pub(crate) fn start_binary_with(
    addr: SocketAddr,
    data: &Path,
    args: &[&str],
    stderr: Stdio,
) -> (Server, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", &addr.to_string(), "--data"])
        .arg(data)
        .args(args)
        .env("STEMZAAL_PUBLIC_URL", format!("http://{addr}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start stemzaal");
    let stdout = child.stdout.take().unwrap();
    if let Some(mut stderr) = child.stderr.take() {
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::stderr()));
    }
    let server = Server { child };
    let mut host_url = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("banner line");
        if let Some(url) = line.split_whitespace().find(|w| w.contains("/host/")) {
            host_url = Some(url.to_owned());
            break;
        }
    }
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let host_url = host_url.expect("the banner names the host URL");
    let (path, key) = host_url.split_once("?key=").unwrap();
    let code = path.rsplit('/').next().unwrap().to_owned();
    (server, code, key.to_owned())
}

#[derive(Default)]
struct Tally {
    acked: AtomicU64,
    reconnects: AtomicU64,
    recovered: AtomicU64,
    lost: AtomicU64,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, hello: &Value) -> Option<(Ws, Value)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
    ws.send(Message::text(hello.to_string())).await.ok()?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = msg {
            let value: Value = serde_json::from_str(&text).ok()?;
            if value["type"] == "welcome" {
                return Some((ws, value));
            }
        }
    }
}

/// One phone: votes its plan one by one, waiting for each ack; after a lost connection
/// it reconnects with its id, checks what the server recovered, and resends.
async fn phone(url: String, slide: u64, plan: Vec<u64>, tally: Arc<Tally>) -> u64 {
    let id = Uuid::new_v4();
    let hello = json!({"type": "hello", "participant_id": id});
    let mut next = 0;
    let mut last_acked: Option<u64> = None;
    let mut pending: Option<(u64, u64)> = None;
    let mut msg_id = 0u64;
    let mut first = true;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    'connection: loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "phone {id} ran out of time"
        );
        let Some((mut ws, welcome)) = connect(&url, &hello).await else {
            let pause = 20 + rand::thread_rng().gen_range(0..40);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            continue;
        };
        if !first {
            tally.reconnects.fetch_add(1, Ordering::Relaxed);
            let stored = welcome["votes"]
                .as_array()
                .and_then(|v| v.iter().find(|v| v["slide"] == slide))
                .map(|v| v["option"].as_u64().unwrap());
            let ok = stored == last_acked || (pending.is_some() && stored == pending.map(|p| p.1));
            if ok {
                tally.recovered.fetch_add(1, Ordering::Relaxed);
            } else {
                eprintln!(
                    "phone {id}: stored {stored:?}, acked {last_acked:?}, pending {pending:?}"
                );
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        first = false;
        loop {
            if pending.is_none() {
                if next == plan.len() {
                    ws.close(None).await.ok();
                    return last_acked.expect("a vote");
                }
                msg_id += 1;
                pending = Some((msg_id, plan[next]));
                next += 1;
            }
            let (pid, option) = pending.unwrap();
            let vote =
                json!({"type": "vote", "id": pid, "slide": slide, "round": 1, "option": option});
            if ws.send(Message::text(vote.to_string())).await.is_err() {
                continue 'connection;
            }
            loop {
                let msg = match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => {
                        serde_json::from_str::<Value>(&text).unwrap()
                    }
                    Ok(Some(Ok(_))) => continue,
                    _ => continue 'connection,
                };
                match msg["type"].as_str() {
                    Some("ack") if msg["id"] == pid => {
                        last_acked = Some(option);
                        pending = None;
                        tally.acked.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some("error") => panic!("phone {id}: vote refused: {msg}"),
                    _ => {}
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_no_acknowledged_vote() {
    let data = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (mut server, code, key) = start_binary(addr, data.path());
    let url = format!("ws://{addr}/ws/{code}");
    let deck = stemzaal::core::deck::Deck::default_deck();
    let slide = first_statement(&deck) as u64;

    let mut host = TestClient::hello(&url, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    host.send(json!({"type": "reveal", "visible": true})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open" && s["revealed"] == true)
        .await;
    host.close().await;

    let tally = Arc::new(Tally::default());
    let mut phones = vec![];
    for _ in 0..PHONES {
        let plan: Vec<u64> = {
            let mut rng = rand::thread_rng();
            (0..VOTES_PER_PHONE).map(|_| rng.gen_range(0..2)).collect()
        };
        phones.push(tokio::spawn(phone(url.clone(), slide, plan, tally.clone())));
    }
    // Kill at random points of the burst, measured in acknowledged votes, so every kill
    // lands while votes are in flight however fast the machine is.
    let mut thresholds: Vec<u64> = {
        let mut rng = rand::thread_rng();
        let total = (PHONES * VOTES_PER_PHONE) as u64;
        (0..KILLS)
            .map(|_| rng.gen_range(total / 10..total * 9 / 10))
            .collect()
    };
    thresholds.sort_unstable();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for (round, threshold) in thresholds.into_iter().enumerate() {
        while tally.acked.load(Ordering::Relaxed) < threshold {
            assert!(tokio::time::Instant::now() < deadline, "the burst stalled");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let before = tally.acked.load(Ordering::Relaxed);
        drop(server); // SIGKILL, then reap
        eprintln!("kill {}: {before} votes acked so far", round + 1);
        let (again, code_again, key_again) = start_binary(addr, data.path());
        assert_eq!(code_again, code, "the restart resumes the same session");
        assert_eq!(key_again, key);
        server = again;
    }
    let mut last = vec![];
    for p in phones {
        last.push(p.await.expect("phone task"));
    }
    let mut expected = [0u64; 2];
    for &choice in &last {
        expected[choice as usize] += 1;
    }
    let mut host = TestClient::hello(&url, json!({"type": "hello", "key": key})).await;
    // The view follows the acks within a tick; wait for it (a wrong tally times out).
    let want = json!(expected);
    let state = host
        .wait_state(|s| s["slide"]["index"] == slide && s["tally"] == want)
        .await;
    let acked = tally.acked.load(Ordering::Relaxed);
    let lost = tally.lost.load(Ordering::Relaxed);
    println!(
        "crash test: {PHONES} phones, {acked} votes acked, {KILLS} kills, {} reconnects, {} recovered, {lost} lost",
        tally.reconnects.load(Ordering::Relaxed),
        tally.recovered.load(Ordering::Relaxed),
    );
    assert_eq!(
        acked,
        (PHONES * VOTES_PER_PHONE) as u64,
        "every vote was acked in the end"
    );
    assert!(acked >= 5000);
    assert_eq!(lost, 0, "an acknowledged vote was lost");
    assert!(
        tally.reconnects.load(Ordering::Relaxed) > 0,
        "the kills cut connections"
    );
    assert_eq!(state["voted"], PHONES as u64, "no phone counts twice");
    assert_eq!(
        state["tally"],
        json!(expected),
        "the tally is what the phones last chose"
    );
    drop(server);
}

#[test]
fn the_store_sets_wal_and_the_chosen_durability_and_refuses_a_newer_schema() {
    use rusqlite::Connection;
    for (durability, level) in [(Durability::Normal, 1), (Durability::Full, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(stemzaal::store::DB_FILE);
        // The connection every writer gets, with its pragmas and migrated schema.
        let conn = stemzaal::store::connect(&path, durability).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, level, "{durability:?}");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, stemzaal::store::SCHEMA_VERSION);
    }
    // A database written by a newer stemzaal is refused with a clear message.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(stemzaal::store::DB_FILE);
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(dir.path(), Durability::Normal)
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("schema version 99"), "{err:#}");
}

// ----- a failing disk: the real binary under a file-size limit -----

const FAULT_PHONES: usize = 40;
const FAULT_VOTES_PER_PHONE: usize = 30;

#[derive(Default)]
struct FaultTally {
    acked: AtomicU64,
    refused: AtomicU64,
    /// Set while the disk is cut off and the host has been told.
    cut_off: std::sync::atomic::AtomicBool,
    /// Acks, while cut off, that changed a phone's vote (its first such ack aside: it
    /// may have been sent before the cut).
    changed_while_cut_off: AtomicU64,
}

/// One phone that keeps a refused vote and sends it again, as docs/protocol.md tells
/// clients to; returns its id and the last option the server acknowledged.
async fn patient_phone(
    url: String,
    slide: u64,
    plan: Vec<u64>,
    tally: Arc<FaultTally>,
) -> (Uuid, u64) {
    let id = Uuid::new_v4();
    let hello = json!({"type": "hello", "participant_id": id});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last_acked = None;
    let mut acked_while_cut_off = false;
    let mut msg_id = 0u64;
    let (mut ws, _) = connect(&url, &hello).await.expect("the phone connects");
    for option in plan {
        msg_id += 1;
        'resend: loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "phone {id} ran out of time"
            );
            let vote =
                json!({"type": "vote", "id": msg_id, "slide": slide, "round": 1, "option": option});
            ws.send(Message::text(vote.to_string())).await.unwrap();
            loop {
                let msg = match tokio::time::timeout(support::WAIT, ws.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => {
                        serde_json::from_str::<Value>(&text).unwrap()
                    }
                    Ok(Some(Ok(_))) => continue,
                    other => panic!("phone {id}: connection lost: {other:?}"),
                };
                match msg["type"].as_str() {
                    Some("ack") if msg["id"] == msg_id => {
                        assert_eq!(msg["option"], option);
                        if tally.cut_off.load(Ordering::Relaxed) {
                            // A vote equal to the stored one is rightly acked: it is
                            // stored. One that changes the vote cannot be.
                            if acked_while_cut_off && last_acked != Some(option) {
                                tally.changed_while_cut_off.fetch_add(1, Ordering::Relaxed);
                            }
                            acked_while_cut_off = true;
                        }
                        last_acked = Some(option);
                        tally.acked.fetch_add(1, Ordering::Relaxed);
                        break 'resend;
                    }
                    Some("error") if msg["code"] == "storage_unavailable" => {
                        assert_eq!(msg["id"], msg_id, "the refusal names the vote");
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'resend;
                    }
                    Some("error") => panic!("phone {id}: vote refused: {msg}"),
                    _ => {}
                }
            }
        }
    }
    ws.close(None).await.ok();
    (id, last_acked.expect("a vote was acked"))
}

/// Sets the (soft) file-size limit of a running process: past it, a write fails with
/// EFBIG, as on a full disk. The hard limit stays, so the soft one can be raised again.
pub(crate) fn limit_file_size(server: &Server, bytes: u64) {
    let pid = server.child.id() as i32;
    let (mut soft, mut hard) = (0, 0);
    rlimit::prlimit(
        pid,
        rlimit::Resource::FSIZE,
        None,
        Some((&mut soft, &mut hard)),
    )
    .expect("read the file-size limit of the server");
    rlimit::prlimit(
        pid,
        rlimit::Resource::FSIZE,
        Some((bytes.min(hard), hard)),
        None,
    )
    .expect("set the file-size limit of the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_never_acknowledged_and_nothing_acknowledged_is_lost() {
    let data = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (server, code, key) = start_binary(addr, data.path());
    let url = format!("ws://{addr}/ws/{code}");
    let slide = first_statement(&stemzaal::core::deck::Deck::default_deck()) as u64;
    let mut host = TestClient::hello(&url, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open" && s["storage"] == "ok")
        .await;

    let tally = Arc::new(FaultTally::default());
    let mut phones = vec![];
    for _ in 0..FAULT_PHONES {
        let plan: Vec<u64> = {
            let mut rng = rand::thread_rng();
            (0..FAULT_VOTES_PER_PHONE)
                .map(|_| rng.gen_range(0..2))
                .collect()
        };
        phones.push(tokio::spawn(patient_phone(
            url.clone(),
            slide,
            plan,
            tally.clone(),
        )));
    }
    // Cut the disk off a quarter into the burst, while votes are in flight.
    let total = (FAULT_PHONES * FAULT_VOTES_PER_PHONE) as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tally.acked.load(Ordering::Relaxed) < total / 4 {
        assert!(tokio::time::Instant::now() < deadline, "the burst stalled");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    limit_file_size(&server, 1);
    let failing = host.wait_state(|s| s["storage"] == "failing").await;
    tally.cut_off.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(700)).await;
    tally.cut_off.store(false, Ordering::Relaxed);
    assert_eq!(
        tally.changed_while_cut_off.load(Ordering::Relaxed),
        0,
        "no changed vote is acknowledged while the disk cannot write"
    );
    let refused = tally.refused.load(Ordering::Relaxed);
    assert!(
        refused > 0,
        "the phones were told their votes were not stored"
    );
    // Space returns: voting resumes by itself.
    limit_file_size(&server, rlimit::INFINITY);
    host.wait_state(|s| s["storage"] == "ok").await;
    let mut ledger = vec![];
    for p in phones {
        ledger.push(p.await.expect("phone task"));
    }
    assert_eq!(tally.acked.load(Ordering::Relaxed), total);
    host.close().await;

    // The acknowledged votes are on disk: kill -9, restart, and ask each phone's vote.
    drop(server);
    let (server, code_again, _) = start_binary(addr, data.path());
    assert_eq!(code_again, code);
    let mut expected = [0u64; 2];
    let mut lost = 0;
    for (id, acked) in &ledger {
        expected[*acked as usize] += 1;
        let hello = json!({"type": "hello", "participant_id": id});
        let (_, welcome) = connect(&url, &hello).await.expect("the phone reconnects");
        let stored: Vec<u64> = welcome["votes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["slide"] == slide)
            .map(|v| v["option"].as_u64().unwrap())
            .collect();
        if stored != [*acked] {
            eprintln!("phone {id}: acked {acked}, stored {stored:?}");
            lost += 1;
        }
    }
    let mut host = TestClient::hello(&url, json!({"type": "hello", "key": key})).await;
    let state = host.wait_state(|s| s["slide"]["index"] == slide).await;
    println!(
        "fault test: {FAULT_PHONES} phones, {total} votes acked, {refused}+ refusals while \
         the disk was cut off, {lost} lost; host saw {}",
        failing["storage"]
    );
    assert_eq!(lost, 0, "an acknowledged vote was lost");
    assert_eq!(state["voted"], FAULT_PHONES as u64, "no phone counts twice");
    assert_eq!(state["tally"], json!(expected));
    drop(server);
}

// ----- a graceful stop -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_socket_with_1001_checkpoints_and_exits_0_within_5_s() {
    let data = tempfile::tempdir().unwrap();
    let crate::stop::Voting {
        mut server,
        url,
        slide,
        mut host,
        addr,
        ..
    } = crate::stop::voting_on_binary(data.path()).await;
    let mut phone = TestClient::hello(&url, json!({"type": "hello"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(slide, 1, 1).await["type"], "ack");
    let id = phone.participant_id();

    let stopped_at = std::time::Instant::now();
    server.terminate();
    for client in [&mut phone, &mut host] {
        let (code, reason) = client.closed_with_reason().await;
        assert_eq!(code, Some(1001), "a stop closes with 1001");
        assert_eq!(reason, "server stopping");
    }
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("graceful stop took {:?}", stopped_at.elapsed());
    assert!(exit.success(), "exit status {exit}");
    let wal = data
        .path()
        .join(format!("{}-wal", stemzaal::store::DB_FILE));
    let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_bytes, 0, "the WAL is folded into the database");

    let (server, _, _) = start_binary(addr, data.path());
    let hello = json!({"type": "hello", "participant_id": id});
    let (_, welcome) = connect(&url, &hello).await.expect("the phone reconnects");
    assert_eq!(
        welcome["votes"][0]["option"], 1,
        "the vote survived the stop"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_on_the_full_disk_does_not_bring_the_server_down() {
    let data = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(data.path().join("stemzaal.log")).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (server, code, key) = start_binary_logging(addr, data.path(), log.into());
    let url = format!("ws://{addr}/ws/{code}");
    let slide = first_statement(&stemzaal::core::deck::Deck::default_deck()) as u64;
    let mut host = TestClient::hello(&url, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = TestClient::hello(&url, json!({"type": "hello"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    // The disk is full for the database and for the log beside it: the refused write
    // is logged, and that log line cannot be written either.
    limit_file_size(&server, 1);
    assert_eq!(phone.vote(slide, 1, 1).await["code"], "storage_unavailable");
    host.wait_state(|s| s["storage"] == "failing").await;
    limit_file_size(&server, rlimit::INFINITY);
    assert_eq!(phone.vote(slide, 1, 1).await["type"], "ack");
    let exit = server.stop().await;
    assert!(
        exit.success(),
        "the server ran on and stopped cleanly: {exit}"
    );
}
