//! A closed session has an ending on every page, also after a reload: the projector
//! thanks the room without the QR code and the code, phones say it ended and show the
//! results the host revealed (never one it kept hidden), the host keeps the report.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{axe_blocking, room_pages, run};
use crate::support::{TestClient, TestServer, WAIT};

const DECK: &str = "---
title: Raadsavond wonen
---

## Woningbouw in de kernen

A) Eerst de grote kernen
B) Elke kern een beetje

---

## Een nieuwe sporthal

A) Ja
B) Nee
";

/// Two statements voted on by three phones: the first revealed (2 of 3 for A), the
/// second kept hidden.
async fn voted_and_closed_later(server: &TestServer) {
    let mut host = server.host().await;
    let mut phones: Vec<TestClient> = vec![];
    for _ in 0..3 {
        phones.push(server.participant().await);
    }
    for (slide, options) in [(0, [0, 0, 1]), (1, [1, 1, 1])] {
        host.send(json!({"type": "go_to", "slide": slide})).await;
        host.send(json!({"type": "open_vote"})).await;
        for (phone, option) in phones.iter_mut().zip(options) {
            phone
                .wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "open")
                .await;
            assert_eq!(phone.vote(slide, 1, option).await["type"], "ack");
        }
        host.send(json!({"type": "close_vote"})).await;
        if slide == 0 {
            host.send(json!({"type": "reveal", "visible": true})).await;
        }
        host.wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "closed")
            .await;
    }
}

/// A `hello` to `code` and everything the server answers, up to its close.
async fn hello_to(server: &TestServer, code: &str) -> (Vec<Value>, Option<(u16, String)>) {
    let url = format!("ws://{}/ws/{code}", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the upgrade of a closed session is taken");
    let hello = json!({"type": "hello", "lang": "nl"}).to_string();
    ws.send(Message::Text(hello.into())).await.unwrap();
    let mut heard = vec![];
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(t))) => heard.push(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return (heard, frame.map(|f| (f.code.into(), f.reason.to_string())))
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (heard, None),
        }
    }
}

#[tokio::test]
async fn a_closed_session_answers_every_hello_with_its_ending_and_closes_4001() {
    let deck = stemzaal::core::deck::parse("wonen.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    voted_and_closed_later(&server).await;
    let code = server.code().to_owned();
    assert!(server.hub.close(&code).await.unwrap().is_ok());

    let (heard, close) = hello_to(&server, &code.to_lowercase()).await;
    assert_eq!(
        heard,
        [
            json!({"type": "ended", "title": "Raadsavond wonen", "results": [
                {"slide": 0, "title": "Woningbouw in de kernen",
                 "options": ["Eerst de grote kernen", "Elke kern een beetje"],
                 "round": 1, "tally": [2, 1], "percents": [67, 33]}
            ]})
        ],
        "only the revealed statement, never the hidden one"
    );
    assert_eq!(close, Some((4001, "session closed".to_owned())));
    // The pages of a closed session open (their socket says it ended); a code that
    // never was still gets the join page with 404.
    for path in [
        format!("/{code}"),
        format!("/host/{code}"),
        format!("/screen/{code}"),
    ] {
        let (status, _, body) = server.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("id=\"ended\""), "{path} has its ending");
    }
    // Asked again, the same ending; once deleted, no ending is left to tell.
    assert_eq!(hello_to(&server, &code).await.0, heard);
    assert!(server.hub.delete(&code).await.unwrap());
    let url = format!("ws://{}/ws/{code}", server.addr);
    assert!(tokio_tungstenite::connect_async(url.as_str())
        .await
        .is_err());
    let (status, _, _) = server.get(&format!("/{code}")).await;
    assert_eq!(status, 404);
    let (status, _, _) = server.get("/ZZZZZZ").await;
    assert_eq!(status, 404);
    let url = format!("ws://{}/ws/ZZZZZZ", server.addr);
    assert!(tokio_tungstenite::connect_async(url.as_str())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_shows_the_ending_after_the_close_and_after_a_reload() {
    run(
        "every_page_shows_the_ending_after_the_close_and_after_a_reload",
        every_page_ends,
    )
    .await;
}

/// What the screen shows: the thanks, and neither the QR code nor the code.
const SCREEN_ENDED: &str = "const shown = (id) => { const e = document.getElementById(id); return !!e && e.getClientRects().length > 0; };
    return shown('ended') && !shown('qr') && !shown('jcode') && !shown('stage')
      && document.getElementById('ended').textContent.includes('Bedankt voor het meedoen!')
      && document.getElementById('ended-title').textContent === 'Raadsavond wonen is afgelopen.';";

/// What a phone shows: the end, and the revealed result only.
const PHONE_ENDED: &str = "const e = document.getElementById('ended');
    const rows = [...e.querySelectorAll('.res')].map((r) => r.querySelector('.letter').textContent + ' ' + r.querySelector('.pct').textContent + ' ' + r.querySelector('.cnt').textContent);
    return e.getClientRects().length > 0 && document.getElementById('options').getClientRects().length === 0
      && e.textContent.includes('Deze sessie is afgelopen') && e.textContent.includes('Woningbouw in de kernen')
      && !e.textContent.includes('sporthal') && rows.join('|') === 'A 67% 2 stemmen|B 33% 1 stem';";

/// What the host shows: the end, and the report and exports within reach.
const HOST_ENDED: &str = "const shown = (id) => { const e = document.getElementById(id); return !!e && e.getClientRects().length > 0; };
    return shown('ended') && shown('report-link') && shown('csv-link') && !shown('open') && !shown('next')
      && document.getElementById('ended').textContent.includes('Deze sessie is gesloten');";

async fn every_page_ends(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let deck = stemzaal::core::deck::parse("wonen.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    voted_and_closed_later(&server).await;
    let driver = Driver::start(&tools).await;
    let ([host, screen, phone], urls) = room_pages(&driver, &server).await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();

    // Closed from the console while every page is open: each ends where it is.
    assert!(server.hub.close(&code).await.unwrap().is_ok());
    let pages = [
        (&host, HOST_ENDED, "host"),
        (&screen, SCREEN_ENDED, "screen"),
        (&phone, PHONE_ENDED, "phone"),
    ];
    let mut blocking = vec![];
    for (b, ended, what) in pages {
        b.wait(&format!("the {what}'s ending"), ended).await;
        blocking.extend(axe_blocking(b, &axe, &format!("{what}, ended")).await);
    }
    screen.screenshot("screen-ended-1920x1080").await;
    phone.screenshot("participant-ended-390x844").await;

    // Reloaded, and a late arrival on a phone that never joined: the same ending.
    for (b, ended, what) in pages {
        b.js("location.reload(); return true;").await;
        b.wait(&format!("the {what}'s ending after a reload"), ended)
            .await;
        blocking.extend(axe_blocking(b, &axe, &format!("{what}, reloaded")).await);
    }
    let late = Browser::open(&driver, server.addr, "late", (360, 740)).await;
    late.goto(&urls[2]).await;
    late.wait("a late arrival sees the ending", PHONE_ENDED)
        .await;
    // The report is one click from the host's ending.
    let report = host
        .js("return document.getElementById('report-link').getAttribute('href');")
        .await;
    assert_eq!(report, json!(format!("/report/{code}")));
    let (status, _, body) =
        crate::support::http_get(server.addr, &format!("/report/{code}?key={host_key}"), &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Woningbouw in de kernen"));
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
    for b in [host, screen, phone, late] {
        b.close().await;
    }
}
