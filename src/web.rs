//! HTTP: the pages and assets embedded from `web/`, the WebSocket endpoint, the QR
//! code and the security headers every response carries.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use tokio::net::TcpListener;

use crate::deck::{Deck, SlideKind};
use crate::hub::Hub;
use crate::protocol::{SlideKindName, SlideOutline};

/// The largest message a client may send. The biggest real one (a `hello` with a key
/// and id) is under 200 bytes; 16 KiB leaves room for future fields and nothing more.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Read buffer per WebSocket. tungstenite's default of 128 KiB costs ~90 KB of memory
/// per phone; client messages are tiny, so 4 KiB is plenty.
pub const WS_READ_BUFFER: usize = 4 * 1024;

/// Unsent bytes a slow client may pile up before its connection fails: a few views.
pub const WS_MAX_WRITE_BUFFER: usize = 256 * 1024;

/// The Content-Security-Policy of every response: nothing from other hosts, no inline
/// script or style, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    hub: Arc<Hub>,
}

/// The router with every route and the security headers.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/{code}", get(participant_page))
        .route("/host/{code}", get(host_page))
        .route("/screen/{code}", get(screen_page))
        .route("/assets/{*path}", get(asset))
        .route("/qr/{file}", get(qr))
        .route("/ws/{code}", get(ws))
        .layer(middleware::from_fn(security_headers))
        .with_state(AppState { hub })
}

/// Serves until the listener fails; the caller binds (tests use port 0).
pub async fn serve(listener: TcpListener, hub: Arc<Hub>) -> Result<()> {
    axum::serve(
        listener,
        router(hub).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .context("serving HTTP")
}

/// The host's slide list.
pub fn outline(deck: &Deck) -> Vec<SlideOutline> {
    deck.slides
        .iter()
        .enumerate()
        .map(|(index, slide)| SlideOutline {
            index,
            kind: match slide.kind {
                SlideKind::Content => SlideKindName::Content,
                SlideKind::Statement { .. } => SlideKindName::Statement,
            },
            title: slide.title.clone(),
        })
        .collect()
}

async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn index(headers: HeaderMap) -> Response {
    embedded("index.html", &headers)
}

async fn participant_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_for(&state, &code, "participant.html", &headers)
}

async fn host_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_for(&state, &code, "host.html", &headers)
}

async fn screen_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_for(&state, &code, "screen.html", &headers)
}

/// A page of a live session; for an unknown code the join page with status 404, which
/// tells the visitor the code is unknown and lets them type another.
fn page_for(state: &AppState, code: &str, page: &str, headers: &HeaderMap) -> Response {
    if state.hub.get(code).is_some() {
        embedded(page, headers)
    } else {
        let mut response = embedded("index.html", headers);
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
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
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
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
    let Some(handle) = state.hub.get(code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let svg = qr_svg(&state.hub.join_url(handle.code()));
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        svg,
    )
        .into_response()
}

/// A QR code of `text` as SVG, dark on light with a quiet zone, for the join banner.
pub fn qr_svg(text: &str) -> String {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .expect("a URL fits in a QR code");
    code.render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build()
}

/// A QR code of `text` drawn with Unicode half blocks, for the terminal.
pub fn qr_terminal(text: &str) -> String {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L)
        .expect("a URL fits in a QR code");
    code.render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

async fn ws(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ConnectInfo(_peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(handle) = state.hub.get(&code) else {
        return (StatusCode::NOT_FOUND, "unknown session").into_response();
    };
    let join_url = state.hub.join_url(handle.code());
    let screen_url = state.hub.screen_url(&handle);
    upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| crate::connection::serve(socket, handle, join_url, screen_url))
}
