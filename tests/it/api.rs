//! The HTTP API under `/api/` through the real server: the door (login, cookie,
//! Origin), decks with bad input, a session's whole life, and docs/api.md held to the
//! source.

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::support::{self, http_request, TestClient, TestServer, ADMIN_PASSWORD};

/// A logged-in console: the cookie and the server's own origin.
pub(crate) struct Console {
    addr: SocketAddr,
    pub(crate) cookie: String,
}

impl Console {
    pub(crate) async fn log_in(server: &TestServer) -> Console {
        let (status, head, body) = login(server.addr, ADMIN_PASSWORD).await;
        assert_eq!(status, 204, "{body}");
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .expect("a cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("stemzaal_admin="), "{cookie}");
        for attribute in ["httponly", "samesite=strict", "path=/"] {
            assert!(
                head.contains(attribute),
                "the cookie is {attribute}: {head}"
            );
        }
        Console {
            addr: server.addr,
            cookie,
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A call with the cookie, the own origin and a JSON body (or none).
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let origin = self.origin();
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, head, text) =
            http_request(self.addr, method, path, &headers, body.as_bytes()).await;
        assert!(head.contains("cache-control: no-store"), "{path}: {head}");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
        };
        (status, value)
    }

    /// Stores a deck through `POST /api/decks`.
    async fn post_deck(&self, name: &str, source: &str) -> (u16, Value) {
        let deck = json!({"name": name, "source": source});
        self.call("POST", "/api/decks", Some(deck)).await
    }

    /// `PUT /api/sessions/{code}/deck` with a new text.
    async fn edit_deck(&self, code: &str, source: &str) -> (u16, Value) {
        let path = format!("/api/sessions/{code}/deck");
        self.call("PUT", &path, Some(json!({ "source": source })))
            .await
    }

    /// What `POST /api/check` says of a deck.
    async fn check(&self, name: &str, source: &str) -> (u16, Value) {
        let deck = json!({"name": name, "source": source});
        self.call("POST", "/api/check", Some(deck)).await
    }

    /// A call with raw bytes and a content type.
    async fn send_bytes(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let origin = self.origin();
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", content_type),
        ];
        let (status, _, text) = http_request(self.addr, "POST", path, &headers, body).await;
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value)
    }
}

async fn login(addr: SocketAddr, password: &str) -> (u16, String, String) {
    let origin = format!("http://{addr}");
    let body = json!({ "password": password }).to_string();
    http_request(
        addr,
        "POST",
        "/api/login",
        &[("Origin", &origin), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

fn assert_error(status: u16, error: &Value, want_status: u16, want_code: &str) {
    assert_eq!(
        (status, error["code"].as_str()),
        (want_status, Some(want_code)),
        "{error}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{error}"
    );
}

/// Every call of the API (docs/api.md), with a body that would be taken.
fn every_call(code: &str) -> Vec<(&'static str, String, Value)> {
    let deck = json!({"name": "x.md", "source": "## S\n\nA) a\nB) b\n"});
    vec![
        ("POST", "/api/logout".into(), Value::Null),
        ("GET", "/api/me".into(), Value::Null),
        ("GET", "/api/decks".into(), Value::Null),
        ("POST", "/api/decks".into(), deck.clone()),
        ("GET", "/api/decks/1".into(), Value::Null),
        ("PUT", "/api/decks/1".into(), deck.clone()),
        ("DELETE", "/api/decks/1".into(), Value::Null),
        ("POST", "/api/check".into(), deck),
        ("PUT", "/api/images/{deck}".into(), Value::Null),
        ("PUT", "/api/images/{deck}/{file}".into(), Value::Null),
        ("GET", "/api/settings".into(), Value::Null),
        (
            "PUT",
            "/api/settings".into(),
            json!({"organisation": "Gemeente X"}),
        ),
        ("GET", "/api/sessions".into(), Value::Null),
        ("POST", "/api/sessions".into(), json!({"deck": 1})),
        ("GET", format!("/api/sessions/{code}"), Value::Null),
        (
            "PUT",
            format!("/api/sessions/{code}/deck"),
            json!({"deck": 1}),
        ),
        ("POST", format!("/api/sessions/{code}/close"), Value::Null),
        ("DELETE", format!("/api/sessions/{code}"), Value::Null),
        (
            "GET",
            format!("/api/sessions/{code}/qr/join.svg"),
            Value::Null,
        ),
        (
            "GET",
            format!("/api/sessions/{code}/qr/host.svg"),
            Value::Null,
        ),
        ("GET", "/api/nothing-here".into(), Value::Null),
    ]
}

#[tokio::test]
async fn every_console_route_is_refused_without_the_login_cookie() {
    let server = TestServer::start_console().await;
    let origin = format!("http://{}", server.addr);
    for (method, path, body) in every_call(server.code()) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        for cookie in [None, Some("stemzaal_admin=0123456789abcdef.00000000")] {
            let mut headers = vec![
                ("Origin", origin.as_str()),
                ("Content-Type", "application/json"),
            ];
            if let Some(cookie) = cookie {
                headers.push(("Cookie", cookie));
            }
            let (status, _, text) =
                http_request(server.addr, method, &path, &headers, body.as_bytes()).await;
            assert_eq!(status, 401, "{method} {path} with {cookie:?}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error["code"], "login_required", "{method} {path}");
        }
    }
    // The poster is a console page too: without a login it sends to the login form.
    let (status, head, _) = server
        .get(&format!("/admin/poster/{}", server.code()))
        .await;
    assert_eq!(status, 303);
    assert!(head.contains("location: /admin"), "{head}");
    // Nothing was changed by all those calls: the session still runs.
    assert!(server.hub.get(server.code()).is_some());
    let console = Console::log_in(&server).await;
    let (status, decks) = console.call("GET", "/api/decks", None).await;
    assert_eq!(status, 200);
    assert_eq!(decks["decks"].as_array().unwrap().len(), 1, "{decks}");
}

#[tokio::test]
async fn a_changing_call_from_another_origin_or_without_one_is_refused() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let deck = json!({"name": "x.md", "source": "## S\n\nA) a\nB) b\n"}).to_string();
    for origin in [
        Some("http://evil.example"),
        Some("null"),
        Some("http://127.0.0.1:1"),
        None,
    ] {
        let mut headers = vec![
            ("Cookie", console.cookie.as_str()),
            ("Content-Type", "application/json"),
        ];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        for (method, path) in [
            ("POST", "/api/decks".to_string()),
            ("POST", format!("/api/sessions/{}/close", server.code())),
            ("DELETE", format!("/api/sessions/{}", server.code())),
            ("POST", "/api/login".to_string()),
        ] {
            let (status, _, text) =
                http_request(server.addr, method, &path, &headers, deck.as_bytes()).await;
            assert_eq!(status, 403, "{method} {path} from {origin:?}: {text}");
            assert!(text.contains("\"foreign_origin\""), "{text}");
        }
    }
    // A form post (not JSON) from the own origin is refused too.
    let origin = console.origin();
    let (status, _, text) = http_request(
        server.addr,
        "POST",
        &format!("/api/sessions/{}/close", server.code()),
        &[
            ("Cookie", console.cookie.as_str()),
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"a=b",
    )
    .await;
    // Closing takes no body, so the form's content type does not matter to it; a call
    // that reads a body refuses it.
    assert!(status == 200 || status == 415, "{status} {text}");
    let (status, value) = console
        .send_bytes(
            "/api/sessions",
            "application/x-www-form-urlencoded",
            b"deck=1",
        )
        .await;
    assert_eq!(status, 415, "{value}");
    assert_eq!(value["code"], "unsupported_media_type");
}

#[tokio::test]
async fn logins_are_limited_per_address_and_a_logout_ends_the_cookie() {
    let server = TestServer::start_console().await;
    let (status, _, body) = login(server.addr, "wrong").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"bad_password\""), "{body}");
    for _ in 1..10 {
        assert_eq!(login(server.addr, "wrong").await.0, 401);
    }
    let (status, head, body) = login(server.addr, ADMIN_PASSWORD).await;
    assert_eq!(status, 429, "the right password waits too: {body}");
    assert!(body.contains("\"too_many_attempts\""), "{body}");
    assert!(head.contains("retry-after: "), "{head}");

    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    assert_eq!(
        console.call("GET", "/api/me", None).await.1,
        json!({"admin": true})
    );
    assert_eq!(console.call("POST", "/api/logout", None).await.0, 204);
    let (status, error) = console.call("GET", "/api/me", None).await;
    assert_eq!(status, 401);
    assert_eq!(error["code"], "login_required");
}

#[tokio::test]
async fn a_right_password_takes_no_attempt_but_is_not_checked_during_the_lock_out() {
    let server = TestServer::start_console().await;
    for _ in 0..9 {
        assert_eq!(login(server.addr, "wrong").await.0, 401);
    }
    // Accepted, and given back: the tenth wrong one is still checked.
    assert_eq!(login(server.addr, ADMIN_PASSWORD).await.0, 204);
    assert_eq!(login(server.addr, "wrong").await.0, 401);
    // Locked out: the right password is refused unchecked, as often as it is tried.
    for _ in 0..3 {
        let (status, _, body) = login(server.addr, ADMIN_PASSWORD).await;
        assert_eq!(status, 429, "{body}");
    }
}

#[tokio::test]
async fn bad_decks_get_a_clear_error_and_nothing_is_stored() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let before = console.call("GET", "/api/decks", None).await.1;

    // 5 MB: refused before it is read whole.
    let huge = format!("## S\n\nA) a\nB) b\n{}", "x".repeat(5 * 1024 * 1024));
    let (status, error) = console
        .send_bytes("/api/decks?name=huge.md", "text/markdown", huge.as_bytes())
        .await;
    assert_eq!(status, 413, "{error}");
    assert_eq!(error["code"], "body_too_large");
    // 1.5 MB fits the body but not a deck.
    let large = format!("## S\n\nA) a\nB) b\n\n{}", "tekst ".repeat(256 * 1024));
    let (status, error) = console.post_deck("groot.md", &large).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["code"], "deck_too_large");
    // 10,000 slides: the parser's limit, with a line.
    let many: String = (0..10_000)
        .map(|i| format!("## Dia {i}\n\n---\n\n"))
        .collect();
    let (status, error) = console.post_deck("veel.md", &many).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["code"], "deck_invalid");
    assert!(error["errors"][0]["line"].as_u64().unwrap() > 1, "{error}");
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{error}"
    );
    // Latin-1 bytes on line 3.
    let latin1 = b"## Stelling\n\nA) Caf\xe9\nB) Thee\n";
    let (status, error) = console
        .send_bytes("/api/decks?name=latin1.md", "text/markdown", latin1)
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["code"], "deck_not_utf8");
    assert_eq!(error["errors"][0]["line"], 3, "{error}");
    assert_eq!(error["errors"][0]["code"], "not_utf8", "{error}");
    assert_eq!(
        error["errors"][0]["message"], "byte 20 is geen UTF-8: sla het deck op als UTF-8-tekst",
        "{error}"
    );
    // A deck with an error names its line; the check says the same without storing.
    let broken = "## Stelling\n\nA) Ja\n";
    let (status, error) = console.post_deck("kapot.md", broken).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["code"], "deck_invalid");
    let (status, checked) = console.check("kapot.md", broken).await;
    assert_eq!(status, 200);
    assert_eq!(checked["ok"], false);
    assert_eq!(checked["errors"], error["errors"]);
    assert_eq!(
        checked["errors"][0],
        serde_json::json!({"line": 3, "code": "one_option",
            "message": "een stelling heeft ten minste twee opties nodig, `A)` en `B)`"})
    );
    // Not JSON, or JSON of the wrong shape.
    let (status, error) = console
        .send_bytes("/api/decks", "application/json", b"{\"source\": 5")
        .await;
    assert_error(status, &error, 400, "bad_json");
    let (status, error) = console
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"deck": 1, "meeting": {"name": "a\u{7}b"}})),
        )
        .await;
    assert_error(status, &error, 422, "bad_meeting");

    assert_eq!(
        console.call("GET", "/api/decks", None).await.1,
        before,
        "nothing stored"
    );
    let (_, sessions) = console.call("GET", "/api/sessions", None).await;
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len(),
        1,
        "no session started"
    );
}

#[tokio::test]
async fn decks_keep_their_versions_and_the_check_previews_every_slide() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let v1 = "---\ntitle: Raad december\n---\n\n# Welkom\n\n---\n\n## Stelling\n\nA) Ja\nB) Nee\n";
    let (status, deck) = console.post_deck("raad.md", v1).await;
    assert_eq!(status, 201, "{deck}");
    let id = deck["id"].as_i64().unwrap();
    assert_eq!(deck["version"], 1);
    assert_eq!(deck["title"], "Raad december");
    assert_eq!(
        (deck["slides"].as_u64(), deck["statements"].as_u64()),
        (Some(2), Some(1))
    );
    let v2 = v1.replace("B) Nee", "B) Nee, want");
    let (status, deck) = console
        .call(
            "PUT",
            &format!("/api/decks/{id}"),
            Some(json!({"source": v2})),
        )
        .await;
    assert_eq!(status, 200, "{deck}");
    assert_eq!(deck["version"], 2);
    assert_eq!(deck["versions"].as_array().unwrap().len(), 2);
    // The same text again stores no new version.
    let (_, same) = console
        .call(
            "PUT",
            &format!("/api/decks/{id}"),
            Some(json!({"source": v2})),
        )
        .await;
    assert_eq!(same["version"], 2);
    let (_, old) = console
        .call("GET", &format!("/api/decks/{id}?version=1"), None)
        .await;
    assert_eq!(old["source"], v1);
    let (_, listed) = console.call("GET", "/api/decks", None).await;
    assert_eq!(
        listed["decks"][0]["id"], id,
        "the newest change first: {listed}"
    );
    assert_eq!(listed["decks"][1]["builtin"], true);
    let builtin = listed["decks"][1]["id"].as_i64().unwrap();
    let (status, error) = console
        .call("DELETE", &format!("/api/decks/{builtin}"), None)
        .await;
    assert_error(status, &error, 409, "builtin_deck");

    let (status, checked) = console.check("raad.md", &v2).await;
    assert_eq!(status, 200);
    assert_eq!(checked["ok"], true);
    assert_eq!(
        checked["slides"][1],
        json!({"index": 1, "line": 9, "kind": "statement", "title": "Stelling"})
    );
    let preview = &checked["preview"];
    assert_eq!(preview["screen"]["type"], "welcome");
    assert_eq!(preview["screen"]["role"], "screen");
    assert_eq!(preview["participant"]["role"], "participant");
    let on_statement = &preview["states"][1];
    assert_eq!(on_statement["screen"]["type"], "state");
    assert_eq!(
        on_statement["screen"]["slide"]["options"],
        json!(["Ja", "Nee, want"])
    );
    assert_eq!(on_statement["participant"]["slide"]["phase"], "open");

    assert_eq!(
        console
            .call("DELETE", &format!("/api/decks/{id}"), None)
            .await
            .0,
        204
    );
    let (status, error) = console.call("GET", &format!("/api/decks/{id}"), None).await;
    assert_error(status, &error, 404, "unknown_deck");
}

#[tokio::test]
async fn a_deck_with_errors_is_kept_as_a_draft_that_no_session_starts_on() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    // Line 3's statement has one option: refused without `draft`, kept with it.
    let broken = "## Stelling\n\nA) Ja\n";
    let (status, error) = console.post_deck("concept.md", broken).await;
    assert_error(status, &error, 422, "deck_invalid");
    let (status, draft) = console
        .call(
            "POST",
            "/api/decks",
            Some(json!({"name": "concept.md", "source": broken, "draft": true})),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(
        (&draft["draft"], &draft["version"], &draft["source"]),
        (&json!(true), &json!(1), &json!(broken))
    );
    assert_eq!(
        (&draft["title"], &draft["slides"]),
        (&json!("concept.md"), &json!(0))
    );
    let id = draft["id"].as_i64().unwrap();
    let (_, listed) = console.call("GET", "/api/decks", None).await;
    assert_eq!(listed["decks"][0]["id"], id, "{listed}");
    assert_eq!(listed["decks"][0]["draft"], true, "{listed}");
    assert_eq!(
        listed["decks"][1]["draft"], false,
        "the built-in deck: {listed}"
    );

    // No session starts on it, and it says why, line and all, in the asker's language.
    let (status, refused) = console
        .call("POST", "/api/sessions", Some(json!({"deck": id})))
        .await;
    assert_error(status, &refused, 409, "deck_draft");
    assert_eq!(refused["errors"][0]["line"], 3, "{refused}");
    assert_eq!(refused["errors"][0]["code"], "one_option", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("concept"),
        "{refused}"
    );

    // A file upload is a draft with `draft=true`; a draft is still UTF-8 and at most 1 MiB.
    let (status, uploaded) = console
        .send_bytes(
            "/api/decks?draft=true&name=kapot.md",
            "text/markdown",
            broken.as_bytes(),
        )
        .await;
    assert_eq!(
        (status, &uploaded["draft"]),
        (201, &json!(true)),
        "{uploaded}"
    );
    let (status, error) = console
        .send_bytes(
            "/api/decks?draft=true&name=latin1.md",
            "text/markdown",
            b"## S\n\nA) Caf\xe9\n",
        )
        .await;
    assert_error(status, &error, 422, "deck_not_utf8");
    let large = format!("## S\n\nA) a\n\n{}", "tekst ".repeat(256 * 1024));
    let (status, error) = console
        .call(
            "POST",
            "/api/decks",
            Some(json!({"name": "groot.md", "source": large, "draft": true})),
        )
        .await;
    assert_error(status, &error, 422, "deck_too_large");

    // Fixed and saved the same way, it is a deck like any other, and starts.
    let path = format!("/api/decks/{id}");
    let fixed = format!("{broken}B) Nee\n");
    let (status, saved) = console
        .call("PUT", &path, Some(json!({"source": fixed, "draft": true})))
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (&saved["draft"], &saved["version"]),
        (&json!(false), &json!(2))
    );
    let (status, session) = console
        .call("POST", "/api/sessions", Some(json!({"deck": id})))
        .await;
    assert_eq!(status, 201, "{session}");
    let code = session["code"].as_str().unwrap().to_owned();

    // A newer draft: its session keeps its deck and does not take the draft.
    let (status, saved) = console
        .call("PUT", &path, Some(json!({"source": broken, "draft": true})))
        .await;
    assert_eq!((status, &saved["draft"]), (200, &json!(true)), "{saved}");
    let (status, refused) = console
        .call(
            "PUT",
            &format!("/api/sessions/{code}/deck"),
            Some(json!({"deck": id})),
        )
        .await;
    assert_error(status, &refused, 409, "deck_draft");

    // The draft is in the database file: a store opened on a copy reads it back.
    let (_copy, store) = server.restarted_store();
    use stemzaal::hub::library::Library as _;
    let kept = store.get(id, None).await.unwrap().expect("the deck");
    assert_eq!((kept.summary.version, kept.summary.draft), (3, true));
    assert_eq!(kept.source, broken);
}

#[tokio::test]
async fn a_session_lives_from_start_through_an_edit_and_closing_to_deletion() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let source = "## Stelling\n\nA) Ja\nB) Nee\n\n---\n\n## Tweede\n\nA) Links\nB) Rechts\n";
    let (_, deck) = console.post_deck("raad.md", source).await;
    let id = deck["id"].as_i64().unwrap();
    let meeting = json!({"name": "Wijkraad Noord", "date": "2026-12-01", "place": "Buurthuis"});
    let (status, session) = console
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"deck": id, "meeting": meeting})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let code = session["code"].as_str().unwrap().to_owned();
    assert_ne!(code, server.code(), "a second session beside the first");
    assert_eq!(session["status"], "open");
    assert_eq!(session["meeting"], meeting);
    let links = &session["links"];
    assert_eq!(links["join"], format!("http://{}/{code}", server.addr));
    let host_key = links["host"]
        .as_str()
        .unwrap()
        .split("key=")
        .nth(1)
        .unwrap()
        .to_owned();
    let screen_key = links["screen"]
        .as_str()
        .unwrap()
        .split("key=")
        .nth(1)
        .unwrap()
        .to_owned();
    let (status, head, svg) = server.get(links["join_qr"].as_str().unwrap()).await;
    assert_eq!(
        status, 401,
        "a QR of the console needs the login: {head}{svg}"
    );

    // The room: a host and a phone that votes.
    let ws = format!("ws://{}/ws/{code}", server.addr);
    let mut host = support::TestClient::hello(&ws, json!({"type": "hello", "key": host_key})).await;
    let mut screen =
        support::TestClient::hello(&ws, json!({"type": "hello", "key": screen_key})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phone = support::TestClient::hello(&ws, json!({"type": "hello"})).await;
    let phone_id = phone.participant_id();
    phone.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(phone.vote(0, 1, 1).await["type"], "ack");
    host.wait_state(|s| s["tally"] == json!([0, 1])).await;

    // A typo fixed (see docs/deck-format.md): same code, the phone is sent to reconnect
    // and finds its vote.
    let fixed = source.replace("B) Nee", "B) Neen");
    let (status, edited) = console.edit_deck(&code, &fixed).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["code"], code);
    assert_eq!(
        phone.closed_with_reason().await,
        (Some(4002), "deck edited".to_owned())
    );
    let mut phone =
        support::TestClient::hello(&ws, json!({"type": "hello", "participant_id": phone_id})).await;
    let welcome = phone.welcome.clone();
    assert_eq!(welcome["votes"][0]["option"], 1, "{welcome}");
    let state = phone
        .wait_state(|s| s["slide"]["options"][1] == "Neen")
        .await;
    assert_eq!(state["slide"]["phase"], "open");
    let mut host = support::TestClient::hello(&ws, json!({"type": "hello", "key": host_key})).await;
    host.wait_state(|s| s["tally"] == json!([0, 1])).await;
    assert_eq!(
        screen.closed().await,
        Some(4002),
        "the screen reconnects too"
    );

    // A structural change is refused with the reason; nothing changes.
    let three = source.replace("B) Nee\n", "B) Nee\nC) Weet niet\n");
    let (status, error) = console.edit_deck(&code, &three).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["code"], "structure_changed");
    assert!(
        error["message"].as_str().unwrap().contains("dia 1"),
        "{error}"
    );

    // Closing: connected pages hear 4001; the code's page and socket say it ended; the
    // report stays.
    let (status, closed) = console
        .call("POST", &format!("/api/sessions/{code}/close"), None)
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_ms"].as_u64().is_some());
    assert_eq!(closed["links"].get("join"), None, "{closed}");
    assert_eq!(
        phone.closed_with_reason().await,
        (Some(4001), "session closed".to_owned())
    );
    assert_eq!(host.closed().await, Some(4001));
    assert!(server.hub.get(&code).is_none(), "no longer in memory");
    let (status, _, page) = server.get(&format!("/{code}")).await;
    assert_eq!(status, 200, "the phone's page, which shows the ending");
    assert!(page.contains("id=\"ended\""));
    let mut late = TestClient::connect(&ws, json!({"type": "hello", "lang": "nl"})).await;
    assert_eq!(late.next_message().await.unwrap()["type"], "ended");
    assert_eq!(late.closed().await, Some(4001));
    let (status, _, report) = server
        .get(closed["links"]["report"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert!(
        report.contains("Wijkraad Noord") && report.contains("Buurthuis"),
        "{report}"
    );
    assert!(report.contains("Neen"), "the edited text is reported");
    let (status, _, json_export) = server.get(closed["links"]["json"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let exported: Value = serde_json::from_str(&json_export).unwrap();
    assert_eq!(
        exported["statements"][0]["rounds"][0]["counts"],
        json!([0, 1]),
        "{exported}"
    );
    let xlsx = closed["links"]["xlsx"].as_str().unwrap();
    assert_eq!(xlsx, format!("/export/{code}.xlsx?key={host_key}"));
    let (status, head, book) = support::http_get_bytes(server.addr, xlsx, &[]).await;
    assert_eq!(status, 200, "{head}");
    assert!(book.starts_with(b"PK"), "a zip file, as every workbook is");
    let (_, sessions) = console.call("GET", "/api/sessions", None).await;
    let statuses: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["open", "closed"], "open sessions first");
    let (status, error) = console.edit_deck(&code, &fixed).await;
    assert_error(status, &error, 409, "session_closed");

    // Deletion: gone from the list, the report and every file.
    assert_eq!(
        console
            .call("DELETE", &format!("/api/sessions/{code}"), None)
            .await
            .0,
        204
    );
    let (status, error) = console
        .call("GET", &format!("/api/sessions/{code}"), None)
        .await;
    assert_error(status, &error, 404, "unknown_session");
    let (status, _, _) = server
        .get(closed["links"]["report"].as_str().unwrap())
        .await;
    assert_eq!(status, 403);
    for entry in std::fs::read_dir(server.data.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for needle in [host_key.as_str(), phone_id.as_str(), "Wijkraad Noord"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} is still in {}",
                path.display()
            );
        }
    }
}

/// The lines of the table under `heading` in docs/api.md, split into cells.
fn doc_table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let section = doc
        .split(heading)
        .nth(1)
        .expect("the heading is in the doc");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn docs_api_md_names_every_error_and_every_call_the_server_has() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md")).unwrap();
    let documented: Vec<(String, u16)> = doc_table(&doc, "### Error codes")
        .into_iter()
        .map(|row| (row[0].clone(), row[1].parse().unwrap()))
        .collect();
    let source: Vec<(String, u16)> = stemzaal::web::api::ERRORS
        .iter()
        .map(|(code, status, _, _)| (code.to_string(), *status))
        .collect();
    assert_eq!(
        documented, source,
        "docs/api.md's error table is the source's"
    );

    // Every `### METHOD /api/…` heading is a call the server answers (not with
    // not_found or method_not_allowed), and every call the tests know is documented.
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let headings: Vec<(String, String)> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(m, p)| ["GET", "POST", "PUT", "DELETE"].contains(m) && p.starts_with("/api/"))
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert!(headings.len() >= 14, "{headings:?}");
    let code = server.code().to_owned();
    for (method, path) in &headings {
        let path = path
            .replace("{id}", "1")
            .replace("{code}", &code)
            .replace("{join|host|screen}", "join");
        if path.ends_with("/logout") {
            continue;
        }
        let (status, value) = console.call(method, &path, None).await;
        assert!(
            !["not_found", "method_not_allowed"].contains(&value["code"].as_str().unwrap_or("")),
            "{method} {path}: {status} {value}"
        );
    }
    for (method, path, _) in every_call(&code) {
        if path.contains("nothing-here") {
            continue;
        }
        let generic = path
            .replace(&code, "{code}")
            .replace("/decks/1", "/decks/{id}")
            .replace("qr/join.svg", "qr/{join|host|screen}.svg")
            .replace("qr/host.svg", "qr/{join|host|screen}.svg");
        assert!(
            headings.contains(&(method.to_owned(), generic.clone())),
            "{method} {generic} is documented"
        );
    }
    // The pinned examples parse as JSON.
    for block in doc.split("```json").skip(1) {
        let json = block.split("```").next().unwrap();
        serde_json::from_str::<Value>(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    }
}

#[tokio::test]
async fn a_console_write_the_disk_refuses_changes_nothing_and_says_so() {
    let server = TestServer::start_console().await;
    let console = Console::log_in(&server).await;
    let mut phone = server.participant().await;
    let code = server.code().to_owned();
    let (_, decks) = console.call("GET", "/api/decks", None).await;
    let builtin = decks["decks"][0]["id"].as_i64().unwrap();

    server.store.fail_commits(true);
    let (status, error) = console.post_deck("nieuw.md", "## S\n\nA) a\nB) b\n").await;
    assert_error(status, &error, 503, "storage_unavailable");
    let (status, error) = console
        .call("POST", "/api/sessions", Some(json!({"deck": builtin})))
        .await;
    assert_error(status, &error, 503, "storage_unavailable");
    let (status, error) = console
        .call("POST", &format!("/api/sessions/{code}/close"), None)
        .await;
    assert_error(status, &error, 503, "storage_unavailable");
    let (status, error) = console
        .call("DELETE", &format!("/api/sessions/{code}"), None)
        .await;
    assert_error(status, &error, 503, "storage_unavailable");
    let typo = stemzaal::core::deck::DEFAULT_DECK_SOURCE.replacen("Ambitie", "Ambities", 1);
    let (status, error) = console.edit_deck(&code, &typo).await;
    assert_error(status, &error, 503, "storage_unavailable");
    server.store.fail_commits(false);

    // Nothing changed: the same decks, one session, still open and live, its phone
    // still connected, its deck the old one.
    assert_eq!(console.call("GET", "/api/decks", None).await.1, decks);
    let (_, sessions) = console.call("GET", "/api/sessions", None).await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["sessions"][0]["status"], "open");
    assert!(server.hub.get(&code).is_some());
    let deck = server.hub.get(&code).unwrap().deck();
    assert!(
        !deck
            .slides
            .iter()
            .any(|s| s.html.contains("Ambities") || s.full_title.contains("Ambities")),
        "the old deck runs"
    );
    phone
        .send(json!({"type": "choose_group", "group": null, "id": 7}))
        .await;
    let answer = phone.wait_for("ok").await;
    assert_eq!(answer["id"], 7, "the phone is still served: {answer}");
    // And once the disk takes writes again, the same calls work.
    let (status, _) = console.post_deck("nieuw.md", "## S\n\nA) a\nB) b\n").await;
    assert_eq!(status, 201);
    let (status, _) = console.edit_deck(&code, &typo).await;
    assert_eq!(status, 200);
    let deck = server.hub.get(&code).unwrap().deck();
    assert!(deck
        .slides
        .iter()
        .any(|s| s.html.contains("Ambities") || s.full_title.contains("Ambities")));
    let (status, closed) = console
        .call("POST", &format!("/api/sessions/{code}/close"), None)
        .await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")));
}
