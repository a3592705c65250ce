//! What goes over the WebSocket: every message, and what each role sees of a session.

pub mod protocol;
pub(crate) mod view;
