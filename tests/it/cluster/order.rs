//! Answers in the order a phone sent its votes, across a cluster's failures: phones
//! that send without waiting for answers, three nodes on three NATS servers, the
//! server leading the session's log killed mid-burst and then the owner. Real
//! `nats-server` processes and real nodes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{log_leader, open_first_statement, replicated_nodes, tally, Node};
use crate::nats::nats_or_skip;
use crate::support::TestClient;

const PHONES: usize = 45;
/// Votes each phone sends, one every [`PACE`], answered or not.
const VOTES: u64 = 60;
const PACE: Duration = Duration::from_millis(50);

/// What one connection of a phone heard.
#[derive(Debug, Default)]
struct Heard {
    node: usize,
    /// Ids of the votes sent on it, in order.
    sent: Vec<u64>,
    /// Each answer: its id, and the option an `ack` named (`None`: an error).
    answers: Vec<(u64, Option<u64>)>,
    /// How it ended: its close code, `None` without a close frame; not at all while
    /// still open at the end.
    closed: Option<Option<u16>>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Says hello on the nodes from `at` on until welcomed; the socket and the node.
async fn join(urls: &[String], mut at: usize, id: &mut Option<String>) -> (Socket, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "a phone cannot get back in");
        let hello = match id {
            Some(id) => json!({"type": "hello", "participant_id": id}),
            None => json!({"type": "hello"}),
        };
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(&urls[at]),
        )
        .await;
        if let Ok(Ok((mut ws, _))) = connected {
            if ws.send(Message::text(hello.to_string())).await.is_ok() {
                while let Ok(Some(Ok(message))) =
                    tokio::time::timeout(Duration::from_secs(10), ws.next()).await
                {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["type"] == "welcome" {
                        *id = message["participant_id"].as_str().map(str::to_owned);
                        return (ws, at);
                    }
                }
            }
        }
        at = (at + 1) % urls.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads what a connection hears until it closes or `until` passes.
async fn listen(ws: &mut Socket, heard: &mut Heard, until: Instant) {
    while let Ok(next) = tokio::time::timeout_at(until, ws.next()).await {
        match next {
            Some(Ok(Message::Text(text))) => {
                let m: Value = serde_json::from_str(&text).unwrap();
                if let (Some(id), "ack" | "error") = (m["id"].as_u64(), m["type"].as_str().unwrap())
                {
                    heard.answers.push((id, m["option"].as_u64()));
                }
            }
            Some(Ok(Message::Close(frame))) => {
                heard.closed = Some(frame.map(|f| f.code.into()));
                return;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                heard.closed = Some(None);
                return;
            }
        }
    }
}

/// One phone: sends [`VOTES`] votes at its pace on whichever node takes it, never
/// waiting for an answer, then hears the answers out. Its number, its participant
/// id, and every connection it had.
async fn phone(
    i: usize,
    urls: Vec<String>,
    slide: u64,
    sent: Arc<AtomicU64>,
) -> (usize, (String, Vec<Heard>)) {
    let mut id = None;
    let (mut ws, mut node) = join(&urls, i % urls.len(), &mut id).await;
    let mut connections = vec![Heard {
        node,
        ..Heard::default()
    }];
    let mut next = 1;
    while next <= VOTES {
        let heard = connections.last_mut().unwrap();
        let vote = json!({"type": "vote", "id": next, "slide": slide, "round": 1,
            "option": (next + i as u64) % 2});
        if ws.send(Message::text(vote.to_string())).await.is_ok() {
            heard.sent.push(next);
            sent.fetch_add(1, Ordering::SeqCst);
            next += 1;
        }
        listen(&mut ws, heard, Instant::now() + PACE).await;
        if heard.closed.is_some() {
            (ws, node) = join(&urls, (node + 1) % urls.len(), &mut id).await;
            connections.push(Heard {
                node,
                ..Heard::default()
            });
        }
    }
    // Hears the answers out: each vote on this connection is answered (or it closes).
    let heard = connections.last_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    while heard.closed.is_none() && heard.answers.len() < heard.sent.len() {
        assert!(Instant::now() < deadline, "phone {i}: {heard:?}");
        listen(&mut ws, heard, Instant::now() + Duration::from_millis(200)).await;
    }
    (i, (id.expect("welcomed"), connections))
}

/// Phones that send their votes without waiting hear them answered in the order they
/// sent them, while the NATS server leading the session's log is killed mid-burst and
/// then the owner: each connection's answers come in send order, so the last `ack` a
/// phone heard names the newest vote answered; only the killed node's pages lose
/// their connection without a close frame; and after each phone makes sure of a last
/// vote, the tally is exactly those votes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_hears_its_answers_in_send_order_while_a_nats_server_and_the_owner_die() {
    let Some(bin) = nats_or_skip("a_phone_hears_its_answers_in_send_order") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut servers, mut nodes) = replicated_nodes(&bin, dir.path());
    let mut host = nodes[1].host().await;
    let slide = open_first_statement(&mut host).await;
    let leader = log_leader(&servers[1].url, &nodes[1].code).await;
    let ws_urls: Vec<String> = nodes.iter().map(Node::ws_url).collect();

    let sent = Arc::new(AtomicU64::new(0));
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..PHONES {
        burst.spawn(phone(i, ws_urls.clone(), slide, sent.clone()));
    }
    let total = PHONES as u64 * VOTES;
    let wait_for = |share: u64| {
        let sent = sent.clone();
        async move {
            while sent.load(Ordering::SeqCst) < total * share / 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(1).await;
    servers[leader].child.kill();
    wait_for(2).await;
    nodes[0].child.kill();
    let mut phones: Vec<(String, Vec<Heard>)> = vec![];
    let mut finished = burst.join_all().await;
    finished.sort_by_key(|(i, _)| *i);
    phones.extend(finished.into_iter().map(|(_, phone)| phone));

    let (mut answers, mut refused, mut connections) = (0, 0, 0);
    for (i, (_, phone)) in phones.iter().enumerate() {
        for heard in phone {
            connections += 1;
            answers += heard.answers.len();
            refused += heard.answers.iter().filter(|a| a.1.is_none()).count();
            let ids: Vec<u64> = heard.answers.iter().map(|a| a.0).collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "phone {i} on node {}: answers out of send order {ids:?}",
                heard.node
            );
            for (id, option) in &heard.answers {
                assert!(heard.sent.contains(id), "phone {i}: an answer to {id}");
                if let Some(option) = option {
                    assert_eq!(
                        *option,
                        (id + i as u64) % 2,
                        "phone {i}: ack of {id} {heard:?}"
                    );
                }
            }
            let documented = match heard.closed {
                None | Some(Some(1001 | 1013)) => true,
                Some(None) => heard.node == 0,
                Some(Some(_)) => false,
            };
            assert!(documented, "phone {i} on node {}: {heard:?}", heard.node);
        }
    }
    eprintln!(
        "{PHONES} phones sent {total} votes on {connections} connections; {answers} \
         answers in send order, {refused} of them refusals"
    );
    assert!(
        phones.iter().any(|p| p.1.len() > 1),
        "the owner died while phones were sending"
    );

    // Each phone makes sure of its last vote, as protocol.md tells a client: the
    // tally is exactly those.
    let living = vec![ws_urls[1].clone(), ws_urls[2].clone()];
    let mut expected = vec![0u64, 0];
    for (i, (id, _)) in phones.into_iter().enumerate() {
        let option = i % 2;
        expected[option] += 1;
        make_sure(&living, Some(id), slide, option).await;
    }
    let mut host = TestClient::hello(
        &nodes[2].ws_url(),
        json!({"type": "hello", "key": nodes[2].host_key}),
    )
    .await;
    let state = host.wait_state(|s| tally(s) == expected).await;
    assert_eq!(state["voted"], PHONES as u64);
}

/// Sends a phone's last vote until it is acknowledged.
async fn make_sure(urls: &[String], mut id: Option<String>, slide: u64, option: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut at = 0;
    while Instant::now() < deadline {
        let (mut ws, node) = join(urls, at, &mut id).await;
        at = node;
        let vote =
            json!({"type": "vote", "id": 1000, "slide": slide, "round": 1, "option": option});
        if ws.send(Message::text(vote.to_string())).await.is_err() {
            continue;
        }
        let mut heard = Heard::default();
        let until = Instant::now() + Duration::from_secs(20);
        while heard.closed.is_none() && heard.answers.is_empty() && Instant::now() < until {
            listen(
                &mut ws,
                &mut heard,
                Instant::now() + Duration::from_millis(50),
            )
            .await;
        }
        if heard
            .answers
            .first()
            .is_some_and(|a| a.1 == Some(option as u64))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("a last vote was never acknowledged");
}
