//! The pure core: the deck, the room's state machine and what it counts. No tokio, no
//! clock, no randomness, no I/O: time and new ids come in with the commands, so live
//! operation, replay after a restart and the property tests run the same code.

pub mod arguments;
pub mod cards;
pub mod deck;
pub mod edits;
pub(crate) mod ids;
pub mod opinion;
pub mod questions;
pub mod session;
pub(crate) mod tally;
