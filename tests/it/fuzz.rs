//! Mutation fuzzing of everything a stranger can feed the server: 100,000 mutated
//! messages through decode, authorisation and the session, and 100,000 mutated decks
//! through the parser. A panic fails the test; the counts show the mutations reach deep.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stemzaal::core::deck::{self, Deck};
use stemzaal::core::session::{Command, Session};
use stemzaal::web::socket::command_for;
use stemzaal::wire::protocol::{ClientMsg, Role};
use uuid::Uuid;

const CASES: usize = 100_000;

const SEEDS: &[&str] = &[
    r#"{"type":"hello","participant_id":"4f9d2c1e-8a7b-4c3d-9e2f-1a2b3c4d5e6f","lang":"nl"}"#,
    r#"{"type":"hello","key":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","role":"host"}"#,
    r#"{"type":"choose_group","group":"Raadslid"}"#,
    r#"{"type":"choose_group","group":null}"#,
    r#"{"type":"vote","id":7,"slide":3,"round":1,"option":0}"#,
    r#"{"type":"vote","id":8,"slide":3,"round":1,"option":1}"#,
    r#"{"type":"vote","id":9,"slide":6,"round":2,"option":1}"#,
    r#"{"type":"go_to","slide":3}"#,
    r#"{"type":"next"}"#,
    r#"{"type":"prev"}"#,
    r#"{"type":"open_vote"}"#,
    r#"{"type":"close_vote"}"#,
    r#"{"type":"reveal","visible":true}"#,
    r#"{"type":"revote"}"#,
    r#"{"type":"start_timer","seconds":60}"#,
    r#"{"type":"stop_timer"}"#,
    r#"{"type":"hand_count","counts":[12,7]}"#,
];

const NOISE: &[&[u8]] = &[
    b"-1",
    b"18446744073709551616",
    b"1e308",
    b"null",
    b"true",
    b"\"\"",
    b"{}",
    b"[]",
    b"\xff\xfe",
    b"\\u0000",
    b"\"type\"",
    b",",
    b":",
    b"}",
    b"{",
    b"\"",
    b"0",
    b"4294967296",
    b"\"vote\"",
    b"\"host\"",
    b"99999999999999999999999999",
];

fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let len = bytes.len().max(1);
        match rng.gen_range(0..7) {
            0 => {
                let i = rng.gen_range(0..len).min(bytes.len().saturating_sub(1));
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << rng.gen_range(0..8);
                }
            }
            1 => {
                let i = rng.gen_range(0..=bytes.len());
                bytes.insert(i, rng.gen());
            }
            2 if !bytes.is_empty() => {
                let i = rng.gen_range(0..bytes.len());
                let j = rng.gen_range(i..=bytes.len());
                bytes.drain(i..j);
            }
            3 => {
                let i = rng.gen_range(0..=bytes.len());
                let noise = NOISE[rng.gen_range(0..NOISE.len())];
                bytes.splice(i..i, noise.iter().copied());
            }
            4 => {
                // Replace a number with another (often out of range).
                if let Some(i) = bytes.iter().position(|b| b.is_ascii_digit()) {
                    let j = bytes[i..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .map_or(bytes.len(), |n| i + n);
                    let noise = NOISE[rng.gen_range(0..NOISE.len())];
                    bytes.splice(i..j, noise.iter().copied());
                }
            }
            5 => {
                let cut = rng.gen_range(0..=bytes.len());
                let from = rng.gen_range(0..=other.len());
                bytes.truncate(cut);
                bytes.extend_from_slice(&other[from..]);
            }
            _ => bytes.truncate(rng.gen_range(0..=bytes.len())),
        }
    }
    bytes
}

fn fuzz_deck() -> Arc<Deck> {
    Arc::new(Deck::default_deck())
}

#[test]
fn a_hundred_thousand_mutated_messages_never_panic_and_never_break_the_count() {
    let mut rng = StdRng::seed_from_u64(0x5157_e3a1);
    let mut session = Session::new(fuzz_deck());
    let people: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    for &participant in &people {
        session.apply(Command::Join { participant }).unwrap();
    }
    let (mut decoded, mut authorised, mut applied) = (0, 0, 0);
    for case in 0..CASES {
        let seed = SEEDS[rng.gen_range(0..SEEDS.len())].as_bytes();
        let other = SEEDS[rng.gen_range(0..SEEDS.len())].as_bytes();
        let bytes = mutate(&mut rng, seed, other);
        let Ok(msg) = serde_json::from_slice::<ClientMsg>(&bytes) else {
            continue;
        };
        decoded += 1;
        let role = [Role::Participant, Role::Host, Role::Screen][case % 3];
        let participant = (role == Role::Participant).then(|| people[case % people.len()]);
        let Ok(command) = command_for(msg, role, participant, case as u64 * 1000) else {
            continue;
        };
        authorised += 1;
        if session.apply(command).is_ok() {
            applied += 1;
        }
        // The invariant that matters most, checked after every change.
        let current = session.current();
        if let Some(statement) = session.statement(current) {
            let counted: u64 = statement.current().counts.iter().sum();
            assert_eq!(counted, statement.current().votes.len() as u64);
        }
    }
    println!(
        "{CASES} mutated messages: {decoded} decoded, {authorised} authorised, {applied} applied"
    );
    assert!(
        decoded > CASES / 20,
        "mutations mostly broke the JSON: {decoded}"
    );
    // About one in a hundred: most mutated host commands are refused by the state
    // (a reveal on a content slide, a vote on a closed statement), which is the point.
    assert!(
        applied > 500,
        "mutations rarely reached the session: {applied}"
    );
}

#[test]
fn a_hundred_thousand_mutated_decks_never_panic_the_parser() {
    let mut rng = StdRng::seed_from_u64(0xdec_c0de);
    let seed = "---\ntitle: Raad\ngroups: Raadslid, Inwoner\n---\n# Vraag\n\n- een\n- twee\n\n---\n\n\
                ## Stelling\n\nA) maatwerk is belangrijker\nen blijft dat\nB) een vaste werkwijze\n\
                C) <script>x</script>\n\n---\n\n[link](javascript:alert(1)) ![img](x.png) | a | b |\n|---|---|\n";
    let other = deck::DEFAULT_DECK_SOURCE.as_bytes();
    let (mut ok, mut err) = (0, 0);
    for _ in 0..CASES {
        let window = rng.gen_range(0..other.len() - 200);
        let bytes = mutate(&mut rng, seed.as_bytes(), &other[window..window + 200]);
        let text = String::from_utf8_lossy(&bytes);
        match deck::parse("fuzz.md", &text) {
            Ok(deck) => {
                ok += 1;
                assert!(!deck.slides.is_empty());
                for slide in &deck.slides {
                    assert!(!slide.html.contains("<script"), "{}", slide.html);
                }
            }
            Err(e) => {
                err += 1;
                assert!(!e.errors.is_empty());
                assert!(e.errors.iter().all(|l| l.line >= 1));
            }
        }
    }
    println!("{CASES} mutated decks: {ok} parsed, {err} refused with line numbers");
    assert!(ok > 1_000 && err > 1_000, "ok {ok}, err {err}");
}
