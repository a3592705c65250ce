//! Arguments per side through the real server: a phone argues for its choice, the
//! host moderates, the screen lists the approved ones, phones upvote; removed texts
//! leave the disk; a restart keeps the rest; the report lists the approved ones.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stemzaal::core::arguments::ARGUE_EVERY_MS;

use crate::support::{on_disk, TestClient, TestServer};

const DECK: &str = "---
title: Argumenten
---

## Meer groen in de wijk

A) Ja, ook als er parkeerplaatsen verdwijnen
B) Nee, parkeren gaat voor
";

async fn server_with(source: &str) -> TestServer {
    let deck = stemzaal::core::deck::parse("argumenten.md", source).unwrap();
    TestServer::start_with(deck, source).await
}

/// A phone that joined and voted `option` in round 1 of slide 0.
async fn voter(server: &TestServer, option: u64) -> TestClient {
    let mut phone = server.participant().await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(0, 1, option).await["type"], "ack");
    phone
}

/// Sends `argue` and returns the answer (`argued` or `error`) carrying its id.
async fn argue(phone: &mut TestClient, id: u64, text: &str) -> Value {
    phone
        .send(json!({"type": "argue", "id": id, "slide": 0, "text": text}))
        .await;
    loop {
        let msg = phone.next_message().await.expect("an answer");
        if (msg["type"] == "argued" || msg["type"] == "error") && msg["id"] == id {
            return msg;
        }
    }
}

/// Lets the argument pace pass (one `argue` or `withdraw_argument` per participant per
/// [`ARGUE_EVERY_MS`]) without waiting five real seconds. The server runs on this test's
/// current-thread runtime, and the hub's clock, which stamps every command's `now_ms`,
/// reads tokio's clock. So pausing that clock, advancing it just past the pace and
/// resuming moves the server's time forward at once, as the wait would (every timer
/// due meanwhile fires), through the same sockets, connection and hub as a real phone;
/// before and after, everything runs on real time. The tests still see the server
/// refuse the change made too soon (`too_fast`) and take it after the pace.
async fn let_the_pace_pass() {
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(ARGUE_EVERY_MS + 100)).await;
    tokio::time::resume();
}

fn items(state: &Value) -> Vec<Value> {
    state["arguments"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn texts(state: &Value) -> Vec<String> {
    items(state)
        .iter()
        .map(|a| a["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_argument_goes_from_a_phone_through_the_host_to_the_screen_and_the_report() {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;

    // No vote, no argument.
    let mut lurker = server.participant().await;
    lurker.wait_state(|s| s["slide"]["phase"] == "open").await;
    let refused = argue(&mut lurker, 1, "Ik stem niet maar heb een mening").await;
    assert_eq!(refused["code"], "not_voted");

    let mut ja = voter(&server, 0).await;
    let mut nee = voter(&server, 1).await;
    let mut fan = voter(&server, 1).await;
    for bad in ["   ", &"x".repeat(281), "tab\tin de tekst"] {
        let refused = argue(&mut ja, 2, bad).await;
        assert_eq!(refused["code"], "bad_argument", "{bad:?}");
    }
    let argued = argue(&mut ja, 3, "  Bomen koelen de straat in de zomer. ").await;
    assert_eq!(
        argued,
        json!({"type": "argued", "id": 3, "slide": 0, "argument": 1, "option": 0})
    );
    // One per five seconds per participant.
    let refused = argue(&mut ja, 4, "Nog een").await;
    assert_eq!(refused["code"], "too_fast");
    let spam = argue(
        &mut nee,
        5,
        "Mijn buurman Jan Jansen op nummer 12 parkeert fout",
    )
    .await;
    assert_eq!(spam["argument"], 2);

    // The host sees both, pending; nobody else sees a pending one.
    let state = host.wait_state(|s| items(s).len() == 2).await;
    assert_eq!(
        state["arguments"],
        json!({"shown": false, "upvotes": true, "counts": [1, 1], "items": [
            {"argument": 1, "option": 0, "text": "Bomen koelen de straat in de zomer.", "status": "pending", "upvotes": 0},
            {"argument": 2, "option": 1, "text": "Mijn buurman Jan Jansen op nummer 12 parkeert fout", "status": "pending", "upvotes": 0},
        ]})
    );
    assert_eq!(
        fan.wait_state(|_| true).await["arguments"]["items"],
        json!([])
    );
    assert!(screen.wait_state(|_| true).await.get("arguments").is_none());

    // Approved, hidden: phones list the approved one; the hidden one is gone everywhere.
    host.send(json!({"type": "moderate", "argument": 1, "status": "approved", "id": 6}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 6);
    host.send(json!({"type": "moderate", "argument": 2, "status": "hidden"}))
        .await;
    host.send(json!({"type": "moderate", "argument": 1, "status": "bogus", "id": 7}))
        .await;
    assert_eq!(host.wait_for("error").await["code"], "bad_status");
    let listed = fan.wait_state(|s| items(s).len() == 1).await;
    assert_eq!(
        listed["arguments"],
        json!({"shown": false, "upvotes": true, "items": [{"argument": 1, "option": 0,
            "text": "Bomen koelen de straat in de zomer.", "status": "approved", "upvotes": 0}]})
    );
    host.wait_state(|s| items(s).len() == 1).await;

    // Upvotes: once each, of either side; a pending or removed one cannot be upvoted.
    for _ in 0..2 {
        fan.send(json!({"type": "upvote", "argument": 1, "id": 8}))
            .await;
        assert_eq!(fan.wait_for("ok").await["id"], 8);
    }
    fan.send(json!({"type": "upvote", "argument": 2, "id": 9}))
        .await;
    assert_eq!(fan.wait_for("error").await["code"], "unknown_argument");
    ja.send(json!({"type": "upvote", "argument": 1, "id": 10}))
        .await;
    assert_eq!(ja.wait_for("ok").await["id"], 10);
    host.wait_state(|s| items(s)[0]["upvotes"] == 2).await;
    // The host may not argue; a phone may not moderate.
    host.send(json!({"type": "argue", "id": 11, "slide": 0, "text": "t"}))
        .await;
    assert_eq!(host.wait_for("error").await["code"], "not_allowed");
    fan.send(json!({"type": "moderate", "argument": 1, "status": "hidden", "id": 12}))
        .await;
    assert_eq!(fan.wait_for("error").await["code"], "not_allowed");

    // On the screen when shown, highlighted first.
    host.send(json!({"type": "show_arguments", "visible": true}))
        .await;
    let shown = screen.wait_state(|s| s["arguments"]["shown"] == true).await;
    assert_eq!(texts(&shown), ["Bomen koelen de straat in de zomer."]);
    // While the vote is open and its result hidden: arguments are not counts.
    assert_eq!(shown["slide"]["phase"], "open");
    assert_eq!(shown["revealed"], false);
    assert!(shown["tally"].is_null(), "{shown}");
    assert_eq!(items(&shown)[0]["upvotes"], 2);
    let_the_pace_pass().await;
    let second = argue(
        &mut nee,
        13,
        "Ouderen moeten dicht bij huis kunnen parkeren.",
    )
    .await;
    assert_eq!(second["argument"], 3);
    host.send(json!({"type": "moderate", "argument": 3, "status": "highlighted"}))
        .await;
    let both = screen.wait_state(|s| items(s).len() == 2).await;
    assert_eq!(items(&both)[0]["status"], "highlighted", "{both}");

    // The author's own arguments come back in its welcome; the upvoter's upvotes too.
    let again = TestClient::hello(
        &server.ws_url(),
        json!({"type": "hello", "participant_id": nee.participant_id()}),
    )
    .await;
    assert_eq!(
        again.welcome["arguments"],
        json!([{"slide": 0, "argument": 3, "option": 1,
            "text": "Ouderen moeten dicht bij huis kunnen parkeren."}])
    );
    let fan_again = TestClient::hello(
        &server.ws_url(),
        json!({"type": "hello", "participant_id": fan.participant_id()}),
    )
    .await;
    assert_eq!(fan_again.welcome["upvoted"], json!([1]));

    // The report lists the approved ones with their upvotes, never the removed one.
    let report = server.session.report().await.unwrap();
    let listed = serde_json::to_value(&report.statements[0].arguments).unwrap();
    assert_eq!(
        listed,
        json!([
            {"option": 1, "text": "Ouderen moeten dicht bij huis kunnen parkeren.", "upvotes": 0, "highlighted": true},
            {"option": 0, "text": "Bomen koelen de straat in de zomer.", "upvotes": 2, "highlighted": false},
        ])
    );
    let csv = stemzaal::report::to_csv(&report);
    assert!(
        csv.contains(
            "\nargument,1,Meer groen in de wijk,,,A,\"Ja, ook als er parkeerplaatsen verdwijnen\",\
             ,,,2,argument: Bomen koelen de straat in de zomer.\r\n"
        ),
        "upvotes in their own column, votes empty: {csv}"
    );
    let html = stemzaal::report::to_html(
        &report,
        stemzaal::wire::protocol::Lang::Nl,
        &Default::default(),
    );
    assert!(html
        .contains("Bomen koelen de straat in de zomer. <span class=\"upvotes\">(2 steun)</span>"));
    for text in [&csv, &html] {
        assert!(!text.contains("Jan Jansen"));
    }
}

#[tokio::test]
async fn a_removed_argument_leaves_every_file_and_a_restart_keeps_the_rest() {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    let mut kept = voter(&server, 0).await;
    let mut hidden = voter(&server, 1).await;
    let mut withdrawn = voter(&server, 1).await;
    let mut replaced = voter(&server, 0).await;
    assert_eq!(
        argue(&mut kept, 1, "BEWAARD-7f3a blijft staan").await["argument"],
        1
    );
    assert_eq!(
        argue(&mut hidden, 2, "VERBORGEN-91c2 naam en adres").await["argument"],
        2
    );
    assert_eq!(
        argue(&mut withdrawn, 3, "INGETROKKEN-5d8e spijt").await["argument"],
        3
    );
    assert_eq!(
        argue(&mut replaced, 4, "VERVANGEN-2b6f eerste versie").await["argument"],
        4
    );
    host.send(json!({"type": "moderate", "argument": 1, "status": "approved"}))
        .await;
    host.wait_state(|s| items(s).len() == 4).await;
    let data = server.data.path();
    for text in [
        "BEWAARD-7f3a",
        "VERBORGEN-91c2",
        "INGETROKKEN-5d8e",
        "VERVANGEN-2b6f",
    ] {
        assert!(!on_disk(data, text).is_empty(), "{text} is stored first");
    }

    host.send(json!({"type": "moderate", "argument": 2, "status": "hidden", "id": 5}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 5);
    // Withdrawing counts against the author's rate like arguing.
    withdrawn
        .send(json!({"type": "withdraw_argument", "slide": 0, "id": 6}))
        .await;
    assert_eq!(withdrawn.wait_for("error").await["code"], "too_fast");
    let_the_pace_pass().await;
    withdrawn
        .send(json!({"type": "withdraw_argument", "slide": 0, "id": 6}))
        .await;
    assert_eq!(withdrawn.wait_for("ok").await["id"], 6);
    assert_eq!(
        argue(&mut replaced, 7, "NIEUW-4c1d tweede versie").await["argument"],
        5
    );
    host.wait_state(|s| items(s).len() == 2).await;

    // Gone from the database and, once the checkpoint has run, from the WAL too.
    server
        .wait_off_disk(
            &["VERBORGEN-91c2", "INGETROKKEN-5d8e", "VERVANGEN-2b6f"],
            &["BEWAARD-7f3a", "NIEUW-4c1d"],
        )
        .await;

    // A restart replays the log: the rest comes back, the removed ones do not.
    let view = server.host_state_after_restart().await;
    assert_eq!(
        view["arguments"]["items"],
        json!([
            {"argument": 1, "option": 0, "text": "BEWAARD-7f3a blijft staan", "status": "approved", "upvotes": 0},
            {"argument": 5, "option": 0, "text": "NIEUW-4c1d tweede versie", "status": "pending", "upvotes": 0},
        ])
    );
}

#[tokio::test]
async fn a_deck_can_turn_arguments_or_upvotes_off() {
    let off = DECK.replace("title: Argumenten", "title: Zonder\narguments: off");
    let server = server_with(&off).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = voter(&server, 0).await;
    assert_eq!(argue(&mut phone, 1, "Toch").await["code"], "arguments_off");
    assert!(phone.state.get("arguments").is_none(), "{}", phone.state);
    assert!(host.wait_state(|_| true).await.get("arguments").is_none());

    let no_upvotes = DECK.replace("title: Argumenten", "title: Zonder\nupvotes: off");
    let server = server_with(&no_upvotes).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = voter(&server, 0).await;
    assert_eq!(
        argue(&mut phone, 1, "Wel een argument").await["argument"],
        1
    );
    host.send(json!({"type": "moderate", "argument": 1, "status": "approved"}))
        .await;
    phone.wait_state(|s| items(s).len() == 1).await;
    phone
        .send(json!({"type": "upvote", "argument": 1, "id": 2}))
        .await;
    assert_eq!(phone.wait_for("error").await["code"], "upvotes_off");
    // Closed, no more arguments.
    host.send(json!({"type": "close_vote"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "closed").await;
    assert_eq!(argue(&mut phone, 3, "Te laat").await["code"], "vote_closed");
}

/// `n` phones that each voted and argued once, every argument approved by the host;
/// returns the phones and their arguments' numbers.
async fn approved_arguments(
    server: &TestServer,
    host: &mut TestClient,
    n: usize,
) -> Vec<(TestClient, u64)> {
    let mut authors = vec![];
    for i in 0..n {
        let mut phone = voter(server, (i % 2) as u64).await;
        let text = format!("Argument {i}: de wijk weet zelf het best wat er nodig is.");
        let number = argue(&mut phone, 1, &text).await["argument"]
            .as_u64()
            .expect("an argument number");
        let id = 100 + i as u64;
        // A host sends 10 messages a second after a burst of 40: past that it waits.
        loop {
            host.send(
                json!({"type": "moderate", "argument": number, "status": "approved", "id": id}),
            )
            .await;
            let answer = answer_to(host, id).await;
            if answer["code"] != "rate_limited" {
                assert_eq!(answer["type"], "ok", "{answer}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        authors.push((phone, number));
    }
    authors
}

/// The `ok` or `error` that answers the message with this `id`.
async fn answer_to(client: &mut TestClient, id: u64) -> Value {
    loop {
        let msg = client.next_message().await.expect("an answer");
        if (msg["type"] == "ok" || msg["type"] == "error") && msg["id"] == id {
            return msg;
        }
    }
}

/// Reads a phone's messages until an `upvotes` message equals `last`; returns how many
/// `state` and `upvotes` messages came, and the `upvotes` messages themselves.
async fn watch_upvotes(mut phone: TestClient, last: Value) -> (usize, Vec<Value>) {
    let (mut states, mut upvotes) = (0, vec![]);
    loop {
        let msg = phone.next_message().await.expect("the socket stays open");
        match msg["type"].as_str() {
            Some("state") => states += 1,
            Some("upvotes") => {
                let done = msg == last;
                upvotes.push(msg);
                if done {
                    return (states, upvotes);
                }
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn phones_hear_a_stream_of_upvotes_as_counts_once_a_second_not_as_states() {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    let authors = approved_arguments(&server, &mut host, 3).await;
    let numbers: Vec<u64> = authors.iter().map(|(_, n)| *n).collect();
    let mut observer = voter(&server, 1).await;
    observer.wait_state(|s| items(s).len() == 3).await;
    let mut fans = vec![];
    for _ in 0..30 {
        fans.push(voter(&server, 0).await);
    }

    // The first argument gets 10 upvotes, the second 20, the third 30: the listed
    // order turns around. Spread over about two seconds.
    let last = json!({"type": "upvotes", "slide": 0, "upvotes": [
        [numbers[2], 30], [numbers[1], 20], [numbers[0], 10]]});
    let watching = tokio::spawn(watch_upvotes(observer, last.clone()));
    let started = Instant::now();
    let mut id = 1000;
    for (k, &number) in numbers.iter().enumerate() {
        for fan in &mut fans[..10 * (k + 1)] {
            id += 1;
            fan.send(json!({"type": "upvote", "argument": number, "id": id}))
                .await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    // Fan `i` upvoted the arguments `k` with `i < 10 * (k + 1)`.
    for (i, fan) in fans.iter_mut().enumerate() {
        for _ in 0..3 - i / 10 {
            assert_eq!(fan.wait_for("ok").await["type"], "ok");
        }
    }
    let (states, upvotes) = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the phone hears the last counts")
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(states, 0, "no state while only counts move: {upvotes:?}");
    assert!(
        upvotes.len() >= 2 && upvotes.len() as f64 <= seconds + 2.0,
        "about one `upvotes` a second over {seconds:.1} s, got {}: {upvotes:?}",
        upvotes.len()
    );
    assert_eq!(upvotes.last(), Some(&last));
    // The host sees the same counts in its state.
    let state = host
        .wait_state(|s| items(s).iter().map(|a| &a["upvotes"]).collect::<Vec<_>>() == [10, 20, 30])
        .await;
    assert_eq!(items(&state).len(), 3);
}

#[tokio::test]
async fn an_upvote_that_changes_which_arguments_are_listed_sends_phones_a_new_state() {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    let max = stemzaal::core::arguments::MAX_LISTED;
    let authors = approved_arguments(&server, &mut host, max + 1).await;
    let last = authors.last().unwrap().1;
    let mut observer = voter(&server, 1).await;
    let listed = observer.wait_state(|s| items(s).len() == max).await;
    assert!(items(&listed).iter().all(|a| a["argument"] != last));

    let mut fan = voter(&server, 0).await;
    fan.send(json!({"type": "upvote", "argument": last, "id": 7}))
        .await;
    assert_eq!(fan.wait_for("ok").await["id"], 7);
    let msg = observer.next_message().await.unwrap();
    assert_eq!(msg["type"], "state", "a new list comes as a state: {msg}");
    assert_eq!(items(&msg).len(), max);
    assert_eq!(items(&msg)[0]["argument"], last);
    assert_eq!(items(&msg)[0]["upvotes"], 1);

    // The export lists the same 50: the one that climbed in first, the one it pushed
    // out (the newest of those without upvotes) in no export.
    let key = server.session.host_key().expose().to_owned();
    let (status, _, body) = server
        .get(&format!("/export/{}.json?key={key}", server.code()))
        .await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    let exported = report["statements"][0]["arguments"].as_array().unwrap();
    assert_eq!(exported.len(), max);
    assert_eq!(exported[0]["upvotes"], 1);
    assert_eq!(
        exported[0]["text"],
        format!("Argument {max}: de wijk weet zelf het best wat er nodig is.")
    );
    assert!(!body.contains(&format!("Argument {}: ", max - 1)), "{body}");
}

/// A server on [`DECK`], its host with the vote open, and a phone that voted A.
async fn vote_open_with_a_voter() -> (TestServer, TestClient, TestClient) {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    let phone = voter(&server, 0).await;
    (server, host, phone)
}

/// Sends `moderate` with `id` and returns its answer.
async fn moderate(client: &mut TestClient, id: u64, argument: u64, status: &str) -> Value {
    client
        .send(json!({"type": "moderate", "argument": argument, "status": status, "id": id}))
        .await;
    answer_to(client, id).await
}

#[tokio::test]
async fn moderate_reads_its_status_before_it_looks_for_the_argument() {
    let (_server, mut host, mut phone) = vote_open_with_a_voter().await;
    assert_eq!(argue(&mut phone, 1, "Bomen koelen").await["argument"], 1);

    // No argument 99 and no such status: the status is refused first.
    for (id, argument, status, code) in [
        (1, 99, "weg", "bad_status"),
        (2, 1, "weg", "bad_status"),
        (3, 99, "approved", "unknown_argument"),
    ] {
        assert_eq!(
            moderate(&mut host, id, argument, status).await["code"],
            code
        );
    }
    // A participant is refused before either.
    assert_eq!(
        moderate(&mut phone, 4, 99, "weg").await["code"],
        "not_allowed"
    );
    // A hidden argument is gone: moderating it again is `unknown_argument`.
    assert_eq!(moderate(&mut host, 5, 1, "hidden").await["type"], "ok");
    assert_eq!(
        moderate(&mut host, 6, 1, "approved").await["code"],
        "unknown_argument"
    );
}

#[tokio::test]
async fn an_argument_keeps_its_inner_spaces_and_at_most_two_line_breaks_in_a_row() {
    let (_server, mut host, mut phone) = vote_open_with_a_voter().await;
    let sent = "\u{a0} \n Eerst\r\n\r\n\r\nDan  twee\u{a0}spaties\rEind \n\n";
    assert_eq!(argue(&mut phone, 1, sent).await["argument"], 1);
    let state = host.wait_state(|s| items(s).len() == 1).await;
    assert_eq!(
        items(&state)[0]["text"],
        "Eerst\n\nDan  twee\u{a0}spaties\nEind"
    );
}
