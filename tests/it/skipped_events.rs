//! A stored event that cannot be applied is skipped when the session is loaded, and
//! the facilitator is told: in the host's `state` (`skipped_events`), on the host page
//! and in the report.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use serde_json::{json, Value};

use crate::browser::harness::{Browser, Driver};
use crate::browser::{conn_is, js_str, run};
use crate::recovery::{start_binary_with, Server};
use crate::stop::{voting_on_binary, Voting};
use crate::support::{http_get, TestClient};

/// The real binary restarted on a session whose log holds one vote, and after it one
/// event that cannot be applied (a vote for a slide the deck does not have).
struct Damaged {
    /// Killed when dropped.
    _server: Server,
    addr: SocketAddr,
    code: String,
    key: String,
    url: String,
}

async fn damaged(data: &Path) -> Damaged {
    let mut voting = voting_on_binary(data).await;
    let mut phone = TestClient::hello(&voting.url, json!({"type": "hello"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(voting.slide, 1, 1).await["type"], "ack");
    let state = voting.host.wait_state(|s| s["voted"] == 1).await;
    assert!(
        state.get("skipped_events").is_none(),
        "a new session has skipped nothing: {state}"
    );
    let Voting {
        server,
        addr,
        code,
        key,
        url,
        ..
    } = voting;
    assert!(server.stop().await.success());

    let db = rusqlite::Connection::open(data.join(stemzaal::store::DB_FILE)).unwrap();
    let bad = json!({
        "type": "voted",
        "participant": phone.participant_id(),
        "slide": 999,
        "round": 1,
        "option": 0,
    });
    db.execute(
        "INSERT INTO events (session, data) VALUES (?1, ?2)",
        [&code, &bad.to_string()],
    )
    .unwrap();
    drop(db);

    let (server, again, _) = start_binary_with(addr, data, &[], Stdio::piped());
    assert_eq!(again, code);
    Damaged {
        _server: server,
        addr,
        code,
        key,
        url,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_event_that_cannot_be_applied_is_told_to_the_host_and_in_the_report() {
    let data = tempfile::tempdir().unwrap();
    let damaged = damaged(data.path()).await;
    let (addr, code, key, url) = (damaged.addr, &damaged.code, &damaged.key, &damaged.url);

    let mut host = TestClient::hello(url, json!({"type": "hello", "key": key})).await;
    let state = host.wait_state(|_| true).await;
    assert_eq!(state["skipped_events"], 1, "{state}");
    assert_eq!(state["voted"], 1, "the good vote still counts: {state}");
    let phone = TestClient::hello(url, json!({"type": "hello"})).await;
    assert!(
        phone.state.get("skipped_events").is_none(),
        "only the host hears it: {}",
        phone.state
    );

    for (lang, said) in [
        ("nl", "1 opgeslagen gebeurtenis kon niet worden gelezen"),
        ("en", "1 stored event could not be read"),
    ] {
        let path = format!("/report/{code}?key={key}&lang={lang}");
        let (status, _, page) = http_get(addr, &path, &[]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(said), "{lang}: {page}");
    }
    let (_, _, body) = http_get(addr, &format!("/export/{code}.json?key={key}"), &[]).await;
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["skipped_events"], 1, "{report}");
    let (_, _, csv) = http_get(addr, &format!("/export/{code}.csv?key={key}"), &[]).await;
    assert!(
        csv.contains("skipped,,opgeslagen gebeurtenissen,,,,niet gelezen,1,,,,"),
        "{csv}"
    );
    drop(damaged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_page_says_a_stored_event_could_not_be_read() {
    run(
        "the_host_page_says_a_stored_event_could_not_be_read",
        |tools| async move {
            let data = tempfile::tempdir().unwrap();
            let damaged = damaged(data.path()).await;
            let (addr, code, key) = (damaged.addr, &damaged.code, &damaged.key);
            let driver = Driver::start(&tools).await;
            let host = Browser::open(&driver, addr, "host", (1366, 768)).await;
            host.goto(&format!("http://{addr}/host/{code}?key={key}"))
                .await;
            host.wait("the page online", &conn_is("online")).await;
            host.wait(
                "the warning in the page",
                &format!(
                    "const s = document.getElementById('skipped'); \
                     return !s.hidden && s.textContent.includes({});",
                    js_str("1 opgeslagen gebeurtenis kon niet worden gelezen")
                ),
            )
            .await;
            drop(damaged);
        },
    )
    .await;
}
