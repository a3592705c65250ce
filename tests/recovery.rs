//! Never lose a vote: restart recovery in-process, and SIGKILL of the real binary in the
//! middle of a burst of votes.

mod support;

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
use stemzaal::deck::SlideKind;
use stemzaal::hub::Hub;
use stemzaal::store::{Durability, Store};
use support::{TestClient, TestServer};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

fn first_statement(deck: &stemzaal::deck::Deck) -> usize {
    deck.slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .expect("a statement")
}

#[tokio::test]
async fn a_restarted_hub_rebuilds_slide_phase_votes_and_keys_from_the_log() {
    let server = TestServer::start().await;
    let slide = first_statement(server.session.deck()) as u64;
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

    // A second hub on the same data directory, as after a restart.
    let store = Store::open(server.data.path(), Durability::Normal).unwrap();
    let hub = Arc::new(Hub::new(store, "http://127.0.0.1".into()));
    let restored = hub.restore_all().unwrap();
    assert_eq!(restored.len(), 1);
    let again = hub.get(&code).expect("the session is back under its code");
    assert_eq!(again.host_key().expose(), host_key);
    let mut state = again.subscribe(stemzaal::protocol::Role::Host);
    let view: Value = serde_json::from_str(&state.borrow_and_update()).unwrap();
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
        .open_or_reuse(deck.clone(), stemzaal::deck::DEFAULT_DECK_SOURCE, false)
        .await
        .unwrap();
    assert!(was_reused);
    assert_eq!(reused.code(), code);
    let (fresh, was_reused) = hub
        .open_or_reuse(deck, stemzaal::deck::DEFAULT_DECK_SOURCE, true)
        .await
        .unwrap();
    assert!(!was_reused);
    assert_ne!(fresh.code(), code);
    drop(server);
}

// ----- the crash test: the real binary, SIGKILL, restart, resend -----

const PHONES: usize = 200;
const VOTES_PER_PHONE: usize = 25;
const KILLS: usize = 3;

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary and returns it with the host key read from its banner.
fn start_binary(addr: SocketAddr, data: &Path) -> (Server, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", &addr.to_string(), "--data"])
        .arg(data)
        .env("STEMZAAL_PUBLIC_URL", format!("http://{addr}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start stemzaal");
    let stdout = child.stdout.take().unwrap();
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
    let deck = stemzaal::deck::Deck::default_deck();
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
