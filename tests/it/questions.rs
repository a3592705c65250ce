//! Questions from the room through the real server: a phone asks whatever slide is on
//! show, the host opens and closes questions and moderates each one, the screen and
//! phones list the approved ones, phones upvote others' once; removed texts leave the
//! disk; the report lists the approved ones, never who asked.

use std::time::Duration;

use serde_json::{json, Value};
use stemzaal::core::arguments::ARGUE_EVERY_MS;

use crate::browser::{axe_blocking, js_str};
use crate::support::{on_disk, TestClient, TestServer};

const DECK: &str = "---
title: Vragen
---

# Welkom

Stel gerust een vraag.

---

## Meer groen in de wijk

A) Ja
B) Nee
";

async fn server_with(source: &str) -> TestServer {
    let deck = stemzaal::core::deck::parse("vragen.md", source).unwrap();
    TestServer::start_with(deck, source).await
}

/// A server on [`DECK`] whose host opened questions.
async fn open_room() -> (TestServer, TestClient) {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    done(
        &mut host,
        900,
        json!({"type": "open_questions", "open": true}),
    )
    .await;
    host.wait_state(|s| s["questions"]["open"] == true).await;
    (server, host)
}

/// Sends `msg` with `id` and returns the answer (`ok`, `asked` or `error`) carrying it.
async fn command(client: &mut TestClient, id: u64, mut msg: Value) -> Value {
    msg["id"] = json!(id);
    client.send(msg).await;
    if let Some(i) = client.inbox.iter().position(|m| m["id"] == id) {
        return client.inbox.remove(i);
    }
    loop {
        let msg = client.next_message().await.expect("an answer");
        if matches!(msg["type"].as_str(), Some("ok" | "asked" | "error")) && msg["id"] == id {
            return msg;
        }
    }
}

/// Sends `msg` with `id` and checks that it is answered `ok`.
async fn done(client: &mut TestClient, id: u64, msg: Value) {
    let answer = command(client, id, msg.clone()).await;
    assert_eq!(answer["type"], "ok", "{msg}: {answer}");
}

async fn ask(phone: &mut TestClient, id: u64, text: &str) -> Value {
    command(phone, id, json!({"type": "ask", "text": text})).await
}

/// Lets the pace pass (one `ask` or `withdraw_question` per participant per
/// [`ARGUE_EVERY_MS`]) at once, as `arguments::let_the_pace_pass` does: the hub's
/// clock reads tokio's, which this test's runtime moves forward.
async fn let_the_pace_pass() {
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(ARGUE_EVERY_MS + 100)).await;
    tokio::time::resume();
}

fn items(state: &Value) -> Vec<Value> {
    state["questions"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn numbers(state: &Value) -> Vec<u64> {
    items(state)
        .iter()
        .map(|q| q["question"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_question_goes_from_a_phone_through_the_host_to_the_screen_phones_and_the_report() {
    let server = server_with(DECK).await;
    let mut host = server.host().await;
    let mut asker = server.participant().await;
    let mut other = server.participant().await;
    let mut screen = server.screen().await;
    // Questions start closed; phones see that, the screen sees nothing of them.
    assert_eq!(
        asker.state["questions"],
        json!({"open": false, "shown": false, "items": []})
    );
    assert!(screen.state.get("questions").is_none(), "{}", screen.state);
    let refused = ask(&mut asker, 1, "Waarom nu?").await;
    assert_eq!(refused["code"], "questions_closed", "{refused}");

    done(
        &mut host,
        2,
        json!({"type": "open_questions", "open": true}),
    )
    .await;
    asker.wait_state(|s| s["questions"]["open"] == true).await;
    // On the content slide, and later on the statement: questions belong to the session.
    let asked = ask(&mut asker, 3, "  Wat kost het\r\nper wijk?  ").await;
    assert_eq!(asked, json!({"type": "asked", "id": 3, "question": 1}));
    let host_state = host.wait_state(|s| items(s).len() == 1).await;
    assert_eq!(
        items(&host_state),
        vec![
            json!({"question": 1, "text": "Wat kost het\nper wijk?", "status": "pending", "upvotes": 0})
        ]
    );
    // Pending never leaves the host.
    assert!(items(&other.state).is_empty());

    host.send(json!({"type": "next"})).await;
    let mut late = server.participant().await;
    late.wait_state(|s| s["slide"]["index"] == 1).await;
    let_the_pace_pass().await;
    assert_eq!(ask(&mut late, 4, "Wie beslist?").await["question"], 2);
    done(
        &mut host,
        5,
        json!({"type": "moderate_question", "question": 1, "status": "approved"}),
    )
    .await;
    let state = other.wait_state(|s| items(s).len() == 1).await;
    assert_eq!(
        items(&state),
        vec![
            json!({"question": 1, "text": "Wat kost het\nper wijk?", "status": "approved", "upvotes": 0})
        ]
    );

    // Others upvote once each; the asker cannot upvote its own.
    done(
        &mut other,
        6,
        json!({"type": "upvote_question", "question": 1}),
    )
    .await;
    done(
        &mut other,
        7,
        json!({"type": "upvote_question", "question": 1}),
    )
    .await;
    let own = command(
        &mut asker,
        8,
        json!({"type": "upvote_question", "question": 1}),
    )
    .await;
    assert_eq!(own["code"], "own_question", "{own}");
    let pending = command(
        &mut other,
        9,
        json!({"type": "upvote_question", "question": 2}),
    )
    .await;
    assert_eq!(pending["code"], "unknown_question", "{pending}");
    host.wait_state(|s| items(s).first().is_some_and(|q| q["upvotes"] == 1))
        .await;

    // The screen lists them once the host shows them, the highlighted one first.
    done(
        &mut host,
        10,
        json!({"type": "moderate_question", "question": 2, "status": "highlighted"}),
    )
    .await;
    done(
        &mut host,
        11,
        json!({"type": "show_questions", "visible": true}),
    )
    .await;
    let shown = screen
        .wait_state(|s| s["questions"]["shown"] == true && items(s).len() == 2)
        .await;
    assert_eq!(numbers(&shown), vec![2, 1]);
    assert_eq!(items(&shown)[0]["status"], "highlighted");

    // Answered ones go after the open ones; closing stops asking and upvoting.
    done(
        &mut host,
        12,
        json!({"type": "moderate_question", "question": 2, "status": "answered"}),
    )
    .await;
    let answered = screen
        .wait_state(|s| items(s).last().is_some_and(|q| q["status"] == "answered"))
        .await;
    assert_eq!(numbers(&answered), vec![1, 2]);
    done(
        &mut host,
        13,
        json!({"type": "open_questions", "open": false}),
    )
    .await;
    let_the_pace_pass().await;
    assert_eq!(
        ask(&mut other, 14, "Nog één?").await["code"],
        "questions_closed"
    );
    let closed = command(
        &mut late,
        15,
        json!({"type": "upvote_question", "question": 1}),
    )
    .await;
    assert_eq!(closed["code"], "questions_closed");

    // The report: approved questions by upvotes, whether answered, never who asked.
    let key = server.session.host_key().expose().to_owned();
    let code = server.code().to_owned();
    let (_, _, body) = server.get(&format!("/export/{code}.json?key={key}")).await;
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        report["questions"],
        json!([
            {"text": "Wat kost het\nper wijk?", "upvotes": 1, "answered": false},
            {"text": "Wie beslist?", "upvotes": 0, "answered": true},
        ])
    );
    for id in [
        asker.participant_id(),
        other.participant_id(),
        late.participant_id(),
    ] {
        assert!(!body.contains(&id), "{id} in the report");
    }
    let (_, _, csv) = server.get(&format!("/export/{code}.csv?key={key}")).await;
    assert!(
        csv.contains("question,,,,,,,,,,1,\"vraag: Wat kost het\nper wijk?\"\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("question,,,,,,,,,,0,beantwoorde vraag: Wie beslist?\r\n"),
        "{csv}"
    );
    // The PDF is checked for PDF/A and PDF/UA as it is written (a table that broke
    // either would be a 500), in both languages; the workbook gets a sheet of them.
    for path in [
        format!("/report/{code}.pdf?key={key}"),
        format!("/report/{code}.pdf?key={key}&lang=en"),
        format!("/export/{code}.xlsx?key={key}"),
    ] {
        let (status, head, bytes) = crate::support::http_get_bytes(server.addr, &path, &[]).await;
        assert_eq!(status, 200, "{path}: {head}");
        assert!(bytes.len() > 1000, "{path}");
    }
    let (_, _, html) = server.get(&format!("/report/{code}?key={key}")).await;
    assert!(html.contains("Vragen uit de zaal"), "{html}");
    assert!(
        html.contains(
            "Wie beslist? <span class=\"upvotes\">(0 steun)</span> <strong>(beantwoord)</strong>"
        ),
        "{html}"
    );
}

#[tokio::test]
async fn only_the_host_opens_shows_and_moderates_questions_and_only_phones_ask() {
    let (server, mut host) = open_room().await;
    let mut phone = server.participant().await;
    assert_eq!(ask(&mut phone, 1, "Mag dit?").await["question"], 1);
    for (id, msg) in [
        (
            2,
            json!({"type": "moderate_question", "question": 1, "status": "approved"}),
        ),
        (3, json!({"type": "open_questions", "open": false})),
        (4, json!({"type": "show_questions", "visible": true})),
    ] {
        let refused = command(&mut phone, id, msg.clone()).await;
        assert_eq!(refused["code"], "not_allowed", "{msg}");
    }
    let mut screen = server.screen().await;
    for (id, msg) in [
        (5, json!({"type": "ask", "text": "Ik ben een scherm"})),
        (6, json!({"type": "upvote_question", "question": 1})),
        (
            7,
            json!({"type": "moderate_question", "question": 1, "status": "hidden"}),
        ),
    ] {
        let refused = command(&mut screen, id, msg.clone()).await;
        assert_eq!(refused["code"], "not_allowed", "{msg}");
    }
    let refused = command(
        &mut host,
        8,
        json!({"type": "ask", "text": "De host vraagt"}),
    )
    .await;
    assert_eq!(refused["code"], "not_allowed");
    // Nothing of it changed the question.
    let state = host.wait_state(|s| items(s).len() == 1).await;
    assert_eq!(items(&state)[0]["status"], "pending");
    assert_eq!(state["questions"]["open"], true);
}

#[tokio::test]
async fn bad_questions_are_refused_with_their_codes_and_the_pace_holds() {
    let (server, mut host) = open_room().await;
    let mut phone = server.participant().await;
    for text in ["   ", "tab\there", &"é".repeat(281)] {
        let refused = ask(&mut phone, 1, text).await;
        assert_eq!(refused["code"], "bad_question", "{text:?}");
    }
    assert_eq!(ask(&mut phone, 2, &"é".repeat(280)).await["question"], 1);
    // One question or withdrawal per five seconds.
    let refused = ask(&mut phone, 3, "Meteen nog een").await;
    assert_eq!(
        (refused["code"].as_str(), refused["message"].as_str()),
        (
            Some("too_fast"),
            Some("Even geduld: één argument of vraag per 5 seconden.")
        )
    );
    for n in 2..=5 {
        let_the_pace_pass().await;
        assert_eq!(
            ask(&mut phone, 10 + n, &format!("Vraag {n}")).await["question"],
            n
        );
    }
    let_the_pace_pass().await;
    assert_eq!(
        ask(&mut phone, 20, "Een zesde").await["code"],
        "too_many_questions"
    );

    // A withdrawal of one's own makes room; another's is not one's to withdraw.
    let mut other = server.participant().await;
    let refused = command(
        &mut other,
        21,
        json!({"type": "withdraw_question", "question": 2}),
    )
    .await;
    assert_eq!(refused["code"], "unknown_question");
    done(
        &mut phone,
        22,
        json!({"type": "withdraw_question", "question": 2}),
    )
    .await;
    let_the_pace_pass().await;
    assert_eq!(ask(&mut phone, 23, "Een zesde").await["question"], 6);

    // The host's checks: the status first, then the question.
    let bad = command(
        &mut host,
        24,
        json!({"type": "moderate_question", "question": 999, "status": "top"}),
    )
    .await;
    assert_eq!(bad["code"], "bad_status");
    let unknown = command(
        &mut host,
        25,
        json!({"type": "moderate_question", "question": 2, "status": "approved"}),
    )
    .await;
    assert_eq!(unknown["code"], "unknown_question");

    // A deck with `questions: off` takes none and shows none.
    let off = server_with(&DECK.replace("title: Vragen", "title: Zonder\nquestions: off")).await;
    let mut host = off.host().await;
    let mut phone = off.participant().await;
    assert!(phone.state.get("questions").is_none(), "{}", phone.state);
    assert!(host.state.get("questions").is_none(), "{}", host.state);
    let refused = command(
        &mut host,
        1,
        json!({"type": "open_questions", "open": true}),
    )
    .await;
    assert_eq!(refused["code"], "questions_off");
    assert_eq!(ask(&mut phone, 2, "Toch?").await["code"], "questions_off");
}

#[tokio::test]
async fn highlighting_a_question_returns_the_one_highlighted_before_to_the_approved() {
    let (server, mut host) = open_room().await;
    for (id, text) in [(1, "Eerste"), (2, "Tweede")] {
        let mut phone = server.participant().await;
        assert_eq!(ask(&mut phone, id, text).await["question"], id);
    }
    for (id, question) in [(3, 1), (4, 2)] {
        let msg =
            json!({"type": "moderate_question", "question": question, "status": "highlighted"});
        done(&mut host, id, msg).await;
    }
    let state = host
        .wait_state(|s| {
            items(s)
                .iter()
                .any(|q| q["question"] == 2 && q["status"] == "highlighted")
        })
        .await;
    assert_eq!(items(&state)[0]["status"], "approved", "{state}");
}

#[tokio::test]
async fn a_reloaded_phone_gets_its_own_questions_and_upvotes_in_welcome() {
    let (server, mut host) = open_room().await;
    let mut phone = server.participant().await;
    let mut other = server.participant().await;
    assert_eq!(ask(&mut other, 1, "Van een ander").await["question"], 1);
    assert_eq!(ask(&mut phone, 2, "Van mij").await["question"], 2);
    host.send(json!({"type": "moderate_question", "question": 1, "status": "approved"}))
        .await;
    phone.wait_state(|s| items(s).len() == 1).await;
    done(
        &mut phone,
        3,
        json!({"type": "upvote_question", "question": 1}),
    )
    .await;
    let id = phone.participant_id();
    let again = server.participant_as(&id).await;
    assert_eq!(
        again.welcome["questions"],
        json!([{"question": 2, "text": "Van mij"}])
    );
    assert_eq!(again.welcome["upvoted_questions"], json!([1]));
}

#[tokio::test]
async fn a_hidden_or_withdrawn_question_leaves_every_file_and_a_restart_keeps_the_rest() {
    let (server, mut host) = open_room().await;
    let mut kept = server.participant().await;
    let mut hidden = server.participant().await;
    let mut withdrawn = server.participant().await;
    assert_eq!(
        ask(&mut kept, 1, "BEWAARD-3e1f blijft").await["question"],
        1
    );
    assert_eq!(
        ask(&mut hidden, 2, "VERBORGEN-8a2c naam").await["question"],
        2
    );
    assert_eq!(
        ask(&mut withdrawn, 3, "INGETROKKEN-6b7d spijt").await["question"],
        3
    );
    host.send(json!({"type": "moderate_question", "question": 1, "status": "answered"}))
        .await;
    host.wait_state(|s| items(s).len() == 3).await;
    for text in ["BEWAARD-3e1f", "VERBORGEN-8a2c", "INGETROKKEN-6b7d"] {
        assert!(
            !on_disk(server.data.path(), text).is_empty(),
            "{text} is stored first"
        );
    }
    let msg = json!({"type": "moderate_question", "question": 2, "status": "hidden"});
    done(&mut host, 4, msg).await;
    let_the_pace_pass().await;
    let msg = json!({"type": "withdraw_question", "question": 3});
    done(&mut withdrawn, 5, msg).await;
    host.wait_state(|s| items(s).len() == 1).await;

    server
        .wait_off_disk(&["VERBORGEN-8a2c", "INGETROKKEN-6b7d"], &["BEWAARD-3e1f"])
        .await;

    // A restart replays the log: the rest comes back, the removed ones do not.
    let view = server.host_state_after_restart().await;
    assert_eq!(
        view["questions"],
        json!({"open": true, "shown": false, "items": [
            {"question": 1, "text": "BEWAARD-3e1f blijft", "status": "answered", "upvotes": 0},
        ]})
    );
}

#[tokio::test]
async fn phones_hear_question_upvotes_as_counts_not_as_states() {
    let (server, mut host) = open_room().await;
    let mut asker = server.participant().await;
    assert_eq!(ask(&mut asker, 1, "Hoeveel bomen?").await["question"], 1);
    let msg = json!({"type": "moderate_question", "question": 1, "status": "approved"});
    done(&mut host, 2, msg).await;
    let mut observer = server.participant().await;
    observer.wait_state(|s| items(s).len() == 1).await;
    let mut fans = vec![];
    for _ in 0..12 {
        fans.push(server.participant().await);
    }
    for (i, fan) in fans.iter_mut().enumerate() {
        let msg = json!({"type": "upvote_question", "question": 1});
        done(fan, 100 + i as u64, msg).await;
    }
    let last = json!({"type": "upvotes", "slide": 0, "upvotes": [], "questions": [[1, 12]]});
    let (mut states, mut upvotes) = (0, 0);
    loop {
        let msg = observer
            .next_message()
            .await
            .expect("the socket stays open");
        match msg["type"].as_str() {
            Some("state") => states += 1,
            Some("upvotes") => {
                upvotes += 1;
                if msg == last {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(states, 0, "no state while only counts move");
    assert!(
        upvotes <= 4,
        "coalesced: {upvotes} upvotes messages for 12 upvotes"
    );
}

#[test]
fn question_messages_decode_and_encode_as_documented() {
    use stemzaal::wire::protocol::{ClientMsg, ServerMsg, UpvotesTag, UpvotesView};
    for (value, msg) in [
        (
            json!({"type": "ask", "id": 11, "text": "Wat kost het groen per wijk?"}),
            ClientMsg::Ask {
                id: 11,
                text: "Wat kost het groen per wijk?".into(),
            },
        ),
        (
            json!({"type": "withdraw_question", "question": 4}),
            ClientMsg::WithdrawQuestion { question: 4 },
        ),
        (
            json!({"type": "upvote_question", "question": 4}),
            ClientMsg::UpvoteQuestion { question: 4 },
        ),
        (
            json!({"type": "moderate_question", "question": 4, "status": "answered"}),
            ClientMsg::ModerateQuestion {
                question: 4,
                status: "answered".into(),
            },
        ),
        (
            json!({"type": "open_questions", "open": true}),
            ClientMsg::OpenQuestions { open: true },
        ),
        (
            json!({"type": "show_questions", "visible": false}),
            ClientMsg::ShowQuestions { visible: false },
        ),
    ] {
        let decoded: ClientMsg = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(decoded, msg, "{value}");
        let host_only = matches!(
            msg,
            ClientMsg::ModerateQuestion { .. }
                | ClientMsg::OpenQuestions { .. }
                | ClientMsg::ShowQuestions { .. }
        );
        assert_eq!(msg.is_host_command(), host_only, "{value}");
    }
    assert_eq!(
        serde_json::to_value(ServerMsg::Asked {
            id: 11,
            question: 4
        })
        .unwrap(),
        json!({"type": "asked", "id": 11, "question": 4})
    );
    let upvotes = UpvotesView {
        kind: UpvotesTag::Upvotes,
        slide: 0,
        upvotes: vec![],
        questions: vec![(4, 3), (2, 8)],
    };
    let expected =
        json!({"type": "upvotes", "slide": 0, "upvotes": [], "questions": [[4, 3], [2, 8]]});
    assert_eq!(serde_json::to_value(&upvotes).unwrap(), expected);
    assert_eq!(
        serde_json::from_value::<UpvotesView>(expected).unwrap(),
        upvotes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_goes_from_a_phone_through_the_hosts_keyboard_to_the_screen_in_chromium() {
    crate::browser::run(
        "a_question_goes_from_a_phone_through_the_hosts_keyboard_to_the_screen_in_chromium",
        questions_in_chromium,
    )
    .await;
}

/// Script: the element with `id` shows `text` (its whole text).
fn shows(id: &str, text: &str) -> String {
    format!(
        "const e = document.getElementById({}); return !!e && e.offsetParent !== null && e.textContent === {};",
        js_str(id),
        js_str(text)
    )
}

async fn questions_in_chromium(tools: crate::browser::harness::Tools) {
    use crate::browser::harness::Driver;
    use fantoccini::key::Key;
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let server = server_with(DECK).await;
    let mut control = server.host().await;
    let driver = Driver::start(&tools).await;
    let ([host, screen, phone], _) = crate::browser::room_pages(&driver, &server).await;
    let mut blocking = vec![];

    // The host opens questions from the keyboard.
    host.wait("the questions panel", &shows("qa-open", "Vragen openen"))
        .await;
    host.tab_to("#qa-open", 80).await;
    host.press(Key::Enter.into()).await;
    control.wait_state(|s| s["questions"]["open"] == true).await;

    // The phone asks, on the content slide.
    let mine = "Wat kost het groen per wijk?";
    phone
        .wait(
            "the question box",
            "return !document.getElementById('ask').hidden;",
        )
        .await;
    phone.click("#ask summary").await;
    phone.fill("#q-text", mine).await;
    phone
        .wait("the characters left", &shows("q-left", "Nog 252 tekens"))
        .await;
    blocking.extend(axe_blocking(&phone, &axe, "phone with the question box open").await);
    phone.screenshot("phone-question-box").await;
    phone.click("#q-send").await;
    phone
        .wait(
            "its own question, waiting",
            "const m = document.querySelector('#q-mine li');
             return !!m && m.textContent.includes('Wacht op de gespreksleider');",
        )
        .await;
    let mut other = server.participant().await;
    let theirs = "Wie beslist over de inrichting?";
    assert_eq!(ask(&mut other, 1, theirs).await["question"], 2);

    // The host: both waiting, oldest first; approve the first by Tab and Enter, then
    // highlight the next with its shortcut.
    host.wait(
        "the queue",
        "return document.querySelectorAll('#qa-queue li').length === 2;",
    )
    .await;
    blocking.extend(axe_blocking(&host, &axe, "host with questions waiting").await);
    host.screenshot("host-question-queue").await;
    host.tab_to(
        "#qa-queue li:first-child button[data-status=\"approved\"]",
        80,
    )
    .await;
    host.press(Key::Enter.into()).await;
    host.wait(
        "one approved, the focus on the next one waiting",
        "return document.querySelectorAll('#qa-listed li').length === 1
           && document.activeElement === document.querySelector('#qa-queue li:first-child button');",
    )
    .await;
    let focus = host.focus_visible().await;
    assert_eq!(focus["ok"], true, "the next question's button: {focus}");
    host.press('h').await;
    host.wait(
        "the highlighted one first",
        &format!(
            "const l = document.querySelector('#qa-listed li'); return !!l && l.classList.contains('hl') && l.querySelector('.atext').textContent === {};",
            js_str(theirs)
        ),
    )
    .await;
    host.tab_to("#qa-show", 80).await;
    host.press(Key::Enter.into()).await;

    // The screen: the highlighted one large, the other below it.
    screen
        .wait(
            "the questions on the screen",
            &format!(
                "const h = document.getElementById('qs-hl'); return !document.getElementById('qs').hidden && !h.hidden
                   && h.querySelector('.atext').textContent === {} && document.querySelector('#qs-list .atext')?.textContent === {};",
                js_str(theirs),
                js_str(mine)
            ),
        )
        .await;
    let big = screen
        .js("return parseFloat(getComputedStyle(document.getElementById('qs-hl')).fontSize) / parseFloat(getComputedStyle(document.querySelector('#qs-list li')).fontSize);")
        .await;
    assert!(
        big.as_f64().unwrap() >= 1.4,
        "the highlighted one is large: {big}"
    );
    blocking.extend(axe_blocking(&screen, &axe, "screen with questions").await);
    screen.screenshot("screen-questions").await;

    // The phone upvotes the other's question; its own is listed, without an upvote.
    phone
        .wait(
            "the listed question to upvote",
            "const b = document.querySelector('#q-list button[data-q]'); return !!b && !b.disabled;",
        )
        .await;
    phone.click("#q-list button[data-q]").await;
    control
        .wait_state(|s| {
            items(s)
                .iter()
                .any(|q| q["question"] == 2 && q["upvotes"] == 1)
        })
        .await;
    phone
        .wait(
            "upvoted, and its own listed",
            "const b = document.querySelector('#q-list button[data-q]');
             return b.getAttribute('aria-pressed') === 'true' && b.textContent === 'Gesteund (1)'
               && document.querySelector('#q-mine li').textContent.includes('Staat op de lijst')
               && !document.querySelector('#q-mine button[data-q]');",
        )
        .await;
    blocking.extend(axe_blocking(&phone, &axe, "phone with listed questions").await);

    // Marked answered by its shortcut: the screen marks it and lists it last.
    host.tab_to("#qa-listed li:first-child button", 20).await;
    host.press('d').await;
    screen
        .wait(
            "the answered one marked, last",
            "const l = [...document.querySelectorAll('#qs-list li')]; return document.getElementById('qs-hl').hidden
               && l.length === 2 && l[1].textContent.includes('Beantwoord');",
        )
        .await;
    blocking.extend(axe_blocking(&screen, &axe, "screen with an answered question").await);

    // In English, every word of it.
    phone.click("[data-lang-toggle]").await;
    phone
        .wait(
            "the questions in English",
            "return document.getElementById('qa-h').textContent === 'Questions from the room'
               && document.querySelector('#q-mine li').textContent.includes('Listed')
               && document.querySelector('#q-list li').textContent.includes('Answered')
               && document.getElementById('q-mine-h').textContent === 'Your questions';",
        )
        .await;
    blocking.extend(axe_blocking(&phone, &axe, "phone with questions, in English").await);

    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    for b in [host, screen, phone] {
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_shows_a_long_highlighted_question_whole_at_every_size() {
    crate::browser::run(
        "the_screen_shows_a_long_highlighted_question_whole_at_every_size",
        long_questions_fit,
    )
    .await;
}

/// Script: the highlighted question and every listed one shown lie whole inside the
/// questions' box, none scrolls, and the text is at least the screen's minimum size.
const QUESTIONS_WHOLE: &str = "
const box = document.getElementById('qs').getBoundingClientRect();
const parts = [document.getElementById('qs-hl'), ...document.querySelectorAll('#qs-list li')];
const cut = parts.filter((e) => { const r = e.getBoundingClientRect(); return r.top < box.top - 1 || r.bottom > box.bottom + 1 || r.right > box.right + 1; })
  .map((e) => e.textContent.slice(0, 30));
const list = document.getElementById('qs-list');
const u = Math.min(innerWidth / 100, innerHeight / 56.25);
const small = parts.filter((e) => parseFloat(getComputedStyle(e).fontSize) < 2.1875 * u - 0.5).length;
return { cut, scrolls: list.scrollHeight > list.clientHeight + 1, small, listed: list.children.length };";

async fn long_questions_fit(tools: crate::browser::harness::Tools) {
    use crate::browser::harness::{Browser, Driver};
    let (server, mut host) = open_room().await;
    let long = format!(
        "{}?",
        "Waarom wordt er in deze wijk zo weinig groen aangelegd terwijl ".repeat(5)
    )
    .chars()
    .take(279)
    .collect::<String>()
        + "?";
    for i in 0..8u64 {
        let mut phone = server.participant().await;
        let text = if i == 0 {
            long.clone()
        } else {
            format!("Vraag nummer {i} over de wijk, de bomen en het budget voor volgend jaar?")
        };
        assert_eq!(ask(&mut phone, 1, &text).await["question"], i + 1);
        let status = if i == 0 { "highlighted" } else { "approved" };
        done(
            &mut host,
            10 + i,
            json!({"type": "moderate_question", "question": i + 1, "status": status}),
        )
        .await;
    }
    done(
        &mut host,
        30,
        json!({"type": "show_questions", "visible": true}),
    )
    .await;
    let driver = Driver::start(&tools).await;
    let screen = Browser::open(&driver, server.addr, "screen-questions", (1920, 1080)).await;
    let code = server.code().to_owned();
    let key = server.session.screen_key().expose().to_owned();
    screen
        .goto(&server.url(&format!("/screen/{code}?key={key}")))
        .await;
    screen
        .wait("online", &crate::browser::conn_is("online"))
        .await;
    for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
        screen.viewport(w, h).await;
        let measured = screen
            .wait(
                "the questions laid out",
                "const l = document.querySelectorAll('#qs-list li'); return !document.getElementById('qs').hidden && l.length > 0;",
            )
            .await;
        assert_eq!(measured, json!(true));
        let fit = screen.js(QUESTIONS_WHOLE).await;
        assert_eq!(fit["cut"], json!([]), "{w}×{h}: {fit}");
        assert_eq!(fit["scrolls"], false, "{w}×{h}: {fit}");
        assert_eq!(fit["small"], 0, "{w}×{h}: {fit}");
        screen
            .screenshot(&format!("screen-questions-{w}x{h}"))
            .await;
    }
    screen.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_and_their_upvotes_cross_the_nodes_of_a_cluster() {
    use crate::cluster::{single_nats, Node};
    let Some(bin) = crate::nats::nats_or_skip("questions_cross_the_nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = single_nats(&bin, dir.path());
    let nodes: Vec<Node> = (0..2)
        .map(|i| Node::start(&nats.url, 1, &dir.path().join(format!("node{i}"))))
        .collect();
    let mut host = nodes[0].host().await;
    done(
        &mut host,
        1,
        json!({"type": "open_questions", "open": true}),
    )
    .await;
    // The asker is on the node that does not own the session: its answer comes back
    // through the owner.
    let hello = json!({"type": "hello"});
    let mut asker = TestClient::hello(&nodes[1].ws_url(), hello.clone()).await;
    asker.wait_state(|s| s["questions"]["open"] == true).await;
    assert_eq!(
        ask(&mut asker, 2, "Wie betaalt het onderhoud?").await["question"],
        1
    );
    host.wait_state(|s| items(s).len() == 1).await;
    let msg = json!({"type": "moderate_question", "question": 1, "status": "approved"});
    done(&mut host, 3, msg).await;
    let mut fans = vec![];
    for i in 0..4 {
        let mut fan = TestClient::hello(&nodes[i % 2].ws_url(), hello.clone()).await;
        fan.wait_state(|s| items(s).len() == 1).await;
        let msg = json!({"type": "upvote_question", "question": 1});
        done(&mut fan, 10 + i as u64, msg).await;
        fans.push(fan);
    }
    // The asker's node hears the counts as phones do, without a new state.
    asker.wait_state(|s| items(s).len() == 1).await;
    loop {
        let msg = asker.next_message().await.expect("the socket stays open");
        if msg["type"] == "upvotes" && msg["questions"] == json!([[1, 4]]) {
            break;
        }
    }
    // A reload on the other node is told its own question.
    let id = asker.participant_id();
    let again = TestClient::hello(
        &nodes[0].ws_url(),
        json!({"type": "hello", "participant_id": id}),
    )
    .await;
    assert_eq!(
        again.welcome["questions"],
        json!([{"question": 1, "text": "Wie betaalt het onderhoud?"}])
    );
}
