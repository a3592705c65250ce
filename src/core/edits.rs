//! What an edit of a running session's deck may change in the words people voted on.
//!
//! [`Deck::structure_change`] keeps stored events pointing at the same slides and
//! options. This keeps them meaning the same: on a statement with votes, its wording
//! and its options' texts may change only by a [small edit](small_edit), a typo fixed;
//! "Eens" rewritten to "Oneens" would move every vote for it to the opposite.

use crate::core::deck::{option_name, Deck, SlideKind};
use crate::core::session::Session;

/// The most characters a small edit changes in a text shorter than
/// [`LONG_TEXT_CHARS`].
pub const SHORT_TEXT_EDITS: usize = 1;

/// The most characters a small edit changes in a longer text.
pub const LONG_TEXT_EDITS: usize = 2;

/// From how many characters a text is long (see [`small_edit`]).
pub const LONG_TEXT_CHARS: usize = 10;

/// Whether `now` is `was` with a typo fixed: after trimming and folding each run of
/// white space into one space, at most [`SHORT_TEXT_EDITS`] character differs when
/// the longer of the two has fewer than [`LONG_TEXT_CHARS`] characters, at most
/// [`LONG_TEXT_EDITS`] otherwise. Inserting, deleting or replacing a character, or
/// swapping two adjacent ones, counts one (the optimal string alignment distance).
/// And it [keeps its negations](keeps_negations): a typo never turns a text around, as
/// `het eens` → `het oneens` or `geen park` → `een park` would in two characters.
pub fn small_edit(was: &str, now: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) =
        (folded(was).chars().collect(), folded(now).chars().collect());
    let allowed = if a.len().max(b.len()) < LONG_TEXT_CHARS {
        SHORT_TEXT_EDITS
    } else {
        LONG_TEXT_EDITS
    };
    // Texts whose lengths differ by more than the allowance cannot be that close.
    a.len().abs_diff(b.len()) <= allowed && distance(&a, &b) <= allowed && keeps_negations(was, now)
}

/// Words that say "not", Dutch and English. A word ending in `n't` counts as `not`.
pub const NEGATIONS: &[&str] = &[
    "niet", "geen", "nooit", "niets", "niks", "niemand", "nergens", "not", "no", "never",
    "nothing", "none", "nobody", "nowhere", "cannot",
];

/// Prefixes that turn a word into its opposite: `eens` → `oneens`, `likely` →
/// `unlikely`.
pub const NEGATING_PREFIXES: &[&str] = &["on", "niet-", "non-", "non", "un", "in", "im", "dis"];

/// Whether `now` says "not" as often as `was` does, and the edit neither added a word
/// that is a word it took away with a [negating prefix](NEGATING_PREFIXES), nor the
/// other way round. Cautious on purpose: a typo that happens to look like a negation
/// is refused too, which a facilitator can work around (a new round or a new
/// session); a vote moved to the opposite cannot be undone.
pub fn keeps_negations(was: &str, now: &str) -> bool {
    let (was, now) = (words(was), words(now));
    let nots = |words: &[String]| {
        words
            .iter()
            .filter(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't"))
            .count()
    };
    let count = |words: &[String], word: &str| words.iter().filter(|w| *w == word).count();
    // The words the edit added, and those it took away (a word both texts have as
    // often, "eens" beside "oneens" in "eens of oneens", is neither).
    let added: Vec<&str> = now
        .iter()
        .filter(|w| count(&now, w) > count(&was, w))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = was
        .iter()
        .filter(|w| count(&was, w) > count(&now, w))
        .map(String::as_str)
        .collect();
    let negated = |longer: &[&str], shorter: &[&str]| {
        longer.iter().any(|word| {
            NEGATING_PREFIXES.iter().any(|prefix| {
                word.strip_prefix(prefix)
                    .is_some_and(|stem| stem.chars().count() >= 3 && shorter.contains(&stem))
            })
        })
    };
    nots(&was) == nots(&now) && !negated(&added, &removed) && !negated(&removed, &added)
}

/// A text's words, in small letters: runs of letters, digits, hyphens and apostrophes
/// (a typographic one read as `'`).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('\u{2019}', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The text trimmed, each run of white space one space.
fn folded(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The optimal string alignment distance: insertions, deletions, replacements and
/// swaps of adjacent characters, each counting one.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rows of the table: two back (for swaps), one back, and this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let replace = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + replace);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

/// The words people read on a slide: its HTML without tags, the escapes the Markdown
/// renderer writes undone.
fn visible_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                // A tag separates words ("</h2><p>").
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A rewording an edit may not make: a statement with votes whose wording, or one of
/// whose options, changed by more than a small edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordingChange {
    /// The slide's index.
    pub slide: usize,
    /// The line in the edited deck where the slide starts.
    pub line: usize,
    /// The option whose text changed, named as written (`B`, or a scale's `2`), or
    /// `None` for the statement's own wording.
    pub option: Option<String>,
}

impl WordingChange {
    /// What changed and why it is refused, for a person, in Dutch or English.
    pub fn describe(&self, english: bool) -> String {
        let slide = self.slide + 1;
        let line = self.line;
        match (&self.option, english) {
            (None, false) => format!(
                "de tekst van de stelling op dia {slide} (regel {line}) is meer dan een \
                 tikfout veranderd, en er is al over gestemd"
            ),
            (None, true) => format!(
                "the wording of the statement on slide {slide} (line {line}) changed by more \
                 than a typo, and it has votes"
            ),
            (Some(option), false) => format!(
                "de tekst van optie {option} van de stelling op dia {slide} (regel {line}) is meer \
                 dan een tikfout veranderd, en er is al over gestemd"
            ),
            (Some(option), true) => format!(
                "the text of option {option} of the statement on slide {slide} (line {line}) \
                 changed by more than a typo, and it has votes"
            ),
        }
    }
}

/// Whether anyone voted on the statement at `slide`, in any round, by phone or by a
/// hand count.
fn has_votes(session: &Session, slide: usize) -> bool {
    session.statement(slide).is_some_and(|statement| {
        statement
            .rounds
            .iter()
            .any(|round| !round.votes.is_empty() || round.hands.iter().any(|&n| n > 0))
    })
}

/// The first statement with votes in `session` whose words `edited` (a deck of the
/// same structure) changes by more than a small edit, or `None` when the edit keeps
/// what every vote was cast on.
pub fn wording_change(session: &Session, edited: &Deck) -> Option<WordingChange> {
    let deck = session.deck();
    for (slide, (was, now)) in deck.slides.iter().zip(&edited.slides).enumerate() {
        let (SlideKind::Statement { options: old }, SlideKind::Statement { options: new }) =
            (&was.kind, &now.kind)
        else {
            continue;
        };
        if !has_votes(session, slide) {
            continue;
        }
        let change = |option| WordingChange {
            slide,
            line: now.line,
            option,
        };
        if !small_edit(&visible_text(&was.html), &visible_text(&now.html)) {
            return Some(change(None));
        }
        if let Some(option) = old.iter().zip(new).position(|(a, b)| !small_edit(a, b)) {
            return Some(change(Some(option_name(now.scale, option))));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_a_small_edit() {
        assert!(small_edit("Ambitie", "Ambities"));
        assert!(small_edit("Meer groen in de wjik", "Meer groen in de wijk"));
        assert!(small_edit(
            "Meer  groen\nin de wijk ",
            "Meer groen in de wijk"
        ));
        assert!(small_edit("Ja", "Ja"));
    }

    #[test]
    fn a_rewording_is_not() {
        assert!(!small_edit("Eens", "Oneens"));
        assert!(!small_edit("Ja", "Nee"));
        assert!(!small_edit("Voor", "Tegen"));
        assert!(!small_edit(
            "Meer groen in de wijk",
            "Minder groen in de wijk"
        ));
        assert!(!small_edit(
            "Ik ben voor meer groen in de wijk",
            "Ik ben niet voor meer groen in de wijk"
        ));
    }

    #[test]
    fn a_negation_in_two_characters_is_not_a_typo() {
        assert!(!small_edit("Ik ben het eens", "Ik ben het oneens"));
        assert!(!small_edit("Er komt geen park", "Er komt een park"));
        assert!(!small_edit("Dit is belangrijk", "Dit is onbelangrijk"));
        assert!(!small_edit("Dat is wenselijk", "Dat is onwenselijk"));
        assert!(!small_edit("This is likely", "This is unlikely"));
        assert!(!small_edit("We can act now", "We can\u{2019}t act now"));
        assert!(!small_edit("Dat gaat niet", "Dat gaat niet niet"));
        // A typo beside a negation keeps it.
        assert!(small_edit("Er komt geen prak", "Er komt geen park"));
        assert!(small_edit("Ik ben het oneens", "Ik ben het Oneens"));
        assert!(small_edit("Geen idee", "Geen idee!"));
        // A prefix that makes no word of the other text is a typo.
        assert!(small_edit("Informatie delen", "Informatie deelen"));
        // A text that has a word and its opposite keeps both.
        let both = "Bent u het eens of oneens met het plan?";
        assert!(small_edit(both, both));
        assert!(small_edit(both, "Bent u het eens of oneens met het plna?"));
        assert!(!small_edit(
            both,
            "Bent u het oneens of oneens met het plan?"
        ));
    }

    #[test]
    fn the_allowance_grows_at_ten_characters() {
        // Two changes: too many for a short text, allowed in a long one.
        assert!(!small_edit("Bomen", "Boomen!"));
        assert!(small_edit("Bomen planten", "Boomen planten!"));
        // A swap of two adjacent characters counts one.
        assert!(small_edit("Bmoen", "Bomen"));
    }

    #[test]
    fn tags_and_escapes_are_not_words() {
        assert_eq!(
            folded(&visible_text(
                "<h2>Groen &amp; blauw</h2>\n<p>In de wijk</p>"
            )),
            "Groen & blauw In de wijk"
        );
    }
}
