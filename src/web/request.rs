//! Who a request comes from, as its headers say: the cookies it carries and whether its
//! `Origin` is one of ours. The pages (`web`) and the API (`api`) check the same way.

use axum::http::{header, HeaderMap};

use crate::web::state::AppState;

/// The value of cookie `name` in a request, if present.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether a WebSocket upgrade comes from one of our own pages (or an allowed origin).
/// Browsers always send `Origin` on a WebSocket; a request without one is not from a
/// browser page, so no other site can be riding on a visitor's cookies.
pub(crate) fn origin_allowed(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let own_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(host) = own_host {
        if origin == format!("http://{host}") || origin == format!("https://{host}") {
            return true;
        }
    }
    if origin == state.hub.base_url().to_ascii_lowercase() {
        return true;
    }
    state
        .limits
        .allowed_origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
}
