//! The opinion map of a live session, computed off its actor: the actor takes a snapshot
//! of the votes (cheap), a blocking thread runs [`opinion::compute`] on it (milliseconds
//! for thousands of participants), and the result comes back to the actor as a message.
//! So a vote never waits behind the map.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::core::opinion::{self, Outcome};
use crate::core::session::{ParticipantId, Session};
use crate::report::Report;
use crate::wire::protocol::{MapView, Role};
use crate::wire::view;

/// The least time between two computations of a session's map: votes that come in
/// while the map is on show (a host showing it during an open vote) move it twice a
/// second, not at every tick, and a computation never queues behind another.
pub const MAP_EVERY: Duration = Duration::from_millis(500);

/// A finished computation: the version it was started as, and what it found.
pub type Finished = (u64, Outcome);

/// What the actor keeps of its session's map.
pub struct MapState {
    /// The newest finished computation.
    newest: Option<(u64, Arc<Outcome>)>,
    /// The version of the last computation started.
    started: u64,
    /// A computation is running.
    running: bool,
    /// The votes changed since the last computation started.
    stale: bool,
    /// No computation starts before this.
    next_at: Instant,
    done: mpsc::UnboundedSender<Finished>,
}

impl MapState {
    /// A session's map state; finished computations arrive on the returned receiver.
    pub fn new() -> (MapState, mpsc::UnboundedReceiver<Finished>) {
        let (done, finished) = mpsc::unbounded_channel();
        let state = MapState {
            newest: None,
            started: 0,
            running: false,
            stale: true,
            next_at: Instant::now(),
            done,
        };
        (state, finished)
    }

    /// The votes changed: the map is computed again when it is next on show.
    pub fn votes_changed(&mut self) {
        self.stale = true;
    }

    /// When the next computation should start, if the map is on show and out of date.
    pub fn due(&self, session: &Session) -> Option<Instant> {
        (session.map_on_show() && self.stale && !self.running).then_some(self.next_at)
    }

    /// Starts a computation on a snapshot of `session`'s votes, on a blocking thread.
    pub fn start(&mut self, session: &Session) {
        let votes = opinion::votes(session);
        self.started += 1;
        self.running = true;
        self.stale = false;
        self.next_at = Instant::now() + MAP_EVERY;
        let version = self.started;
        let done = self.done.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = opinion::compute(&votes);
            // The actor is gone only when the session stopped; then nobody waits.
            done.send((version, outcome)).ok();
        });
    }

    /// A computation finished.
    pub fn finish(&mut self, (version, outcome): Finished) {
        self.running = false;
        self.newest = Some((version, Arc::new(outcome)));
    }

    /// The map as `role` sees it in its `state`, while it is on show.
    pub fn view(&self, session: &Session, role: Role) -> Option<MapView> {
        let newest = self.newest.as_ref().map(|(v, o)| (*v, o.as_ref()));
        view::opinion_map(session, newest, role)
    }

    /// The version of the map on show and `participant`'s group on it (1 is the
    /// largest), if it is on it.
    pub fn group_of(&self, session: &Session, participant: &ParticipantId) -> (u64, Option<usize>) {
        let Some((version, outcome)) = &self.newest else {
            return (0, None);
        };
        let group = match outcome.as_ref() {
            Outcome::Map(map) if session.map_on_show() => {
                map.assignment.get(participant).map(|g| g + 1)
            }
            _ => None,
        };
        (*version, group)
    }
}

/// Adds the opinion map of `session` to its `report`, computed on a blocking thread,
/// and hands the report to `reply` from there.
pub fn send_report(mut report: Report, session: &Session, reply: oneshot::Sender<Report>) {
    let votes = opinion::votes(session);
    let deck = session.deck().clone();
    tokio::task::spawn_blocking(move || {
        report.opinion_map = crate::report::opinion_map(&deck, &opinion::compute(&votes));
        // The requester may have given up waiting; then nobody needs it.
        reply.send(report).ok();
    });
}
