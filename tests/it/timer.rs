//! The countdown through the live runtime, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use stemzaal::core::deck::{Deck, SlideKind, DEFAULT_DECK_SOURCE};
use stemzaal::core::session::Command;
use stemzaal::hub::{Hub, Request};
use stemzaal::store::{Durability, Store};
use stemzaal::wire::protocol::{Lang, Role};

type ViewRx = tokio::sync::watch::Receiver<stemzaal::hub::Published>;

fn view(rx: &mut ViewRx) -> Value {
    serde_json::from_str(&rx.borrow_and_update().state).unwrap()
}

/// The first published view that satisfies `pred` (the current one included).
async fn wait_view(rx: &mut ViewRx, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = view(rx);
        if pred(&v) {
            return v;
        }
        rx.changed().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_timer_counts_down_and_closes_the_vote_when_it_ends() {
    let data = tempfile::tempdir().unwrap();
    let hub = Hub::new(
        Store::open(data.path(), Durability::Normal).unwrap(),
        "http://x".into(),
    );
    let deck = Arc::new(Deck::default_deck());
    let slide = deck
        .slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .unwrap();
    let handle = hub.create(deck, DEFAULT_DECK_SOURCE).await.unwrap();
    let (outbox, mut errors) = tokio::sync::mpsc::unbounded_channel();
    let mut host = handle.subscribe(Role::Host);
    for command in [
        Command::GoTo { slide },
        Command::OpenVote,
        Command::StartTimer {
            seconds: 30,
            now_ms: handle.now_ms(),
        },
    ] {
        handle
            .request(Request::Command {
                command,
                id: None,
                lang: Lang::Nl,
                outbox: outbox.clone(),
            })
            .await
            .unwrap();
    }
    let started = wait_view(&mut host, |v| v.get("timer").is_some()).await;
    assert_eq!(started["slide"]["phase"], "open");
    let remaining = started["timer"]["remaining_ms"].as_u64().unwrap();
    assert!((29_000..=30_000).contains(&remaining), "{remaining}");

    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(view(&mut host)["slide"]["phase"], "open", "not yet");

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let ended = wait_view(&mut host, |v| v["slide"]["phase"] != "open").await;
    assert_eq!(ended["slide"]["phase"], "closed");
    assert!(ended.get("timer").is_none());
    assert!(errors.try_recv().is_err(), "no command was refused");
}

#[tokio::test]
async fn a_countdown_that_ends_on_a_full_disk_closes_the_vote_once_it_can_be_stored() {
    let server = crate::support::TestServer::start().await;
    let slide = crate::support::first_statement(&server.session.deck()) as u64;
    let mut host = server.host().await;
    host.send(serde_json::json!({"type": "go_to", "slide": slide}))
        .await;
    host.send(serde_json::json!({"type": "open_vote"})).await;
    host.send(serde_json::json!({"type": "start_timer", "seconds": 2, "id": 1}))
        .await;
    host.wait_for("ok").await;
    // The `ok` says the countdown's start is stored; its end, 2 s on, will not be.
    let store = &server.store;
    store.fail_commits(true);
    let before = store.health().failed_writes();
    let mut published = server.session.subscribe(Role::Host);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let failed = store.health().failed_writes() - before;
    assert!(
        (1..=4).contains(&failed),
        "the end of the countdown is tried about once a second, not in a loop: {failed} failed writes"
    );
    let newest = view(&mut published);
    assert_eq!(
        (
            newest["slide"]["phase"].as_str(),
            newest["storage"].as_str()
        ),
        (Some("open"), Some("failing")),
        "the close is not shown before it is stored"
    );
    store.fail_commits(false);
    let closed = host
        .wait_state(|s| s["slide"]["phase"] == "closed" && s["storage"] == "ok")
        .await;
    assert!(closed.get("timer").is_none());
}
