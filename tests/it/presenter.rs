//! The presenter view: the deck's notes and the next slide reach the host, and never a
//! phone or the screen; the host page shows them beside the current slide, with the
//! elapsed time and a clock, and folds the notes away on a phone.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::wire::protocol::{PresenterView, SlideKindName, SlideView};
use tokio_tungstenite::tungstenite::Message;

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{axe_blocking, conn_is, js_str, run};
use crate::support::{TestServer, WAIT};

/// Notes on every slide but the last, each with a word that must stay with the host.
const DECK: &str = "---
title: Notities
---

## Welkom

Vanavond het onderzoek.

Notities: GEHEIM-welkom, noem **de rekenkamer**.

---

## Maatwerk of vaste werkwijze?

A) maatwerk
B) vaste werkwijze

Notities:
GEHEIM-stelling: vraag eerst de wijkraden.

---

## Eén werkwijze voor alle kernen

1) Helemaal oneens
2)
3) Neutraal
4)
5) Helemaal eens

Notes: GEHEIM-schaal

---

## Tot slot

Bedankt.
";

/// The word every note has, and nothing else in the deck.
const SECRET: &str = "GEHEIM";

/// A connection that keeps every text message it hears.
struct Recorder {
    sink: futures_util::stream::SplitSink<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Message,
    >,
    heard: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn connect(url: &str, hello: Value) -> Recorder {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let (mut sink, mut stream) = ws.split();
        sink.send(Message::text(hello.to_string()))
            .await
            .expect("hello");
        let heard = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn({
            let heard = heard.clone();
            async move {
                while let Some(Ok(message)) = stream.next().await {
                    if let Message::Text(text) = message {
                        heard.lock().unwrap().push(text.to_string());
                    }
                }
            }
        });
        Recorder { sink, heard }
    }

    async fn send(&mut self, message: Value) {
        self.sink
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// Waits until a message satisfies `pred`, and returns it.
    async fn until(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self
                .heard
                .lock()
                .unwrap()
                .iter()
                .map(|t| serde_json::from_str::<Value>(t).expect("JSON"))
                .find(|v| pred(v));
            if let Some(found) = found {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never heard {what}; heard {:#?}",
                self.heard.lock().unwrap()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn all(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }
}

fn on_slide(index: usize, phase: Option<&'static str>) -> impl Fn(&Value) -> bool {
    move |m: &Value| {
        m["type"] == "state"
            && m["slide"]["index"] == index
            && phase.is_none_or(|p| m["slide"]["phase"] == p)
    }
}

#[test]
fn the_presenter_view_encodes_to_its_documented_json() {
    let presenter = PresenterView {
        notes: Some("<p>Noem de rekenkamer.</p>\n".into()),
        next: Some(SlideView {
            index: 4,
            count: 16,
            kind: SlideKindName::Statement,
            html: "<h2>S</h2>".into(),
            options: vec!["a".into(), "b".into()],
            scale: false,
            phase: Some(stemzaal::wire::protocol::Phase::Pending),
            round: Some(1),
            layout: None,
        }),
    };
    assert_eq!(
        serde_json::to_value(&presenter).unwrap(),
        json!({
            "notes": "<p>Noem de rekenkamer.</p>\n",
            "next": {"index": 4, "count": 16, "kind": "statement", "html": "<h2>S</h2>",
                     "options": ["a", "b"], "phase": "pending", "round": 1}
        })
    );
    let last = PresenterView {
        notes: None,
        next: None,
    };
    assert_eq!(serde_json::to_value(&last).unwrap(), json!({}));
}

#[tokio::test]
async fn notes_reach_the_host_and_never_a_phone_or_the_screen() {
    let deck = stemzaal::core::deck::parse("notities.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    let url = server.ws_url();
    let screen_key = server.session.screen_key().expose().to_owned();
    let screen = Recorder::connect(&url, json!({"type": "hello", "key": screen_key})).await;
    let listener = Recorder::connect(&url, json!({"type": "hello"})).await;
    let mut voter = Recorder::connect(&url, json!({"type": "hello"})).await;
    let mut host = server.host().await;

    // The host's first state: the notes of slide 1 and slide 2 as the room will see it.
    let first = host.wait_state(on_slide(0, None)).await;
    assert_eq!(
        first["presenter"]["notes"],
        "<p>GEHEIM-welkom, noem <strong>de rekenkamer</strong>.</p>\n"
    );
    assert_eq!(
        first["presenter"]["next"],
        json!({"index": 1, "count": 4, "kind": "statement",
               "html": "<h2>Maatwerk of vaste werkwijze?</h2>\n",
               "options": ["maatwerk", "vaste werkwijze"], "phase": "pending", "round": 1})
    );
    assert!(!first["slide"]["html"].as_str().unwrap().contains(SECRET));

    // Every slide, every phase: a vote, an argument approved, the result revealed.
    let mut id = 0;
    for (slide, option) in [(1usize, 0u64), (2, 4)] {
        host.send(json!({"type": "go_to", "slide": slide})).await;
        host.send(json!({"type": "open_vote"})).await;
        let open = host.wait_state(on_slide(slide, Some("open"))).await;
        assert!(open["presenter"]["notes"]
            .as_str()
            .is_some_and(|n| n.contains(SECRET)));
        voter
            .until("the open vote", on_slide(slide, Some("open")))
            .await;
        id += 1;
        voter
            .send(json!({"type": "vote", "id": id, "slide": slide, "round": 1, "option": option}))
            .await;
        voter
            .until("the ack", |m| m["type"] == "ack" && m["id"] == id)
            .await;
        // One argument (a participant may argue once per 5 s), approved and shown.
        if slide == 1 {
            id += 1;
            voter
                .send(json!({"type": "argue", "id": id, "slide": slide, "text": "Elke wijk is anders."}))
                .await;
            voter
                .until("the argument stored", |m| {
                    m["type"] == "argued" && m["id"] == id
                })
                .await;
            let pending = host
                .wait_state(|s| {
                    s["arguments"]["items"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
                })
                .await;
            let argument = pending["arguments"]["items"][0]["argument"].clone();
            host.send(json!({"type": "moderate", "argument": argument, "status": "approved"}))
                .await;
            host.send(json!({"type": "show_arguments", "visible": true}))
                .await;
            screen
                .until("the argument on the screen", |m| {
                    m["type"] == "state" && m["arguments"]["shown"] == true
                })
                .await;
        }
        host.send(json!({"type": "close_vote"})).await;
        host.send(json!({"type": "reveal", "visible": true})).await;
        host.wait_state(|s| s["slide"]["index"] == slide && s["revealed"] == true)
            .await;
        for phone in [&listener, &voter] {
            phone
                .until("the result", |m| {
                    on_slide(slide, Some("closed"))(m) && m["tally"].is_array()
                })
                .await;
        }
        screen
            .until("the result", |m| {
                on_slide(slide, Some("closed"))(m) && m["tally"].is_array()
            })
            .await;
    }

    // The last slide: no notes and nothing after it.
    host.send(json!({"type": "next"})).await;
    let last = host.wait_state(on_slide(3, None)).await;
    assert_eq!(last["presenter"], json!({}), "{last}");
    for role in [&screen, &listener, &voter] {
        role.until("the last slide", on_slide(3, None)).await;
    }

    // Nothing the phones or the screen heard carries a note or a presenter view.
    for (name, role) in [("screen", &screen), ("phone", &listener), ("voter", &voter)] {
        let heard = role.all();
        assert!(heard.len() >= 8, "{name} heard {heard:#?}");
        for message in &heard {
            assert!(
                !message.contains(SECRET) && !message.contains("presenter"),
                "{name} heard {message}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_page_shows_notes_next_slide_and_times_and_folds_notes_on_a_phone() {
    run(
        "the_host_page_shows_notes_next_slide_and_times_and_folds_notes_on_a_phone",
        host_page,
    )
    .await;
}

/// Script: the presenter's parts of the host page, as text and state.
const PRESENTER: &str = "
const text = (id) => document.getElementById(id).textContent.trim();
const shown = (id) => document.getElementById(id).checkVisibility();
return {
  notes: text('notes'), notesOpen: document.getElementById('notesbox').open, notesShown: shown('notes'),
  next: text('next-slide'), nextOptions: text('next-opts'), nextOpen: document.getElementById('nextbox').open,
  notesBottom: document.getElementById('notes').getBoundingClientRect().bottom,
  elapsed: text('elapsed'), clock: text('clock'), current: text('preview'),
  overflow: document.documentElement.scrollWidth > innerWidth,
};";

async fn host_page(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let deck = stemzaal::core::deck::parse("notities.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    let mut control = server.host().await;
    let driver = Driver::start(&tools).await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let url = server.url(&format!("/host/{code}?key={host_key}"));
    let mut blocking = vec![];

    // A laptop: the notes open beside the current slide and the next one.
    let laptop = Browser::open(&driver, server.addr, "host", (1366, 768)).await;
    laptop.goto(&url).await;
    laptop.wait("the page online", &conn_is("online")).await;
    laptop
        .wait(
            "the notes of slide 1",
            "return document.getElementById('notes').textContent.includes('GEHEIM-welkom');",
        )
        .await;
    let view = laptop.js(PRESENTER).await;
    assert_eq!(
        view["notes"], "GEHEIM-welkom, noem de rekenkamer.",
        "{view}"
    );
    assert_eq!(view["notesOpen"], true, "{view}");
    assert_eq!(view["next"], "Maatwerk of vaste werkwijze?", "{view}");
    assert_eq!(view["nextOptions"], "AmaatwerkBvaste werkwijze", "{view}");
    assert_eq!(view["current"], "Welkom\nVanavond het onderzoek.", "{view}");
    let clock = view["clock"].as_str().unwrap().to_owned();
    assert!(
        clock.len() == 5 && clock.as_bytes()[2] == b':',
        "a clock as HH:MM: {view}"
    );
    let elapsed = view["elapsed"].as_str().unwrap();
    assert!(elapsed.starts_with("0:0"), "just started: {view}");
    assert_eq!(view["overflow"], false, "{view}");
    assert!(
        view["notesBottom"].as_f64().unwrap() <= 768.0,
        "the notes in sight without scrolling: {view}"
    );
    blocking.extend(axe_blocking(&laptop, &axe, "host with notes (1366)").await);
    laptop.screenshot("presenter-1366x768").await;

    // Time moves; "Opnieuw" starts it again.
    laptop
        .wait(
            "a second elapsed",
            "return document.getElementById('elapsed').textContent !== '0:00';",
        )
        .await;
    laptop.click("#elapsed-reset").await;
    let view = laptop.js(PRESENTER).await;
    assert_eq!(view["elapsed"], "0:00", "{view}");

    // The last slide: no notes, nothing after it, said in words.
    control.send(json!({"type": "go_to", "slide": 3})).await;
    laptop
        .wait(
            "the last slide",
            &format!(
                "return document.getElementById('next-slide').textContent === {};",
                js_str("Dit is de laatste dia.")
            ),
        )
        .await;
    let view = laptop.js(PRESENTER).await;
    assert_eq!(view["notes"], "Geen notities bij deze dia.", "{view}");
    blocking.extend(axe_blocking(&laptop, &axe, "host on the last slide (1366)").await);
    laptop.close().await;

    // A phone as a remote: the notes fold away, one tap opens them.
    control.send(json!({"type": "go_to", "slide": 1})).await;
    let phone = Browser::open(&driver, server.addr, "host-phone", (390, 844)).await;
    phone.goto(&url).await;
    phone.wait("the page online", &conn_is("online")).await;
    phone
        .wait(
            "the notes of the statement",
            "return document.getElementById('notes').textContent.includes('GEHEIM-stelling');",
        )
        .await;
    let view = phone.js(PRESENTER).await;
    assert_eq!(view["notesOpen"], false, "{view}");
    assert_eq!(view["notesShown"], false, "{view}");
    assert_eq!(view["nextOpen"], false, "{view}");
    assert_eq!(view["overflow"], false, "{view}");
    blocking.extend(axe_blocking(&phone, &axe, "host with notes folded (390)").await);
    phone.click("#notesbox > summary").await;
    let view = phone.js(PRESENTER).await;
    assert_eq!(view["notesOpen"], true, "{view}");
    assert_eq!(view["notesShown"], true, "{view}");
    blocking.extend(axe_blocking(&phone, &axe, "host with notes open (390)").await);
    phone.screenshot("presenter-390x844").await;
    phone.close().await;
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
}
