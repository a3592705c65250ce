//! The room logic: a pure state machine over one deck.
//!
//! No I/O, no async, no clock reads: time comes in with the commands that need it.
//! Every change is an [`Event`]; [`Session::apply`] checks a [`Command`] and returns the
//! events it caused, already applied through [`Session::replay`], which is also what
//! recovery runs on the stored events. So live operation and a restart share one path.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::core::arguments::{self, Argument, Arguments};
use crate::core::cards::Cards;
use crate::core::deck::Deck;
use crate::core::questions::{self, Question, Questions};

/// Where a statement's vote stands in its current round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not yet opened in this round.
    Pending,
    /// Votes are taken.
    Open,
    /// Votes are no longer taken; the count is final for this round.
    Closed,
}

pub use crate::core::ids::ParticipantId;

/// The largest hand count per option: more people than any hall holds, small enough
/// that no sum of counts can overflow.
pub const MAX_HAND_COUNT: u64 = 100_000;

/// The longest countdown a host may start, in seconds (an hour covers any debate).
pub const MAX_TIMER_SECONDS: u32 = 3600;

/// Something a user asks of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A phone presents itself; the first time, it becomes a participant.
    Join {
        /// The phone's id.
        participant: ParticipantId,
    },
    /// A participant picks a group, or clears it with `None`.
    ChooseGroup {
        participant: ParticipantId,
        /// One of the deck's groups.
        group: Option<String>,
    },
    /// A participant votes or changes its vote.
    Vote {
        participant: ParticipantId,
        /// The statement's slide index.
        slide: usize,
        /// The round the phone believes is current.
        round: u32,
        /// Option index (0 is A).
        option: usize,
    },
    /// Show a slide; leaving an open statement closes its vote.
    GoTo { slide: usize },
    /// Show the next slide (nothing at the end).
    Next,
    /// Show the previous slide (nothing at the start).
    Prev,
    /// Open the vote on the current statement.
    OpenVote,
    /// Close the vote on the current statement.
    CloseVote,
    /// Show or hide the results of the current round of the current statement.
    Reveal { visible: bool },
    /// Start a new, open round on the current statement, keeping the earlier round.
    Revote,
    /// Show or hide, on the screen, how the current round of the current statement
    /// differs from the round before it.
    ShowShift { visible: bool },
    /// Show or hide, on the screen, the current round's results per participant group.
    ShowGroups { visible: bool },
    /// A participant adds (or replaces) its argument on a statement, for its choice.
    Argue {
        participant: ParticipantId,
        slide: usize,
        text: String,
        /// The time now, for the participant's rate.
        now_ms: u64,
    },
    /// A participant withdraws its argument on a statement.
    WithdrawArgument {
        participant: ParticipantId,
        slide: usize,
        /// The time now, for the participant's rate.
        now_ms: u64,
    },
    /// A participant upvotes a listed argument (once).
    Upvote {
        participant: ParticipantId,
        argument: u32,
    },
    /// The host approves, highlights or removes an argument of the statement on show.
    Moderate {
        argument: u32,
        /// `None` removes it.
        status: Option<arguments::Status>,
    },
    /// Show or hide, on the screen, the approved arguments of the statement on show.
    ShowArguments { visible: bool },
    /// Set the hand counts of the current round of the current statement (replacing
    /// earlier hand counts of that round).
    HandCount {
        /// Per option, A first.
        counts: Vec<u64>,
    },
    /// Start a countdown on the current slide.
    StartTimer {
        seconds: u32,
        /// The time now, in milliseconds since the Unix epoch.
        now_ms: u64,
    },
    /// Stop the countdown.
    StopTimer,
    /// The clock reached the countdown's end: stop it and close an open vote.
    TimerExpired {
        /// The time now, in milliseconds since the Unix epoch.
        now_ms: u64,
    },
    /// Issue voting cards (made at random by the caller): from now on only a phone with
    /// a card joins. Refused once a participant joined without one.
    IssueCards { cards: Vec<String> },
    /// A phone presents a card: `participant` (see [`Session::card_participant`]) joins
    /// with it, or is its participant already.
    UseCard {
        /// The card, normalized.
        card: String,
        participant: ParticipantId,
    },
    /// A participant asks a question, whatever slide is on show.
    Ask {
        participant: ParticipantId,
        text: String,
        /// The time now, for the participant's rate.
        now_ms: u64,
    },
    /// A participant withdraws one of its questions.
    WithdrawQuestion {
        participant: ParticipantId,
        question: u32,
        /// The time now, for the participant's rate.
        now_ms: u64,
    },
    /// A participant upvotes a listed question of another participant (once).
    UpvoteQuestion {
        participant: ParticipantId,
        question: u32,
    },
    /// The host approves, highlights, marks answered or removes a question.
    ModerateQuestion {
        question: u32,
        /// `None` removes it.
        status: Option<questions::Status>,
    },
    /// The host opens or closes questions.
    OpenQuestions { open: bool },
    /// Show or hide, on the screen, the listed questions.
    ShowQuestions { visible: bool },
    /// Show or hide the opinion map on the screen, over the slide on show (a slide of
    /// the deck marked for it shows the map anyway).
    ShowMap { visible: bool },
    /// A phone asks which group of the opinion map it is in. The hub, which computes
    /// the map, answers it; the session changes nothing.
    MapGroup { participant: ParticipantId },
}

/// A change to a session: what the store keeps and recovery replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A new participant joined.
    Joined { participant: ParticipantId },
    /// A participant's group changed.
    GroupChosen {
        participant: ParticipantId,
        /// Index into the deck's groups, or none.
        group: Option<usize>,
    },
    /// A participant's current choice in a round became `option`.
    Voted {
        participant: ParticipantId,
        /// The statement's slide index.
        slide: usize,
        round: u32,
        option: usize,
    },
    /// The current slide changed.
    SlideShown { slide: usize },
    /// Votes are taken on a statement.
    VoteOpened { slide: usize },
    /// Votes are no longer taken on a statement.
    VoteClosed { slide: usize },
    /// The results of one round of a statement were shown or hidden.
    ResultsShown {
        visible: bool,
        /// The statement's slide index. Absent in logs from before results were shown
        /// per round; then it is the slide on show.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slide: Option<usize>,
        /// The round. Absent in those older logs; then it is the current round.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round: Option<u32>,
    },
    /// The shift from the round before to this round of a statement was shown on the
    /// screen or hidden.
    ShiftShown {
        /// The statement's slide index.
        slide: usize,
        /// The later of the two rounds compared (2 or more).
        round: u32,
        visible: bool,
    },
    /// The results per group of one round of a statement were shown on the screen or
    /// hidden.
    GroupsShown {
        /// The statement's slide index.
        slide: usize,
        /// The round.
        round: u32,
        visible: bool,
    },
    /// A participant's argument on a statement, pending the host.
    ArgumentAdded {
        argument: u32,
        participant: ParticipantId,
        slide: usize,
        option: usize,
        /// Empty once removed: the store rewrites the stored text (see `store`).
        text: String,
    },
    /// An argument was withdrawn, replaced or removed by the host; its stored text is
    /// rewritten to nothing in the same commit.
    ArgumentRemoved { argument: u32 },
    /// The host approved or highlighted an argument.
    ArgumentModerated {
        argument: u32,
        status: arguments::Status,
    },
    /// A participant upvoted an argument.
    ArgumentUpvoted {
        argument: u32,
        participant: ParticipantId,
    },
    /// The approved arguments of a statement were shown on the screen or hidden.
    ArgumentsShown { slide: usize, visible: bool },
    /// A new round started on a statement (it starts pending; `VoteOpened` follows).
    RoundStarted {
        slide: usize,
        /// The new round's number.
        round: u32,
    },
    /// Hand counts were set for a round.
    HandCounted {
        slide: usize,
        round: u32,
        counts: Vec<u64>,
    },
    /// A countdown started.
    TimerStarted {
        /// The slide it runs on.
        slide: usize,
        /// When it ends, in milliseconds since the Unix epoch.
        ends_at_ms: u64,
    },
    /// The countdown stopped or ended.
    TimerStopped,
    /// Voting cards were issued.
    CardsIssued { cards: Vec<String> },
    /// A card was used for the first time; its participant joined with it.
    CardTaken {
        card: String,
        participant: ParticipantId,
    },
    /// A participant's question, pending the host.
    QuestionAsked {
        question: u32,
        participant: ParticipantId,
        /// Empty once removed: the store rewrites the stored text (see `store`).
        text: String,
    },
    /// A question was withdrawn or removed by the host; its stored text is rewritten to
    /// nothing in the same commit.
    QuestionRemoved { question: u32 },
    /// The host approved, highlighted or answered a question.
    QuestionModerated {
        question: u32,
        status: questions::Status,
    },
    /// A participant upvoted a question.
    QuestionUpvoted {
        question: u32,
        participant: ParticipantId,
    },
    /// The host opened or closed questions.
    QuestionsOpened { open: bool },
    /// The listed questions were shown on the screen or hidden.
    QuestionsShown { visible: bool },
    /// The opinion map was shown on the screen or hidden (until the next slide).
    MapShown { visible: bool },
}

/// Who sees an event, and so how soon the hub publishes it (docs/protocol.md, "state").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// What every client sees: the slide, the phase, a reveal, the timer, what the
    /// screen shows. Published at once.
    Stage,
    /// Counts only the host and the screen see (votes, joins, hand counts, cards).
    Counts,
    /// The arguments of a statement, or the questions: the host sees each one; phones
    /// and the screen see the listed ones, which this may or may not change.
    Arguments,
    /// An upvote (of an argument or a question): a count the host and the screen see, and phones at most once a
    /// second.
    Upvote,
}

impl Event {
    /// Who sees the event.
    pub fn reach(&self) -> Reach {
        match self {
            Event::Joined { .. }
            | Event::GroupChosen { .. }
            | Event::Voted { .. }
            | Event::HandCounted { .. }
            | Event::CardsIssued { .. }
            | Event::CardTaken { .. } => Reach::Counts,
            Event::ArgumentAdded { .. }
            | Event::ArgumentRemoved { .. }
            | Event::ArgumentModerated { .. }
            | Event::QuestionAsked { .. }
            | Event::QuestionRemoved { .. }
            | Event::QuestionModerated { .. } => Reach::Arguments,
            Event::ArgumentUpvoted { .. } | Event::QuestionUpvoted { .. } => Reach::Upvote,
            _ => Reach::Stage,
        }
    }
}

/// The cards follow the session's card events; the fold lives beside the events, so
/// `cards` knows nothing of the session. The store reads a session's cards this way
/// without loading the session.
impl Cards {
    /// Follows a stored event: the card events change the cards, the rest do not. A
    /// card event that does not fit is passed over, as replay refuses it.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::CardsIssued { cards } => self.issue(cards),
            Event::CardTaken { card, participant } => {
                self.take(card, *participant).ok();
            }
            _ => {}
        }
    }
}

/// Why a command was refused. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    /// The participant never joined.
    NotJoined,
    /// No slide with that index.
    UnknownSlide,
    /// The slide is not a statement.
    NotAStatement,
    /// The statement's vote is not open.
    VoteClosed,
    /// The vote names a round that is not the current one.
    RoundOver,
    /// No option with that index.
    UnknownOption,
    /// No group with that name.
    UnknownGroup,
    /// The vote is already open.
    AlreadyOpen,
    /// A re-vote needs a round that was opened before.
    NothingToRevote,
    /// The shift between rounds needs a statement with a second round.
    NoEarlierRound,
    /// Results per group need a deck with groups.
    NoGroups,
    /// The deck says `arguments: off`.
    ArgumentsOff,
    /// An argument needs a vote in the current round.
    NotVoted,
    /// An argument's text is empty, too long or has control characters.
    BadArgument,
    /// Arguments come at most once per [`arguments::ARGUE_EVERY_MS`] per participant.
    TooFast,
    /// The deck says `upvotes: off`.
    UpvotesOff,
    /// No such argument (listed, for an upvote) on the statement on show.
    UnknownArgument,
    /// The timer length is outside 1..=MAX_TIMER_SECONDS.
    BadTimer,
    /// Hand counts must name every option, each at most MAX_HAND_COUNT.
    BadHandCount,
    /// The session has voting cards and the phone presented none.
    CardRequired,
    /// No such card was issued in this session.
    UnknownCard,
    /// Cards cannot be issued once participants joined without one.
    ParticipantsWithoutCards,
    /// The session would hold more than `cards::MAX_CARDS` cards.
    TooManyCards,
    /// The deck says `questions: off`.
    QuestionsOff,
    /// The host has not opened questions (or closed them).
    QuestionsClosed,
    /// A question's text is empty, too long or has control characters.
    BadQuestion,
    /// The participant has [`questions::MAX_QUESTIONS_EACH`] questions already.
    TooManyQuestions,
    /// No such question (listed, for an upvote; its asker's, for a withdrawal).
    UnknownQuestion,
    /// A participant cannot upvote its own question.
    OwnQuestion,
    /// The opinion map needs votes on at least two statements.
    MapNeedsStatements,
}

impl Rejection {
    /// The stable code sent to clients.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::NotJoined => "not_joined",
            Rejection::UnknownSlide => "unknown_slide",
            Rejection::NotAStatement => "not_a_statement",
            Rejection::VoteClosed => "vote_closed",
            Rejection::RoundOver => "round_over",
            Rejection::UnknownOption => "unknown_option",
            Rejection::UnknownGroup => "unknown_group",
            Rejection::AlreadyOpen => "already_open",
            Rejection::NothingToRevote => "nothing_to_revote",
            Rejection::NoEarlierRound => "no_earlier_round",
            Rejection::NoGroups => "no_groups",
            Rejection::ArgumentsOff => "arguments_off",
            Rejection::NotVoted => "not_voted",
            Rejection::BadArgument => "bad_argument",
            Rejection::TooFast => "too_fast",
            Rejection::UpvotesOff => "upvotes_off",
            Rejection::UnknownArgument => "unknown_argument",
            Rejection::BadTimer => "bad_timer",
            Rejection::BadHandCount => "bad_hand_count",
            Rejection::CardRequired => "card_required",
            Rejection::UnknownCard => "unknown_card",
            Rejection::ParticipantsWithoutCards => "participants_without_cards",
            Rejection::TooManyCards => "too_many_cards",
            Rejection::QuestionsOff => "questions_off",
            Rejection::QuestionsClosed => "questions_closed",
            Rejection::BadQuestion => "bad_question",
            Rejection::TooManyQuestions => "too_many_questions",
            Rejection::UnknownQuestion => "unknown_question",
            Rejection::OwnQuestion => "own_question",
            Rejection::MapNeedsStatements => "map_needs_statements",
        }
    }
}

/// Why a stored event cannot be applied to a session; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit(pub String);

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unfit {}

/// One round of votes on a statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Each participant's current choice in this round.
    pub votes: HashMap<ParticipantId, usize>,
    /// Number of participants per option; kept equal to counting `votes`.
    pub counts: Vec<u64>,
    /// Votes counted by hand in the room (people without a phone), per option.
    pub hands: Vec<u64>,
    /// Whether this round's results are shown on the screen (and on the phones once the
    /// round is closed). A round starts hidden unless the deck says `results: live`.
    pub revealed: bool,
    /// Whether the shift from the round before to this one is shown on the screen.
    /// Always false for round 1.
    pub shift_shown: bool,
    /// Whether this round's results per group are shown on the screen.
    pub groups_shown: bool,
    /// Phone votes per group and option, kept with every vote and group change, so the
    /// host's view of the groups costs nothing in a burst: slot 0 is "no group", slot
    /// `i + 1` the deck's group `i`; slots grow as groups vote.
    by_group: Vec<Vec<u64>>,
}

impl Round {
    fn new(options: usize, revealed: bool) -> Self {
        Round {
            votes: HashMap::new(),
            counts: vec![0; options],
            hands: vec![0; options],
            revealed,
            shift_shown: false,
            groups_shown: false,
            by_group: vec![],
        }
    }

    /// Phone votes per option of the participants in group `group` (`None`: no group).
    pub fn group_counts(&self, group: Option<usize>) -> Vec<u64> {
        self.by_group
            .get(group_slot(group))
            .cloned()
            .unwrap_or_else(|| vec![0; self.counts.len()])
    }

    fn count_group(&mut self, group: Option<usize>, option: usize, up: bool) {
        let slot = group_slot(group);
        if self.by_group.len() <= slot {
            self.by_group.resize(slot + 1, vec![0; self.counts.len()]);
        }
        let count = &mut self.by_group[slot][option];
        *count = if up { *count + 1 } else { *count - 1 };
    }

    /// Phone votes and hand counts together, per option: what the room decided.
    pub fn tally(&self) -> Vec<u64> {
        self.counts
            .iter()
            .zip(&self.hands)
            .map(|(phones, hands)| phones + hands)
            .collect()
    }

    /// Everybody who voted: phones and hands.
    pub fn voted(&self) -> u64 {
        self.votes.len() as u64 + self.hands.iter().sum::<u64>()
    }
}

fn group_slot(group: Option<usize>) -> usize {
    group.map_or(0, |g| g + 1)
}

/// The vote on one statement slide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Where the current round stands.
    pub phase: Phase,
    /// All rounds, first first; the last one is current. Never empty.
    pub rounds: Vec<Round>,
}

impl Statement {
    fn new(options: usize, revealed: bool) -> Self {
        Statement {
            phase: Phase::Pending,
            rounds: vec![Round::new(options, revealed)],
        }
    }

    /// The current round's number, from 1.
    pub fn round_number(&self) -> u32 {
        self.rounds.len() as u32
    }

    /// The current round.
    pub fn current(&self) -> &Round {
        self.rounds.last().expect("a statement has a round")
    }
}

/// A running countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// The slide it runs on.
    pub slide: usize,
    /// When it ends, in milliseconds since the Unix epoch.
    pub ends_at_ms: u64,
}

/// The state of one session: where the deck stands and every vote in it.
#[derive(Debug, Clone)]
pub struct Session {
    deck: Arc<Deck>,
    current: usize,
    /// Indexed by slide; `None` for content slides.
    statements: Vec<Option<Statement>>,
    /// Each participant's group (index into the deck's groups).
    participants: HashMap<ParticipantId, Option<usize>>,
    timer: Option<Timer>,
    arguments: Arguments,
    /// When each participant last added or withdrew an argument. Kept in memory only:
    /// a limit on the live session, not a fact of the room.
    last_argued: HashMap<ParticipantId, u64>,
    /// The questions of the session and whether they are open.
    questions: Questions,
    /// When each participant last asked or withdrew a question, as `last_argued`.
    last_asked: HashMap<ParticipantId, u64>,
    /// The voting cards, if the session has them.
    cards: Cards,
    /// The host's choice for the slide on show: show the opinion map (`Some(true)`) or
    /// hide it (`Some(false)`); `None` leaves it to the slide (shown where the deck
    /// marks it). A new slide starts at `None`.
    map_shown: Option<bool>,
}

impl Session {
    /// A fresh session at the first slide, nothing opened.
    pub fn new(deck: Arc<Deck>) -> Self {
        let statements = (0..deck.slides.len())
            .map(|i| {
                deck.options(i)
                    .map(|o| Statement::new(o.len(), deck.starts_revealed(i)))
            })
            .collect();
        Session {
            deck,
            current: 0,
            statements,
            participants: HashMap::new(),
            timer: None,
            arguments: Arguments::default(),
            last_argued: HashMap::new(),
            questions: Questions::default(),
            last_asked: HashMap::new(),
            cards: Cards::default(),
            map_shown: None,
        }
    }

    /// The deck this session runs.
    pub fn deck(&self) -> &Arc<Deck> {
        &self.deck
    }

    /// Runs on `deck` from now on. For an edit of texts only: the caller has made sure
    /// [`Deck::structure_change`] finds none, so every event still means what it meant.
    pub fn replace_deck(&mut self, deck: Arc<Deck>) {
        debug_assert!(self.deck.structure_change(&deck).is_none());
        self.deck = deck;
    }

    /// The index of the slide on show.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Whether the results of the round on show are revealed: false on a content slide,
    /// and for every new round until the host reveals it (or the deck made it live).
    pub fn revealed(&self) -> bool {
        self.statement(self.current)
            .is_some_and(|s| s.current().revealed)
    }

    /// Whether the shift into the round on show is shown on the screen.
    pub fn shift_shown(&self) -> bool {
        self.statement(self.current)
            .is_some_and(|s| s.current().shift_shown)
    }

    /// The running countdown, if any.
    pub fn timer(&self) -> Option<Timer> {
        self.timer
    }

    /// How many participants have joined.
    pub fn joined(&self) -> usize {
        self.participants.len()
    }

    /// Whether this participant has joined.
    pub fn has_participant(&self, participant: &ParticipantId) -> bool {
        self.participants.contains_key(participant)
    }

    /// The statements with a phone vote in any round, in slide order: what the opinion
    /// map rests on (it needs two).
    pub fn statements_with_votes(&self) -> Vec<usize> {
        (0..self.statements.len())
            .filter(|&i| {
                self.statement(i)
                    .is_some_and(|s| s.rounds.iter().any(|r| !r.votes.is_empty()))
            })
            .collect()
    }

    /// Whether the screen shows the opinion map: as the host chose for the slide on
    /// show, or else where the deck marks the slide for it.
    pub fn map_on_show(&self) -> bool {
        self.map_shown
            .unwrap_or(self.deck.slides[self.current].opinion_map)
    }

    /// The session's voting cards.
    pub fn cards(&self) -> &Cards {
        &self.cards
    }

    /// Who a phone presenting a card as typed becomes (see [`Cards::participant_for`]):
    /// `fresh` unless the card or the phone's own id says otherwise; with the card as
    /// stored.
    pub fn card_participant(
        &self,
        typed: &str,
        presented: Option<ParticipantId>,
        fresh: ParticipantId,
    ) -> Result<(ParticipantId, String), Rejection> {
        let card = crate::core::cards::normalize(typed).ok_or(Rejection::UnknownCard)?;
        let participant = self
            .cards
            .participant_for(&card, presented, |p| self.has_participant(p), fresh)
            .ok_or(Rejection::UnknownCard)?;
        Ok((participant, card))
    }

    /// The participant's group name, if it chose one.
    pub fn group_of(&self, participant: &ParticipantId) -> Option<&str> {
        let index = (*self.participants.get(participant)?)?;
        self.deck.groups.get(index).map(String::as_str)
    }

    /// The index of the participant's group, if it chose one.
    pub fn group_index(&self, participant: &ParticipantId) -> Option<usize> {
        *self.participants.get(participant)?
    }

    /// The vote on slide `index`, if it is a statement.
    pub fn statement(&self, index: usize) -> Option<&Statement> {
        self.statements.get(index)?.as_ref()
    }

    /// The participant's choices in the current round of every statement.
    pub fn votes_of(&self, participant: &ParticipantId) -> Vec<(usize, u32, usize)> {
        self.statements
            .iter()
            .enumerate()
            .filter_map(|(slide, s)| {
                let s = s.as_ref()?;
                let option = *s.current().votes.get(participant)?;
                Some((slide, s.round_number(), option))
            })
            .collect()
    }

    /// Checks a command; if it changes anything, applies it and returns the events
    /// (empty when the command changes nothing, e.g. the same vote again).
    pub fn apply(&mut self, command: Command) -> Result<Vec<Event>, Rejection> {
        let argued = match &command {
            Command::Argue {
                participant,
                now_ms,
                ..
            }
            | Command::WithdrawArgument {
                participant,
                now_ms,
                ..
            } => Some((false, *participant, *now_ms)),
            Command::Ask {
                participant,
                now_ms,
                ..
            }
            | Command::WithdrawQuestion {
                participant,
                now_ms,
                ..
            } => Some((true, *participant, *now_ms)),
            _ => None,
        };
        let events = self.decide(command)?;
        for event in &events {
            self.replay(event)
                .expect("an event just decided fits the session");
        }
        if let Some((asked, participant, now_ms)) = argued.filter(|_| !events.is_empty()) {
            let last = if asked {
                &mut self.last_asked
            } else {
                &mut self.last_argued
            };
            last.insert(participant, now_ms);
        }
        Ok(events)
    }

    /// The questions of the session.
    pub fn questions(&self) -> &Questions {
        &self.questions
    }

    /// The arguments of the session.
    pub fn arguments(&self) -> &Arguments {
        &self.arguments
    }

    /// What a command would change, without changing anything.
    fn decide(&self, command: Command) -> Result<Vec<Event>, Rejection> {
        match command {
            Command::Join { participant } => self.decide_join(participant),
            Command::ChooseGroup { participant, group } => self.decide_group(participant, group),
            Command::Vote {
                participant,
                slide,
                round,
                option,
            } => self.decide_vote(participant, slide, round, option),
            Command::GoTo { slide } => self.decide_go_to(slide),
            Command::Next => Ok(self.decide_next()),
            Command::Prev => Ok(self.decide_prev()),
            Command::OpenVote => self.decide_open(),
            Command::CloseVote => self.decide_close(),
            Command::Reveal { visible } => self.decide_reveal(visible),
            Command::Revote => self.decide_revote(),
            Command::ShowShift { visible } => self.decide_shift(visible),
            Command::ShowGroups { visible } => self.decide_groups(visible),
            Command::Argue {
                participant,
                slide,
                text,
                now_ms,
            } => self.decide_argue(participant, slide, &text, now_ms),
            Command::WithdrawArgument {
                participant,
                slide,
                now_ms,
            } => self.decide_withdraw(participant, slide, now_ms),
            Command::Upvote {
                participant,
                argument,
            } => self.decide_upvote(participant, argument),
            Command::Moderate { argument, status } => self.decide_moderation(argument, status),
            Command::ShowArguments { visible } => self.decide_show_arguments(visible),
            Command::HandCount { counts } => self.decide_hands(counts),
            Command::StartTimer { seconds, now_ms } => self.decide_start_timer(seconds, now_ms),
            Command::StopTimer => Ok(self.decide_stop_timer()),
            Command::TimerExpired { now_ms } => Ok(self.timer_expired(now_ms)),
            Command::IssueCards { cards } => self.decide_cards(cards),
            Command::UseCard { card, participant } => self.decide_use_card(card, participant),
            Command::Ask {
                participant,
                text,
                now_ms,
            } => self.decide_ask(participant, &text, now_ms),
            Command::WithdrawQuestion {
                participant,
                question,
                now_ms,
            } => self.decide_withdraw_question(participant, question, now_ms),
            Command::UpvoteQuestion {
                participant,
                question,
            } => self.decide_upvote_question(participant, question),
            Command::ModerateQuestion { question, status } => {
                self.decide_question_moderation(question, status)
            }
            Command::OpenQuestions { open } => self.decide_open_questions(open),
            Command::ShowQuestions { visible } => self.decide_show_questions(visible),
            Command::ShowMap { visible } => self.decide_map(visible),
            Command::MapGroup { .. } => Ok(vec![]),
        }
    }

    /// A participant joins once; in a session with cards, only by taking a card.
    fn decide_join(&self, participant: ParticipantId) -> Result<Vec<Event>, Rejection> {
        if self.has_participant(&participant) {
            Ok(vec![])
        } else if self.cards.required() {
            Err(Rejection::CardRequired)
        } else {
            Ok(vec![Event::Joined { participant }])
        }
    }

    /// The host goes to a slide of the deck.
    fn decide_go_to(&self, slide: usize) -> Result<Vec<Event>, Rejection> {
        if slide >= self.deck.slides.len() {
            return Err(Rejection::UnknownSlide);
        }
        Ok(self.leave_for(slide))
    }

    /// The next slide, if there is one.
    fn decide_next(&self) -> Vec<Event> {
        let next = self.current + 1;
        if next < self.deck.slides.len() {
            self.leave_for(next)
        } else {
            vec![]
        }
    }

    /// The previous slide, if there is one.
    fn decide_prev(&self) -> Vec<Event> {
        match self.current.checked_sub(1) {
            Some(prev) => self.leave_for(prev),
            None => vec![],
        }
    }

    /// Opens the vote on the statement on show.
    fn decide_open(&self) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        match self.statement_at(slide)?.phase {
            Phase::Open => Err(Rejection::AlreadyOpen),
            // Reopening a closed round keeps its votes: the host closed too early.
            Phase::Pending | Phase::Closed => Ok(vec![Event::VoteOpened { slide }]),
        }
    }

    /// Closes the vote on the statement on show, if it is open.
    fn decide_close(&self) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        Ok(match self.statement_at(slide)?.phase {
            Phase::Open => self.close_events(slide),
            Phase::Pending | Phase::Closed => vec![],
        })
    }

    /// A participant withdraws its argument on a slide, at the arguments' pace.
    fn decide_withdraw(
        &self,
        participant: ParticipantId,
        slide: usize,
        now_ms: u64,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_argue(participant, slide, now_ms)?;
        Ok(self
            .arguments
            .of(&participant, slide)
            .map(|a| Event::ArgumentRemoved { argument: a.number })
            .into_iter()
            .collect())
    }

    /// Shows or hides the arguments of the statement on show.
    fn decide_show_arguments(&self, visible: bool) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        self.statement_at(slide)?;
        Ok(if visible == self.arguments.shown(slide) {
            vec![]
        } else {
            vec![Event::ArgumentsShown { slide, visible }]
        })
    }

    /// Starts a countdown of `seconds` on the slide on show.
    fn decide_start_timer(&self, seconds: u32, now_ms: u64) -> Result<Vec<Event>, Rejection> {
        if seconds == 0 || seconds > MAX_TIMER_SECONDS {
            return Err(Rejection::BadTimer);
        }
        Ok(vec![Event::TimerStarted {
            slide: self.current,
            ends_at_ms: now_ms + u64::from(seconds) * 1000,
        }])
    }

    /// Stops the countdown, if one runs.
    fn decide_stop_timer(&self) -> Vec<Event> {
        if self.timer.is_some() {
            vec![Event::TimerStopped]
        } else {
            vec![]
        }
    }

    /// A participant takes a card (joining with it if it had not joined).
    fn decide_use_card(
        &self,
        card: String,
        participant: ParticipantId,
    ) -> Result<Vec<Event>, Rejection> {
        if !self
            .cards
            .can_take(&card, &participant)
            .map_err(|_| Rejection::UnknownCard)?
        {
            return Ok(vec![]);
        }
        let mut events = vec![];
        if !self.has_participant(&participant) {
            events.push(Event::Joined { participant });
        }
        events.push(Event::CardTaken { card, participant });
        Ok(events)
    }

    /// Cards are for a session that has them from its start: issuing is refused once a
    /// participant joined without one, who would vote beside the cards.
    fn decide_cards(&self, cards: Vec<String>) -> Result<Vec<Event>, Rejection> {
        if self
            .participants
            .keys()
            .any(|p| self.cards.card_of(p).is_none())
        {
            return Err(Rejection::ParticipantsWithoutCards);
        }
        let mut seen = std::collections::HashSet::new();
        let new: Vec<String> = cards
            .into_iter()
            .filter(|c| !self.cards.is_issued(c) && seen.insert(c.clone()))
            .collect();
        if self.cards.issued() + new.len() > crate::core::cards::MAX_CARDS {
            return Err(Rejection::TooManyCards);
        }
        Ok(if new.is_empty() {
            vec![]
        } else {
            vec![Event::CardsIssued { cards: new }]
        })
    }

    fn decide_group(
        &self,
        participant: ParticipantId,
        group: Option<String>,
    ) -> Result<Vec<Event>, Rejection> {
        let current = *self
            .participants
            .get(&participant)
            .ok_or(Rejection::NotJoined)?;
        let group = match group {
            None => None,
            Some(name) => Some(
                self.deck
                    .groups
                    .iter()
                    .position(|g| *g == name)
                    .ok_or(Rejection::UnknownGroup)?,
            ),
        };
        Ok(if group == current {
            vec![]
        } else {
            vec![Event::GroupChosen { participant, group }]
        })
    }

    /// A vote counts on the current round of an open statement, for one of its options;
    /// the same choice again changes nothing.
    fn decide_vote(
        &self,
        participant: ParticipantId,
        slide: usize,
        round: u32,
        option: usize,
    ) -> Result<Vec<Event>, Rejection> {
        if !self.has_participant(&participant) {
            return Err(Rejection::NotJoined);
        }
        let statement = self.statement_at(slide)?;
        if round != statement.round_number() {
            return Err(Rejection::RoundOver);
        }
        if statement.phase != Phase::Open {
            return Err(Rejection::VoteClosed);
        }
        if option >= statement.current().counts.len() {
            return Err(Rejection::UnknownOption);
        }
        Ok(
            if statement.current().votes.get(&participant) == Some(&option) {
                vec![]
            } else {
                vec![Event::Voted {
                    participant,
                    slide,
                    round,
                    option,
                }]
            },
        )
    }

    fn decide_reveal(&self, visible: bool) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        let statement = self.statement_at(slide)?;
        let shown = statement.current().revealed;
        Ok(Self::toggled(statement, visible, shown, |round| {
            Event::ResultsShown {
                visible,
                slide: Some(slide),
                round: Some(round),
            }
        }))
    }

    /// The shift can be shown once a statement has a second round; it belongs to the
    /// current round, like the reveal.
    fn decide_shift(&self, visible: bool) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        let statement = self.statement_at(slide)?;
        if statement.rounds.len() < 2 {
            return Err(Rejection::NoEarlierRound);
        }
        let shown = statement.current().shift_shown;
        Ok(Self::toggled(statement, visible, shown, |round| {
            Event::ShiftShown {
                slide,
                round,
                visible,
            }
        }))
    }

    /// Results per group can be shown on a statement of a deck with groups; they belong
    /// to the current round, like the reveal.
    fn decide_groups(&self, visible: bool) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        let statement = self.statement_at(slide)?;
        if self.deck.groups.is_empty() {
            return Err(Rejection::NoGroups);
        }
        let shown = statement.current().groups_shown;
        Ok(Self::toggled(statement, visible, shown, |round| {
            Event::GroupsShown {
                slide,
                round,
                visible,
            }
        }))
    }

    /// What every argument and withdrawal needs: a participant, a statement with its
    /// vote open, arguments on, and the participant's rate.
    fn check_argue(
        &self,
        participant: ParticipantId,
        slide: usize,
        now_ms: u64,
    ) -> Result<&Statement, Rejection> {
        if !self.has_participant(&participant) {
            return Err(Rejection::NotJoined);
        }
        let statement = self.statement_at(slide)?;
        if !self.deck.arguments {
            return Err(Rejection::ArgumentsOff);
        }
        if statement.phase != Phase::Open {
            return Err(Rejection::VoteClosed);
        }
        if self
            .last_argued
            .get(&participant)
            .is_some_and(|&last| now_ms < last + arguments::ARGUE_EVERY_MS)
        {
            return Err(Rejection::TooFast);
        }
        Ok(statement)
    }

    /// An argument for the participant's choice in the current round; one that replaces
    /// an earlier one removes that one first.
    fn decide_argue(
        &self,
        participant: ParticipantId,
        slide: usize,
        text: &str,
        now_ms: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let statement = self.check_argue(participant, slide, now_ms)?;
        let Some(&option) = statement.current().votes.get(&participant) else {
            return Err(Rejection::NotVoted);
        };
        let text = arguments::clean_text(text).ok_or(Rejection::BadArgument)?;
        let mut events: Vec<Event> = self
            .arguments
            .of(&participant, slide)
            .map(|a| Event::ArgumentRemoved { argument: a.number })
            .into_iter()
            .collect();
        events.push(Event::ArgumentAdded {
            argument: self.arguments.next_number(),
            participant,
            slide,
            option,
            text,
        });
        Ok(events)
    }

    /// An upvote of a listed argument on the statement on show; a second one changes
    /// nothing.
    fn decide_upvote(
        &self,
        participant: ParticipantId,
        argument: u32,
    ) -> Result<Vec<Event>, Rejection> {
        if !self.has_participant(&participant) {
            return Err(Rejection::NotJoined);
        }
        if !self.deck.upvotes {
            return Err(Rejection::UpvotesOff);
        }
        let found = self
            .arguments
            .get(argument)
            .filter(|a| a.slide == self.current && a.status.listed())
            .ok_or(Rejection::UnknownArgument)?;
        Ok(if found.upvoters.contains(&participant) {
            vec![]
        } else {
            vec![Event::ArgumentUpvoted {
                argument,
                participant,
            }]
        })
    }

    /// The host's decision on an argument of the statement on show.
    fn decide_moderation(
        &self,
        argument: u32,
        status: Option<arguments::Status>,
    ) -> Result<Vec<Event>, Rejection> {
        let found = self
            .arguments
            .get(argument)
            .filter(|a| a.slide == self.current)
            .ok_or(Rejection::UnknownArgument)?;
        Ok(match status {
            None => vec![Event::ArgumentRemoved { argument }],
            Some(status) if status == found.status => vec![],
            Some(status) => vec![Event::ArgumentModerated { argument, status }],
        })
    }

    /// What every question and withdrawal needs: a participant, questions on, and the
    /// participant's rate (one per [`arguments::ARGUE_EVERY_MS`], as for arguments).
    fn check_ask(&self, participant: ParticipantId, now_ms: u64) -> Result<(), Rejection> {
        if !self.has_participant(&participant) {
            return Err(Rejection::NotJoined);
        }
        if !self.deck.questions {
            return Err(Rejection::QuestionsOff);
        }
        if self
            .last_asked
            .get(&participant)
            .is_some_and(|&last| now_ms < last + arguments::ARGUE_EVERY_MS)
        {
            return Err(Rejection::TooFast);
        }
        Ok(())
    }

    /// A question while questions are open, the text cleaned as an argument's.
    fn decide_ask(
        &self,
        participant: ParticipantId,
        text: &str,
        now_ms: u64,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_ask(participant, now_ms)?;
        if !self.questions.open() {
            return Err(Rejection::QuestionsClosed);
        }
        let text = arguments::clean_text(text).ok_or(Rejection::BadQuestion)?;
        if self.questions.by(&participant).len() >= questions::MAX_QUESTIONS_EACH {
            return Err(Rejection::TooManyQuestions);
        }
        Ok(vec![Event::QuestionAsked {
            question: self.questions.next_number(),
            participant,
            text,
        }])
    }

    /// A participant withdraws a question of its own, also once questions are closed:
    /// what it wrote stays its own to take back.
    fn decide_withdraw_question(
        &self,
        participant: ParticipantId,
        question: u32,
        now_ms: u64,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_ask(participant, now_ms)?;
        self.questions
            .get(question)
            .filter(|q| q.asker == participant)
            .ok_or(Rejection::UnknownQuestion)?;
        Ok(vec![Event::QuestionRemoved { question }])
    }

    /// An upvote of another participant's listed question while questions are open; a
    /// second one changes nothing.
    fn decide_upvote_question(
        &self,
        participant: ParticipantId,
        question: u32,
    ) -> Result<Vec<Event>, Rejection> {
        if !self.has_participant(&participant) {
            return Err(Rejection::NotJoined);
        }
        if !self.deck.questions {
            return Err(Rejection::QuestionsOff);
        }
        if !self.questions.open() {
            return Err(Rejection::QuestionsClosed);
        }
        let found = self
            .questions
            .get(question)
            .filter(|q| q.status.listed())
            .ok_or(Rejection::UnknownQuestion)?;
        if found.asker == participant {
            return Err(Rejection::OwnQuestion);
        }
        Ok(if found.upvoters.contains(&participant) {
            vec![]
        } else {
            vec![Event::QuestionUpvoted {
                question,
                participant,
            }]
        })
    }

    /// The host's decision on a question, at any moment; highlighting one returns the
    /// one highlighted before to the approved, so the screen shows one large.
    fn decide_question_moderation(
        &self,
        question: u32,
        status: Option<questions::Status>,
    ) -> Result<Vec<Event>, Rejection> {
        let found = self
            .questions
            .get(question)
            .ok_or(Rejection::UnknownQuestion)?;
        let Some(status) = status else {
            return Ok(vec![Event::QuestionRemoved { question }]);
        };
        if status == found.status {
            return Ok(vec![]);
        }
        let mut events = vec![];
        if status == questions::Status::Highlighted {
            if let Some(before) = self.questions.highlighted() {
                events.push(Event::QuestionModerated {
                    question: before.number,
                    status: questions::Status::Approved,
                });
            }
        }
        events.push(Event::QuestionModerated { question, status });
        Ok(events)
    }

    /// The host opens or closes questions (in a deck with `questions: on`).
    fn decide_open_questions(&self, open: bool) -> Result<Vec<Event>, Rejection> {
        if !self.deck.questions {
            return Err(Rejection::QuestionsOff);
        }
        Ok(if open == self.questions.open() {
            vec![]
        } else {
            vec![Event::QuestionsOpened { open }]
        })
    }

    /// The host shows or hides the listed questions on the screen.
    fn decide_show_questions(&self, visible: bool) -> Result<Vec<Event>, Rejection> {
        if !self.deck.questions {
            return Err(Rejection::QuestionsOff);
        }
        Ok(if visible == self.questions.shown() {
            vec![]
        } else {
            vec![Event::QuestionsShown { visible }]
        })
    }

    /// An event setting a per-round flag of the statement on show (`current` is the
    /// flag now), or none if it is set so already.
    fn toggled(
        statement: &Statement,
        visible: bool,
        current: bool,
        event: impl FnOnce(u32) -> Event,
    ) -> Vec<Event> {
        if visible == current {
            vec![]
        } else {
            vec![event(statement.round_number())]
        }
    }

    /// A round of a statement, for replay.
    fn round_mut(&mut self, slide: usize, round: u32) -> Result<&mut Round, Unfit> {
        let Some(Some(statement)) = self.statements.get_mut(slide) else {
            return Err(Unfit("the slide is not a statement of the deck".into()));
        };
        round
            .checked_sub(1)
            .and_then(|i| statement.rounds.get_mut(i as usize))
            .ok_or_else(|| Unfit("the statement has no such round".into()))
    }

    /// A re-vote closes the current round if it is open and starts the next, open.
    fn decide_revote(&self) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        let statement = self.statement_at(slide)?;
        let mut events = match statement.phase {
            Phase::Pending => return Err(Rejection::NothingToRevote),
            Phase::Open => self.close_events(slide),
            Phase::Closed => vec![],
        };
        events.push(Event::RoundStarted {
            slide,
            round: statement.round_number() + 1,
        });
        events.push(Event::VoteOpened { slide });
        Ok(events)
    }

    fn decide_hands(&self, counts: Vec<u64>) -> Result<Vec<Event>, Rejection> {
        let slide = self.current;
        let statement = self.statement_at(slide)?;
        if statement.phase == Phase::Pending {
            return Err(Rejection::VoteClosed);
        }
        if counts.len() != statement.current().hands.len()
            || counts.iter().any(|&c| c > MAX_HAND_COUNT)
        {
            return Err(Rejection::BadHandCount);
        }
        Ok(if counts == statement.current().hands {
            vec![]
        } else {
            vec![Event::HandCounted {
                slide,
                round: statement.round_number(),
                counts,
            }]
        })
    }

    /// A due countdown stops and closes the vote it ran on, if that is open.
    fn timer_expired(&self, now_ms: u64) -> Vec<Event> {
        match self.timer {
            Some(timer) if now_ms >= timer.ends_at_ms => {
                let mut events = vec![Event::TimerStopped];
                if self.statement(timer.slide).map(|s| s.phase) == Some(Phase::Open) {
                    events.push(Event::VoteClosed { slide: timer.slide });
                }
                events
            }
            _ => vec![],
        }
    }

    fn statement_at(&self, slide: usize) -> Result<&Statement, Rejection> {
        if slide >= self.deck.slides.len() {
            return Err(Rejection::UnknownSlide);
        }
        self.statement(slide).ok_or(Rejection::NotAStatement)
    }

    /// Closing a vote also ends a countdown running on it.
    fn close_events(&self, slide: usize) -> Vec<Event> {
        let mut events = vec![];
        if self.timer.is_some_and(|t| t.slide == slide) {
            events.push(Event::TimerStopped);
        }
        events.push(Event::VoteClosed { slide });
        events
    }

    /// Leaving a slide closes its open vote and stops its countdown, so at most one
    /// statement is ever open and it is the one on show.
    fn leave_for(&self, slide: usize) -> Vec<Event> {
        if slide == self.current {
            return vec![];
        }
        let mut events = vec![];
        if self.statement(self.current).map(|s| s.phase) == Some(Phase::Open) {
            events.extend(self.close_events(self.current));
        } else if self.timer.is_some() {
            events.push(Event::TimerStopped);
        }
        events.push(Event::SlideShown { slide });
        events
    }

    /// Shows the opinion map, or hides it, on the slide on show (a slide marked for it
    /// too). Over a slide not marked for it, only once two statements have votes; a
    /// marked slide shows the map anyway, saying why it has none yet.
    fn decide_map(&self, visible: bool) -> Result<Vec<Event>, Rejection> {
        let marked = self.deck.slides[self.current].opinion_map;
        if visible && !marked && self.statements_with_votes().len() < 2 {
            return Err(Rejection::MapNeedsStatements);
        }
        if visible == self.map_on_show() {
            return Ok(vec![]);
        }
        Ok(vec![Event::MapShown { visible }])
    }

    /// Applies an event that was decided before (live) or stored (recovery).
    ///
    /// Events come from `apply` or from the store, which only holds what `apply`
    /// produced, so they fit the deck. One that does not (a damaged or hand-edited
    /// database) is refused, and nothing changes: a session that skipped it would go on
    /// with a tally nobody voted for.
    pub fn replay(&mut self, event: &Event) -> Result<(), Unfit> {
        match event {
            Event::Joined { .. }
            | Event::GroupChosen { .. }
            | Event::CardsIssued { .. }
            | Event::CardTaken { .. } => self.replay_membership(event),
            Event::Voted { .. }
            | Event::VoteOpened { .. }
            | Event::VoteClosed { .. }
            | Event::RoundStarted { .. }
            | Event::HandCounted { .. } => self.replay_round(event),
            Event::SlideShown { .. }
            | Event::ResultsShown { .. }
            | Event::ShiftShown { .. }
            | Event::GroupsShown { .. }
            | Event::TimerStarted { .. }
            | Event::TimerStopped
            | Event::MapShown { .. } => self.replay_display(event),
            Event::ArgumentAdded { .. }
            | Event::ArgumentRemoved { .. }
            | Event::ArgumentModerated { .. }
            | Event::ArgumentUpvoted { .. }
            | Event::ArgumentsShown { .. } => self.replay_argument(event),
            Event::QuestionAsked { .. }
            | Event::QuestionRemoved { .. }
            | Event::QuestionModerated { .. }
            | Event::QuestionUpvoted { .. }
            | Event::QuestionsOpened { .. }
            | Event::QuestionsShown { .. } => self.replay_question(event),
        }
    }

    /// Replays who is in the room: joins, group choices and cards.
    fn replay_membership(&mut self, event: &Event) -> Result<(), Unfit> {
        match *event {
            Event::Joined { participant } => {
                self.participants.entry(participant).or_insert(None);
            }
            Event::GroupChosen { participant, group } => {
                if group.is_some_and(|i| i >= self.deck.groups.len()) {
                    return unfit("the deck has no group with that number");
                }
                let Some(g) = self.participants.get_mut(&participant) else {
                    return unfit("the participant never joined");
                };
                let before = std::mem::replace(g, group);
                if before != group {
                    // Its votes move with it, in every round.
                    for round in self
                        .statements
                        .iter_mut()
                        .flatten()
                        .flat_map(|s| &mut s.rounds)
                    {
                        if let Some(&option) = round.votes.get(&participant) {
                            round.count_group(before, option, false);
                            round.count_group(group, option, true);
                        }
                    }
                }
            }
            Event::CardsIssued { ref cards } => self.cards.issue(cards),
            Event::CardTaken {
                ref card,
                participant,
            } => {
                if !self.participants.contains_key(&participant) {
                    return unfit("the participant never joined");
                }
                if self.cards.take(card, participant).is_err() {
                    return unfit("the card was not issued, or is held by another participant");
                }
            }
            _ => unreachable!("replay_membership given {event:?}"),
        }
        Ok(())
    }

    /// Replays the rounds of a statement: votes, opening and closing, a new round and
    /// counted hands.
    fn replay_round(&mut self, event: &Event) -> Result<(), Unfit> {
        match *event {
            Event::Voted {
                participant,
                slide,
                round,
                option,
            } => {
                if !self.participants.contains_key(&participant) {
                    return unfit("the participant never joined");
                }
                let Some(Some(statement)) = self.statements.get_mut(slide) else {
                    return unfit("the slide is not a statement of the deck");
                };
                if round != statement.round_number() {
                    return unfit("the round is not the statement's current round");
                }
                let current = statement.rounds.last_mut().expect("a round");
                if option >= current.counts.len() {
                    return unfit("the statement has no such option");
                }
                let group = self.participants[&participant];
                if let Some(previous) = current.votes.insert(participant, option) {
                    current.counts[previous] -= 1;
                    current.count_group(group, previous, false);
                }
                current.counts[option] += 1;
                current.count_group(group, option, true);
            }
            Event::VoteOpened { slide } => self.set_phase(slide, Phase::Open)?,
            Event::VoteClosed { slide } => self.set_phase(slide, Phase::Closed)?,
            Event::RoundStarted { slide, round } => {
                let Some(Some(statement)) = self.statements.get_mut(slide) else {
                    return unfit("the slide is not a statement of the deck");
                };
                if round != statement.round_number() + 1 {
                    return unfit("the round does not follow the statement's current round");
                }
                let options = statement.current().counts.len();
                let revealed = self.deck.starts_revealed(slide);
                statement.rounds.push(Round::new(options, revealed));
                statement.phase = Phase::Pending;
            }
            Event::HandCounted {
                slide,
                round,
                ref counts,
            } => {
                let Some(Some(statement)) = self.statements.get_mut(slide) else {
                    return unfit("the slide is not a statement of the deck");
                };
                let number = statement.round_number();
                let current = statement.rounds.last_mut().expect("a round");
                if round != number || counts.len() != current.hands.len() {
                    return unfit("the counts do not fit the statement's current round");
                }
                current.hands.clone_from(counts);
            }
            _ => unreachable!("replay_round given {event:?}"),
        }
        Ok(())
    }

    /// Replays what the screen shows: the slide, a round's results, shift and groups,
    /// and the countdown.
    fn replay_display(&mut self, event: &Event) -> Result<(), Unfit> {
        match *event {
            Event::SlideShown { slide } => {
                if slide >= self.deck.slides.len() {
                    return unfit("the deck has no such slide");
                }
                self.current = slide;
                self.map_shown = None;
            }
            Event::MapShown { visible } => self.map_shown = Some(visible),
            Event::ResultsShown {
                visible,
                slide,
                round,
            } => {
                let Some(Some(statement)) = self.statements.get_mut(slide.unwrap_or(self.current))
                else {
                    if slide.is_none() {
                        // An older log showed results while a content slide was up:
                        // then there was nothing to show.
                        return Ok(());
                    }
                    return unfit("the slide is not a statement of the deck");
                };
                let number = round.unwrap_or(statement.round_number());
                let Some(round) = number
                    .checked_sub(1)
                    .and_then(|i| statement.rounds.get_mut(i as usize))
                else {
                    return unfit("the statement has no such round");
                };
                round.revealed = visible;
            }
            Event::ShiftShown {
                slide,
                round,
                visible,
            } => {
                if round < 2 {
                    return unfit("the statement has no such round after its first");
                }
                self.round_mut(slide, round)?.shift_shown = visible;
            }
            Event::GroupsShown {
                slide,
                round,
                visible,
            } => self.round_mut(slide, round)?.groups_shown = visible,
            Event::TimerStarted { slide, ends_at_ms } => {
                if slide >= self.deck.slides.len() {
                    return unfit("the deck has no such slide");
                }
                self.timer = Some(Timer { slide, ends_at_ms });
            }
            Event::TimerStopped => self.timer = None,
            _ => unreachable!("replay_display given {event:?}"),
        }
        Ok(())
    }

    /// Replays the arguments: added, removed, moderated, upvoted and shown.
    fn replay_argument(&mut self, event: &Event) -> Result<(), Unfit> {
        match *event {
            Event::ArgumentAdded {
                argument,
                participant,
                slide,
                option,
                ref text,
            } => {
                if !self.participants.contains_key(&participant) {
                    return unfit("the participant never joined");
                }
                let Some(Some(statement)) = self.statements.get(slide) else {
                    return unfit("the slide is not a statement of the deck");
                };
                if option >= statement.current().counts.len() {
                    return unfit("the statement has no such option");
                }
                self.arguments
                    .add(Argument {
                        number: argument,
                        author: participant,
                        slide,
                        option,
                        text: text.clone(),
                        status: arguments::Status::Pending,
                        upvoters: Default::default(),
                    })
                    .or_else(unfit)?;
            }
            Event::ArgumentRemoved { argument } => {
                self.arguments.remove(argument).or_else(unfit)?
            }
            Event::ArgumentModerated { argument, status } => {
                self.arguments.moderate(argument, status).or_else(unfit)?
            }
            Event::ArgumentUpvoted {
                argument,
                participant,
            } => {
                if !self.participants.contains_key(&participant) {
                    return unfit("the participant never joined");
                }
                self.arguments
                    .upvote(argument, participant)
                    .or_else(unfit)?
            }
            Event::ArgumentsShown { slide, visible } => {
                if !matches!(self.statements.get(slide), Some(Some(_))) {
                    return unfit("the slide is not a statement of the deck");
                }
                self.arguments.show(slide, visible);
            }
            _ => unreachable!("replay_argument given {event:?}"),
        }
        Ok(())
    }

    /// Replays the questions: asked, removed, moderated, upvoted, opened and shown.
    fn replay_question(&mut self, event: &Event) -> Result<(), Unfit> {
        match *event {
            Event::QuestionAsked {
                question,
                participant,
                ref text,
            } => {
                if !self.participants.contains_key(&participant) {
                    return unfit("the participant never joined");
                }
                self.questions
                    .add(Question {
                        number: question,
                        asker: participant,
                        text: text.clone(),
                        status: questions::Status::Pending,
                        upvoters: Default::default(),
                    })
                    .or_else(unfit)?;
            }
            Event::QuestionRemoved { question } => {
                self.questions.remove(question).or_else(unfit)?
            }
            Event::QuestionModerated { question, status } => {
                self.questions.moderate(question, status).or_else(unfit)?
            }
            Event::QuestionUpvoted {
                question,
                participant,
            } => {
                if !self.participants.contains_key(&participant) {
                    return unfit("the participant never joined");
                }
                self.questions
                    .upvote(question, participant)
                    .or_else(unfit)?
            }
            Event::QuestionsOpened { open } => self.questions.set_open(open),
            Event::QuestionsShown { visible } => self.questions.show(visible),
            _ => unreachable!("replay_question given {event:?}"),
        }
        Ok(())
    }

    fn set_phase(&mut self, slide: usize, phase: Phase) -> Result<(), Unfit> {
        match self.statements.get_mut(slide) {
            Some(Some(statement)) => {
                statement.phase = phase;
                Ok(())
            }
            _ => Err(Unfit("the slide is not a statement of the deck".into())),
        }
    }
}

/// Why an event does not fit the session, as an `Err` for [`Session::replay`].
fn unfit<T>(why: &str) -> Result<T, Unfit> {
    Err(Unfit(why.to_owned()))
}
