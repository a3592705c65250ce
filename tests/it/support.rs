//! Test harness: a real server on port 0 with a temporary data directory, and typed
//! WebSocket clients that wait for conditions instead of sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::core::deck::Deck;
use stemzaal::hub::library::Library as _;
use stemzaal::hub::{Hub, SessionHandle};
use stemzaal::store::{Durability, Store};
use stemzaal::web::admin::Admin;
use stemzaal::web::limits::Limits;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The console's password in servers from [`TestServer::start_console`].
pub const ADMIN_PASSWORD: &str = "kraan-fiets-molen-tulp";

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server running in this test's runtime; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    /// The store the hub runs on, also the console's library.
    pub store: Store,
    pub session: SessionHandle,
    pub data: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1:0 with the built-in deck.
    pub async fn start() -> TestServer {
        Self::start_with(
            Deck::default_deck(),
            stemzaal::core::deck::DEFAULT_DECK_SOURCE,
        )
        .await
    }

    /// Starts a server on 127.0.0.1:0 running `deck`.
    pub async fn start_with(deck: Deck, source: &str) -> TestServer {
        Self::start_custom(deck, source, Limits::default()).await
    }

    /// Starts a server with the built-in deck and these limits.
    pub async fn start_limited(limits: Limits) -> TestServer {
        let deck = Deck::default_deck();
        Self::start_custom(deck, stemzaal::core::deck::DEFAULT_DECK_SOURCE, limits).await
    }

    /// Starts a server on 127.0.0.1:0 running `deck` with `limits`; its console opens
    /// with no password.
    pub async fn start_custom(deck: Deck, source: &str, limits: Limits) -> TestServer {
        Self::start_full(deck, source, limits, stemzaal::web::admin::Admin::locked()).await
    }

    /// Starts a server with the built-in deck whose console opens with
    /// [`ADMIN_PASSWORD`].
    pub async fn start_console() -> TestServer {
        let admin = stemzaal::web::admin::Admin::with_password(ADMIN_PASSWORD).expect("a hash");
        let deck = Deck::default_deck();
        let source = stemzaal::core::deck::DEFAULT_DECK_SOURCE;
        let server = Self::start_full(deck, source, Limits::default(), admin).await;
        server
            .store
            .seed()
            .await
            .expect("the built-in deck in the library");
        server
    }

    /// Starts a server running `deck` whose console opens with [`ADMIN_PASSWORD`].
    pub async fn start_console_with(deck: Deck, source: &str) -> TestServer {
        let admin = stemzaal::web::admin::Admin::with_password(ADMIN_PASSWORD).expect("a hash");
        Self::start_full(deck, source, Limits::default(), admin).await
    }

    async fn start_full(deck: Deck, source: &str, limits: Limits, admin: Admin) -> TestServer {
        let data = tempfile::tempdir().expect("a temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let store = Store::open(data.path(), Durability::Normal).expect("open store");
        let hub = Arc::new(Hub::new(store.clone(), format!("http://{addr}")));
        let session = hub
            .create(Arc::new(deck), source)
            .await
            .expect("create session");
        let task = tokio::spawn({
            let hub = hub.clone();
            let library = Arc::new(store.clone());
            async move {
                let admin = Arc::new(admin);
                let pending = std::future::pending();
                let media = library.clone();
                stemzaal::web::serve_until(listener, hub, library, media, limits, admin, pending)
                    .await
                    .expect("serve");
            }
        });
        TestServer {
            addr,
            hub,
            store,
            session,
            data,
            task,
        }
    }

    pub fn code(&self) -> &str {
        self.session.code()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/{}", self.addr, self.code())
    }

    pub async fn participant(&self) -> TestClient {
        TestClient::hello(&self.ws_url(), json!({"type": "hello"})).await
    }

    pub async fn participant_as(&self, id: &str) -> TestClient {
        TestClient::hello(
            &self.ws_url(),
            json!({"type": "hello", "participant_id": id}),
        )
        .await
    }

    pub async fn host(&self) -> TestClient {
        let key = self.session.host_key().expose().to_owned();
        TestClient::hello(&self.ws_url(), json!({"type": "hello", "key": key})).await
    }

    pub async fn screen(&self) -> TestClient {
        let key = self.session.screen_key().expose().to_owned();
        TestClient::hello(&self.ws_url(), json!({"type": "hello", "key": key})).await
    }

    /// A second hub on a copy of the data directory, as after a restart (the running
    /// server's store holds the directory itself), with its open sessions noted; the
    /// copy lives as long as the returned directory.
    pub fn restarted_hub(&self) -> (tempfile::TempDir, Arc<Hub>) {
        let (restarted, store) = self.restarted_store();
        (
            restarted,
            Arc::new(Hub::new(store, "http://127.0.0.1".into())),
        )
    }

    /// The host's `state` of this server's session in a hub restarted on a copy of the
    /// data directory: what replaying the stored log gives.
    pub async fn host_state_after_restart(&self) -> Value {
        let (_copy, hub) = self.restarted_hub();
        hub.restore_open().unwrap();
        let again = hub.find(self.code()).await.unwrap().unwrap();
        let state = again
            .subscribe(stemzaal::wire::protocol::Role::Host)
            .borrow()
            .state
            .clone();
        serde_json::from_str(&state).unwrap()
    }

    /// Waits until no file of the data directory holds any of `removed` (the
    /// checkpoint empties the WAL within a second), then checks that each of `kept` is
    /// still on the disk.
    pub async fn wait_off_disk(&self, removed: &[&str], kept: &[&str]) {
        let data = self.data.path();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left: Vec<String> = removed
                .iter()
                .flat_map(|t| {
                    on_disk(data, t)
                        .into_iter()
                        .map(move |f| format!("{t} in {f}"))
                })
                .collect();
            if left.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still on disk: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for text in kept {
            assert!(!on_disk(data, text).is_empty(), "{text} stays");
        }
    }

    /// A second store on a copy of the data directory, as after a restart; the copy
    /// lives as long as the returned directory.
    pub fn restarted_store(&self) -> (tempfile::TempDir, Store) {
        let restarted = tempfile::tempdir().unwrap();
        let db = |dir: &std::path::Path| dir.join(stemzaal::store::DB_FILE);
        rusqlite::Connection::open(db(self.data.path()))
            .unwrap()
            .execute("VACUUM INTO ?1", [db(restarted.path()).to_str().unwrap()])
            .unwrap();
        let store = Store::open(restarted.path(), Durability::Normal).unwrap();
        (restarted, store)
    }

    /// A plain HTTP GET over a fresh TCP connection: (status, headers, body).
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        http_get(self.addr, path, &[]).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A minimal HTTP/1.1 GET, so tests see exactly what a browser would receive.
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, String, String) {
    let (status, head, body) = http_get_bytes(addr, path, extra).await;
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// [`http_get`] with the body as bytes, for a file that is not text.
pub async fn http_get_bytes(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = vec![];
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = at.map_or((&raw[..], &[][..]), |at| (&raw[..at], &raw[at + 4..]));
    let (status, head, _) = parse_response(head);
    (status, head, body.to_vec())
}

/// Status, lower-cased head and body of a raw HTTP/1.1 response (status 0 if none).
/// Any HTTP request over a fresh TCP connection, with a body: (status, headers, body).
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    // A server that refuses early may close before the whole body is sent.
    stream.write_all(&bytes).await.ok();
    let mut raw = vec![];
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .ok();
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// The files in `dir` that hold `needle`.
pub fn on_disk(dir: &std::path::Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).ok()?;
            bytes
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
                .then(|| path.display().to_string())
        })
        .collect()
}

/// A protocol client: remembers the newest `state` and every other message.
pub struct TestClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
    pub state: Value,
    /// Acks and errors received and not yet taken.
    pub inbox: Vec<Value>,
    next_id: u64,
}

impl TestClient {
    /// Connects and sends `hello`, waiting for nothing.
    pub async fn connect(url: &str, hello: Value) -> TestClient {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let mut client = TestClient {
            ws,
            welcome: Value::Null,
            state: Value::Null,
            inbox: vec![],
            next_id: 1,
        };
        client.send(hello).await;
        client
    }

    /// Connects, sends `hello`, and waits for `welcome` and the first `state`.
    pub async fn hello(url: &str, hello: Value) -> TestClient {
        let mut client = TestClient::connect(url, hello).await;
        let welcome = client.next_message().await.expect("a welcome");
        assert_eq!(
            welcome["type"], "welcome",
            "expected welcome, got {welcome}"
        );
        client.welcome = welcome;
        client.wait_state(|_| true).await;
        client
    }

    pub fn participant_id(&self) -> String {
        self.welcome["participant_id"]
            .as_str()
            .expect("a participant id")
            .to_owned()
    }

    pub async fn send(&mut self, msg: Value) {
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// Sends and reports failure instead of panicking (for a socket the server closes).
    pub async fn send_raw_checked(
        &mut self,
        message: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(message).await
    }

    /// The next message of any type, or `None` when the socket closed.
    pub async fn next_message(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message in time")?;
            match msg {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    if value["type"] == "state" {
                        self.state = value.clone();
                    }
                    return Some(value);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Reads until the newest state satisfies `pred` (checks the current one first).
    pub async fn wait_state(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if !self.state.is_null() && pred(&self.state) {
            return self.state.clone();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = tokio::time::timeout(left, self.next_message())
                .await
                .unwrap_or_else(|_| panic!("state never matched; last state: {}", self.state))
                .expect("socket open");
            if msg["type"] == "state" {
                if pred(&msg) {
                    return msg;
                }
            } else {
                self.inbox.push(msg);
            }
        }
    }

    /// Reads until a non-state message of type `kind` arrives (or takes one already
    /// received) and returns it.
    pub async fn wait_for(&mut self, kind: &str) -> Value {
        if let Some(i) = self.inbox.iter().position(|m| m["type"] == kind) {
            return self.inbox.remove(i);
        }
        loop {
            let msg = self
                .next_message()
                .await
                .unwrap_or_else(|| panic!("socket closed waiting for {kind}"));
            if msg["type"] == kind {
                return msg;
            }
            if msg["type"] != "state" {
                self.inbox.push(msg);
            }
        }
    }

    /// Votes and waits for the ack or error answering this vote.
    /// Waits until this phone lists `listed` arguments, then upvotes `argument` with
    /// the message id `id` and waits for its `ok`.
    pub async fn upvote_when_listed(&mut self, argument: u64, listed: usize, id: u64) {
        self.wait_state(|s| {
            s["arguments"]["items"]
                .as_array()
                .is_some_and(|a| a.len() == listed)
        })
        .await;
        self.send(json!({"type": "upvote", "argument": argument, "id": id}))
            .await;
        assert_eq!(self.wait_for("ok").await["id"], id);
    }

    pub async fn vote(&mut self, slide: u64, round: u64, option: u64) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            json!({"type": "vote", "id": id, "slide": slide, "round": round, "option": option}),
        )
        .await;
        loop {
            if let Some(i) = self.inbox.iter().position(|m| m["id"] == id) {
                return self.inbox.remove(i);
            }
            let msg = self.next_message().await.expect("socket open while voting");
            if msg["type"] != "state" {
                self.inbox.push(msg);
            }
        }
    }

    /// Waits for the socket to close; returns the close code if one was sent.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close in time");
            match msg {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits for the socket to close; returns the close code and reason, if sent.
    pub async fn closed_with_reason(&mut self) -> (Option<u16>, String) {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close in time");
            match msg {
                None | Some(Err(_)) => return (None, String::new()),
                Some(Ok(Message::Close(frame))) => {
                    return frame
                        .map(|f| (Some(f.code.into()), f.reason.to_string()))
                        .unwrap_or((None, String::new()))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        self.ws.close(None).await.ok();
    }
}

/// The index of the deck's first statement.
pub fn first_statement(deck: &Deck) -> usize {
    deck.slides
        .iter()
        .position(|s| matches!(s.kind, stemzaal::core::deck::SlideKind::Statement { .. }))
        .expect("a statement")
}
