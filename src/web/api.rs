//! The HTTP API under `/api/` (docs/api.md): logging in, decks with their versions,
//! the live check and preview of a deck, and sessions from start to deletion. The
//! console at `/admin` uses nothing else.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::core::deck::{self, Deck, LineError, SlideKind};
use crate::core::session::{Command, Session};
use crate::hub::library::{Refusal, StoredDeck};
use crate::hub::Refused;
use crate::store::{Meeting, SessionRecord, Status};
use crate::web::admin::{self, Attempt};
use crate::web::request::cookie;
use crate::web::state::AppState;
use crate::wire::protocol::{Role, ServerMsg, WireLimits};

/// The largest request body: a deck of the largest size, in JSON with every character
/// escaped, fits twice.
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The longest meeting name, date or place.
pub(crate) const MAX_MEETING_CHARS: usize = 200;

/// The longest deck name.
pub(crate) const MAX_DECK_NAME_CHARS: usize = 100;

/// Every error code of the API: its status and its message in Dutch and English. One
/// table, which docs/api.md repeats (and a test compares).
pub const ERRORS: &[(&str, u16, &str, &str)] = &[
    ("login_required", 401, "Log eerst in.", "Log in first."),
    (
        "bad_password",
        401,
        "Dat wachtwoord klopt niet.",
        "That password is wrong.",
    ),
    (
        "too_many_attempts",
        429,
        "Te veel pogingen; probeer het zo opnieuw.",
        "Too many attempts; try again shortly.",
    ),
    (
        "foreign_origin",
        403,
        "Dit verzoek komt niet van deze server.",
        "This request does not come from this server.",
    ),
    (
        "unsupported_media_type",
        415,
        "Stuur JSON (of, bij een deck, Markdown).",
        "Send JSON (or, for a deck, Markdown).",
    ),
    (
        "bad_json",
        400,
        "Dit verzoek is geen geldige JSON.",
        "This request is not valid JSON.",
    ),
    (
        "body_too_large",
        413,
        "Dit verzoek is groter dan 2 MiB.",
        "This request is larger than 2 MiB.",
    ),
    (
        "deck_too_large",
        422,
        "Het deck is groter dan 1 MiB.",
        "The deck is larger than 1 MiB.",
    ),
    (
        "deck_not_utf8",
        422,
        "Het deck is geen UTF-8-tekst; sla het op als UTF-8.",
        "The deck is not UTF-8 text; save it as UTF-8.",
    ),
    (
        "deck_invalid",
        422,
        "Het deck bevat fouten.",
        "The deck has errors.",
    ),
    (
        "deck_draft",
        409,
        "Dit deck is een concept met fouten; herstel ze en sla het deck op voordat een sessie het gebruikt.",
        "This deck is a draft with errors; fix them and save the deck before a session uses it.",
    ),
    (
        "bad_name",
        422,
        "Geef een naam van 1 tot 100 tekens, zonder regeleinden.",
        "Give a name of 1 to 100 characters, without line breaks.",
    ),
    (
        "bad_meeting",
        422,
        "Naam, datum en plaats mogen elk 200 tekens zijn, zonder regeleinden.",
        "Name, date and place may each be 200 characters, without line breaks.",
    ),
    (
        "bad_organisation",
        422,
        "De naam van de organisatie mag 200 tekens zijn, zonder regeleinden.",
        "The organisation's name may be 200 characters, without line breaks.",
    ),
    (
        "unknown_deck",
        404,
        "Dit deck bestaat niet.",
        "This deck does not exist.",
    ),
    (
        "unknown_session",
        404,
        "Deze sessie bestaat niet.",
        "This session does not exist.",
    ),
    (
        "session_closed",
        409,
        "Deze sessie is gesloten.",
        "This session is closed.",
    ),
    (
        "structure_changed",
        409,
        "De opbouw van het deck is veranderd; start een nieuwe sessie.",
        "The deck's structure changed; start a new session.",
    ),
    (
        "wording_changed",
        409,
        "De bewerking verandert woorden waarover gestemd is; start een nieuwe sessie.",
        "The edit changes words people voted on; start a new session.",
    ),
    (
        "builtin_deck",
        409,
        "Het ingebouwde deck blijft bestaan.",
        "The built-in deck cannot be deleted.",
    ),
    (
        "bad_card_count",
        422,
        "Geef een aantal stemkaarten van 1 tot 2000 (bij het starten 0 tot 2000).",
        "Give a number of voting cards from 1 to 2000 (0 to 2000 when starting).",
    ),
    (
        "too_many_cards",
        409,
        "Een sessie heeft hoogstens 10.000 stemkaarten.",
        "A session has at most 10,000 voting cards.",
    ),
    (
        "participants_without_cards",
        409,
        "Er doen al deelnemers mee zonder stemkaart; start een nieuwe sessie met stemkaarten.",
        "Participants have joined without a voting card; start a new session with cards.",
    ),
    (
        "storage_unavailable",
        503,
        "Er kan nu niets worden opgeslagen; er is niets veranderd.",
        "Nothing can be stored now; nothing was changed.",
    ),
    (
        "image_invalid",
        422,
        "Deze afbeelding kan niet worden getoond.",
        "This image cannot be shown.",
    ),
    (
        "image_too_large",
        413,
        "Een afbeelding mag hoogstens 10 MiB zijn, een zip met afbeeldingen 50 MiB.",
        "An image may be at most 10 MiB, a zip of images 50 MiB.",
    ),
    (
        "not_found",
        404,
        "Deze API-aanroep bestaat niet.",
        "No such API call.",
    ),
    (
        "method_not_allowed",
        405,
        "Deze aanroep bestaat met een andere methode.",
        "This call exists with another method.",
    ),
];

/// An API error: a code from [`ERRORS`], its message in the asker's language (or one
/// that says more), and a deck's errors with their lines.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: &'static str,
    english: bool,
    message: Option<String>,
    errors: Vec<LineError>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(english: bool, code: &'static str) -> ApiError {
        debug_assert!(ERRORS.iter().any(|e| e.0 == code), "{code} is in ERRORS");
        ApiError {
            code,
            english,
            message: None,
            errors: vec![],
            retry_after: None,
        }
    }

    fn saying(mut self, message: impl Into<String>) -> ApiError {
        self.message = Some(message.into());
        self
    }

    /// An internal failure: logged here, told as the store being unable to write
    /// (the only cause a user can act on), without details.
    fn internal(english: bool, what: &str, e: &anyhow::Error) -> ApiError {
        tracing::error!("{what}: {e:#}");
        ApiError::new(english, "storage_unavailable")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, nl, en) = ERRORS
            .iter()
            .find(|e| e.0 == self.code)
            .map(|e| (e.1, e.2, e.3))
            .unwrap_or((500, "Interne fout.", "Internal error."));
        let message = self
            .message
            .unwrap_or_else(|| if self.english { en } else { nl }.to_owned());
        let mut body = json!({"code": self.code, "message": message});
        if !self.errors.is_empty() {
            body["errors"] = line_errors(&self.errors, self.english);
        }
        let mut response = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

/// A deck's problems as the API lists them: line, code, and the message in the asker's
/// language.
fn line_errors(errors: &[LineError], english: bool) -> Value {
    errors
        .iter()
        .map(|e| json!({"line": e.line, "code": e.code, "message": e.text(english)}))
        .collect()
}

/// Whether the asker prefers English (`Accept-Language: en…`); Dutch otherwise.
fn english(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("en"))
}

/// The API's routes, behind the Origin check and (all but login) the admin cookie.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/decks", get(list_decks).post(create_deck))
        .route(
            "/api/decks/{id}",
            get(get_deck).put(save_deck).delete(delete_deck),
        )
        .route("/api/check", post(check))
        .route("/api/images/{deck}", put(put_images))
        .route("/api/images/{deck}/{file}", put(put_image))
        .route("/api/settings", get(get_settings).put(put_settings))
        .route("/api/sessions", get(list_sessions).post(start_session))
        .route(
            "/api/sessions/{code}",
            get(get_session).delete(delete_session),
        )
        .route("/api/sessions/{code}/deck", put(edit_session_deck))
        .route("/api/sessions/{code}/close", post(close_session))
        .route("/api/sessions/{code}/cards", post(add_cards))
        .route("/api/sessions/{code}/qr/{file}", get(session_qr))
        .route("/api/{*rest}", axum::routing::any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
        // On the routes only: a layer would also wrap the fallback, which the merged
        // router shares with every page.
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .route_layer(middleware::from_fn(no_store))
}

async fn not_found(headers: HeaderMap) -> ApiError {
    ApiError::new(english(&headers), "not_found")
}

async fn method_not_allowed(headers: HeaderMap) -> ApiError {
    ApiError::new(english(&headers), "method_not_allowed")
}

async fn no_store(request: Request<Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Refuses a changing request from another origin, and any request but login without
/// a valid admin cookie.
async fn guard(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let headers = request.headers();
    let en = english(headers);
    let changing = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changing && !same_origin(headers, &state) {
        return ApiError::new(en, "foreign_origin").into_response();
    }
    if request.uri().path() != "/api/login" {
        match logged_in(headers, &state).await {
            Ok(true) => {}
            Ok(false) => return ApiError::new(en, "login_required").into_response(),
            Err(e) => return ApiError::internal(en, "reading a login", &e).into_response(),
        }
    }
    next.run(request).await
}

/// Whether a request carries the cookie of a login that has not expired; an error if
/// the cluster that keeps the logins cannot be read.
pub(crate) async fn logged_in(headers: &HeaderMap, state: &AppState) -> anyhow::Result<bool> {
    match cookie(headers, admin::COOKIE) {
        Some(c) => state.admin.is_logged_in(c).await,
        None => Ok(false),
    }
}

/// Whether a request names this server's own origin (or an allowed one) in `Origin`.
/// A browser always sends it on a changing request; without it the request is refused,
/// so no page of another site can ride on the admin's cookie, whatever the browser.
fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    headers.contains_key(header::ORIGIN) && crate::web::request::origin_allowed(headers, state)
}

// ----- logging in -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let LoginBody { password } = json_body(&headers, body, en).await?;
    // Behind a trusted proxy, the attempts are counted per person, not per proxy.
    let peer = state.limits.client_addr(peer.ip(), &headers);
    match state.admin.log_in(peer, &password).await {
        Attempt::Accepted(token) => {
            let secure = if state.hub.base_url().starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                admin::COOKIE,
                admin::LOGIN_LIFETIME.as_secs()
            );
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).expect("a token is ASCII"),
            );
            tracing::info!(peer = %peer, "admin logged in");
            Ok(response)
        }
        Attempt::Refused => {
            tracing::warn!(peer = %peer, "wrong admin password");
            Err(ApiError::new(en, "bad_password"))
        }
        Attempt::TooMany(wait) => {
            let mut e = ApiError::new(en, "too_many_attempts");
            e.retry_after = Some(wait.as_secs().max(1));
            Err(e)
        }
        Attempt::Unavailable => Err(ApiError::new(en, "storage_unavailable")),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    if let Some(c) = cookie(&headers, admin::COOKIE) {
        // A login that could not be ended stays valid: say so, and keep the cookie.
        state
            .admin
            .log_out(c)
            .await
            .map_err(|e| ApiError::internal(english(&headers), "ending a login", &e))?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
            admin::COOKIE
        ))
        .expect("an ASCII cookie"),
    );
    Ok(response)
}

async fn me() -> Json<Value> {
    Json(json!({"admin": true}))
}

// ----- bodies -----

/// Reads a body of at most [`MAX_BODY_BYTES`].
async fn read_body(body: Body, en: bool) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new(en, "body_too_large"))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a JSON body of type `T`; refuses other content types, which an HTML form
/// of another site could send without asking.
async fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    en: bool,
) -> Result<T, ApiError> {
    if content_type(headers) != "application/json" {
        return Err(ApiError::new(en, "unsupported_media_type"));
    }
    let bytes = read_body(body, en).await?;
    decode(&bytes, en)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], en: bool) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(en, "bad_json").saying(e.to_string()))
}

/// A deck as sent: a name and its text (not yet judged), and whether it may be stored
/// with errors, as a draft.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeckBody {
    #[serde(default)]
    name: Option<String>,
    source: String,
    #[serde(default)]
    draft: bool,
}

/// A deck file's name and `draft`, when the body is the file itself.
#[derive(Default, Deserialize)]
struct NameQuery {
    name: Option<String>,
    #[serde(default)]
    draft: bool,
}

/// A deck from a JSON body or, with `text/markdown` or `text/plain`, the file's bytes
/// (the name and `draft` from the query): with the bytes judged as UTF-8 here so a
/// file in another encoding gets the line of its first bad byte.
async fn deck_body(
    headers: &HeaderMap,
    query: NameQuery,
    body: Body,
    en: bool,
) -> Result<DeckBody, ApiError> {
    match content_type(headers).as_str() {
        "application/json" => decode(&read_body(body, en).await?, en),
        "text/markdown" | "text/plain" | "text/x-markdown" => {
            let bytes = read_body(body, en).await?;
            if bytes.len() > deck::MAX_SOURCE_BYTES {
                return Err(ApiError::new(en, "deck_too_large"));
            }
            match String::from_utf8(bytes.to_vec()) {
                Ok(source) => Ok(DeckBody {
                    name: query.name,
                    source,
                    draft: query.draft,
                }),
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
                    let mut error = ApiError::new(en, "deck_not_utf8");
                    error.errors = vec![LineError::not_utf8(line, at + 1)];
                    Err(error)
                }
            }
        }
        _ => Err(ApiError::new(en, "unsupported_media_type")),
    }
}

/// A name for a deck: given, or `deck.md`; 1 to [`MAX_DECK_NAME_CHARS`] characters, no
/// control characters.
fn deck_name(name: Option<String>, en: bool) -> Result<String, ApiError> {
    let name = name
        .map(|n| n.trim().to_owned())
        .unwrap_or_else(|| "deck.md".into());
    let count = name.chars().count();
    if count == 0 || count > MAX_DECK_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::new(en, "bad_name"));
    }
    Ok(name)
}

/// Parses a deck or refuses it with every error and its line.
fn parse_deck(name: &str, source: &str, en: bool) -> Result<Deck, ApiError> {
    parse_as(name, source, en, "deck_invalid")
}

/// Parses a deck or refuses it with `code` and every error with its line.
fn parse_as(name: &str, source: &str, en: bool, code: &'static str) -> Result<Deck, ApiError> {
    if source.len() > deck::MAX_SOURCE_BYTES {
        return Err(ApiError::new(en, "deck_too_large"));
    }
    deck::parse(name, source).map_err(|e| {
        let mut error = ApiError::new(en, code);
        error.errors = e.errors;
        error
    })
}

/// Judges a deck to be stored: a draft may have errors, never more than a deck's size.
fn storable(name: &str, source: &str, draft: bool, en: bool) -> Result<(), ApiError> {
    if draft && source.len() <= deck::MAX_SOURCE_BYTES {
        return Ok(());
    }
    parse_deck(name, source, en).map(drop)
}

/// A stored deck a session can start on: a draft is refused with its errors.
fn startable(stored: &StoredDeck, en: bool) -> Result<Deck, ApiError> {
    parse_as(&stored.summary.name, &stored.source, en, "deck_draft")
}

// ----- decks -----

async fn list_decks(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let en = english(&headers);
    let decks = state
        .library
        .list()
        .await
        .map_err(|e| ApiError::internal(en, "listing decks", &e))?;
    Ok(Json(json!({ "decks": decks })).into_response())
}

async fn create_deck(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NameQuery>,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let DeckBody {
        name,
        source,
        draft,
    } = deck_body(&headers, query, body, en).await?;
    let name = deck_name(name, en)?;
    storable(&name, &source, draft, en)?;
    let library = state.library.as_ref();
    let id = library
        .create(&name, &source)
        .await
        .map_err(|e| ApiError::internal(en, "storing a deck", &e))?;
    let stored = library
        .get(id, None)
        .await
        .map_err(|e| ApiError::internal(en, "reading a deck", &e))?
        .ok_or_else(|| ApiError::new(en, "unknown_deck"))?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

#[derive(Deserialize)]
struct VersionQuery {
    version: Option<i64>,
}

async fn get_deck(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult {
    let en = english(&headers);
    let id = deck_id(&id, en)?;
    let stored = state
        .library
        .get(id, query.version)
        .await
        .map_err(|e| ApiError::internal(en, "reading a deck", &e))?
        .ok_or_else(|| ApiError::new(en, "unknown_deck"))?;
    Ok(Json(stored).into_response())
}

fn deck_id(id: &str, en: bool) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::new(en, "unknown_deck"))
}

async fn save_deck(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let id = deck_id(&id, en)?;
    let DeckBody {
        name,
        source,
        draft,
    } = json_body(&headers, body, en).await?;
    let library = state.library.as_ref();
    let current = library
        .get(id, None)
        .await
        .map_err(|e| ApiError::internal(en, "reading a deck", &e))?
        .ok_or_else(|| ApiError::new(en, "unknown_deck"))?;
    let name = match name {
        Some(name) => Some(deck_name(Some(name), en)?),
        None => None,
    };
    storable(
        name.as_deref().unwrap_or(&current.summary.name),
        &source,
        draft,
        en,
    )?;
    match library
        .save(id, name.as_deref(), &source)
        .await
        .map_err(|e| ApiError::internal(en, "storing a deck", &e))?
    {
        Ok(()) => {}
        Err(_) => return Err(ApiError::new(en, "unknown_deck")),
    }
    let stored = library
        .get(id, None)
        .await
        .map_err(|e| ApiError::internal(en, "reading a deck", &e))?
        .ok_or_else(|| ApiError::new(en, "unknown_deck"))?;
    Ok(Json(stored).into_response())
}

async fn delete_deck(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let en = english(&headers);
    let id = deck_id(&id, en)?;
    match state
        .library
        .delete(id)
        .await
        .map_err(|e| ApiError::internal(en, "deleting a deck", &e))?
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(Refusal::UnknownDeck) => Err(ApiError::new(en, "unknown_deck")),
        Err(Refusal::Builtin) => Err(ApiError::new(en, "builtin_deck")),
    }
}

// ----- check and preview -----

async fn check(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult {
    let en = english(&headers);
    let DeckBody { name, source, .. } = deck_body(&headers, NameQuery::default(), body, en).await?;
    let name = deck_name(name, en)?;
    if source.len() > deck::MAX_SOURCE_BYTES {
        return Err(ApiError::new(en, "deck_too_large"));
    }
    let deck = match deck::parse(&name, &source) {
        Ok(deck) => deck,
        Err(e) => {
            return Ok(Json(json!({
                "ok": false,
                "title": Value::Null,
                "errors": line_errors(&e.errors, en),
                "warnings": [],
                "slides": [],
                "preview": Value::Null,
            }))
            .into_response())
        }
    };
    let slides: Vec<Value> = deck
        .slides
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let kind = match s.kind {
                SlideKind::Content => "content",
                SlideKind::Statement { .. } => "statement",
            };
            json!({"index": index, "line": s.line, "kind": kind, "title": s.title})
        })
        .collect();
    Ok(Json(json!({
        "ok": true,
        "title": deck.title,
        "errors": [],
        "warnings": line_errors(&deck.warnings, en),
        "slides": slides,
        "images": {"key": deck::media_key(&source), "files": deck.images()},
        "preview": preview(&state, Arc::new(deck)),
    }))
    .into_response())
}

/// Stores an image file for the deck whose media key is `deck` (from `POST /api/check`),
/// under the name its slides give it, once it is checked and its sizes made.
async fn put_image(
    State(state): State<AppState>,
    Path((deck, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let bytes = image_body(&deck, body, crate::web::images::MAX_IMAGE_BYTES, en).await?;
    let image = image_file(&file, &bytes, en)?;
    let answer = image_json(&image);
    store_images(&state, &deck, vec![image], en).await?;
    Ok(Json(answer).into_response())
}

/// Stores every image in a zip of a deck's images (side by side, no folders; the
/// Markdown file in it is left out), all or none.
async fn put_images(
    State(state): State<AppState>,
    Path(deck): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let bytes = image_body(&deck, body, crate::web::images::MAX_DECK_IMAGE_BYTES, en).await?;
    let files =
        crate::web::images::unzip("zip", &bytes).map_err(|e| image_invalid(en, e.text(en)))?;
    let images = files
        .iter()
        .map(|(name, bytes)| image_file(name, bytes, en))
        .collect::<Result<Vec<_>, _>>()?;
    let answer: Vec<Value> = images.iter().map(image_json).collect();
    store_images(&state, &deck, images, en).await?;
    Ok(Json(json!({ "files": answer })).into_response())
}

fn image_invalid(en: bool, message: String) -> ApiError {
    ApiError::new(en, "image_invalid").saying(message)
}

/// The body of an image upload of at most `limit` bytes, for a `deck` that is a media
/// key.
async fn image_body(deck: &str, body: Body, limit: usize, en: bool) -> Result<Bytes, ApiError> {
    media_key(deck, en)?;
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(en, "image_too_large"))
}

/// Refuses what is not a deck's media key (32 hexadecimal digits).
fn media_key(deck: &str, en: bool) -> Result<(), ApiError> {
    let shaped = deck.len() == 32 && deck.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if shaped {
        return Ok(());
    }
    let message = if en {
        format!("`{deck}` is not a deck's media key (see POST /api/check)")
    } else {
        format!("`{deck}` is geen mediasleutel van een deck (zie POST /api/check)")
    };
    Err(image_invalid(en, message))
}

/// Checks an image file by the rules of an image's name in a deck and of its content.
fn image_file(file: &str, bytes: &[u8], en: bool) -> Result<crate::hub::media::Image, ApiError> {
    let probe = format!("![x]({file})\n");
    if let Err(e) = deck::parse(file, &probe) {
        return Err(image_invalid(
            en,
            format!("{file}: {}", e.errors[0].text(en)),
        ));
    }
    crate::web::images::prepare(file, bytes).map_err(|e| image_invalid(en, e.text(en)))
}

fn image_json(image: &crate::hub::media::Image) -> Value {
    json!({
        "file": image.name,
        "sha256": image.sha256,
        "width": image.width,
        "height": image.height,
    })
}

async fn store_images(
    state: &AppState,
    deck: &str,
    images: Vec<crate::hub::media::Image>,
    en: bool,
) -> Result<(), ApiError> {
    state
        .media
        .put(deck, images)
        .await
        .map_err(|e| ApiError::internal(en, "storing images", &e))
}

/// What the screen and a phone would be sent on each slide of `deck`: their `welcome`,
/// and per slide the `state` with a statement's vote open and no vote cast.
fn preview(state: &AppState, deck: Arc<Deck>) -> Value {
    let code = "PREVIEW";
    let join_url = state.hub.join_url(code);
    let limits = WireLimits {
        ping_interval_ms: state.limits.ping_interval.as_millis() as u64,
        idle_timeout_ms: state.limits.idle_timeout.as_millis() as u64,
        max_message_bytes: crate::web::socket::MAX_MESSAGE_BYTES,
        messages_per_second: state.limits.messages_per_second,
        burst: state.limits.burst,
    };
    let welcome = |role| {
        let w = crate::wire::view::welcome(code, &deck, role, &join_url, limits);
        serde_json::to_value(ServerMsg::Welcome(Box::new(w))).expect("a welcome serializes")
    };
    let now = crate::store::now_ms();
    let states: Vec<Value> = (0..deck.slides.len())
        .map(|slide| {
            let mut session = Session::new(deck.clone());
            // Both are accepted on a fresh session: the slide exists, and a statement
            // on show can be opened.
            session.apply(Command::GoTo { slide }).ok();
            if deck.options(slide).is_some() {
                session.apply(Command::OpenVote).ok();
            }
            let view = |role| {
                serde_json::to_value(crate::wire::view::state(&session, role, now))
                    .expect("a state serializes")
            };
            json!({"screen": view(Role::Screen), "participant": view(Role::Participant)})
        })
        .collect();
    json!({
        "screen": welcome(Role::Screen),
        "participant": welcome(Role::Participant),
        "states": states,
    })
}

// ----- settings -----

/// The setting that names the organisation on the report's PDF ("Rekenkamer Zutphen").
const ORGANISATION: &str = "organisation";

/// The organisation the console names, if it names one.
pub(crate) async fn organisation(state: &AppState) -> anyhow::Result<Option<String>> {
    let value = state.library.setting(ORGANISATION).await?;
    Ok(value.filter(|v| !v.is_empty()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    /// Empty or `null` to name none.
    #[serde(default)]
    organisation: Option<String>,
}

async fn get_settings(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let en = english(&headers);
    let organisation = organisation(&state)
        .await
        .map_err(|e| ApiError::internal(en, "reading the settings", &e))?;
    Ok(Json(json!({ "organisation": organisation })).into_response())
}

/// Stores the settings; at most [`MAX_MEETING_CHARS`], no control characters, as the
/// meeting's fields.
async fn put_settings(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult {
    let en = english(&headers);
    let SettingsBody { organisation } = json_body(&headers, body, en).await?;
    let value = organisation
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    if value.chars().count() > MAX_MEETING_CHARS || value.chars().any(char::is_control) {
        return Err(ApiError::new(en, "bad_organisation"));
    }
    state
        .library
        .set_setting(ORGANISATION, &value)
        .await
        .map_err(|e| ApiError::internal(en, "storing the settings", &e))?;
    get_settings(State(state), headers).await
}

// ----- sessions -----

/// A session as the API shows it.
#[derive(Serialize)]
struct SessionJson {
    code: String,
    status: Status,
    title: String,
    deck_name: String,
    deck: Option<i64>,
    meeting: Meeting,
    created_ms: u64,
    closed_ms: Option<u64>,
    cards: CardCounts,
    links: Links,
}

/// A session's voting cards: issued, and used to join.
#[derive(Clone, Copy, Serialize)]
struct CardCounts {
    issued: usize,
    used: usize,
}

#[derive(Serialize)]
struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    join: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    screen: Option<String>,
    report: String,
    pdf: String,
    csv: String,
    json: String,
    xlsx: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    poster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    join_qr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_qr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cards: Option<String>,
}

async fn session_json(state: &AppState, record: &SessionRecord) -> SessionJson {
    let code = &record.code;
    let cards = match state.hub.cards(code).await {
        Ok(cards) => CardCounts {
            issued: cards.issued(),
            used: cards.used(),
        },
        Err(e) => {
            // The list still shows the session; its cards' counts read as none.
            tracing::error!("reading the cards of session {code}: {e:#}");
            CardCounts { issued: 0, used: 0 }
        }
    };
    let base = state.hub.base_url();
    let open = record.status == Status::Open;
    let key = &record.host_key;
    let title = deck::parse(&record.deck_name, &record.deck_source)
        .map(|d| d.title)
        .unwrap_or_else(|_| record.deck_name.clone());
    SessionJson {
        code: code.clone(),
        status: record.status,
        title,
        deck_name: record.deck_name.clone(),
        deck: record.deck_id,
        meeting: record.meeting.clone(),
        created_ms: record.created_ms,
        closed_ms: record.closed_ms,
        cards,
        links: Links {
            cards: (open && cards.issued > 0).then(|| format!("/admin/cards/{code}")),
            join: open.then(|| state.hub.join_url(code)),
            host: open.then(|| format!("{base}/host/{code}?key={key}")),
            screen: open.then(|| format!("{base}/screen/{code}?key={}", record.screen_key)),
            report: format!("/report/{code}?key={key}"),
            pdf: format!("/report/{code}.pdf?key={key}"),
            csv: format!("/export/{code}.csv?key={key}"),
            json: format!("/export/{code}.json?key={key}"),
            xlsx: format!("/export/{code}.xlsx?key={key}"),
            poster: open.then(|| format!("/admin/poster/{code}")),
            join_qr: open.then(|| format!("/api/sessions/{code}/qr/join.svg")),
            host_qr: open.then(|| format!("/api/sessions/{code}/qr/host.svg")),
        },
    }
}

async fn list_sessions(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let en = english(&headers);
    let mut records = state
        .hub
        .records()
        .await
        .map_err(|e| ApiError::internal(en, "listing sessions", &e))?;
    // Newest first within each status; a stable sort keeps that order.
    records.sort_by_key(|r| r.status == Status::Closed);
    let mut sessions = Vec::with_capacity(records.len());
    for record in &records {
        sessions.push(session_json(&state, record).await);
    }
    Ok(Json(json!({ "sessions": sessions })).into_response())
}

async fn record_of(state: &AppState, code: &str, en: bool) -> Result<SessionRecord, ApiError> {
    state
        .hub
        .record(code)
        .await
        .map_err(|e| ApiError::internal(en, "reading a session", &e))?
        .ok_or_else(|| ApiError::new(en, "unknown_session"))
}

async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult {
    let en = english(&headers);
    let record = record_of(&state, &code, en).await?;
    Ok(Json(session_json(&state, &record).await).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    deck: i64,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    meeting: Meeting,
    /// Voting cards to issue at once.
    #[serde(default)]
    cards: usize,
}

/// Empty fields left out; each at most [`MAX_MEETING_CHARS`], no control characters.
fn meeting(given: Meeting, en: bool) -> Result<Meeting, ApiError> {
    let field = |value: Option<String>| -> Result<Option<String>, ApiError> {
        let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if value.chars().count() > MAX_MEETING_CHARS || value.chars().any(char::is_control) {
            return Err(ApiError::new(en, "bad_meeting"));
        }
        Ok(Some(value))
    };
    Ok(Meeting {
        name: field(given.name)?,
        date: field(given.date)?,
        place: field(given.place)?,
    })
}

async fn start_session(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult {
    let en = english(&headers);
    let StartBody {
        deck: id,
        version,
        meeting: given,
        cards,
    } = json_body(&headers, body, en).await?;
    let meeting = meeting(given, en)?;
    if cards > crate::core::cards::MAX_CARDS_AT_ONCE {
        return Err(ApiError::new(en, "bad_card_count"));
    }
    let stored = state
        .library
        .get(id, version)
        .await
        .map_err(|e| ApiError::internal(en, "reading a deck", &e))?
        .ok_or_else(|| ApiError::new(en, "unknown_deck"))?;
    let deck = startable(&stored, en)?;
    let handle = state
        .hub
        .create_for(Arc::new(deck), &stored.source, meeting, Some(id))
        .await
        .map_err(|e| ApiError::internal(en, "starting a session", &e))?;
    if cards > 0 {
        // Before anyone has the code, so no phone joins without a card.
        issue_cards(&handle, cards, en).await?;
    }
    let record = record_of(&state, handle.code(), en).await?;
    tracing::info!(
        code = handle.code(),
        deck = id,
        cards,
        "session started from the console"
    );
    Ok((
        StatusCode::CREATED,
        Json(session_json(&state, &record).await),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    deck: Option<i64>,
}

async fn edit_session_deck(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let EditBody { source, deck: id } = json_body(&headers, body, en).await?;
    let record = record_of(&state, &code, en).await?;
    if record.status == Status::Closed {
        return Err(ApiError::new(en, "session_closed"));
    }
    let (name, source, id) = match (source, id) {
        (Some(source), None) => (record.deck_name.clone(), source, None),
        (None, Some(id)) => {
            let stored = state
                .library
                .get(id, None)
                .await
                .map_err(|e| ApiError::internal(en, "reading a deck", &e))?
                .ok_or_else(|| ApiError::new(en, "unknown_deck"))?;
            startable(&stored, en)?;
            (stored.summary.name, stored.source, Some(id))
        }
        _ => {
            return Err(
                ApiError::new(en, "bad_json").saying("give either `source` or `deck`, not both")
            )
        }
    };
    let deck = parse_deck(&name, &source, en)?;
    match state
        .hub
        .replace_deck(&record.code, Arc::new(deck), &source, id)
        .await
        .map_err(|e| ApiError::internal(en, "editing a session's deck", &e))?
    {
        Ok(_) => {}
        Err(Refused::Unknown) => return Err(ApiError::new(en, "unknown_session")),
        Err(Refused::Closed) => return Err(ApiError::new(en, "session_closed")),
        Err(Refused::Structure(change)) => {
            let what = change.describe(en);
            let message = if en {
                format!("The deck's structure changed ({what}); start a new session.")
            } else {
                format!("De opbouw van het deck is veranderd ({what}); start een nieuwe sessie.")
            };
            return Err(ApiError::new(en, "structure_changed").saying(message));
        }
        Err(Refused::Wording(change)) => {
            let what = change.describe(en);
            let message = if en {
                format!("The edit changes words people voted on ({what}); fix only typos there, or start a new session.")
            } else {
                format!("De bewerking verandert woorden waarover gestemd is ({what}); verbeter daar alleen tikfouten, of start een nieuwe sessie.")
            };
            return Err(ApiError::new(en, "wording_changed").saying(message));
        }
        Err(Refused::Clustered) => {
            let message = if en {
                "In cluster mode a running session's deck is not edited; start a new session."
            } else {
                "In clustermodus wordt het deck van een lopende sessie niet bewerkt; start een nieuwe sessie."
            };
            return Err(ApiError::new(en, "structure_changed").saying(message.to_owned()));
        }
    }
    let record = record_of(&state, &code, en).await?;
    Ok(Json(session_json(&state, &record).await).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardsBody {
    count: usize,
}

async fn add_cards(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Body,
) -> ApiResult {
    let en = english(&headers);
    let CardsBody { count } = json_body(&headers, body, en).await?;
    if !(1..=crate::core::cards::MAX_CARDS_AT_ONCE).contains(&count) {
        return Err(ApiError::new(en, "bad_card_count"));
    }
    let record = record_of(&state, &code, en).await?;
    if record.status == Status::Closed {
        return Err(ApiError::new(en, "session_closed"));
    }
    let handle = state
        .hub
        .find(&record.code)
        .await
        .map_err(|e| ApiError::internal(en, "loading a session", &e))?
        .ok_or_else(|| ApiError::new(en, "session_closed"))?;
    issue_cards(&handle, count, en).await?;
    tracing::info!(code = handle.code(), count, "voting cards added");
    let record = record_of(&state, &code, en).await?;
    Ok(Json(session_json(&state, &record).await).into_response())
}

/// Issues `count` new random cards in a session, once they are stored.
async fn issue_cards(
    handle: &crate::hub::SessionHandle,
    count: usize,
    en: bool,
) -> Result<(), ApiError> {
    let cards = new_cards(count);
    match handle
        .command(Command::IssueCards { cards })
        .await
        .map_err(|e| ApiError::internal(en, "issuing voting cards", &e))?
    {
        Ok(()) => Ok(()),
        Err(code) => Err(match code.as_str() {
            "participants_without_cards" => ApiError::new(en, "participants_without_cards"),
            "too_many_cards" => ApiError::new(en, "too_many_cards"),
            _ => ApiError::new(en, "storage_unavailable"),
        }),
    }
}

/// `count` new voting cards from the thread's random generator: the randomness is drawn
/// here, at the edge, and goes into the session with the command.
fn new_cards(count: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    crate::core::cards::generate(count, |len| rng.gen_range(0..len))
}

async fn close_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult {
    let en = english(&headers);
    match state
        .hub
        .close(&code)
        .await
        .map_err(|e| ApiError::internal(en, "closing a session", &e))?
    {
        Ok(record) => Ok(Json(session_json(&state, &record).await).into_response()),
        Err(_) => Err(ApiError::new(en, "unknown_session")),
    }
}

async fn delete_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult {
    let en = english(&headers);
    if state
        .hub
        .delete(&code)
        .await
        .map_err(|e| ApiError::internal(en, "deleting a session", &e))?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(en, "unknown_session"))
    }
}

async fn session_qr(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, file)): Path<(String, String)>,
) -> ApiResult {
    let en = english(&headers);
    let record = record_of(&state, &code, en).await?;
    if record.status == Status::Closed {
        return Err(ApiError::new(en, "session_closed"));
    }
    let links = session_json(&state, &record).await.links;
    let url = match file.as_str() {
        "join.svg" => links.join,
        "host.svg" => links.host,
        "screen.svg" => links.screen,
        _ => None,
    }
    .ok_or_else(|| ApiError::new(en, "not_found"))?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        crate::web::qr::svg(&url),
    )
        .into_response())
}
