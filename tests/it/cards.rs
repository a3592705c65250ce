//! Voting cards through the real server: only a card joins, once, on one phone at a
//! time; issuing from the console; the printed sheet; the report's counts; a restart;
//! guessing held to the rate of new participants; and a card session in Chromium.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::core::session::{Command, Rejection, Session};
use stemzaal::hub::NotAdmitted;
use stemzaal::web::limits::Limits;
use tokio_tungstenite::tungstenite::Message;

use crate::api::Console;
use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{js_str, run, voted_for};
use crate::console::{axe_clean, logged_in};
use crate::support::{first_statement, http_get, TestClient, TestServer, WAIT};
use fantoccini::key::Key;

/// `count` new random cards, drawn as the console draws them.
fn new_cards(count: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    stemzaal::core::cards::generate(count, |len| rand::Rng::gen_range(&mut rng, 0..len))
}

/// Issues `count` cards in the test server's session and returns them.
pub(crate) async fn issue(server: &TestServer, count: usize) -> Vec<String> {
    let cards = new_cards(count);
    server
        .session
        .command(Command::IssueCards {
            cards: cards.clone(),
        })
        .await
        .unwrap()
        .expect("cards issued");
    cards
}

/// A phone presenting `card` (as typed on the card, lower case).
pub(crate) async fn phone_with(server: &TestServer, card: &str) -> TestClient {
    let typed = stemzaal::core::cards::display(card).to_ascii_lowercase();
    TestClient::hello(
        &server.ws_url(),
        json!({"type": "hello", "card": typed, "lang": "en"}),
    )
    .await
}

/// The first statement's slide, its vote opened by the host, and a phone that joined with
/// `card` and voted B there (the host has seen the vote).
async fn voted_with_card(server: &TestServer, card: &str) -> (u64, TestClient, TestClient) {
    let slide = first_statement(&server.session.deck()) as u64;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = phone_with(server, card).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(slide, 1, 1).await["type"], "ack");
    host.wait_state(|s| s["voted"] == 1).await;
    (slide, host, phone)
}

/// A `hello` the server refuses: its error and the close code and reason.
async fn refused(server: &TestServer, hello: Value) -> (Value, Option<u16>, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("connect");
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let mut error = Value::Null;
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(text))) => {
                error = serde_json::from_str(&text).unwrap();
                assert_ne!(error["type"], "welcome", "{error}");
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                return (error, Some(frame.code.into()), frame.reason.to_string())
            }
            Some(Ok(Message::Close(None)) | Err(_)) | None => return (error, None, "".into()),
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_session_with_cards_admits_no_phone_without_one_and_no_card_it_did_not_issue() {
    let server = TestServer::start().await;
    issue(&server, 3).await;
    let (error, code, reason) = refused(&server, json!({"type": "hello"})).await;
    assert_eq!(
        error,
        json!({"type": "error", "code": "card_required", "message": "Voor deze sessie heb je een stemkaart nodig."})
    );
    assert_eq!((code, reason.as_str()), (Some(4003), "card required"));
    // An id nobody holds a card for is no way in either.
    let stranger = uuid::Uuid::new_v4().to_string();
    let hello = json!({"type": "hello", "participant_id": stranger, "lang": "en"});
    let (error, code, _) = refused(&server, hello).await;
    assert_eq!(error["code"], "card_required");
    assert_eq!(error["message"], "This session needs a voting card.");
    assert_eq!(code, Some(4003));
    for card in ["ABCDE-FGHJK", "ABCDE", "0OIL1-ABCDE"] {
        let (error, code, reason) = refused(&server, json!({"type": "hello", "card": card})).await;
        assert_eq!(error["code"], "unknown_card", "{card}");
        assert_eq!(
            (code, reason.as_str()),
            (Some(4003), "unknown card"),
            "{card}"
        );
    }
    let host = server.host().await;
    assert_eq!(host.state["joined"], 0, "nobody joined");
    // A session without cards ignores a card.
    let open = TestServer::start().await;
    let phone = TestClient::hello(
        &open.ws_url(),
        json!({"type": "hello", "card": "ABCDE-FGHJK"}),
    )
    .await;
    assert!(phone.welcome["participant_id"].is_string());
    host.close().await;
}

#[tokio::test]
async fn a_card_joins_once_and_a_second_phone_takes_over_its_participant_and_vote() {
    let server = TestServer::start().await;
    let cards = issue(&server, 2).await;
    let (slide, mut host, mut first) = voted_with_card(&server, &cards[0]).await;
    let id = first.participant_id();

    // The same card on another phone: the same participant, its vote, and the first
    // phone is told its card is used elsewhere.
    let mut second = phone_with(&server, &cards[0]).await;
    assert_eq!(second.participant_id(), id);
    assert_eq!(
        second.welcome["votes"],
        json!([{"slide": slide, "round": 1, "option": 1}])
    );
    assert_eq!(
        first.closed_with_reason().await,
        (Some(4004), "card used elsewhere".to_owned())
    );
    assert_eq!(second.vote(slide, 1, 0).await["type"], "ack");
    let state = host
        .wait_state(|s| s["tally"] == json!([1, 0]) && s["voted"] == 1)
        .await;
    assert_eq!(state["joined"], 1, "one card, one participant");

    // A phone that comes back with the card's participant id is that participant, and
    // holds the card from now on.
    let mut back = server.participant_as(&id).await;
    assert_eq!(back.participant_id(), id);
    assert_eq!(second.closed().await, Some(4004));
    // The other card is a participant of its own, even on the phone that held the
    // first (it already is a participant, so it is given a new id).
    let other = TestClient::hello(
        &server.ws_url(),
        json!({"type": "hello", "participant_id": id, "card": cards[1]}),
    )
    .await;
    assert_ne!(other.participant_id(), id);
    host.wait_state(|s| s["joined"] == 2).await;
    // The first card's phone was not pushed out by the other card.
    host.send(json!({"type": "next"})).await;
    back.wait_state(|s| s["slide"]["index"] == slide + 1).await;
}

#[tokio::test]
async fn the_console_issues_cards_only_in_a_session_that_has_them_from_its_start() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    // The test session has a phone without a card.
    let _phone = server.participant().await;
    let path = format!("/api/sessions/{}/cards", server.code());
    let (status, error) = console.call("POST", &path, Some(json!({"count": 5}))).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("participants_without_cards"))
    );
    for count in [0, 2001] {
        let (status, error) = console
            .call("POST", &path, Some(json!({"count": count})))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (422, Some("bad_card_count"))
        );
    }
    let start = json!({"deck": 1, "cards": 2001});
    let (status, error) = console.call("POST", "/api/sessions", Some(start)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("bad_card_count"))
    );

    let start = json!({"deck": 1, "cards": 3});
    let (status, session) = console.call("POST", "/api/sessions", Some(start)).await;
    assert_eq!(status, 201, "{session}");
    let code = session["code"].as_str().unwrap().to_owned();
    assert_eq!(session["cards"], json!({"issued": 3, "used": 0}));
    assert_eq!(session["links"]["cards"], format!("/admin/cards/{code}"));
    let (_, list) = console.call("GET", "/api/sessions", None).await;
    let plain = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == server.code())
        .unwrap();
    assert_eq!(plain["cards"], json!({"issued": 0, "used": 0}));
    assert!(plain["links"].get("cards").is_none());

    // The printed cards: for the admin only, every card with its QR code and its code.
    let sheet = format!("/admin/cards/{code}");
    let (status, head, _) = http_get(server.addr, &sheet, &[]).await;
    assert_eq!(status, 303, "{head}");
    let cookie = [("Cookie", console.cookie.as_str())];
    let (status, head, html) = http_get(server.addr, &sheet, &cookie).await;
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("content-security-policy"), "{head}");
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(!html.contains("<?xml"));
    let handle = server.hub.find(&code).await.unwrap().unwrap();
    let cards = server.hub.cards(handle.code()).await.unwrap();
    for card in cards.all() {
        assert!(
            html.contains(&stemzaal::core::cards::display(card)),
            "{card}"
        );
    }

    // More cards for the session, printed from the first new one; at most 10,000.
    let path = format!("/api/sessions/{code}/cards");
    let (status, session) = console.call("POST", &path, Some(json!({"count": 2}))).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["cards"], json!({"issued": 5, "used": 0}));
    let (_, _, html) = http_get(server.addr, &format!("{sheet}?from=4"), &cookie).await;
    assert_eq!(html.matches("<svg").count(), 2);
    for count in [2000, 2000, 2000, 2000, 1995] {
        let (status, _) = console
            .call("POST", &path, Some(json!({ "count": count })))
            .await;
        assert_eq!(status, 200);
    }
    let (status, error) = console.call("POST", &path, Some(json!({"count": 1}))).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("too_many_cards"))
    );
    let (_, session) = console
        .call("GET", &format!("/api/sessions/{code}"), None)
        .await;
    assert_eq!(session["cards"]["issued"], 10_000);
}

#[tokio::test]
async fn the_report_says_how_many_cards_were_issued_used_and_voted() {
    let server = TestServer::start().await;
    let cards = issue(&server, 4).await;
    let slide = first_statement(&server.session.deck()) as u64;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut voter = phone_with(&server, &cards[0]).await;
    voter.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(voter.vote(slide, 1, 0).await["type"], "ack");
    let _silent = phone_with(&server, &cards[1]).await;
    host.wait_state(|s| s["joined"] == 2 && s["voted"] == 1)
        .await;

    let report = server.hub.report(server.code()).await.unwrap().unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cards"], json!({"issued": 4, "used": 2, "voted": 1}));
    let csv = stemzaal::report::to_csv(&report);
    for row in [
        "\ncards,,stemkaarten,,,,uitgegeven,4,,,,\r\n",
        "\ncards,,stemkaarten,,,,gebruikt,2,,,,\r\n",
        "\ncards,,stemkaarten,,,,gestemd,1,,,,\r\n",
    ] {
        assert!(csv.contains(row), "{row} in {csv}");
    }
    let html = stemzaal::report::to_html(
        &report,
        stemzaal::wire::protocol::Lang::En,
        &Default::default(),
    );
    assert!(
        html.contains("Voting cards: 4 issued, 2 used, 1 voted."),
        "{html}"
    );
    // A session without cards says nothing of them.
    let open = TestServer::start().await;
    let report = open.hub.report(open.code()).await.unwrap().unwrap();
    assert!(serde_json::to_value(&report)
        .unwrap()
        .get("cards")
        .is_none());
    assert!(!stemzaal::report::to_csv(&report).contains("stemkaarten"));
}

#[tokio::test]
async fn a_restarted_hub_keeps_the_cards_and_who_holds_them() {
    let server = TestServer::start().await;
    let cards = issue(&server, 2).await;
    let phone = phone_with(&server, &cards[0]).await;
    let id = phone.participant_id();
    let code = server.code().to_owned();

    let (_copy, hub) = server.restarted_hub();
    hub.restore_open().unwrap();
    let again = hub.find(&code).await.unwrap().expect("the session is back");
    let info = again
        .join_with_card(None, Some(cards[0].clone()))
        .await
        .unwrap()
        .expect("the card is known after the restart");
    assert_eq!(info.participant.to_string(), id);
    assert!(info.holds_card);
    assert!(matches!(
        again.join(None).await.unwrap(),
        Err(NotAdmitted::Refused(Rejection::CardRequired))
    ));
    let unused = again
        .join_with_card(None, Some(cards[1].clone()))
        .await
        .unwrap()
        .expect("the unused card still joins");
    assert_ne!(unused.participant.to_string(), id);
    let stored = hub.cards(&code).await.unwrap();
    assert_eq!((stored.issued(), stored.used()), (2, 2));
}

#[tokio::test]
async fn guessing_cards_is_held_to_the_rate_of_new_participants() {
    let limits = Limits {
        join_burst: 3.0,
        joins_per_second: 0.001,
        ..Limits::default()
    };
    let server = TestServer::start_limited(limits).await;
    let cards = issue(&server, 1).await;
    for guess in new_cards(3) {
        let (error, code, _) = refused(&server, json!({"type": "hello", "card": guess})).await;
        assert_eq!(
            (error["code"].as_str(), code),
            (Some("unknown_card"), Some(4003))
        );
    }
    // The burst is spent: every further card waits, the right one too.
    for card in [new_cards(1).remove(0), cards[0].clone()] {
        let (error, code, _) = refused(&server, json!({"type": "hello", "card": card})).await;
        assert_eq!(
            (error["code"].as_str(), code),
            (Some("too_many_joins"), Some(1013))
        );
    }
}

#[test]
fn a_session_takes_cards_only_before_a_phone_joins_without_one_and_replays_them() {
    let deck = Arc::new(stemzaal::core::deck::Deck::default_deck());
    let mut session = Session::new(deck.clone());
    let phone = uuid::Uuid::new_v4();
    session.apply(Command::Join { participant: phone }).unwrap();
    let cards = new_cards(2);
    assert_eq!(
        session.apply(Command::IssueCards {
            cards: cards.clone()
        }),
        Err(Rejection::ParticipantsWithoutCards)
    );

    let mut session = Session::new(deck.clone());
    let mut log = session
        .apply(Command::IssueCards {
            cards: vec![cards[0].clone(), cards[0].clone(), cards[1].clone()],
        })
        .unwrap();
    assert_eq!(
        session.cards().issued(),
        2,
        "a card given twice is one card"
    );
    assert_eq!(
        session.apply(Command::Join { participant: phone }),
        Err(Rejection::CardRequired)
    );
    let typed = stemzaal::core::cards::display(&cards[0]).to_ascii_lowercase();
    let holder = session.card_participant(&typed, Some(phone), uuid::Uuid::new_v4());
    assert_eq!(holder, Ok((phone, cards[0].clone())));
    log.extend(
        session
            .apply(Command::UseCard {
                card: cards[0].clone(),
                participant: phone,
            })
            .unwrap(),
    );
    assert_eq!(
        session.card_participant("ABCDEFGHJK", None, phone),
        Err(Rejection::UnknownCard)
    );
    let too_many = new_cards(stemzaal::core::cards::MAX_CARDS - 1);
    assert_eq!(
        session.apply(Command::IssueCards { cards: too_many }),
        Err(Rejection::TooManyCards)
    );
    let mut replayed = Session::new(deck);
    for event in &log {
        replayed.replay(event).unwrap();
    }
    assert_eq!(replayed.cards(), session.cards());
    assert!(replayed.has_participant(&phone));
}

/// Script: the phone's voting-card box `id` is the one shown, and the connection
/// indicator says `state`.
fn card_box(id: &str, state: &str) -> String {
    format!(
        "const m = document.getElementById('main'); const b = document.getElementById({0});
         return m.dataset.card === {0} && !b.hidden && document.getElementById('conn').dataset.state === {1};",
        js_str(id),
        js_str(state)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_voting_cards_in_chromium() {
    run("a_session_with_voting_cards_in_chromium", cards_in_chromium).await;
}

/// The console starts a session with three cards and prints them; one phone opens a
/// card's QR link and votes, one without a card is asked for one and types it, and a
/// third scans the first card and takes its vote over. axe-core checks each new state.
async fn cards_in_chromium(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let server = TestServer::start_console().await;
    let driver = Driver::start(&tools).await;
    let admin = logged_in(&driver, &server, (1440, 1000)).await;

    // A session with three cards, and their printed page.
    admin.fill("#start-cards", "3").await;
    admin.click("#start button[type=submit]").await;
    let code = admin
        .wait(
            "the session with cards in the list",
            "const a = document.querySelector('#session-list a[href^=\"/admin/cards/\"]');
             const li = a && a.closest('li[data-code]');
             return !!li && li.querySelector('.scards').textContent.includes('3') && li.dataset.code;",
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    axe_clean(&admin, &axe, "sessions, one with voting cards").await;
    admin
        .goto(&server.url(&format!("/admin/cards/{code}")))
        .await;
    let printed = admin
        .wait(
            "three cards with their QR codes",
            "const cards = [...document.querySelectorAll('.page .card')];
             return cards.length === 3 && cards.every((c) => c.querySelector('.qr svg'))
               && cards.map((c) => c.querySelector('.code').textContent);",
        )
        .await;
    axe_clean(&admin, &axe, "the printed voting cards").await;
    admin.screenshot("cards-sheet-1440x1000").await;
    let cards: Vec<String> = server.hub.cards(&code).await.unwrap().all().to_vec();
    let typed: Vec<String> = cards
        .iter()
        .map(|c| stemzaal::core::cards::display(c))
        .collect();
    assert_eq!(printed, json!(typed));

    // The poster says a voting card is needed, in Dutch and in English.
    admin
        .goto(&server.url(&format!("/admin/poster/{code}")))
        .await;
    admin
        .wait(
            "the poster's word on the voting card",
            "const n = document.getElementById('card-note');
             return !document.getElementById('poster').hidden && n.getClientRects().length > 0
               && n.textContent.includes('Je hebt een stemkaart nodig') && n.textContent.includes('You need a voting card');",
        )
        .await;
    axe_clean(&admin, &axe, "the poster of a session with cards").await;
    admin.screenshot("cards-poster-1440x1000").await;

    // The host opens the first statement.
    let handle = server.hub.find(&code).await.unwrap().unwrap();
    let slide = first_statement(&handle.deck()) as u64;
    let mut host = TestClient::hello(
        &format!("ws://{}/ws/{code}", server.addr),
        json!({"type": "hello", "key": handle.host_key().expose()}),
    )
    .await;
    assert_eq!(host.state["cards"], json!({"issued": 3, "used": 0}));
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    let join = server.url(&format!("/{code}"));
    // The projector says it where people join.
    let screen = Browser::open(&driver, server.addr, "screen", (1920, 1080)).await;
    let screen_key = handle.screen_key().expose().to_owned();
    screen
        .goto(&server.url(&format!("/screen/{code}?key={screen_key}")))
        .await;
    for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
        screen.viewport(w, h).await;
        screen
            .wait(
                &format!("the projector's word on the voting card, whole, at {w}×{h}"),
                "const j = document.getElementById('jcard'), r = j.getBoundingClientRect();
                 const box = document.getElementById('join').getBoundingClientRect();
                 return j.getClientRects().length > 0 && j.textContent === 'Scan de QR-code op je stemkaart.'
                   && r.bottom <= box.bottom && box.bottom <= innerHeight && j.scrollHeight <= j.clientHeight + 1;",
            )
            .await;
    }
    screen.viewport(1920, 1080).await;
    let blocking = crate::browser::axe_blocking(&screen, &axe, "the screen with cards").await;
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
    screen.screenshot("cards-screen-1920x1080").await;
    let open = "const o = document.querySelectorAll('#options .opt'); return o.length > 1 && !o[0].disabled;";

    // A card's QR link: in, and the card gone from the address bar.
    let (p1, p2, p3) = tokio::join!(
        Browser::open(&driver, server.addr, "phone with a card", (390, 844)),
        Browser::open(&driver, server.addr, "phone without a card", (390, 844)),
        Browser::open(&driver, server.addr, "phone taking over", (390, 844)),
    );
    p1.goto(&format!("{join}#kaart={}", cards[0])).await;
    p1.wait("the open options", open).await;
    assert_eq!(p1.js("return location.hash").await, "");
    p1.click("#options .opt[data-i=\"0\"]").await;
    p1.wait("the vote", &voted_for(0)).await;

    // Without a card: asked for one; a wrong code is refused in words, the right one,
    // typed in lower case without the hyphen, is in.
    p2.goto(&join).await;
    p2.wait("the card form", &card_box("card-form", "card"))
        .await;
    assert_eq!(
        p2.js("return document.activeElement.id").await,
        "card",
        "the code field has the focus"
    );
    axe_clean(&p2, &axe, "a phone asked for a voting card").await;
    p2.screenshot("cards-asked-390x844").await;
    p2.fill("#card", "AAAAA-BBBBB").await;
    p2.press(Key::Enter.into()).await;
    p2.wait(
        "the unknown card's message",
        "return document.getElementById('card-error').textContent.length > 0;",
    )
    .await;
    p2.wait("the card form again", &card_box("card-form", "card"))
        .await;
    axe_clean(&p2, &axe, "a phone with an unknown voting card").await;
    p2.fill("#card", &cards[1].to_ascii_lowercase()).await;
    p2.press(Key::Enter.into()).await;
    p2.wait("the open options", open).await;
    p2.click("#options .opt[data-i=\"1\"]").await;
    p2.wait("the vote", &voted_for(1)).await;

    // The first card on a third phone: it holds the vote, the first phone is told.
    p3.goto(&format!("{join}#kaart={}", typed[0])).await;
    p3.wait("the first card's vote", &voted_for(0)).await;
    p1.wait(
        "the card used elsewhere",
        &card_box("elsewhere", "elsewhere"),
    )
    .await;
    axe_clean(&p1, &axe, "a phone whose card is used elsewhere").await;
    p1.screenshot("cards-elsewhere-390x844").await;
    host.wait_state(|s| s["joined"] == 2 && s["tally"] == json!([1, 1]))
        .await;
    // Asked for, the first phone takes its card back, vote and all.
    p1.click("#card-back").await;
    p1.wait("the first card's vote again", &voted_for(0)).await;
    p3.wait(
        "the card used elsewhere",
        &card_box("elsewhere", "elsewhere"),
    )
    .await;

    // The host hears how many cards were used, and its page says so.
    host.wait_state(|s| s["cards"] == json!({"issued": 3, "used": 2}))
        .await;
    let host_page = Browser::open(&driver, server.addr, "host", (1366, 768)).await;
    let host_key = handle.host_key().expose().to_owned();
    host_page
        .goto(&server.url(&format!("/host/{code}?key={host_key}")))
        .await;
    host_page
        .wait(
            "the cards used on the host page",
            "const c = document.getElementById('cards-used'); return !c.hidden && c.textContent === 'Stemkaarten: 2 van 3 gebruikt';",
        )
        .await;
    host_page.screenshot("host-cards-1366x768").await;
    host.close().await;
    for b in [admin, screen, host_page, p1, p2, p3] {
        b.close().await;
    }
}

#[tokio::test]
async fn a_card_participant_returning_by_id_alone_takes_the_seat_until_the_card_takes_it_back() {
    let server = TestServer::start().await;
    let cards = issue(&server, 1).await;
    let (slide, mut host, mut carded) = voted_with_card(&server, &cards[0]).await;
    let id = carded.participant_id();

    // The id without the card: welcomed as the card's participant, with its vote, and
    // the phone that brought the card is closed as by a second scan.
    let mut by_id = server.participant_as(&id).await;
    assert_eq!(by_id.participant_id(), id);
    assert_eq!(
        by_id.welcome["votes"],
        json!([{"slide": slide, "round": 1, "option": 1}])
    );
    assert_eq!(
        carded.closed_with_reason().await,
        (Some(4004), "card used elsewhere".to_owned())
    );
    assert_eq!(by_id.vote(slide, 1, 0).await["type"], "ack");
    host.wait_state(|s| s["tally"] == json!([1, 0]) && s["joined"] == 1)
        .await;
    // Scanning the card again takes the seat back.
    let again = phone_with(&server, &cards[0]).await;
    assert_eq!(again.participant_id(), id);
    assert_eq!(
        by_id.closed_with_reason().await,
        (Some(4004), "card used elsewhere".to_owned())
    );
}
