//! Each defence, through the real server, with a test that fails without it.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::deck::{self, SlideKind};
use stemzaal::limits::Limits;
use support::{TestClient, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Ws, String> {
    let mut request = url.into_client_request().unwrap();
    for (k, v) in headers {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(support::WAIT, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Close(f))) => panic!("closed: {f:?}"),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(support::WAIT, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return None,
        }
    }
}

#[tokio::test]
async fn keys_are_128_random_bits_and_differ_per_session_and_role() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    let keys = [
        a.session.host_key().expose(),
        a.session.screen_key().expose(),
        b.session.host_key().expose(),
        b.session.screen_key().expose(),
    ];
    for key in keys {
        assert_eq!(key.len(), 32, "128 bits as hex");
        assert!(key.bytes().all(|c| c.is_ascii_hexdigit()));
    }
    let unique: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), 4);
    // A key that differs in its last character, or is a prefix, grants nothing.
    let host = a.session.host_key().expose();
    let mut near = host.to_owned();
    near.replace_range(31.., if host.ends_with('0') { "1" } else { "0" });
    assert_eq!(a.session.role_for(Some(&near)), None);
    assert_eq!(a.session.role_for(Some(&host[..31])), None);
    assert_eq!(
        format!("{:?}", a.session.host_key()),
        "Key(…)",
        "Debug never shows a key"
    );
}

#[tokio::test]
async fn a_host_link_moves_its_key_into_a_strict_http_only_cookie() {
    let server = TestServer::start().await;
    let key = server.session.host_key().expose().to_owned();
    let code = server.code().to_owned();
    let (status, head, _) = server.get(&format!("/host/{code}?key={key}")).await;
    assert_eq!(status, 303);
    assert!(
        head.contains(&format!("location: /host/{code}\r\n").to_ascii_lowercase()),
        "{head}"
    );
    let cookie_line = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(cookie_line.contains("httponly"));
    assert!(cookie_line.contains("samesite=strict"));
    let cookie = format!("stemzaal_host_{code}={key}");
    assert!(cookie_line.contains(&cookie.to_ascii_lowercase()));

    // A page's hello asking for the host role without a key, with these headers.
    let ask_host = |headers: Vec<(&'static str, String)>| {
        let url = server.ws_url();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut ws = connect_with(&url, &headers).await.unwrap();
            let hello = json!({"type": "hello", "role": "host"}).to_string();
            ws.send(Message::text(hello)).await.unwrap();
            let answer = next_json(&mut ws).await;
            (ws, answer)
        }
    };

    // The page then connects with the cookie and asks for the host role without a key.
    let (_, answer) = ask_host(vec![("cookie", cookie.clone())]).await;
    assert_eq!(answer["role"], "host");

    // Without the cookie the same hello is refused.
    let (mut ws, answer) = ask_host(vec![]).await;
    assert_eq!(answer["code"], "bad_key");
    assert_eq!(close_code(&mut ws).await, Some(1008));

    // The screen key in a host cookie does not make a host.
    let screen_key = server.session.screen_key().expose();
    let forged = format!("stemzaal_host_{code}={screen_key}");
    let (_, answer) = ask_host(vec![("cookie", forged)]).await;
    assert_eq!(answer["code"], "bad_key");

    // A wrong key sets no cookie.
    let (status, head, _) = server
        .get(&format!("/host/{code}?key={}", "f".repeat(32)))
        .await;
    assert_eq!(status, 200);
    assert!(!head.contains("set-cookie"));
}

#[tokio::test]
async fn a_websocket_from_a_foreign_origin_is_refused_for_every_role() {
    let limits = Limits {
        allowed_origins: vec!["https://stem.example.nl".into()],
        ..Limits::default()
    };
    let server = TestServer::start_limited(limits).await;
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let refused = connect_with(&server.ws_url(), &[("origin", origin)]).await;
        let err = refused.expect_err("a foreign origin is refused");
        assert!(err.contains("403"), "{origin}: {err}");
    }
    // The same with a host key or a screen key in hello: the upgrade never happens,
    // so no key can be tried from another site.
    let own = format!("http://{}", server.addr);
    for origin in [own.as_str(), "https://stem.example.nl"] {
        let mut ws = connect_with(&server.ws_url(), &[("origin", origin)])
            .await
            .unwrap();
        let key = server.session.host_key().expose();
        ws.send(Message::text(
            json!({"type": "hello", "key": key}).to_string(),
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut ws).await["role"], "host", "{origin}");
    }
}

#[tokio::test]
async fn a_participant_can_only_vote_as_itself() {
    let server = TestServer::start().await;
    let slide = server
        .session
        .deck()
        .slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .unwrap() as u64;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut alice = server.participant().await;
    let mut mallory = server.participant().await;
    alice.wait_state(|s| s["slide"]["phase"] == "open").await;
    mallory.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(alice.vote(slide, 1, 0).await["type"], "ack");
    // Mallory names Alice's id in her vote: the field is ignored, the vote is hers.
    mallory
        .send(
            json!({"type": "vote", "id": 1, "slide": slide, "round": 1, "option": 1,
                     "participant_id": alice.participant_id()}),
        )
        .await;
    assert_eq!(mallory.wait_for("ack").await["option"], 1);
    let state = host.wait_state(|s| s["voted"] == 2).await;
    assert_eq!(state["tally"], json!([1, 1]), "Alice's vote is untouched");
}

#[tokio::test]
async fn a_message_over_16_kib_closes_the_connection_with_1009() {
    let server = TestServer::start().await;
    let mut phone = server.participant().await;
    let huge = format!(
        r#"{{"type":"choose_group","group":"{}"}}"#,
        "x".repeat(17 * 1024)
    );
    phone.send_raw(Message::text(huge)).await;
    assert_eq!(phone.closed().await, Some(1009));
}

#[tokio::test]
async fn a_flood_is_rate_limited_and_sustained_abuse_closes_with_1008() {
    let limits = Limits {
        messages_per_second: 5.0,
        burst: 5.0,
        abuse_drops: 50,
        ..Limits::default()
    };
    let server = TestServer::start_limited(limits).await;
    let mut phone = server.participant().await;
    for i in 0..20u64 {
        phone
            .send(json!({"type": "vote", "id": i, "slide": 0, "round": 1, "option": 0}))
            .await;
    }
    let mut limited = 0;
    let mut answered = 0;
    while answered < 20 {
        let msg = phone.next_message().await.expect("open");
        if msg["type"] == "error" {
            answered += 1;
            if msg["code"] == "rate_limited" {
                limited += 1;
                assert!(msg["id"].is_u64(), "the dropped vote's id is named");
            }
        }
    }
    assert!((10..=15).contains(&limited), "{limited} of 20 were limited");
    // Keep flooding: past 50 drops the server closes the connection.
    for i in 0..200u64 {
        if tokio::time::timeout(
            Duration::from_millis(50),
            phone.send_raw_checked(Message::text(format!(r#"{{"type":"next","n":{i}}}"#))),
        )
        .await
        .map(|sent| sent.is_err())
        .unwrap_or(true)
        {
            break;
        }
    }
    assert_eq!(phone.closed().await, Some(1008));
}

#[tokio::test]
async fn connections_are_capped_per_address_and_in_all() {
    let server = TestServer::start_limited(Limits {
        max_per_ip: 3,
        ..Limits::default()
    })
    .await;
    let mut held = vec![];
    for _ in 0..3 {
        held.push(server.participant().await);
    }
    assert!(
        connect_with(&server.ws_url(), &[]).await.is_err(),
        "a fourth connection from 127.0.0.1 is refused"
    );
    held.pop().unwrap().close().await;
    // The freed slot is usable again once the server has seen the close.
    let mut admitted = false;
    for _ in 0..100 {
        if let Ok(ws) = connect_with(&server.ws_url(), &[]).await {
            drop(ws);
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "a closed connection frees its slot");

    let server = TestServer::start_limited(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    // From two loopback addresses: the global cap holds whatever the address.
    let _a = server.participant().await;
    let _b = TestClient::hello(&server.ws_url(), json!({"type": "hello"})).await;
    let third = tokio::net::TcpSocket::new_v4().unwrap();
    third.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stream = third.connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .ok();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(support::WAIT, stream.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(
        n, 0,
        "the server closed the third connection without answering"
    );
}

#[tokio::test]
async fn a_silent_websocket_is_pinged_and_then_closed() {
    let server = TestServer::start_limited(Limits {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(350),
        ..Limits::default()
    })
    .await;
    let mut ws = connect_with(&server.ws_url(), &[]).await.unwrap();
    ws.send(Message::text(json!({"type": "hello"}).to_string()))
        .await
        .unwrap();
    // Read nothing for a while: a client that does not read sends no pongs.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut pings = 0;
    let code = loop {
        match tokio::time::timeout(support::WAIT, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    assert!(pings >= 2, "pinged {pings} times");
    assert_eq!(code, Some(1001));
    // A client that answers pings stays: the test client reads, so it pongs.
    let mut phone = server.participant().await;
    tokio::time::timeout(Duration::from_millis(900), phone.next_message())
        .await
        .expect_err("no message, and no close, while the phone answers pings");
}

#[tokio::test]
async fn a_slow_header_connection_is_closed() {
    let server = TestServer::start_limited(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = vec![];
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("the server closes a slow-header connection")
        .ok();
    assert!(started.elapsed() >= Duration::from_millis(250));
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");
}

#[tokio::test]
async fn invalid_utf8_in_a_binary_frame_is_an_error_and_in_a_text_frame_a_1007_close() {
    let server = TestServer::start().await;
    let mut phone = server.participant().await;
    phone
        .send_raw(Message::binary(vec![0xff, 0xfe, 0x00, 0x7b]))
        .await;
    assert_eq!(phone.wait_for("error").await["code"], "bad_message");
    assert_eq!(
        phone.vote(0, 1, 0).await["code"],
        "not_a_statement",
        "still connected"
    );

    // A text frame must be UTF-8 (RFC 6455 §8.1): the socket closes with 1007.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /ws/{} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.code(),
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 1024];
    let n = stream.read(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).contains("101"));
    // One masked text frame with the bytes FF FE.
    let mask = [1u8, 2, 3, 4];
    let payload = [0xffu8 ^ mask[0], 0xfe ^ mask[1]];
    let mut frame = vec![0x81, 0x80 | 2];
    frame.extend_from_slice(&mask);
    frame.extend_from_slice(&payload);
    stream.write_all(&frame).await.unwrap();
    let mut reply = vec![];
    tokio::time::timeout(support::WAIT, stream.read_to_end(&mut reply))
        .await
        .expect("closed in time")
        .ok();
    let close = reply
        .windows(4)
        .any(|w| w[0] == 0x88 && w[2..4] == 1007u16.to_be_bytes());
    assert!(close, "a close frame with 1007 in {reply:?}");
}

#[tokio::test]
async fn every_page_and_asset_carries_a_strict_csp_and_safety_headers() {
    let server = TestServer::start().await;
    let code = server.code().to_owned();
    for path in [
        "/".to_owned(),
        format!("/{code}"),
        format!("/host/{code}"),
        format!("/screen/{code}"),
        "/assets/js/socket.js".to_owned(),
        format!("/qr/{code}.svg"),
        "/NOCODE".to_owned(),
    ] {
        let (status, head, _) = server.get(&path).await;
        assert!(status == 200 || status == 404, "{path}: {status}");
        let csp = head
            .lines()
            .find_map(|l| l.strip_prefix("content-security-policy: "))
            .unwrap_or_else(|| panic!("{path} has no CSP"));
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(head.contains("x-content-type-options: nosniff"), "{path}");
        assert!(head.contains("referrer-policy: no-referrer"), "{path}");
    }
}

#[tokio::test]
async fn a_script_in_a_deck_reaches_the_pages_as_text() {
    let source = "---\ntitle: Test\n---\n# Hallo <script>alert(1)</script>\n\n\
                  <img src=x onerror=alert(2)>\n\n[klik](javascript:alert(3))\n";
    let deck = deck::parse("evil.md", source).unwrap();
    let server = TestServer::start_with(deck, source).await;
    let mut screen = server.screen().await;
    let html = screen.wait_state(|_| true).await["slide"]["html"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    assert!(!html.contains("javascript:"), "{html}");
}

#[tokio::test]
async fn requests_for_unknown_sessions_and_files_get_404() {
    let server = TestServer::start().await;
    assert_eq!(server.get("/ZZZZZZ").await.0, 404);
    let (status, _, body) = server.get("/assets/../Cargo.toml").await;
    assert!(status == 400 || status == 404, "{status}");
    assert!(!body.contains("[package]"));
    assert_eq!(server.get("/qr/ZZZZZZ.svg").await.0, 404);
    let url = format!("ws://{}/ws/ZZZZZZ", server.addr);
    let err = connect_with(&url, &[]).await.expect_err("no such session");
    assert!(err.contains("404"), "{err}");
}
