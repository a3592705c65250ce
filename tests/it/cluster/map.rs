//! The opinion map in cluster mode: phones vote on two nodes, and a screen and phones
//! on the node that does not own the session see the owner's map and their own groups;
//! that node's report, built from the log, has the same map.
//! Real `nats-server` and real nodes.

use serde_json::{json, Value};
use stemzaal::core::deck::Deck;

use super::{report_json, single_nats, Node};
use crate::nats::nats_or_skip;
use crate::opinion::all_vote;
use crate::support::TestClient;

/// Phones per camp: two groups of the built-in deck's `min_group_size` (5) and one more.
const CAMP: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_and_phones_on_another_node_see_the_owners_map_and_their_own_groups() {
    let Some(bin) = nats_or_skip("a_screen_and_phones_on_another_node_see_the_owners_map") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = single_nats(&bin, dir.path());
    // The first node starts the session and owns it.
    let owner = Node::start(&nats.url, 1, &dir.path().join("owner"));
    let other = Node::start(&nats.url, 1, &dir.path().join("other"));
    let mut host = owner.host().await;
    let mut owner_screen = owner.screen().await;
    let mut other_screen = other.screen().await;
    // Phone i is on the owner when i is even, on the other node when odd; the first
    // camp (i < CAMP) votes A everywhere, the second B on the first statement and A on
    // the second, so each camp has phones on both nodes.
    let mut phones = vec![];
    for i in 0..2 * CAMP {
        let node = if i % 2 == 0 { &owner } else { &other };
        phones.push(TestClient::hello(&node.ws_url(), json!({"type": "hello"})).await);
    }
    let deck = Deck::default_deck();
    let statements: Vec<u64> = (0..deck.slides.len())
        .filter(|&i| deck.options(i).is_some())
        .take(2)
        .map(|i| i as u64)
        .collect();
    for (n, &slide) in statements.iter().enumerate() {
        all_vote(&mut host, &mut phones, slide, |i| {
            Some(u64::from(i >= CAMP && n == 0))
        })
        .await;
    }
    host.send(json!({"type": "show_map", "visible": true, "id": 1}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 1);

    let on_owner = owner_screen
        .wait_state(|s| s["opinion_map"]["status"] == "map")
        .await;
    let map = &on_owner["opinion_map"];
    assert_eq!(map["participants"], 2 * CAMP as u64);
    assert_eq!(
        map["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["size"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [CAMP as u64, CAMP as u64]
    );
    // The other node's screen shows the very same map, version and all.
    let on_other = other_screen
        .wait_state(|s| s["opinion_map"]["version"] == map["version"])
        .await;
    assert_eq!(on_other["opinion_map"], *map);

    // Each phone, on either node, learns its own group: one per camp.
    let mut groups = vec![];
    for (i, phone) in phones.iter_mut().enumerate() {
        phone
            .wait_state(|s| s["opinion_map"]["status"] == "map")
            .await;
        let id = 100 + i as u64;
        phone.send(json!({"type": "map_group", "id": id})).await;
        let answer: Value = phone.wait_for("map_group").await;
        assert_eq!(answer["id"], id, "phone {i}: {answer}");
        assert_eq!(answer["version"], map["version"], "phone {i}: {answer}");
        groups.push(
            answer["group"]
                .as_u64()
                .unwrap_or_else(|| panic!("phone {i}: {answer}")),
        );
    }
    assert!(groups[..CAMP].iter().all(|&g| g == groups[0]), "{groups:?}");
    assert!(
        groups[CAMP..].iter().all(|&g| g == groups[CAMP]),
        "{groups:?}"
    );
    assert_ne!(groups[0], groups[CAMP]);

    // The other node's report, built from the log, has the same groups.
    let report = report_json(&other, &other.host_key).await;
    assert_eq!(report["opinion_map"]["groups"], json!([CAMP, CAMP]));
    assert_eq!(
        report["opinion_map"]["participants"], map["participants"],
        "{}",
        report["opinion_map"]
    );

    // Hidden by the host on the owner, it is gone from the other node's screen too.
    host.send(json!({"type": "show_map", "visible": false, "id": 2}))
        .await;
    assert_eq!(host.wait_for("ok").await["id"], 2);
    other_screen
        .wait_state(|s| s["opinion_map"].is_null())
        .await;
}
