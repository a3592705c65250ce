//! stemzaal: self-hosted live polling for council sessions.
//!
//! - `ids`: the ids the core's modules share (a participant's).
//! - [`deck`]: the Markdown deck format and its parser (pure data).
//! - [`arguments`]: arguments per side: texts, the host's decisions, upvotes (pure data).
//! - [`session`]: the room logic as a pure state machine of commands and events.
//! - [`cards`]: voting cards, pure: their codes, who holds which, the limits.
//! - `tally`: scale statistics, switches between rounds, group rows with small groups
//!   suppressed (pure; the report and the live views share them).
//! - [`protocol`]: every message on the WebSocket.
//! - `view`: what each role sees: the `state` view, the host's outline, own votes.
//! - [`report`]: results for the council: rounds, switches, groups; CSV, JSON, HTML.
//! - [`hub`]: live sessions, one actor task each, publishing shared views; it owns its
//!   storage ports ([`hub::ports`]: a log per session, a catalog of sessions).
//! - `seats`: one phone per voting card at a time (the runtime's part of the cards).
//! - [`library`]: the console's ports: stored decks with their versions, settings,
//!   shared logins.
//! - [`store`]: the SQLite adapter: the event log with group commit, the catalog, the
//!   library.
//! - [`cluster`]: the NATS JetStream adapter: the same ports, shared by every node.
//! - [`limits`]: connection caps per address and in all, per-connection rate limits,
//!   the rate of new participants per address.
//! - [`connection`]: one WebSocket client from `hello` to close.
//! - [`web`]: HTTP routes, embedded pages, security headers, the accept loop.
//! - `state`: what every HTTP handler shares (`AppState`).
//! - `request`: who a request comes from: its cookies, whether its origin is ours.
//! - `qr`: QR codes of join links, as SVG and for the terminal.
//! - `sheet`: the printable voting cards (HTML from `maud`).
//! - [`hosts`]: the `Host` names the server answers to (against DNS rebinding).
//! - [`admin`]: the admin password (hashed), logins and the rate of login attempts.
//! - [`api`]: the HTTP API under `/api/` that the console uses (docs/api.md).
//! - [`app`]: start-up for the binary: picks the adapters once, recovery, default
//!   session, banner.

//!
//! The room logic needs no server: a deck, a session, commands in, events out.
//!
//! ```
//! use std::sync::Arc;
//! use stemzaal::{deck, session::{Command, Session}};
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

pub mod admin;
pub mod api;
pub mod app;
pub mod arguments;
pub mod cards;
pub mod cluster;
pub mod connection;
pub mod deck;
pub mod hosts;
pub mod hub;
pub(crate) mod ids;
pub mod library;
pub mod limits;
pub mod protocol;
pub(crate) mod qr;
pub mod report;
pub(crate) mod request;
pub(crate) mod seats;
pub mod session;
pub(crate) mod sheet;
pub(crate) mod state;
pub mod store;
pub(crate) mod tally;
pub(crate) mod view;
pub mod web;
