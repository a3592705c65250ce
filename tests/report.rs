//! The council's report through the real server: rounds, who switched, groups with
//! small ones suppressed; CSV, JSON and HTML for the host only.

mod support;

use serde_json::{json, Value};
use stemzaal::deck::SlideKind;
use support::TestServer;

#[tokio::test]
async fn the_report_pairs_rounds_counts_switches_and_suppresses_small_groups() {
    let server = TestServer::start().await;
    let deck = server.session.deck().clone();
    let slide = deck
        .slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .unwrap() as u64;
    let groups = deck.groups.clone();
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    // Six in the first group, three in the second, three in none.
    let mut phones = vec![];
    for i in 0..12 {
        let mut phone = server.participant().await;
        let group = match i {
            0..=5 => Some(groups[0].clone()),
            6..=8 => Some(groups[1].clone()),
            _ => None,
        };
        if let Some(group) = group {
            phone
                .send(json!({"type": "choose_group", "group": group}))
                .await;
        }
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        phones.push(phone);
    }
    // Round 1: the first eight choose A, the rest B.
    for (i, phone) in phones.iter_mut().enumerate() {
        assert_eq!(phone.vote(slide, 1, u64::from(i >= 8)).await["type"], "ack");
    }
    host.send(json!({"type": "revote"})).await;
    // Round 2: phones 0..3 switch to B, phone 8 switches to A, phone 11 does not vote.
    for (i, phone) in phones.iter_mut().enumerate().take(11) {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        let option = match i {
            0..=2 => 1,
            8 => 0,
            i => u64::from(i >= 8),
        };
        assert_eq!(phone.vote(slide, 2, option).await["type"], "ack");
    }
    host.wait_state(|s| s["voted"] == 11 && s["slide"]["round"] == 2)
        .await;

    let key = server.session.host_key().expose().to_owned();
    let code = server.code().to_owned();
    let (status, head, body) = server.get(&format!("/export/{code}.json?key={key}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("attachment"));
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["joined"], 12);
    let s = &report["statements"][0];
    assert_eq!(s["slide"], slide);
    assert_eq!(s["rounds"][0]["counts"], json!([8, 4]));
    assert_eq!(s["rounds"][1]["counts"], json!([6, 5]));
    assert_eq!(s["rounds"][1]["voted"], 11);
    assert_eq!(s["switches"]["paired"], 11);
    assert_eq!(s["switches"]["switched"], 4);
    assert_eq!(s["switches"]["matrix"], json!([[5, 3], [1, 2]]));
    // Group 0 (6 voters: phones 0..5 → B,B,B,A,A,A) is shown; group 1 (3) and "no
    // group" (2 voted in round 2) are under five and hidden; other groups had no voters.
    let rows = s["groups"].as_array().unwrap();
    let row = |name: Option<&str>| {
        rows.iter()
            .find(|r| r["group"].as_str() == name)
            .unwrap_or_else(|| panic!("no row for {name:?}"))
    };
    assert_eq!(row(Some(&groups[0]))["counts"], json!([3, 3]));
    assert!(row(Some(&groups[1]))["counts"].is_null());
    assert!(row(None)["counts"].is_null());
    assert_eq!(row(Some(&groups[2]))["voted"], 0);

    let (status, _, csv) = server.get(&format!("/export/{code}.csv?key={key}")).await;
    assert_eq!(status, 200);
    assert!(csv.starts_with("slide,statement,round,group,option,option_text,votes,note\r\n"));
    assert!(csv.contains(",2,,A,"), "round 2 rows: {csv}");
    assert!(csv.contains(&format!(",{},A,", groups[1])) && csv.contains("<5"));

    let (status, _, html) = server.get(&format!("/report/{code}?key={key}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"nl\">"));
    assert!(html.contains("4 van 11 deelnemers kozen anders"), "{html}");
    assert!(html.contains("niet getoond"));
    let (status, _, english) = server
        .get(&format!("/report/{code}?key={key}&lang=en"))
        .await;
    assert_eq!(status, 200);
    assert!(english.contains("<html lang=\"en\">"));
    assert!(
        english.contains("4 of 11 participants changed their choice"),
        "{english}"
    );

    // Without the host key: nothing.
    for path in [
        format!("/export/{code}.json"),
        format!(
            "/export/{code}.csv?key={}",
            server.session.screen_key().expose()
        ),
        format!("/report/{code}"),
    ] {
        assert_eq!(server.get(&path).await.0, 403, "{path}");
    }
    // With the host cookie set by the host link: allowed.
    let cookie = format!("stemzaal_host_{code}={key}");
    let (status, _, _) = support::http_get(
        server.addr,
        &format!("/report/{code}"),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(status, 200);
}
