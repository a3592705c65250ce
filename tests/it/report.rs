//! The council's report through the real server: rounds, who switched, groups with
//! small ones suppressed; CSV, JSON, an Excel workbook and HTML for the host only.

use crate::support;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde_json::{json, Value};
use stemzaal::core::deck::SlideKind;
use support::{TestClient, TestServer};

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
    assert_eq!(
        s["slide"],
        slide + 1,
        "slides count from 1, as the host says"
    );
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
    assert!(csv.starts_with(&format!("{BOM}{CSV_HEADER}\r\n")));
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

/// A deck with meeting details, a content slide first (so the statement is "dia 2"), and
/// a statement whose title is longer than a list shows.
const COUNCIL_DECK: &str = "---
title: Raadsavond
groups: Raad, Ambtenaar, Inwoner
meeting: Raadsavond wonen in de kernen
date: 12 maart 2025
place: Raadzaal, Stadhuis
---
## Inleiding

---

## Moet de gemeente doorgaan met gebiedsgericht werken in de huidige vorm, met dezelfde structuur?

A) ja, doorgaan
B) nee, herzien
";

/// The byte order mark the CSV starts with.
const BOM: char = '\u{feff}';

/// The CSV's columns.
const CSV_HEADER: &str =
    "table,slide,statement,round,group,option,option_text,votes,hands,percent,upvotes,note";

/// Everything the report export gives, fetched with the host key.
async fn fetch(server: &TestServer, path: &str) -> String {
    let key = server.session.host_key().expose().to_owned();
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, _, body) = server.get(&format!("{path}{sep}key={key}")).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// A server on [`COUNCIL_DECK`] and its host, the vote on its statement (slide 1) open.
async fn council_vote_open() -> (TestServer, TestClient) {
    let deck = stemzaal::core::deck::parse("raad.md", COUNCIL_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, COUNCIL_DECK).await;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": 1})).await;
    host.send(json!({"type": "open_vote"})).await;
    (server, host)
}

#[tokio::test]
async fn the_report_names_the_meeting_counts_slides_from_one_keeps_titles_whole_and_charts_rounds()
{
    let (server, mut host) = council_vote_open().await;
    let title = server.session.deck().slides[1].full_title.clone();
    assert!(title.chars().count() > 80, "longer than a list shows");
    let code = server.code().to_owned();
    // Round 1: Raad 5, Ambtenaar 3, Inwoner 6; two phones without a group wait.
    let mut phones = vec![];
    for (i, group) in ["Raad"; 5]
        .into_iter()
        .chain(["Ambtenaar"; 3])
        .chain(["Inwoner"; 6])
        .map(Some)
        .chain([None, None])
        .enumerate()
    {
        let mut phone = server.participant().await;
        if let Some(group) = group {
            phone
                .send(json!({"type": "choose_group", "group": group}))
                .await;
        }
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        if group.is_some() {
            assert_eq!(phone.vote(1, 1, u64::from(i % 2 == 1)).await["type"], "ack");
        }
        phones.push(phone);
    }
    host.wait_state(|s| s["voted"] == 14).await;

    // Ambtenaar (3) is too small; Raad (exactly 5) is left out only so that Ambtenaar
    // cannot be worked out from the total, and says so rather than "fewer than 5".
    let report: Value =
        serde_json::from_str(&fetch(&server, &format!("/export/{code}.json")).await).unwrap();
    let groups = &report["statements"][0]["groups"];
    assert_eq!(groups[0]["group"], "Raad");
    assert_eq!(groups[0]["suppressed"], "complement");
    assert_eq!(groups[1]["suppressed"], "few");
    assert_eq!(groups[2]["voted"], 6);
    let html = fetch(&server, &format!("/report/{code}")).await;
    let raad = &html[html
        .find("<th scope=\"row\">Raad</th>")
        .expect("a Raad row")..];
    let raad = &raad[..raad.find("</tr>").unwrap()];
    assert!(!raad.contains("minder dan 5 stemmen)"), "{raad}");
    assert!(raad.contains("af te leiden"), "{raad}");
    let csv = fetch(&server, &format!("/export/{code}.csv")).await;
    assert!(
        csv.contains(
            "\r\ngroup,2,\"Moet de gemeente doorgaan met gebiedsgericht werken in de \
             huidige vorm, met dezelfde structuur?\",1,Raad,A,\"ja, doorgaan\",,,,,verborgen"
        ),
        "{csv}"
    );

    // Round 2: everybody votes, the two without a group too, and hands are counted.
    host.send(json!({"type": "revote"})).await;
    for (i, phone) in phones.iter_mut().enumerate() {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        assert_eq!(phone.vote(1, 2, u64::from(i % 3 == 0)).await["type"], "ack");
    }
    host.send(json!({"type": "hand_count", "counts": [4, 1]}))
        .await;
    host.wait_state(|s| s["voted"] == 21).await;

    let report: Value =
        serde_json::from_str(&fetch(&server, &format!("/export/{code}.json")).await).unwrap();
    assert_eq!(report["meeting"], "Raadsavond wonen in de kernen");
    assert_eq!(report["date"], "12 maart 2025");
    assert_eq!(report["place"], "Raadzaal, Stadhuis");
    let s = &report["statements"][0];
    assert_eq!(s["title"], title.as_str(), "not cut in the export");
    let groups = &s["groups"];
    assert_eq!(
        groups[0]["voted"], 5,
        "a group of exactly five is shown: {groups}"
    );
    assert!(groups[0].get("suppressed").is_none());
    let round2 = &s["rounds"][1];
    let (a, b) = (
        round2["counts"][0].as_u64().unwrap(),
        round2["counts"][1].as_u64().unwrap(),
    );
    assert_eq!(round2["hands"], json!([4, 1]));
    assert_eq!(a + b, 21);

    // CSV: slide 2 as the host says "dia 2", the whole title, hands in their own column,
    // the percentage of the JSON export.
    let csv = fetch(&server, &format!("/export/{code}.csv")).await;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(format!("{BOM}{CSV_HEADER}").as_str()));
    let quoted_title = format!("\"{title}\"");
    let percent = &round2["percents"][0];
    let expected = format!("round,2,{quoted_title},2,,A,\"ja, doorgaan\",{a},4,{percent},,");
    assert!(csv.lines().any(|l| l == expected), "{expected} in {csv}");
    assert!(
        lines.all(|l| l.starts_with("round,2,") || l.starts_with("group,2,")),
        "{csv}"
    );
    assert!(!csv.contains('…'), "{csv}");

    // HTML: meeting, the whole title, the caveat, a print button wired by a module,
    // and a chart with a bar per option and round, hands marked, numbers as text.
    let html = fetch(&server, &format!("/report/{code}")).await;
    assert!(
        html.contains("Raadsavond wonen in de kernen · 12 maart 2025 · Raadzaal, Stadhuis"),
        "{html}"
    );
    assert!(
        html.contains(&format!("Stelling (dia 2): {title}")),
        "{html}"
    );
    assert!(!html.contains('…'));
    assert!(html.contains("niet representatief") || html.contains("Niet representatief"));
    assert!(html.contains("<button type=\"button\" id=\"print\" hidden>Afdrukken</button>"));
    assert!(html.contains("<script type=\"module\" src=\"/assets/js/report.js\"></script>"));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    let svg = &html[html.find("<svg").expect("a chart")..html.find("</svg>").unwrap()];
    assert!(svg.contains("role=\"img\""));
    assert_eq!(
        svg.matches("<rect class=\"count\"").count(),
        4,
        "2 options × 2 rounds"
    );
    assert_eq!(
        svg.matches("<rect class=\"hands\"").count(),
        2,
        "hands in round 2, A and B"
    );
    assert!(
        svg.contains(&format!("{a} (")),
        "counts written beside the bars"
    );
    let label = &svg[svg.find("<title").unwrap()..svg.find("</title>").unwrap()];
    assert!(
        label.contains(&format!("A) {a} (")) && label.contains("met handopsteking 4"),
        "{label}"
    );
    let english = fetch(&server, &format!("/report/{code}?lang=en")).await;
    assert!(english.contains("Not representative"));
    assert!(english.contains(">Print</button>"));

    // The module and the print styles are served from the assets.
    let (status, _, script) = server.get("/assets/js/report.js").await;
    assert_eq!(status, 200);
    assert!(script.contains("window.print()"));
    let (status, _, css) = server.get("/assets/css/report.css").await;
    assert_eq!(status, 200);
    assert!(css.contains("@media print") && css.contains(".actions { display: none; }"));
}

/// A scale between an A/B statement and the end, with groups and a bare point.
const SCALE_DECK: &str = "---
title: Schaal
groups: Raad, Inwoner
---
## Kiezen

A) ja
B) nee

---
## Eén werkwijze

1) Helemaal oneens
2)
3) Neutraal
4) Eens
5) Helemaal eens
";

/// A server on [`SCALE_DECK`] with the scale's vote open and `phones` phones that see it.
async fn scale_vote_open(phones: usize) -> (TestServer, TestClient, Vec<TestClient>) {
    let deck = stemzaal::core::deck::parse("schaal.md", SCALE_DECK).unwrap();
    let server = TestServer::start_with(deck, SCALE_DECK).await;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": 1})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut room = vec![];
    for _ in 0..phones {
        let mut phone = server.participant().await;
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        room.push(phone);
    }
    (server, host, room)
}

#[tokio::test]
async fn a_scale_reports_its_distribution_median_mean_and_shift_in_every_format() {
    let (server, mut host, mut phones) = scale_vote_open(6).await;
    // Round 1: points 1, 2, 3, 3, 4, 5 by phone and one hand on 4: median 3, mean 22/7.
    for (phone, option) in phones.iter_mut().zip([0, 1, 2, 2, 3, 4]) {
        assert_eq!(phone.vote(1, 1, option).await["type"], "ack");
    }
    host.send(json!({"type": "hand_count", "counts": [0, 0, 0, 1, 0]}))
        .await;
    host.wait_state(|s| s["voted"] == 7).await;
    host.send(json!({"type": "revote"})).await;
    // Round 2: four move one point up, one down, one stays: median 3, mean 21/6.
    for (phone, option) in phones.iter_mut().zip([1, 2, 3, 3, 2, 4]) {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        assert_eq!(phone.vote(1, 2, option).await["type"], "ack");
    }
    host.wait_state(|s| s["voted"] == 6 && s["slide"]["round"] == 2)
        .await;

    let code = server.code().to_owned();
    let report: Value =
        serde_json::from_str(&fetch(&server, &format!("/export/{code}.json")).await).unwrap();
    let s = &report["statements"][1];
    assert_eq!(s["scale"], true);
    assert_eq!(
        s["options"],
        json!(["Helemaal oneens", "", "Neutraal", "Eens", "Helemaal eens"])
    );
    assert_eq!(s["rounds"][0]["counts"], json!([1, 1, 2, 2, 1]));
    assert_eq!(s["rounds"][0]["stats"], json!({"median": 3, "mean": 3.1}));
    assert_eq!(s["rounds"][1]["counts"], json!([0, 1, 2, 2, 1]));
    assert_eq!(s["rounds"][1]["stats"], json!({"median": 3, "mean": 3.5}));
    assert_eq!(s["switches"]["paired"], 6);
    assert_eq!(
        s["switches"]["moved"],
        json!({"up": 4, "down": 1, "stayed": 1})
    );
    // The A/B statement says nothing of scales.
    let ab = report["statements"][0].as_object().unwrap();
    assert!(!ab.contains_key("scale"), "{ab:?}");
    assert!(!ab["rounds"][0].as_object().unwrap().contains_key("stats"));

    let csv = fetch(&server, &format!("/export/{code}.csv")).await;
    for row in [
        "\nround,2,Eén werkwijze,1,,1,Helemaal oneens,1,0,14,,\r\n",
        "\nround,2,Eén werkwijze,1,,2,,1,0,14,,\r\n",
        "\nround,2,Eén werkwijze,1,,4,Eens,2,1,29,,\r\n",
        "\nmedian,2,Eén werkwijze,1,,3,Neutraal,,,,,mediaan; gemiddelde 3.1\r\n",
        "\nmedian,2,Eén werkwijze,2,,3,Neutraal,,,,,mediaan; gemiddelde 3.5\r\n",
        "\nshift,2,Eén werkwijze,2,,,,,,,,\"verschuiving vanaf ronde 1: 4 hoger, 1 lager, 1 gelijk\"\r\n",
        "\nround,1,Kiezen,1,,A,ja,0,0,0,,\r\n",
    ] {
        assert!(csv.contains(row), "{row:?} missing in\n{csv}");
    }
    assert_eq!(s["rounds"][0]["percents"], json!([14, 14, 29, 29, 14]));
    assert!(
        !csv.contains("median,1,Kiezen") && !csv.contains("shift,1,Kiezen"),
        "no stats rows for A/B:\n{csv}"
    );

    let html = fetch(&server, &format!("/report/{code}")).await;
    for part in [
        "Mediaan en gemiddelde per ronde",
        "<td>3 (Neutraal)</td><td>3,1</td>",
        "Van ronde 1 naar ronde 2 ging de mediaan van 3 (Neutraal) naar 3 (Neutraal) en het \
         gemiddelde van 3,1 naar 3,5.",
        "kozen 4 een hoger punt, 1 een lager punt en 1 hetzelfde.",
        "<th scope=\"col\">2) </th>",
        "<th scope=\"col\">1) Helemaal oneens</th>",
    ] {
        assert!(html.contains(part), "{part:?} missing in\n{html}");
    }
    let english = fetch(&server, &format!("/report/{code}?lang=en")).await;
    for part in [
        "Median and mean per round",
        "<td>3 (Neutraal)</td><td>3.1</td>",
        "4 chose a higher point, 1 a lower point and 1 the same.",
    ] {
        assert!(english.contains(part), "{part:?} missing in\n{english}");
    }
}

#[tokio::test]
async fn a_scale_shift_with_fewer_than_five_in_both_rounds_says_only_that() {
    let (server, mut host, mut phones) = scale_vote_open(4).await;
    for phone in &mut phones {
        assert_eq!(phone.vote(1, 1, 0).await["type"], "ack");
    }
    host.send(json!({"type": "revote"})).await;
    for phone in &mut phones {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        assert_eq!(phone.vote(1, 2, 4).await["type"], "ack");
    }
    host.wait_state(|s| s["voted"] == 4 && s["slide"]["round"] == 2)
        .await;
    let code = server.code().to_owned();
    let report: Value =
        serde_json::from_str(&fetch(&server, &format!("/export/{code}.json")).await).unwrap();
    let switches = &report["statements"][1]["switches"];
    assert_eq!(switches["paired"], 4);
    assert!(switches["matrix"].is_null() && switches.get("moved").is_none());
    let csv = fetch(&server, &format!("/export/{code}.csv")).await;
    assert!(
        csv.contains(
            "\nshift,2,Eén werkwijze,2,,,,,,,,verschuiving vanaf ronde 1: <5 stemden in beide rondes\r\n"
        ),
        "{csv}"
    );
    let html = fetch(&server, &format!("/report/{code}")).await;
    assert!(html.contains("ging de mediaan van 1 (Helemaal oneens) naar 5 (Helemaal eens)"));
    assert!(!html.contains("een hoger punt"), "{html}");
    assert!(html.contains("te weinig deelnemers stemden in beide rondes"));
}

/// A deck for the workbook: meeting details, a content slide first, a statement whose
/// title and first option look like spreadsheet formulas.
const WORKBOOK_DECK: &str = "---
title: Werkmap
groups: Raad, Inwoner, Ambtenaar
meeting: Wijkraad Noord
date: 3 april 2025
place: Buurthuis De Linde
---
## Welkom

---

## =SUM(1;2) meer groen in de wijk?

A) +ja, meer bomen
B) nee, parkeren
";

/// A workbook's sheets by name, each as its rows of cells, read by `calamine`; panics
/// if any cell holds a formula.
pub(crate) fn read_workbook(book: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(book.to_vec())).expect("an xlsx file");
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let formulas = book.worksheet_formula(&name).unwrap();
            assert!(
                formulas.used_cells().all(|(_, _, f)| f.is_empty()),
                "no formulas in {name}"
            );
            let range = book.worksheet_range(&name).unwrap();
            assert_eq!(range.start(), Some((0, 0)), "{name} starts at A1");
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (name, rows)
        })
        .collect()
}

/// A JSON number as the workbook holds it.
fn number(v: &Value) -> Data {
    Data::Float(v.as_f64().unwrap_or_else(|| panic!("a number: {v}")))
}

/// A JSON whole percentage as the workbook holds it: a fraction shown as a percentage.
fn percent(v: &Value) -> Data {
    Data::Float(v.as_f64().unwrap_or_else(|| panic!("a percentage: {v}")) / 100.0)
}

/// A text cell.
fn text(v: impl ToString) -> Data {
    Data::String(v.to_string())
}

/// A JSON text as the workbook holds it.
fn string(v: &Value) -> Data {
    text(v.as_str().unwrap_or_else(|| panic!("a string: {v}")))
}

/// Each row of `rows` begins with the matching row of `expected`, the rest empty.
fn assert_rows(sheet: &str, rows: &[Vec<Data>], expected: &[Vec<Data>]) {
    assert_eq!(rows.len(), expected.len(), "{sheet}: {rows:?}");
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(&row[..want.len()], &want[..], "{sheet}");
        assert!(
            row[want.len()..].iter().all(|c| *c == Data::Empty),
            "{sheet}: {row:?}"
        );
    }
}

/// The rows the JSON export gives the sheet of votes per round.
fn expected_rounds(report: &Value) -> Vec<Vec<Data>> {
    let mut rows = vec![];
    for s in report["statements"].as_array().unwrap() {
        for r in s["rounds"].as_array().unwrap() {
            for (i, option) in s["options"].as_array().unwrap().iter().enumerate() {
                rows.push(vec![
                    number(&s["slide"]),
                    string(&s["title"]),
                    number(&r["round"]),
                    text(["A", "B"][i]),
                    string(option),
                    number(&r["counts"][i]),
                    number(&r["hands"][i]),
                    percent(&r["percents"][i]),
                    number(&r["voted"]),
                ]);
            }
        }
    }
    rows
}

/// The rows the JSON export gives the sheet of groups (of the last round).
fn expected_groups(report: &Value) -> Vec<Vec<Data>> {
    let mut rows = vec![];
    for s in report["statements"].as_array().unwrap() {
        let round = s["rounds"].as_array().unwrap().last().unwrap()["round"].clone();
        for g in s["groups"].as_array().unwrap() {
            let name = g["group"].as_str().unwrap_or("(geen groep gekozen)");
            for (i, option) in s["options"].as_array().unwrap().iter().enumerate() {
                let note = match g["suppressed"].as_str() {
                    None => Data::Empty,
                    Some("few") => text("niet getoond (minder dan 5 stemmen)"),
                    Some(_) => text(
                        "niet getoond (anders is een groep met minder dan 5 stemmen af te leiden)",
                    ),
                };
                let shown = |f: fn(&Value) -> Data, v: &Value| {
                    if v.is_null() {
                        Data::Empty
                    } else {
                        f(v)
                    }
                };
                rows.push(vec![
                    number(&s["slide"]),
                    string(&s["title"]),
                    number(&round),
                    text(name),
                    text(["A", "B"][i]),
                    string(option),
                    shown(number, &g["counts"][i]),
                    shown(percent, &g["percents"][i]),
                    shown(number, &g["voted"]),
                    note,
                ]);
            }
        }
    }
    rows
}

/// The rows the JSON export gives the sheets of switches and of arguments.
fn expected_switches_and_arguments(report: &Value) -> (Vec<Vec<Data>>, Vec<Vec<Data>>) {
    let (mut switches, mut arguments) = (vec![], vec![]);
    for s in report["statements"].as_array().unwrap() {
        let sw = &s["switches"];
        for (i, row) in sw["matrix"].as_array().unwrap().iter().enumerate() {
            for (j, n) in row.as_array().unwrap().iter().enumerate() {
                switches.push(vec![
                    number(&s["slide"]),
                    string(&s["title"]),
                    number(&sw["from_round"]),
                    number(&sw["to_round"]),
                    number(&sw["paired"]),
                    number(&sw["switched"]),
                    text(["A", "B"][i]),
                    text(["A", "B"][j]),
                    number(n),
                ]);
            }
        }
        for a in s["arguments"].as_array().unwrap() {
            let option = a["option"].as_u64().unwrap() as usize;
            arguments.push(vec![
                number(&s["slide"]),
                string(&s["title"]),
                text(["A", "B"][option]),
                string(&s["options"][option]),
                string(&a["text"]),
                number(&a["upvotes"]),
                Data::Bool(a["highlighted"].as_bool().unwrap()),
            ]);
        }
    }
    (switches, arguments)
}

#[tokio::test]
async fn the_workbook_holds_the_numbers_of_the_json_export_and_the_csv_tells_its_tables_apart() {
    let deck = stemzaal::core::deck::parse("werkmap.md", WORKBOOK_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, WORKBOOK_DECK).await;
    let cards = crate::cards::issue(&server, 12).await;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": 1})).await;
    host.send(json!({"type": "open_vote"})).await;
    // Eleven of the twelve cards join: six in Raad, three in Inwoner (too few to show),
    // two in no group.
    let mut phones = vec![];
    for (i, card) in cards.iter().take(11).enumerate() {
        let mut phone = crate::cards::phone_with(&server, card).await;
        let group = ["Raad"; 6].into_iter().chain(["Inwoner"; 3]).nth(i);
        if let Some(group) = group {
            phone
                .send(json!({"type": "choose_group", "group": group}))
                .await;
        }
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        assert_eq!(phone.vote(1, 1, u64::from(i % 3 == 0)).await["type"], "ack");
        phones.push(phone);
    }
    // Two arguments, one highlighted; three upvotes for the other one.
    for (id, (phone, argument)) in [(0, "+meer schaduw"), (1, "=HYPERLINK(\"x\") bomen")]
        .into_iter()
        .enumerate()
    {
        phones[phone]
            .send(json!({"type": "argue", "id": 100 + id, "slide": 1, "text": argument}))
            .await;
        assert_eq!(phones[phone].wait_for("argued").await["argument"], id + 1);
    }
    for (argument, status) in [(1, "highlighted"), (2, "approved")] {
        let moderate = json!({"type": "moderate", "argument": argument, "status": status});
        host.send(moderate).await;
    }
    for phone in &mut phones[4..7] {
        phone.upvote_when_listed(2, 2, 200).await;
    }
    // Round 2: ten vote again, the first three switch, and hands are counted.
    host.send(json!({"type": "revote"})).await;
    for (i, phone) in phones.iter_mut().enumerate().take(10) {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        let option = u64::from(i % 3 == 0) ^ u64::from(i < 3);
        assert_eq!(phone.vote(1, 2, option).await["type"], "ack");
    }
    host.send(json!({"type": "hand_count", "counts": [2, 1]}))
        .await;
    host.wait_state(|s| s["voted"] == 13 && s["slide"]["round"] == 2)
        .await;

    let code = server.code().to_owned();
    let report: Value =
        serde_json::from_str(&fetch(&server, &format!("/export/{code}.json")).await).unwrap();
    let s = &report["statements"][0];
    assert_eq!(s["slide"], 2, "the second slide, counted from 1");
    assert_eq!(s["rounds"][0]["counts"], json!([7, 4]));
    assert_eq!(s["rounds"][1]["hands"], json!([2, 1]));
    assert_eq!(s["switches"]["switched"], 3);
    assert_eq!(s["groups"][1]["suppressed"], "few");
    assert_eq!(s["arguments"][1]["upvotes"], 3);
    assert_eq!(
        report["cards"],
        json!({"issued": 12, "used": 11, "voted": 11})
    );

    let key = server.session.host_key().expose().to_owned();
    let path = format!("/export/{code}.xlsx?key={key}");
    let (status, head, book) = support::http_get_bytes(server.addr, &path, &[]).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains(
        "content-type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ));
    assert!(head.contains(&format!(
        "content-disposition: attachment; filename=\"stemzaal-{}.xlsx\"",
        code.to_lowercase()
    )));
    assert!(head.contains("cache-control: no-store"), "{head}");
    let sheets = read_workbook(&book);
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Stemmen per ronde",
            "Groepen",
            "Wisselingen",
            "Argumenten",
            "Stemkaarten"
        ]
    );
    let rows = &sheets[0].1;
    for (row, [label, value]) in rows.iter().zip([
        ["Titel", "Werkmap"],
        ["Bijeenkomst", "Wijkraad Noord"],
        ["Datum", "3 april 2025"],
        ["Plaats", "Buurthuis De Linde"],
        ["Sessie", &code],
    ]) {
        assert_eq!(row[..2], [text(label), text(value)]);
    }
    assert_eq!(report["meeting"], "Wijkraad Noord");
    assert_eq!(
        rows[5][..2],
        [text("Deelnemers"), number(&report["joined"])]
    );
    assert_eq!(
        rows[7],
        [
            "Dia",
            "Stelling",
            "Ronde",
            "Keuze",
            "Tekst van de keuze",
            "Stemmen",
            "Waarvan met handopsteking",
            "Percentage",
            "Gestemd"
        ]
        .map(text)
    );
    assert_eq!(
        rows[8][1],
        text("=SUM(1;2) meer groen in de wijk?"),
        "text, not a formula"
    );
    assert_rows("votes", &rows[8..], &expected_rounds(&report));
    let groups = &sheets[1].1;
    assert_eq!(groups[0][3], text("Groep"));
    assert_rows("groups", &groups[1..], &expected_groups(&report));
    let (switches, arguments) = expected_switches_and_arguments(&report);
    assert_eq!(sheets[2].1[0][4], text("In beide rondes gestemd"));
    assert_rows("switches", &sheets[2].1[1..], &switches);
    assert_eq!(sheets[3].1[0][5], text("Steun"));
    assert_rows("arguments", &sheets[3].1[1..], &arguments);
    let cards = &report["cards"];
    assert_rows(
        "cards",
        &sheets[4].1,
        &[
            ["Uitgegeven", "Gebruikt", "Gestemd"].map(text).to_vec(),
            [&cards["issued"], &cards["used"], &cards["voted"]]
                .map(number)
                .to_vec(),
        ],
    );

    // In English on asking; a session without cards has no sheet of them.
    let (_, _, english) =
        support::http_get_bytes(server.addr, &format!("{path}&lang=en"), &[]).await;
    let english = read_workbook(&english);
    let names: Vec<&str> = english.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Votes per round",
            "Groups",
            "Switches",
            "Arguments",
            "Voting cards"
        ]
    );
    assert_eq!(english[0].1[1][0], text("Meeting"));
    assert_eq!(english[3].1[0][5], text("Upvotes"));

    // The CSV: a byte order mark, the table of each row first, arguments' upvotes in
    // their own column and `votes` empty, formulas defused.
    let csv = fetch(&server, &format!("/export/{code}.csv")).await;
    assert!(csv.starts_with(&format!("{BOM}{CSV_HEADER}\r\n")), "{csv}");
    let title = "'=SUM(1;2) meer groen in de wijk?";
    for row in [
        format!("\nround,2,{title},2,,A,\"'+ja, meer bomen\",7,2,{},,\r\n", s["rounds"][1]["percents"][0]),
        format!("\ngroup,2,{title},2,Raad,A,\"'+ja, meer bomen\",{},,{},,\r\n",
            s["groups"][0]["counts"][0], s["groups"][0]["percents"][0]),
        format!("\ngroup,2,{title},2,Inwoner,B,\"nee, parkeren\",,,,,<5\r\n"),
        format!("\nargument,2,{title},,,A,\"'+ja, meer bomen\",,,,3,\"argument: =HYPERLINK(\"\"x\"\") bomen\"\r\n"),
        "\ncards,,stemkaarten,,,,gebruikt,11,,,,\r\n".to_owned(),
    ] {
        assert!(csv.contains(&row), "{row:?} in\n{csv}");
    }
    let tables: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(tables, ["argument", "cards", "group", "round"].into());

    // Only for the host.
    for path in [
        format!("/export/{code}.xlsx"),
        format!(
            "/export/{code}.xlsx?key={}",
            server.session.screen_key().expose()
        ),
    ] {
        let (status, _, body) = server.get(&path).await;
        assert_eq!(
            (status, body.as_str()),
            (403, "host key required"),
            "{path}"
        );
    }
    let cookie = format!("stemzaal_host_{code}={key}");
    let (status, _, cookied) = support::http_get_bytes(
        server.addr,
        &format!("/export/{}.xlsx", code.to_lowercase()),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read_workbook(&cookied)[0].1[8..], sheets[0].1[8..]);
}

#[tokio::test]
async fn the_complement_rule_hides_nothing_when_one_group_alone_voted_and_breaks_ties_in_deck_order(
) {
    let (server, mut host) = council_vote_open().await;
    let code = server.code().to_owned();
    let mut phones = vec![];
    let join = |group: &'static str, option: u64| {
        let server = &server;
        async move {
            let mut phone = server.participant().await;
            phone
                .send(json!({"type": "choose_group", "group": group, "id": 1}))
                .await;
            assert_eq!(phone.wait_for("ok").await["id"], 1);
            phone.wait_state(|s| s["slide"]["phase"] == "open").await;
            assert_eq!(phone.vote(1, 1, option).await["type"], "ack");
            phone
        }
    };
    // Only Ambtenaar voted, 3 of them: too few, and no other group with voters to hide
    // beside it, so its counts are the round's tally for anyone to read.
    for option in [0, 0, 1] {
        phones.push(join("Ambtenaar", option).await);
    }
    let state = host.wait_state(|s| s["voted"] == 3).await;
    assert_eq!(state["tally"], json!([2, 1]));
    let rows = &state["groups"]["rows"];
    let suppressed: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["suppressed"])
        .collect();
    assert_eq!(
        suppressed,
        [&Value::Null, &json!("few"), &Value::Null],
        "{rows}"
    );
    assert_eq!(rows[0]["counts"], json!([0, 0]), "{rows}");
    assert_eq!(rows[2]["counts"], json!([0, 0]), "{rows}");
    let report: Value =
        serde_json::from_str(&fetch(&server, &format!("/export/{code}.json")).await).unwrap();
    let groups = &report["statements"][0]["groups"];
    assert_eq!(groups[1]["suppressed"], "few", "{groups}");
    assert!(groups[0].get("suppressed").is_none(), "{groups}");
    assert!(groups[2].get("suppressed").is_none(), "{groups}");

    // Raad and Inwoner tie at 5: the first in deck order, Raad, is the complement.
    for _ in 0..5 {
        phones.push(join("Inwoner", 0).await);
    }
    for _ in 0..5 {
        phones.push(join("Raad", 1).await);
    }
    let state = host.wait_state(|s| s["voted"] == 13).await;
    let rows = &state["groups"]["rows"];
    assert_eq!(rows[0]["suppressed"], "complement", "{rows}");
    assert_eq!(rows[1]["suppressed"], "few", "{rows}");
    assert_eq!(rows[2]["voted"], 5, "{rows}");
}
