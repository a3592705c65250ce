//! Questions from the room: short texts participants send to the host at any slide
//! while questions are open, the host's decision on each, and upvotes. Pure data, kept
//! by the session and changed only by replaying its events. The text rules, the pace
//! and the removal from disk are the arguments' ([`crate::core::arguments`]).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::core::ids::ParticipantId;

/// The most questions one participant may have that were not removed (pending, listed
/// or answered): a person asks a few, and a script cannot bury the host's queue.
pub const MAX_QUESTIONS_EACH: usize = 5;

/// The most approved questions sent to phones and the screen: the highlighted one, then
/// the most upvoted; as many as the arguments of a statement (a room reads no more).
pub const MAX_LISTED: usize = crate::core::arguments::MAX_LISTED;

/// Where a question stands with the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the host; only the host and its asker see it.
    Pending,
    /// Listed for everyone.
    Approved,
    /// Listed first and shown large on the screen; at most one at a time.
    Highlighted,
    /// Listed after the open ones, marked answered.
    Answered,
}

impl Status {
    /// Whether phones and the screen may list it.
    pub fn listed(self) -> bool {
        self != Status::Pending
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Its number in the session, from 1.
    pub number: u32,
    /// Who asked it (never shown).
    pub asker: ParticipantId,
    /// The text, plain.
    pub text: String,
    /// The host's decision.
    pub status: Status,
    /// Who upvoted it (counted, never shown).
    pub upvoters: HashSet<ParticipantId>,
}

/// Every question of a session that was not removed, and the host's two switches.
#[derive(Debug, Clone, Default)]
pub struct Questions {
    items: BTreeMap<u32, Question>,
    /// The highest number given so far (removed ones included).
    last: u32,
    /// Whether participants may ask and upvote now.
    open: bool,
    /// Whether the screen shows the listed questions.
    shown: bool,
}

impl Questions {
    /// Every question not removed, in the order they came.
    pub fn all(&self) -> impl Iterator<Item = &Question> {
        self.items.values()
    }

    /// The listed questions: the highlighted one first, then the open ones by upvotes
    /// (most first, then oldest first), then the answered ones in the same order; at
    /// most [`MAX_LISTED`].
    pub fn listed(&self) -> Vec<&Question> {
        let mut listed: Vec<&Question> = self.all().filter(|q| q.status.listed()).collect();
        listed.sort_by_key(|q| {
            (
                q.status != Status::Highlighted,
                q.status == Status::Answered,
                std::cmp::Reverse(q.upvoters.len()),
                q.number,
            )
        });
        listed.truncate(MAX_LISTED);
        listed
    }

    /// Every question the host approved (answered and highlighted ones too), by upvotes
    /// (most first), then oldest first: what the report lists, without a cap.
    pub fn approved(&self) -> Vec<&Question> {
        let mut approved: Vec<&Question> = self.all().filter(|q| q.status.listed()).collect();
        approved.sort_by_key(|q| (std::cmp::Reverse(q.upvoters.len()), q.number));
        approved
    }

    /// A question by number.
    pub fn get(&self, number: u32) -> Option<&Question> {
        self.items.get(&number)
    }

    /// The highlighted question, if any.
    pub fn highlighted(&self) -> Option<&Question> {
        self.all().find(|q| q.status == Status::Highlighted)
    }

    /// Every question a participant asked that was not removed, oldest first.
    pub fn by(&self, asker: &ParticipantId) -> Vec<&Question> {
        self.all().filter(|q| q.asker == *asker).collect()
    }

    /// The numbers of the questions a participant upvoted.
    pub fn upvoted_by(&self, participant: &ParticipantId) -> Vec<u32> {
        self.all()
            .filter(|q| q.upvoters.contains(participant))
            .map(|q| q.number)
            .collect()
    }

    /// The number the next question gets.
    pub fn next_number(&self) -> u32 {
        self.last + 1
    }

    /// Whether participants may ask and upvote.
    pub fn open(&self) -> bool {
        self.open
    }

    /// Whether the screen shows the listed questions.
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// Adds a question.
    pub(crate) fn add(&mut self, question: Question) -> Result<(), &'static str> {
        if question.number <= self.last {
            return Err("the question's number was given before");
        }
        self.last = question.number;
        self.items.insert(question.number, question);
        Ok(())
    }

    /// Removes a question.
    pub(crate) fn remove(&mut self, number: u32) -> Result<(), &'static str> {
        self.items.remove(&number).ok_or("no such question")?;
        Ok(())
    }

    /// Sets the host's decision.
    pub(crate) fn moderate(&mut self, number: u32, status: Status) -> Result<(), &'static str> {
        self.items
            .get_mut(&number)
            .ok_or("no such question")?
            .status = status;
        Ok(())
    }

    /// Counts an upvote (once per participant).
    pub(crate) fn upvote(
        &mut self,
        number: u32,
        participant: ParticipantId,
    ) -> Result<(), &'static str> {
        self.items
            .get_mut(&number)
            .ok_or("no such question")?
            .upvoters
            .insert(participant);
        Ok(())
    }

    /// Opens or closes questions.
    pub(crate) fn set_open(&mut self, open: bool) {
        self.open = open;
    }

    /// Shows or hides the questions on the screen.
    pub(crate) fn show(&mut self, visible: bool) {
        self.shown = visible;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(number: u32, status: Status, upvotes: u8) -> Question {
        Question {
            number,
            asker: uuid::Uuid::from_u128(u128::from(number)),
            text: format!("q{number}"),
            status,
            upvoters: (0..upvotes)
                .map(|i| uuid::Uuid::from_u128(1000 + u128::from(i)))
                .collect(),
        }
    }

    #[test]
    fn the_highlighted_question_leads_then_open_ones_by_upvotes_then_answered_ones() {
        let mut questions = Questions::default();
        for q in [
            question(1, Status::Answered, 9),
            question(2, Status::Approved, 1),
            question(3, Status::Pending, 7),
            question(4, Status::Approved, 3),
            question(5, Status::Highlighted, 0),
            question(6, Status::Approved, 3),
        ] {
            questions.add(q).unwrap();
        }
        let order: Vec<u32> = questions.listed().iter().map(|q| q.number).collect();
        assert_eq!(order, vec![5, 4, 6, 2, 1]);
        assert_eq!(questions.highlighted().map(|q| q.number), Some(5));
        assert!(questions.add(question(6, Status::Pending, 0)).is_err());
    }
}
