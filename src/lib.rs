//! stemzaal: self-hosted live polling for council sessions.
//!
//! - [`deck`]: the Markdown deck format and its parser (pure data).
//! - [`session`]: the room logic as a pure state machine of commands and events.
//! - [`protocol`]: every message on the WebSocket.
//! - [`report`]: results for the council: rounds, switches, groups; CSV, JSON, HTML.
//! - [`store`]: the SQLite event log with group commit.
//! - [`hub`]: live sessions, one actor task each, publishing shared views.
//! - [`limits`]: connection caps per address and in all, per-connection rate limits.
//! - [`connection`]: one WebSocket client from `hello` to close.
//! - [`web`]: HTTP routes, embedded pages, QR codes, security headers.
//! - [`app`]: start-up for the binary: store, recovery, default session, banner.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod connection;
pub mod deck;
pub mod hub;
pub mod limits;
pub mod protocol;
pub mod report;
pub mod session;
pub mod store;
pub mod web;
