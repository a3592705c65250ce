//! Arguments per side: the short texts participants add for the option they chose, the
//! host's decision on each, and upvotes. Pure data, kept by the session and changed
//! only by replaying its events.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::core::ids::ParticipantId;

/// The longest argument, in characters: a tweet's length, read aloud in ten seconds.
pub const MAX_ARGUMENT_CHARS: usize = 280;

/// The least time between two arguments (or withdrawals) of one participant: enough to
/// type a new one, too little for a script to flood the host's queue.
pub const ARGUE_EVERY_MS: u64 = 5000;

/// The most approved arguments sent to phones and the screen per statement: the best
/// ones (highlighted, then most upvoted); a room reads no more.
pub const MAX_LISTED: usize = 50;

/// Where an argument stands with the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the host; only the host and its author see it.
    Pending,
    /// Listed for everyone.
    Approved,
    /// Listed first, marked.
    Highlighted,
}

impl Status {
    /// Whether phones and the screen may list it.
    pub fn listed(self) -> bool {
        self != Status::Pending
    }
}

/// One argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// Its number in the session, from 1.
    pub number: u32,
    /// Who wrote it (never shown).
    pub author: ParticipantId,
    /// The statement's slide index.
    pub slide: usize,
    /// The option it argues for.
    pub option: usize,
    /// The text, plain.
    pub text: String,
    /// The host's decision.
    pub status: Status,
    /// Who upvoted it (counted, never shown).
    pub upvoters: HashSet<ParticipantId>,
}

/// Every argument of a session that was not removed.
#[derive(Debug, Clone, Default)]
pub struct Arguments {
    items: BTreeMap<u32, Argument>,
    /// Each author's argument per statement.
    by_author: HashMap<(ParticipantId, usize), u32>,
    /// The highest number given so far (removed ones included).
    last: u32,
    /// Statements whose approved arguments the screen shows.
    shown: HashSet<usize>,
}

impl Arguments {
    /// The arguments on a statement, in the order they came.
    pub fn on(&self, slide: usize) -> impl Iterator<Item = &Argument> {
        self.items.values().filter(move |a| a.slide == slide)
    }

    /// The listed arguments on a statement: highlighted first, then by upvotes, then
    /// oldest first; at most [`MAX_LISTED`].
    pub fn listed(&self, slide: usize) -> Vec<&Argument> {
        let mut listed: Vec<&Argument> = self.on(slide).filter(|a| a.status.listed()).collect();
        listed.sort_by_key(|a| {
            (
                a.status != Status::Highlighted,
                std::cmp::Reverse(a.upvoters.len()),
                a.number,
            )
        });
        listed.truncate(MAX_LISTED);
        listed
    }

    /// An argument by number.
    pub fn get(&self, number: u32) -> Option<&Argument> {
        self.items.get(&number)
    }

    /// A participant's argument on a statement.
    pub fn of(&self, author: &ParticipantId, slide: usize) -> Option<&Argument> {
        self.items.get(self.by_author.get(&(*author, slide))?)
    }

    /// Every argument a participant wrote, oldest first.
    pub fn by(&self, author: &ParticipantId) -> Vec<&Argument> {
        self.items
            .values()
            .filter(|a| a.author == *author)
            .collect()
    }

    /// The numbers of the arguments a participant upvoted.
    pub fn upvoted_by(&self, participant: &ParticipantId) -> Vec<u32> {
        self.items
            .values()
            .filter(|a| a.upvoters.contains(participant))
            .map(|a| a.number)
            .collect()
    }

    /// The number the next argument gets.
    pub fn next_number(&self) -> u32 {
        self.last + 1
    }

    /// Whether the screen shows the approved arguments of a statement.
    pub fn shown(&self, slide: usize) -> bool {
        self.shown.contains(&slide)
    }

    /// Adds an argument (its author's earlier one on the statement was removed by an
    /// event before this one).
    pub(crate) fn add(&mut self, argument: Argument) -> Result<(), &'static str> {
        if argument.number <= self.last {
            return Err("the argument's number was given before");
        }
        let key = (argument.author, argument.slide);
        if self.by_author.contains_key(&key) {
            return Err("the author has an argument on this statement already");
        }
        self.last = argument.number;
        self.by_author.insert(key, argument.number);
        self.items.insert(argument.number, argument);
        Ok(())
    }

    /// Removes an argument.
    pub(crate) fn remove(&mut self, number: u32) -> Result<(), &'static str> {
        let argument = self.items.remove(&number).ok_or("no such argument")?;
        self.by_author.remove(&(argument.author, argument.slide));
        Ok(())
    }

    /// Sets the host's decision.
    pub(crate) fn moderate(&mut self, number: u32, status: Status) -> Result<(), &'static str> {
        self.items
            .get_mut(&number)
            .ok_or("no such argument")?
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
            .ok_or("no such argument")?
            .upvoters
            .insert(participant);
        Ok(())
    }

    /// Shows or hides a statement's arguments on the screen.
    pub(crate) fn show(&mut self, slide: usize, visible: bool) {
        if visible {
            self.shown.insert(slide);
        } else {
            self.shown.remove(&slide);
        }
    }
}

/// An argument's text as stored: trimmed, line ends as `\n`, at most two line breaks in
/// a row; `None` if it is empty, longer than [`MAX_ARGUMENT_CHARS`], or holds another
/// control character (a tab, an escape), which no keyboard on a phone types.
pub fn clean_text(text: &str) -> Option<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > MAX_ARGUMENT_CHARS
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut breaks = 0;
    for c in text.chars() {
        if c == '\n' {
            breaks += 1;
            if breaks > 2 {
                continue;
            }
        } else {
            breaks = 0;
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_trimmed_and_held_to_its_length_and_characters() {
        assert_eq!(
            clean_text("  Ja, want\r\nzo  "),
            Some("Ja, want\nzo".into())
        );
        assert_eq!(clean_text("a\n\n\n\nb"), Some("a\n\nb".into()));
        assert_eq!(clean_text("   "), None);
        assert_eq!(clean_text("tab\there"), None);
        assert_eq!(clean_text("\u{1b}[31m"), None);
        assert!(clean_text(&"é".repeat(280)).is_some());
        assert_eq!(clean_text(&"é".repeat(281)), None);
    }
}
