//! A failover through the whole cluster, from outside: three nodes on three NATS
//! servers, phones that send votes without waiting for answers and keep a ledger of
//! what they sent and heard; the owner killed (`kill -9`) mid-burst and then, once
//! another node serves the session, the NATS server leading its log. Real
//! `nats-server` processes and real nodes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{log_leader, open_first_statement, replicated_nodes, tally, Node};
use crate::nats::nats_or_skip;
use crate::support::TestClient;

const PHONES: usize = 45;
/// Votes each phone sends, one every [`PACE`], answered or not. The pace stays below
/// what `welcome.limits` allows a connection over the whole burst (10 a second after
/// a burst of 40), so no vote is `rate_limited`.
const VOTES: u64 = 90;
const PACE: Duration = Duration::from_millis(70);

/// The option vote `id` of phone `i` names: a phone changes its mind at every vote, so
/// an older vote counting instead of a newer one shows in the tally.
fn option(i: usize, id: u64) -> u64 {
    (id + i as u64) % 2
}

/// An answer to a vote: the option an `ack` names, or the code of an `error`.
type Answer = Result<u64, String>;

/// A close frame's code and reason; `None` for an end without one (1006).
type Close = Option<(u16, String)>;

/// What one connection of a phone heard.
#[derive(Debug, Default)]
struct Heard {
    node: usize,
    /// Ids of the votes sent on it, in order.
    sent: Vec<u64>,
    /// Each answer to a vote, with the vote's id.
    answers: Vec<(u64, Answer)>,
    /// How it ended; `None` while still open at the end.
    closed: Option<Close>,
}

/// A `hello` that did not get a `welcome`.
#[derive(Debug)]
enum Refused {
    /// Nothing took the connection (nothing listens: the killed node).
    Unreachable,
    /// No answer and no end within 10 s.
    Silent,
    /// The error it heard (its code), if any, and how the socket ended.
    Ended(Option<String>, Close),
}

/// What `docs/protocol.md` allows a live node to answer a `hello` it cannot take here:
/// "Error codes" lists `session_unavailable` ("in cluster mode … the session's owner
/// died and no node has taken it over yet") and `storage_unavailable` ("in answer to
/// `hello`, without `id`, then closed (1013)"); "Close codes" gives 1013 their reasons,
/// and 1001 `server stopping` "also on every node when the session moves to another
/// node", "a socket that has not yet sent `hello` gets this close too".
fn documented_refusal(refused: &Refused) -> bool {
    let Refused::Ended(code, Some((close, reason))) = refused else {
        return false;
    };
    matches!(
        (code.as_deref(), close, reason.as_str()),
        (Some("session_unavailable"), 1013, "session unavailable")
            | (Some("storage_unavailable"), 1013, "storage unavailable")
            | (None, 1001, "server stopping")
    )
}

/// How the test and its phones follow the failover.
#[derive(Default)]
struct Progress {
    /// Votes sent, by all phones.
    sent: AtomicU64,
    /// When the owner was killed.
    owner_killed: OnceLock<Instant>,
    /// Phones that heard an `ack` for a vote they sent after the owner was killed.
    back: AtomicU64,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Says hello on the nodes from `at` on until welcomed, as protocol.md tells a client
/// (after 1013 a pause of a second or more, growing); the socket, the node and the
/// `welcome`. Every refusal on the way is kept in `refusals`, with its node.
async fn join(
    urls: &[String],
    mut at: usize,
    id: &mut Option<String>,
    refusals: &mut Vec<(usize, Refused)>,
) -> (Socket, usize, Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_secs(1);
    loop {
        assert!(
            Instant::now() < deadline,
            "a phone cannot get back in: {refusals:?}"
        );
        let hello = match id {
            Some(id) => json!({"type": "hello", "participant_id": id}),
            None => json!({"type": "hello"}),
        };
        let refused = match tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(&urls[at]),
        )
        .await
        {
            Ok(Ok((mut ws, _))) => match hear_welcome(&mut ws, hello).await {
                Ok(welcome) => {
                    *id = welcome["participant_id"].as_str().map(str::to_owned);
                    return (ws, at, welcome);
                }
                Err(refused) => refused,
            },
            _ => Refused::Unreachable,
        };
        let wait = match &refused {
            Refused::Ended(_, Some((1013, _))) => {
                let wait = pause;
                pause = (pause * 3 / 2).min(Duration::from_secs(3));
                wait
            }
            _ => Duration::from_millis(100),
        };
        refusals.push((at, refused));
        at = (at + 1) % urls.len();
        tokio::time::sleep(wait).await;
    }
}

/// Sends `hello` and reads up to its `welcome`, or what came instead.
async fn hear_welcome(ws: &mut Socket, hello: Value) -> Result<Value, Refused> {
    if ws.send(Message::text(hello.to_string())).await.is_err() {
        return Err(Refused::Ended(None, None));
    }
    let mut error = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Err(_) => return Err(Refused::Silent),
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                match message["type"].as_str() {
                    Some("welcome") => return Ok(message),
                    Some("error") => error = message["code"].as_str().map(str::to_owned),
                    _ => {}
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let close = frame.map(|f| (f.code.into(), f.reason.to_string()));
                return Err(Refused::Ended(error, close));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return Err(Refused::Ended(error, None)),
        }
    }
}

/// Reads what a connection hears until it closes or `until` passes.
async fn listen(ws: &mut Socket, heard: &mut Heard, until: Instant) {
    while let Ok(next) = tokio::time::timeout_at(until, ws.next()).await {
        match next {
            Some(Ok(Message::Text(text))) => {
                let m: Value = serde_json::from_str(&text).unwrap();
                let Some(id) = m["id"].as_u64() else {
                    continue;
                };
                match m["type"].as_str() {
                    Some("ack") => heard.answers.push((id, Ok(m["option"].as_u64().unwrap()))),
                    Some("error") => {
                        let code = m["code"].as_str().unwrap_or_default().to_owned();
                        heard.answers.push((id, Err(code)));
                    }
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => {
                heard.closed = Some(frame.map(|f| (f.code.into(), f.reason.to_string())));
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

/// What a phone sent and heard.
#[derive(Debug, Default)]
struct Ledger {
    id: String,
    connections: Vec<Heard>,
    refusals: Vec<(usize, Refused)>,
}

/// One phone: sends [`VOTES`] votes at its pace on whichever node takes it, never
/// waiting for an answer and never sending one again (each vote is newer than the one
/// before), then hears the answers out.
async fn phone(i: usize, urls: Vec<String>, slide: u64, progress: Arc<Progress>) -> Ledger {
    let mut ledger = Ledger::default();
    let mut id = None;
    let (mut ws, mut node, _) = join(&urls, i % urls.len(), &mut id, &mut ledger.refusals).await;
    ledger.connections.push(Heard {
        node,
        ..Heard::default()
    });
    // The first vote sent after the owner died, until one such is acknowledged.
    let mut after_kill: Option<u64> = None;
    let mut back = false;
    let mut next = 1;
    while next <= VOTES {
        let heard = ledger.connections.last_mut().unwrap();
        let vote = json!({"type": "vote", "id": next, "slide": slide, "round": 1,
            "option": option(i, next)});
        if ws.send(Message::text(vote.to_string())).await.is_ok() {
            heard.sent.push(next);
            progress.sent.fetch_add(1, Ordering::SeqCst);
            if after_kill.is_none() && progress.owner_killed.get().is_some() {
                after_kill = Some(next);
            }
            next += 1;
        }
        listen(&mut ws, heard, Instant::now() + PACE).await;
        if !back
            && after_kill.is_some_and(|first| {
                heard
                    .answers
                    .iter()
                    .any(|(id, a)| *id >= first && a.is_ok())
            })
        {
            back = true;
            progress.back.fetch_add(1, Ordering::SeqCst);
        }
        if heard.closed.is_some() {
            (ws, node, _) = join(
                &urls,
                (node + 1) % urls.len(),
                &mut id,
                &mut ledger.refusals,
            )
            .await;
            ledger.connections.push(Heard {
                node,
                ..Heard::default()
            });
        }
    }
    // Hears the answers out: each vote on this connection is answered (or it closes).
    let heard = ledger.connections.last_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    while heard.closed.is_none() && heard.answers.len() < heard.sent.len() {
        assert!(Instant::now() < deadline, "phone {i}: {heard:?}");
        listen(&mut ws, heard, Instant::now() + Duration::from_millis(200)).await;
    }
    ws.close(None).await.ok();
    ledger.id = id.expect("welcomed");
    ledger
}

/// The options phone `i` may hold after its burst: that of its last acknowledged vote,
/// or of a vote sent after it and not answered (its answer may have been lost with a
/// connection). Never an older vote's; none only when no vote was acknowledged.
fn may_hold(i: usize, ledger: &Ledger) -> Vec<Option<u64>> {
    let answered: BTreeMap<u64, &Answer> = ledger
        .connections
        .iter()
        .flat_map(|c| c.answers.iter().map(|(id, a)| (*id, a)))
        .collect();
    let last_ack = answered
        .iter()
        .filter(|(_, a)| a.is_ok())
        .map(|(id, _)| *id)
        .max();
    let mut allowed: Vec<Option<u64>> = match last_ack {
        Some(id) => vec![Some(option(i, id))],
        None => vec![None],
    };
    let unanswered = ledger
        .connections
        .iter()
        .flat_map(|c| &c.sent)
        .filter(|id| Some(**id) > last_ack && !answered.contains_key(id));
    for id in unanswered {
        allowed.push(Some(option(i, *id)));
    }
    allowed.sort();
    allowed.dedup();
    allowed
}

/// Waits until `done`, failing at `deadline`.
async fn wait_until(what: &str, deadline: Instant, done: impl Fn() -> bool) {
    while !done() {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Phones that send their votes without waiting, through the owner's `kill -9` in the
/// middle of their burst and then, once another node serves the session, the NATS
/// server leading its log: each connection's answers come in send order and an `ack`
/// names the vote's option; every refused vote is `storage_unavailable`; every refused
/// `hello` has a documented code and close; only the killed node's connections end
/// without a close frame; and afterwards, read back through `welcome.votes`, each phone
/// holds its last acknowledged vote or a newer one it sent and never heard answered,
/// never an older one, and the tally counts exactly the votes held, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_owner_then_the_log_leader_in_a_burst_keeps_each_ledger_in_send_order() {
    let Some(bin) = nats_or_skip("killing_the_owner_then_the_log_leader_in_a_burst") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut servers, mut nodes) = replicated_nodes(&bin, dir.path());
    // The first node created the session, so it owns it.
    let mut host = nodes[1].host().await;
    let slide = open_first_statement(&mut host).await;
    let ws_urls: Vec<String> = nodes.iter().map(Node::ws_url).collect();

    let progress = Arc::new(Progress::default());
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..PHONES {
        burst.spawn({
            let (urls, progress) = (ws_urls.clone(), progress.clone());
            async move { (i, phone(i, urls, slide, progress).await) }
        });
    }
    let total = PHONES as u64 * VOTES;
    let deadline = Instant::now() + Duration::from_secs(60);
    // A fifth into the burst: kill -9 the owner.
    wait_until("a fifth of the votes sent", deadline, || {
        progress.sent.load(Ordering::SeqCst) >= total / 5
    })
    .await;
    nodes[0].child.kill();
    let killed = Instant::now();
    progress.owner_killed.set(killed).unwrap();
    let at_owner_kill = progress.sent.load(Ordering::SeqCst);
    // Once half the phones have a vote sent since acknowledged, another node owns the
    // session: kill the NATS server leading its log, while the burst goes on.
    wait_until("half the phones acknowledged again", deadline, || {
        progress.back.load(Ordering::SeqCst) >= PHONES as u64 / 2
    })
    .await;
    let taken_over = killed.elapsed();
    let leader = log_leader(&servers[1].url, &nodes[1].code).await;
    servers[leader].child.kill();
    let at_leader_kill = progress.sent.load(Ordering::SeqCst);
    assert!(
        at_leader_kill < total * 9 / 10,
        "the log's leader died in the burst: {at_leader_kill} of {total} votes sent"
    );
    let mut phones: Vec<(usize, Ledger)> = burst.join_all().await;
    phones.sort_by_key(|(i, _)| *i);
    let phones: Vec<Ledger> = phones.into_iter().map(|(_, ledger)| ledger).collect();
    let burst_took = killed.elapsed();

    let mut connections = 0;
    let mut acks = 0;
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut closes: BTreeMap<String, usize> = BTreeMap::new();
    for (i, ledger) in phones.iter().enumerate() {
        for heard in &ledger.connections {
            connections += 1;
            let ids: Vec<u64> = heard.answers.iter().map(|a| a.0).collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "phone {i} on node {}: answers out of send order {ids:?}",
                heard.node
            );
            for (id, answer) in &heard.answers {
                assert!(heard.sent.contains(id), "phone {i}: an answer to {id}");
                match answer {
                    Ok(named) => {
                        acks += 1;
                        assert_eq!(*named, option(i, *id), "phone {i}: ack of {id} {heard:?}");
                    }
                    Err(code) => *codes.entry(code.clone()).or_default() += 1,
                }
            }
            let documented = match &heard.closed {
                None => true,
                Some(Some((close, reason))) => {
                    (*close, reason.as_str()) == (1001, "server stopping")
                }
                Some(None) => heard.node == 0,
            };
            assert!(documented, "phone {i} on node {}: {heard:?}", heard.node);
            if let Some(close) = &heard.closed {
                let close = close.as_ref().map_or(1006, |c| c.0);
                *closes
                    .entry(format!("{close} on node {}", heard.node))
                    .or_default() += 1;
            }
        }
        for (node, refused) in &ledger.refusals {
            assert!(
                *node == 0 || documented_refusal(refused),
                "phone {i}: a hello on node {node} refused without a documented code: {refused:?}"
            );
            let key = match refused {
                Refused::Unreachable => format!("unreachable node {node}"),
                Refused::Silent => format!("silence on node {node}"),
                Refused::Ended(code, close) => format!(
                    "{} {} on node {node}",
                    code.as_deref().unwrap_or("-"),
                    close.as_ref().map_or(1006, |c| c.0)
                ),
            };
            *closes.entry(format!("hello: {key}")).or_default() += 1;
        }
    }
    assert!(
        codes.keys().all(|code| code == "storage_unavailable"),
        "votes refused with {codes:?}"
    );
    assert!(
        phones.iter().any(|p| p.connections.len() > 1),
        "the owner died while phones were sending"
    );
    eprintln!(
        "{PHONES} phones sent {total} votes on {connections} connections; the owner was \
         killed after {at_owner_kill} were sent, half the phones heard an ack again \
         {taken_over:?} later, the log's leader (n{leader}) was killed after \
         {at_leader_kill}; the burst ended {burst_took:?} after the first kill. {acks} \
         acks, refusals {codes:?}, every answer in send order; ends: {closes:?}"
    );

    // The ledgers, against what the cluster holds: each phone, back as itself, reads
    // its vote from `welcome.votes` (its current choice), on the nodes left.
    let living = [ws_urls[1].clone(), ws_urls[2].clone()];
    let mut refusals = vec![];
    let mut held = vec![];
    for (i, ledger) in phones.iter().enumerate() {
        let mut id = Some(ledger.id.clone());
        let (mut ws, _, welcome) = join(&living, i % 2, &mut id, &mut refusals).await;
        ws.close(None).await.ok();
        let vote = welcome["votes"].as_array().and_then(|votes| {
            votes
                .iter()
                .find(|v| v["slide"] == slide && v["round"] == 1)
                .map(|v| v["option"].as_u64().unwrap())
        });
        held.push(vote);
    }
    assert!(
        refusals.iter().all(|(_, r)| documented_refusal(r)),
        "{refusals:?}"
    );
    let mut strict = 0;
    for (i, ledger) in phones.iter().enumerate() {
        let allowed = may_hold(i, ledger);
        assert!(
            allowed.contains(&held[i]),
            "phone {i} holds {:?}, but its ledger allows only {allowed:?}: {ledger:?}",
            held[i]
        );
        strict += usize::from(allowed.len() == 1);
    }
    // Most phones heard their last vote answered, so for them only one option will do.
    assert!(strict >= PHONES / 2, "{strict} phones with one option left");
    let mut expected = vec![0u64, 0];
    for option in held.iter().flatten() {
        expected[*option as usize] += 1;
    }
    let holding = held.iter().flatten().count() as u64;
    let mut host = TestClient::hello(
        &nodes[2].ws_url(),
        json!({"type": "hello", "key": nodes[2].host_key}),
    )
    .await;
    let state = host.wait_state(|s| tally(s) == expected).await;
    assert_eq!(state["voted"], holding, "{state}");
    eprintln!(
        "ledgers: {holding} of {PHONES} phones hold a vote, {strict} of them with one \
         option allowed; the tally {expected:?} counts each once"
    );
    drop(nodes.remove(0));
}
