//! HTTP: the pages and assets embedded from `web/`, the WebSocket endpoint, the QR
//! code and the security headers every response carries.

pub mod admin;
pub(crate) mod answers;
pub mod api;
pub(crate) mod boot;
pub mod hosts;
pub mod images;
pub mod limits;
pub(crate) mod qr;
pub(crate) mod request;
pub(crate) mod sheet;
pub mod socket;
pub(crate) mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::extract::{ConnectInfo, Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use rust_embed::RustEmbed;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Service, ServiceExt};

use crate::hub::library::Library;
use crate::hub::media::Media;
use crate::hub::Hub;
use crate::web::admin::Admin;
use crate::web::hosts::AllowedHosts;
use crate::web::limits::{ConnectionCounter, ConnectionSlot, JoinLimiter, Limits, Refusal};
use crate::web::request::{cookie, origin_allowed};
use crate::web::state::AppState;
use crate::wire::protocol::Role;

pub use crate::web::socket::{MAX_MESSAGE_BYTES, WS_MAX_WRITE_BUFFER, WS_READ_BUFFER};

/// The largest request line and headers a client may send; a larger request gets 431
/// and its connection is closed. A browser's request here is under 1 KiB (a few key
/// cookies included); without a cap hyper buffers about 400 KB per connection, so 100
/// half-sent headers held some 30 MB.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refused connections answered with a 503 at the same time; past it a refused
/// connection is closed unanswered. Each answer holds a descriptor for up to
/// [`REFUSAL_LINGER`], and at the global cap the descriptors left are the database's.
const MAX_REFUSAL_ANSWERS: usize = 64;

/// How long a refused connection is kept open after its 503, reading what the client
/// still sends: closing a socket with unread input resets it, and a reset can destroy
/// the answer before the client reads it.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// The `Retry-After` of a 503 at a connection cap, in seconds: phones leave and
/// reconnect all the time, so a slot is soon free.
const REFUSAL_RETRY_AFTER_SECS: u32 = 5;

/// The Content-Security-Policy of every response: nothing from other hosts, no inline
/// script or style (but the participant page's one script, by its hash: `web::boot`),
/// no framing.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not
/// spin while connections close and free descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The router with every route, the `Host` check and the security headers.
fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::web::api::router(state.clone()))
        .route("/admin", get(console))
        .route("/admin/poster/{code}", get(poster))
        .route("/admin/cards/{code}", get(cards_sheet))
        .route("/preview/screen", get(preview_screen))
        .route("/preview/participant", get(preview_participant))
        .route("/", get(index))
        .route("/{code}", get(participant_page))
        .route("/host/{code}", get(host_page))
        .route("/screen/{code}", get(screen_page))
        .route("/assets/{*path}", get(asset))
        .route("/qr/{file}", get(qr))
        .route("/media/{deck}/{name}/{size}", get(media))
        .route("/ws/{code}", get(ws))
        .route("/report/{code}", get(report_page))
        .route("/export/{file}", get(export))
        // Pages and scripts shrink to about a third: what counts on a weak Wi-Fi.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// Serves with the default [`Limits`]; the caller binds (tests use port 0). `store`
/// keeps the console's library and the decks' images.
pub async fn serve<S: Library + Media + 'static>(
    listener: TcpListener,
    hub: Arc<Hub>,
    store: Arc<S>,
) -> Result<()> {
    serve_with(listener, hub, store, Limits::default()).await
}

/// Serves forever with the given [`Limits`], with a console no password opens.
pub async fn serve_with<S: Library + Media + 'static>(
    listener: TcpListener,
    hub: Arc<Hub>,
    store: Arc<S>,
    limits: Limits,
) -> Result<()> {
    let admin = Arc::new(Admin::locked());
    serve_until(
        listener,
        hub,
        store.clone(),
        store,
        limits,
        admin,
        std::future::pending(),
    )
    .await
}

/// How long sessions get at a stop to store and answer what they took.
pub(crate) const STOP_SESSIONS_WITHIN: Duration = Duration::from_millis(2000);

/// How long open connections get at a stop to receive their close frame and answer it
/// (a WebSocket's close handshake takes up to two seconds).
pub(crate) const STOP_CONNECTIONS_WITHIN: Duration = Duration::from_millis(2500);

/// Serves until `shutdown` resolves, then stops gracefully: no new connections; each
/// session stores and answers what it took; every WebSocket is closed with 1001
/// "server stopping"; idle HTTP connections are closed; the WAL is checkpointed into
/// the database. Admits each connection against the caps and runs HTTP/1.1 with a
/// header-read timeout (which hyper enforces only with a timer configured; axum's own
/// `serve` sets none, hence this loop).
#[allow(clippy::too_many_arguments)]
pub async fn serve_until(
    listener: TcpListener,
    hub: Arc<Hub>,
    library: Arc<dyn Library>,
    media: Arc<dyn Media>,
    limits: Limits,
    admin: Arc<Admin>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let hosts = AllowedHosts::new(hub.base_url(), &limits.allowed_hosts)?;
    let joins = Arc::new(JoinLimiter::new(limits.joins_per_second, limits.join_burst));
    tokio::spawn(crate::web::limits::prune_joins(Arc::downgrade(&joins)));
    let limits = Arc::new(limits);
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let state = AppState {
        hub: hub.clone(),
        limits: limits.clone(),
        hosts: Arc::new(hosts),
        joins,
        admin,
        library,
        media,
    };
    let mut acceptor = Acceptor {
        limits,
        counter: Arc::new(ConnectionCounter::default()),
        refusals: Arc::new(Semaphore::new(MAX_REFUSAL_ANSWERS)),
        make_service: router(state).into_make_service_with_connect_info::<SocketAddr>(),
        stopping,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, addr)) => acceptor.take(stream, addr).await,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    stop_serving(&hub, &acceptor.counter, stopping_tx).await
}

/// What every accepted connection is served with.
struct Acceptor {
    limits: Arc<Limits>,
    /// Open connections, against the caps.
    counter: Arc<ConnectionCounter>,
    /// Answers to refused connections in flight.
    refusals: Arc<Semaphore>,
    make_service: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    /// Turns true when the server stops.
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Acceptor {
    /// Admits an accepted connection against the caps (or answers it with a refusal)
    /// and serves its HTTP in a task of its own.
    async fn take(&mut self, stream: TcpStream, addr: SocketAddr) {
        // Small frames (welcome, state, ack) must not wait for the peer's delayed ACK.
        // A socket that refuses the option still works, only slower.
        stream.set_nodelay(true).ok();
        let slot = match self.counter.admit(addr.ip(), &self.limits) {
            Ok(slot) => Arc::new(slot),
            Err(refusal) => {
                tracing::debug!(?refusal, "connection refused");
                // Past the answers in flight, dropping the stream closes it bare.
                if let Ok(permit) = self.refusals.clone().try_acquire_owned() {
                    tokio::spawn(refuse(stream, refusal, permit));
                }
                return;
            }
        };
        // The address the client connected to: for a wildcard bind, the interface.
        let local = match stream.local_addr() {
            Ok(local) => LocalAddr(local),
            Err(e) => {
                tracing::debug!("a connection without a local address: {e}");
                return;
            }
        };
        let service = match self.make_service.call(addr).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        // Each request carries the connection's slot, so a WebSocket that outlives
        // its HTTP connection keeps counting until it closes.
        let service = service.map_request(move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(slot.clone());
            request.extensions_mut().insert(local);
            request
        });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let header_timeout = self.limits.header_read_timeout;
        let mut stopping = self.stopping.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_header_size(MAX_HEADER_BYTES);
            let connection = http.serve_connection(io, service).with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = async { stopping.wait_for(|s| *s).await.map(|_| ()) } => {
                    // Finishes a request in progress, then closes.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!("HTTP connection ended: {e}");
            }
        });
    }
}

/// The graceful stop, once no new connection is taken: each session stores and
/// answers what it took, open connections close (within [`STOP_CONNECTIONS_WITHIN`]),
/// and the WAL is checkpointed into the database.
async fn stop_serving(
    hub: &Hub,
    counter: &ConnectionCounter,
    stopping: tokio::sync::watch::Sender<bool>,
) -> Result<()> {
    tracing::info!("stopping: no new connections; storing what the sessions took");
    // Sending fails only if no connection is left to hear it.
    stopping.send(true).ok();
    hub.stop_all(STOP_SESSIONS_WITHIN).await;
    let deadline = tokio::time::Instant::now() + STOP_CONNECTIONS_WITHIN;
    while counter.total() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hub.checkpoint().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Answers a connection the caps refused: 503 with the reason in Dutch and English and
/// a `Retry-After`, then a close once the client has sent its request (or after
/// [`REFUSAL_LINGER`]). A fresh socket's send buffer is empty, so the answer goes out
/// at once.
async fn refuse(mut stream: TcpStream, refusal: Refusal, _permit: OwnedSemaphorePermit) {
    let reason = match refusal {
        Refusal::Full => {
            "De server is vol; probeer het over een paar seconden opnieuw.\n\
             The server is full; try again in a few seconds.\n"
        }
        Refusal::TooManyFromAddress => {
            "Te veel verbindingen vanaf dit adres; probeer het zo opnieuw.\n\
             Too many connections from this address; try again shortly.\n"
        }
    };
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Retry-After: {REFUSAL_RETRY_AFTER_SECS}\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n\r\n{reason}",
        reason.len()
    );
    let linger = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // What the client still sends is read into a small buffer and forgotten.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    // A client that never closes is dropped when the linger ends.
    tokio::time::timeout(REFUSAL_LINGER, linger).await.ok();
}

/// The local address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
struct LocalAddr(SocketAddr);

/// Refuses a request whose `Host` the server does not answer to with 421 Misdirected
/// Request, on every route: so a DNS-rebinding page, which sends its own name as both
/// `Host` and `Origin`, gets no page and no WebSocket.
async fn check_host(
    State(state): State<AppState>,
    Extension(LocalAddr(local)): Extension<LocalAddr>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if host.is_some_and(|host| state.hosts.allows(host, local)) {
        return next.run(request).await;
    }
    tracing::debug!(?host, "request for a host this server does not serve");
    (
        StatusCode::MISDIRECTED_REQUEST,
        "Deze server antwoordt niet op deze hostnaam (zie --allowed-host).\n\
         This server does not answer to this host name (see --allowed-host).\n",
    )
        .into_response()
}

/// Logs each request's method and path at debug level. The query is left out: it
/// carries keys on a first visit, and keys are never written to a log.
async fn trace_request(request: Request<Body>, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    response
}

/// The CSP of the preview pages: [`CSP`], except that the console (this origin) may
/// show them in a frame.
pub(crate) const PREVIEW_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let framed = request.uri().path().starts_with("/preview/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A page the server rendered may allow its own inline script by hash
    // (`web::boot::csp`); every other response gets the policy here.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(if framed {
            PREVIEW_CSP
        } else {
            CSP
        }));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static(if framed { "SAMEORIGIN" } else { "DENY" }),
    );
    response
}

/// The console; without a login it shows the login form (it holds no data itself).
async fn console(headers: HeaderMap) -> Response {
    no_store(embedded("admin.html", &headers))
}

/// The printable join poster of a session, for a logged-in admin; others are sent to
/// the console's login.
async fn poster(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !crate::web::api::logged_in(&headers, &state)
        .await
        .unwrap_or(false)
    {
        return Redirect::to("/admin").into_response();
    }
    no_store(embedded("poster.html", &headers))
}

#[derive(Deserialize)]
struct CardsQuery {
    /// The first card to print, from 1 (a batch added later); all by default.
    from: Option<usize>,
}

/// The printable voting cards of an open session, for a logged-in admin; others are
/// sent to the console's login.
async fn cards_sheet(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<CardsQuery>,
    headers: HeaderMap,
) -> Response {
    if !crate::web::api::logged_in(&headers, &state)
        .await
        .unwrap_or(false)
    {
        return Redirect::to("/admin").into_response();
    }
    let Some(handle) = find(&state, &code).await else {
        return (StatusCode::NOT_FOUND, "unknown session").into_response();
    };
    let cards = match state.hub.cards(handle.code()).await {
        Ok(cards) => cards,
        Err(e) => {
            tracing::error!("reading the cards of session {}: {e:#}", handle.code());
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let all = cards.all();
    let from = query.from.unwrap_or(1).clamp(1, all.len().max(1)) - 1;
    let html = crate::web::sheet::sheet(
        &handle.deck().title,
        &state.hub.join_url(handle.code()),
        &all[from.min(all.len())..],
        crate::web::qr::svg,
    );
    no_store(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// The screen's page, fed by the console instead of a socket.
async fn preview_screen(headers: HeaderMap) -> Response {
    embedded("screen.html", &headers)
}

/// The phone's page, fed by the console instead of a socket.
async fn preview_participant(headers: HeaderMap) -> Response {
    embedded("participant.html", &headers)
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn index(headers: HeaderMap) -> Response {
    embedded("index.html", &headers)
}

/// The phone's page; for an open session with the slide on show already in it (see
/// [`crate::web::boot`]), so it is never cached.
async fn participant_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(handle) = find(&state, &code).await else {
        return page_of_closed(&state, &code, "participant.html", &headers).await;
    };
    let Some(file) = Assets::get("participant.html") else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let template = String::from_utf8_lossy(&file.data);
    let deck = handle.deck();
    let published = handle.subscribe(Role::Participant).borrow().state.clone();
    let page = crate::web::boot::participant_page(&template, &deck.title, &deck.lang, &published);
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, crate::web::boot::csp()),
    ];
    no_store((headers, page).into_response())
}

/// The `?key=` of a host or screen link (and `?lang=` of the report).
#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
    #[serde(default)]
    lang: Option<crate::wire::protocol::Lang>,
}

async fn host_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    keyed_page(&state, &code, Role::Host, query.key, &headers).await
}

async fn screen_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    keyed_page(&state, &code, Role::Screen, query.key, &headers).await
}

/// The code of the session (open or closed) a host-only request is for, if it proves
/// the host key (by `?key=` or the cookie the host link set).
async fn host_access(
    state: &AppState,
    code: &str,
    key: Option<&str>,
    headers: &HeaderMap,
) -> Option<String> {
    let record = state.hub.record(code).await.ok()??;
    let cookie_key = cookie(headers, &key_cookie_name(Role::Host, &record.code));
    let key = key.or(cookie_key)?;
    bool::from(record.host_key.as_bytes().ct_eq(key.as_bytes())).then_some(record.code)
}

/// The printable report (host only), of an open or a closed session; `CODE.pdf` is
/// the same report as a PDF.
async fn report_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(code) = code.strip_suffix(".pdf") {
        return report_pdf(&state, code, query, &headers).await;
    }
    let Some(code) = host_access(&state, &code, query.key.as_deref(), &headers).await else {
        return (StatusCode::FORBIDDEN, "host key required").into_response();
    };
    let (report, context) = match report_with_context(&state, &code).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::report::to_html(&report, query.lang.unwrap_or(report.lang), &context),
    )
        .into_response()
}

/// The report as a PDF/A-2a and PDF/UA-1 file (host only), as a download: in the
/// deck's language unless `?lang=` asks otherwise, with the console's organisation and
/// the session's start and close times. Written on a blocking thread: a large session
/// takes tens of milliseconds of CPU.
async fn report_pdf(
    state: &AppState,
    code: &str,
    query: KeyQuery,
    headers: &HeaderMap,
) -> Response {
    let Some(code) = host_access(state, code, query.key.as_deref(), headers).await else {
        return (StatusCode::FORBIDDEN, "host key required").into_response();
    };
    let (report, context) = match report_with_context(state, &code).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let lang = query.lang.unwrap_or(report.lang);
    let written =
        tokio::task::spawn_blocking(move || crate::report::to_pdf(&report, lang, &context)).await;
    let pdf = match written {
        Ok(Ok(pdf)) => pdf,
        Ok(Err(e)) => {
            tracing::error!("PDF of {code}: {e:#}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Err(e) => {
            tracing::error!("PDF of {code}: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    download("application/pdf", pdf, &format!("stemzaal-{code}.pdf"))
}

/// The report of a session the caller may see, or the answer that it cannot be had:
/// 404 for no such session, 500 (logged) when the store cannot be read.
async fn report_of(state: &AppState, code: &str) -> Result<crate::report::Report, Response> {
    match state.hub.report(code).await {
        Ok(Some(report)) => Ok(report),
        Ok(None) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => {
            tracing::error!("report of {code}: {e:#}");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// A session's report with what the PDF and the page say besides it: the console's
/// organisation, the session's start and close, the time now.
async fn report_with_context(
    state: &AppState,
    code: &str,
) -> Result<(crate::report::Report, crate::report::ReportContext), Response> {
    let failed = |what: &str, e: anyhow::Error| {
        tracing::error!("{what} of {code}: {e:#}");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    };
    let record = match state.hub.record(code).await {
        Ok(Some(record)) => record,
        Ok(None) => return Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => return Err(failed("the record", e)),
    };
    let report = report_of(state, code).await?;
    let organisation = crate::web::api::organisation(state)
        .await
        .map_err(|e| failed("the organisation", e))?;
    let context = crate::report::ReportContext {
        organisation,
        started_ms: record.created_ms,
        closed_ms: record.closed_ms,
        now_ms: crate::hub::now_ms(),
    };
    Ok((report, context))
}

/// A file to save, never to be cached.
fn download(mime: &'static str, body: Vec<u8>, name: &str) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    let disposition = format!("attachment; filename=\"{name}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `CODE.csv`, `CODE.json` or `CODE.xlsx` (host only), as a download.
async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    let Some((code, format)) = file.rsplit_once('.') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !matches!(format, "csv" | "json" | "xlsx") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(code) = host_access(&state, code, query.key.as_deref(), &headers).await else {
        return (StatusCode::FORBIDDEN, "host key required").into_response();
    };
    let report = match report_of(&state, &code).await {
        Ok(report) => report,
        Err(refusal) => return refusal,
    };
    let (mime, body) = match format {
        "csv" => (
            "text/csv; charset=utf-8",
            crate::report::to_csv(&report).into(),
        ),
        "json" => (
            "application/json",
            serde_json::to_vec_pretty(&report).expect("a report serializes"),
        ),
        _ => {
            let lang = query.lang.unwrap_or_default();
            match crate::report::to_xlsx(&report, lang, crate::hub::now_ms()) {
                Ok(book) => (XLSX_MIME, book),
                Err(e) => {
                    tracing::error!("workbook of {code}: {e:#}");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
    };
    download(mime, body, &format!("stemzaal-{code}.{format}"))
}

/// The media type of an Excel workbook.
const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Lifetime of a key cookie: a long council day and its evening.
const KEY_COOKIE_SECONDS: u32 = 16 * 3600;

/// The cookie that holds a role's key for one session.
pub(crate) fn key_cookie_name(role: Role, code: &str) -> String {
    let role = match role {
        Role::Host => "host",
        Role::Screen => "screen",
        Role::Participant => "participant",
    };
    format!("stemzaal_{role}_{code}")
}

/// The host or screen page. A link with the right `?key=` moves the key into an
/// HttpOnly, SameSite=Strict cookie and redirects to the bare URL, so the key leaves
/// the address bar (and the projector) and no script can read it.
async fn keyed_page(
    state: &AppState,
    code: &str,
    role: Role,
    key: Option<String>,
    headers: &HeaderMap,
) -> Response {
    let page = if role == Role::Host {
        "host.html"
    } else {
        "screen.html"
    };
    let Some(handle) = find(state, code).await else {
        return page_of_closed(state, code, page, headers).await;
    };
    let Some(key) = key else {
        return embedded(page, headers);
    };
    if handle.role_for(Some(&key)) != Some(role) {
        // The page opens, finds no valid key and says so.
        return embedded(page, headers);
    }
    let secure = if state.hub.base_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age={KEY_COOKIE_SECONDS}{secure}",
        key_cookie_name(role, handle.code())
    );
    let prefix = if role == Role::Host { "host" } else { "screen" };
    let mut response = Redirect::to(&format!("/{prefix}/{}", handle.code())).into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    }
    response
}

/// The page of a closed session (whose socket says it ended), or for a code no session
/// has the join page with status 404, which tells the visitor the code is unknown and
/// lets them type another.
async fn page_of_closed(state: &AppState, code: &str, page: &str, headers: &HeaderMap) -> Response {
    if is_closed(state, code).await {
        return embedded(page, headers);
    }
    let mut response = embedded("index.html", headers);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// An open session by code, loaded if this is its first use; `None` also when the
/// store cannot be read (logged).
async fn find(state: &AppState, code: &str) -> Option<crate::hub::SessionHandle> {
    match state.hub.find(code).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("loading session {}: {e:#}", code.trim());
            None
        }
    }
}

/// Whether `code` is a closed session's (its report and ending remain).
async fn is_closed(state: &AppState, code: &str) -> bool {
    match state.hub.record(code).await {
        Ok(record) => record.is_some_and(|r| r.status == crate::hub::Status::Closed),
        Err(e) => {
            tracing::error!("reading session {}: {e:#}", code.trim());
            false
        }
    }
}

/// A closed session's ending; `None` for any other code, or when the store cannot be
/// read (logged).
async fn ended(state: &AppState, code: &str) -> Option<Arc<str>> {
    match state.hub.ended(code).await {
        Ok(ended) => ended,
        Err(e) => {
            tracing::error!("reading closed session {}: {e:#}", code.trim());
            None
        }
    }
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    embedded(&path, &headers)
}

/// Serves an embedded file with an ETag, so a phone on poor Wi-Fi revalidates with a
/// 304 instead of downloading again.
fn embedded(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    // Weak, because the same file may go out gzipped or not.
    let etag = format!("W/\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "no-cache");
    if cached {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder.body(Body::empty()).expect("a valid response");
    }
    builder
        .header(header::CONTENT_TYPE, mime.as_ref())
        .body(Body::from(file.data))
        .expect("a valid response")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn qr(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(code) = file.strip_suffix(".svg") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(handle) = find(&state, code).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let svg = crate::web::qr::svg(&state.hub.join_url(handle.code()));
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        svg,
    )
        .into_response()
}

/// One size of a deck's image (`/media/{deck}/{name}/{screen|phone}`): the type told
/// by its content, revalidated by its digest (an `ETag`), so a phone downloads an
/// image once however often the slide comes back.
async fn media(
    State(state): State<AppState>,
    Path((deck, name, size)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let size = match size.as_str() {
        "screen" => crate::core::deck::ImageSize::Screen,
        "phone" => crate::core::deck::ImageSize::Phone,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let found = match state.media.get(&deck, &name, size).await {
        Ok(Some(found)) => found,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!("serving image {name} of deck {deck}: {e:#}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let etag = format!("\"{}-{}\"", &found.sha256[..32], size.name());
    let builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "no-cache");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("a valid response");
    }
    builder
        .header(header::CONTENT_TYPE, found.content_type)
        .body(Body::from(found.bytes))
        .expect("a valid response")
}

async fn ws(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Extension(slot): Extension<Arc<ConnectionSlot>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state) {
        return (StatusCode::FORBIDDEN, "foreign origin").into_response();
    }
    let found = match state.hub.find(&code).await {
        Ok(Some(handle)) => Some(handle),
        // A closed session's socket says it ended; a code that never was is unknown.
        Ok(None) => {
            return match ended(&state, &code).await {
                Some(ended) => limited(upgrade).on_upgrade(move |socket| async move {
                    crate::web::socket::serve_ended(socket, ended).await;
                    drop(slot);
                }),
                None => (StatusCode::NOT_FOUND, "unknown session").into_response(),
            }
        }
        Err(e) => {
            tracing::error!("loading session {}: {e:#}", code.trim());
            None
        }
    };
    // Not unknown, only out of reach now: the page hears so and tries again.
    let Some(handle) = found else {
        return limited(upgrade).on_upgrade(move |socket| async move {
            crate::web::socket::serve_unavailable(socket).await;
            drop(slot);
        });
    };
    let cookies = crate::web::socket::CookieKeys {
        host: cookie(&headers, &key_cookie_name(Role::Host, handle.code())).map(str::to_owned),
        screen: cookie(&headers, &key_cookie_name(Role::Screen, handle.code())).map(str::to_owned),
    };
    let context = crate::web::socket::Context {
        join_url: state.hub.join_url(handle.code()),
        screen_url: state.hub.screen_url(&handle),
        limits: state.limits.clone(),
        cookies,
        peer: state.limits.client_addr(peer.ip(), &headers),
        joins: state.joins.clone(),
    };
    limited(upgrade).on_upgrade(move |socket| async move {
        crate::web::socket::serve(socket, handle, context).await;
        drop(slot);
    })
}

/// A WebSocket upgrade with the socket's limits.
fn limited(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
}
