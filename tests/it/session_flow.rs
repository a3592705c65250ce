//! A whole session through the real server: host, screen and phones on WebSockets.

use crate::support;

use serde_json::{json, Value};
use stemzaal::core::deck::{Deck, SlideKind};
use support::{TestClient, TestServer};

const PHONES: usize = 24;

fn statements(deck: &Deck) -> Vec<(usize, usize)> {
    deck.slides
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.kind {
            SlideKind::Statement { options } => Some((i, options.len())),
            SlideKind::Content => None,
        })
        .collect()
}

fn tally(state: &Value) -> Vec<u64> {
    state["tally"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_u64().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn default_deck_runs_end_to_end_with_host_screen_and_two_dozen_phones() {
    let server = TestServer::start().await;
    let deck = server.session.deck().clone();
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    assert_eq!(host.welcome["role"], "host");
    assert_eq!(screen.welcome["role"], "screen");
    assert_eq!(
        host.welcome["slides"].as_array().unwrap().len(),
        deck.slides.len()
    );
    let mut phones = vec![];
    for _ in 0..PHONES {
        phones.push(server.participant().await);
    }
    screen.wait_state(|s| s["joined"] == PHONES as u64).await;

    let statements = statements(&deck);
    assert_eq!(statements.len(), 4, "the default deck has four statements");
    let mut expected_last = vec![];
    for slide in 0..deck.slides.len() {
        if slide > 0 {
            host.send(json!({"type": "next"})).await;
        }
        let state = screen
            .wait_state(|s| s["slide"]["index"] == slide as u64)
            .await;
        assert_eq!(state["slide"]["html"], deck.slides[slide].html.as_str());
        let Some(&(_, options)) = statements.iter().find(|(i, _)| *i == slide) else {
            assert_eq!(state["slide"]["kind"], "content");
            continue;
        };
        assert_eq!(state["slide"]["kind"], "statement");
        assert_eq!(state["slide"]["phase"], "pending");
        assert_eq!(state["slide"]["options"].as_array().unwrap().len(), options);

        // A vote before the host opens is refused and counts nowhere.
        let refused = phones[0].vote(slide as u64, 1, 0).await;
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["code"], "vote_closed");

        host.send(json!({"type": "open_vote"})).await;
        // Every statement starts hidden; the host shows this one while it is open.
        host.send(json!({"type": "reveal", "visible": true})).await;
        for phone in phones.iter_mut() {
            phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        }
        // Phone i votes A when i % 3 == 0, else B; then every fourth phone switches.
        let mut choice = [0usize; PHONES];
        for (i, phone) in phones.iter_mut().enumerate() {
            choice[i] = if i % 3 == 0 { 0 } else { 1 };
            let ack = phone.vote(slide as u64, 1, choice[i] as u64).await;
            assert_eq!(ack["type"], "ack", "vote answered with {ack}");
            assert_eq!(ack["option"], choice[i] as u64);
        }
        let mut expected = vec![0u64; options];
        choice.iter().for_each(|&c| expected[c] += 1);
        let seen = screen.wait_state(|s| tally(s) == expected).await;
        assert_eq!(seen["voted"], PHONES as u64);

        for (i, phone) in phones.iter_mut().enumerate().filter(|(i, _)| i % 4 == 0) {
            choice[i] = 1 - choice[i];
            let ack = phone.vote(slide as u64, 1, choice[i] as u64).await;
            assert_eq!(ack["type"], "ack");
        }
        let mut expected = vec![0u64; options];
        choice.iter().for_each(|&c| expected[c] += 1);
        let seen = screen.wait_state(|s| tally(s) == expected).await;
        assert_eq!(
            seen["voted"], PHONES as u64,
            "a changed vote is still one vote"
        );
        host.wait_state(|s| tally(s) == expected).await;

        host.send(json!({"type": "close_vote"})).await;
        phones[1]
            .wait_state(|s| s["slide"]["phase"] == "closed")
            .await;
        let late = phones[1].vote(slide as u64, 1, 0).await;
        assert_eq!(late["code"], "vote_closed", "a vote after close is refused");
        let unknown = phones[2].vote(slide as u64, 1, 7).await;
        assert_eq!(unknown["type"], "error");
        // Closed and revealed: the phones see the final result too.
        let phone_view = phones[2]
            .wait_state(|s| s["slide"]["phase"] == "closed")
            .await;
        assert_eq!(tally(&phone_view), expected);
        assert!(
            phone_view.get("joined").is_none(),
            "phones do not get counts of people"
        );
        expected_last = expected;
    }
    // Nothing that was refused changed the final count.
    let last = (deck.slides.len() - 1) as u64;
    host.send(json!({"type": "go_to", "slide": statements[3].0}))
        .await;
    // The host reads its backlog in order; the state after the go_to is the newest.
    let final_state = host
        .wait_state(|s| {
            s["slide"]["index"] == statements[3].0 as u64 && s["slide"]["phase"] == "closed"
        })
        .await;
    assert_eq!(tally(&final_state), expected_last);
    assert!(last > statements[3].0 as u64);
}

#[tokio::test]
async fn every_host_command_from_a_participant_or_screen_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let mut host = server.host().await;
    let mut phone = server.participant().await;
    let mut screen = server.screen().await;
    let before = host.wait_state(|_| true).await;
    let commands = [
        json!({"type": "go_to", "slide": 3}),
        json!({"type": "next"}),
        json!({"type": "prev"}),
        json!({"type": "open_vote"}),
        json!({"type": "close_vote"}),
        json!({"type": "reveal", "visible": true}),
        json!({"type": "revote"}),
        json!({"type": "show_shift", "visible": true}),
        json!({"type": "show_groups", "visible": true}),
        json!({"type": "moderate", "argument": 1, "status": "hidden"}),
        json!({"type": "show_arguments", "visible": true}),
        json!({"type": "start_timer", "seconds": 30}),
        json!({"type": "stop_timer"}),
        json!({"type": "hand_count", "counts": [10, 0]}),
    ];
    for client in [&mut phone, &mut screen] {
        for command in &commands {
            client.send(command.clone()).await;
            let error = client.wait_for("error").await;
            assert_eq!(error["code"], "not_allowed", "{command} answered {error}");
        }
    }
    // A screen cannot vote either.
    let vote = screen.vote(3, 1, 0).await;
    assert_eq!(vote["code"], "not_allowed");
    // The host's own command still works and is the first change the host sees.
    host.send(json!({"type": "next"})).await;
    let after = host
        .wait_state(|s| s["slide"]["index"] != before["slide"]["index"])
        .await;
    assert_eq!(after["slide"]["index"], 1);
    assert_eq!(after["revealed"], false);
    assert!(after.get("timer").is_none());
}

#[tokio::test]
async fn a_phone_that_reconnects_with_its_id_keeps_its_vote_and_is_not_counted_twice() {
    let server = TestServer::start().await;
    let statement = statements(&server.session.deck())[0].0 as u64;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": statement}))
        .await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = server.participant().await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    let id = phone.participant_id();
    assert_eq!(phone.vote(statement, 1, 1).await["type"], "ack");
    phone.close().await;

    let mut again = server.participant_as(&id).await;
    assert_eq!(again.participant_id(), id);
    assert_eq!(
        again.welcome["votes"],
        json!([{"slide": statement, "round": 1, "option": 1}])
    );
    // Resending the same vote (as a phone does after a reconnect) is acked, counted once.
    assert_eq!(again.vote(statement, 1, 1).await["type"], "ack");
    let state = host.wait_state(|s| s["voted"] == 1).await;
    assert_eq!(tally(&state), vec![0, 1]);
    assert_eq!(state["joined"], 1);
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_the_connection_closed() {
    let server = TestServer::start().await;
    let url = server.ws_url();
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::text(
        json!({"type": "hello", "key": "00000000000000000000000000000000"}).to_string(),
    ))
    .await
    .unwrap();
    let Some(Ok(Message::Text(text))) = ws.next().await else {
        panic!("expected an error message")
    };
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["code"], "bad_key");
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("expected close 1008, got {other:?}"),
    }
}

#[tokio::test]
async fn a_revote_starts_round_two_and_keeps_round_one() {
    let server = TestServer::start().await;
    let statement = statements(&server.session.deck())[1].0 as u64;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": statement}))
        .await;
    host.send(json!({"type": "open_vote"})).await;
    let mut a = server.participant().await;
    let mut b = server.participant().await;
    a.wait_state(|s| s["slide"]["phase"] == "open").await;
    b.wait_state(|s| s["slide"]["phase"] == "open").await;
    a.vote(statement, 1, 0).await;
    b.vote(statement, 1, 0).await;
    host.wait_state(|s| tally(s) == vec![2, 0]).await;
    host.send(json!({"type": "revote"})).await;
    let state = host
        .wait_state(|s| s["slide"]["round"] == 2 && s["slide"]["phase"] == "open")
        .await;
    assert_eq!(tally(&state), vec![0, 0]);
    a.wait_state(|s| s["slide"]["round"] == 2).await;
    let stale = a.vote(statement, 1, 1).await;
    assert_eq!(stale["code"], "round_over");
    assert_eq!(a.vote(statement, 2, 1).await["type"], "ack");
    host.wait_state(|s| tally(s) == vec![0, 1]).await;
}

/// Votes in a round of `slide` for each phone with a choice.
async fn vote_all(phones: &mut [TestClient], slide: u64, round: u64, choices: &[Option<u64>]) {
    for (phone, choice) in phones.iter_mut().zip(choices) {
        phone.wait_state(|s| s["slide"]["round"] == round).await;
        if let Some(option) = choice {
            let ack = phone.vote(slide, round, *option).await;
            assert_eq!(ack["type"], "ack", "{ack}");
        }
    }
}

#[tokio::test]
async fn the_host_shows_the_shift_between_rounds_on_the_screen_only_in_totals() {
    let server = TestServer::start().await;
    let list = statements(&server.session.deck());
    let (first, second) = (list[0].0 as u64, list[1].0 as u64);
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    let mut phones = vec![];
    for _ in 0..6 {
        phones.push(server.participant().await);
    }
    host.send(json!({"type": "go_to", "slide": first})).await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    // In round 1 there is nothing to compare with.
    host.send(json!({"type": "show_shift", "visible": true, "id": 1}))
        .await;
    let refused = host.wait_for("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["id"].as_u64()),
        (Some("no_earlier_round"), Some(1))
    );
    assert!(host.state.get("shift").is_none(), "no shift in round 1");

    // Round 1: A A A B B B. Round 2: phone 0 stays on A, 1 and 2 go to B, 3 goes to A,
    // 4 stays on B, 5 does not vote again: five paired, three switched.
    let a = Some(0);
    let b = Some(1);
    vote_all(&mut phones, first, 1, &[a, a, a, b, b, b]).await;
    host.send(json!({"type": "revote"})).await;
    vote_all(&mut phones, first, 2, &[a, b, b, a, b, None]).await;
    let expected = json!({"shown": false, "from_round": 1, "to_round": 2,
        "before": [3, 3], "after": [2, 3], "before_percents": [50, 50],
        "after_percents": [40, 60], "paired": 5, "suppressed": false,
        "matrix": [[1, 2], [1, 1]], "switched": 3});
    let state = host.wait_state(|s| s["shift"] == expected).await;
    assert_eq!(state["slide"]["round"], 2);
    let on_screen = screen
        .wait_state(|s| tally(s).is_empty() && s["slide"]["round"] == 2)
        .await;
    assert!(
        on_screen.get("shift").is_none(),
        "not on the screen until shown"
    );

    host.send(json!({"type": "show_shift", "visible": true, "id": 2}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 2);
    let mut shown = expected.clone();
    shown["shown"] = json!(true);
    host.wait_state(|s| s["shift"] == shown).await;
    // Shown, but round 2 is not revealed: the screen shows no percentages yet.
    let hidden_round = screen.wait_state(|s| s["slide"]["round"] == 2).await;
    assert!(hidden_round.get("shift").is_none(), "{hidden_round}");
    host.send(json!({"type": "reveal", "visible": true})).await;
    screen.wait_state(|s| s["shift"] == shown).await;
    host.wait_state(|s| s["shift"] == shown).await;
    for phone in phones.iter_mut() {
        assert!(phone.state.get("shift").is_none(), "{}", phone.state);
    }
    // Another statement: its own rounds, nothing shown. Three paired is too few.
    host.send(json!({"type": "go_to", "slide": second})).await;
    host.send(json!({"type": "open_vote"})).await;
    screen
        .wait_state(|s| s["slide"]["index"] == second && s.get("shift").is_none())
        .await;
    vote_all(&mut phones, second, 1, &[a, a, b, b, None, None]).await;
    host.send(json!({"type": "revote"})).await;
    vote_all(&mut phones, second, 2, &[b, a, a, None, a, b]).await;
    host.send(json!({"type": "show_shift", "visible": true}))
        .await;
    host.send(json!({"type": "reveal", "visible": true})).await;
    let few = json!({"shown": true, "from_round": 1, "to_round": 2,
        "before": [2, 2], "after": [3, 2], "before_percents": [50, 50],
        "after_percents": [60, 40], "paired": 3, "suppressed": true});
    screen.wait_state(|s| s["shift"] == few).await;
    host.wait_state(|s| s["shift"] == few).await;
    // Back on the first statement, its round still shows its shift; hidden, it is gone.
    host.send(json!({"type": "go_to", "slide": first})).await;
    screen.wait_state(|s| s["shift"] == shown).await;
    host.send(json!({"type": "show_shift", "visible": false}))
        .await;
    let hidden = screen
        .wait_state(|s| s["slide"]["index"] == first && s.get("shift").is_none())
        .await;
    assert_eq!(hidden["slide"]["round"], 2);
    for phone in phones.iter_mut() {
        let state = phone.wait_state(|s| s["slide"]["index"] == first).await;
        assert!(state.get("shift").is_none(), "{state}");
    }
    // The report counts the same switches.
    let report = server.session.report().await.expect("a report");
    let sw = |slide: u64| {
        let s = report
            .statements
            .iter()
            .find(|s| s.slide as u64 == slide + 1);
        serde_json::to_value(&s.unwrap().switches).unwrap()
    };
    assert_eq!(sw(first)["matrix"], expected["matrix"]);
    assert_eq!(sw(first)["switched"], 3);
    assert_eq!(sw(second)["paired"], 3);
    assert_eq!(sw(second)["matrix"], Value::Null);
}

#[tokio::test]
async fn a_malformed_message_gets_an_error_and_the_connection_stays() {
    let server = TestServer::start().await;
    let mut phone = server.participant().await;
    for bad in [
        "not json",
        r#"{"type":"launch_rockets"}"#,
        r#"{"type":"vote","id":"x","slide":1,"round":1,"option":0}"#,
        r#"{"type":"vote","id":1,"slide":99999999999999999999999,"round":1,"option":0}"#,
    ] {
        phone
            .send_raw(tokio_tungstenite::tungstenite::Message::text(bad))
            .await;
        let error = phone.wait_for("error").await;
        assert_eq!(error["code"], "bad_message", "{bad}");
    }
    let unknown = phone.vote(999, 1, 0).await;
    assert_eq!(unknown["code"], "unknown_slide");
    let content = phone.vote(0, 1, 0).await;
    assert_eq!(content["code"], "not_a_statement");
}

#[tokio::test]
async fn a_participant_picks_a_group_from_the_deck_and_keeps_it_after_reconnect() {
    let server = TestServer::start().await;
    let groups = server.session.deck().groups.clone();
    assert!(
        !groups.is_empty(),
        "the default deck names participant groups"
    );
    let mut phone = server.participant().await;
    assert_eq!(
        phone.welcome["groups"].as_array().unwrap().len(),
        groups.len()
    );
    phone
        .send(json!({"type": "choose_group", "group": "Geen bestaande groep"}))
        .await;
    assert_eq!(phone.wait_for("error").await["code"], "unknown_group");
    phone
        .send(json!({"type": "choose_group", "group": groups[1]}))
        .await;
    let id = phone.participant_id();
    // The group is stored before the next command of the same session completes.
    let _ = phone.vote(0, 1, 0).await;
    phone.close().await;
    let again: TestClient = server.participant_as(&id).await;
    assert_eq!(again.welcome["group"], groups[1].as_str());
}

#[tokio::test]
async fn hand_counts_from_the_host_join_the_tally_on_the_screen() {
    let server = TestServer::start().await;
    let statement = statements(&server.session.deck())[0].0 as u64;
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    host.send(json!({"type": "go_to", "slide": statement}))
        .await;
    host.send(json!({"type": "open_vote"})).await;
    host.send(json!({"type": "reveal", "visible": true})).await;
    let mut phone = server.participant().await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(statement, 1, 1).await["type"], "ack");
    host.send(json!({"type": "hand_count", "counts": [7, 2]}))
        .await;
    let seen = screen.wait_state(|s| tally(s) == vec![7, 3]).await;
    assert_eq!(seen["voted"], 10);
    assert_eq!(
        seen["hands"],
        json!([7, 2]),
        "the screen can name the hands apart"
    );
    let host_view = host.wait_state(|s| tally(s) == vec![7, 3]).await;
    assert_eq!(host_view["hands"], json!([7, 2]));
    host.send(json!({"type": "hand_count", "counts": [1]}))
        .await;
    assert_eq!(host.wait_for("error").await["code"], "bad_hand_count");
}

#[tokio::test]
async fn every_statement_round_starts_hidden_on_screen_and_phones_until_the_host_reveals_it() {
    let server = TestServer::start().await;
    let statements = statements(&server.session.deck());
    let (first, second) = (statements[0].0 as u64, statements[1].0 as u64);
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    let mut phone = server.participant().await;

    // Round 1 of the first statement, revealed and closed: screen and phone see it.
    host.send(json!({"type": "go_to", "slide": first})).await;
    host.send(json!({"type": "open_vote"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(first, 1, 0).await["type"], "ack");
    let hidden = screen.wait_state(|s| s["voted"] == 1).await;
    assert_eq!(hidden["revealed"], false, "{hidden}");
    assert!(
        hidden.get("tally").is_none(),
        "hidden until revealed: {hidden}"
    );
    host.send(json!({"type": "reveal", "visible": true})).await;
    let shown = screen.wait_state(|s| s["revealed"] == true).await;
    assert_eq!(tally(&shown), vec![1, 0]);
    host.send(json!({"type": "close_vote"})).await;
    let closed = phone.wait_state(|s| s["slide"]["phase"] == "closed").await;
    assert_eq!(tally(&closed), vec![1, 0]);

    // The next statement opens hidden: a vote moves the host's tally, not the screen's.
    host.send(json!({"type": "go_to", "slide": second})).await;
    host.send(json!({"type": "open_vote"})).await;
    phone
        .wait_state(|s| s["slide"]["index"] == second && s["slide"]["phase"] == "open")
        .await;
    assert_eq!(phone.vote(second, 1, 1).await["type"], "ack");
    host.wait_state(|s| s["slide"]["index"] == second && tally(s) == vec![0, 1])
        .await;
    let next = screen
        .wait_state(|s| s["slide"]["index"] == second && s["voted"] == 1)
        .await;
    assert_eq!(next["revealed"], false, "{next}");
    assert!(
        next.get("tally").is_none(),
        "no tally leaks into the next vote: {next}"
    );
    assert!(next.get("hands").is_none());
    host.send(json!({"type": "close_vote"})).await;
    let closed = phone
        .wait_state(|s| s["slide"]["index"] == second && s["slide"]["phase"] == "closed")
        .await;
    assert!(
        closed.get("tally").is_none(),
        "nor onto the phones: {closed}"
    );

    // A re-vote on the first statement starts hidden too, though round 1 was revealed.
    host.send(json!({"type": "go_to", "slide": first})).await;
    let back = screen.wait_state(|s| s["slide"]["index"] == first).await;
    assert_eq!(back["revealed"], true, "round 1 keeps its reveal");
    host.send(json!({"type": "revote"})).await;
    phone
        .wait_state(|s| s["slide"]["round"] == 2 && s["slide"]["phase"] == "open")
        .await;
    assert_eq!(phone.vote(first, 2, 1).await["type"], "ack");
    let again = screen
        .wait_state(|s| s["slide"]["round"] == 2 && s["voted"] == 1)
        .await;
    assert_eq!(again["revealed"], false, "{again}");
    assert!(
        again.get("tally").is_none(),
        "a re-vote starts hidden: {again}"
    );
    host.send(json!({"type": "reveal", "visible": true})).await;
    let shown = screen
        .wait_state(|s| s["slide"]["round"] == 2 && s["revealed"] == true)
        .await;
    assert_eq!(tally(&shown), vec![0, 1]);

    // On a content slide there is nothing to reveal.
    host.send(json!({"type": "go_to", "slide": 0})).await;
    host.send(json!({"type": "reveal", "visible": true})).await;
    assert_eq!(host.wait_for("error").await["code"], "not_a_statement");
}

#[tokio::test]
async fn a_statement_marked_live_shows_its_results_from_the_first_vote() {
    let source =
        "## Live\n\nresults: live\n\nA) ja\nB) nee\n\n---\n\n## Verborgen\n\nA) ja\nB) nee\n";
    let deck = stemzaal::core::deck::parse("live.md", source).expect("the deck parses");
    let server = TestServer::start_with(deck, source).await;
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    let mut phone = server.participant().await;
    host.send(json!({"type": "open_vote"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(0, 1, 1).await["type"], "ack");
    let live = screen.wait_state(|s| s["voted"] == 1).await;
    assert_eq!(live["revealed"], true);
    assert_eq!(tally(&live), vec![0, 1]);
    host.send(json!({"type": "next"})).await;
    host.send(json!({"type": "open_vote"})).await;
    phone
        .wait_state(|s| s["slide"]["index"] == 1 && s["slide"]["phase"] == "open")
        .await;
    assert_eq!(phone.vote(1, 1, 0).await["type"], "ack");
    let hidden = screen
        .wait_state(|s| s["slide"]["index"] == 1 && s["voted"] == 1)
        .await;
    assert!(hidden.get("tally").is_none(), "{hidden}");
}

#[tokio::test]
async fn a_host_command_with_an_id_is_answered_ok_once_stored_or_with_an_error_naming_it() {
    let server = TestServer::start().await;
    let (slide, _) = statements(&server.session.deck())[0];
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": slide, "id": 41}))
        .await;
    assert_eq!(host.wait_for("ok").await, json!({"type": "ok", "id": 41}));
    host.send(json!({"type": "open_vote", "id": 42})).await;
    assert_eq!(host.wait_for("ok").await, json!({"type": "ok", "id": 42}));
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    // A command that changes nothing is still answered.
    host.send(json!({"type": "close_vote", "id": 43})).await;
    assert_eq!(host.wait_for("ok").await["id"], 43);
    host.send(json!({"type": "close_vote", "id": 44})).await;
    assert_eq!(host.wait_for("ok").await["id"], 44);
    // A refused one names its id.
    host.send(json!({"type": "start_timer", "seconds": 0, "id": 45}))
        .await;
    let refused = host.wait_for("error").await;
    assert_eq!(refused["code"], "bad_timer");
    assert_eq!(refused["id"], 45);
    // Without an id, no answer but the state (the next answer is for id 46).
    host.send(json!({"type": "next"})).await;
    host.send(json!({"type": "prev", "id": 46})).await;
    assert_eq!(host.wait_for("ok").await["id"], 46);
    // A phone's host command is refused with its id too.
    let mut phone = server.participant().await;
    phone.send(json!({"type": "next", "id": 7})).await;
    let refused = phone.wait_for("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["id"].as_u64()),
        (Some("not_allowed"), Some(7))
    );
}

#[tokio::test]
async fn a_hello_with_a_field_of_the_wrong_kind_gets_bad_message_not_hello_expected() {
    let server = TestServer::start().await;
    let url = format!("ws://{}/ws/{}", server.addr, server.code());
    for bad in [
        json!({"type": "hello", "lang": "en-US"}),
        json!({"type": "hello", "participant_id": 42}),
        json!({"type": "hello", "participant_id": "not-a-uuid"}),
        json!({"type": "hello", "role": "admin"}),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        use futures_util::{SinkExt, StreamExt};
        ws.send(tokio_tungstenite::tungstenite::Message::text(
            bad.to_string(),
        ))
        .await
        .unwrap();
        let mut error = Value::Null;
        let mut close = None;
        while let Some(Ok(msg)) = ws.next().await {
            match msg {
                tokio_tungstenite::tungstenite::Message::Text(text) => {
                    error = serde_json::from_str(&text).unwrap();
                }
                tokio_tungstenite::tungstenite::Message::Close(frame) => {
                    close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(error["code"], "bad_message", "{bad}");
        assert_eq!(close, Some((1008, "bad hello".to_owned())), "{bad}");
    }
}

#[tokio::test]
async fn welcome_names_the_language_of_the_slides_from_the_deck() {
    let server = TestServer::start().await;
    let phone = server.participant().await;
    assert_eq!(phone.welcome["lang"], "nl", "the built-in deck is Dutch");
    let source = "---\nlang: en\n---\n## Findings\n";
    let deck = stemzaal::core::deck::parse("en.md", source).expect("the deck parses");
    let english = TestServer::start_with(deck, source).await;
    for client in [
        english.participant().await,
        english.host().await,
        english.screen().await,
    ] {
        assert_eq!(client.welcome["lang"], "en", "{}", client.welcome);
    }
}

const GROUPS_DECK: &str = "---
title: Groepen
groups: Raadslid, Inwoner, Ambtenaar
min_group_size: 3
---

## Stelling

A) Ja
B) Nee
";

#[tokio::test]
async fn results_per_group_reach_the_host_always_the_screen_when_shown_and_revealed_never_a_phone()
{
    let deck = stemzaal::core::deck::parse("groepen.md", GROUPS_DECK).unwrap();
    let server = TestServer::start_with(deck, GROUPS_DECK).await;
    let mut host = server.host().await;
    let mut screen = server.screen().await;
    host.send(json!({"type": "open_vote"})).await;
    // Four raadsleden, three inwoners, one ambtenaar, one phone without a group.
    let groups = [
        Some("Raadslid"),
        Some("Raadslid"),
        Some("Raadslid"),
        Some("Raadslid"),
        Some("Inwoner"),
        Some("Inwoner"),
        Some("Inwoner"),
        Some("Ambtenaar"),
        None,
    ];
    let choices = [0, 0, 0, 1, 1, 1, 0, 1, 0];
    let mut phones = vec![];
    for (group, option) in groups.iter().zip(choices) {
        let mut phone = server.participant().await;
        if let Some(group) = group {
            phone
                .send(json!({"type": "choose_group", "group": group, "id": 1}))
                .await;
            assert_eq!(phone.wait_for("ok").await["id"], 1);
        }
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        assert_eq!(phone.vote(0, 1, option).await["type"], "ack");
        phones.push(phone);
    }
    // The one small group (the ambtenaar) is hidden, and so is the next smallest with a
    // vote (the one without a group): together they would give it away from the total.
    let expected = json!({"shown": false, "min_group_size": 3, "rows": [
        {"group": "Raadslid", "counts": [3, 1], "percents": [75, 25], "voted": 4},
        {"group": "Inwoner", "counts": [1, 2], "percents": [33, 67], "voted": 3},
        {"group": "Ambtenaar", "counts": null, "percents": null, "voted": null, "suppressed": "few"},
        {"group": null, "counts": null, "percents": null, "voted": null, "suppressed": "few"},
    ]});
    host.wait_state(|s| s["groups"] == expected).await;
    assert!(screen.wait_state(|_| true).await.get("groups").is_none());

    host.send(json!({"type": "show_groups", "visible": true, "id": 2}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 2);
    let mut shown = expected.clone();
    shown["shown"] = json!(true);
    host.wait_state(|s| s["groups"] == shown).await;
    let unrevealed = screen.wait_state(|_| true).await;
    assert!(unrevealed.get("groups").is_none(), "not before the reveal");
    host.send(json!({"type": "reveal", "visible": true})).await;
    screen.wait_state(|s| s["groups"] == shown).await;
    for phone in phones.iter_mut() {
        let state = phone.wait_state(|s| s["revealed"] == true).await;
        assert!(state.get("groups").is_none(), "{state}");
    }
    host.send(json!({"type": "show_groups", "visible": false}))
        .await;
    screen.wait_state(|s| s.get("groups").is_none()).await;
    // The report suppresses the same groups with the deck's floor.
    let report = server.session.report().await.unwrap();
    assert_eq!(report.min_group_size, 3);
    let rows = serde_json::to_value(&report.statements[0].groups).unwrap();
    assert_eq!(rows, expected["rows"]);
}

#[tokio::test]
async fn groups_cannot_be_shown_for_a_deck_without_groups() {
    let source = "## Stelling\n\nA) Ja\nB) Nee\n";
    let deck = stemzaal::core::deck::parse("zonder.md", source).unwrap();
    let server = TestServer::start_with(deck, source).await;
    let mut host = server.host().await;
    host.send(json!({"type": "show_groups", "visible": true, "id": 3}))
        .await;
    let error = host.wait_for("error").await;
    assert_eq!(
        (error["code"].as_str(), error["id"].as_u64()),
        (Some("no_groups"), Some(3))
    );
    assert!(host.state.get("groups").is_none());
}
