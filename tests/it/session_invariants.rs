//! Property and unit tests of the pure session state machine (no server, no clock).

use std::sync::Arc;

use proptest::prelude::*;
use stemzaal::core::deck::{Deck, Results, Slide, SlideKind};
use stemzaal::core::session::{Command, Event, Rejection, Session, Statement};
use stemzaal::wire::protocol::Phase;
use uuid::Uuid;

/// Slides: content, A/B statement, content, A/B/C statement with live results, A/B
/// statement.
fn deck() -> Arc<Deck> {
    let slide = |kind| Slide {
        line: 1,
        title: "t".into(),
        full_title: "t".into(),
        html: "<p>t</p>".into(),
        kind,
        scale: false,
        results: Results::Hidden,
        notes: None,
        images: vec![],
        opinion_map: false,
        layout: Default::default(),
    };
    let statement = |n: usize| SlideKind::Statement {
        options: (0..n).map(|i| format!("option {i}")).collect(),
    };
    Arc::new(Deck {
        source_name: "test.md".into(),
        title: "Test".into(),
        groups: vec!["Raad".into(), "Inwoner".into()],
        lang: "nl".into(),
        meeting: None,
        date: None,
        place: None,
        min_group_size: 5,
        arguments: true,
        upvotes: true,
        questions: true,
        slides: vec![
            slide(SlideKind::Content),
            slide(statement(2)),
            slide(SlideKind::Content),
            Slide {
                results: Results::Live,
                ..slide(statement(3))
            },
            slide(statement(2)),
        ],
        warnings: vec![],
    })
}

#[derive(Debug, Clone)]
enum Action {
    Join(usize),
    Vote {
        who: usize,
        slide: usize,
        round_delta: u32,
        option: usize,
    },
    Group(usize, Option<usize>),
    GoTo(usize),
    Next,
    Prev,
    Open,
    Close,
    Reveal(bool),
    Shift(bool),
    Revote,
    Timer(u32),
    Hands(Vec<u64>),
    StopTimer,
    Expire(u64),
    Argue(usize, usize, u64),
    Withdraw(usize, usize, u64),
    Upvote(usize, u32),
    Moderate(u32, Option<bool>),
    ShowArguments(bool),
    Ask(usize, u64),
    WithdrawQuestion(usize, u32, u64),
    UpvoteQuestion(usize, u32),
    ModerateQuestion(u32, Option<u8>),
    OpenQuestions(bool),
    ShowQuestions(bool),
}

const PEOPLE: usize = 12;

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..PEOPLE).prop_map(Action::Join),
        8 => (0..PEOPLE, 0..6usize, 0..2u32, 0..4usize).prop_map(|(who, slide, round_delta, option)| Action::Vote { who, slide, round_delta, option }),
        1 => (0..PEOPLE, proptest::option::of(0..3usize)).prop_map(|(p, g)| Action::Group(p, g)),
        1 => (0..6usize).prop_map(Action::GoTo),
        1 => Just(Action::Next),
        1 => Just(Action::Prev),
        2 => Just(Action::Open),
        1 => Just(Action::Close),
        1 => any::<bool>().prop_map(Action::Reveal),
        1 => any::<bool>().prop_map(Action::Shift),
        1 => Just(Action::Revote),
        1 => (0..5u32).prop_map(Action::Timer),
        1 => proptest::collection::vec(0..200_000u64, 1..4).prop_map(Action::Hands),
        1 => Just(Action::StopTimer),
        1 => (0..10_000u64).prop_map(Action::Expire),
        3 => (0..PEOPLE, 0..6usize, 0..8_000u64).prop_map(|(p, s, t)| Action::Argue(p, s, t)),
        1 => (0..PEOPLE, 0..6usize, 0..8_000u64).prop_map(|(p, s, t)| Action::Withdraw(p, s, t)),
        2 => (0..PEOPLE, 1..8u32).prop_map(|(p, a)| Action::Upvote(p, a)),
        2 => (1..8u32, proptest::option::of(any::<bool>())).prop_map(|(a, s)| Action::Moderate(a, s)),
        1 => any::<bool>().prop_map(Action::ShowArguments),
        3 => (0..PEOPLE, 0..40_000u64).prop_map(|(p, t)| Action::Ask(p, t)),
        1 => (0..PEOPLE, 1..10u32, 0..40_000u64).prop_map(|(p, q, t)| Action::WithdrawQuestion(p, q, t)),
        2 => (0..PEOPLE, 1..10u32).prop_map(|(p, q)| Action::UpvoteQuestion(p, q)),
        2 => (1..10u32, proptest::option::of(0..3u8)).prop_map(|(q, s)| Action::ModerateQuestion(q, s)),
        1 => any::<bool>().prop_map(Action::OpenQuestions),
        1 => any::<bool>().prop_map(Action::ShowQuestions),
    ]
}

fn command(session: &Session, people: &[Uuid], action: &Action) -> Command {
    let groups = ["Raad", "Inwoner", "Onbekend"];
    match *action {
        Action::Join(p) => Command::Join {
            participant: people[p],
        },
        Action::Vote {
            who,
            slide,
            round_delta,
            option,
        } => {
            let round = session.statement(slide).map_or(1, |s| s.round_number());
            Command::Vote {
                participant: people[who],
                slide,
                round: round.saturating_sub(round_delta),
                option,
            }
        }
        Action::Group(p, g) => Command::ChooseGroup {
            participant: people[p],
            group: g.map(|g| groups[g].to_owned()),
        },
        Action::GoTo(slide) => Command::GoTo { slide },
        Action::Next => Command::Next,
        Action::Prev => Command::Prev,
        Action::Open => Command::OpenVote,
        Action::Close => Command::CloseVote,
        Action::Reveal(visible) => Command::Reveal { visible },
        Action::Shift(visible) => Command::ShowShift { visible },
        Action::Revote => Command::Revote,
        Action::Timer(seconds) => Command::StartTimer {
            seconds,
            now_ms: 1_000,
        },
        Action::Hands(ref counts) => Command::HandCount {
            counts: counts.clone(),
        },
        Action::StopTimer => Command::StopTimer,
        Action::Expire(now_ms) => Command::TimerExpired { now_ms },
        Action::Argue(p, slide, now_ms) => Command::Argue {
            participant: people[p],
            slide,
            text: format!("argument van {p} op {slide}"),
            now_ms,
        },
        Action::Withdraw(p, slide, now_ms) => Command::WithdrawArgument {
            participant: people[p],
            slide,
            now_ms,
        },
        Action::Upvote(p, argument) => Command::Upvote {
            participant: people[p],
            argument,
        },
        Action::Moderate(argument, status) => Command::Moderate {
            argument,
            status: status.map(|highlight| {
                if highlight {
                    stemzaal::core::arguments::Status::Highlighted
                } else {
                    stemzaal::core::arguments::Status::Approved
                }
            }),
        },
        Action::ShowArguments(visible) => Command::ShowArguments { visible },
        Action::Ask(p, now_ms) => Command::Ask {
            participant: people[p],
            text: format!("Vraag {p} om {now_ms}?"),
            now_ms,
        },
        Action::WithdrawQuestion(p, question, now_ms) => Command::WithdrawQuestion {
            participant: people[p],
            question,
            now_ms,
        },
        Action::UpvoteQuestion(p, question) => Command::UpvoteQuestion {
            participant: people[p],
            question,
        },
        Action::ModerateQuestion(question, status) => Command::ModerateQuestion {
            question,
            status: status.map(|s| {
                use stemzaal::core::questions::Status;
                [Status::Approved, Status::Highlighted, Status::Answered][usize::from(s)]
            }),
        },
        Action::OpenQuestions(open) => Command::OpenQuestions { open },
        Action::ShowQuestions(visible) => Command::ShowQuestions { visible },
    }
}

/// Every question, comparable, with the two switches.
fn questions_of(session: &Session) -> Vec<String> {
    let qs = session.questions();
    qs.all()
        .map(|q| {
            let mut upvoters: Vec<_> = q.upvoters.iter().collect();
            upvoters.sort();
            format!(
                "{} {} {:?} {:?} {upvoters:?} {} {}",
                q.number,
                q.asker,
                q.text,
                q.status,
                qs.open(),
                qs.shown()
            )
        })
        .collect()
}

/// At most one question is highlighted, nobody has more than five, nobody upvoted its
/// own, and questions are asked and upvoted only while open.
fn check_questions(before: &Session, after: &Session, events: &[Event]) {
    let qs = after.questions();
    let highlighted = qs
        .all()
        .filter(|q| q.status == stemzaal::core::questions::Status::Highlighted)
        .count();
    assert!(highlighted <= 1, "one highlighted at a time");
    for q in qs.all() {
        assert!(qs.by(&q.asker).len() <= stemzaal::core::questions::MAX_QUESTIONS_EACH);
        assert!(!q.upvoters.contains(&q.asker), "no upvote of one's own");
    }
    for event in events {
        if matches!(
            event,
            Event::QuestionAsked { .. } | Event::QuestionUpvoted { .. }
        ) {
            assert!(
                before.questions().open(),
                "asked and upvoted only while open"
            );
        }
    }
}

/// Every argument, comparable: number, author, slide, option, text, status, upvoters.
fn arguments_of(session: &Session) -> Vec<String> {
    (0..session.deck().slides.len())
        .flat_map(|slide| session.arguments().on(slide).collect::<Vec<_>>())
        .map(|a| {
            let mut upvoters: Vec<_> = a.upvoters.iter().collect();
            upvoters.sort();
            format!(
                "{} {} {} {} {:?} {:?} {upvoters:?} {}",
                a.number,
                a.author,
                a.slide,
                a.option,
                a.text,
                a.status,
                session.arguments().shown(a.slide)
            )
        })
        .collect()
}

/// An argument is added only for its author's current vote on an open statement, at
/// most one per author and statement, and never twice within the author's rate.
fn check_arguments(before: &Session, after: &Session, events: &[Event]) {
    let mut authors = std::collections::HashSet::new();
    for slide in 0..after.deck().slides.len() {
        for a in after.arguments().on(slide) {
            assert!(
                authors.insert((a.author, a.slide)),
                "one argument per author and statement"
            );
        }
    }
    for event in events {
        if let Event::ArgumentAdded {
            participant,
            slide,
            option,
            ..
        } = event
        {
            let statement = before.statement(*slide).expect("a statement");
            assert_eq!(statement.phase, Phase::Open, "arguments only while open");
            assert_eq!(
                statement.current().votes.get(participant),
                Some(option),
                "for the author's vote"
            );
        }
        if let Event::ArgumentUpvoted { argument, .. } = event {
            assert!(
                before.arguments().get(*argument).unwrap().status.listed(),
                "only listed ones are upvoted"
            );
        }
    }
}

/// Every count equals the number of participants whose current choice it is.
fn check_counts(session: &Session) {
    for slide in 0..session.deck().slides.len() {
        let Some(statement) = session.statement(slide) else {
            continue;
        };
        for round in &statement.rounds {
            let mut counted = vec![0u64; round.counts.len()];
            for &option in round.votes.values() {
                counted[option] += 1;
            }
            assert_eq!(counted, round.counts, "slide {slide}");
            // The counts per group are kept with every vote and group change.
            for group in std::iter::once(None).chain((0..session.deck().groups.len()).map(Some)) {
                let mut counted = vec![0u64; round.counts.len()];
                for (p, &option) in &round.votes {
                    if session.group_index(p) == group {
                        counted[option] += 1;
                    }
                }
                assert_eq!(
                    counted,
                    round.group_counts(group),
                    "slide {slide} group {group:?}"
                );
            }
        }
    }
}

/// Per slide, whether each round's results are revealed (empty for content slides).
fn reveal_flags(session: &Session) -> Vec<Vec<bool>> {
    (0..session.deck().slides.len())
        .map(|i| {
            session
                .statement(i)
                .map(|s| s.rounds.iter().map(|r| r.revealed).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// A round starts hidden (unless its statement is live) and only the host's reveal of
/// that very round, on show, changes whether it is revealed.
fn check_reveal(before: &Session, after: &Session, was_reveal: bool) {
    let (was, now) = (reveal_flags(before), reveal_flags(after));
    for (slide, (was, now)) in was.iter().zip(&now).enumerate() {
        for (round, &flag) in now.iter().enumerate() {
            match was.get(round) {
                None => assert_eq!(
                    flag,
                    after.deck().starts_revealed(slide),
                    "slide {slide} round {} starts hidden unless live",
                    round + 1
                ),
                Some(&old) if old != flag => assert!(
                    was_reveal && slide == before.current() && round + 1 == was.len(),
                    "slide {slide} round {} changed its reveal without a reveal of it",
                    round + 1
                ),
                Some(_) => {}
            }
        }
    }
    assert_eq!(
        after.revealed(),
        after
            .statement(after.current())
            .is_some_and(|s| s.current().revealed),
        "`revealed` is the reveal of the round on show"
    );
}

/// Per slide, whether each round's shift is shown (empty for content slides).
fn shift_flags(session: &Session) -> Vec<Vec<bool>> {
    (0..session.deck().slides.len())
        .map(|i| {
            session
                .statement(i)
                .map(|s| s.rounds.iter().map(|r| r.shift_shown).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// A round starts without its shift shown, round 1 never has one, and only the host's
/// `show_shift` of the round on show changes it.
fn check_shift(before: &Session, after: &Session, was_shift: bool) {
    let (was, now) = (shift_flags(before), shift_flags(after));
    for (slide, (was, now)) in was.iter().zip(&now).enumerate() {
        for (round, &flag) in now.iter().enumerate() {
            assert!(!(round == 0 && flag), "slide {slide}: round 1 has no shift");
            match was.get(round) {
                None => assert!(!flag, "slide {slide} round {} starts without", round + 1),
                Some(&old) if old != flag => assert!(
                    was_shift && slide == before.current() && round + 1 == was.len(),
                    "slide {slide} round {} changed its shift without show_shift",
                    round + 1
                ),
                Some(_) => {}
            }
        }
    }
}

fn open_statements(session: &Session) -> Vec<usize> {
    (0..session.deck().slides.len())
        .filter(|&i| session.statement(i).is_some_and(|s| s.phase == Phase::Open))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn invariants_hold_after_any_sequence_of_commands(actions in proptest::collection::vec(action(), 0..120)) {
        let people: Vec<Uuid> = (0..PEOPLE).map(|_| Uuid::new_v4()).collect();
        let mut session = Session::new(deck());
        let mut log: Vec<Event> = vec![];
        for action in &actions {
            let before = session.clone();
            let cmd = command(&session, &people, action);
            let was_vote = matches!(cmd, Command::Vote { .. });
            let was_reveal = matches!(cmd, Command::Reveal { .. });
            let was_shift = matches!(cmd, Command::ShowShift { .. });
            let vote_target = match &cmd {
                Command::Vote { slide, .. } => Some(*slide),
                _ => None,
            };
            match session.apply(cmd) {
                Ok(events) => {
                    if was_vote {
                        let slide = vote_target.unwrap();
                        let s_before = before.statement(slide).unwrap();
                        let s_after = session.statement(slide).unwrap();
                        prop_assert_eq!(s_before.phase, Phase::Open, "a vote only counts while open");
                        let b = &s_before.current().counts;
                        let a = &s_after.current().counts;
                        let moved: i64 = a.iter().zip(b).map(|(x, y)| (*x as i64 - *y as i64).abs()).sum();
                        let total_change: i64 = a.iter().sum::<u64>() as i64 - b.iter().sum::<u64>() as i64;
                        // A new vote adds one; a changed vote moves exactly one count; a repeat changes nothing.
                        prop_assert!(
                            (events.is_empty() && moved == 0)
                                || (total_change == 1 && moved == 1)
                                || (total_change == 0 && moved == 2),
                            "moved {moved}, total change {total_change}"
                        );
                    }
                    check_arguments(&before, &session, &events);
                    check_questions(&before, &session, &events);
                    log.extend(events);
                }
                Err(rejection) => {
                    // A refused command changes nothing at all.
                    prop_assert_eq!(format!("{:?}", before.statement(1)), format!("{:?}", session.statement(1)));
                    prop_assert_eq!(format!("{:?}", before.statement(3)), format!("{:?}", session.statement(3)));
                    prop_assert_eq!(format!("{:?}", before.statement(4)), format!("{:?}", session.statement(4)));
                    prop_assert_eq!(before.current(), session.current());
                    if was_vote && rejection == Rejection::VoteClosed {
                        let slide = vote_target.unwrap();
                        prop_assert_ne!(before.statement(slide).unwrap().phase, Phase::Open);
                    }
                }
            }
            check_counts(&session);
            check_reveal(&before, &session, was_reveal);
            check_shift(&before, &session, was_shift);
            let open = open_statements(&session);
            prop_assert!(open.len() <= 1, "at most one statement open: {open:?}");
            if let Some(&slide) = open.first() {
                prop_assert_eq!(slide, session.current(), "the open statement is on show");
            }
        }
        // Replaying the log from scratch gives the same state: recovery runs the same code.
        let mut replayed = Session::new(deck());
        for event in &log {
            prop_assert!(replayed.replay(event).is_ok(), "a logged event replays: {:?}", event);
        }
        prop_assert_eq!(statements_of(&replayed), statements_of(&session));
        prop_assert_eq!(replayed.current(), session.current());
        prop_assert_eq!(replayed.revealed(), session.revealed());
        prop_assert_eq!(replayed.shift_shown(), session.shift_shown());
        prop_assert_eq!(replayed.joined(), session.joined());
        prop_assert_eq!(replayed.timer(), session.timer());
        prop_assert_eq!(arguments_of(&replayed), arguments_of(&session));
        prop_assert_eq!(questions_of(&replayed), questions_of(&session));
        // And the log survives JSON, as the store keeps it.
        let text = serde_json::to_string(&log).unwrap();
        let back: Vec<Event> = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, log);
    }
}

fn statements_of(session: &Session) -> Vec<Statement> {
    (0..session.deck().slides.len())
        .filter_map(|i| session.statement(i).cloned())
        .collect()
}

fn joined(session: &mut Session) -> Uuid {
    let p = Uuid::new_v4();
    session.apply(Command::Join { participant: p }).unwrap();
    p
}

#[test]
fn vote_while_not_open_is_refused_and_not_counted() {
    let mut session = Session::new(deck());
    let p = joined(&mut session);
    let vote = Command::Vote {
        participant: p,
        slide: 1,
        round: 1,
        option: 0,
    };
    assert_eq!(session.apply(vote.clone()), Err(Rejection::VoteClosed));
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    session.apply(Command::CloseVote).unwrap();
    assert_eq!(session.apply(vote), Err(Rejection::VoteClosed));
    assert_eq!(session.statement(1).unwrap().current().counts, vec![0, 0]);
}

#[test]
fn leaving_an_open_statement_closes_it_and_its_timer() {
    let mut session = Session::new(deck());
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    session
        .apply(Command::StartTimer {
            seconds: 30,
            now_ms: 0,
        })
        .unwrap();
    let events = session.apply(Command::Next).unwrap();
    assert_eq!(
        events,
        vec![
            Event::TimerStopped,
            Event::VoteClosed { slide: 1 },
            Event::SlideShown { slide: 2 }
        ]
    );
    assert_eq!(session.statement(1).unwrap().phase, Phase::Closed);
}

#[test]
fn timer_expiry_closes_the_vote_only_when_due() {
    let mut session = Session::new(deck());
    session.apply(Command::GoTo { slide: 3 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    session
        .apply(Command::StartTimer {
            seconds: 60,
            now_ms: 10_000,
        })
        .unwrap();
    assert_eq!(
        session.apply(Command::TimerExpired { now_ms: 69_999 }),
        Ok(vec![])
    );
    assert_eq!(
        session.apply(Command::TimerExpired { now_ms: 70_000 }),
        Ok(vec![Event::TimerStopped, Event::VoteClosed { slide: 3 }])
    );
    assert_eq!(
        session.apply(Command::StartTimer {
            seconds: 0,
            now_ms: 0
        }),
        Err(Rejection::BadTimer)
    );
    assert_eq!(
        session.apply(Command::StartTimer {
            seconds: 3601,
            now_ms: 0
        }),
        Err(Rejection::BadTimer)
    );
}

#[test]
fn revote_keeps_round_one_and_starts_an_open_round_two() {
    let mut session = Session::new(deck());
    let (a, b) = (joined(&mut session), joined(&mut session));
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    assert_eq!(
        session.apply(Command::Revote),
        Err(Rejection::NothingToRevote)
    );
    session.apply(Command::OpenVote).unwrap();
    for p in [a, b] {
        session
            .apply(Command::Vote {
                participant: p,
                slide: 1,
                round: 1,
                option: 0,
            })
            .unwrap();
    }
    session.apply(Command::Revote).unwrap();
    let s = session.statement(1).unwrap();
    assert_eq!((s.round_number(), s.phase), (2, Phase::Open));
    assert_eq!(s.rounds[0].counts, vec![2, 0]);
    assert_eq!(s.current().counts, vec![0, 0]);
    assert_eq!(
        session.apply(Command::Vote {
            participant: a,
            slide: 1,
            round: 1,
            option: 1
        }),
        Err(Rejection::RoundOver)
    );
    session
        .apply(Command::Vote {
            participant: a,
            slide: 1,
            round: 2,
            option: 1,
        })
        .unwrap();
    assert_eq!(session.votes_of(&a), vec![(1, 2, 1)]);
}

#[test]
fn an_unknown_participant_cannot_vote_and_groups_must_exist() {
    let mut session = Session::new(deck());
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    let stranger = Uuid::new_v4();
    assert_eq!(
        session.apply(Command::Vote {
            participant: stranger,
            slide: 1,
            round: 1,
            option: 0
        }),
        Err(Rejection::NotJoined)
    );
    let p = joined(&mut session);
    assert_eq!(
        session.apply(Command::ChooseGroup {
            participant: p,
            group: Some("Nope".into())
        }),
        Err(Rejection::UnknownGroup)
    );
    session
        .apply(Command::ChooseGroup {
            participant: p,
            group: Some("Inwoner".into()),
        })
        .unwrap();
    assert_eq!(session.group_of(&p), Some("Inwoner"));
}

#[test]
fn hand_counts_join_the_tally_and_replace_earlier_hand_counts_of_the_round() {
    let mut session = Session::new(deck());
    let p = joined(&mut session);
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    assert_eq!(
        session.apply(Command::HandCount { counts: vec![1, 2] }),
        Err(Rejection::VoteClosed),
        "not before the vote was opened"
    );
    session.apply(Command::OpenVote).unwrap();
    session
        .apply(Command::Vote {
            participant: p,
            slide: 1,
            round: 1,
            option: 0,
        })
        .unwrap();
    session
        .apply(Command::HandCount { counts: vec![3, 4] })
        .unwrap();
    session
        .apply(Command::HandCount { counts: vec![5, 4] })
        .unwrap();
    let round = session.statement(1).unwrap().current();
    assert_eq!(round.counts, vec![1, 0], "phone votes stay phone votes");
    assert_eq!(round.tally(), vec![6, 4]);
    assert_eq!(round.voted(), 10);
    for bad in [vec![1], vec![1, 2, 3], vec![100_001, 0]] {
        assert_eq!(
            session.apply(Command::HandCount { counts: bad }),
            Err(Rejection::BadHandCount)
        );
    }
    session.apply(Command::Revote).unwrap();
    assert_eq!(
        session.statement(1).unwrap().current().tally(),
        vec![0, 0],
        "a new round starts without hands"
    );
}

#[test]
fn every_round_starts_hidden_and_a_reveal_stays_with_its_round() {
    let mut session = Session::new(deck());
    assert_eq!(
        session.apply(Command::Reveal { visible: true }),
        Err(Rejection::NotAStatement),
        "a content slide has no results to show"
    );
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    assert!(!session.revealed(), "a first round starts hidden");
    assert_eq!(
        session.apply(Command::Reveal { visible: true }),
        Ok(vec![Event::ResultsShown {
            visible: true,
            slide: Some(1),
            round: Some(1)
        }])
    );
    assert!(session.revealed());
    session.apply(Command::Revote).unwrap();
    assert!(!session.revealed(), "a re-vote round starts hidden");
    assert!(session.statement(1).unwrap().rounds[0].revealed);
    session.apply(Command::GoTo { slide: 4 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    assert!(!session.revealed(), "the next statement starts hidden");
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::Reveal { visible: true }).unwrap();
    session.apply(Command::GoTo { slide: 4 }).unwrap();
    assert!(
        !session.revealed(),
        "revealing round 2 of slide 1 leaves slide 4 hidden"
    );
}

#[test]
fn the_shift_needs_a_second_round_and_stays_with_its_round() {
    let mut session = Session::new(deck());
    assert_eq!(
        session.apply(Command::ShowShift { visible: true }),
        Err(Rejection::NotAStatement)
    );
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    assert_eq!(
        session.apply(Command::ShowShift { visible: true }),
        Err(Rejection::NoEarlierRound),
        "round 1 has nothing to compare with"
    );
    assert_eq!(Rejection::NoEarlierRound.code(), "no_earlier_round");
    session.apply(Command::Revote).unwrap();
    assert!(!session.shift_shown());
    assert_eq!(
        session.apply(Command::ShowShift { visible: true }),
        Ok(vec![Event::ShiftShown {
            slide: 1,
            round: 2,
            visible: true
        }])
    );
    assert!(session.shift_shown());
    assert_eq!(
        session.apply(Command::ShowShift { visible: true }),
        Ok(vec![]),
        "showing it again changes nothing"
    );
    session.apply(Command::GoTo { slide: 4 }).unwrap();
    assert!(!session.shift_shown(), "another statement shows none");
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    assert!(session.shift_shown(), "the round keeps it");
    session.apply(Command::Revote).unwrap();
    assert!(!session.shift_shown(), "a new round starts without");
    assert!(session.statement(1).unwrap().rounds[1].shift_shown);
    let event = Event::ShiftShown {
        slide: 1,
        round: 2,
        visible: false,
    };
    let text = serde_json::to_string(&event).unwrap();
    assert_eq!(
        text,
        r#"{"type":"shift_shown","slide":1,"round":2,"visible":false}"#
    );
    session
        .replay(&serde_json::from_str(&text).unwrap())
        .unwrap();
    assert!(!session.statement(1).unwrap().rounds[1].shift_shown);
}

#[test]
fn a_live_statement_shows_each_round_from_the_start_and_can_still_be_hidden() {
    let mut session = Session::new(deck());
    session.apply(Command::GoTo { slide: 3 }).unwrap();
    assert!(session.revealed());
    session.apply(Command::OpenVote).unwrap();
    session.apply(Command::Reveal { visible: false }).unwrap();
    assert!(!session.revealed());
    session.apply(Command::Revote).unwrap();
    assert!(session.revealed(), "the new round is live again");
}

#[test]
fn a_results_event_from_an_older_log_applies_to_the_round_on_show() {
    let old: Event = serde_json::from_str(r#"{"type":"results_shown","visible":true}"#).unwrap();
    assert_eq!(
        old,
        Event::ResultsShown {
            visible: true,
            slide: None,
            round: None
        }
    );
    let mut session = Session::new(deck());
    // On a content slide it shows nothing, and is no reason to refuse the log.
    session.replay(&old).expect("fits");
    assert_eq!(reveal_flags(&session), reveal_flags(&Session::new(deck())));
    for event in [
        Event::SlideShown { slide: 1 },
        Event::VoteOpened { slide: 1 },
        old.clone(),
    ] {
        session.replay(&event).expect("fits");
    }
    assert!(session.revealed());
    assert!(!session.statement(4).unwrap().current().revealed);
    // A new event names its round, and survives JSON as the store keeps it.
    let new = Event::ResultsShown {
        visible: false,
        slide: Some(1),
        round: Some(1),
    };
    let text = serde_json::to_string(&new).unwrap();
    assert_eq!(
        text,
        r#"{"type":"results_shown","visible":false,"slide":1,"round":1}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), new);
    // One naming a round that does not exist does not fit.
    assert!(session
        .replay(&Event::ResultsShown {
            visible: true,
            slide: Some(1),
            round: Some(2)
        })
        .is_err());
}

#[test]
fn a_stored_event_that_does_not_fit_is_refused_with_a_reason_and_changes_nothing() {
    let mut session = Session::new(deck());
    let p = joined(&mut session);
    session.apply(Command::GoTo { slide: 1 }).unwrap();
    session.apply(Command::OpenVote).unwrap();
    session
        .apply(Command::Vote {
            participant: p,
            slide: 1,
            round: 1,
            option: 1,
        })
        .unwrap();
    let stranger = Uuid::new_v4();
    for (event, why) in [
        (
            Event::Voted {
                participant: p,
                slide: 99,
                round: 1,
                option: 0,
            },
            "not a statement",
        ),
        (
            Event::Voted {
                participant: p,
                slide: 1,
                round: 2,
                option: 0,
            },
            "current round",
        ),
        (
            Event::Voted {
                participant: p,
                slide: 1,
                round: 1,
                option: 7,
            },
            "no such option",
        ),
        (
            Event::Voted {
                participant: stranger,
                slide: 1,
                round: 1,
                option: 0,
            },
            "never joined",
        ),
        (Event::SlideShown { slide: 99 }, "no such slide"),
        (Event::VoteOpened { slide: 0 }, "not a statement"),
        (
            Event::RoundStarted { slide: 1, round: 5 },
            "does not follow",
        ),
        (
            Event::ShiftShown {
                slide: 1,
                round: 1,
                visible: true,
            },
            "no such round after its first",
        ),
        (
            Event::ShiftShown {
                slide: 0,
                round: 2,
                visible: true,
            },
            "not a statement",
        ),
        (
            Event::GroupChosen {
                participant: p,
                group: Some(99),
            },
            "no group",
        ),
    ] {
        let before = statements_of(&session);
        let refused = session.replay(&event).expect_err("the event does not fit");
        assert!(refused.0.contains(why), "{event:?}: {refused}");
        assert_eq!(statements_of(&session), before, "{event:?} changed nothing");
        assert_eq!(session.current(), 1);
    }
    assert_eq!(session.statement(1).unwrap().current().counts, vec![0, 1]);
}
