//! stemzaal: self-hosted live polling for council sessions.
//!
//! The tree shows the layers; each imports only from itself and the layers above it in
//! this list (`tests/it/layers.rs` checks it):
//!
//! - [`core`]: pure, no tokio, clock, randomness or I/O. The deck format and its parser
//!   ([`core::deck`]), arguments per side ([`core::arguments`]), voting cards
//!   ([`core::cards`]), the room as a state machine of commands and events
//!   ([`core::session`]), the tallies the report and the live views share (scale
//!   statistics, switches, groups with small ones suppressed), and the opinion map
//!   ([`core::opinion`]: which participants voted alike).
//! - [`wire`]: every message on the WebSocket ([`wire::protocol`]) and what each role
//!   sees of a session (the `state` view, the host's outline, a phone's own votes).
//! - [`report`]: results for the council: rounds, switches, groups; CSV, JSON, HTML.
//! - [`hub`]: live sessions, one actor task each, publishing shared views; one phone
//!   per voting card; it owns its storage ports ([`hub::ports`]: a log per session, a
//!   catalog of sessions) and the console's ([`hub::library`]: decks, settings, logins).
//! - [`store`]: the SQLite adapter of those ports: the event log with group commit, the
//!   catalog, the library.
//! - [`cluster`]: the NATS JetStream adapter of the same ports, shared by every node.
//! - [`web`]: the HTTP edge: routes, embedded pages, security headers, the accept loop;
//!   one WebSocket client from `hello` to close ([`web::socket`]), the console's API
//!   ([`web::api`]) and its logins ([`web::admin`]), connection and join limits
//!   ([`web::limits`]), the `Host` check ([`web::hosts`]), QR codes, the card sheet.
//! - [`app`]: start-up of the binary: picks the adapters once, recovery, the default
//!   session, the banner.
//!
//! The room logic needs no server: a deck, a session, commands in, events out.
//!
//! ```
//! use std::sync::Arc;
//! use stemzaal::core::{deck, session::{Command, Session}};
//!
//! let deck = deck::parse("raad.md", "## Stelling\n\nA) Ja\nB) Nee\n").unwrap();
//! let mut session = Session::new(Arc::new(deck));
//! let phone = uuid::Uuid::new_v4();
//! session.apply(Command::Join { participant: phone }).unwrap();
//! session.apply(Command::OpenVote).unwrap();
//! session
//!     .apply(Command::Vote { participant: phone, slide: 0, round: 1, option: 1 })
//!     .unwrap();
//! assert_eq!(session.statement(0).unwrap().current().tally(), vec![0, 1]);
//! ```

#![forbid(unsafe_code)]

pub mod app;
pub mod cluster;
pub mod core;
pub mod hub;
pub mod report;
pub mod store;
pub mod web;
pub mod wire;
