//! Every message that crosses the WebSocket, in one place.
//!
//! The wire format is JSON text frames, one message per frame, tagged by `type`.
//! `docs/protocol.md` describes each message with an example; the tests in
//! `tests/it/protocol.rs` pin those examples, so a change here that breaks a client fails
//! a test first.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::core::opinion::Choice;
pub use crate::core::session::Phase;
pub use crate::core::tally::{Moved, ScaleStats, Suppressed};

/// The protocol version a server speaks; sent in [`ServerMsg::Welcome`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Which of the three users a connection belongs to, decided by the key in `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An anonymous phone: may join, pick a group and vote.
    Participant,
    /// The facilitator: holds the host key and steers the session.
    Host,
    /// The projector: holds the screen key and only reads.
    Screen,
}

/// The language a connection wants its error messages in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Dutch, the default.
    #[default]
    Nl,
    /// English.
    En,
}

/// A message from a client (participant, host or screen) to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first message on every connection: presents a key (none for a participant)
    /// and, for a returning phone, the participant id it was given before.
    Hello {
        /// Host or screen key; absent or empty for a participant.
        #[serde(default)]
        key: Option<String>,
        /// The role asked for when the key is not in `key` but in the cookie the host
        /// or screen link set (`host` or `screen`); absent for a participant.
        #[serde(default)]
        role: Option<Role>,
        /// The id from an earlier `welcome`, so a reload is the same participant.
        #[serde(default)]
        participant_id: Option<Uuid>,
        /// A voting card (`ABCDE-FGHJK`; hyphen and case ignored), for a session with
        /// cards: its first use makes the phone a participant, a later use on another
        /// phone makes that phone the same participant.
        #[serde(default)]
        card: Option<String>,
        /// Language for error messages.
        #[serde(default)]
        lang: Lang,
    },
    /// A participant picks (or changes) the group it belongs to; `null` clears it.
    ChooseGroup {
        /// One of the deck's groups.
        group: Option<String>,
    },
    /// A participant votes, or changes its vote, on a statement.
    Vote {
        /// Client-chosen message id, echoed in the `ack` or `error`.
        id: u64,
        /// Index of the statement's slide.
        slide: usize,
        /// The round the vote belongs to (1, or higher after a re-vote).
        round: u32,
        /// Index of the option: 0 is A, 1 is B, …
        option: usize,
    },
    /// A participant adds an argument for its choice on a statement, or replaces its
    /// earlier one there.
    Argue {
        /// Client-chosen message id, echoed in the `argued` or `error`.
        id: u64,
        /// Index of the statement's slide.
        slide: usize,
        /// 1 to 280 characters of plain text.
        text: String,
    },
    /// A participant withdraws its argument on a statement.
    WithdrawArgument {
        /// Index of the statement's slide.
        slide: usize,
    },
    /// A participant upvotes a listed argument, once.
    Upvote {
        /// The argument's number.
        argument: u32,
    },
    /// Host: approve, highlight or hide (remove) an argument of the statement on show.
    Moderate {
        /// The argument's number.
        argument: u32,
        /// `approved`, `highlighted` or `hidden`; anything else is `bad_status`.
        status: String,
    },
    /// Host: show or hide, on the screen, the approved arguments of the statement on
    /// show.
    ShowArguments {
        /// Whether they are shown.
        visible: bool,
    },
    /// Host: show the slide with this index.
    GoTo {
        /// Slide index, from 0.
        slide: usize,
    },
    /// Host: show the next slide.
    Next,
    /// Host: show the previous slide.
    Prev,
    /// Host: open the vote on the current statement.
    OpenVote,
    /// Host: close the vote on the current statement.
    CloseVote,
    /// Host: show or hide the results on the screen and phones.
    Reveal {
        /// Whether the results are visible.
        visible: bool,
    },
    /// Host: start a new round on the current statement (a re-vote after discussion);
    /// the earlier round is kept so the report can show who switched.
    Revote,
    /// Host: show or hide, on the screen, what moved between the round before and the
    /// current round of the current statement (refused with `no_earlier_round` in the
    /// first round).
    ShowShift {
        /// Whether the shift is shown.
        visible: bool,
    },
    /// Host: show or hide, on the screen, the current round's results per participant
    /// group (refused with `no_groups` for a deck without groups). The screen gets them
    /// only while the round's results are revealed.
    ShowGroups {
        /// Whether the results per group are shown.
        visible: bool,
    },
    /// Host: set the hand counts of the current round (people voting by raised hand),
    /// added to the phones' votes in the tally; sending again replaces them.
    HandCount {
        /// Per option, A first; each 0..=100000.
        counts: Vec<u64>,
    },
    /// Host: start a countdown; when it ends the vote closes.
    StartTimer {
        /// Length of the countdown in seconds (1..=3600).
        seconds: u32,
    },
    /// Host: stop the countdown without closing the vote.
    StopTimer,
    /// A participant asks a question, whatever slide is on show, while questions are
    /// open.
    Ask {
        /// Client-chosen message id, echoed in the `asked` or `error`.
        id: u64,
        /// 1 to 280 characters of plain text, by the rules of `argue`.
        text: String,
    },
    /// A participant withdraws one of its questions.
    WithdrawQuestion {
        /// The question's number, from `asked`.
        question: u32,
    },
    /// A participant upvotes a listed question of another participant, once.
    UpvoteQuestion {
        /// The question's number.
        question: u32,
    },
    /// Host: approve, highlight, mark answered or hide (remove) a question.
    ModerateQuestion {
        /// The question's number.
        question: u32,
        /// `approved`, `highlighted`, `answered` or `hidden`; anything else is
        /// `bad_status`.
        status: String,
    },
    /// Host: open or close questions (participants ask and upvote while open).
    OpenQuestions {
        /// Whether questions are open.
        open: bool,
    },
    /// Host: show or hide the listed questions on the screen.
    ShowQuestions {
        /// Whether they are shown.
        visible: bool,
    },
    /// Host: show or hide the opinion map on the screen over the slide on show (once
    /// two statements have votes).
    ShowMap {
        /// Show (`true`) or hide.
        visible: bool,
    },
    /// Participant: which group of the opinion map on show this phone is in (answered
    /// with `map_group`).
    MapGroup,
}

impl ClientMsg {
    /// Whether only a host connection may send this message.
    pub fn is_host_command(&self) -> bool {
        !matches!(
            self,
            ClientMsg::Hello { .. }
                | ClientMsg::ChooseGroup { .. }
                | ClientMsg::Vote { .. }
                | ClientMsg::Argue { .. }
                | ClientMsg::WithdrawArgument { .. }
                | ClientMsg::Upvote { .. }
                | ClientMsg::Ask { .. }
                | ClientMsg::WithdrawQuestion { .. }
                | ClientMsg::UpvoteQuestion { .. }
                | ClientMsg::MapGroup
        )
    }
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to `hello`: who the server takes the client to be and what it needs
    /// before the first `state`.
    Welcome(Box<Welcome>),
    /// A vote is stored durably and counts.
    Ack {
        /// The `id` of the vote message.
        id: u64,
        /// The statement's slide index.
        slide: usize,
        /// The round the vote counts in.
        round: u32,
        /// The option that now counts for this participant.
        option: usize,
    },
    /// An argument is stored, pending the host.
    Argued {
        /// The `id` of the `argue` message.
        id: u64,
        /// The statement's slide index.
        slide: usize,
        /// The argument's number in the session.
        argument: u32,
        /// The option it argues for.
        option: usize,
    },
    /// A host command with an `id` was carried out and what it changed is stored.
    Ok {
        /// The `id` of the command message.
        id: u64,
    },
    /// A message was refused; nothing changed.
    Error {
        /// Stable machine-readable code, e.g. `vote_closed`, `not_allowed`.
        code: String,
        /// A sentence for a person, in the connection's language.
        message: String,
        /// The `id` of the refused vote, when a vote was refused.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A question is stored, pending the host.
    Asked {
        /// The `id` of the `ask` message.
        id: u64,
        /// The question's number in the session.
        question: u32,
    },
    /// The answer to `map_group`: this phone's group on the opinion map, and nobody
    /// else's.
    MapGroup {
        /// The `id` of the `map_group` message, if it had one.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        /// The map's `version`, as in `state.opinion_map`.
        version: u64,
        /// The group's number (1 is the largest); `null` when the phone is not on the
        /// map (it did not vote, or no map is shown).
        group: Option<usize>,
    },
}

/// The sentence for a person that goes with an error `code`, in the connection's
/// language: every error the server sends takes its text from here.
pub fn error_message(code: &str, lang: Lang) -> &'static str {
    match (code, lang) {
        ("not_joined", Lang::Nl) => "Je bent nog niet aangemeld bij deze sessie.",
        ("not_joined", Lang::En) => "You have not joined this session yet.",
        ("unknown_slide", Lang::Nl) => "Die dia bestaat niet.",
        ("unknown_slide", Lang::En) => "That slide does not exist.",
        ("not_a_statement", Lang::Nl) => "Op deze dia wordt niet gestemd.",
        ("not_a_statement", Lang::En) => "This slide has no vote.",
        ("vote_closed", Lang::Nl) => "De stemming is niet open.",
        ("vote_closed", Lang::En) => "Voting is not open.",
        ("round_over", Lang::Nl) => "Deze stemronde is voorbij; stem opnieuw.",
        ("round_over", Lang::En) => "This round is over; please vote again.",
        ("unknown_option", Lang::Nl) => "Die keuze bestaat niet.",
        ("unknown_option", Lang::En) => "That option does not exist.",
        ("unknown_group", Lang::Nl) => "Die groep bestaat niet.",
        ("unknown_group", Lang::En) => "That group does not exist.",
        ("already_open", Lang::Nl) => "De stemming is al open.",
        ("already_open", Lang::En) => "Voting is already open.",
        ("nothing_to_revote", Lang::Nl) => "Er is nog niet gestemd; open eerst de stemming.",
        ("nothing_to_revote", Lang::En) => "Nobody has voted yet; open the vote first.",
        ("no_earlier_round", Lang::Nl) => {
            "Er is nog geen eerdere ronde; start eerst een nieuwe stemronde."
        }
        ("no_earlier_round", Lang::En) => "There is no earlier round; start a new round first.",
        ("no_groups", Lang::Nl) => "Dit deck heeft geen deelnemersgroepen.",
        ("no_groups", Lang::En) => "This deck has no participant groups.",
        ("bad_timer", Lang::Nl) => "Een timer duurt 1 seconde tot 1 uur.",
        ("bad_timer", Lang::En) => "A timer lasts from 1 second to 1 hour.",
        ("bad_hand_count", Lang::Nl) => "Geef voor elke keuze een aantal van 0 tot 100.000.",
        ("bad_hand_count", Lang::En) => "Give a number from 0 to 100,000 for every option.",
        ("arguments_off", Lang::Nl) => "Bij deze stellingen worden geen argumenten gevraagd.",
        ("arguments_off", Lang::En) => "This deck asks for no arguments.",
        ("not_voted", Lang::Nl) => "Stem eerst; dan kun je je keuze onderbouwen.",
        ("not_voted", Lang::En) => "Vote first; then you can argue for your choice.",
        ("bad_argument", Lang::Nl) => {
            "Schrijf 1 tot 280 tekens, zonder tabs of andere stuurtekens."
        }
        ("bad_argument", Lang::En) => {
            "Write 1 to 280 characters, without tabs or other control characters."
        }
        ("too_fast", Lang::Nl) => "Even geduld: één argument of vraag per 5 seconden.",
        ("too_fast", Lang::En) => "Hold on: one argument or question per 5 seconds.",
        ("upvotes_off", Lang::Nl) => "Bij deze stellingen kun je argumenten niet steunen.",
        ("upvotes_off", Lang::En) => "This deck does not take upvotes.",
        ("unknown_argument", Lang::Nl) => "Dat argument bestaat niet (meer) bij deze stelling.",
        ("unknown_argument", Lang::En) => {
            "That argument does not exist (any more) on this statement."
        }
        ("bad_status", Lang::Nl) => "Kies approved, highlighted, answered of hidden.",
        ("bad_status", Lang::En) => "Choose approved, highlighted, answered or hidden.",
        ("questions_off", Lang::Nl) => "Bij deze sessie worden geen vragen gesteld.",
        ("questions_off", Lang::En) => "This session takes no questions.",
        ("questions_closed", Lang::Nl) => "Er kunnen nu geen vragen worden gesteld.",
        ("questions_closed", Lang::En) => "Questions are not open just now.",
        ("bad_question", Lang::Nl) => {
            "Schrijf 1 tot 280 tekens, zonder tabs of andere stuurtekens."
        }
        ("bad_question", Lang::En) => {
            "Write 1 to 280 characters, without tabs or other control characters."
        }
        ("too_many_questions", Lang::Nl) => {
            "Je hebt al 5 vragen gesteld; trek er een in om een nieuwe te stellen."
        }
        ("too_many_questions", Lang::En) => {
            "You have asked 5 questions; withdraw one to ask another."
        }
        ("unknown_question", Lang::Nl) => "Die vraag bestaat niet (meer).",
        ("unknown_question", Lang::En) => "That question does not exist (any more).",
        ("own_question", Lang::Nl) => "Je eigen vraag kun je niet steunen.",
        ("own_question", Lang::En) => "You cannot upvote your own question.",
        ("not_allowed", Lang::Nl) => "Dat mag alleen de gespreksleider.",
        ("not_allowed", Lang::En) => "Only the facilitator may do that.",
        ("bad_key", Lang::Nl) => "Deze sleutel hoort niet bij deze sessie.",
        ("bad_key", Lang::En) => "This key does not belong to this session.",
        ("hello_expected", _) => {
            "Het eerste bericht moet 'hello' zijn. / The first message must be 'hello'."
        }
        ("already_joined", Lang::Nl) => "Je bent al aangemeld.",
        ("already_joined", Lang::En) => "You have already joined.",
        ("rate_limited", Lang::Nl) => "Te veel berichten tegelijk; probeer het zo opnieuw.",
        ("rate_limited", Lang::En) => "Too many messages at once; try again in a moment.",
        ("card_required", Lang::Nl) => "Voor deze sessie heb je een stemkaart nodig.",
        ("card_required", Lang::En) => "This session needs a voting card.",
        ("unknown_card", Lang::Nl) => "Deze stemkaart hoort niet bij deze sessie.",
        ("unknown_card", Lang::En) => "This voting card does not belong to this session.",
        ("too_many_joins", Lang::Nl) => "Te veel nieuwe deelnemers tegelijk; even geduld.",
        ("too_many_joins", Lang::En) => "Too many new participants at once; one moment.",
        ("storage_unavailable", Lang::Nl) => {
            "Dit kon nu niet worden opgeslagen; probeer het zo opnieuw."
        }
        ("storage_unavailable", Lang::En) => {
            "This could not be stored just now; try again shortly."
        }
        ("session_unavailable", Lang::Nl) => {
            "De sessie is even niet bereikbaar; je wordt zo opnieuw verbonden."
        }
        ("session_unavailable", Lang::En) => {
            "The session cannot be reached just now; reconnecting shortly."
        }
        ("map_needs_statements", Lang::Nl) => {
            "De meningskaart heeft stemmen op minstens twee stellingen nodig."
        }
        ("map_needs_statements", Lang::En) => {
            "The opinion map needs votes on at least two statements."
        }
        (_, Lang::Nl) => "Dit bericht wordt niet begrepen.",
        (_, Lang::En) => "This message is not understood.",
    }
}

impl ServerMsg {
    /// An `error` with its sentence in `lang`; `id` names the refused message.
    pub fn error(code: &str, lang: Lang, id: Option<u64>) -> ServerMsg {
        ServerMsg::Error {
            code: code.to_owned(),
            message: error_message(code, lang).to_owned(),
            id,
        }
    }
}

/// Body of [`ServerMsg::Welcome`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the server speaks.
    pub version: u32,
    /// The role the key gave this connection.
    pub role: Role,
    /// The session's join code.
    pub code: String,
    /// The deck's title.
    pub title: String,
    /// The language of the slides' text (a language tag, `nl` unless the deck says
    /// otherwise), for a `lang` attribute on slide content in a page of another language.
    pub lang: String,
    /// The participant groups to choose from (may be empty).
    pub groups: Vec<String>,
    /// For a participant: its id, to keep and present in the next `hello`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<Uuid>,
    /// For a participant: the group it chose earlier, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For a participant: its current votes, so a reload shows its own choice.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub votes: Vec<OwnVote>,
    /// For a participant: its own arguments not removed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub arguments: Vec<OwnArgument>,
    /// For a participant: the arguments it upvoted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub upvoted: Vec<u32>,
    /// For the host: the outline of the deck.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub slides: Vec<SlideOutline>,
    /// The participant URL (for the join banner and the host's share link).
    pub join_url: String,
    /// For the host: the screen page's URL with the screen key, to open on the projector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_url: Option<String>,
    /// What this connection may send and how quiet it may be.
    pub limits: WireLimits,
    /// For a participant: its own questions not removed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub questions: Vec<OwnQuestion>,
    /// For a participant: the questions it upvoted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub upvoted_questions: Vec<u32>,
}

/// The limits a connection lives under, sent in `welcome` so a client need not guess.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WireLimits {
    /// The server pings this often; a browser answers by itself.
    pub ping_interval_ms: u64,
    /// A connection that sends nothing, not even a pong, this long is closed (4000).
    pub idle_timeout_ms: u64,
    /// The largest message the server takes; a larger one closes the connection (1009).
    pub max_message_bytes: usize,
    /// Messages per second on average; more are refused with `rate_limited`.
    pub messages_per_second: f64,
    /// Messages that may come at once above the average.
    pub burst: f64,
}

/// One of a participant's current votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnVote {
    /// The statement's slide index.
    pub slide: usize,
    pub round: u32,
    /// The chosen option index.
    pub option: usize,
}

/// One of a participant's own arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnArgument {
    /// The statement's slide index.
    pub slide: usize,
    /// The argument's number.
    pub argument: u32,
    /// The option it argues for.
    pub option: usize,
    /// Its text.
    pub text: String,
}

/// One of a participant's own questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnQuestion {
    /// The question's number.
    pub question: u32,
    /// Its text.
    pub text: String,
}

/// The questions of the session, as a role sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionsView {
    /// Whether participants may ask and upvote now.
    pub open: bool,
    /// Whether the screen shows the listed ones.
    pub shown: bool,
    /// For the host every question not removed, oldest first; for the others the
    /// listed ones: the highlighted one, then the open ones by upvotes, then the
    /// answered ones.
    pub items: Vec<QuestionView>,
}

/// One question in a `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionView {
    /// Its number in the session.
    pub question: u32,
    /// Its text, to be shown as plain text.
    pub text: String,
    /// `pending` (host only), `approved`, `highlighted` or `answered`.
    pub status: crate::core::questions::Status,
    /// How many participants upvoted it.
    pub upvotes: u64,
}

/// The arguments of the statement on show, as a role sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentsView {
    /// Whether the screen shows the approved ones.
    pub shown: bool,
    /// Whether participants may upvote them (the deck's `upvotes:`).
    pub upvotes: bool,
    /// For the host: per option, the arguments not removed (pending included).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counts: Option<Vec<u64>>,
    /// For the host every argument not removed, oldest first; for the others the
    /// listed ones, highlighted first, then by upvotes.
    pub items: Vec<ArgumentView>,
}

/// One argument in a `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentView {
    /// Its number in the session.
    pub argument: u32,
    /// The option it argues for.
    pub option: usize,
    /// Its text, to be shown as plain text.
    pub text: String,
    /// `pending` (host only), `approved` or `highlighted`.
    pub status: crate::core::arguments::Status,
    /// How many participants upvoted it.
    pub upvotes: u64,
}

/// One line of the host's slide list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlideOutline {
    /// Slide index, from 0.
    pub index: usize,
    /// `content` or `statement`.
    pub kind: SlideKindName,
    /// A short title for the list.
    pub title: String,
    /// Whether the statement is a scale (only sent when it is).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scale: bool,
}

/// The two kinds of slide, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlideKindName {
    /// A slide that shows findings.
    Content,
    /// A slide that asks for a vote.
    Statement,
}

/// Where a slide's images stand against its text, as named on the wire (a slide
/// without a `layout` shows its images where its Markdown puts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayoutName {
    /// The text and options in one half, the images in the other (`{naast}`).
    Beside,
    /// The images under the text and options, across the width (`{onder}`).
    Under,
}

/// The shared view of a session, sent as `{"type":"state", …}` whenever it changes.
///
/// One value is serialized once per role and tick and the same bytes go to every
/// connection of that role; it is built in `hub`, so it is not part of [`ServerMsg`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateView {
    /// Always `"state"`, so the client can dispatch on `type` as for other messages.
    #[serde(rename = "type")]
    pub kind: StateTag,
    /// The current slide.
    pub slide: SlideView,
    /// Whether results are shown on the screen.
    pub revealed: bool,
    /// Participants who have joined (host and screen only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<u64>,
    /// Votes in the current round, phones and hand counts (host and screen only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voted: Option<u64>,
    /// Votes per option, phones and hand counts together: always for the host; for
    /// the screen when revealed; for participants when revealed and closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tally: Option<Vec<u64>>,
    /// The `tally` as whole percentages of its sum, rounded half up (equal counts, equal
    /// percentages; they may add up to 99–101): with the tally.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub percents: Option<Vec<u64>>,
    /// The hand counts within the tally, per option: to host and screen with the tally,
    /// when any were entered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hands: Option<Vec<u64>>,
    /// On a scale, the median and mean of the tally: with the tally, once somebody voted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stats: Option<ScaleStats>,
    /// Whether the store can write (host only): `failing` means votes are refused
    /// with `storage_unavailable` until it can again.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage: Option<Storage>,
    /// Stored events of this session that could not be applied when it was loaded,
    /// and were skipped (host only; absent when none): its counts may differ from
    /// what was voted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub skipped_events: Option<u64>,
    /// A running countdown, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerView>,
    /// What moved between the round before and the current round: for the host from
    /// round 2 on, for the screen while the host shows it; never for participants.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shift: Option<ShiftView>,
    /// The current round's results per participant group (phones only; hand counts
    /// have no group): for the host on every statement of a deck with groups, for the
    /// screen while the host shows them and the round is revealed; never for phones.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub groups: Option<GroupsView>,
    /// The arguments of the statement on show (a deck with `arguments: on`): for the
    /// host all not removed, for the screen the listed ones while shown, for phones the
    /// listed ones.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arguments: Option<ArgumentsView>,
    /// The voting cards of a session that has them: to host and screen.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cards: Option<CardsView>,
    /// What the presenter sees beside the slide on show: host only, always; never to
    /// the screen or phones, whose views must not carry the notes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub presenter: Option<PresenterView>,
    /// The questions of a session whose deck takes them (`questions: on`): for the host
    /// all not removed, for the screen the listed ones while shown, for phones the
    /// listed ones.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub questions: Option<QuestionsView>,
    /// The opinion map, while it is on show: to host and screen whole, to phones only
    /// its `version`, `status` and `group_count` (a phone asks for its own group with
    /// `map_group`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub opinion_map: Option<MapView>,
}

/// The opinion map as a role sees it (docs/protocol.md, "The opinion map").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapView {
    /// Goes up with every new computation of the map in this session's run.
    pub version: u64,
    /// `computing` (the first computation runs), `few_statements` (fewer than two
    /// statements have votes), `few_participants` (too few for two groups of
    /// `min_group_size`) or `map`.
    pub status: MapStatus,
    /// The deck's `min_group_size`: no group on the map is smaller.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub min_group_size: Option<u64>,
    /// Participants on the map (with `few_participants`: who voted).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub participants: Option<u64>,
    /// With `few_participants`: how many two groups need.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub needed: Option<u64>,
    /// Number of groups (phones get this and not the groups).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub group_count: Option<usize>,
    /// The groups, largest first: size and centre (`x`, `y` from 0 to 1000).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub groups: Option<Vec<MapGroupView>>,
    /// The participants as dots: `[x, y, group, n]`, `n` participants at that spot.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dots: Option<Vec<(i64, i64, usize, u64)>>,
    /// The statements the map rests on, in slide order, with what each group chose.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub statements: Option<Vec<MapStatementView>>,
    /// Slides of the consensus statements, strongest first.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub consensus: Option<Vec<usize>>,
    /// Slides of the divisive statements, most divided first.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub divisive: Option<Vec<usize>>,
    /// The share of the differences between participants the map shows, in percent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub explained: Option<u64>,
}

/// Where the opinion map stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapStatus {
    /// The first computation is running.
    Computing,
    /// Fewer than two statements have votes.
    FewStatements,
    /// Too few participants voted for two groups of `min_group_size`.
    FewParticipants,
    /// The map.
    Map,
}

/// One group of the opinion map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapGroupView {
    /// Participants in it.
    pub size: u64,
    /// Its centre, from 0 to 1000.
    pub x: i64,
    pub y: i64,
}

/// One statement under the opinion map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapStatementView {
    /// The statement's slide.
    pub slide: usize,
    /// Its title.
    pub title: String,
    /// Its options (a scale's point labels, `""` for a bare point).
    pub options: Vec<String>,
    /// Whether it is a scale (only sent when it is).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub scale: bool,
    /// The option most chosen by the participants on the map.
    pub top: usize,
    /// Per group (as `groups`), its votes as percentages per option; `null` where
    /// fewer than `min_group_size` of the group voted (or its complement).
    pub percents: Vec<Option<Vec<u64>>>,
    /// Per group (as `groups`), the option it chose most and its percentage, as the
    /// pages show it; `null` where `percents` is.
    pub chosen: Vec<Option<Choice>>,
}

/// The host's presenter view: the notes for the slide on show and the slide after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenterView {
    /// The presenter's notes for the slide on show, rendered to HTML as `slide.html`
    /// is; absent when the slide has none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notes: Option<String>,
    /// The next slide as the room will see it, in the form of `slide`; absent on the
    /// last slide.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next: Option<SlideView>,
}

/// How many voting cards a session issued, and how many were used to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardsView {
    /// Cards issued.
    pub issued: u64,
    /// Cards a phone joined with.
    pub used: u64,
}

/// Results per group, small groups suppressed as in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsView {
    /// Whether the host shows them on the screen.
    pub shown: bool,
    /// Groups with fewer voters than this have no counts (the deck's `min_group_size`).
    pub min_group_size: u64,
    /// One row per group of the deck, in deck order, then one for participants without
    /// a group if any of them voted.
    pub rows: Vec<GroupRowView>,
}

/// One group's result in the current round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRowView {
    /// The group's name; `null` for participants who chose none.
    pub group: Option<String>,
    /// Votes per option; `null` when suppressed.
    pub counts: Option<Vec<u64>>,
    /// `counts` as percentages of `voted`, rounded as the `tally`'s; `null` when
    /// suppressed.
    #[serde(default)]
    pub percents: Option<Vec<u64>>,
    /// Voters in the group; `null` when suppressed.
    pub voted: Option<u64>,
    /// Why the counts are absent: `few` (fewer than `min_group_size` voted) or
    /// `complement` (shown, it would give away the one small group); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suppressed: Option<Suppressed>,
}

/// Two rounds of a statement side by side and how those who voted in both moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftView {
    /// Whether the host shows it on the screen.
    pub shown: bool,
    /// The earlier round's number.
    pub from_round: u32,
    /// The current round's number.
    pub to_round: u32,
    /// The earlier round's votes per option, phones and hand counts together.
    pub before: Vec<u64>,
    /// The current round's votes per option, phones and hand counts together.
    pub after: Vec<u64>,
    /// `before` as percentages, rounded as the `tally`'s.
    #[serde(default)]
    pub before_percents: Vec<u64>,
    /// `after` as percentages, rounded as the `tally`'s.
    #[serde(default)]
    pub after_percents: Vec<u64>,
    /// Participants who voted (by phone) in both rounds.
    pub paired: u64,
    /// True when fewer than the report's smallest group size (5) voted in both: then
    /// `matrix` and `switched` are absent.
    pub suppressed: bool,
    /// `matrix[i][j]`: chose option i in the earlier round and option j now.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub matrix: Option<Vec<Vec<u64>>>,
    /// Of the paired, how many chose differently.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub switched: Option<u64>,
    /// On a scale, the median and mean of `before`, once somebody voted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub before_stats: Option<ScaleStats>,
    /// On a scale, the median and mean of `after`, once somebody voted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after_stats: Option<ScaleStats>,
    /// On a scale, how the paired moved along it: with `matrix`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub moved: Option<Moved>,
}

/// Whether the store can write, as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// Every change is stored.
    Ok,
    /// The last write failed (a full disk, an I/O error); changes are refused.
    Failing,
}

/// The `upvotes` message: the upvote count of every argument listed on phones, sent
/// to phones instead of a whole `state` when only counts moved (at most once per
/// `hub::UPVOTES_TICK`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpvotesView {
    /// Always `"upvotes"`.
    #[serde(rename = "type")]
    pub kind: UpvotesTag,
    /// The statement on show, whose listed arguments these are.
    pub slide: usize,
    /// `[argument, upvotes]` for every argument in the phones' `state.arguments.items`,
    /// in the order they are now listed.
    pub upvotes: Vec<(u32, u64)>,
    /// `[question, upvotes]` for every question in the phones' `state.questions.items`,
    /// in the order they are now listed; absent when they list none.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub questions: Vec<(u32, u64)>,
}

/// The constant tag of an [`UpvotesView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpvotesTag {
    /// `"upvotes"`.
    Upvotes,
}

/// What a client hears after its `hello` to a closed session, before the close 4001
/// "session closed": the session has ended, with the results the host revealed to the
/// room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndedView {
    /// Always `"ended"`.
    #[serde(rename = "type")]
    pub kind: EndedTag,
    /// The deck's title.
    pub title: String,
    /// Per statement whose last round's results were revealed, those results; a result
    /// the host kept hidden is never here.
    pub results: Vec<EndResult>,
}

/// The last round of one statement, as the room saw it revealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndResult {
    /// The statement's slide, from 0 as in `state`.
    pub slide: usize,
    /// The statement's title.
    pub title: String,
    /// Its options (a scale's point labels).
    pub options: Vec<String>,
    /// `true` on a scale; absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scale: bool,
    /// The round shown, from 1.
    pub round: u32,
    /// Votes per option, phones and hand counts together.
    pub tally: Vec<u64>,
    /// The tally as percentages, by the rule of `state.percents`.
    pub percents: Vec<u64>,
    /// On a scale, the median and mean, once somebody voted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stats: Option<ScaleStats>,
}

/// The constant tag of an [`EndedView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedTag {
    /// `"ended"`.
    Ended,
}

/// The constant tag of a [`StateView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateTag {
    /// `"state"`.
    State,
}

/// The current slide as every client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlideView {
    /// Slide index, from 0.
    pub index: usize,
    /// Number of slides in the deck.
    pub count: usize,
    /// `content` or `statement`.
    pub kind: SlideKindName,
    /// The slide's Markdown rendered to HTML by the server (raw HTML is escaped).
    pub html: String,
    /// For a statement: the option texts, A first; on a scale the points' labels, `""`
    /// for a bare point.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub options: Vec<String>,
    /// Whether the statement is a scale: its options are points 1 to 5 or 7 (only sent
    /// when it is).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub scale: bool,
    /// For a statement: where the vote stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// For a statement: the current round (1 unless re-voted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    /// Where the slide's images stand, when the deck places them (`{naast}`,
    /// `{onder}`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub layout: Option<LayoutName>,
}

/// A countdown, in the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerView {
    /// Milliseconds left when this state was made.
    pub remaining_ms: u64,
}
