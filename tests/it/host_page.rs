//! The host page's last mile, in Chromium through the real server: a new round is asked
//! for in the page (no browser dialog), every switch between rounds is listed on the
//! host and the screen, and both word the turnout alike, hand counts included.

use serde_json::json;

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{axe_blocking, conn_is, js_str, run};
use crate::support::{TestClient, TestServer};

const DECK: &str = "---
title: Vier wegen
---

## Hoe verder met de kernen?

A) Maatwerk per wijk
B) Eén werkwijze
C) Eerst een proef
D) Wachten op de evaluatie
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_asks_in_the_page_lists_every_switch_and_words_turnout_as_the_screen() {
    run(
        "the_host_asks_in_the_page_lists_every_switch_and_words_turnout_as_the_screen",
        host_last_mile,
    )
    .await;
}

async fn host_last_mile(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let deck = stemzaal::core::deck::parse("vier.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    let mut control = server.host().await;
    let driver = Driver::start(&tools).await;
    let (host, screen) = tokio::join!(
        Browser::open(&driver, server.addr, "host", (1366, 768)),
        Browser::open(&driver, server.addr, "screen", (1920, 1080)),
    );
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let (host_url, screen_url) = (
        server.url(&format!("/host/{code}?key={host_key}")),
        server.url(&format!("/screen/{code}?key={screen_key}")),
    );
    tokio::join!(host.goto(&host_url), screen.goto(&screen_url));
    for b in [&host, &screen] {
        b.wait("the page online", &conn_is("online")).await;
    }

    // Eight phones; in round 2 six of them move, each along a way of its own.
    control.send(json!({"type": "open_vote"})).await;
    control.wait_state(|s| s["slide"]["phase"] == "open").await;
    let mut phones: Vec<TestClient> = vec![];
    for _ in 0..8 {
        phones.push(server.participant().await);
    }
    for (phone, option) in phones.iter_mut().zip([0, 0, 1, 1, 2, 3, 0, 1]) {
        assert_eq!(phone.vote(0, 1, option).await["type"], "ack");
    }
    control.send(json!({"type": "close_vote"})).await;
    control
        .wait_state(|s| s["slide"]["phase"] == "closed")
        .await;

    // "Nieuwe stemronde": the first press says what the second does, in the page.
    host.wait(
        "the revote button",
        "return !document.getElementById('revote').disabled && !document.getElementById('revote').hidden;",
    )
    .await;
    host.click("#revote").await;
    host.wait(
        "the question in the page",
        &format!(
            "return document.getElementById('leave-warn').textContent === {};",
            js_str("Druk nogmaals op ‘Nieuwe stemronde’ om die te starten: de huidige ronde blijft bewaard en de nieuwe gaat meteen open.")
        ),
    )
    .await;
    assert_eq!(
        control.wait_state(|_| true).await["slide"]["round"],
        1,
        "one press starts nothing"
    );
    host.click("#revote").await;
    control
        .wait_state(|s| s["slide"]["round"] == 2 && s["slide"]["phase"] == "open")
        .await;
    for (phone, option) in phones.iter_mut().zip([1, 2, 0, 3, 0, 2, 0, 1]) {
        assert_eq!(phone.vote(0, 2, option).await["type"], "ack");
    }
    control
        .send(json!({"type": "hand_count", "counts": [1, 0, 0, 2]}))
        .await;
    control.send(json!({"type": "close_vote"})).await;
    control
        .send(json!({"type": "reveal", "visible": true}))
        .await;
    control
        .send(json!({"type": "show_shift", "visible": true}))
        .await;
    control
        .wait_state(|s| s["shift"]["shown"] == true && s["revealed"] == true)
        .await;

    // Every switch, on both pages; the turnout in the same words.
    let switches =
        "6 van 8 wisselden: A→B\u{a0}1, A→C\u{a0}1, B→A\u{a0}1, B→D\u{a0}1, C→A\u{a0}1, D→C\u{a0}1";
    let turnout = "Stemmen: 8 van 8 · 3 met handopsteking";
    host.wait(
        "every switch and the turnout on the host",
        &format!(
            "return document.getElementById('shift-note').textContent === {} && document.getElementById('turnout').textContent === {};",
            js_str(switches),
            js_str(turnout)
        ),
    )
    .await;
    screen
        .wait(
            "every switch and the turnout on the screen",
            &format!(
                "return document.getElementById('shift-text').textContent === {} && document.getElementById('counted').textContent === {};",
                js_str(switches),
                js_str(turnout)
            ),
        )
        .await;
    let blocking = axe_blocking(&host, &axe, "host with the shift").await;
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
    host.screenshot("host-shift-1366x768").await;
    for b in [host, screen] {
        b.close().await;
    }
}
