//! An edit of a running session's deck keeps what people voted on: on a statement with
//! votes, its wording and its options may change by a typo's worth only, in the
//! console and when the server restarts with an edited `--deck` file.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stemzaal::core::deck::{Deck, DEFAULT_DECK_SOURCE};

use crate::api::Console;
use crate::recovery::{free_port, start_binary_with};
use crate::support::{first_statement, http_get, http_request, TestClient, TestServer};

/// The default deck's first statement, its option A and its title as written.
const OPTION_A: &str =
    "A) maatwerk is belangrijker dan vastgelegde\nprocedures en jaarlijkse rapportages";
const TITLE: &str = "## Ambitie uitgesproken in coalitieprogramma; aanpak is ‘beleidsarm’\n\nA)";

/// The statement of slide index `slide` in a report exported as JSON (which numbers
/// slides from 1).
fn reported(report: &Value, slide: usize) -> Value {
    report["statements"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["slide"] == slide + 1)
        .cloned()
        .expect("the statement in the report")
}

/// The session's report as JSON, through the host's export link.
async fn report(addr: SocketAddr, code: &str, key: &str) -> Value {
    let (status, _, body) = http_get(addr, &format!("/export/{code}.json?key={key}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test]
async fn the_console_refuses_an_edit_that_rewords_what_people_voted_on() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let code = server.code().to_owned();
    let key = server.session.host_key().expose().to_owned();
    let deck = Deck::default_deck();
    let slide = first_statement(&deck);
    let line = deck.slides[slide].line;
    let ws = format!("ws://{}/ws/{code}", server.addr);
    let mut host = TestClient::hello(&ws, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = TestClient::hello(&ws, json!({"type": "hello"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(slide as u64, 1, 0).await["type"], "ack");
    let path = format!("/api/sessions/{code}/deck");

    // Option A turned around: refused, in Dutch and in English, naming slide and line.
    let turned = DEFAULT_DECK_SOURCE.replacen(
        OPTION_A,
        "A) vastgelegde procedures en jaarlijkse rapportages\nzijn belangrijker dan maatwerk",
        1,
    );
    assert_ne!(turned, DEFAULT_DECK_SOURCE);
    let (status, error) = console
        .call("PUT", &path, Some(json!({ "source": turned })))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("wording_changed"))
    );
    let dutch = format!(
        "optie A van de stelling op dia {} (regel {line})",
        slide + 1
    );
    assert!(
        error["message"].as_str().unwrap().contains(&dutch),
        "{error}"
    );
    let origin = format!("http://{}", server.addr);
    let headers = [
        ("Cookie", console.cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/json"),
        ("Accept-Language", "en"),
    ];
    let body = json!({ "source": turned }).to_string();
    let (status, _, text) =
        http_request(server.addr, "PUT", &path, &headers, body.as_bytes()).await;
    assert_eq!(status, 409, "{text}");
    let english = format!(
        "option A of the statement on slide {} (line {line})",
        slide + 1
    );
    assert!(text.contains(&english), "{text}");

    // The statement's own wording rewritten: refused too.
    let reworded = DEFAULT_DECK_SOURCE.replacen(
        TITLE,
        "## Geen ambitie in het coalitieprogramma; aanpak is ‘beleidsarm’\n\nA)",
        1,
    );
    assert_ne!(reworded, DEFAULT_DECK_SOURCE);
    let (status, error) = console
        .call("PUT", &path, Some(json!({ "source": reworded })))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("wording_changed"))
    );
    let statement = format!(
        "de tekst van de stelling op dia {} (regel {line})",
        slide + 1
    );
    assert!(
        error["message"].as_str().unwrap().contains(&statement),
        "{error}"
    );

    // The report shows what was voted on.
    let voted = reported(&report(server.addr, &code, &key).await, slide);
    assert!(
        voted["options"][0]
            .as_str()
            .unwrap()
            .starts_with("maatwerk is belangrijker"),
        "{voted}"
    );
    assert_eq!(voted["rounds"][0]["counts"], json!([1, 0]));

    // A typo fixed where people voted, and a statement without votes rewritten: taken.
    let fixed = DEFAULT_DECK_SOURCE
        .replacen("maatwerk is belangrijker", "maatwerk is belangrijkker", 1)
        .replacen(
            "A) De gemeente moet meer tijd besteden aan het",
            "A) De gemeente moet minder tijd besteden aan het",
            1,
        );
    let (status, edited) = console
        .call("PUT", &path, Some(json!({ "source": fixed })))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(phone.closed().await, Some(4002));
}

/// Runs the binary with `args` until it exits by itself (within 20 s); its exit code
/// and standard error.
fn run_to_exit(addr: SocketAddr, data: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", &addr.to_string(), "--data"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stemzaal");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().ok();
            child.wait().ok();
            panic!("the server started instead of refusing the deck");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

const RAAD: &str = "# Raad\n\n---\n\n## Meer bomen in de wijk is wenselijk\n\nA) Eens\nB) Oneens\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_refuses_a_deck_that_rewords_what_people_voted_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("raad.md");
    let data = dir.path().join("data");
    let deck_arg = ["--deck", file.to_str().unwrap()];
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let line = stemzaal::core::deck::parse("raad.md", RAAD).unwrap().slides[1].line;
    std::fs::write(&file, RAAD).unwrap();
    let (server, code, key) = start_binary_with(addr, &data, &deck_arg, Stdio::piped());
    let ws = format!("ws://{addr}/ws/{code}");
    let mut host = TestClient::hello(&ws, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": 1})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = TestClient::hello(&ws, json!({"type": "hello"})).await;
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(1, 1, 0).await["type"], "ack");
    assert!(server.stop().await.success());

    // The options turned around: the server does not start, and says why.
    let turned = RAAD.replace("A) Eens\nB) Oneens", "A) Oneens\nB) Eens");
    std::fs::write(&file, &turned).unwrap();
    let (status, stderr) = run_to_exit(addr, &data, &deck_arg);
    assert_eq!(status, Some(1), "{stderr}");
    for said in [
        format!("optie A van de stelling op dia 2 (regel {line})"),
        format!("option A of the statement on slide 2 (line {line})"),
        "--new".to_owned(),
    ] {
        assert!(stderr.contains(&said), "{said}: {stderr}");
    }
    // The statement reworded: the same.
    std::fs::write(&file, RAAD.replace("Meer bomen", "Minder bomen")).unwrap();
    let (status, stderr) = run_to_exit(addr, &data, &deck_arg);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("de tekst van de stelling op dia 2 (regel {line})")),
        "{stderr}"
    );
    // Turned around in two characters, a typo's count: refused all the same.
    std::fs::write(&file, RAAD.replace("is wenselijk", "is onwenselijk")).unwrap();
    let (status, stderr) = run_to_exit(addr, &data, &deck_arg);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("de tekst van de stelling op dia 2 (regel {line})")),
        "{stderr}"
    );

    // A typo fixed: the session resumes, and its report shows what was voted on.
    std::fs::write(&file, RAAD.replace("de wijk", "de wjik")).unwrap();
    let (server, again, _) = start_binary_with(addr, &data, &deck_arg, Stdio::piped());
    assert_eq!(again, code, "the same session");
    let voted = reported(&report(addr, &code, &key).await, 1);
    assert_eq!(voted["options"], json!(["Eens", "Oneens"]));
    assert_eq!(voted["rounds"][0]["counts"], json!([1, 0]));
    drop(server);
}
