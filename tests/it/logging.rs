//! Keys never reach the log, even at the most verbose level.
//!
//! The log is read as an operator gets it: from the standard error of the real binary
//! run with `RUST_LOG=trace`. A process of its own also keeps the global log subscriber
//! out of the other tests of this binary.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{http_get, TestClient};

/// The binary, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// `line` without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn no_key_is_written_to_the_log_at_trace_level() {
    let data = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["--bind", &addr.to_string(), "--data"])
        .arg(data.path())
        .env("STEMZAAL_PUBLIC_URL", format!("http://{addr}"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stemzaal");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let server = Server(child);
    // The whole log, read on a thread of its own so the server never blocks on a full pipe.
    let log = std::thread::spawn(move || {
        let mut raw = vec![];
        stderr.read_to_end(&mut raw).ok();
        String::from_utf8_lossy(&raw)
            .lines()
            .map(strip_ansi)
            .collect::<Vec<_>>()
            .join("\n")
    });
    let mut host_link = None;
    let mut screen_link = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("banner line");
        for word in line.split_whitespace() {
            if word.contains("/host/") {
                host_link = Some(word.to_owned());
            } else if word.contains("/screen/") {
                screen_link = Some(word.to_owned());
            }
        }
        if host_link.is_some() && screen_link.is_some() {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let host_link = host_link.expect("the banner names the host link");
    let screen_link = screen_link.expect("the banner names the screen link");
    let (host_path, host_key) = host_link.split_once("?key=").unwrap();
    let (_, screen_key) = screen_link.split_once("?key=").unwrap();
    let code = host_path.rsplit('/').next().unwrap().to_owned();
    let base = format!("http://{addr}");

    // Every way a key travels: links, cookies' redirect, hello, a wrong key.
    let (status, _, _) = http_get(addr, host_link.strip_prefix(&base).unwrap(), &[]).await;
    assert_eq!(status, 303, "the host link redirects");
    let (status, _, _) = http_get(addr, screen_link.strip_prefix(&base).unwrap(), &[]).await;
    assert_eq!(status, 303, "the screen link redirects");
    let ws_url = format!("ws://{addr}/ws/{code}");
    let mut host = TestClient::hello(&ws_url, json!({"type": "hello", "key": host_key})).await;
    host.send(json!({"type": "next"})).await;
    host.wait_state(|s| s["slide"]["index"] == 1).await;
    let screen = TestClient::hello(&ws_url, json!({"type": "hello", "key": screen_key})).await;
    let wrong = "0123456789abcdef0123456789abcdef";
    let (mut bad, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    bad.send(Message::text(
        json!({"type": "hello", "key": wrong}).to_string(),
    ))
    .await
    .unwrap();
    bad.close(None).await.ok();
    host.close().await;
    screen.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(server);

    let log = log.join().expect("the log reader");
    assert!(log.contains("request"), "request tracing is on: {log}");
    assert!(log.contains(" DEBUG "), "the log is verbose: {log}");
    assert!(log.contains(&format!("/host/{code}")), "paths are logged");
    for key in [host_key, screen_key, wrong] {
        assert!(!log.contains(key), "a key reached the log:\n{log}");
    }
}
