//! Each defence, through the real server, with a test that fails without it.

use crate::support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::core::deck::{self, SlideKind};
use stemzaal::web::limits::Limits;
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
    let refused = connect_with(&server.ws_url(), &[]).await;
    let err = refused.expect_err("a fourth connection from 127.0.0.1 is refused");
    assert!(err.contains("503"), "{err}");
    let (status, head, body) = server.get("/").await;
    assert_eq!(status, 503, "{head}");
    assert!(head.contains("retry-after: 5"), "{head}");
    assert!(
        body.contains("Too many connections from this address"),
        "{body}"
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
    let answer = get_from("127.0.0.2", server.addr).await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Retry-After: 5\r\n"), "{answer}");
    assert!(answer.contains("The server is full"), "{answer}");
}

/// A TCP connection to `server` from another loopback address.
async fn connect_from(source: &str, server: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Sends `request` as it is over a fresh connection: (status, head, body).
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = vec![];
    tokio::time::timeout(support::WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("answered in time")
        .ok();
    support::parse_response(&raw)
}

#[tokio::test]
async fn request_headers_over_16_kib_get_431_and_a_huge_half_sent_one_is_cut_off() {
    // A header timeout far beyond the test's wait, so only the size cap can end it.
    let server = TestServer::start_limited(Limits {
        header_read_timeout: Duration::from_secs(120),
        ..Limits::default()
    })
    .await;
    let cookies = format!("a={}", "x".repeat(12 * 1024));
    let (status, _, _) = support::http_get(server.addr, "/", &[("cookie", &cookies)]).await;
    assert_eq!(status, 200, "12 KiB of cookies still pass");
    let big = "x".repeat(17 * 1024);
    let (status, _, _) = support::http_get(server.addr, "/", &[("x-big", &big)]).await;
    assert_eq!(status, 431);

    // 300 KB of a header that never ends: the server answers at the cap and closes,
    // instead of holding the bytes until the header timeout.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Big: ", server.addr);
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = [b'x'; 4096];
    let send = async {
        for _ in 0..(300_000 / chunk.len()) {
            if stream.write_all(&chunk).await.is_err() {
                break; // closed by the server: the rest is never read
            }
        }
    };
    tokio::time::timeout(support::WAIT, send)
        .await
        .expect("writes end: sent, or refused by a closed connection");
    let mut answer = vec![];
    let ended = tokio::time::timeout(support::WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server ends the connection");
    let answer = String::from_utf8_lossy(&answer);
    // The 431 arrives unless the reset of the unread rest overtakes it.
    assert!(
        answer.starts_with("HTTP/1.1 431") || ended.is_err(),
        "{answer}"
    );
}

#[tokio::test]
async fn a_foreign_host_gets_421_on_every_route_so_dns_rebinding_gets_nothing() {
    let server = TestServer::start_limited(Limits {
        allowed_hosts: vec!["stemmen.local".into()],
        ..Limits::default()
    })
    .await;
    let code = server.code().to_owned();
    let key = server.session.host_key().expose().to_owned();
    let port = server.addr.port();
    let get = |path: String, host: String| {
        let addr = server.addr;
        async move {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            raw_request(addr, &request).await
        }
    };
    // Each route with what it answers its own host name: a foreign name gets 421 before
    // any of it (a WebSocket route asked without an upgrade says 400).
    for (path, own) in [
        ("/".to_owned(), 200),
        (format!("/{code}"), 200),
        (format!("/host/{code}?key={key}"), 303),
        (format!("/screen/{code}"), 200),
        ("/assets/js/socket.js".to_owned(), 200),
        (format!("/qr/{code}.svg"), 200),
        (format!("/report/{code}?key={key}"), 200),
        (format!("/export/{code}.csv?key={key}"), 200),
        (format!("/ws/{code}"), 400),
    ] {
        for foreign in [
            format!("evil.example:{port}"),
            "evil.example".to_owned(),
            format!("127.0.0.1.evil.example:{port}"),
            format!("127.0.0.1:{}", port + 1),
        ] {
            let (status, _, body) = get(path.clone(), foreign.clone()).await;
            assert_eq!(status, 421, "{path} for {foreign}");
            assert!(body.contains("does not answer to this host name"), "{body}");
        }
        let (status, _, _) = get(path.clone(), format!("127.0.0.1:{port}")).await;
        assert_eq!(status, own, "{path}");
    }
    for own in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_owned(),
        format!("localhost:{port}"),
        "stemmen.local".to_owned(),
        format!("stemmen.local:{port}"),
    ] {
        assert_eq!(get("/".into(), own.clone()).await.0, 200, "{own}");
    }
    // A request without a Host header (HTTP/1.0) names no host this server serves.
    let (status, _, _) = raw_request(server.addr, "GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 421);

    // The rebinding page's WebSocket: its own name as Host and as Origin, which match.
    let rebound = format!("evil.example:{port}");
    let origin = format!("http://{rebound}");
    let refused = connect_with(&server.ws_url(), &[("host", &rebound), ("origin", &origin)]).await;
    let err = refused.expect_err("no upgrade for a foreign host");
    assert!(err.contains("421"), "{err}");
    let origin = "http://stemmen.local";
    let mut ws = connect_with(
        &server.ws_url(),
        &[("host", "stemmen.local"), ("origin", origin)],
    )
    .await
    .expect("an allowed host with its own origin is served");
    ws.send(Message::text(json!({"type": "hello"}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
}

/// Sends a participant's `hello` (with this id, if any) from `source` (a loopback
/// address): `Ok(welcome)`, or `Err((error code, close code))` if refused.
async fn try_join(
    server: &TestServer,
    source: &str,
    id: Option<&str>,
) -> Result<Value, (Value, Option<u16>)> {
    try_join_as(server, source, id, None).await
}

/// As [`try_join`], through a proxy that says the phone came from `forwarded`
/// (`X-Forwarded-For`), if given.
async fn try_join_as(
    server: &TestServer,
    source: &str,
    id: Option<&str>,
    forwarded: Option<&str>,
) -> Result<Value, (Value, Option<u16>)> {
    try_join_at(server.addr, &server.ws_url(), source, id, forwarded).await
}

/// As [`try_join_as`], to the session at `ws_url` on the server at `addr`.
async fn try_join_at(
    addr: std::net::SocketAddr,
    ws_url: &str,
    source: &str,
    id: Option<&str>,
    forwarded: Option<&str>,
) -> Result<Value, (Value, Option<u16>)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let stream = connect_from(source, addr).await;
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let mut request = ws_url.into_client_request().unwrap();
    if let Some(forwarded) = forwarded {
        request
            .headers_mut()
            .insert("X-Forwarded-For", forwarded.parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("upgraded");
    let hello = json!({"type": "hello", "participant_id": id});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let answer = next_json(&mut ws).await;
    if answer["type"] == "welcome" {
        ws.close(None).await.ok();
        return Ok(answer);
    }
    Err((answer["code"].clone(), close_code(&mut ws).await))
}

#[tokio::test]
async fn a_room_of_500_joins_from_one_address_while_a_flood_of_new_participants_is_refused() {
    let limits = Limits::default();
    let started = std::time::Instant::now();
    let server = &TestServer::start_limited(limits.clone()).await;
    let mut room = vec![];
    for _ in 0..500 {
        let welcome = try_join(server, "127.0.0.1", None)
            .await
            .expect("every phone of the room joins");
        room.push(welcome["participant_id"].as_str().unwrap().to_owned());
    }

    // A script goes on making participants, half without an id and half with a made-up
    // one, 64 at a time, until the address is refused for both.
    let (mut joined, mut refused_new, mut refused_made_up) = (500usize, 0, 0);
    while refused_new == 0 || refused_made_up == 0 {
        assert!(
            joined < 5_000,
            "a flood of {joined} joins was never refused"
        );
        let made_up: Vec<String> = (0..32).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let tries = (0..64).map(|i| {
            let id = (i % 2 == 1).then(|| made_up[i / 2].as_str());
            async move { (id.is_some(), try_join(server, "127.0.0.1", id).await) }
        });
        for (with_id, outcome) in futures_util::future::join_all(tries).await {
            match outcome {
                Ok(_) => joined += 1,
                Err((code, close)) => {
                    assert_eq!(code, "too_many_joins");
                    assert_eq!(close, Some(1013));
                    if with_id {
                        refused_made_up += 1;
                    } else {
                        refused_new += 1;
                    }
                }
            }
        }
    }
    let allowed = limits.join_burst + limits.joins_per_second * started.elapsed().as_secs_f64();
    assert!(
        joined as f64 <= allowed,
        "{joined} participants from one address, more than the {allowed:.0} the limit allows"
    );

    // While new phones are refused, the room's phones come back: a returning phone is
    // never limited. Half the tries are new, so the address stays refused meanwhile.
    let tries = room[..64].iter().enumerate().map(|(i, id)| {
        let id = (i % 2 == 0).then_some(id.as_str());
        async move { (id, try_join(server, "127.0.0.1", id).await) }
    });
    let mut refused = 0;
    for (id, outcome) in futures_util::future::join_all(tries).await {
        match (id, outcome) {
            (Some(id), Ok(welcome)) => assert_eq!(welcome["participant_id"], id),
            (Some(id), Err(refusal)) => panic!("returning phone {id} refused: {refusal:?}"),
            (None, Ok(_)) => {}
            (None, Err(_)) => refused += 1,
        }
    }
    assert!(refused > 0, "the address was still being refused");
    // Another address has a bucket of its own.
    try_join(server, "127.0.0.2", None)
        .await
        .expect("a phone on another address joins");
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
    assert_eq!(code, Some(4000), "an idle close has its own code");
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
    for (path, want) in [
        ("/".to_owned(), 200),
        (format!("/{code}"), 200),
        (format!("/host/{code}"), 200),
        (format!("/screen/{code}"), 200),
        ("/assets/js/socket.js".to_owned(), 200),
        (format!("/qr/{code}.svg"), 200),
        // An error page carries the headers as well.
        ("/NOCODE".to_owned(), 404),
    ] {
        let (status, head, _) = server.get(&path).await;
        assert_eq!(status, want, "{path}");
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
    assert_eq!(status, 404);
    assert_eq!(
        body, "not found",
        "the asset route answered, and found nothing"
    );
    assert_eq!(server.get("/qr/ZZZZZZ.svg").await.0, 404);
    let url = format!("ws://{}/ws/ZZZZZZ", server.addr);
    let err = connect_with(&url, &[]).await.expect_err("no such session");
    assert!(err.contains("404"), "{err}");
}

/// What a path traversal would be after, with a line of each that must never be served:
/// the crate's manifest beside `web/`, the system's password file, and the session's
/// own database (absolute path: its temporary data directory).
fn secrets(server: &TestServer) -> Vec<(String, &'static str)> {
    let database = std::fs::read_dir(server.data.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sqlite3"))
        .expect("the session's database in the data directory");
    vec![
        ("../Cargo.toml".to_owned(), "[package]"),
        ("/etc/passwd".to_owned(), "root:"),
        (database.display().to_string(), "SQLite format 3"),
    ]
}

/// `path` as an attacker spells it for a URL: plain, percent-encoded (lower and upper
/// case), double-encoded, with backslashes, and climbing from a real folder.
fn spellings(path: &str) -> Vec<String> {
    let lower = path.replace('.', "%2e").replace('/', "%2f");
    vec![
        path.to_owned(),
        path.replace('/', "%2F"),
        lower.clone(),
        lower.to_ascii_uppercase(),
        lower.replace('%', "%25"),
        path.replace('/', "%5C"),
        format!("js/../{path}"),
        format!("js/..%2F..%2F{}", path.trim_start_matches("../")),
        format!(
            "../../../../../../../../{}",
            path.trim_start_matches(['.', '/'])
        ),
    ]
}

/// Assets are embedded in the binary in every build (rust-embed's `debug-embed`), so no
/// URL is a file name on disk: each spelling of each secret, on every route that takes a
/// name from the URL, is answered by that route with its own "not found" (or, where a
/// host key is asked first, "host key required") and never with a byte of the file. The
/// controls show that the spellings reach the lookup decoded: an encoded name of a real
/// asset is served. A server that read `web/` from disk without confining the path, or
/// read a file named by an export or a QR code, fails here.
#[tokio::test]
async fn no_spelling_of_a_path_outside_the_assets_reaches_a_file() {
    let server = TestServer::start().await;
    let key = server.session.host_key().expose().to_owned();
    let socket_js =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/js/socket.js")).unwrap();
    for control in [
        "/assets/js/socket.js",
        "/assets/js%2Fsocket.js",
        "/assets/js%2fsocket%2ejs",
    ] {
        let (status, _, body) = server.get(control).await;
        assert_eq!(status, 200, "{control}");
        assert_eq!(body, socket_js, "{control} serves the embedded file");
    }
    let mut tried = 0;
    for (path, line) in secrets(&server) {
        for spelled in spellings(&path) {
            // A route that takes one segment never sees a name with a slash in it: the
            // router answers that with its own empty 404.
            let one_segment = |want, answer| {
                if spelled.contains('/') {
                    (404, "")
                } else {
                    (want, answer)
                }
            };
            let keyed = one_segment(403, "host key required");
            for (url, (want, answer)) in [
                (format!("/assets/{spelled}"), (404, "not found")),
                (format!("/assets//{spelled}"), (404, "not found")),
                (format!("/qr/{spelled}"), one_segment(404, "")),
                (format!("/qr/{spelled}.svg"), one_segment(404, "")),
                (format!("/export/{spelled}"), one_segment(404, "")),
                (format!("/export/{spelled}.csv?key={key}"), keyed),
                (format!("/export/{spelled}.json?key={key}"), keyed),
                (format!("/export/{spelled}.xlsx?key={key}"), keyed),
                (format!("/report/{spelled}?key={key}"), keyed),
            ] {
                let (status, _, body) = server.get(&url).await;
                tried += 1;
                assert_eq!(status, want, "{url}: {body}");
                assert_eq!(body, answer, "{url}");
                assert!(!body.contains(line), "{url} leaked {path}");
            }
        }
    }
    assert_eq!(tried, 3 * 9 * 9);
}

#[tokio::test]
async fn a_phone_the_session_has_stored_is_never_refused_as_a_new_participant() {
    // Stored before this server's limiter saw it: as after a restart.
    let limits = Limits {
        join_burst: 2.0,
        joins_per_second: 0.001,
        ..Limits::default()
    };
    let server = &TestServer::start_limited(limits).await;
    let stored = uuid::Uuid::new_v4();
    server
        .session
        .join(Some(stored))
        .await
        .unwrap()
        .expect("stored");
    for _ in 0..2 {
        try_join(server, "127.0.0.1", None)
            .await
            .expect("the burst admits two new phones");
    }
    let (code, close) = try_join(server, "127.0.0.1", None)
        .await
        .expect_err("a third new phone is refused");
    assert_eq!((code, close), (json!("too_many_joins"), Some(1013)));
    // An id nobody stored is a new participant, and refused too.
    let stranger = uuid::Uuid::new_v4().to_string();
    let (code, _) = try_join(server, "127.0.0.1", Some(&stranger))
        .await
        .expect_err("an unknown id is a new participant");
    assert_eq!(code, json!("too_many_joins"));
    // The stored phone comes back, more than once.
    for _ in 0..3 {
        let welcome = try_join(server, "127.0.0.1", Some(&stored.to_string()))
            .await
            .expect("a stored phone is never refused");
        assert_eq!(welcome["participant_id"], json!(stored.to_string()));
    }
}

/// What a plain `GET /` from `source` is answered: the status line and the body.
async fn get_from(source: &str, addr: std::net::SocketAddr) -> String {
    let mut stream = connect_from(source, addr).await;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![];
    tokio::time::timeout(support::WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed in time")
        .expect("closed, not reset");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binarys_proxy_and_join_flags_hold_as_documented() {
    use crate::recovery::{free_port, start_binary_with};
    let dir = tempfile::tempdir().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let flags = [
        "--trusted-proxy",
        "127.0.0.9/32",
        "--join-burst",
        "2",
        "--joins-per-second",
        "0.001",
        "--max-per-ip",
        "2",
    ];
    let (server, code, _) = start_binary_with(
        addr,
        &dir.path().join("data"),
        &flags,
        std::process::Stdio::piped(),
    );
    let ws = format!("ws://{addr}/ws/{code}");
    // The proxy holds more connections than --max-per-ip: it is exempt.
    let mut held = vec![];
    for _ in 0..3 {
        held.push(connect_from("127.0.0.9", addr).await);
    }
    // Phones of three addresses join through it; each address has its own burst of 2.
    for n in 1..=3 {
        try_join_at(addr, &ws, "127.0.0.9", None, Some(&format!("192.0.2.{n}")))
            .await
            .unwrap_or_else(|e| panic!("phone {n} through the proxy: {e:?}"));
    }
    try_join_at(addr, &ws, "127.0.0.9", None, Some("192.0.2.1"))
        .await
        .expect("a second new phone of one address");
    let refused = try_join_at(addr, &ws, "127.0.0.9", None, Some("192.0.2.1"))
        .await
        .expect_err("a third new phone of one address");
    assert_eq!(refused, (json!("too_many_joins"), Some(1013)));
    // Anyone else is one address, whatever it claims, and held to --max-per-ip.
    for n in 1..=2 {
        try_join_at(
            addr,
            &ws,
            "127.0.0.20",
            None,
            Some(&format!("198.51.100.{n}")),
        )
        .await
        .expect("the burst of 127.0.0.20");
    }
    let refused = try_join_at(addr, &ws, "127.0.0.20", None, Some("198.51.100.3"))
        .await
        .expect_err("a header from an untrusted peer changes nothing");
    assert_eq!(refused, (json!("too_many_joins"), Some(1013)));
    let _two = [
        connect_from("127.0.0.20", addr).await,
        connect_from("127.0.0.20", addr).await,
    ];
    // Asked up to 50 times, 20 ms apart: an address at its cap is refused on every
    // try, so only a missing cap fails this.
    let mut answer = String::new();
    for _ in 0..50 {
        answer = get_from("127.0.0.20", addr).await;
        if answer.starts_with("HTTP/1.1 503") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n")
            && answer.contains("Too many connections from this address"),
        "{answer}"
    );
    drop(held);
    drop(server);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_phone_has_its_own_address_and_nobody_else_can_claim_one() {
    // Two new participants per address, then none for a long while.
    let limits = |trusted: &str| Limits {
        join_burst: 2.0,
        joins_per_second: 0.001,
        trusted_proxies: vec![trusted.parse().unwrap()],
        ..Limits::default()
    };
    let server = &TestServer::start_limited(limits("127.0.0.9/32")).await;
    // Through the proxy (127.0.0.9): six phones of six addresses all join.
    for n in 1..=6 {
        let phone = format!("192.0.2.{n}, 127.0.0.9");
        try_join_as(server, "127.0.0.9", None, Some(&phone))
            .await
            .unwrap_or_else(|e| panic!("phone {n} through the proxy: {e:?}"));
    }
    // One address is still held to its burst: a second new phone from 192.0.2.1
    // joins, a third waits.
    try_join_as(server, "127.0.0.9", None, Some("192.0.2.1"))
        .await
        .expect("a second new phone of one address");
    let refused = try_join_as(server, "127.0.0.9", None, Some("192.0.2.1"))
        .await
        .expect_err("a third new phone of one address");
    assert_eq!(refused, (json!("too_many_joins"), Some(1013)));
    // Anyone else saying X-Forwarded-For is not believed: 127.0.0.20 is one address,
    // whatever it claims.
    for n in 1..=2 {
        try_join_as(server, "127.0.0.20", None, Some(&format!("198.51.100.{n}")))
            .await
            .expect("the burst of 127.0.0.20");
    }
    let refused = try_join_as(server, "127.0.0.20", None, Some("198.51.100.3"))
        .await
        .expect_err("a header from an untrusted peer changes nothing");
    assert_eq!(refused, (json!("too_many_joins"), Some(1013)));
}
