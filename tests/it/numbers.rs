//! One number, one rule: equal counts show equal percentages on the screen, the host,
//! a phone, the report and the JSON export, in Chromium through the real server.

use serde_json::{json, Value};

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{room_pages, run};
use crate::support::{http_get, TestClient, TestServer};

const DECK: &str = "---
title: Vier wegen
groups: Raadslid, Inwoner
---

## Hoe verder met de kernen?

A) Maatwerk per wijk
B) Eén werkwijze
C) Eerst een proef
D) Wachten op de evaluatie
";

/// The texts of the elements `css` matches, in order.
fn texts(css: &str) -> String {
    format!(
        "return [...document.querySelectorAll({})].map((e) => e.textContent.trim());",
        serde_json::to_string(css).unwrap()
    )
}

/// Waits until `css` on `page` reads `expected`, and says what it read if it never does.
async fn reads(page: &Browser, what: &str, css: &str, expected: &[&str]) {
    let script = format!(
        "const t = (() => {{ {} }})(); return JSON.stringify(t) === {} ? t : null;",
        texts(css),
        serde_json::to_string(&serde_json::to_string(expected).unwrap()).unwrap()
    );
    let found = page
        .wait_for(what, &script, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(found, json!(expected), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_counts_show_equal_percentages_on_every_page_and_export() {
    run(
        "equal_counts_show_equal_percentages_on_every_page_and_export",
        equal_counts,
    )
    .await;
}

async fn equal_counts(tools: Tools) {
    let deck = stemzaal::core::deck::parse("vier.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    let mut control = server.host().await;
    control.send(json!({"type": "open_vote"})).await;
    control.wait_state(|s| s["slide"]["phase"] == "open").await;

    // 11 votes: 3, 3, 2 and 3. The six council members 2, 2, 0 and 2; the five
    // residents 1, 1, 2 and 1.
    let votes = [
        ("Raadslid", [0, 0, 1, 1, 3, 3].as_slice()),
        ("Inwoner", [0, 1, 2, 2, 3].as_slice()),
    ];
    let mut phones: Vec<TestClient> = vec![];
    for (group, options) in votes {
        for &option in options {
            let mut phone = server.participant().await;
            phone
                .send(json!({"type": "choose_group", "group": group, "id": 1}))
                .await;
            assert_eq!(phone.wait_for("ok").await["id"], 1);
            assert_eq!(phone.vote(0, 1, option).await["type"], "ack");
            phones.push(phone);
        }
    }
    let state = control.wait_state(|s| s["voted"] == 11).await;
    assert_eq!(state["tally"], json!([3, 3, 2, 3]));
    assert_eq!(state["percents"], json!([27, 27, 18, 27]));
    let rows = &state["groups"]["rows"];
    assert_eq!(rows[0]["percents"], json!([33, 33, 0, 33]), "{rows}");
    assert_eq!(rows[1]["percents"], json!([20, 20, 40, 20]), "{rows}");

    control.send(json!({"type": "close_vote"})).await;
    control
        .send(json!({"type": "reveal", "visible": true}))
        .await;
    control
        .wait_state(|s| s["slide"]["phase"] == "closed" && s["revealed"] == true)
        .await;

    let driver = Driver::start(&tools).await;
    let ([host, screen, phone], _) = room_pages(&driver, &server).await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let room = ["27%", "27%", "18%", "27%"];
    reads(&screen, "the screen's columns", "#cols .pct", &room).await;
    reads(&host, "the host's tally", "#tally .pct", &room).await;
    reads(&phone, "the phone's result", "#result-list .pct", &room).await;

    // The groups, on the screen (everyone first) and in the host's table.
    control
        .send(json!({"type": "show_groups", "visible": true}))
        .await;
    reads(
        &screen,
        "the screen's group rows",
        "#groups-rows .gp",
        &[
            "27%", "27%", "18%", "27%", "33%", "33%", "0%", "33%", "20%", "20%", "40%", "20%",
        ],
    )
    .await;
    reads(
        &host,
        "the host's group table",
        "#groups-rows td",
        &[
            "2 (33%)", "2 (33%)", "0 (0%)", "2 (33%)", "6", "1 (20%)", "1 (20%)", "2 (40%)",
            "1 (20%)", "5",
        ],
    )
    .await;

    // The report and the JSON export say the same.
    let (status, _, report) =
        http_get(server.addr, &format!("/report/{code}?key={host_key}"), &[]).await;
    assert_eq!(status, 200);
    for cell in ["3 (27%)", "2 (18%)", "2 (33%)", "0 (0%)", "2 (40%)"] {
        assert!(report.contains(cell), "the report has {cell}");
    }
    assert!(!report.contains("28%"), "no largest-remainder rounding");
    let (status, _, export) = http_get(
        server.addr,
        &format!("/export/{code}.json?key={host_key}"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let export: Value = serde_json::from_str(&export).unwrap();
    let statement = &export["statements"][0];
    assert_eq!(statement["rounds"][0]["percents"], json!([27, 27, 18, 27]));
    assert_eq!(statement["groups"][0]["percents"], json!([33, 33, 0, 33]));

    for b in [host, screen, phone] {
        b.close().await;
    }
}
