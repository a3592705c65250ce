//! The opinion map: the method's properties on the pure computation, and the whole flow
//! through the real server (the deck's marker, the host's `show_map`, the screen's map,
//! a phone's own group and nobody else's, the report).

use crate::support;

use std::collections::{BTreeSet, HashMap};

use calamine::Data;
use proptest::prelude::*;
use serde_json::{json, Value};
use stemzaal::core::opinion::{compute, Column, Outcome, Votes};
use support::{TestClient, TestServer};
use uuid::Uuid;

/// Three A/B statements, then a slide marked for the map.
const MAP_DECK: &str = "---
title: Meningskaart
min_group_size: 3
---

## Meer groen in de wijk?

A) Ja
B) Nee

---

## Een autovrij centrum?

A) Ja
B) Nee

---

## Vaker een raadsavond in de wijk?

A) Ja
B) Nee

---

## Hoe denkt de zaal?

[meningskaart]
";

/// A participant and its choice per statement.
type Row = (Uuid, Vec<Option<u8>>);

fn ab(slides: usize) -> Vec<Column> {
    (0..slides).map(Column::ab).collect()
}

/// The groups found, as sets of participants (their numbering aside).
fn partition(outcome: &Outcome) -> BTreeSet<BTreeSet<Uuid>> {
    let Outcome::Map(map) = outcome else {
        return BTreeSet::new();
    };
    let mut groups: HashMap<usize, BTreeSet<Uuid>> = HashMap::new();
    for (participant, &group) in &map.assignment {
        groups.entry(group).or_default().insert(*participant);
    }
    groups.into_values().collect()
}

/// Two camps of `a` and `b` participants on `statements` A/B statements: the first camp
/// votes A everywhere, the second B, except where `flips` turns a participant's vote
/// on a statement around (noise: one statement at most per participant, of five or
/// more, so that a dissenter stays nearer its own camp than any of the other), and
/// statement 0 is A for everybody (a consensus statement).
fn camps(a: usize, b: usize, statements: usize, flips: &[(usize, usize)]) -> Votes {
    let rows = (0..a + b)
        .map(|p| {
            let camp = u8::from(p >= a);
            let mut choices: Vec<Option<u8>> = (0..statements).map(|_| Some(camp)).collect();
            choices[0] = Some(0);
            // One flip at most per participant, so each keeps to its camp.
            if let Some(&(_, s)) = flips.iter().find(|&&(who, _)| who == p) {
                if s > 0 && s < statements {
                    choices[s] = choices[s].map(|c| 1 - c);
                }
            }
            (Uuid::from_u128(p as u128 + 1), choices)
        })
        .collect();
    Votes {
        columns: ab(statements),
        rows,
        min_group_size: 3,
    }
}

fn camp_votes() -> impl Strategy<Value = Votes> {
    (6usize..40, 6usize..40, 6usize..12).prop_flat_map(|(a, b, statements)| {
        // At most one flip per six participants: noise, not a third camp.
        let flips = proptest::collection::vec((0..a + b, 1..statements), 0..(a + b) / 6);
        flips.prop_map(move |flips| camps(a, b, statements, &flips))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn permuting_participants_never_changes_the_groups_found(
        votes in camp_votes(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = votes.clone();
        // A permutation from the seed: sort by a hash of position and seed.
        let mut keyed: Vec<(u64, Row)> = shuffled
            .rows
            .drain(..)
            .enumerate()
            .map(|(i, row)| ((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed, row))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        shuffled.rows = keyed.into_iter().map(|(_, row)| row).collect();
        prop_assert_eq!(compute(&votes), compute(&shuffled));
    }

    #[test]
    fn permuting_statements_never_changes_the_groups_found(
        votes in camp_votes(),
        rotate in 1usize..10,
    ) {
        let mut moved = votes.clone();
        let n = moved.columns.len();
        let rotate = rotate % n;
        moved.columns.rotate_left(rotate);
        for (_, choices) in &mut moved.rows {
            choices.rotate_left(rotate);
        }
        moved.columns.reverse();
        for (_, choices) in &mut moved.rows {
            choices.reverse();
        }
        prop_assert_eq!(partition(&compute(&votes)), partition(&compute(&moved)));
    }

    #[test]
    fn a_planted_two_camp_vote_is_recovered(votes in camp_votes()) {
        let outcome = compute(&votes);
        let Outcome::Map(map) = &outcome else {
            return Err(TestCaseError::fail(format!("no map: {outcome:?}")));
        };
        // The first camp: A on most statements (each flipped at most one).
        let camp_a: BTreeSet<Uuid> = votes
            .rows
            .iter()
            .filter(|(_, c)| c[1..].iter().filter(|&&v| v == Some(0)).count() * 2 > c.len() - 1)
            .map(|(p, _)| *p)
            .collect();
        let found = partition(&outcome);
        // No group mixes the camps.
        for group in &found {
            prop_assert!(group.is_subset(&camp_a) || group.is_disjoint(&camp_a));
        }
        // Fewer dissenters than a group needs: exactly the two camps.
        let dissenters = votes
            .rows
            .iter()
            .filter(|(_, c)| c[1..].windows(2).any(|w| w[0] != w[1]))
            .count() as u64;
        if dissenters < votes.min_group_size {
            prop_assert_eq!(map.groups.len(), 2);
            prop_assert!(found.contains(&camp_a));
        }
        // Statement 0 is everybody's A: a consensus statement, never a divisive one.
        prop_assert!(map.consensus.contains(&0));
        prop_assert!(!map.divisive.contains(&0));
    }

    #[test]
    fn no_group_on_the_map_is_smaller_than_min_group_size(
        rows in proptest::collection::vec(proptest::collection::vec(proptest::option::of(0u8..2), 4), 2..60),
        min in 2u64..8,
    ) {
        let votes = Votes {
            columns: ab(4),
            rows: rows
                .into_iter()
                .enumerate()
                .filter(|(_, r)| r.iter().any(Option::is_some))
                .map(|(i, r)| (Uuid::from_u128(i as u128 + 1), r))
                .collect(),
            min_group_size: min,
        };
        match compute(&votes) {
            Outcome::Map(map) => {
                prop_assert!(map.groups.len() >= 2);
                prop_assert!(map.groups.iter().all(|g| g.size >= min));
                prop_assert_eq!(map.assignment.len(), votes.rows.len());
                prop_assert_eq!(map.groups.iter().map(|g| g.size).sum::<u64>(), votes.rows.len() as u64);
                // The dots add up to the participants; none carries an identity.
                prop_assert_eq!(map.dots.iter().map(|d| d.n).sum::<u64>(), votes.rows.len() as u64);
            }
            Outcome::FewParticipants { participants, needed } => {
                prop_assert_eq!(participants, votes.rows.len() as u64);
                prop_assert_eq!(needed, 2 * min);
            }
            Outcome::FewStatements => prop_assert!(false, "four statements"),
        }
    }
}

#[test]
fn a_small_camp_is_merged_into_the_nearest_group_never_shown_alone() {
    // Ten for A, ten for B, and two who vote B then A: a camp of two under 3.
    let mut votes = camps(10, 10, 4, &[]);
    for p in 0..2 {
        votes.rows.push((
            Uuid::from_u128(1000 + p),
            vec![Some(0), Some(1), Some(0), Some(1)],
        ));
    }
    let Outcome::Map(map) = compute(&votes) else {
        panic!("a map")
    };
    assert!(map.groups.iter().all(|g| g.size >= 3), "{:?}", map.groups);
    assert_eq!(map.groups.iter().map(|g| g.size).sum::<u64>(), 22);
}

#[test]
fn the_marker_puts_the_map_on_a_content_slide_and_is_refused_on_a_statement() {
    let deck = stemzaal::core::deck::parse("kaart.md", MAP_DECK).expect("the deck parses");
    assert_eq!(
        deck.slides
            .iter()
            .map(|s| s.opinion_map)
            .collect::<Vec<_>>(),
        [false, false, false, true]
    );
    // The marker line is not shown.
    assert!(!deck.slides[3].html.contains("meningskaart"));
    let english = "## Map\n\n[Opinion map]\n";
    assert!(
        stemzaal::core::deck::parse("en.md", english)
            .unwrap()
            .slides[0]
            .opinion_map
    );
    let wrong = "## Stelling\n\n[meningskaart]\n\nA) Ja\nB) Nee\n";
    let error = stemzaal::core::deck::parse("fout.md", wrong).unwrap_err();
    assert_eq!(error.errors[0].code, "map_on_statement");
    assert_eq!(error.errors[0].line, 3);
    assert!(error.errors[0].dutch.contains("[meningskaart]"));
    assert!(error.errors[0].message.contains("[opinion map]"));
}

/// A server on [`MAP_DECK`] with its host, screen and `a + b` phones; the first `a`
/// vote A, A, A and the rest B, B, A on the three statements.
async fn voted_room(a: usize, b: usize) -> (TestServer, TestClient, TestClient, Vec<TestClient>) {
    let deck = stemzaal::core::deck::parse("kaart.md", MAP_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, MAP_DECK).await;
    let mut host = server.host().await;
    let screen = server.screen().await;
    let mut phones = vec![];
    for _ in 0..a + b {
        phones.push(server.participant().await);
    }
    for slide in 0..3u64 {
        all_vote(&mut host, &mut phones, slide, |i| {
            Some(u64::from(i >= a && slide < 2))
        })
        .await;
    }
    (server, host, screen, phones)
}

/// The host opens the vote on `slide`, and phone i votes `choose(i)` (none for `None`).
pub(crate) async fn all_vote(
    host: &mut TestClient,
    phones: &mut [TestClient],
    slide: u64,
    choose: impl Fn(usize) -> Option<u64>,
) {
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    for (i, phone) in phones.iter_mut().enumerate() {
        phone
            .wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "open")
            .await;
        if let Some(option) = choose(i) {
            let ack = phone.vote(slide, 1, option).await;
            assert_eq!(ack["type"], "ack", "phone {i} on slide {slide}: {ack}");
        }
    }
}

async fn my_group(phone: &mut TestClient, id: u64) -> Value {
    phone.send(json!({"type": "map_group", "id": id})).await;
    let answer = phone.wait_for("map_group").await;
    assert_eq!(answer["id"], id);
    answer
}

#[tokio::test]
async fn the_map_slide_shows_two_camps_on_the_screen_and_each_phone_learns_only_its_group() {
    let (server, mut host, mut screen, mut phones) = voted_room(4, 4).await;
    host.send(json!({"type": "go_to", "slide": 3})).await;
    let state = screen
        .wait_state(|s| s["opinion_map"]["status"] == "map")
        .await;
    let map = &state["opinion_map"];
    // The example in docs/protocol.md is this very map.
    let documented = documented_examples();
    let example = documented
        .iter()
        .find(|e| e["opinion_map"]["groups"].is_array())
        .expect("the screen's example");
    assert_eq!(map, &example["opinion_map"]);
    assert_eq!(map["groups"].as_array().unwrap().len(), 2);
    assert_eq!(map["groups"][0]["size"], 4);
    assert_eq!(map["groups"][1]["size"], 4);
    assert_eq!(map["participants"], 8);
    assert_eq!(map["min_group_size"], 3);
    assert_eq!(map["consensus"], json!([2]));
    assert_eq!(map["divisive"], json!([0, 1]));
    let dots: u64 = map["dots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[3].as_u64().unwrap())
        .sum();
    assert_eq!(dots, 8);
    assert_eq!(map["statements"][0]["title"], "Meer groen in de wijk?");
    let percents = &map["statements"][0]["percents"];
    let mut split: Vec<Value> = percents.as_array().unwrap().clone();
    split.sort_by_key(|p| p[0].as_u64());
    assert_eq!(split, [json!([0, 100]), json!([100, 0])]);
    // No identity on the screen.
    let screen_text = state.to_string();
    for phone in &phones {
        assert!(!screen_text.contains(&phone.participant_id()));
    }

    // A phone sees that there is a map of two groups, and asks for its own group.
    let phone_state = phones[0]
        .wait_state(|s| s["opinion_map"]["status"] == "map")
        .await;
    let phone_example = documented
        .iter()
        .find(|e| {
            e["opinion_map"]["group_count"].is_number() && e["opinion_map"]["groups"].is_null()
        })
        .expect("the phone's example");
    assert_eq!(phone_state["opinion_map"], phone_example["opinion_map"]);
    let phone_map = phone_state["opinion_map"].as_object().unwrap();
    assert_eq!(phone_map["group_count"], 2);
    assert!(!phone_map.contains_key("groups") && !phone_map.contains_key("dots"));
    assert!(!phone_map.contains_key("statements"));
    let mut groups = vec![];
    for (i, phone) in phones.iter_mut().enumerate() {
        let answer = my_group(phone, 100 + i as u64).await;
        assert_eq!(answer["version"], map["version"]);
        groups.push(answer["group"].as_u64().expect("a group"));
    }
    assert!(groups[..4].iter().all(|&g| g == groups[0]));
    assert!(groups[4..].iter().all(|&g| g == groups[4]));
    assert_ne!(groups[0], groups[4]);

    // The report has the map and the statements it rests on.
    let key = server.session.host_key().expose().to_owned();
    let code = server.code().to_owned();
    let (status, _, body) = server.get(&format!("/export/{code}.json?key={key}")).await;
    assert_eq!(status, 200);
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["opinion_map"]["groups"], json!([4, 4]));
    assert_eq!(report["opinion_map"]["consensus"], json!([3]));
    assert!(report["opinion_map"]["method"]
        .as_str()
        .unwrap()
        .contains("hoofdcomponentenanalyse"));
    let (_, _, html) = server.get(&format!("/report/{code}?key={key}")).await;
    assert!(html.contains("Meningskaart"));
    assert!(html.contains("Gedeeld door alle groepen"));
    let (_, _, english) = server
        .get(&format!("/report/{code}?key={key}&lang=en"))
        .await;
    assert!(english.contains("Opinion map") && english.contains("principal component"));
    // And the archivable PDF: the map as a figure, its tables and the method.
    let (status, _, pdf) =
        support::http_get_bytes(server.addr, &format!("/report/{code}.pdf?key={key}"), &[]).await;
    assert_eq!(status, 200);
    let text = pdf_text(&pdf);
    for words in [
        "Meningskaart",
        "8 deelnemers in 2 groepen",
        "Groep 1",
        "Gedeeld door alle groepen",
        "Hoe de kaart is gemaakt",
    ] {
        assert!(text.contains(words), "`{words}` in the PDF:\n{text}");
    }

    // Off the map slide, no map and no group.
    host.send(json!({"type": "go_to", "slide": 0})).await;
    phones[0]
        .wait_state(|s| s["opinion_map"].is_null() && s["slide"]["index"] == 0)
        .await;
    assert_eq!(my_group(&mut phones[0], 200).await["group"], Value::Null);
}

#[tokio::test]
async fn too_few_participants_for_two_groups_are_told_instead_of_a_map() {
    let (_server, mut host, mut screen, mut phones) = voted_room(3, 2).await;
    host.send(json!({"type": "go_to", "slide": 3})).await;
    let state = screen
        .wait_state(|s| s["opinion_map"]["status"] == "few_participants")
        .await;
    assert_eq!(state["opinion_map"]["participants"], 5);
    assert_eq!(state["opinion_map"]["needed"], 6);
    assert!(state["opinion_map"]["dots"].is_null());
    let phone = phones[0]
        .wait_state(|s| s["opinion_map"]["status"] == "few_participants")
        .await;
    assert!(phone["opinion_map"]["participants"].is_null());
    assert_eq!(my_group(&mut phones[0], 7).await["group"], Value::Null);
}

#[tokio::test]
async fn the_host_shows_the_map_over_any_slide_once_two_statements_have_votes_and_a_phone_may_not()
{
    let deck = stemzaal::core::deck::parse("kaart.md", MAP_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, MAP_DECK).await;
    let mut host = server.host().await;
    let mut phone = server.participant().await;
    host.send(json!({"type": "show_map", "visible": true, "id": 1}))
        .await;
    let refused = host.wait_for("error").await;
    assert_eq!(refused["code"], "map_needs_statements");
    assert_eq!(refused["id"], 1);
    phone
        .send(json!({"type": "show_map", "visible": true, "id": 2}))
        .await;
    assert_eq!(phone.wait_for("error").await["code"], "not_allowed");
    drop(phone);

    let (_server, mut host, mut screen, _phones) = voted_room(4, 4).await;
    host.send(json!({"type": "go_to", "slide": 0})).await;
    host.send(json!({"type": "show_map", "visible": true, "id": 3}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 3);
    screen
        .wait_state(|s| s["opinion_map"]["status"] == "map" && s["slide"]["index"] == 0)
        .await;
    host.send(json!({"type": "show_map", "visible": false, "id": 4}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 4);
    screen.wait_state(|s| s["opinion_map"].is_null()).await;
}

#[tokio::test]
async fn the_host_hides_the_map_on_a_marked_slide_and_shows_it_again() {
    let (_server, mut host, mut screen, mut phones) = voted_room(4, 4).await;
    host.send(json!({"type": "go_to", "slide": 3})).await;
    screen
        .wait_state(|s| s["opinion_map"]["status"] == "map" && s["slide"]["index"] == 3)
        .await;
    host.wait_state(|s| s["opinion_map"]["status"] == "map")
        .await;
    // Hidden: off the screen, the host's state says so, and no phone hears of a map.
    host.send(json!({"type": "show_map", "visible": false, "id": 1}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 1);
    let hidden = screen
        .wait_state(|s| s["opinion_map"].is_null() && s["slide"]["index"] == 3)
        .await;
    assert!(hidden["slide"]["html"]
        .as_str()
        .unwrap()
        .contains("Hoe denkt de zaal?"));
    host.wait_state(|s| s["opinion_map"].is_null()).await;
    phones[0].wait_state(|s| s["opinion_map"].is_null()).await;
    assert_eq!(my_group(&mut phones[0], 2).await["group"], Value::Null);
    // Hiding it again changes nothing and is no error.
    host.send(json!({"type": "show_map", "visible": false, "id": 3}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 3);
    // Shown again: the same map.
    host.send(json!({"type": "show_map", "visible": true, "id": 4}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 4);
    let shown = screen
        .wait_state(|s| s["opinion_map"]["status"] == "map")
        .await;
    assert_eq!(shown["opinion_map"]["groups"][0]["size"], 4);
    assert_eq!(shown["opinion_map"]["participants"], 8);
    assert!(my_group(&mut phones[0], 5).await["group"].is_number());
    // Hidden, then to another slide and back: the marked slide shows the map again.
    host.send(json!({"type": "show_map", "visible": false, "id": 6}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 6);
    screen.wait_state(|s| s["opinion_map"].is_null()).await;
    host.send(json!({"type": "go_to", "slide": 2})).await;
    screen
        .wait_state(|s| s["slide"]["index"] == 2 && s["opinion_map"].is_null())
        .await;
    host.send(json!({"type": "go_to", "slide": 3})).await;
    screen
        .wait_state(|s| s["slide"]["index"] == 3 && s["opinion_map"]["status"] == "map")
        .await;
}

#[test]
fn the_hosts_choice_for_a_marked_slide_is_replayed_from_the_log_and_ends_with_the_slide() {
    use stemzaal::core::session::{Command, Session};
    let deck = std::sync::Arc::new(stemzaal::core::deck::parse("kaart.md", MAP_DECK).unwrap());
    let mut live = Session::new(deck.clone());
    let mut log = vec![];
    let mut run = |live: &mut Session, command: Command| {
        log.extend(live.apply(command).expect("the host may"));
        let mut replayed = Session::new(deck.clone());
        for event in &log {
            replayed.replay(event).expect("the stored events apply");
        }
        assert_eq!(replayed.map_on_show(), live.map_on_show(), "{log:?}");
        live.map_on_show()
    };
    assert!(run(&mut live, Command::GoTo { slide: 3 }));
    assert!(!run(&mut live, Command::ShowMap { visible: false }));
    assert!(run(&mut live, Command::ShowMap { visible: true }));
    assert!(!run(&mut live, Command::ShowMap { visible: false }));
    assert!(!run(&mut live, Command::GoTo { slide: 2 }));
    assert!(run(&mut live, Command::GoTo { slide: 3 }));
}

/// [`MAP_DECK`] with a fourth A/B statement before the map.
fn four_deck() -> String {
    MAP_DECK.replace(
        "## Hoe denkt de zaal?",
        "## Een bankje bij de bushalte?\n\nA) Ja\nB) Nee\n\n---\n\n## Hoe denkt de zaal?",
    )
}

#[tokio::test]
async fn the_csv_and_the_workbook_carry_the_map_with_small_cells_hidden() {
    let text = four_deck();
    let deck = stemzaal::core::deck::parse("kaart.md", &text).expect("the deck parses");
    let server = TestServer::start_with(deck, &text).await;
    let mut host = server.host().await;
    let mut phones = vec![];
    for _ in 0..8 {
        phones.push(server.participant().await);
    }
    // Four vote A, A, A, A; four vote B, B, A, and only two of them B on the fourth:
    // too few of their group for its cell there, and the other group's cell hidden
    // with it, or the room's total would give it away.
    for slide in 0..4u64 {
        all_vote(&mut host, &mut phones, slide, |i| {
            (slide < 3 || i < 6).then_some(u64::from(i >= 4 && slide != 2))
        })
        .await;
    }
    let key = server.session.host_key().expose().to_owned();
    let code = server.code().to_owned();
    let (status, _, body) = server.get(&format!("/export/{code}.json?key={key}")).await;
    assert_eq!(status, 200);
    let report: Value = serde_json::from_str(&body).unwrap();
    let map = &report["opinion_map"];
    assert_eq!(map["groups"], json!([4, 4]));
    // Which of the two groups the A camp is: the one that chose A on the first.
    let a = usize::from(map["statements"][0]["chosen"][0]["option"] != 0);
    let b = 1 - a;
    let group = |g: usize| format!("groep {}", g + 1);

    let (status, _, csv) = server.get(&format!("/export/{code}.csv?key={key}")).await;
    assert_eq!(status, 200);
    let map_rows: Vec<&str> = csv.lines().filter(|l| l.starts_with("map")).collect();
    let mut expected = vec![
        "map_group,,,,groep 1,,,4,,,,".to_owned(),
        "map_group,,,,groep 2,,,4,,,,".to_owned(),
    ];
    let titles = [
        "Meer groen in de wijk?",
        "Een autovrij centrum?",
        "Vaker een raadsavond in de wijk?",
        "Een bankje bij de bushalte?",
    ];
    for (s, title) in titles.iter().enumerate() {
        let slide = s + 1;
        for g in 0..2 {
            let cell = match (s, g == a) {
                (3, true) => ",,,,,,verborgen: zou een groep <3 verraden".to_owned(),
                (3, false) => ",,,,,,<3".to_owned(),
                (2, _) | (_, true) => "A,Ja,,,100,,".to_owned(),
                (_, false) => "B,Nee,,,100,,".to_owned(),
            };
            expected.push(format!("map,{slide},{title},,{},{cell}", group(g)));
        }
    }
    expected.push("map_consensus,3,Vaker een raadsavond in de wijk?,,,,,,,,,".to_owned());
    expected.push("map_divisive,1,Meer groen in de wijk?,,,,,,,,,".to_owned());
    expected.push("map_divisive,2,Een autovrij centrum?,,,,,,,,,".to_owned());
    assert_eq!(map_rows, expected, "{csv}");
    // The numbers are the map's own: what the JSON report says each group chose.
    for (s, statement) in map["statements"].as_array().unwrap().iter().enumerate() {
        for g in [a, b] {
            let chosen = &statement["chosen"][g];
            if s == 3 {
                assert!(chosen.is_null());
            } else {
                assert_eq!(chosen["percent"], 100);
            }
        }
    }

    for (lang, sheet_name, header, hidden, shared) in [
        (
            "nl",
            "Meningskaart",
            "Deelnemers in de groep",
            "niet getoond (minder dan 3 stemmen)",
            "Gedeeld door alle groepen",
        ),
        (
            "en",
            "Opinion map",
            "Participants in the group",
            "not shown (fewer than 3 votes)",
            "Shared by all groups",
        ),
    ] {
        let path = format!("/export/{code}.xlsx?key={key}&lang={lang}");
        let (status, head, book) = support::http_get_bytes(server.addr, &path, &[]).await;
        assert_eq!(status, 200, "{head}");
        let sheets = crate::report::read_workbook(&book);
        let (_, rows) = sheets
            .iter()
            .find(|(name, _)| name == sheet_name)
            .unwrap_or_else(|| panic!("a sheet {sheet_name}"));
        assert_eq!(rows[0][3], Data::String(header.into()));
        assert_eq!(rows.len(), 1 + 4 * 2, "{rows:?}");
        // The first statement: each group's size, option and share.
        let first_a = &rows[1 + a];
        assert_eq!(first_a[0], Data::Float(1.0));
        assert_eq!(first_a[1], Data::String(titles[0].into()));
        assert_eq!(first_a[3], Data::Float(4.0));
        assert_eq!(first_a[4], Data::String("A".into()));
        assert_eq!(first_a[5], Data::String("Ja".into()));
        assert_eq!(first_a[6], Data::Float(1.0));
        assert_eq!(rows[1 + b][4], Data::String("B".into()));
        // The shared statement is marked; the fourth's small cell is empty, with why.
        assert_eq!(rows[5][8], Data::String(shared.into()));
        let small = &rows[7 + b];
        assert_eq!(small[4], Data::Empty);
        assert_eq!(small[6], Data::Empty);
        assert_eq!(small[7], Data::String(hidden.into()));
    }
}

/// The JSON examples of docs/protocol.md's section on the map.
fn documented_examples() -> Vec<Value> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md"))
        .expect("docs/protocol.md");
    let from = doc.find("\n## The opinion map\n").expect("the section");
    let rest = &doc[from + 1..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)];
    section
        .split("```json")
        .skip(1)
        .map(|block| serde_json::from_str(block.split("```").next().unwrap()).expect("JSON"))
        .collect()
}

#[test]
fn the_map_messages_encode_to_their_documented_json() {
    use stemzaal::wire::protocol::{ClientMsg, ServerMsg};
    let examples = documented_examples();
    let show = json!({"type": "show_map", "visible": true, "id": 12});
    let ask = json!({"type": "map_group", "id": 31});
    let answer = json!({"type": "map_group", "id": 31, "version": 3, "group": 2});
    for example in [&show, &ask, &answer] {
        assert!(examples.contains(example), "{example} is documented");
    }
    assert_eq!(
        serde_json::from_value::<ClientMsg>(show).unwrap(),
        ClientMsg::ShowMap { visible: true }
    );
    assert_eq!(
        serde_json::from_value::<ClientMsg>(ask).unwrap(),
        ClientMsg::MapGroup
    );
    let msg = ServerMsg::MapGroup {
        id: Some(31),
        version: 3,
        group: Some(2),
    };
    assert_eq!(serde_json::to_value(&msg).unwrap(), answer);
    let off_map = ServerMsg::MapGroup {
        id: Some(1),
        version: 3,
        group: None,
    };
    assert_eq!(
        serde_json::to_value(&off_map).unwrap(),
        json!({"type": "map_group", "id": 1, "version": 3, "group": null})
    );
    assert!(ClientMsg::ShowMap { visible: false }.is_host_command());
    assert!(!ClientMsg::MapGroup.is_host_command());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_draws_the_map_and_the_phone_shows_its_group_in_chromium() {
    crate::browser::run(
        "the_projector_draws_the_map_and_the_phone_shows_its_group_in_chromium",
        map_in_chromium,
    )
    .await;
}

/// The phone in Chromium votes A three times with four other phones; four more vote B,
/// B, A. On the marked slide the screen draws two groups with a table of what each
/// chose, the phone says it is in group 1 of 2; the host's button hides the map there
/// and shows it again, and puts it over another slide. Axe-clean in both languages.
async fn map_in_chromium(tools: crate::browser::harness::Tools) {
    use crate::browser::{axe_blocking, js_str, room_pages};
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let deck = stemzaal::core::deck::parse("kaart.md", MAP_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, MAP_DECK).await;
    let mut control = server.host().await;
    let mut phones = vec![];
    for _ in 0..8 {
        phones.push(server.participant().await);
    }
    let driver = crate::browser::harness::Driver::start(&tools).await;
    let ([host, screen, phone], _) = room_pages(&driver, &server).await;
    for slide in 0..3u64 {
        control.send(json!({"type": "go_to", "slide": slide})).await;
        control.send(json!({"type": "open_vote"})).await;
        phone
            .wait(
                "the vote open on the phone",
                &format!("return document.body.dataset.view === '{slide}:open:false' && !document.querySelector('#options button').disabled;"),
            )
            .await;
        phone.click("#options button[data-i='0']").await;
        phone
            .wait(
                "the phone's vote stored",
                "return document.querySelector('#options button[data-i=\"0\"]').getAttribute('aria-pressed') === 'true' && !document.querySelector('#options .sending');",
            )
            .await;
        for (i, p) in phones.iter_mut().enumerate() {
            p.wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "open")
                .await;
            let option = u64::from(i >= 4 && slide < 2);
            assert_eq!(p.vote(slide, 1, option).await["type"], "ack");
        }
    }
    control.send(json!({"type": "go_to", "slide": 3})).await;
    screen
        .wait(
            "the map on the screen",
            "const m = document.getElementById('omap'); return !m.hidden && m.dataset.status === 'map' && m.querySelectorAll('circle').length === 2 && m.querySelectorAll('tbody tr').length === 3;",
        )
        .await;
    let groups = screen
        .js("return [...document.querySelectorAll('#omap thead th')].map((th) => th.textContent);")
        .await;
    assert_eq!(groups, json!(["Stelling", "Groep 1 (5)", "Groep 2 (4)"]));
    let cells = screen
        .js("return [...document.querySelectorAll('#omap tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent));")
        .await;
    assert_eq!(
        cells,
        json!([
            ["Meer groen in de wijk?", "A 100%", "B 100%"],
            ["Een autovrij centrum?", "A 100%", "B 100%"],
            ["Vaker een raadsavond in de wijk?", "A 100%", "A 100%"]
        ])
    );
    phone
        .wait(
            "the phone's group",
            &format!(
                "const g = document.getElementById('map-group'); return !g.hidden && g.textContent === {};",
                js_str("Op de meningskaart zit jij in groep 1 van 2.")
            ),
        )
        .await;
    screen.screenshot("screen-opinion-map").await;
    let mut blocking = vec![];
    for (b, name) in [(&host, "host"), (&screen, "screen"), (&phone, "phone")] {
        blocking.extend(axe_blocking(b, &axe, &format!("{name} with the map [nl]")).await);
    }
    // In English, after a reload.
    for b in [&screen, &phone] {
        b.js("localStorage.setItem('stemzaal:lang', 'en'); location.reload();")
            .await;
        b.wait(
            "the page online in English",
            "return document.documentElement.lang === 'en' && document.getElementById('conn').dataset.state === 'online';",
        )
        .await;
    }
    phone
        .wait(
            "the phone's group in English",
            &format!(
                "const g = document.getElementById('map-group'); return !g.hidden && g.textContent === {};",
                js_str("On the opinion map you are in group 1 of 2.")
            ),
        )
        .await;
    screen
        .wait(
            "the map in English",
            "return document.querySelector('#omap h2').textContent === 'Opinion map' && document.querySelectorAll('#omap circle').length === 2;",
        )
        .await;
    for (b, name) in [(&screen, "screen"), (&phone, "phone")] {
        blocking.extend(axe_blocking(b, &axe, &format!("{name} with the map [en]")).await);
    }
    // On the marked slide the host's button hides the map, and shows it again.
    host.wait(
        "the host's hide button on the marked slide",
        &format!("return document.getElementById('map-show').textContent === {} && !document.getElementById('map-show').disabled;", js_str("Meningskaart verbergen")),
    )
    .await;
    host.click("#map-show").await;
    screen
        .wait(
            "the map hidden on its own slide",
            "return document.getElementById('omap').hidden && document.getElementById('stage').dataset.map === '' && document.body.dataset.view.startsWith('3:');",
        )
        .await;
    host.wait(
        "the host's show button on the marked slide",
        &format!(
            "return document.getElementById('map-show').textContent === {};",
            js_str("Meningskaart tonen")
        ),
    )
    .await;
    host.click("#map-show").await;
    screen
        .wait(
            "the map back on its own slide",
            "return !document.getElementById('omap').hidden && document.querySelectorAll('#omap circle').length === 2;",
        )
        .await;
    // The host's button puts the map over a statement, and takes it off.
    control.send(json!({"type": "go_to", "slide": 0})).await;
    screen
        .wait("the map gone", "return document.getElementById('omap').hidden && document.body.dataset.view.startsWith('0:');")
        .await;
    host.wait(
        "the host's map button",
        &format!("return document.getElementById('map-show').textContent === {} && !document.getElementById('map-show').disabled;", js_str("Meningskaart tonen")),
    )
    .await;
    host.click("#map-show").await;
    screen
        .wait(
            "the map over slide 1",
            "return !document.getElementById('omap').hidden && document.getElementById('stage').dataset.map === '1' && document.querySelectorAll('#omap circle').length === 2;",
        )
        .await;
    host.wait(
        "the host says it is shown",
        &format!(
            "return document.getElementById('map-show').textContent === {};",
            js_str("Meningskaart verbergen")
        ),
    )
    .await;
    blocking.extend(axe_blocking(&host, &axe, "host with the map shown").await);
    host.click("#map-show").await;
    screen
        .wait(
            "the map off again",
            "return document.getElementById('omap').hidden;",
        )
        .await;
    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    for b in [host, screen, phone] {
        b.close().await;
    }
}

/// The text of a PDF by poppler's `pdftotext` (in the machine's packages, as for
/// tests/it/pdf.rs), the file kept in `target/pdf-report/opinion/` to look at.
fn pdf_text(pdf: &[u8]) -> String {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pdf-report/opinion");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}
