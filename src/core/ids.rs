//! The ids the core's modules share, so that none of them imports another for a name.

use uuid::Uuid;

/// A participant's random, anonymous id.
pub type ParticipantId = Uuid;
