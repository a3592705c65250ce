//! The integration tests, gathered into one test binary: each binary under `tests/`
//! links the whole crate again, which on two cores costs minutes. A module per topic;
//! `support` starts real servers and speaks the protocol for all of them. Tests that need
//! a process of their own (a crash, the log as an operator sees it) run the real
//! `stemzaal` binary as a child.

mod answer_order;
mod api;
mod arguments;
mod browser;
mod cards;
mod cli;
mod cluster;
mod console;
mod deck_edits;
mod deck_format;
mod ending;
mod fuzz;
mod host_page;
mod images;
mod layers;
mod logging;
mod nats;
mod numbers;
mod opinion;
mod page_weight;
mod pdf;
mod phone;
mod presenter;
mod protocol;
mod questions;
mod recovery;
mod report;
mod room;
mod security;
mod session_flow;
mod session_invariants;
mod skipped_events;
mod stop;
mod support;
mod timer;
mod windows;
