//! The three pages tested the way people meet them: in headless Chromium, on a phone-sized
//! viewport for participants, at 1920×1080 for the projector and the host's laptop.
//!
//! Driver: fantoccini. It is a pure-Rust WebDriver client, so these tests are ordinary
//! `cargo test` tests on tokio, next to the in-process `TestServer`, with no Node or
//! Python runtime at test time; it drives Debian's own `chromedriver`, which matches
//! Debian's `chromium` version for version (chromiumoxide would need its CDP bindings to
//! keep up with Chromium, and playwright-core wants its own browser builds and Node).
//!
//! Each browser runs behind its own recording proxy (see `browser/harness.rs`): the
//! privacy check reads what every page requested, and the reconnect check cuts a
//! participant's WebSocket at the TCP level.
//!
//! Without Chromium, chromedriver or axe-core the browser tests print a loud
//! "BROWSER TESTS SKIPPED" box and pass; with `CI=true` they fail instead.
//! `bash .ci/run` installs all three.

#[path = "browser/harness.rs"]
mod harness;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use harness::{Browser, Driver, Tools};
use serde_json::{json, Value};
use support::TestServer;

/// The longest a browser test may take (it takes 10–15 s): a hung browser fails the test
/// instead of hanging `cargo test`.
const TEST_LIMIT: Duration = Duration::from_secs(150);

/// The browser tests share two cores: one at a time.
static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Smallest font size (CSS px at 1920×1080) of text the back row must read, from 10 m:
/// see docs/accessibility.md for the rule and the arithmetic.
const SCREEN_TEXT_MIN_PX: f64 = 42.0;
/// Smallest font size of the numbers read at a glance: percentages, the join code.
const SCREEN_NUMBERS_MIN_PX: f64 = 84.0;

/// The axe-core tags of WCAG 2.1 level A and AA (2.0's rules included).
const WCAG_21_AA: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// The first statement's title in the built-in deck.
const STATEMENT_TITLE: &str = "Ambitie uitgesproken in coalitieprogramma";

fn js_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Script: the page's connection indicator says `state`.
fn conn_is(state: &str) -> String {
    format!(
        "const c = document.getElementById('conn'); return !!c && c.dataset.state === {};",
        js_str(state)
    )
}

/// Script: the participant page shows option `i` as chosen and acknowledged.
fn voted_for(i: u32) -> String {
    format!(
        "const b = document.querySelector('#options .opt[data-i=\"{i}\"]');
         const s = document.getElementById('vote-status');
         return !!b && b.getAttribute('aria-pressed') === 'true' && !b.classList.contains('sending')
           && !s.classList.contains('sending') && s.textContent.includes('{letter}');",
        letter = char::from(b'A' + i as u8)
    )
}

/// Script: the screen's counts under the bars read `counts` (joined by `|`).
fn screen_counts(counts: &str) -> String {
    format!(
        "return [...document.querySelectorAll('#cols .cnt')].map((e) => e.textContent).join('|') === {};",
        js_str(counts)
    )
}

/// Runs one browser test: finds the tools (or skips loudly outside CI), takes the
/// one-browser-test-at-a-time lock, and bounds the test's time.
async fn run<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Tools) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(tools) = Tools::find(name) else {
        return;
    };
    let _one_at_a_time = BROWSERS.lock().await;
    tokio::time::timeout(TEST_LIMIT, test(tools))
        .await
        .expect("the test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_end_to_end_in_chromium() {
    run("a_session_end_to_end_in_chromium", session_end_to_end).await;
}

async fn session_end_to_end(tools: Tools) {
    let started = Instant::now();
    let server = TestServer::start().await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let driver = Driver::start(&tools).await;
    let (screen, host, p1, p2, p3) = tokio::join!(
        Browser::open(&driver, server.addr, "screen", (1920, 1080)),
        Browser::open(&driver, server.addr, "host", (1920, 1080)),
        Browser::open(&driver, server.addr, "participant 1", (390, 844)),
        Browser::open(&driver, server.addr, "participant 2", (390, 844)),
        Browser::open(&driver, server.addr, "participant 3", (390, 844)),
    );
    eprintln!("browsers up after {:?}", started.elapsed());
    let participants = [&p1, &p2, &p3];

    // The screen and host links move their key into a cookie and leave the address bar.
    let screen_url = server.url(&format!("/screen/{code}?key={screen_key}"));
    let host_url = server.url(&format!("/host/{code}?key={host_key}"));
    let join_url = server.url(&format!("/{code}"));
    tokio::join!(
        screen.goto(&screen_url),
        host.goto(&host_url),
        p1.goto(&join_url),
        p2.goto(&join_url),
        p3.goto(&join_url),
    );
    let online = conn_is("online");
    for b in [&screen, &host, &p1, &p2, &p3] {
        b.wait("the page to connect", &online).await;
        let search = b.js("return location.search").await;
        assert_eq!(search, "", "{}: no key left in the address bar", b.name);
    }
    screen
        .wait(
            "the join code and the QR code",
            &format!(
                "const q = document.getElementById('qr');
                 return document.getElementById('jcode').textContent === {} && q.complete && q.naturalWidth > 0;",
                js_str(&code)
            ),
        )
        .await;
    assert_eq!(
        host.js("return document.documentElement.lang").await,
        "nl",
        "Dutch by default"
    );

    // The host goes to the first statement and opens the vote.
    let statement = host
        .wait(
            "the slide list",
            "const b = [...document.querySelectorAll('#slides button[data-i]')].find((b) => b.querySelector('.tag'));
             return b ? b.dataset.i : null;",
        )
        .await;
    let statement = statement.as_str().unwrap();
    host.click(&format!("#slides button[data-i=\"{statement}\"]"))
        .await;
    screen
        .wait(
            "the statement's two columns",
            "return document.querySelectorAll('#cols .col').length === 2;",
        )
        .await;
    host.wait(
        "the open button",
        "return !document.getElementById('open').disabled",
    )
    .await;
    host.click("#open").await;
    host.wait(
        "the reveal button",
        "return !document.getElementById('reveal').disabled",
    )
    .await;
    host.click("#reveal").await;
    screen
        .wait(
            "the open, revealed vote",
            "return document.body.dataset.phase === 'open' && document.getElementById('cols').classList.contains('revealed');",
        )
        .await;

    // Three phones tap.
    let enabled = "const o = document.querySelectorAll('#options .opt'); return o.length === 2 && [...o].every((b) => !b.disabled);";
    for (p, choice) in participants.iter().zip([0, 1, 0]) {
        p.wait("the options to open", enabled).await;
        p.click(&format!("#options .opt[data-i=\"{choice}\"]"))
            .await;
    }
    for (p, choice) in participants.iter().zip([0, 1, 0]) {
        p.wait("the vote to be acknowledged", &voted_for(choice))
            .await;
    }
    screen
        .wait("the counts 2 and 1", &screen_counts("2 stemmen|1 stem"))
        .await;
    screen
        .wait(
            "bars of 67% and 33%, all in view",
            "const f = [...document.querySelectorAll('#cols .fill')];
             const widths = f.map((e) => e.getBoundingClientRect().width);
             const counted = document.getElementById('counted');
             const stage = document.getElementById('stage');
             return {ok: f.map((e) => e.style.width).join(' ') === '67% 33%' && widths[0] > 300
               && widths[0] > 1.9 * widths[1] && counted.textContent === 'Stemmen: 3 van 3'
               && counted.getBoundingClientRect().bottom <= stage.getBoundingClientRect().bottom,
               widths, counted: counted.textContent};",
        )
        .await;
    host.wait(
        "the host's turnout",
        "return document.getElementById('turnout').textContent === '3 van 3 gestemd';",
    )
    .await;

    // A reload keeps the vote.
    p2.client.refresh().await.expect("reload");
    p2.wait("the reloaded page to connect", &online).await;
    p2.wait("the reloaded page to show the vote", &voted_for(1))
        .await;

    // A dropped connection: the page says so, keeps a vote made meanwhile, and recovers
    // by itself; the vote counts.
    p3.proxy.block(true);
    p3.proxy.cut();
    p3.wait("the reconnecting state", &conn_is("reconnecting"))
        .await;
    p3.click("#options .opt[data-i=\"1\"]").await;
    p3.wait(
        "the vote to wait for the connection",
        "return document.querySelector('#options .opt[data-i=\"1\"]').classList.contains('sending');",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    p3.wait("still reconnecting while blocked", &conn_is("reconnecting"))
        .await;
    p3.proxy.block(false);
    p3.wait_for("the page to reconnect", &online, Duration::from_secs(20))
        .await;
    p3.wait("the changed vote to be acknowledged", &voted_for(1))
        .await;
    screen
        .wait("the counts 1 and 2", &screen_counts("1 stem|2 stemmen"))
        .await;

    // Hand counts: entered on the host, reflected on host and screen.
    host.wait(
        "the hand count form",
        "return !document.getElementById('hands').hidden && document.querySelectorAll('#hands-fields input').length === 2;",
    )
    .await;
    let labels = host
        .js("return [...document.querySelectorAll('#hands-fields input')].map((i) => i.labels[0].textContent)")
        .await;
    assert_eq!(labels, json!(["Keuze A", "Keuze B"]), "labelled inputs");
    host.fill("#hand-0", "5").await;
    host.fill("#hand-1", "7").await;
    host.click("#hands-save").await;
    host.wait(
        "the hand counts in the tally",
        "return [...document.querySelectorAll('#tally .hcount')].map((e) => e.textContent).join('|')
           === 'waarvan handopsteking: 5|waarvan handopsteking: 7'
           && document.getElementById('hands-status').textContent === 'Handtelling opgeslagen'
           && document.getElementById('turnout').textContent === '15 van 15 gestemd';",
    )
    .await;
    screen
        .wait(
            "the counts with hands",
            &screen_counts("6 stemmen|9 stemmen"),
        )
        .await;
    screen
        .wait(
            "the total with hands",
            "return document.getElementById('counted').textContent \
             === 'Stemmen: 3 van 3 · 12 met handopsteking';",
        )
        .await;

    // Screenshots of each page, as people see them.
    let shots = [
        p1.screenshot("participant-390x844").await,
        screen.screenshot("screen-1920x1080").await,
        host.screenshot("host-1920x1080").await,
    ];
    host.viewport(390, 844).await;
    let host_phone = host.screenshot("host-390x844").await;
    host.viewport(1920, 1080).await;
    for shot in shots.iter().chain([&host_phone]) {
        let bytes = std::fs::metadata(shot).expect("a screenshot").len();
        assert!(bytes > 5_000, "{} is not blank", shot.display());
    }

    // The screen is readable from the back of the room.
    let sizes = screen
        .js(
            "const px = (s) => [...document.querySelectorAll(s)].map((e) => parseFloat(getComputedStyle(e).fontSize));
             const stage = document.getElementById('stage');
             return {
               text: [...px('#slide h2'), ...px('#cols .otext'), ...px('#cols .cnt'), ...px('#counted'),
                      ...px('#phase'), ...px('.jcode'), ...px('#jurl'), ...px('#join-h')],
               numbers: [...px('#cols .pct'), ...px('#jcode')],
               overflow: Math.max(0, stage.scrollHeight - stage.clientHeight),
             };",
        )
        .await;
    check_sizes(&sizes, "a statement with the vote open");

    // Closing shows the result on the phones; the compact join banner keeps text sizes.
    host.click("#close").await;
    p1.wait(
        "the result on the phone",
        "return !document.getElementById('result').hidden && document.querySelectorAll('#result-list li').length === 2;",
    )
    .await;
    screen
        .wait(
            "the closed vote",
            "return document.body.dataset.phase === 'closed' && document.getElementById('main').classList.contains('compact');",
        )
        .await;
    let sizes = screen
        .js(
            "const px = (s) => [...document.querySelectorAll(s)].map((e) => parseFloat(getComputedStyle(e).fontSize));
             const stage = document.getElementById('stage');
             return {
               text: [...px('#slide h2'), ...px('#cols .otext'), ...px('#cols .cnt'), ...px('#phase'),
                      ...px('#jcode'), ...px('#jurl')],
               numbers: px('#cols .pct'),
               overflow: Math.max(0, stage.scrollHeight - stage.clientHeight),
             };",
        )
        .await;
    check_sizes(&sizes, "the closed vote's result");
    screen.screenshot("screen-result-1920x1080").await;

    // A content slide with a long list keeps its text size too.
    host.click("#next").await;
    screen
        .wait(
            "the next, content slide",
            "return document.querySelectorAll('#cols .col').length === 0 && document.querySelectorAll('#slide li').length > 2;",
        )
        .await;
    let sizes = screen
        .js(
            "const px = (s) => [...document.querySelectorAll(s)].map((e) => parseFloat(getComputedStyle(e).fontSize));
             const stage = document.getElementById('stage');
             return {
               text: [...px('#slide h2'), ...px('#slide li'), ...px('#jcode'), ...px('#jurl')],
               numbers: [],
               overflow: Math.max(0, stage.scrollHeight - stage.clientHeight),
             };",
        )
        .await;
    check_sizes(&sizes, "a content slide");
    screen.screenshot("screen-content-1920x1080").await;

    // The report opens in a new tab with status 200 and shows the statement; the exports
    // answer the host's cookie.
    let before = host.client.windows().await.expect("windows");
    let report_href = host
        .js("return document.getElementById('report-link').getAttribute('href')")
        .await;
    assert_eq!(report_href, format!("/report/{code}?lang=nl"));
    host.click("#report-link").await;
    let deadline = Instant::now() + harness::WAIT;
    let report_window = loop {
        let now = host.client.windows().await.expect("windows");
        if let Some(w) = now.into_iter().find(|w| !before.contains(w)) {
            break w;
        }
        assert!(Instant::now() < deadline, "the report opened no new tab");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    host.client
        .switch_to_window(report_window)
        .await
        .expect("switch to the report");
    let report = host
        .wait(
            "the report",
            "if (document.readyState !== 'complete' || !location.pathname.startsWith('/report/')) return null;
             const nav = performance.getEntriesByType('navigation')[0];
             return {status: nav.responseStatus, text: document.body.innerText};",
        )
        .await;
    assert_eq!(report["status"], 200, "the report's status");
    assert!(
        report["text"].as_str().unwrap().contains(STATEMENT_TITLE),
        "the report shows the statement: {}",
        report["text"]
    );
    host.client.close_window().await.expect("close the report");
    host.client
        .switch_to_window(before[0].clone())
        .await
        .expect("back to the host page");
    let exports = host
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             Promise.all(['csv-link', 'json-link'].map((id) => {
               const a = document.getElementById(id);
               return fetch(a.href).then(async (r) => [a.getAttribute('href'), r.status, r.headers.get('content-type'), (await r.text()).length]);
             })).then(done, (e) => done(String(e)));",
            vec![],
        )
        .await
        .expect("fetch the exports");
    assert_eq!(exports[0][0], format!("/export/{code}.csv"));
    assert_eq!(exports[1][0], format!("/export/{code}.json"));
    for export in exports.as_array().unwrap() {
        assert_eq!(export[1], 200, "{export}");
        assert!(export[3].as_u64().unwrap() > 20, "{export}");
    }

    // Privacy: every request of every page went to the server's own origin.
    let origin = server.addr.to_string();
    let mut leaks = vec![];
    for b in [&screen, &host, &p1, &p2, &p3] {
        let seen = b.proxy.seen();
        assert!(
            seen.iter().any(|s| s.target.contains("/assets/")),
            "{}: the proxy saw the page's requests: {seen:?}",
            b.name
        );
        assert!(
            seen.iter()
                .any(|s| s.method == "CONNECT" || s.target.contains("/ws/")),
            "{}: the proxy saw the WebSocket: {seen:?}",
            b.name
        );
        let foreign: Vec<_> = seen.iter().filter(|s| s.authority != origin).collect();
        if !foreign.is_empty() {
            leaks.push(format!("{}: {foreign:?}", b.name));
        }
        eprintln!("{}: {} requests, all to {origin}", b.name, seen.len());
    }
    assert!(
        leaks.is_empty(),
        "requests that left {origin}:\n{}",
        leaks.join("\n")
    );

    for b in [screen, host, p1, p2, p3] {
        b.close().await;
    }
    eprintln!("end to end: {:?}", started.elapsed());
}

/// Fails unless every text size is at least [`SCREEN_TEXT_MIN_PX`] and every number at
/// least [`SCREEN_NUMBERS_MIN_PX`] (and something was measured).
fn check_sizes(sizes: &Value, when: &str) {
    let list = |k: &str| -> Vec<f64> {
        sizes[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (text, numbers) = (list("text"), list("numbers"));
    eprintln!("screen font sizes, {when}: text {text:?}, numbers {numbers:?}");
    assert!(text.len() >= 4, "{when}: {sizes}");
    assert_eq!(
        sizes["overflow"], 0,
        "{when}: the slide fits the screen (no text cut off): {sizes}"
    );
    assert!(
        text.iter().all(|&px| px >= SCREEN_TEXT_MIN_PX),
        "{when}: screen text below {SCREEN_TEXT_MIN_PX}px: {text:?}"
    );
    assert!(
        numbers.iter().all(|&px| px >= SCREEN_NUMBERS_MIN_PX),
        "{when}: screen numbers below {SCREEN_NUMBERS_MIN_PX}px: {numbers:?}"
    );
}

/// A page for the accessibility run.
struct Page {
    name: &'static str,
    path: String,
    size: (u32, u32),
    /// Script: the page is ready to be checked.
    ready: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_and_works_by_keyboard() {
    run(
        "every_page_passes_axe_and_works_by_keyboard",
        axe_and_keyboard,
    )
    .await;
}

async fn axe_and_keyboard(tools: Tools) {
    let started = Instant::now();
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let server = TestServer::start().await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let mut watch = server.host().await;
    let driver = Driver::start(&tools).await;
    let b = Browser::open(&driver, server.addr, "keyboard", (1920, 1080)).await;

    // Join page: type the code, press Enter.
    b.goto(&server.url("/")).await;
    b.wait(
        "the join page",
        "return !!document.querySelector('#join button').textContent",
    )
    .await;
    b.tab_to("#code", 10).await;
    for c in code.chars() {
        b.press(c).await;
    }
    b.press(Key::Enter.into()).await;
    b.wait(
        "the participant page",
        &format!(
            "return location.pathname === {};",
            js_str(&format!("/{code}"))
        ),
    )
    .await;
    b.wait("the participant page to connect", &conn_is("online"))
        .await;

    // Host: next to the first statement, open, reveal: keys only, focus always visible.
    b.goto(&server.url(&format!("/host/{code}?key={host_key}")))
        .await;
    b.wait("the host page", &conn_is("online")).await;
    b.wait(
        "the next button",
        "return !document.getElementById('next').disabled",
    )
    .await;
    b.tab_to("#next", 40).await;
    let statement = loop {
        let focus = b.focus_visible().await;
        assert_eq!(focus["ok"], true, "host next: {focus}");
        let before = watch.state["slide"]["index"].as_u64().unwrap();
        b.press(Key::Enter.into()).await;
        let state = watch
            .wait_state(|s| s["slide"]["index"].as_u64() == Some(before + 1))
            .await;
        if state["slide"]["kind"] == "statement" {
            break state["slide"]["index"].as_u64().unwrap();
        }
    };
    b.wait(
        "the open button",
        "return !document.getElementById('open').disabled",
    )
    .await;
    b.tab_to("#open", 40).await;
    let focus = b.focus_visible().await;
    assert_eq!(focus["ok"], true, "host open: {focus}");
    b.press(Key::Enter.into()).await;
    watch.wait_state(|s| s["slide"]["phase"] == "open").await;
    b.wait(
        "the focus to move from the disabled Open button to Close",
        "return document.getElementById('open').disabled && document.activeElement === document.getElementById('close');",
    )
    .await;
    let focus = b.focus_visible().await;
    assert_eq!(focus["ok"], true, "host close after open: {focus}");
    b.wait(
        "the reveal button",
        "return !document.getElementById('reveal').disabled",
    )
    .await;
    b.tab_to("#reveal", 40).await;
    let focus = b.focus_visible().await;
    assert_eq!(focus["ok"], true, "host reveal: {focus}");
    b.press(Key::Space.into()).await;
    watch.wait_state(|s| s["revealed"] == true).await;

    // Participant: vote B with Tab and Space.
    b.viewport(390, 844).await;
    b.goto(&server.url(&format!("/{code}"))).await;
    b.wait("the open options", "const o = document.querySelectorAll('#options .opt'); return o.length === 2 && !o[1].disabled;")
        .await;
    b.tab_to("#options .opt[data-i=\"1\"]", 20).await;
    let focus = b.focus_visible().await;
    assert_eq!(focus["ok"], true, "participant option: {focus}");
    b.press(Key::Space.into()).await;
    b.wait("the vote by keyboard", &voted_for(1)).await;
    watch
        .wait_state(|s| s["tally"] == json!([0, 1]) && s["slide"]["index"] == statement)
        .await;
    // The language switch by keyboard too.
    b.tab_to("[data-lang-toggle]", 20).await;
    let focus = b.focus_visible().await;
    assert_eq!(focus["ok"], true, "language switch: {focus}");
    b.press(Key::Enter.into()).await;
    b.wait("English", "return document.documentElement.lang === 'en' && document.getElementById('phase').textContent === 'Make your choice';")
        .await;
    b.press(Key::Enter.into()).await;
    b.wait(
        "Dutch again",
        "return document.documentElement.lang === 'nl';",
    )
    .await;

    // Host: a hand count by keyboard.
    b.viewport(1920, 1080).await;
    b.goto(&server.url(&format!("/host/{code}"))).await;
    b.wait(
        "the hand count form",
        "return !document.getElementById('hands').hidden",
    )
    .await;
    b.tab_to("#hand-0", 60).await;
    b.press(Key::Backspace.into()).await;
    b.press('3').await;
    b.tab_to("#hands-save", 5).await;
    let focus = b.focus_visible().await;
    assert_eq!(focus["ok"], true, "hand count save: {focus}");
    b.press(Key::Enter.into()).await;
    watch
        .wait_state(|s| s["hands"] == json!([3, 0]) && s["tally"] == json!([3, 1]))
        .await;
    eprintln!("keyboard: {:?}", started.elapsed());

    // axe-core on every page, in both languages, with the vote open and then closed.
    let pages = |closed: bool| {
        let ready_statement = if closed {
            "document.getElementById('conn').dataset.state === 'online' && !document.getElementById('result').hidden"
        } else {
            "document.getElementById('conn').dataset.state === 'online' && document.querySelectorAll('#options .opt').length === 2"
        };
        vec![
            Page {
                name: "index",
                path: "/".to_owned(),
                size: (390, 844),
                ready: "return !!document.querySelector('#join button').textContent;".to_owned(),
            },
            Page {
                name: "participant",
                path: format!("/{code}"),
                size: (390, 844),
                ready: format!("return {ready_statement};"),
            },
            Page {
                name: "host",
                path: format!("/host/{code}?key={host_key}"),
                size: (1920, 1080),
                ready: "return document.getElementById('conn').dataset.state === 'online' && document.querySelectorAll('#tally li').length === 2;".to_owned(),
            },
            Page {
                name: "host (phone)",
                path: format!("/host/{code}"),
                size: (390, 844),
                ready: "return document.getElementById('conn').dataset.state === 'online' && document.querySelectorAll('#tally li').length === 2;".to_owned(),
            },
            Page {
                name: "screen",
                path: format!("/screen/{code}?key={screen_key}"),
                size: (1920, 1080),
                ready: "const q = document.getElementById('qr'); return document.getElementById('conn').dataset.state === 'online' && document.querySelectorAll('#cols .col').length === 2 && q.complete;".to_owned(),
            },
        ]
    };
    // First, that the check can fail: an image without a text alternative is critical.
    b.goto(&server.url("/")).await;
    b.wait(
        "the join page",
        "return !!document.querySelector('#join button').textContent",
    )
    .await;
    b.js("const i = document.createElement('img'); i.id = 'axe-canary'; i.src = '/assets/favicon.svg'; document.querySelector('main').append(i);")
        .await;
    let canary = b.axe(&axe, WCAG_21_AA).await;
    assert!(
        canary
            .iter()
            .any(|v| v["id"] == "image-alt" && v["impact"] == "critical"),
        "axe reports a missing alt as critical: {canary:?}"
    );

    let mut blocking = vec![];
    let mut lesser: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut runs = 0;
    for closed in [false, true] {
        if closed {
            watch.send(json!({"type": "close_vote"})).await;
            watch.wait_state(|s| s["slide"]["phase"] == "closed").await;
        }
        for lang in ["nl", "en"] {
            for page in pages(closed) {
                b.viewport(page.size.0, page.size.1).await;
                b.goto(&server.url(&page.path)).await;
                b.wait(page.name, &page.ready).await;
                if b.js("return document.documentElement.lang").await != lang {
                    b.click("[data-lang-toggle]").await;
                    b.wait(
                        "the language switch",
                        &format!("return document.documentElement.lang === {};", js_str(lang)),
                    )
                    .await;
                }
                // Let live text settle (the switch re-renders and reconnects).
                b.wait(page.name, &page.ready).await;
                let label = format!(
                    "{} [{lang}, vote {}]",
                    page.name,
                    if closed { "closed" } else { "open" }
                );
                runs += 1;
                let wcag = b.axe(&axe, WCAG_21_AA).await;
                let advice = b.axe(&axe, &["best-practice"]).await;
                for v in advice {
                    let impact = v["impact"].as_str().unwrap_or("none");
                    lesser
                        .entry(format!(
                            "best practice, {impact}: {} ({})",
                            v["id"].as_str().unwrap(),
                            v["help"].as_str().unwrap()
                        ))
                        .or_default()
                        .insert(label.clone());
                }
                for v in wcag {
                    let impact = v["impact"].as_str().unwrap_or("none").to_owned();
                    if impact == "serious" || impact == "critical" {
                        blocking.push(format!("{label}: {v:#}"));
                    } else {
                        lesser
                            .entry(format!(
                                "{impact} {}: {}",
                                v["id"].as_str().unwrap(),
                                v["help"].as_str().unwrap()
                            ))
                            .or_default()
                            .insert(label.clone());
                    }
                }
            }
        }
    }
    // The printable report (made by the server, Dutch only).
    b.viewport(1920, 1080).await;
    b.goto(&server.url(&format!("/report/{code}"))).await;
    b.wait(
        "the report",
        "return document.readyState === 'complete' && !!document.querySelector('h1');",
    )
    .await;
    runs += 1;
    for v in b.axe(&axe, WCAG_21_AA).await {
        let impact = v["impact"].as_str().unwrap_or("none").to_owned();
        if impact == "serious" || impact == "critical" {
            blocking.push(format!("report: {v:#}"));
        } else {
            lesser
                .entry(format!(
                    "{impact} {}: {}",
                    v["id"].as_str().unwrap(),
                    v["help"].as_str().unwrap()
                ))
                .or_default()
                .insert("report".to_owned());
        }
    }
    for v in b.axe(&axe, &["best-practice"]).await {
        lesser
            .entry(format!(
                "best practice, {}: {}",
                v["impact"].as_str().unwrap_or("none"),
                v["id"].as_str().unwrap()
            ))
            .or_default()
            .insert("report".to_owned());
    }

    for (violation, pages) in &lesser {
        eprintln!("axe (not blocking) {violation} — on {pages:?}");
    }
    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    eprintln!(
        "axe: {runs} page checks, no serious or critical violation; keyboard and axe took {:?}",
        started.elapsed()
    );
    b.close().await;
}

// ---------------------------------------------------------------------------------------
// Languages: one file per language, every string from it. No browser needed.

fn web() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/web"))
}

/// A language file: `export default {…};` around a plain JSON object of strings.
fn language(name: &str) -> BTreeMap<String, String> {
    let path = web().join(format!("i18n/{name}.js"));
    let text = std::fs::read_to_string(&path).expect("a language file");
    let body = text
        .trim()
        .strip_prefix("export default")
        .and_then(|s| s.trim().strip_suffix(';'))
        .unwrap_or_else(|| panic!("{} is `export default {{…}};`", path.display()));
    serde_json::from_str(body).unwrap_or_else(|e| {
        panic!(
            "{} holds a plain JSON object of strings: {e}",
            path.display()
        )
    })
}

fn files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn placeholders(s: &str) -> BTreeSet<String> {
    s.split('{')
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// The i18n keys a script asks for with `t('key'…)`.
fn t_calls(js: &str) -> Vec<String> {
    let mut keys = vec![];
    let bytes = js.as_bytes();
    for (i, _) in js.match_indices("t(") {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$')
        {
            continue;
        }
        let rest = &js[i + 2..];
        let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        if let Some(end) = rest[1..].find(quote) {
            keys.push(rest[1..1 + end].to_owned());
        }
    }
    keys
}

/// Attributes of one HTML start tag, as (name, value).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut rest = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    rest = rest.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix('=') {
            let quote = r.chars().next().unwrap();
            let (value, after) = if quote == '"' || quote == '\'' {
                let close = r[1..].find(quote).expect("a closed attribute value");
                (&r[1..1 + close], &r[close + 2..])
            } else {
                r.split_once(char::is_whitespace).unwrap_or((r, ""))
            };
            out.push((name, value.to_owned()));
            rest = after;
        } else {
            out.push((name, String::new()));
        }
    }
}

const VOID: &[&str] = &["meta", "link", "input", "img", "br", "hr", "source", "wbr"];

#[test]
fn every_ui_string_comes_from_one_file_per_language() {
    let nl = language("nl");
    let en = language("en");
    let nl_keys: BTreeSet<_> = nl.keys().collect();
    let en_keys: BTreeSet<_> = en.keys().collect();
    assert_eq!(
        nl_keys.symmetric_difference(&en_keys).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "nl.js and en.js have the same keys"
    );
    for (key, text) in &nl {
        assert!(!text.trim().is_empty(), "nl {key} is empty");
        assert!(!en[key].trim().is_empty(), "en {key} is empty");
        assert_eq!(
            placeholders(text),
            placeholders(&en[key]),
            "{key}: the same {{placeholders}} in both languages"
        );
    }

    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut problems = vec![];

    // HTML: text only from data-i18n (a Dutch fallback allowed in <title> and <noscript>).
    for page in files(web(), "html") {
        let html = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let mut stack: Vec<(String, Option<String>)> = vec![];
        let mut rest = html.as_str();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("<!--") {
                rest = after.split_once("-->").map_or("", |(_, r)| r);
                continue;
            }
            if rest.starts_with('<') {
                let end = rest.find('>').expect("a closed tag") + 1;
                let tag = &rest[..end];
                rest = &rest[end..];
                if tag.starts_with("<!") {
                    continue;
                }
                if let Some(closing) = tag.strip_prefix("</") {
                    let tag_name = closing.trim_end_matches('>').trim().to_ascii_lowercase();
                    let open = stack.pop().map(|(n, _)| n);
                    assert_eq!(open.as_deref(), Some(tag_name.as_str()), "{name}: nesting");
                    continue;
                }
                let tag_name = tag[1..]
                    .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .next()
                    .unwrap()
                    .to_ascii_lowercase();
                let attrs = attributes(tag);
                let mut i18n = None;
                for (attr, value) in &attrs {
                    if attr == "data-i18n" || attr.starts_with("data-i18n-") {
                        used.insert(value.clone());
                        if attr == "data-i18n" {
                            i18n = Some(value.clone());
                        }
                    }
                    let visible = [
                        "alt",
                        "title",
                        "placeholder",
                        "aria-label",
                        "value",
                        "label",
                    ];
                    if visible.contains(&attr.as_str())
                        && !value.is_empty()
                        && !(attr == "value" && tag_name != "input" && tag_name != "button")
                    {
                        problems.push(format!("{name}: hard-coded {attr}=\"{value}\" in {tag}"));
                    }
                }
                if tag_name == "script" || tag_name == "style" {
                    let close = format!("</{tag_name}>");
                    let end = rest.find(&close).expect("a closed script or style");
                    if !rest[..end].trim().is_empty() {
                        problems.push(format!("{name}: inline {tag_name}"));
                    }
                    rest = &rest[end + close.len()..];
                    continue;
                }
                if !VOID.contains(&tag_name.as_str()) && !tag.ends_with("/>") {
                    stack.push((tag_name, i18n));
                }
                continue;
            }
            let end = rest.find('<').unwrap_or(rest.len());
            let text = rest[..end].trim();
            rest = &rest[end..];
            if text.is_empty() {
                continue;
            }
            let (tag_name, key) = stack.last().cloned().unwrap_or_default();
            let fallback = tag_name == "title" || stack.iter().any(|(n, _)| n == "noscript");
            match key {
                Some(key) if fallback && nl.get(&key).map(String::as_str) == Some(text) => {}
                _ => problems.push(format!("{name}: hard-coded text {text:?} in <{tag_name}>")),
            }
        }
    }

    // Scripts: keys from t('…'); no literal text put on the page.
    for script in files(&web().join("js"), "js") {
        let js = std::fs::read_to_string(&script).unwrap();
        let name = script.file_name().unwrap().to_string_lossy().into_owned();
        used.extend(t_calls(&js));
        for (n, line) in js.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            // A string literal with letters in it, put straight onto the page.
            for sink in [
                "textContent = '",
                "textContent = \"",
                "textContent = `",
                "confirm('",
                "confirm(\"",
                "alert('",
                "alert(\"",
                "prompt('",
                ".title = '",
                ".placeholder = '",
                "setAttribute('aria-label', '",
                "setAttribute('title', '",
                "setAttribute('alt', '",
            ] {
                for (i, _) in code.match_indices(sink) {
                    let quote = sink.chars().last().unwrap();
                    let literal = &code[i + sink.len()..];
                    let literal = literal.split(quote).next().unwrap_or_default();
                    if literal.chars().any(char::is_alphabetic) {
                        problems.push(format!("{name}:{}: literal text: {}", n + 1, line.trim()));
                    }
                }
            }
            if code.contains("innerText") {
                problems.push(format!("{name}:{}: innerText: {}", n + 1, line.trim()));
            }
            // setText(node, 'literal'), el('tag', cls, 'literal') with letters in it.
            for call in ["setText(", "el("] {
                for (i, _) in code.match_indices(call) {
                    let args = &code[i + call.len()..];
                    let args = args.split(')').next().unwrap_or_default();
                    let last = args.rsplit(',').next().unwrap_or_default().trim();
                    let quoted = last.starts_with('\'') || last.starts_with('"');
                    let parts = args.split(',').count();
                    let is_text = call == "setText(" || parts == 3;
                    if is_text && quoted && last.chars().any(char::is_alphabetic) {
                        problems.push(format!("{name}:{}: literal text: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }

    for key in &used {
        if !nl.contains_key(key) {
            problems.push(format!("the key {key} is used but not in nl.js/en.js"));
        }
    }
    for key in nl.keys() {
        if !used.contains(key) {
            problems.push(format!(
                "the key {key} is in the language files but never used"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_on_the_host_and_screen_pages() {
    run(
        "a_wrong_key_is_refused_on_the_host_and_screen_pages",
        wrong_key,
    )
    .await;
}

async fn wrong_key(tools: Tools) {
    let server = TestServer::start().await;
    let code = server.code().to_owned();
    let driver = Driver::start(&tools).await;
    let browser = Browser::open(&driver, server.addr, "intruder", (1280, 800)).await;
    // The screen key is a real key, but not the host's; the other is no key at all.
    let screen_key = server.session.screen_key().expose().to_owned();
    for (page, key) in [
        ("host", screen_key.as_str()),
        ("screen", "00000000000000000000000000000000"),
    ] {
        browser
            .goto(&server.url(&format!("/{page}/{code}?key={key}")))
            .await;
        let shown = browser
            .wait(
                "the refusal",
                "const d = document.getElementById('denied');
                 return d && !d.hidden && d.textContent.trim().length > 0;",
            )
            .await;
        assert!(harness::truthy(&shown), "{page}: {shown}");
        let search = browser.js("return location.search").await;
        assert_eq!(search, "", "{page}: the wrong key left the address bar too");
        let controls = browser
            .js("const a = document.getElementById('app') || document.getElementById('stage'); return a ? a.hidden : true;")
            .await;
        assert_eq!(
            controls,
            serde_json::json!(true),
            "{page}: nothing to steer"
        );
    }
    browser.close().await;
}
