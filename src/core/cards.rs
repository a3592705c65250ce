//! Voting cards (stemkaarten): printed one-time codes that make "one card, one vote"
//! without a name or an account. A session with cards admits only a phone with a card;
//! the card's first use makes it a participant, a later use on another phone takes
//! that participant over.
//!
//! Here, pure: the codes (made from draws the caller makes, typed, shown), which
//! participant holds which card (kept by the session, changed by its events), and the
//! limits. One phone per card at a time is the runtime's (`seats`); the printable sheet
//! is the web layer's (`sheet`).

use std::collections::HashMap;

use uuid::Uuid;

/// Letters and digits that cannot be mistaken for each other when read off a projector
/// or a printed card (no 0/O, 1/I/L); join codes use them too.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters in a card: 31^10 ≈ 8·10^14 codes (49 bits), so a guesser limited to the
/// rate of new participants (50 a second per address) finds one of 10,000 issued cards
/// once in about 50 years.
pub const CARD_LEN: usize = 10;

/// Cards a session may hold in all: a large town's council hall several times over.
pub const MAX_CARDS: usize = 10_000;

/// Cards one request may issue: a printed batch (250 A4 pages) stays printable.
pub const MAX_CARDS_AT_ONCE: usize = 2_000;

/// `count` new cards, each of [`CARD_LEN`] characters that `draw` picks: given the
/// alphabet's length, it returns an index below it. The caller draws at random (the
/// console from the thread's generator), so the randomness stays at the edge.
pub fn generate(count: usize, mut draw: impl FnMut(usize) -> usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            (0..CARD_LEN)
                .map(|_| ALPHABET[draw(ALPHABET.len())] as char)
                .collect()
        })
        .collect()
}

/// A card as typed or scanned, in its stored form: hyphens, spaces and case ignored;
/// `None` if it cannot be a card (wrong length or a character outside the alphabet).
pub fn normalize(typed: &str) -> Option<String> {
    let card: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (card.len() == CARD_LEN && card.bytes().all(|b| ALPHABET.contains(&b))).then_some(card)
}

/// A card as printed for typing: `ABCDE-FGHJK`.
pub fn display(card: &str) -> String {
    let (first, second) = card.split_at(card.len().min(CARD_LEN / 2));
    format!("{first}-{second}")
}

/// The cards of a session and who holds them: the session keeps it, events change it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cards {
    /// Every card issued, in order.
    issued: Vec<String>,
    /// Each card with the participant that took it.
    holders: HashMap<String, Option<Uuid>>,
    /// Each participant with its card.
    cards_of: HashMap<Uuid, String>,
}

/// Why a card cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfit {
    /// No such card was issued.
    Unknown,
    /// Another participant holds it.
    Held,
    /// The participant holds another card.
    HasAnother,
}

impl Cards {
    /// Whether the session has cards (and so admits only a phone with one).
    pub fn required(&self) -> bool {
        !self.issued.is_empty()
    }

    /// Cards issued.
    pub fn issued(&self) -> usize {
        self.issued.len()
    }

    /// Cards that were used to join.
    pub fn used(&self) -> usize {
        self.cards_of.len()
    }

    /// Every card, in the order issued.
    pub fn all(&self) -> &[String] {
        &self.issued
    }

    /// Whether this card was issued.
    pub fn is_issued(&self, card: &str) -> bool {
        self.holders.contains_key(card)
    }

    /// The card a participant holds.
    pub fn card_of(&self, participant: &Uuid) -> Option<&str> {
        self.cards_of.get(participant).map(String::as_str)
    }

    /// The participants who hold a card.
    pub fn holders(&self) -> impl Iterator<Item = &Uuid> {
        self.cards_of.keys()
    }

    /// Who a phone presenting `card` (and perhaps the id it was given before) becomes:
    /// the card's participant once it was used; else the phone's own id if that is no
    /// participant yet, else `fresh`. `None` for a card that was never issued.
    pub fn participant_for(
        &self,
        card: &str,
        presented: Option<Uuid>,
        is_participant: impl Fn(&Uuid) -> bool,
        fresh: Uuid,
    ) -> Option<Uuid> {
        match self.holders.get(card)? {
            Some(holder) => Some(*holder),
            None => Some(presented.filter(|p| !is_participant(p)).unwrap_or(fresh)),
        }
    }

    /// Whether `participant` may take `card` now: `Ok(true)` if it takes it, `Ok(false)`
    /// if it holds it already.
    pub fn can_take(&self, card: &str, participant: &Uuid) -> Result<bool, Misfit> {
        match self.holders.get(card) {
            None => Err(Misfit::Unknown),
            Some(Some(holder)) if holder == participant => Ok(false),
            Some(Some(_)) => Err(Misfit::Held),
            Some(None) if self.cards_of.contains_key(participant) => Err(Misfit::HasAnother),
            Some(None) => Ok(true),
        }
    }

    /// Adds cards; one issued before is not added again.
    pub fn issue(&mut self, cards: &[String]) {
        for card in cards {
            if !self.holders.contains_key(card) {
                self.holders.insert(card.clone(), None);
                self.issued.push(card.clone());
            }
        }
    }

    /// Gives `card` to `participant`, if [`Cards::can_take`] allows it.
    pub fn take(&mut self, card: &str, participant: Uuid) -> Result<(), Misfit> {
        if self.can_take(card, &participant)? {
            self.holders.insert(card.to_owned(), Some(participant));
            self.cards_of.insert(participant, card.to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_cards_are_typed_back_in_any_case_with_or_without_the_hyphen() {
        // Every character of the alphabet in turn, at every position.
        let mut next = 0;
        let cards = generate(50, |len| {
            next += 1;
            next % len
        });
        assert_eq!(cards.len(), 50);
        for card in &cards {
            assert_eq!(card.len(), CARD_LEN);
            assert_eq!(normalize(card).as_deref(), Some(card.as_str()));
            let typed = display(card).to_ascii_lowercase();
            assert_eq!(typed.len(), CARD_LEN + 1);
            assert_eq!(normalize(&typed).as_deref(), Some(card.as_str()));
            assert_eq!(
                normalize(&format!(" {typed} ")).as_deref(),
                Some(card.as_str())
            );
        }
    }

    #[test]
    fn what_cannot_be_a_card_is_refused_before_any_lookup() {
        for typed in [
            "",
            "ABCDE",
            "ABCDE-FGHJKM",
            "ABCDE-FGHJ0",
            "ABCDE-FGHJI",
            "ÄBCDE-FGHJK",
        ] {
            assert_eq!(normalize(typed), None, "{typed}");
        }
    }

    #[test]
    fn a_card_is_taken_once_and_its_participant_comes_back_on_any_phone() {
        let mut cards = Cards::default();
        assert!(!cards.required());
        let issued = vec!["AAAAABBBBB".to_owned(), "CCCCCDDDDD".to_owned()];
        cards.issue(&issued);
        cards.issue(&issued[..1]);
        assert_eq!((cards.issued(), cards.used()), (2, 0));
        assert!(cards.required());
        let (phone, other) = (Uuid::new_v4(), Uuid::new_v4());
        let none = |_: &Uuid| false;
        assert_eq!(
            cards.participant_for("EEEEEFFFFF", Some(phone), none, other),
            None
        );
        // First use: the phone's own id.
        assert_eq!(
            cards.participant_for("AAAAABBBBB", Some(phone), none, other),
            Some(phone)
        );
        cards.take("AAAAABBBBB", phone).unwrap();
        assert_eq!(
            cards.take("AAAAABBBBB", phone),
            Ok(()),
            "again changes nothing"
        );
        assert_eq!(cards.used(), 1);
        // Another phone with the same card becomes the same participant.
        assert_eq!(
            cards.participant_for("AAAAABBBBB", Some(other), none, Uuid::new_v4()),
            Some(phone)
        );
        assert_eq!(cards.take("AAAAABBBBB", other), Err(Misfit::Held));
        assert_eq!(cards.take("CCCCCDDDDD", phone), Err(Misfit::HasAnother));
        assert_eq!(cards.take("EEEEEFFFFF", other), Err(Misfit::Unknown));
        // A phone that is a participant already gets a fresh id for a second card.
        let fresh = Uuid::new_v4();
        let joined = |p: &Uuid| *p == phone;
        assert_eq!(
            cards.participant_for("CCCCCDDDDD", Some(phone), joined, fresh),
            Some(fresh)
        );
        assert_eq!(cards.card_of(&phone), Some("AAAAABBBBB"));
        assert_eq!(cards.holders().collect::<Vec<_>>(), vec![&phone]);
    }
}
