//! Keys never reach the log, even at the most verbose level.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::TestServer;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_key_is_written_to_the_log_at_trace_level() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter(stemzaal::app::log_filter("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = TestServer::start().await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    // Every way a key travels: links, cookies' redirect, hello, a wrong key.
    server.get(&format!("/host/{code}?key={host_key}")).await;
    server
        .get(&format!("/screen/{code}?key={screen_key}"))
        .await;
    let mut host = server.host().await;
    host.send(json!({"type": "next"})).await;
    host.wait_state(|s| s["slide"]["index"] == 1).await;
    let _screen = server.screen().await;
    let wrong = "0123456789abcdef0123456789abcdef";
    let mut bad = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap()
        .0;
    use futures_util::SinkExt;
    bad.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"type": "hello", "key": wrong}).to_string(),
    ))
    .await
    .unwrap();
    drop(bad);
    drop(host);
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("request"), "request tracing is on: {log}");
    assert!(log.contains(" DEBUG "), "the log is verbose");
    assert!(log.contains(&format!("/host/{code}")), "paths are logged");
    for key in [&host_key, &screen_key, &wrong.to_owned()] {
        assert!(!log.contains(key.as_str()), "a key reached the log:\n{log}");
    }
}
