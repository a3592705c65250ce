//! A connection's answers in the order its messages came. The session answers a
//! message once what it changed is stored, and decides refusals at once; across a
//! cluster an answer can also come late or be lost on its way. A phone that sent two
//! votes must never hear the second acknowledged before the first is answered: its
//! last answer must name what counts. So each message with an `id` takes a place in
//! line, and an answer goes out only when every message before it has had its own.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::wire::protocol::{Lang, ServerMsg};

/// How long an answer waits for the session before its place in line is given up with
/// `storage_unavailable`, once the session answered a later message: the session
/// answers in order, so this answer was lost on its way (across a cluster). Longer
/// than a cluster's own wait for a forwarded request, which refuses it first. A slow
/// disk delays every answer alike and gives nothing up: what is acknowledged late is
/// still acknowledged.
pub const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// How many given-up ids a connection remembers, to drop their late answers.
const GIVEN_UP_KEPT: usize = 64;

/// The answers of one connection, in line.
#[derive(Default)]
pub struct Answers {
    line: VecDeque<Place>,
    /// Messages whose place was given up: a late answer to one is dropped, as the
    /// client heard `storage_unavailable` for it.
    given_up: VecDeque<u64>,
}

enum Place {
    /// A message the session has; its answer has not come.
    Waiting { id: u64, lang: Lang, since: Instant },
    /// The session's answer to a message, ready to go once those before it went.
    Answered(ServerMsg),
    /// An answer the connection decided, ready to go once those before it went.
    Decided(ServerMsg),
}

impl Answers {
    /// A message with `id` went to the session at `now`; its answer takes the next
    /// place.
    pub fn sent(&mut self, id: u64, lang: Lang, now: Instant) {
        self.line.push_back(Place::Waiting {
            id,
            lang,
            since: now,
        });
    }

    /// An answer the connection decided itself (or one that names no message): it
    /// goes after the answers to every message before it.
    pub fn decided(&mut self, msg: ServerMsg) {
        self.line.push_back(Place::Decided(msg));
    }

    /// The session's answer: it takes the place of the first message waiting with its
    /// id.
    pub fn answered(&mut self, msg: ServerMsg) {
        let Some(id) = answer_id(&msg) else {
            return self.decided(msg);
        };
        let place = self
            .line
            .iter_mut()
            .find(|p| matches!(p, Place::Waiting { id: waiting, .. } if *waiting == id));
        match place {
            Some(place) => *place = Place::Answered(msg),
            None => match self.given_up.iter().position(|g| *g == id) {
                Some(at) => drop(self.given_up.remove(at)),
                None => self.decided(msg),
            },
        }
    }

    /// The next answer that may go out now.
    pub fn next(&mut self) -> Option<ServerMsg> {
        match self.line.front()? {
            Place::Waiting { .. } => None,
            Place::Answered(_) | Place::Decided(_) => match self.line.pop_front()? {
                Place::Answered(msg) | Place::Decided(msg) => Some(msg),
                Place::Waiting { .. } => None,
            },
        }
    }

    /// When the first waiting message's place is given up: only while the session's
    /// answer to a later message waits behind it.
    pub fn overdue_at(&self) -> Option<Instant> {
        let Some(Place::Waiting { since, .. }) = self.line.front() else {
            return None;
        };
        let overtaken = self.line.iter().any(|p| matches!(p, Place::Answered(_)));
        overtaken.then(|| *since + ANSWER_WAIT)
    }

    /// Gives up the first message's place if it waited [`ANSWER_WAIT`] by `now`: it is
    /// refused with `storage_unavailable`, as nothing says it was stored.
    pub fn give_up_overdue(&mut self, now: Instant) {
        if self.overdue_at().is_none_or(|at| at > now) {
            return;
        }
        if let Some(Place::Waiting { id, lang, .. }) = self.line.pop_front() {
            self.line.push_front(Place::Decided(ServerMsg::error(
                "storage_unavailable",
                lang,
                Some(id),
            )));
            if self.given_up.len() == GIVEN_UP_KEPT {
                self.given_up.pop_front();
            }
            self.given_up.push_back(id);
        }
    }
}

/// The id of the message an answer is for.
fn answer_id(msg: &ServerMsg) -> Option<u64> {
    match msg {
        ServerMsg::Ack { id, .. }
        | ServerMsg::Argued { id, .. }
        | ServerMsg::Asked { id, .. }
        | ServerMsg::Ok { id } => Some(*id),
        ServerMsg::Error { id, .. } | ServerMsg::MapGroup { id, .. } => *id,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(id: u64, option: usize) -> ServerMsg {
        ServerMsg::Ack {
            id,
            slide: 1,
            round: 1,
            option,
        }
    }

    fn drain(answers: &mut Answers) -> Vec<ServerMsg> {
        std::iter::from_fn(|| answers.next()).collect()
    }

    #[test]
    fn a_later_answer_waits_for_the_answers_before_it() {
        let now = Instant::now();
        let mut answers = Answers::default();
        answers.sent(1, Lang::Nl, now);
        answers.sent(2, Lang::Nl, now);
        answers.decided(ServerMsg::error("rate_limited", Lang::Nl, Some(3)));
        answers.answered(ack(2, 1));
        assert!(drain(&mut answers).is_empty(), "1 is not answered yet");
        answers.answered(ack(1, 0));
        let out = drain(&mut answers);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], ack(1, 0));
        assert_eq!(out[1], ack(2, 1));
        assert!(
            matches!(&out[2], ServerMsg::Error { code, id: Some(3), .. } if code == "rate_limited")
        );
    }

    #[test]
    fn a_place_waited_too_long_is_refused_and_its_late_answer_dropped() {
        let now = Instant::now();
        let mut answers = Answers::default();
        answers.sent(1, Lang::En, now);
        assert_eq!(answers.overdue_at(), None, "nothing waits behind it");
        answers.sent(2, Lang::En, now + Duration::from_secs(1));
        answers.decided(ServerMsg::error("rate_limited", Lang::En, Some(3)));
        assert_eq!(
            answers.overdue_at(),
            None,
            "no later answer of the session: a slow store delays every answer alike"
        );
        answers.answered(ack(2, 1));
        assert_eq!(answers.overdue_at(), Some(now + ANSWER_WAIT));
        answers.give_up_overdue(now + ANSWER_WAIT - Duration::from_millis(1));
        assert!(drain(&mut answers).is_empty());
        answers.give_up_overdue(now + ANSWER_WAIT);
        let out = drain(&mut answers);
        assert!(
            matches!(&out[0], ServerMsg::Error { code, id: Some(1), .. } if code == "storage_unavailable")
        );
        assert_eq!(out[1], ack(2, 1));
        assert!(matches!(&out[2], ServerMsg::Error { id: Some(3), .. }));
        answers.answered(ack(1, 0));
        assert!(
            drain(&mut answers).is_empty(),
            "the late ack of 1 is dropped"
        );
    }

    #[test]
    fn a_resent_id_takes_the_first_waiting_place() {
        let now = Instant::now();
        let mut answers = Answers::default();
        answers.sent(7, Lang::Nl, now);
        answers.sent(7, Lang::Nl, now);
        answers.answered(ack(7, 0));
        assert_eq!(drain(&mut answers), vec![ack(7, 0)]);
        answers.answered(ack(7, 0));
        assert_eq!(drain(&mut answers), vec![ack(7, 0)]);
    }
}
