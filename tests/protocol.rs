//! Pins the wire format: every message against a `json!` literal, and every example in
//! docs/protocol.md against the types, so the document cannot drift from the code.

use serde_json::{json, Value};
use stemzaal::protocol::{
    ClientMsg, Lang, OwnVote, Phase, Role, ServerMsg, SlideKindName, SlideOutline, SlideView,
    StateTag, StateView, TimerView, Welcome,
};
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
                lang: Lang::En,
            },
        ),
        (
            json!({"type": "hello", "key": "k"}),
            ClientMsg::Hello {
                key: Some("k".into()),
                role: None,
                participant_id: None,
                lang: Lang::Nl,
            },
        ),
        (
            json!({"type": "hello", "role": "host"}),
            ClientMsg::Hello {
                key: None,
                role: Some(Role::Host),
                participant_id: None,
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
        slides: vec![],
        join_url: "http://h/K7MX4P".into(),
        screen_url: None,
    }));
    assert_eq!(
        serde_json::to_value(&welcome).unwrap(),
        json!({
            "type": "welcome", "version": 1, "role": "participant", "code": "K7MX4P",
            "title": "T", "lang": "nl", "groups": ["Raadslid"], "participant_id": id,
            "votes": [{"slide": 3, "round": 1, "option": 0}], "join_url": "http://h/K7MX4P"
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
        slides: vec![SlideOutline {
            index: 0,
            kind: SlideKindName::Content,
            title: "Intro".into(),
        }],
        join_url: "http://h/K7MX4P".into(),
        screen_url: Some("http://h/screen/K7MX4P?key=k".into()),
    }));
    assert_eq!(
        serde_json::to_value(&host).unwrap(),
        json!({
            "type": "welcome", "version": 1, "role": "host", "code": "K7MX4P", "title": "T",
            "lang": "nl", "groups": [], "slides": [{"index": 0, "kind": "content", "title": "Intro"}],
            "join_url": "http://h/K7MX4P", "screen_url": "http://h/screen/K7MX4P?key=k"
        })
    );
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
            phase: Some(Phase::Open),
            round: Some(1),
        },
        revealed: true,
        joined: Some(42),
        voted: Some(30),
        tally: Some(vec![18, 12]),
        hands: Some(vec![3, 1]),
        storage: None,
        timer: Some(TimerView {
            remaining_ms: 41_500,
        }),
    };
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        json!({
            "type": "state",
            "slide": {"index": 3, "count": 16, "kind": "statement", "html": "<h2>S</h2>",
                      "options": ["a", "b"], "phase": "open", "round": 1},
            "revealed": true, "joined": 42, "voted": 30, "tally": [18, 12], "hands": [3, 1],
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
            phase: None,
            round: None,
        },
        revealed: false,
        joined: None,
        voted: None,
        tally: None,
        hands: None,
        storage: None,
        timer: None,
    };
    assert_eq!(
        serde_json::to_value(&content).unwrap(),
        json!({"type": "state", "slide": {"index": 0, "count": 16, "kind": "content", "html": "<p>x</p>"}, "revealed": false})
    );
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
            || serde_json::from_value::<StateView>(value.clone()).is_ok();
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
        "start_timer",
        "stop_timer",
        "welcome",
        "state",
        "ack",
        "error",
    ] {
        assert!(
            types.contains(expected),
            "no example of `{expected}` in docs/protocol.md"
        );
    }
}
