//! Pins the wire format: every message against a `json!` literal, every example in
//! docs/protocol.md against the types, and the document's tables of error and close
//! codes against what the server sends, so the document cannot drift from the code.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::web::limits::Limits;
use stemzaal::wire::protocol::{
    ClientMsg, EndedView, Lang, LayoutName, Moved, OwnVote, Phase, Role, ScaleStats, ServerMsg,
    ShiftView, SlideKindName, SlideOutline, SlideView, StateTag, StateView, Storage, TimerView,
    UpvotesTag, UpvotesView, Welcome, WireLimits,
};
use support::{http_get, TestServer};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

fn decode(value: Value) -> ClientMsg {
    serde_json::from_value(value).expect("decodes")
}

#[test]
fn client_messages_decode_from_their_documented_json() {
    let id = Uuid::parse_str("4f9d2c1e-8a7b-4c3d-9e2f-1a2b3c4d5e6f").unwrap();
    let cases = [
        (
            json!({"type": "hello", "participant_id": id, "lang": "en"}),
            ClientMsg::Hello {
                key: None,
                role: None,
                participant_id: Some(id),
                card: None,
                lang: Lang::En,
            },
        ),
        (
            json!({"type": "hello", "key": "k"}),
            ClientMsg::Hello {
                key: Some("k".into()),
                role: None,
                participant_id: None,
                card: None,
                lang: Lang::Nl,
            },
        ),
        (
            json!({"type": "hello", "role": "host"}),
            ClientMsg::Hello {
                key: None,
                role: Some(Role::Host),
                participant_id: None,
                card: None,
                lang: Lang::Nl,
            },
        ),
        (
            json!({"type": "hello", "card": "ABCDE-FGHJK", "lang": "nl"}),
            ClientMsg::Hello {
                key: None,
                role: None,
                participant_id: None,
                card: Some("ABCDE-FGHJK".into()),
                lang: Lang::Nl,
            },
        ),
        (
            json!({"type": "choose_group", "group": "Raadslid"}),
            ClientMsg::ChooseGroup {
                group: Some("Raadslid".into()),
            },
        ),
        (
            json!({"type": "choose_group", "group": null}),
            ClientMsg::ChooseGroup { group: None },
        ),
        (
            json!({"type": "vote", "id": 7, "slide": 3, "round": 1, "option": 0}),
            ClientMsg::Vote {
                id: 7,
                slide: 3,
                round: 1,
                option: 0,
            },
        ),
        (
            json!({"type": "argue", "id": 8, "slide": 3, "text": "Elke wijk is anders."}),
            ClientMsg::Argue {
                id: 8,
                slide: 3,
                text: "Elke wijk is anders.".into(),
            },
        ),
        (
            json!({"type": "withdraw_argument", "slide": 3}),
            ClientMsg::WithdrawArgument { slide: 3 },
        ),
        (
            json!({"type": "upvote", "argument": 17}),
            ClientMsg::Upvote { argument: 17 },
        ),
        (
            json!({"type": "moderate", "argument": 17, "status": "approved"}),
            ClientMsg::Moderate {
                argument: 17,
                status: "approved".into(),
            },
        ),
        (
            json!({"type": "show_arguments", "visible": true}),
            ClientMsg::ShowArguments { visible: true },
        ),
        (
            json!({"type": "go_to", "slide": 3}),
            ClientMsg::GoTo { slide: 3 },
        ),
        (json!({"type": "next"}), ClientMsg::Next),
        (json!({"type": "prev"}), ClientMsg::Prev),
        (json!({"type": "open_vote"}), ClientMsg::OpenVote),
        (json!({"type": "close_vote"}), ClientMsg::CloseVote),
        (
            json!({"type": "reveal", "visible": true}),
            ClientMsg::Reveal { visible: true },
        ),
        (json!({"type": "revote"}), ClientMsg::Revote),
        (
            json!({"type": "show_shift", "visible": true}),
            ClientMsg::ShowShift { visible: true },
        ),
        (
            json!({"type": "show_groups", "visible": true}),
            ClientMsg::ShowGroups { visible: true },
        ),
        (
            json!({"type": "start_timer", "seconds": 60}),
            ClientMsg::StartTimer { seconds: 60 },
        ),
        (json!({"type": "stop_timer"}), ClientMsg::StopTimer),
        (
            json!({"type": "hand_count", "counts": [12, 7]}),
            ClientMsg::HandCount {
                counts: vec![12, 7],
            },
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(decode(json.clone()), expected, "{json}");
        // And back: what we decode is what we would write.
        let again: ClientMsg =
            serde_json::from_value(serde_json::to_value(&expected).unwrap()).unwrap();
        assert_eq!(again, expected);
    }
}

#[test]
fn malformed_client_messages_are_rejected_by_the_decoder() {
    for bad in [
        json!({"type": "vote", "id": -1, "slide": 3, "round": 1, "option": 0}),
        json!({"type": "vote", "id": 1, "slide": "3", "round": 1, "option": 0}),
        json!({"type": "vote", "id": 1, "slide": 3, "round": 1}),
        json!({"type": "Next"}),
        json!({"kind": "next"}),
        json!({"type": "start_timer", "seconds": 5_000_000_000u64}),
    ] {
        assert!(
            serde_json::from_value::<ClientMsg>(bad.clone()).is_err(),
            "{bad} decoded"
        );
    }
}

#[test]
fn unknown_fields_are_ignored_so_newer_clients_still_work() {
    assert_eq!(decode(json!({"type": "next", "extra": 1})), ClientMsg::Next);
}

#[test]
fn host_commands_are_exactly_the_steering_messages() {
    let host_only = [
        json!({"type": "go_to", "slide": 0}),
        json!({"type": "next"}),
        json!({"type": "prev"}),
        json!({"type": "open_vote"}),
        json!({"type": "close_vote"}),
        json!({"type": "reveal", "visible": false}),
        json!({"type": "revote"}),
        json!({"type": "show_shift", "visible": true}),
        json!({"type": "show_groups", "visible": true}),
        json!({"type": "moderate", "argument": 1, "status": "hidden"}),
        json!({"type": "show_arguments", "visible": true}),
        json!({"type": "start_timer", "seconds": 1}),
        json!({"type": "stop_timer"}),
        json!({"type": "hand_count", "counts": [1, 2]}),
    ];
    for m in host_only {
        assert!(decode(m.clone()).is_host_command(), "{m}");
    }
    for m in [
        json!({"type": "hello"}),
        json!({"type": "choose_group", "group": null}),
        json!({"type": "vote", "id": 1, "slide": 0, "round": 1, "option": 0}),
        json!({"type": "argue", "id": 1, "slide": 0, "text": "t"}),
        json!({"type": "withdraw_argument", "slide": 0}),
        json!({"type": "upvote", "argument": 1}),
    ] {
        assert!(!decode(m.clone()).is_host_command(), "{m}");
    }
}

#[test]
fn server_messages_encode_to_their_documented_json() {
    let ack = ServerMsg::Ack {
        id: 7,
        slide: 3,
        round: 1,
        option: 0,
    };
    assert_eq!(
        serde_json::to_value(&ack).unwrap(),
        json!({"type": "ack", "id": 7, "slide": 3, "round": 1, "option": 0})
    );
    let argued = ServerMsg::Argued {
        id: 8,
        slide: 3,
        argument: 17,
        option: 0,
    };
    assert_eq!(
        serde_json::to_value(&argued).unwrap(),
        json!({"type": "argued", "id": 8, "slide": 3, "argument": 17, "option": 0})
    );
    let error = ServerMsg::Error {
        code: "vote_closed".into(),
        message: "De stemming is niet open.".into(),
        id: Some(7),
    };
    assert_eq!(
        serde_json::to_value(&error).unwrap(),
        json!({"type": "error", "code": "vote_closed", "message": "De stemming is niet open.", "id": 7})
    );
    let no_id = ServerMsg::Error {
        code: "not_allowed".into(),
        message: "m".into(),
        id: None,
    };
    assert_eq!(
        serde_json::to_value(&no_id).unwrap(),
        json!({"type": "error", "code": "not_allowed", "message": "m"})
    );
    for (code, message) in [
        (
            "card_required",
            "Voor deze sessie heb je een stemkaart nodig.",
        ),
        ("unknown_card", "Deze stemkaart hoort niet bij deze sessie."),
    ] {
        assert_eq!(
            serde_json::to_value(ServerMsg::error(code, Lang::Nl, None)).unwrap(),
            json!({"type": "error", "code": code, "message": message})
        );
    }
    let id = Uuid::parse_str("4f9d2c1e-8a7b-4c3d-9e2f-1a2b3c4d5e6f").unwrap();
    let welcome = ServerMsg::Welcome(Box::new(Welcome {
        version: 1,
        role: Role::Participant,
        code: "K7MX4P".into(),
        title: "T".into(),
        lang: "nl".into(),
        groups: vec!["Raadslid".into()],
        participant_id: Some(id),
        group: None,
        votes: vec![OwnVote {
            slide: 3,
            round: 1,
            option: 0,
        }],
        arguments: vec![],
        upvoted: vec![],
        slides: vec![],
        join_url: "http://h/K7MX4P".into(),
        screen_url: None,
        limits: LIMITS,
        questions: vec![],
        upvoted_questions: vec![],
    }));
    assert_eq!(
        serde_json::to_value(&welcome).unwrap(),
        json!({
            "type": "welcome", "version": 1, "role": "participant", "code": "K7MX4P",
            "title": "T", "lang": "nl", "groups": ["Raadslid"], "participant_id": id,
            "votes": [{"slide": 3, "round": 1, "option": 0}], "join_url": "http://h/K7MX4P",
            "limits": limits_json()
        })
    );
    let host = ServerMsg::Welcome(Box::new(Welcome {
        version: 1,
        role: Role::Host,
        code: "K7MX4P".into(),
        title: "T".into(),
        lang: "nl".into(),
        groups: vec![],
        participant_id: None,
        group: None,
        votes: vec![],
        arguments: vec![],
        upvoted: vec![],
        slides: vec![SlideOutline {
            index: 0,
            kind: SlideKindName::Content,
            title: "Intro".into(),
            scale: false,
        }],
        join_url: "http://h/K7MX4P".into(),
        screen_url: Some("http://h/screen/K7MX4P?key=k".into()),
        limits: LIMITS,
        questions: vec![],
        upvoted_questions: vec![],
    }));
    assert_eq!(
        serde_json::to_value(&host).unwrap(),
        json!({
            "type": "welcome", "version": 1, "role": "host", "code": "K7MX4P", "title": "T",
            "lang": "nl", "groups": [], "slides": [{"index": 0, "kind": "content", "title": "Intro"}],
            "join_url": "http://h/K7MX4P", "screen_url": "http://h/screen/K7MX4P?key=k",
            "limits": limits_json()
        })
    );
}

const LIMITS: WireLimits = WireLimits {
    ping_interval_ms: 25_000,
    idle_timeout_ms: 70_000,
    max_message_bytes: 16_384,
    messages_per_second: 10.0,
    burst: 40.0,
};

fn limits_json() -> Value {
    json!({"ping_interval_ms": 25000, "idle_timeout_ms": 70000, "max_message_bytes": 16384,
           "messages_per_second": 10.0, "burst": 40.0})
}

#[test]
fn the_state_view_encodes_to_its_documented_json() {
    let state = StateView {
        kind: StateTag::State,
        slide: SlideView {
            index: 3,
            count: 16,
            kind: SlideKindName::Statement,
            html: "<h2>S</h2>".into(),
            options: vec!["a".into(), "b".into()],
            scale: false,
            phase: Some(Phase::Open),
            round: Some(1),
            layout: None,
        },
        revealed: true,
        joined: Some(42),
        voted: Some(30),
        tally: Some(vec![18, 12]),
        percents: Some(vec![60, 40]),
        hands: Some(vec![3, 1]),
        stats: None,
        storage: None,
        skipped_events: None,
        timer: Some(TimerView {
            remaining_ms: 41_500,
        }),
        shift: None,
        groups: None,
        arguments: None,
        cards: None,
        presenter: None,
        questions: None,
        opinion_map: None,
    };
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        json!({
            "type": "state",
            "slide": {"index": 3, "count": 16, "kind": "statement", "html": "<h2>S</h2>",
                      "options": ["a", "b"], "phase": "open", "round": 1},
            "revealed": true, "joined": 42, "voted": 30, "tally": [18, 12], "percents": [60, 40],
            "hands": [3, 1],
            "timer": {"remaining_ms": 41500}
        })
    );
    let content = StateView {
        kind: StateTag::State,
        slide: SlideView {
            index: 0,
            count: 16,
            kind: SlideKindName::Content,
            html: "<p>x</p>".into(),
            options: vec![],
            scale: false,
            phase: None,
            round: None,
            layout: None,
        },
        revealed: false,
        joined: None,
        voted: None,
        tally: None,
        percents: None,
        hands: None,
        stats: None,
        storage: None,
        skipped_events: None,
        timer: None,
        shift: None,
        groups: None,
        arguments: None,
        cards: None,
        presenter: None,
        questions: None,
        opinion_map: None,
    };
    assert_eq!(
        serde_json::to_value(&content).unwrap(),
        json!({"type": "state", "slide": {"index": 0, "count": 16, "kind": "content", "html": "<p>x</p>"}, "revealed": false})
    );
    // A slide whose deck puts its image beside the text says so; the HTML is the same.
    let beside = StateView {
        slide: SlideView {
            layout: Some(LayoutName::Beside),
            ..content.slide
        },
        ..content
    };
    assert_eq!(
        serde_json::to_value(&beside).unwrap(),
        json!({"type": "state", "slide": {"index": 0, "count": 16, "kind": "content", "html": "<p>x</p>", "layout": "beside"}, "revealed": false})
    );
    let under: Value = json!({"index": 2, "count": 3, "kind": "statement", "html": "<h2>S</h2>", "options": ["a", "b"], "phase": "open", "round": 1, "layout": "under"});
    let decoded: SlideView = serde_json::from_value(under.clone()).unwrap();
    assert_eq!(decoded.layout, Some(LayoutName::Under));
    assert_eq!(serde_json::to_value(&decoded).unwrap(), under);
}

/// Every ```json block of docs/protocol.md decodes as a client message, a server
/// message or a state; every message type has at least one example.
#[test]
fn every_example_in_the_protocol_document_decodes_and_every_type_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md"))
        .expect("docs/protocol.md");
    let mut types = std::collections::BTreeSet::new();
    let mut blocks = doc.split("```json").skip(1).peekable();
    assert!(blocks.peek().is_some(), "the document has JSON examples");
    for block in blocks {
        let text = block.split("```").next().unwrap();
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let kind = value["type"].as_str().expect("a type").to_owned();
        let decodes = serde_json::from_value::<ClientMsg>(value.clone()).is_ok()
            || serde_json::from_value::<ServerMsg>(value.clone()).is_ok()
            || serde_json::from_value::<StateView>(value.clone()).is_ok()
            || serde_json::from_value::<UpvotesView>(value.clone()).is_ok()
            || serde_json::from_value::<EndedView>(value.clone()).is_ok();
        assert!(decodes, "example does not decode: {text}");
        types.insert(kind);
    }
    for expected in [
        "hello",
        "choose_group",
        "vote",
        "go_to",
        "next",
        "prev",
        "open_vote",
        "close_vote",
        "reveal",
        "revote",
        "show_shift",
        "show_groups",
        "argue",
        "withdraw_argument",
        "upvote",
        "moderate",
        "show_arguments",
        "argued",
        "start_timer",
        "stop_timer",
        "ask",
        "withdraw_question",
        "upvote_question",
        "moderate_question",
        "open_questions",
        "show_questions",
        "asked",
        "welcome",
        "state",
        "upvotes",
        "ended",
        "ack",
        "ok",
        "error",
    ] {
        assert!(
            types.contains(expected),
            "no example of `{expected}` in docs/protocol.md"
        );
    }
}

#[test]
fn upvotes_encodes_to_its_documented_json() {
    let upvotes = UpvotesView {
        kind: UpvotesTag::Upvotes,
        slide: 3,
        upvotes: vec![(18, 10), (16, 5)],
        questions: vec![],
    };
    let expected = json!({"type": "upvotes", "slide": 3, "upvotes": [[18, 10], [16, 5]]});
    assert_eq!(serde_json::to_value(&upvotes).unwrap(), expected);
    assert_eq!(
        serde_json::from_value::<UpvotesView>(expected).unwrap(),
        upvotes
    );
}

#[test]
fn ok_encodes_to_its_documented_json_and_carries_any_u64_id() {
    for id in [0, 41, u64::MAX] {
        let ok = ServerMsg::Ok { id };
        let expected = json!({"type": "ok", "id": id});
        assert_eq!(serde_json::to_value(&ok).unwrap(), expected);
        assert_eq!(serde_json::from_value::<ServerMsg>(expected).unwrap(), ok);
    }
    assert!(serde_json::from_value::<ServerMsg>(json!({"type": "ok"})).is_err());
}

#[test]
fn a_command_decodes_the_same_with_or_without_an_id() {
    assert_eq!(
        decode(json!({"type": "go_to", "slide": 3, "id": 41})),
        ClientMsg::GoTo { slide: 3 }
    );
    assert_eq!(
        decode(json!({"type": "choose_group", "group": "Raadslid", "id": 12})),
        ClientMsg::ChooseGroup {
            group: Some("Raadslid".into())
        }
    );
    assert_eq!(
        decode(json!({"type": "vote", "id": u64::MAX, "slide": 3, "round": 1, "option": 0})),
        ClientMsg::Vote {
            id: u64::MAX,
            slide: 3,
            round: 1,
            option: 0
        }
    );
}

#[test]
fn the_shift_encodes_to_its_documented_json() {
    let shown = ShiftView {
        shown: true,
        from_round: 1,
        to_round: 2,
        before: vec![20, 10],
        after: vec![14, 16],
        before_percents: vec![67, 33],
        after_percents: vec![47, 53],
        paired: 28,
        suppressed: false,
        matrix: Some(vec![vec![12, 7], vec![1, 8]]),
        switched: Some(8),
        before_stats: None,
        after_stats: None,
        moved: None,
    };
    assert_eq!(
        serde_json::to_value(&shown).unwrap(),
        json!({"shown": true, "from_round": 1, "to_round": 2, "before": [20, 10],
               "after": [14, 16], "before_percents": [67, 33], "after_percents": [47, 53],
               "paired": 28, "suppressed": false,
               "matrix": [[12, 7], [1, 8]], "switched": 8})
    );
    let few = ShiftView {
        paired: 3,
        suppressed: true,
        matrix: None,
        switched: None,
        ..shown
    };
    assert_eq!(
        serde_json::to_value(&few).unwrap(),
        json!({"shown": true, "from_round": 1, "to_round": 2, "before": [20, 10],
               "after": [14, 16], "before_percents": [67, 33], "after_percents": [47, 53],
               "paired": 3, "suppressed": true})
    );
}

#[test]
fn a_scale_state_encodes_to_its_documented_json() {
    let options: Vec<String> = ["Helemaal oneens", "", "Neutraal", "", "Helemaal eens"]
        .map(String::from)
        .to_vec();
    let state = StateView {
        kind: StateTag::State,
        slide: SlideView {
            index: 2,
            count: 6,
            kind: SlideKindName::Statement,
            html: "<h2>S</h2>".into(),
            options,
            scale: true,
            phase: Some(Phase::Closed),
            round: Some(1),
            layout: None,
        },
        revealed: true,
        joined: Some(12),
        voted: Some(10),
        tally: Some(vec![1, 1, 2, 4, 2]),
        percents: Some(vec![10, 10, 20, 40, 20]),
        hands: None,
        stats: Some(ScaleStats {
            median: 4,
            mean: 3.5,
        }),
        storage: None,
        skipped_events: None,
        timer: None,
        shift: None,
        groups: None,
        arguments: None,
        cards: None,
        presenter: None,
        questions: None,
        opinion_map: None,
    };
    let expected = json!({
        "type": "state",
        "slide": {"index": 2, "count": 6, "kind": "statement", "html": "<h2>S</h2>",
                  "options": ["Helemaal oneens", "", "Neutraal", "", "Helemaal eens"],
                  "scale": true, "phase": "closed", "round": 1},
        "revealed": true, "joined": 12, "voted": 10, "tally": [1, 1, 2, 4, 2],
        "percents": [10, 10, 20, 40, 20],
        "stats": {"median": 4, "mean": 3.5}
    });
    assert_eq!(serde_json::to_value(&state).unwrap(), expected);
    assert_eq!(
        serde_json::from_value::<StateView>(expected).unwrap(),
        state
    );
    // A/B statements and outlines carry no `scale` at all.
    let outline = |scale| SlideOutline {
        index: 2,
        kind: SlideKindName::Statement,
        title: "S".into(),
        scale,
    };
    assert_eq!(
        serde_json::to_value(outline(true)).unwrap(),
        json!({"index": 2, "kind": "statement", "title": "S", "scale": true})
    );
    assert_eq!(
        serde_json::to_value(outline(false)).unwrap(),
        json!({"index": 2, "kind": "statement", "title": "S"})
    );
}

#[test]
fn a_scale_shift_encodes_its_stats_and_who_moved_up_and_down() {
    let shift = ShiftView {
        shown: true,
        from_round: 1,
        to_round: 2,
        before: vec![3, 2, 1, 0, 0],
        after: vec![1, 1, 2, 2, 0],
        before_percents: vec![50, 33, 17, 0, 0],
        after_percents: vec![17, 17, 33, 33, 0],
        paired: 6,
        suppressed: false,
        matrix: Some(vec![
            vec![1, 1, 1, 0, 0],
            vec![0, 0, 1, 1, 0],
            vec![0, 0, 0, 1, 0],
            vec![0; 5],
            vec![0; 5],
        ]),
        switched: Some(5),
        before_stats: Some(ScaleStats {
            median: 1,
            mean: 1.7,
        }),
        after_stats: Some(ScaleStats {
            median: 3,
            mean: 2.8,
        }),
        moved: Some(Moved {
            up: 5,
            down: 0,
            stayed: 1,
        }),
    };
    let expected = json!({
        "shown": true, "from_round": 1, "to_round": 2,
        "before": [3, 2, 1, 0, 0], "after": [1, 1, 2, 2, 0],
        "before_percents": [50, 33, 17, 0, 0], "after_percents": [17, 17, 33, 33, 0],
        "paired": 6, "suppressed": false,
        "matrix": [[1, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
        "switched": 5,
        "before_stats": {"median": 1, "mean": 1.7}, "after_stats": {"median": 3, "mean": 2.8},
        "moved": {"up": 5, "down": 0, "stayed": 1}
    });
    assert_eq!(serde_json::to_value(&shift).unwrap(), expected);
    assert_eq!(
        serde_json::from_value::<ShiftView>(expected).unwrap(),
        shift
    );
}

/// Every percentage in docs/protocol.md's examples is what the server would send for
/// the counts beside it: the one rounding rule, not numbers typed by hand.
///
/// The rule as the document states it: a count's share, rounded half up to a whole
/// percent.
fn percents(counts: &[u64]) -> Vec<u64> {
    let total: u64 = counts.iter().sum();
    let half_up = |n: u64| (n as f64 * 100.0 / total as f64 + 0.5).floor() as u64;
    counts
        .iter()
        .map(|&n| if total == 0 { 0 } else { half_up(n) })
        .collect()
}

#[test]
fn the_percentages_in_the_protocol_document_follow_the_one_rounding_rule() {
    let doc = source("docs/protocol.md");
    let ints = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect()
    };
    let mut checked = 0;
    let mut check = |counts: &Value, pct: &Value| {
        assert!(pct.is_array(), "percents beside {counts}");
        assert_eq!(ints(pct), percents(&ints(counts)), "percents of {counts}");
        checked += 1;
    };
    for block in doc.split("```json").skip(1) {
        let v: Value = serde_json::from_str(block.split("```").next().unwrap()).unwrap();
        if v["tally"].is_array() {
            check(&v["tally"], &v["percents"]);
        }
        if v["shift"].is_object() {
            check(&v["shift"]["before"], &v["shift"]["before_percents"]);
            check(&v["shift"]["after"], &v["shift"]["after_percents"]);
        }
        for result in v["results"].as_array().into_iter().flatten() {
            check(&result["tally"], &result["percents"]);
        }
        for row in v["groups"]["rows"].as_array().into_iter().flatten() {
            if row["counts"].is_array() {
                check(&row["counts"], &row["percents"]);
            } else {
                assert!(
                    row["percents"].is_null(),
                    "a suppressed row has no percents"
                );
            }
        }
    }
    assert!(checked >= 10, "{checked} percentages checked");
}

/// The scale examples in docs/protocol.md say what the server's types say, field for
/// field: decoded and encoded again, each is the same JSON.
#[test]
fn the_scale_examples_in_the_protocol_document_are_pinned() {
    let doc = source("docs/protocol.md");
    let examples: Vec<Value> = doc
        .split("```json")
        .skip(1)
        .map(|block| serde_json::from_str(block.split("```").next().unwrap()).unwrap())
        .filter(|v: &Value| {
            v["slide"]["scale"] == true || v["slides"].to_string().contains("\"scale\"")
        })
        .collect();
    assert_eq!(
        examples.len(),
        3,
        "a host welcome with a scale, a scale's state and its shift"
    );
    for example in examples {
        let again = if example["type"] == "state" {
            serde_json::to_value(serde_json::from_value::<StateView>(example.clone()).unwrap())
        } else {
            serde_json::to_value(serde_json::from_value::<ServerMsg>(example.clone()).unwrap())
        };
        assert_eq!(again.unwrap(), example);
    }
}

/// A deck with an A/B statement and a five-point scale.
const SCALE_DECK: &str = "## Welkom\n---\n## Kiezen\n\nA) ja\nB) nee\n---\n## Schaal\n\n1) Helemaal oneens\n2)\n3) Neutraal\n4) Eens\n5) Helemaal eens\n";

#[tokio::test]
async fn a_scale_statement_is_sent_with_scale_and_stats_where_the_tally_is() {
    let deck = stemzaal::core::deck::parse("schaal.md", SCALE_DECK).unwrap();
    let server = TestServer::start_with(deck, SCALE_DECK).await;
    let mut host = server.host().await;
    assert_eq!(
        host.welcome["slides"],
        json!([
            {"index": 0, "kind": "content", "title": "Welkom"},
            {"index": 1, "kind": "statement", "title": "Kiezen"},
            {"index": 2, "kind": "statement", "title": "Schaal", "scale": true}
        ])
    );
    let mut screen = server.screen().await;
    let mut phones = vec![];
    for _ in 0..3 {
        phones.push(server.participant().await);
    }
    // The A/B statement: no `scale`, no `stats`, even with the tally shown.
    host.send(json!({"type": "go_to", "slide": 1})).await;
    host.send(json!({"type": "open_vote"})).await;
    let state = host.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert!(state["slide"].get("scale").is_none(), "{state}");
    assert_eq!(phones[0].vote(1, 1, 0).await["type"], "ack");
    let state = host.wait_state(|s| s["voted"] == 1).await;
    assert!(state.get("stats").is_none(), "{state}");

    host.send(json!({"type": "go_to", "slide": 2})).await;
    host.send(json!({"type": "open_vote"})).await;
    let state = host
        .wait_state(|s| s["slide"]["index"] == 2 && s["slide"]["phase"] == "open")
        .await;
    assert_eq!(state["slide"]["scale"], true);
    assert_eq!(
        state["slide"]["options"],
        json!(["Helemaal oneens", "", "Neutraal", "Eens", "Helemaal eens"])
    );
    assert!(state.get("stats").is_none(), "nobody voted: {state}");
    // Points 2, 4 and 5 by phone, two hands on point 1: 1, 1, 2, 4, 5.
    for (phone, point) in phones.iter_mut().zip([1, 3, 4]) {
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        assert_eq!(phone.vote(2, 1, point).await["type"], "ack");
    }
    host.send(json!({"type": "hand_count", "counts": [2, 0, 0, 0, 0]}))
        .await;
    let state = host.wait_state(|s| s["voted"] == 5).await;
    assert_eq!(state["tally"], json!([2, 1, 0, 1, 1]));
    assert_eq!(state["percents"], json!([40, 20, 0, 20, 20]));
    assert_eq!(state["stats"], json!({"median": 2, "mean": 2.6}));
    // The screen hears it only with the tally, the phones once the vote is closed too.
    let screen_state = screen.wait_state(|s| s["slide"]["index"] == 2).await;
    assert!(screen_state.get("stats").is_none(), "{screen_state}");
    host.send(json!({"type": "reveal", "visible": true})).await;
    let screen_state = screen.wait_state(|s| s["revealed"] == true).await;
    assert_eq!(screen_state["stats"], json!({"median": 2, "mean": 2.6}));
    let phone_state = phones[0].wait_state(|s| s["revealed"] == true).await;
    assert!(phone_state.get("stats").is_none(), "{phone_state}");
    host.send(json!({"type": "close_vote"})).await;
    let phone_state = phones[0]
        .wait_state(|s| s["slide"]["phase"] == "closed")
        .await;
    assert_eq!(phone_state["stats"], json!({"median": 2, "mean": 2.6}));

    // A re-vote by three phones: too few to say who moved, but the stats of both rounds.
    host.send(json!({"type": "revote"})).await;
    for (phone, point) in phones.iter_mut().zip([2, 3, 4]) {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        assert_eq!(phone.vote(2, 2, point).await["type"], "ack");
    }
    let state = host.wait_state(|s| s["voted"] == 3).await;
    assert_eq!(
        state["shift"],
        json!({"shown": false, "from_round": 1, "to_round": 2,
               "before": [2, 1, 0, 1, 1], "after": [0, 0, 1, 1, 1],
               "before_percents": [40, 20, 0, 20, 20], "after_percents": [0, 0, 33, 33, 33],
               "paired": 3,
               "suppressed": true,
               "before_stats": {"median": 2, "mean": 2.6},
               "after_stats": {"median": 4, "mean": 4.0}})
    );
}

#[test]
fn storage_in_the_host_state_is_ok_or_failing() {
    for (storage, name) in [(Storage::Ok, "ok"), (Storage::Failing, "failing")] {
        let state = StateView {
            kind: StateTag::State,
            slide: SlideView {
                index: 0,
                count: 2,
                kind: SlideKindName::Content,
                html: "<p>x</p>".into(),
                options: vec![],
                scale: false,
                phase: None,
                round: None,
                layout: None,
            },
            revealed: false,
            joined: Some(3),
            voted: None,
            tally: None,
            percents: None,
            hands: None,
            stats: None,
            storage: Some(storage),
            skipped_events: None,
            timer: None,
            shift: None,
            groups: None,
            arguments: None,
            cards: None,
            presenter: None,
            questions: None,
            opinion_map: None,
        };
        let expected = json!({
            "type": "state",
            "slide": {"index": 0, "count": 2, "kind": "content", "html": "<p>x</p>"},
            "revealed": false, "joined": 3, "storage": name
        });
        assert_eq!(serde_json::to_value(&state).unwrap(), expected);
        assert_eq!(
            serde_json::from_value::<StateView>(expected).unwrap(),
            state
        );
    }
}

#[test]
fn the_screen_welcome_has_limits_and_nothing_of_the_other_roles() {
    let screen = ServerMsg::Welcome(Box::new(Welcome {
        version: 1,
        role: Role::Screen,
        code: "K7MX4P".into(),
        title: "T".into(),
        lang: "nl".into(),
        groups: vec![],
        participant_id: None,
        group: None,
        votes: vec![],
        arguments: vec![],
        upvoted: vec![],
        slides: vec![],
        join_url: "http://h/K7MX4P".into(),
        screen_url: None,
        limits: LIMITS,
        questions: vec![],
        upvoted_questions: vec![],
    }));
    let expected = json!({
        "type": "welcome", "version": 1, "role": "screen", "code": "K7MX4P", "title": "T",
        "lang": "nl", "groups": [], "join_url": "http://h/K7MX4P", "limits": limits_json()
    });
    assert_eq!(serde_json::to_value(&screen).unwrap(), expected);
    assert_eq!(
        serde_json::from_value::<ServerMsg>(expected).unwrap(),
        screen
    );
    let mut without_limits = limits_json();
    without_limits.as_object_mut().unwrap().remove("burst");
    let welcome = json!({
        "type": "welcome", "version": 1, "role": "screen", "code": "K7MX4P", "title": "T",
        "lang": "nl", "groups": [], "join_url": "http://h/K7MX4P", "limits": without_limits
    });
    assert!(serde_json::from_value::<ServerMsg>(welcome).is_err());
}

fn source(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The part of `text` from the line starting with `start` to the next line starting
/// with `end` (or the end).
fn section<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(&format!("\n{start}\n"))
        .unwrap_or_else(|| panic!("no `{start}` in the document"));
    let rest = &text[from + 1..];
    let to = rest[start.len()..]
        .find(&format!("\n{end}"))
        .map_or(rest.len(), |i| i + start.len());
    &rest[..to]
}

/// The cells of each row of the Markdown tables in `text`, header and rule left out.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells[0] != "---" && !cells[0].chars().all(char::is_alphabetic))
        .collect()
}

/// The text of a cell written as `` `code` ``.
fn backticked(cell: &str) -> String {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("`{cell}` is not one code in backticks"))
        .to_owned()
}

/// Every snake_case string literal that is the first literal after `prefix` on the
/// same line and within the same parentheses, e.g. the code in `error(lang, "bad_key", id)`.
fn codes_after(text: &str, prefix: &str) -> BTreeSet<String> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let span = &rest[..rest.find([')', ';', '\n']).unwrap_or(rest.len())];
            let literal = span.split('"').nth(1)?;
            let is_code =
                !literal.is_empty() && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            is_code.then(|| literal.to_owned())
        })
        .collect()
}

/// The error codes the server can send, read from its source: the session's refusals,
/// and every code that has a sentence in `protocol::error_message` (where each error's
/// text comes from), and the codes the connection names itself.
fn error_codes_in_source() -> BTreeSet<String> {
    let session = source("src/core/session.rs");
    let refusals = &session[session.find("pub fn code(self)").expect("Rejection::code")..];
    let refusals = &refusals[..refusals.find("\n    }\n").unwrap()];
    let mut codes = codes_after(refusals, "=> ");
    let protocol = source("src/wire/protocol.rs");
    let table = &protocol[protocol
        .find("pub fn error_message(")
        .expect("protocol::error_message")..];
    let table = &table[..table.find("\n}\n").unwrap()];
    codes.extend(codes_after(table, "("));
    let connection = source("src/web/socket.rs");
    for prefix in ["error(", "Err(", "ok_or("] {
        codes.extend(codes_after(&connection, prefix));
    }
    codes
}

#[test]
fn the_error_table_lists_exactly_the_codes_the_server_sends() {
    let from_source = error_codes_in_source();
    // The scan must see every kind of place a code comes from.
    for code in [
        "vote_closed",
        "bad_hand_count",
        "bad_message",
        "hello_expected",
        "already_joined",
        "not_allowed",
        "rate_limited",
        "too_many_joins",
        "storage_unavailable",
    ] {
        assert!(from_source.contains(code), "the scan missed `{code}`");
    }
    let doc = source("docs/protocol.md");
    let documented: Vec<String> = table_rows(section(&doc, "### error", "## "))
        .iter()
        .map(|cells| backticked(&cells[0]))
        .collect();
    let unique: BTreeSet<String> = documented.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        documented.len(),
        "a code twice: {documented:?}"
    );
    assert_eq!(unique, from_source, "docs/protocol.md's error table vs src");
}

/// `(code, reason)` of every close the server makes, from src/web/socket.rs.
fn closes_in_source() -> (BTreeSet<u16>, BTreeSet<(u16, String)>) {
    let connection = source("src/web/socket.rs");
    let mut values = BTreeMap::new();
    for line in connection.lines() {
        if let Some(rest) = line.strip_prefix("pub const CLOSE_") {
            let (name, value) = rest.split_once(": u16 = ").expect("a u16 close code");
            let value: u16 = value.trim_end_matches(';').parse().expect("a number");
            values.insert(format!("CLOSE_{name}"), value);
        }
    }
    let mut closes = BTreeSet::new();
    for (i, _) in connection.match_indices("CLOSE_") {
        let rest = &connection[i..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        let Some(after) = rest[name.len()..].trim_start().strip_prefix(',') else {
            continue;
        };
        let Some(after) = after.trim_start().strip_prefix('"') else {
            continue;
        };
        let reason = after.split('"').next().unwrap().to_owned();
        let code = *values
            .get(&name)
            .unwrap_or_else(|| panic!("{name} closes but is not a u16 CLOSE_ constant"));
        closes.insert((code, reason));
    }
    (values.into_values().collect(), closes)
}

#[test]
fn the_close_code_table_lists_exactly_the_codes_and_reasons_the_server_sends() {
    let (constants, from_source) = closes_in_source();
    assert!(
        constants.contains(&4000) && constants.contains(&1001),
        "{constants:?}"
    );
    let used: BTreeSet<u16> = from_source.iter().map(|(code, _)| *code).collect();
    assert_eq!(
        used, constants,
        "every CLOSE_ constant closes with a reason"
    );
    let doc = source("docs/protocol.md");
    let documented: BTreeSet<(u16, String)> = table_rows(section(&doc, "## Close codes", "## "))
        .iter()
        .map(|cells| {
            let code = cells[0].parse().unwrap_or_else(|_| panic!("{cells:?}"));
            (code, backticked(&cells[1]))
        })
        .collect();
    assert_eq!(
        documented, from_source,
        "docs/protocol.md's close codes vs src"
    );
}

#[tokio::test]
async fn welcome_carries_the_limits_the_server_runs_with() {
    let limits = Limits {
        ping_interval: Duration::from_millis(7_500),
        idle_timeout: Duration::from_secs(31),
        messages_per_second: 3.5,
        burst: 12.0,
        ..Limits::default()
    };
    let server = TestServer::start_limited(limits).await;
    let expected = json!({
        "ping_interval_ms": 7500, "idle_timeout_ms": 31000,
        "max_message_bytes": stemzaal::web::MAX_MESSAGE_BYTES,
        "messages_per_second": 3.5, "burst": 12.0
    });
    for client in [
        server.participant().await,
        server.host().await,
        server.screen().await,
    ] {
        assert_eq!(client.welcome["limits"], expected, "{}", client.welcome);
    }
    let defaults = TestServer::start().await;
    assert_eq!(defaults.host().await.welcome["limits"], limits_json());
}

#[tokio::test]
async fn only_the_host_is_told_whether_storage_can_write_from_its_first_state() {
    let server = TestServer::start().await;
    // Before anything was stored in the session, and after.
    let host = server.host().await;
    assert_eq!(host.state["storage"], "ok", "{}", host.state);
    let phone = server.participant().await;
    let screen = server.screen().await;
    assert!(phone.state.get("storage").is_none(), "{}", phone.state);
    assert!(screen.state.get("storage").is_none(), "{}", screen.state);
    let mut host = host;
    let joined = host.wait_state(|s| s["joined"] == 1).await;
    assert_eq!(joined["storage"], "ok", "{joined}");
}

#[tokio::test]
async fn join_codes_are_case_insensitive_and_written_in_upper_case() {
    let server = TestServer::start().await;
    let lower = server.code().to_ascii_lowercase();
    assert_ne!(lower, server.code());
    let url = format!("ws://{}/ws/{lower}", server.addr);
    let phone = support::TestClient::hello(&url, json!({"type": "hello"})).await;
    assert_eq!(phone.welcome["code"], server.code());
    assert_eq!(server.get(&format!("/qr/{lower}.svg")).await.0, 200);
}

#[tokio::test]
async fn a_group_must_match_exactly() {
    let server = TestServer::start().await;
    let mut phone = server.participant().await;
    let group = phone.welcome["groups"][0].as_str().unwrap().to_owned();
    phone
        .send(json!({"type": "choose_group", "group": group.to_lowercase(), "id": 1}))
        .await;
    let refused = phone.wait_for("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["id"].as_u64()),
        (Some("unknown_group"), Some(1))
    );
    phone
        .send(json!({"type": "choose_group", "group": group, "id": 2}))
        .await;
    assert_eq!(phone.wait_for("ok").await, json!({"type": "ok", "id": 2}));
}

/// Opens a WebSocket with a `Cookie` header, sends `hello` and returns every message
/// until the first `state`, or until the close (with its code and reason).
async fn hello_with_cookie(
    server: &TestServer,
    cookie: Option<String>,
    hello: Value,
) -> (Vec<Value>, Option<(u16, String)>) {
    let mut request = server.ws_url().into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let mut messages = vec![];
    loop {
        let msg = tokio::time::timeout(support::WAIT, ws.next())
            .await
            .expect("an answer in time");
        match msg {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                let done = value["type"] == "state";
                messages.push(value);
                if done {
                    return (messages, None);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return (
                    messages,
                    frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                )
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (messages, None),
        }
    }
}

#[tokio::test]
async fn the_host_link_sets_the_key_cookie_that_a_role_hello_presents() {
    let server = TestServer::start().await;
    let key = server.session.host_key().expose().to_owned();
    let code = server.code();
    let (status, head, _) = server.get(&format!("/host/{code}?key={key}")).await;
    assert_eq!(status, 303);
    // The helper gives the head in lower case.
    let location = format!("location: /host/{code}\r\n").to_ascii_lowercase();
    assert!(head.contains(&location), "{head}");
    let cookie = format!("stemzaal_host_{code}={key}");
    let set = format!("set-cookie: {cookie}; path=/; httponly; samesite=strict; max-age=57600")
        .to_ascii_lowercase();
    assert!(head.contains(&set), "{head}");

    let (messages, close) = hello_with_cookie(
        &server,
        Some(cookie.clone()),
        json!({"type": "hello", "role": "host"}),
    )
    .await;
    assert_eq!(close, None);
    assert_eq!(messages[0]["role"], "host", "{messages:?}");
    assert!(messages[1].get("storage").is_some(), "{messages:?}");

    // No cookie for the role asked for, or a key of another role: refused.
    for (cookie, hello) in [
        (None, json!({"type": "hello", "role": "host"})),
        (
            Some(cookie.clone()),
            json!({"type": "hello", "role": "screen"}),
        ),
        (
            None,
            json!({"type": "hello", "role": "screen", "key": server.session.host_key().expose()}),
        ),
    ] {
        let (messages, close) = hello_with_cookie(&server, cookie, hello.clone()).await;
        assert_eq!(messages.len(), 1, "{hello}: {messages:?}");
        assert_eq!(messages[0]["code"], "bad_key", "{hello}");
        assert_eq!(close, Some((1008, "bad key".to_owned())), "{hello}");
    }
}

#[tokio::test]
async fn report_and_exports_want_the_host_key_by_query_or_cookie() {
    let server = TestServer::start().await;
    let key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let code = server.code().to_owned();
    let cookie = format!("stemzaal_host_{code}={key}");
    for (path, mime) in [
        (format!("/report/{code}"), "text/html; charset=utf-8"),
        (format!("/export/{code}.csv"), "text/csv; charset=utf-8"),
        (format!("/export/{code}.json"), "application/json"),
        (
            format!("/export/{code}.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ] {
        let (status, _, body) = server.get(&path).await;
        assert_eq!(
            (status, body.as_str()),
            (403, "host key required"),
            "{path}"
        );
        let (status, _, _) = server.get(&format!("{path}?key={screen_key}")).await;
        assert_eq!(status, 403, "{path} with the screen key");
        for (query, headers) in [
            (format!("?key={key}"), vec![]),
            (String::new(), vec![("Cookie", cookie.as_str())]),
        ] {
            let (status, head, _) =
                http_get(server.addr, &format!("{path}{query}"), &headers).await;
            assert_eq!(status, 200, "{path}{query} {headers:?}");
            assert!(
                head.contains(&format!("content-type: {mime}\r\n")),
                "{head}"
            );
            assert!(head.contains("cache-control: no-store\r\n"), "{head}");
        }
    }
    let (_, head, body) = server.get(&format!("/export/{code}.csv?key={key}")).await;
    let filename = format!("filename=\"stemzaal-{code}.csv\"").to_ascii_lowercase();
    assert!(head.contains(&filename), "{head}");
    assert!(
        body.starts_with(
            "\u{feff}table,slide,statement,round,group,option,option_text,votes,hands,percent,\
             upvotes,note\r\n"
        ),
        "{body}"
    );
    for upper in ["CSV", "XLSX"] {
        let (status, _, _) = server
            .get(&format!("/export/{code}.{upper}?key={key}"))
            .await;
        assert_eq!(status, 404, "{upper}");
    }
}
