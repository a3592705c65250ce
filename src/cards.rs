//! Voting cards (stemkaarten): printed one-time codes that make "one card, one vote"
//! without a name or an account. A session with cards admits only a phone with a card;
//! the card's first use makes it a participant, a later use on another phone takes
//! that participant over.
//!
//! Here: the codes (made, typed, shown), which participant holds which card (kept by
//! the session), one phone per card at a time ([`Seats`]), and the printable sheet.

use std::collections::HashMap;

use rand::Rng;
use tokio::sync::watch;
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

/// Cards per printed A4 page: two columns of four, each about a business card.
pub const CARDS_PER_PAGE: usize = 8;

/// `count` new random cards.
pub fn generate(count: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    (0..count)
        .map(|_| {
            (0..CARD_LEN)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
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
    /// Follows a stored event: the card events change the cards, the rest do not. A
    /// card event that does not fit is passed over, as replay refuses it.
    pub fn apply(&mut self, event: &crate::session::Event) {
        match event {
            crate::session::Event::CardsIssued { cards } => self.issue(cards),
            crate::session::Event::CardTaken { card, participant } => {
                self.take(card, *participant).ok();
            }
            _ => {}
        }
    }

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

/// One phone per card at a time: each connection of a card's participant takes its
/// seat, and the connection that held it before hears that it was taken. In cluster
/// mode a take is announced to the other nodes, whose older connections of the same
/// participant hear it too ([`Seats::taken_elsewhere`]).
#[derive(Debug, Default)]
pub struct Seats {
    /// Per participant with a connection, the number of the connection that holds its
    /// seat, and when it took it. The lock is held only to look up or insert, never
    /// across an `.await`.
    seats: std::sync::Mutex<HashMap<Uuid, Held>>,
    /// In cluster mode, where each take goes to be announced: the participant and when.
    announce: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<(Uuid, u64)>>,
}

#[derive(Debug)]
struct Held {
    holder: watch::Sender<u64>,
    /// When the newest connection took the seat (ms since the epoch).
    taken_ms: u64,
}

impl Seats {
    /// Takes the participant's seat for a new connection; an older connection's
    /// [`Seat::taken`] resolves.
    pub fn take(self: &std::sync::Arc<Self>, participant: Uuid) -> Seat {
        let now = crate::store::now_ms();
        // A poisoned lock only means a panic elsewhere; the map is whole.
        let mut seats = self.seats.lock().unwrap_or_else(|p| p.into_inner());
        let held = seats.entry(participant).or_insert_with(|| Held {
            holder: watch::channel(0).0,
            taken_ms: now,
        });
        held.taken_ms = now;
        held.holder.send_modify(|n| *n += 1);
        let mut rx = held.holder.subscribe();
        let mine = *rx.borrow_and_update();
        if let Some(announce) = self.announce.get() {
            // The receiver ends only with the session.
            announce.send((participant, now)).ok();
        }
        Seat {
            seats: self.clone(),
            participant,
            rx,
            mine,
        }
    }

    /// Sends every take from now on to `announce` (once; later calls change nothing).
    pub fn announce_to(&self, announce: tokio::sync::mpsc::UnboundedSender<(Uuid, u64)>) {
        self.announce.set(announce).ok();
    }

    /// Another node's connection took the participant's seat at `taken_ms`: the
    /// connections here that took it before hear that it was taken.
    pub fn taken_elsewhere(&self, participant: Uuid, taken_ms: u64) {
        let seats = self.seats.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = seats.get(&participant) {
            if held.taken_ms < taken_ms {
                held.holder.send_modify(|n| *n += 1);
            }
        }
    }

    /// Participants with a seat held (for tests of the clean-up).
    pub fn len(&self) -> usize {
        self.seats.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no seat is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connection's hold on its card; dropping it frees the seat when nobody else holds it.
#[derive(Debug)]
pub struct Seat {
    seats: std::sync::Arc<Seats>,
    participant: Uuid,
    rx: watch::Receiver<u64>,
    mine: u64,
}

impl Seat {
    /// Resolves once a later connection of the same participant took the seat.
    pub async fn taken(&mut self) {
        // The sender lives in the map while this receiver does (see `Drop`).
        while *self.rx.borrow_and_update() == self.mine {
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut seats = self.seats.seats.lock().unwrap_or_else(|p| p.into_inner());
        // This receiver still counts: one means it was the last.
        if seats
            .get(&self.participant)
            .is_some_and(|s| s.holder.receiver_count() <= 1)
        {
            seats.remove(&self.participant);
        }
    }
}

/// The printable sheet of cards: A4 pages of [`CARDS_PER_PAGE`] cards with cut lines,
/// each with the session's title, the QR code of its join link, the code to type and
/// how to use it. `qr` draws a link as SVG; every text is escaped here.
pub fn sheet(title: &str, join_url: &str, cards: &[String], qr: impl Fn(&str) -> String) -> String {
    let title = escape(title);
    let url = escape(join_url);
    let mut h = String::with_capacity(cards.len() * 8 * 1024);
    h.push_str(&format!(
        "<!doctype html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Stemkaarten — {title}</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/css/base.css\">\n\
         <link rel=\"stylesheet\" href=\"/assets/css/cards.css\">\n</head>\n<body>\n<main>\n\
         <h1 class=\"screen-only\">Stemkaarten — {title}</h1>\n\
         <p class=\"screen-only\">{} kaarten. Print op A4 en knip langs de lijnen. \
         <span lang=\"en\">{} cards. Print on A4 and cut along the lines.</span></p>\n",
        cards.len(),
        cards.len()
    ));
    for page in cards.chunks(CARDS_PER_PAGE) {
        h.push_str("<section class=\"page\">\n");
        for card in page {
            let link = format!("{join_url}#kaart={card}");
            let typed = display(card);
            h.push_str(&format!(
                "<article class=\"card\" aria-label=\"Stemkaart {typed}\">\n\
                 <p class=\"title\">{title}</p>\n<div class=\"qr\" role=\"img\" \
                 aria-label=\"QR-code van stemkaart {typed}\">{}</div>\n\
                 <div class=\"text\">\n<p class=\"code\">{typed}</p>\n\
                 <p class=\"url\">{url}</p>\n\
                 <p class=\"how\">Scan de QR-code met je telefoon, of open de link en typ de \
                 code. Eén kaart is één stem.</p>\n\
                 <p class=\"how-en\" lang=\"en\">Scan the QR code with your phone, or open the \
                 link and type the code. One card is one vote.</p>\n</div>\n</article>\n",
                without_prolog(&qr(&link)),
            ));
        }
        h.push_str("</section>\n");
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// An SVG document as an element to put inside HTML: without its XML declaration.
fn without_prolog(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, element)| element),
        None => svg,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_cards_are_typed_back_in_any_case_with_or_without_the_hyphen() {
        let cards = generate(50);
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

    #[tokio::test]
    async fn a_later_connection_takes_the_seat_and_the_last_one_frees_it() {
        let seats = std::sync::Arc::new(Seats::default());
        let participant = Uuid::new_v4();
        let mut first = seats.take(participant);
        let mut second = seats.take(participant);
        tokio::time::timeout(std::time::Duration::from_secs(1), first.taken())
            .await
            .expect("the first connection hears it was taken");
        let still =
            tokio::time::timeout(std::time::Duration::from_millis(50), second.taken()).await;
        assert!(still.is_err(), "the newest connection keeps its seat");
        drop(first);
        assert_eq!(seats.len(), 1);
        drop(second);
        assert!(seats.is_empty());
    }

    #[test]
    fn the_sheet_escapes_the_title_and_prints_every_card() {
        let cards = generate(9);
        let html = sheet("<b>Raad</b>", "http://h/ABCDEF", &cards, |_| {
            "<svg></svg>".into()
        });
        assert!(!html.contains("<b>Raad"));
        assert!(html.contains("&lt;b&gt;Raad"));
        assert_eq!(html.matches("<svg>").count(), 9);
        assert_eq!(html.matches("class=\"page\"").count(), 2);
        assert!(html.contains(&display(&cards[8])));
    }
}
