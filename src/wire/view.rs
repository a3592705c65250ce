//! What each role sees, turned from session state into wire messages: the `state` view,
//! the host's slide outline and a participant's own votes. One place, so the hub (which
//! publishes views) and the connection (which sends `welcome`) say the same thing.

use crate::core::arguments::Argument;
use crate::core::deck::{self, Deck, Layout, SlideKind};
use crate::core::opinion::Outcome;
use crate::core::session::{ParticipantId, Phase, Session};
use crate::core::tally;
use crate::wire::protocol::{
    ArgumentView, ArgumentsView, CardsView, EndResult, EndedTag, EndedView, GroupRowView,
    GroupsView, LayoutName, MapGroupView, MapStatementView, MapStatus, MapView, OwnArgument,
    OwnQuestion, OwnVote, PresenterView, QuestionView, QuestionsView, Role, ShiftView,
    SlideKindName, SlideOutline, SlideView, StateTag, StateView, Storage, TimerView, UpvotesTag,
    UpvotesView, Welcome, WireLimits, PROTOCOL_VERSION,
};

/// The `welcome` a role gets on a deck, before what is personal to a connection (a
/// phone's id, group and votes; the host's outline and screen link).
pub fn welcome(code: &str, deck: &Deck, role: Role, join_url: &str, limits: WireLimits) -> Welcome {
    Welcome {
        version: PROTOCOL_VERSION,
        role,
        code: code.to_owned(),
        title: deck.title.clone(),
        lang: deck.lang.clone(),
        groups: deck.groups.clone(),
        participant_id: None,
        group: None,
        votes: vec![],
        arguments: vec![],
        upvoted: vec![],
        slides: vec![],
        join_url: join_url.to_owned(),
        screen_url: None,
        limits,
        questions: vec![],
        upvoted_questions: vec![],
    }
}

/// What a role sees of a session right now: the `state` message.
pub fn state(session: &Session, role: Role, now_ms: u64) -> StateView {
    let deck = session.deck();
    let index = session.current();
    let slide = &deck.slides[index];
    let statement = session.statement(index);
    let phase = statement.map(|s| s.phase);
    let show_tally = match role {
        Role::Host => true,
        Role::Screen => session.revealed(),
        Role::Participant => session.revealed() && phase == Some(Phase::Closed),
    };
    let counts_visible = role != Role::Participant;
    StateView {
        kind: StateTag::State,
        slide: match role {
            // Phones load the smaller copy of each image.
            Role::Participant => SlideView {
                html: deck::for_phones(&slide.html),
                ..slide_view(session, index)
            },
            Role::Host | Role::Screen => slide_view(session, index),
        },
        revealed: session.revealed(),
        joined: counts_visible.then(|| session.joined() as u64),
        voted: counts_visible
            .then(|| statement.map(|s| s.current().voted()))
            .flatten(),
        tally: statement
            .filter(|_| show_tally)
            .map(|s| s.current().tally()),
        percents: statement
            .filter(|_| show_tally)
            .map(|s| tally::percents(&s.current().tally())),
        hands: statement
            .filter(|_| show_tally && role != Role::Participant)
            .filter(|s| s.current().hands.iter().any(|&h| h > 0))
            .map(|s| s.current().hands.clone()),
        stats: statement
            .filter(|_| show_tally && slide.scale)
            .and_then(|s| tally::scale_stats(&s.current().tally())),
        // The host always hears it, from its first state on; `publish` says `failing`.
        storage: (role == Role::Host).then_some(Storage::Ok),
        // Known to the actor that loaded the session, which adds it.
        skipped_events: None,
        timer: session.timer().map(|t| TimerView {
            remaining_ms: t.ends_at_ms.saturating_sub(now_ms),
        }),
        // The screen shows the shift and the groups only while the round's results
        // are revealed: neither may show the room a result the host keeps hidden.
        shift: match role {
            Role::Host => shift(session),
            Role::Screen => shift(session).filter(|s| s.shown && session.revealed()),
            Role::Participant => None,
        },
        groups: match role {
            Role::Host => groups(session),
            Role::Screen => groups(session).filter(|g| g.shown && session.revealed()),
            Role::Participant => None,
        },
        arguments: arguments(session, role),
        cards: (role != Role::Participant && session.cards().required()).then(|| CardsView {
            issued: session.cards().issued() as u64,
            used: session.cards().used() as u64,
        }),
        presenter: (role == Role::Host).then(|| PresenterView {
            notes: slide.notes.clone(),
            next: (index + 1 < deck.slides.len()).then(|| slide_view(session, index + 1)),
        }),
        questions: questions(session, role),
        // The hub computes the map off its task and adds it (see `opinion_map`).
        opinion_map: None,
    }
}

/// The questions of a session whose deck takes them: whatever slide is on show.
fn questions(session: &Session, role: Role) -> Option<QuestionsView> {
    if !session.deck().questions {
        return None;
    }
    let all = session.questions();
    let view = |q: &crate::core::questions::Question| QuestionView {
        question: q.number,
        text: q.text.clone(),
        status: q.status,
        upvotes: q.upvoters.len() as u64,
    };
    let items = match role {
        Role::Host => all.all().map(view).collect(),
        Role::Screen if !all.shown() => return None,
        Role::Screen | Role::Participant => all.listed().into_iter().map(view).collect(),
    };
    Some(QuestionsView {
        open: all.open(),
        shown: all.shown(),
        items,
    })
}

/// The slide at `index` as the room sees it while it is on show.
fn slide_view(session: &Session, index: usize) -> SlideView {
    let deck = session.deck();
    let slide = &deck.slides[index];
    let statement = session.statement(index);
    let (kind, options) = match &slide.kind {
        SlideKind::Content => (SlideKindName::Content, vec![]),
        SlideKind::Statement { options } => (SlideKindName::Statement, options.clone()),
    };
    SlideView {
        index,
        count: deck.slides.len(),
        kind,
        html: slide.html.clone(),
        options,
        scale: slide.scale,
        phase: statement.map(|s| s.phase),
        round: statement.map(|s| s.round_number()),
        layout: match slide.layout {
            Layout::Flow => None,
            Layout::Beside => Some(LayoutName::Beside),
            Layout::Under => Some(LayoutName::Under),
        },
    }
}

/// The arguments of the statement on show, for a deck that takes them.
fn arguments(session: &Session, role: Role) -> Option<ArgumentsView> {
    let slide = session.current();
    let statement = session.statement(slide)?;
    if !session.deck().arguments {
        return None;
    }
    let all = session.arguments();
    let shown = all.shown(slide);
    let upvotes = session.deck().upvotes;
    let view = |a: &Argument| ArgumentView {
        argument: a.number,
        option: a.option,
        text: a.text.clone(),
        status: a.status,
        upvotes: a.upvoters.len() as u64,
    };
    match role {
        Role::Host => {
            let mut counts = vec![0u64; statement.current().counts.len()];
            let items: Vec<ArgumentView> = all
                .on(slide)
                .inspect(|a| counts[a.option] += 1)
                .map(view)
                .collect();
            Some(ArgumentsView {
                shown,
                upvotes,
                counts: Some(counts),
                items,
            })
        }
        Role::Screen if !shown => None,
        Role::Screen | Role::Participant => Some(ArgumentsView {
            shown,
            upvotes,
            counts: None,
            items: all.listed(slide).into_iter().map(view).collect(),
        }),
    }
}

/// The ending of a closed session: the last round of every statement whose results
/// were revealed when it closed.
pub fn ended(session: &Session) -> EndedView {
    let deck = session.deck();
    let results = deck
        .slides
        .iter()
        .enumerate()
        .filter_map(|(slide, s)| {
            let SlideKind::Statement { options } = &s.kind else {
                return None;
            };
            let statement = session.statement(slide)?;
            let round = statement.current();
            let tally = round.tally();
            (round.revealed && round.voted() > 0).then(|| EndResult {
                slide,
                title: s.title.clone(),
                options: options.clone(),
                scale: s.scale,
                round: statement.round_number(),
                percents: tally::percents(&tally),
                stats: s.scale.then(|| tally::scale_stats(&tally)).flatten(),
                tally,
            })
        })
        .collect();
    EndedView {
        kind: EndedTag::Ended,
        title: deck.title.clone(),
        results,
    }
}

/// What phones were last sent of the arguments listed on the statement on show and of
/// the listed questions, so that the hub sends them a whole `state` only when a list
/// itself changes (an argument or question approved, highlighted, answered or removed,
/// or one upvoted into or out of the [`crate::core::arguments::MAX_LISTED`]), and a
/// small `upvotes` message when only counts moved.
#[derive(Debug, Default)]
pub struct PhoneArguments {
    /// The statement and its listed arguments with their status, by number; `None`
    /// where phones see no arguments.
    listed: Option<(usize, Vec<(u32, crate::core::arguments::Status)>)>,
    /// `[argument, upvotes]` as phones last heard them, in listed order.
    upvotes: Vec<(u32, u64)>,
    /// The listed questions with their status, by number.
    questions: Vec<(u32, crate::core::questions::Status)>,
    /// `[question, upvotes]` as phones last heard them, in listed order.
    question_upvotes: Vec<(u32, u64)>,
}

impl PhoneArguments {
    /// Notes what a `state` built for phones now lists.
    pub fn sent_state(&mut self, session: &Session) {
        let view = arguments(session, Role::Participant);
        self.listed = listed(session, view.as_ref());
        self.upvotes = upvotes(view.as_ref());
        let asked = questions(session, Role::Participant);
        self.questions = listed_questions(asked.as_ref());
        self.question_upvotes = question_upvotes(asked.as_ref());
    }

    /// Whether phones need a new `state` for their list of arguments or questions.
    pub fn list_changed(&self, session: &Session) -> bool {
        let view = arguments(session, Role::Participant);
        listed(session, view.as_ref()) != self.listed
            || listed_questions(questions(session, Role::Participant).as_ref()) != self.questions
    }

    /// The `upvotes` message, if counts moved since phones last heard them and the
    /// lists did not change (then they need a `state`).
    pub fn upvotes(&mut self, session: &Session) -> Option<UpvotesView> {
        if self.list_changed(session) {
            return None;
        }
        let now = upvotes(arguments(session, Role::Participant).as_ref());
        let asked = question_upvotes(questions(session, Role::Participant).as_ref());
        if now == self.upvotes && asked == self.question_upvotes {
            return None;
        }
        self.upvotes.clone_from(&now);
        self.question_upvotes.clone_from(&asked);
        Some(UpvotesView {
            kind: UpvotesTag::Upvotes,
            slide: session.current(),
            upvotes: now,
            questions: asked,
        })
    }
}

fn listed_questions(view: Option<&QuestionsView>) -> Vec<(u32, crate::core::questions::Status)> {
    let mut listed: Vec<_> = view
        .map(|v| v.items.iter().map(|q| (q.question, q.status)).collect())
        .unwrap_or_default();
    listed.sort_unstable_by_key(|&(number, _)| number);
    listed
}

fn question_upvotes(view: Option<&QuestionsView>) -> Vec<(u32, u64)> {
    view.map(|v| v.items.iter().map(|q| (q.question, q.upvotes)).collect())
        .unwrap_or_default()
}

fn listed(
    session: &Session,
    view: Option<&ArgumentsView>,
) -> Option<(usize, Vec<(u32, crate::core::arguments::Status)>)> {
    let mut listed: Vec<_> = view?.items.iter().map(|a| (a.argument, a.status)).collect();
    listed.sort_unstable_by_key(|&(number, _)| number);
    Some((session.current(), listed))
}

fn upvotes(view: Option<&ArgumentsView>) -> Vec<(u32, u64)> {
    view.map(|v| v.items.iter().map(|a| (a.argument, a.upvotes)).collect())
        .unwrap_or_default()
}

/// The current round's results per group, for a statement of a deck with groups.
fn groups(session: &Session) -> Option<GroupsView> {
    let deck = session.deck();
    if deck.groups.is_empty() {
        return None;
    }
    let statement = session.statement(session.current())?;
    let round = statement.current();
    let rows = tally::group_rows(session, round, round.counts.len())
        .into_iter()
        .map(|r| GroupRowView {
            group: r.group,
            percents: r.percents,
            counts: r.counts,
            voted: r.voted,
            suppressed: r.suppressed,
        })
        .collect();
    Some(GroupsView {
        shown: round.groups_shown,
        min_group_size: deck.min_group_size,
        rows,
    })
}

/// The shift into the current round of the statement on show, from round 2 on; the
/// switches are computed as the report computes them.
fn shift(session: &Session) -> Option<ShiftView> {
    let index = session.current();
    let statement = session.statement(index)?;
    let n = statement.rounds.len();
    let [before, after] = statement.rounds.get(n.checked_sub(2)?..)? else {
        return None;
    };
    let options = after.counts.len();
    let to = statement.round_number();
    let k = session.deck().min_group_size;
    let switches = tally::switches(options, (to - 1, before), (to, after), k);
    let scale = session.deck().slides[index].scale;
    let (before, after_tally) = (before.tally(), after.tally());
    let stats = |counts: &[u64]| scale.then(|| tally::scale_stats(counts)).flatten();
    Some(ShiftView {
        shown: after.shift_shown,
        from_round: switches.from_round,
        to_round: switches.to_round,
        before_stats: stats(&before),
        after_stats: stats(&after_tally),
        moved: switches
            .matrix
            .as_deref()
            .filter(|_| scale)
            .map(tally::moved),
        before_percents: tally::percents(&before),
        after_percents: tally::percents(&after_tally),
        before,
        after: after_tally,
        paired: switches.paired,
        suppressed: switches.matrix.is_none(),
        matrix: switches.matrix,
        switched: switches.switched,
    })
}

/// The host's slide list.
pub fn outline(deck: &Deck) -> Vec<SlideOutline> {
    deck.slides
        .iter()
        .enumerate()
        .map(|(index, slide)| SlideOutline {
            index,
            kind: match slide.kind {
                SlideKind::Content => SlideKindName::Content,
                SlideKind::Statement { .. } => SlideKindName::Statement,
            },
            title: slide.title.clone(),
            scale: slide.scale,
        })
        .collect()
}

/// A participant's choices in the current round of every statement, for `welcome`.
pub fn own_votes(session: &Session, participant: &ParticipantId) -> Vec<OwnVote> {
    session
        .votes_of(participant)
        .into_iter()
        .map(|(slide, round, option)| OwnVote {
            slide,
            round,
            option,
        })
        .collect()
}

/// A participant's own arguments, oldest first.
pub fn own_arguments(session: &Session, participant: &ParticipantId) -> Vec<OwnArgument> {
    session
        .arguments()
        .by(participant)
        .into_iter()
        .map(|a| OwnArgument {
            slide: a.slide,
            argument: a.number,
            option: a.option,
            text: a.text.clone(),
        })
        .collect()
}

/// A participant's own questions, oldest first.
pub fn own_questions(session: &Session, participant: &ParticipantId) -> Vec<OwnQuestion> {
    session
        .questions()
        .by(participant)
        .into_iter()
        .map(|q| OwnQuestion {
            question: q.number,
            text: q.text.clone(),
        })
        .collect()
}

/// The opinion map as `role` sees it while it is on show: `map` is the newest
/// computation (its version and outcome), `None` while the first one runs. Phones get
/// the number of groups and not the groups; a phone learns its own with `map_group`.
pub fn opinion_map(session: &Session, map: Option<(u64, &Outcome)>, role: Role) -> Option<MapView> {
    if !session.map_on_show() {
        return None;
    }
    let deck = session.deck();
    let mut view = MapView {
        version: map.map_or(0, |(v, _)| v),
        status: MapStatus::Computing,
        min_group_size: None,
        participants: None,
        needed: None,
        group_count: None,
        groups: None,
        dots: None,
        statements: None,
        consensus: None,
        divisive: None,
        explained: None,
    };
    match map.map(|(_, outcome)| outcome) {
        None => {}
        Some(Outcome::FewStatements) => view.status = MapStatus::FewStatements,
        Some(&Outcome::FewParticipants {
            participants,
            needed,
        }) => {
            view.status = MapStatus::FewParticipants;
            if role != Role::Participant {
                view.participants = Some(participants);
                view.needed = Some(needed);
                view.min_group_size = Some(deck.min_group_size);
            }
        }
        Some(Outcome::Map(map)) => {
            view.status = MapStatus::Map;
            view.group_count = Some(map.groups.len());
            if role == Role::Participant {
                return Some(view);
            }
            view.min_group_size = Some(deck.min_group_size);
            view.participants = Some(map.participants);
            view.groups = Some(
                map.groups
                    .iter()
                    .map(|g| MapGroupView {
                        size: g.size,
                        x: g.x,
                        y: g.y,
                    })
                    .collect(),
            );
            view.dots = Some(map.dots.iter().map(|d| (d.x, d.y, d.group, d.n)).collect());
            view.statements = Some(
                map.splits
                    .iter()
                    .map(|split| MapStatementView {
                        slide: split.slide,
                        title: deck.slides[split.slide].full_title.clone(),
                        options: deck.options(split.slide).unwrap_or_default().to_vec(),
                        scale: deck.slides[split.slide].scale,
                        top: split.top,
                        percents: split.groups.iter().map(|g| g.percents.clone()).collect(),
                        chosen: split.groups.iter().map(|g| g.chosen).collect(),
                    })
                    .collect(),
            );
            view.consensus = Some(map.consensus.clone());
            view.divisive = Some(map.divisive.clone());
            view.explained = Some(map.explained);
        }
    }
    Some(view)
}
