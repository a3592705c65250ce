//! The report as a PDF through the real server, read back the way an archive and a
//! screen reader read it: lopdf walks the metadata, the fonts and the structure tree;
//! poppler's `pdftotext` reads the text in order and `pdftoppm` renders the pages into
//! `target/pdf-report/` to look at. Without poppler (`apt-get install poppler-utils`)
//! those two parts print a loud "PDF TEXT CHECKS SKIPPED" box and pass; with `CI=true`
//! they fail instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use lopdf::{Dictionary, Document, Object};
use serde_json::{json, Value};

use crate::api::Console;
use crate::support::{self, TestServer};

/// A deck with the meeting in its front matter (an ISO date, which the PDF writes out),
/// a statement and a scale, each voted twice.
const DECK: &str = "---
title: Groen in de wijk
groups: Raad, Inwoner
meeting: Raadsavond groen
date: 2026-12-08
place: Raadzaal, Stadhuis
---
## Moeten er meer bomen komen in de wijk, ook als dat parkeerplaatsen kost in de straten rond het plein?

A) ja, meer bomen
B) nee, parkeren

---
## Hoe tevreden bent u over het groen?

1) Helemaal ontevreden
2)
3) Neutraal
4)
5) Helemaal tevreden
";

/// Runs the session: nine phones (five in Raad, two in Inwoner, two in no group), two
/// rounds on the statement with an approved argument and hand counts, two on the scale;
/// then the console closes it.
async fn council_session() -> (TestServer, Console) {
    let deck = stemzaal::core::deck::parse("groen.md", DECK).expect("the deck parses");
    let server = TestServer::start_console_with(deck, DECK).await;
    let console = Console::log_in(&server).await;
    let (status, body) = console
        .call(
            "PUT",
            "/api/settings",
            Some(json!({"organisation": "Rekenkamer Zutphen"})),
        )
        .await;
    assert_eq!(
        (status, &body),
        (200, &json!({"organisation": "Rekenkamer Zutphen"}))
    );
    let (status, body) = console
        .call(
            "PUT",
            "/api/settings",
            Some(json!({"organisation": "Raad\nvan State"})),
        )
        .await;
    assert_eq!((status, &body["code"]), (422, &json!("bad_organisation")));
    let (_, body) = console.call("GET", "/api/settings", None).await;
    assert_eq!(
        body["organisation"], "Rekenkamer Zutphen",
        "nothing changed"
    );
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": 0})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phones = vec![];
    for i in 0..9 {
        let mut phone = server.participant().await;
        let group = ["Raad"; 5].into_iter().chain(["Inwoner"; 2]).nth(i);
        if let Some(group) = group {
            phone
                .send(json!({"type": "choose_group", "group": group}))
                .await;
        }
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        phones.push(phone);
    }
    for (phone, option) in phones.iter_mut().zip([0, 0, 0, 1, 1, 0, 1, 0, 1]) {
        assert_eq!(phone.vote(0, 1, option).await["type"], "ack");
    }
    phones[0]
        .send(json!({"type": "argue", "id": 50, "slide": 0, "text": "Bomen geven schaduw <b>en</b> koelte"}))
        .await;
    assert_eq!(phones[0].wait_for("argued").await["argument"], 1);
    host.send(json!({"type": "moderate", "argument": 1, "status": "approved"}))
        .await;
    for phone in &mut phones[1..3] {
        phone.upvote_when_listed(1, 1, 60).await;
    }
    host.send(json!({"type": "revote"})).await;
    for (phone, option) in phones.iter_mut().zip([0, 0, 1, 1, 1, 0, 1, 1, 1]) {
        phone.wait_state(|s| s["slide"]["round"] == 2).await;
        assert_eq!(phone.vote(0, 2, option).await["type"], "ack");
    }
    host.send(json!({"type": "hand_count", "counts": [2, 1]}))
        .await;
    host.wait_state(|s| s["voted"] == 12).await;
    host.send(json!({"type": "go_to", "slide": 1})).await;
    host.send(json!({"type": "open_vote"})).await;
    for (phone, point) in phones.iter_mut().zip([2, 3, 4, 2, 1, 3, 3, 0, 4]) {
        phone
            .wait_state(|s| s["slide"]["index"] == 1 && s["slide"]["phase"] == "open")
            .await;
        assert_eq!(phone.vote(1, 1, point).await["type"], "ack");
    }
    host.wait_state(|s| s["voted"] == 9).await;
    host.send(json!({"type": "revote"})).await;
    for (phone, point) in phones.iter_mut().zip([3, 4, 4, 1, 4, 4, 3, 0, 4]) {
        phone
            .wait_state(|s| s["slide"]["round"] == 2 && s["slide"]["phase"] == "open")
            .await;
        assert_eq!(phone.vote(1, 2, point).await["type"], "ack");
    }
    host.wait_state(|s| s["voted"] == 9).await;
    let code = server.code().to_owned();
    let (status, body) = console
        .call("POST", &format!("/api/sessions/{code}/close"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    (server, console)
}

/// The PDF as the host link fetches it: status, head and bytes.
async fn fetch_pdf(server: &TestServer, query: &str) -> (u16, String, Vec<u8>) {
    let key = server.session.host_key().expose().to_owned();
    let path = format!("/report/{}.pdf?key={key}{query}", server.code());
    support::http_get_bytes(server.addr, &path, &[]).await
}

#[tokio::test]
async fn the_pdf_report_is_tagged_archival_and_says_what_the_json_export_says() {
    let (server, console) = council_session().await;
    let code = server.code().to_owned();
    let (status, head, pdf) = fetch_pdf(&server, "").await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains(&format!(
        "content-disposition: attachment; filename=\"stemzaal-{}.pdf\"",
        code.to_lowercase()
    )));
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(pdf.starts_with(b"%PDF-1.7"), "a PDF 1.7 file");
    let again = fetch_pdf(&server, "").await.2;
    assert!(again == pdf, "a closed session gives the same bytes");

    let doc = Document::load_mem(&pdf).expect("lopdf reads the PDF");
    let catalog = doc.catalog().expect("a catalog");
    assert!(doc.trailer.get(b"Encrypt").is_err(), "not encrypted");
    assert_eq!(text_of(&doc, catalog.get(b"Lang").unwrap()), "nl");
    let mark_info = dict(&doc, catalog.get(b"MarkInfo").unwrap());
    assert_eq!(mark_info.get(b"Marked").unwrap(), &Object::Boolean(true));

    let xmp = stream_text(&doc, catalog.get(b"Metadata").expect("XMP metadata"));
    assert_eq!(
        xmp_value(&xmp, "pdfaid:part").as_deref(),
        Some("2"),
        "{xmp}"
    );
    assert_eq!(xmp_value(&xmp, "pdfaid:conformance").as_deref(), Some("A"));
    assert_eq!(xmp_value(&xmp, "pdfuaid:part").as_deref(), Some("1"));
    assert!(
        xmp.contains("Raadsavond groen"),
        "the title names the meeting"
    );

    let fonts = font_descriptors(&doc);
    assert!(!fonts.is_empty(), "text is set in a font");
    for (name, embedded) in &fonts {
        assert!(embedded, "font {name} is embedded");
    }
    assert_nothing_external(&doc);

    let bookmarks = outline(&doc, catalog);
    for s in report_titles(&doc, catalog) {
        assert!(
            bookmarks.iter().any(|b| b.ends_with(&s)),
            "a bookmark for {s:?} in {bookmarks:?}"
        );
    }

    let tree = structure(&doc, catalog);
    let kinds: Vec<&str> = tree.iter().map(|(s, _)| s.as_str()).collect();
    for kind in ["H1", "H2", "Table", "TH", "TD", "Caption", "Figure", "P"] {
        assert!(kinds.contains(&kind), "a {kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "H1").count(), 1);
    let figures: Vec<&str> = tree
        .iter()
        .filter(|(s, _)| s == "Figure")
        .map(|(_, alt)| alt.as_deref().expect("every figure has alternative text"))
        .collect();
    assert_eq!(figures.len(), 2, "a chart per statement");

    let report: Value = serde_json::from_str(
        &server
            .get(&format!(
                "/export/{code}.json?key={}",
                server.session.host_key().expose()
            ))
            .await
            .2,
    )
    .unwrap();
    let s = &report["statements"][0];
    assert_eq!(s["rounds"][1]["counts"], json!([5, 7]), "{report}");
    // Every count and percentage of the JSON export is in the chart's text.
    let mut numbers = vec![];
    for (n, s) in report["statements"].as_array().unwrap().iter().enumerate() {
        for r in s["rounds"].as_array().unwrap() {
            for (i, count) in r["counts"].as_array().unwrap().iter().enumerate() {
                let name = if s["scale"] == true {
                    (i + 1).to_string()
                } else {
                    ["A", "B"][i].to_owned()
                };
                let cell = format!("{count} ({}%)", r["percents"][i]);
                assert!(
                    figures[n].contains(&format!("{name}) {cell}")),
                    "{cell} in {}",
                    figures[n]
                );
                numbers.push(cell);
            }
        }
    }
    let raad = &s["groups"][0];
    assert_eq!(raad["group"], "Raad");
    numbers.push(format!("{} ({}%)", raad["counts"][0], raad["percents"][0]));
    assert_eq!(s["groups"][1]["suppressed"], "few");
    // The sentences that carry the export's other numbers: the hand counts, who
    // switched and how (the table first by last), a scale's median and mean per round
    // and how its voters moved.
    let hands: Vec<String> = s["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["hands"].as_array().unwrap().iter().any(|h| h != 0))
        .map(|r| {
            let each: Vec<String> = ["A", "B"]
                .iter()
                .zip(r["hands"].as_array().unwrap())
                .map(|(name, h)| format!("{name} {h}"))
                .collect();
            let each = each.join(", ");
            format!(
                "Ronde {}: waarvan met handopsteking geteld: {each}",
                r["round"]
            )
        })
        .collect();
    assert_eq!(hands.len(), 1, "hand counts in round 2 only: {s}");
    let sw = &s["switches"];
    assert!(sw["switched"].as_u64().is_some(), "{sw}");
    let switched_summary = format!(
        "{} van {} deelnemers kozen in de laatste ronde anders.",
        sw["switched"], sw["paired"]
    );
    let switched = format!(
        "Van ronde {} naar ronde {}: {} van {} deelnemers kozen anders",
        sw["from_round"], sw["to_round"], sw["switched"], sw["paired"]
    );
    let m = &sw["matrix"];
    let matrix = format!(
        "Eerst \\ daarna A B A {} {} B {} {}",
        m[0][0], m[0][1], m[1][0], m[1][1]
    );
    let scale = &report["statements"][1];
    assert_eq!(scale["scale"], true);
    let point = |r: &Value| {
        let median = r["stats"]["median"].as_u64().expect("a median") as usize;
        match scale["options"][median - 1].as_str().unwrap() {
            "" => median.to_string(),
            label => format!("{median} ({label})"),
        }
    };
    let mean = |r: &Value| {
        let mean = r["stats"]["mean"].as_f64().expect("a mean");
        format!("{mean:.1}").replace('.', ",")
    };
    let rounds = scale["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2, "{scale}");
    let (first, last) = (&rounds[0], &rounds[1]);
    let outcome = |r: &Value| {
        format!(
            "onde {}: mediaan {}, gemiddelde {} ({} gestemd)",
            r["round"],
            point(r),
            mean(r),
            r["voted"]
        )
    };
    // "Ronde 1: …; ronde 2: …."
    let scale_summary = format!("R{}; r{}.", outcome(first), outcome(last));
    let scale_shift = format!(
        "Van ronde {} naar ronde {} ging de mediaan van {} naar {} en het gemiddelde van {} naar {}.",
        first["round"],
        last["round"],
        point(first),
        point(last),
        mean(first),
        mean(last)
    );
    let moved = &scale["switches"]["moved"];
    let scale_moved = format!(
        "Van de {} deelnemers die in beide rondes stemden kozen {} een hoger punt, {} een lager punt en {} hetzelfde.",
        scale["switches"]["paired"], moved["up"], moved["down"], moved["stayed"]
    );

    // The printable page says the same of the meeting.
    let (status, _, html) = server
        .get(&format!(
            "/report/{code}?key={}",
            server.session.host_key().expose()
        ))
        .await;
    assert_eq!(status, 200);
    for part in [
        "Raadsavond groen · 8 december 2026 · Raadzaal, Stadhuis",
        "Rekenkamer Zutphen",
        "Tijd: van ",
        "<h2>Samenvatting</h2>",
        &switched_summary,
    ] {
        assert!(html.contains(part), "{part:?} in the page:\n{html}");
    }

    let (start, close) = session_clock(&console, &code).await;
    let Some(text) = pdf_text(&pdf, "the_pdf_report_is_tagged_archival") else {
        return;
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let title = s["title"].as_str().unwrap();
    // The close time follows "tot", after the written day if the session closed on
    // another day than it started.
    in_reading_order(
        &text,
        &[
            "Verslag",
            "Raadsavond groen",
            "Organisatie: Rekenkamer Zutphen",
            "Datum: 8 december 2026",
            "Plaats: Raadzaal, Stadhuis",
            &format!("Tijd: van {start} tot "),
            &format!("{close} Deelnemers: 9"),
            "Samenvatting",
            title,
            &switched_summary,
            "Hoe tevreden bent u over het groen?",
            &scale_summary,
            &format!("Stelling (dia 1): {title}"),
            &hands[0],
            &switched,
            &matrix,
            "Inwoner: niet getoond (minder dan 5 stemmen)",
            "Bomen geven schaduw <b>en</b> koelte",
            "Stelling (dia 2): Hoe tevreden bent u over het groen?",
            &scale_shift,
            &scale_moved,
            "Werkwijze",
            "Niet representatief",
        ],
    );
    for cell in &numbers {
        assert!(text.contains(cell.as_str()), "{cell} in\n{text}");
    }
    assert!(text.contains(&format!("Stemzaal · sessie {code} · pagina 1 van")));
}

/// An English deck with voting cards.
const ENGLISH_DECK: &str = "---
title: Trees on the square
lang: en
meeting: Council evening
date: 2026-12-08
place: Council chamber
---
## Should the square get more trees?

A) yes
B) no
";

#[tokio::test]
async fn the_pdf_of_an_english_session_is_in_english_without_asking() {
    let deck = stemzaal::core::deck::parse("trees.md", ENGLISH_DECK).expect("the deck parses");
    let server = TestServer::start_console_with(deck, ENGLISH_DECK).await;
    let console = Console::log_in(&server).await;
    let code = server.code().to_owned();
    let cards = crate::cards::issue(&server, 3).await;
    let mut host = server.host().await;
    host.send(json!({"type": "go_to", "slide": 0})).await;
    host.send(json!({"type": "open_vote"})).await;
    let mut phones = vec![];
    for card in &cards[..2] {
        let mut phone = crate::cards::phone_with(&server, card).await;
        phone.wait_state(|s| s["slide"]["phase"] == "open").await;
        phones.push(phone);
    }
    assert_eq!(phones[0].vote(0, 1, 0).await["type"], "ack");
    host.wait_state(|s| s["voted"] == 1).await;
    let (status, body) = console
        .call("POST", &format!("/api/sessions/{code}/close"), None)
        .await;
    assert_eq!(status, 200, "{body}");

    let key = server.session.host_key().expose().to_owned();
    let report: Value = serde_json::from_str(
        &server
            .get(&format!("/export/{code}.json?key={key}"))
            .await
            .2,
    )
    .unwrap();
    let (status, head, pdf) = fetch_pdf(&server, "").await;
    assert_eq!(status, 200, "{head}");
    let lang_of = |pdf: &[u8]| {
        let doc = Document::load_mem(pdf).expect("lopdf reads the PDF");
        text_of(&doc, doc.catalog().unwrap().get(b"Lang").unwrap())
    };
    assert_eq!(lang_of(&pdf), "en", "the deck's language");
    let (status, _, dutch) = fetch_pdf(&server, "&lang=nl").await;
    assert_eq!((status, lang_of(&dutch).as_str()), (200, "nl"), "on asking");
    let (status, _, _) = fetch_pdf(&server, "&lang=de").await;
    assert_eq!(status, 400, "a language the report is not written in");
    let (status, _, html) = server.get(&format!("/report/{code}?key={key}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("Council evening · 8 December 2026"), "{html}");

    let (start, close) = session_clock(&console, &code).await;
    let Some(text) = pdf_text(&pdf, "the_pdf_of_an_english_session") else {
        return;
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let c = &report["cards"];
    in_reading_order(
        &text,
        &[
            "Report",
            "Council evening",
            "Presentation: Trees on the square",
            "Date: 8 December 2026",
            "Place: Council chamber",
            &format!("Time: from {start} to "),
            &format!("{close} Participants: {}", report["joined"]),
            &format!(
                "Voting cards: {} issued, {} used, {} voted",
                c["issued"], c["used"], c["voted"]
            ),
            &format!("Session: {code}"),
            "Summary",
            "1. Should the square get more trees?",
            "Round 1: A 100%, B 0% (1 voted).",
            "Statement (slide 1): Should the square get more trees?",
            "Method",
            "Not representative",
            "Votes were cast with voting cards",
        ],
    );
    assert_eq!(c, &json!({"issued": 3, "used": 2, "voted": 1}));
    assert!(text.contains(&format!("Stemzaal · session {code} · page 1 of")));
}

/// Fails unless `parts` are in `text` in this order.
fn in_reading_order(text: &str, parts: &[&str]) {
    let mut at = 0;
    for part in parts {
        let found = text[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} after {at} in reading order:\n{text}"));
        at += found + part.len();
    }
}

/// The session's start and close on a Dutch clock ("19:05"), from the console's list
/// of sessions, by the system's own time zone data rather than the server's.
async fn session_clock(console: &Console, code: &str) -> (String, String) {
    let (status, body) = console.call("GET", "/api/sessions", None).await;
    assert_eq!(status, 200, "{body}");
    let session = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {body}"));
    let clock = |ms: &Value| {
        let secs = ms.as_u64().expect("a time") / 1000;
        let out = Command::new("date")
            .env("TZ", "Europe/Amsterdam")
            .arg("-d")
            .arg(format!("@{secs}"))
            .arg("+%H:%M")
            .output()
            .expect("date runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    (clock(&session["created_ms"]), clock(&session["closed_ms"]))
}

#[tokio::test]
async fn the_pdf_is_for_the_host_only_and_speaks_english_on_asking() {
    let deck = stemzaal::core::deck::parse("groen.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    let code = server.code().to_owned();
    let screen = server.session.screen_key().expose().to_owned();
    for path in [
        format!("/report/{code}.pdf"),
        format!("/report/{code}.pdf?key={screen}"),
    ] {
        let (status, _, body) = server.get(&path).await;
        assert_eq!(
            (status, body.as_str()),
            (403, "host key required"),
            "{path}"
        );
    }
    let (status, _, _) = server.get("/report/ABCDEF.pdf?key=x").await;
    assert_eq!(status, 403, "an unknown code tells nothing");
    let cookie = format!(
        "stemzaal_host_{code}={}",
        server.session.host_key().expose()
    );
    let path = format!("/report/{}.pdf", code.to_lowercase());
    let (status, head, pdf) =
        support::http_get_bytes(server.addr, &path, &[("Cookie", &cookie)]).await;
    assert_eq!(status, 200, "{head}");
    let doc = Document::load_mem(&pdf).expect("lopdf reads the PDF");
    assert_eq!(
        text_of(&doc, doc.catalog().unwrap().get(b"Lang").unwrap()),
        "nl"
    );
    let (_, _, english) = fetch_pdf(&server, "&lang=en").await;
    let doc = Document::load_mem(&english).expect("lopdf reads the PDF");
    assert_eq!(
        text_of(&doc, doc.catalog().unwrap().get(b"Lang").unwrap()),
        "en"
    );
    let Some(text) = pdf_text(&english, "the_pdf_is_for_the_host_only") else {
        return;
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in [
        "Report",
        "Date: 8 December 2026",
        "still open when this report was made",
        "Not representative",
        &format!("session {code} · page 1 of"),
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
}

/// `obj` itself, or what it refers to.
fn resolve<'a>(doc: &'a Document, obj: &'a Object) -> &'a Object {
    doc.dereference(obj).map(|(_, o)| o).unwrap_or(obj)
}

fn dict<'a>(doc: &'a Document, obj: &'a Object) -> &'a Dictionary {
    match resolve(doc, obj) {
        Object::Dictionary(d) => d,
        Object::Stream(s) => &s.dict,
        other => panic!("not a dictionary: {other:?}"),
    }
}

/// A text string (PDFDocEncoding or UTF-16).
fn text_of(doc: &Document, obj: &Object) -> String {
    lopdf::decode_text_string(resolve(doc, obj)).expect("a text string")
}

fn stream_text(doc: &Document, obj: &Object) -> String {
    match resolve(doc, obj) {
        Object::Stream(s) => {
            let bytes = s
                .decompressed_content()
                .unwrap_or_else(|_| s.content.clone());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        other => panic!("not a stream: {other:?}"),
    }
}

/// An XMP property's value, written as an element or as an attribute.
fn xmp_value(xmp: &str, name: &str) -> Option<String> {
    if let Some(at) = xmp.find(&format!("<{name}>")) {
        let rest = &xmp[at + name.len() + 2..];
        return Some(rest[..rest.find('<')?].trim().to_owned());
    }
    let at = xmp.find(&format!("{name}=\""))?;
    let rest = &xmp[at + name.len() + 2..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Every font descriptor: the font's name and whether its program is in the file.
fn font_descriptors(doc: &Document) -> Vec<(String, bool)> {
    doc.objects
        .values()
        .filter_map(|o| match o {
            Object::Dictionary(d) => Some(d),
            _ => None,
        })
        .filter(|d| d.get(b"Type").ok() == Some(&Object::Name(b"FontDescriptor".to_vec())))
        .map(|d| {
            let name = d
                .get(b"FontName")
                .ok()
                .and_then(|n| n.as_name().ok())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            let embedded = [b"FontFile".as_slice(), b"FontFile2", b"FontFile3"]
                .iter()
                .any(|k| d.get(k).is_ok());
            (name, embedded)
        })
        .collect()
}

/// Fails on anything that reaches outside the file or runs: links to the web or to
/// files, scripts, launches.
fn assert_nothing_external(doc: &Document) {
    fn check(obj: &Object) {
        match obj {
            Object::Dictionary(d) => check_dict(d),
            Object::Stream(s) => check_dict(&s.dict),
            Object::Array(a) => a.iter().for_each(check),
            _ => {}
        }
    }
    fn check_dict(d: &Dictionary) {
        for (key, value) in d.iter() {
            for forbidden in [
                &b"URI"[..],
                b"JS",
                b"JavaScript",
                b"Launch",
                b"GoToR",
                b"EmbeddedFiles",
            ] {
                assert_ne!(
                    key.as_slice(),
                    forbidden,
                    "no {}",
                    String::from_utf8_lossy(forbidden)
                );
                assert_ne!(value, &Object::Name(forbidden.to_vec()));
            }
            check(value);
        }
    }
    doc.objects.values().for_each(check);
}

/// The structure tree in reading order: each element's type and alternative text.
fn structure(doc: &Document, catalog: &Dictionary) -> Vec<(String, Option<String>)> {
    fn walk(doc: &Document, obj: &Object, out: &mut Vec<(String, Option<String>)>) {
        match resolve(doc, obj) {
            Object::Array(kids) => kids.iter().for_each(|k| walk(doc, k, out)),
            Object::Dictionary(d) => {
                if let Ok(Object::Name(s)) = d.get(b"S") {
                    let alt = d.get(b"Alt").ok().map(|a| text_of(doc, a));
                    out.push((String::from_utf8_lossy(s).into_owned(), alt));
                }
                // A marked-content reference or an object reference has no kids of
                // structure; an element's do.
                if d.get(b"Type").ok() != Some(&Object::Name(b"MCR".to_vec())) {
                    if let Ok(kids) = d.get(b"K") {
                        walk(doc, kids, out);
                    }
                }
            }
            _ => {}
        }
    }
    let root = dict(
        doc,
        catalog.get(b"StructTreeRoot").expect("a structure tree"),
    );
    let mut out = vec![];
    walk(doc, root.get(b"K").expect("the tree's root"), &mut out);
    out
}

/// The bookmarks' titles, in order.
fn outline(doc: &Document, catalog: &Dictionary) -> Vec<String> {
    let outlines = dict(doc, catalog.get(b"Outlines").expect("bookmarks"));
    let mut titles = vec![];
    let mut next = outlines.get(b"First").ok();
    while let Some(item) = next {
        let item = dict(doc, item);
        titles.push(text_of(doc, item.get(b"Title").unwrap()));
        next = item.get(b"Next").ok();
    }
    titles
}

/// The level-2 headings' titles that name a statement ("Stelling (dia 1): …").
fn report_titles(doc: &Document, catalog: &Dictionary) -> Vec<String> {
    fn walk(doc: &Document, obj: &Object, out: &mut Vec<String>) {
        match resolve(doc, obj) {
            Object::Array(kids) => kids.iter().for_each(|k| walk(doc, k, out)),
            Object::Dictionary(d) => {
                if d.get(b"S").ok() == Some(&Object::Name(b"H2".to_vec())) {
                    if let Ok(title) = d.get(b"T") {
                        out.push(text_of(doc, title));
                    }
                }
                if d.get(b"Type").ok() != Some(&Object::Name(b"MCR".to_vec())) {
                    if let Ok(kids) = d.get(b"K") {
                        walk(doc, kids, out);
                    }
                }
            }
            _ => {}
        }
    }
    let root = dict(doc, catalog.get(b"StructTreeRoot").unwrap());
    let mut out = vec![];
    walk(doc, root.get(b"K").unwrap(), &mut out);
    let statements: Vec<String> = out
        .into_iter()
        .filter(|t| t.starts_with("Stelling"))
        .collect();
    assert_eq!(statements.len(), 2, "a titled H2 per statement");
    statements
}

/// Whether a program of poppler-utils is installed.
fn has(program: &str) -> bool {
    Command::new(program).arg("-v").output().is_ok()
}

/// The PDF's text by `pdftotext`, its pages rendered by `pdftoppm` into
/// `target/pdf-report/<test>/` (printed, to look at); `None` without poppler-utils,
/// after a loud notice (a failure under `CI=true`).
fn pdf_text(pdf: &[u8], test: &str) -> Option<String> {
    if !has("pdftotext") || !has("pdftoppm") {
        let text = format!(
            "\n{bar}\n##  PDF TEXT CHECKS SKIPPED: {test}\n##  missing: pdftotext, pdftoppm\n\
             ##  apt-get install poppler-utils, then cargo test again;\n\
             ##  with CI=true this is a failure.\n{bar}\n",
            bar = "#".repeat(64)
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and poppler-utils is missing:{text}");
        }
        use std::io::Write;
        std::io::stderr().write_all(text.as_bytes()).ok();
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/pdf-report")
        .join(test);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    render(&file, &dir);
    Some(String::from_utf8(out.stdout).expect("UTF-8 text"))
}

/// Every page as a PNG beside the file, for a look.
fn render(file: &Path, dir: &Path) {
    let status = Command::new("pdftoppm")
        .args(["-r", "80", "-png"])
        .arg(file)
        .arg(dir.join("page"))
        .status()
        .expect("pdftoppm runs");
    assert!(status.success());
    eprintln!("pages rendered: {}/page-*.png", dir.display());
}
