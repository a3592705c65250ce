//! Per phone, the server answers votes in the order they were sent: a vote refused
//! with `storage_unavailable` is never answered after a newer vote's ack, so the last
//! ack a phone receives names the option that counts (docs/protocol.md, "Answers come
//! in order").

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::recovery::limit_file_size;
use crate::stop::{joined, voting_on_binary, Ws};
use crate::support::TestClient;

/// Phones voting at once.
const PHONES: usize = 20;

/// Votes each phone sends, one every [`SPACING`], without waiting for answers: within
/// the burst the server takes from one connection.
const VOTES: u64 = 30;

const SPACING: Duration = Duration::from_millis(15);

/// One answer to a vote: its id, and the option it acknowledged or the error's code.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Ack { id: u64, option: u64 },
    Refused { id: u64, code: String },
}

impl Answer {
    fn id(&self) -> u64 {
        match self {
            Answer::Ack { id, .. } | Answer::Refused { id, .. } => *id,
        }
    }
}

/// The option of vote `id`: every phone changes its mind with every vote.
fn option_of(id: u64) -> u64 {
    id % 2
}

/// Sends [`VOTES`] votes on `slide` and reads their answers, in the order they come.
async fn vote_and_listen(mut ws: Ws, slide: u64) -> Vec<Answer> {
    let mut answers = vec![];
    let mut sent = 0u64;
    let mut next = tokio::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while answers.len() < VOTES as usize {
        tokio::select! {
            () = tokio::time::sleep_until(next), if sent < VOTES => {
                sent += 1;
                let vote = json!({"type": "vote", "id": sent, "slide": slide, "round": 1,
                                  "option": option_of(sent)});
                ws.send(Message::text(vote.to_string())).await.expect("send a vote");
                next += SPACING;
            }
            msg = ws.next() => {
                let Some(Ok(Message::Text(text))) = msg else {
                    assert!(matches!(msg, Some(Ok(_))), "the socket ended: {msg:?}");
                    continue;
                };
                let m: Value = serde_json::from_str(&text).expect("JSON");
                let id = m["id"].as_u64();
                match (m["type"].as_str(), id) {
                    (Some("ack"), Some(id)) => answers.push(Answer::Ack {
                        id,
                        option: m["option"].as_u64().expect("an option"),
                    }),
                    (Some("error"), Some(id)) => answers.push(Answer::Refused {
                        id,
                        code: m["code"].as_str().unwrap_or_default().to_owned(),
                    }),
                    _ => {}
                }
            }
            () = tokio::time::sleep_until(deadline) => panic!("answers missing: {answers:?}"),
        }
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_never_overtakes_a_newer_ack_when_the_disk_fails_mid_burst() {
    let data = tempfile::tempdir().unwrap();
    let voting = voting_on_binary(data.path()).await;
    let mut phones = Vec::with_capacity(PHONES);
    for _ in 0..PHONES {
        phones.push(joined(&voting.url).await);
    }
    let (ids, sockets): (Vec<String>, Vec<Ws>) =
        phones.into_iter().map(|(ws, id)| (id, ws)).unzip();
    let slide = voting.slide;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(vote_and_listen(ws, slide)))
        .collect();
    // The disk fails a third of the way into the burst and comes back at two thirds.
    let third = SPACING * (VOTES as u32) / 3;
    tokio::time::sleep(third).await;
    limit_file_size(&voting.server, 1);
    tokio::time::sleep(third).await;
    limit_file_size(&voting.server, rlimit::INFINITY);

    let (mut refused, mut acked_after_refusal) = (0, 0);
    for (phone, task) in tasks.into_iter().enumerate() {
        let answers = task.await.expect("the phone's task");
        let order: Vec<u64> = answers.iter().map(Answer::id).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "phone {phone}: answers out of send order: {answers:?}"
        );
        let mut was_refused = false;
        for answer in &answers {
            match answer {
                Answer::Refused { code, .. } => {
                    assert_eq!(code, "storage_unavailable", "phone {phone}: {answers:?}");
                    refused += 1;
                    was_refused = true;
                }
                Answer::Ack { id, option } => {
                    assert_eq!(*option, option_of(*id), "phone {phone}: {answers:?}");
                    acked_after_refusal += usize::from(was_refused);
                }
            }
        }
        // What the last ack named is what the phone finds stored.
        let last = answers.iter().rev().find_map(|a| match a {
            Answer::Ack { option, .. } => Some(*option),
            Answer::Refused { .. } => None,
        });
        let back = TestClient::hello(
            &voting.url,
            json!({"type": "hello", "participant_id": ids[phone]}),
        )
        .await;
        let stored = back.welcome["votes"]
            .as_array()
            .and_then(|v| v.first())
            .and_then(|v| v["option"].as_u64());
        assert_eq!(stored, last, "phone {phone}: {answers:?}");
    }
    println!(
        "{PHONES} phones × {VOTES} votes: {refused} refused while the disk failed, \
         {acked_after_refusal} acked after a refusal, every phone's answers in send order"
    );
    assert!(
        refused > 0,
        "the disk failure refused no vote: the test proves nothing"
    );
    assert!(
        acked_after_refusal > 0,
        "no vote was acked after the disk came back"
    );
}

/// A refusal the server decides at once waits behind the answers to the messages a
/// phone sent before it: sent in one go, a vote, a vote for an option that does not
/// exist, another vote and a host command are answered in that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_decided_at_once_waits_behind_the_answer_to_an_earlier_vote() {
    let data = tempfile::tempdir().unwrap();
    let voting = voting_on_binary(data.path()).await;
    let slide = voting.slide;
    for phone in 0..10 {
        let (mut ws, _) = joined(&voting.url).await;
        let messages = [
            json!({"type": "vote", "id": 1, "slide": slide, "round": 1, "option": 0}),
            json!({"type": "vote", "id": 2, "slide": slide, "round": 1, "option": 99}),
            json!({"type": "vote", "id": 3, "slide": slide, "round": 1, "option": 1}),
            json!({"type": "next", "id": 4}),
        ];
        let batch = messages.iter().map(|m| Ok(Message::text(m.to_string())));
        ws.send_all(&mut futures_util::stream::iter(batch))
            .await
            .expect("send the messages");
        let mut answers = vec![];
        while answers.len() < messages.len() {
            let next = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
            let Ok(Some(Ok(Message::Text(text)))) = next else {
                panic!("phone {phone}: the socket ended or fell silent: {answers:?}");
            };
            let m: Value = serde_json::from_str(&text).expect("JSON");
            match m["type"].as_str() {
                Some("ack") => answers.push((m["id"].clone(), m["option"].clone())),
                Some("error") => answers.push((m["id"].clone(), m["code"].clone())),
                _ => {}
            }
        }
        assert_eq!(
            answers,
            vec![
                (json!(1), json!(0)),
                (json!(2), json!("unknown_option")),
                (json!(3), json!(1)),
                (json!(4), json!("not_allowed")),
            ],
            "phone {phone}"
        );
    }
}
