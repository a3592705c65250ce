//! The three pages tested the way people meet them: in headless Chromium, on a phone-sized
//! viewport for participants, at 1920×1080 for the projector and the host's laptop.
//!
//! Driver: fantoccini. It is a pure-Rust WebDriver client, so these tests are ordinary
//! `cargo test` tests on tokio, next to the in-process `TestServer`, with no Node or
//! Python runtime at test time; it drives Debian's own `chromedriver`, which matches
//! Debian's `chromium` version for version (chromiumoxide would need its CDP bindings to
//! keep up with Chromium, and playwright-core wants its own browser builds and Node).
//!
//! Each browser runs behind its own recording proxy (see `browser/harness.rs`), which
//! lets the reconnect check cut a participant's WebSocket at the TCP level; the privacy
//! check reads what every page requested from Chromium's own record of the page.
//!
//! They need `apt-get install chromium chromium-driver npm`; the harness installs
//! axe-core with npm into `target/npm` the first time. Without Chromium or chromedriver
//! (or npm, the first time) the browser tests print a loud "BROWSER TESTS SKIPPED" box
//! and pass; with `CI=true` they fail instead.

pub(crate) mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::TestServer;
use fantoccini::key::Key;
use harness::{Browser, Driver, Tools};
use serde_json::{json, Value};

/// The longest a browser test may take (the longest takes about a minute): a hung browser fails the test
/// instead of hanging `cargo test`.
const TEST_LIMIT: Duration = Duration::from_secs(300);

/// The browser tests share two cores: one at a time.
static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The axe-core tags of WCAG 2.1 level A and AA (2.0's rules included).
pub(crate) const WCAG_21_AA: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// The first statement's title in the built-in deck.
const STATEMENT_TITLE: &str = "Ambitie uitgesproken in coalitieprogramma";

pub(crate) fn js_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Script: the page's connection indicator says `state`.
pub(crate) fn conn_is(state: &str) -> String {
    format!(
        "const c = document.getElementById('conn'); return !!c && c.dataset.state === {};",
        js_str(state)
    )
}

/// Script: the participant page shows option `i` as chosen and acknowledged.
pub(crate) fn voted_for(i: u32) -> String {
    chosen(i, &char::from(b'A' + i as u8).to_string())
}

/// Script: the participant page shows scale point `i` (from 0) as chosen and
/// acknowledged.
fn voted_for_point(i: u32) -> String {
    chosen(i, &format!("Je keuze {} is", i + 1))
}

/// Script: option `i` is pressed, not sending, and the status names it with `name`.
fn chosen(i: u32, name: &str) -> String {
    format!(
        "const b = document.querySelector('#options .opt[data-i=\"{i}\"]');
         const s = document.getElementById('vote-status');
         return !!b && b.getAttribute('aria-pressed') === 'true' && !b.classList.contains('sending')
           && !s.classList.contains('sending') && s.textContent.includes({});",
        js_str(name)
    )
}

/// Script: the screen's counts beside the bars read `counts` (joined by `|`).
fn screen_counts(counts: &str) -> String {
    format!(
        "return [...document.querySelectorAll('#cols .cnt')].map((e) => e.textContent).join('|') === {};",
        js_str(counts)
    )
}

/// Runs one browser test: finds the tools (or skips loudly outside CI), takes the
/// one-browser-test-at-a-time lock, and bounds the test's time.
pub(crate) async fn run<F, Fut>(name: &str, test: F)
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
        .wait("the counts 2 and 1", &screen_counts("2|1"))
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
        "return document.getElementById('turnout').textContent === 'Stemmen: 3 van 3';",
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
        .wait("the counts 1 and 2", &screen_counts("1|2"))
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
           && document.getElementById('turnout').textContent === 'Stemmen: 3 van 3 · 12 met handopsteking';",
    )
    .await;
    screen
        .wait("the counts with hands", &screen_counts("6|9"))
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

    // The screen is readable from the back of the room, and shows all of it.
    check_screen(&screen, "a statement with the vote open").await;

    // Closing shows the result on the phones; the screen keeps its sizes.
    host.click("#close").await;
    p1.wait(
        "the result on the phone",
        "return !document.getElementById('result').hidden && document.querySelectorAll('#result-list li').length === 2;",
    )
    .await;
    screen
        .wait(
            "the closed vote",
            "return document.body.dataset.phase === 'closed';",
        )
        .await;
    check_screen(&screen, "the closed vote's result").await;
    screen.screenshot("screen-result-1920x1080").await;

    // A content slide with a long list keeps its text size too.
    host.click("#next").await;
    screen
        .wait(
            "the next, content slide",
            "return document.querySelectorAll('#cols .col').length === 0 && document.querySelectorAll('#slide li').length > 2;",
        )
        .await;
    check_screen(&screen, "a content slide").await;
    screen.screenshot("screen-content-1920x1080").await;

    // The report opens in a new tab with status 200 and shows the statement; the exports
    // answer the host's cookie.
    let before = host.client.windows().await.expect("windows");
    let report_href = host
        .js("return document.getElementById('report-link').getAttribute('href')")
        .await;
    assert_eq!(
        report_href,
        format!("/report/{code}"),
        "in the deck's language"
    );
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
             Promise.all(['csv-link', 'json-link', 'xlsx-link', 'pdf-link'].map((id) => {
               const a = document.getElementById(id);
               return fetch(a.href).then(async (r) => [a.getAttribute('href'), r.status, r.headers.get('content-type'), (await r.text()).length]);
             })).then(done, (e) => done(String(e)));",
            vec![],
        )
        .await
        .expect("fetch the exports");
    assert_eq!(exports[0][0], format!("/export/{code}.csv"));
    assert_eq!(exports[1][0], format!("/export/{code}.json"));
    assert_eq!(exports[2][0], format!("/export/{code}.xlsx?lang=nl"));
    assert_eq!(
        exports[2][2],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(exports[3][0], format!("/report/{code}.pdf"));
    assert_eq!(exports[3][2], "application/pdf");
    for export in exports.as_array().unwrap() {
        assert_eq!(export[1], 200, "{export}");
        assert!(export[3].as_u64().unwrap() > 20, "{export}");
    }

    // Privacy: every request of every page went to the server's own origin. What a page
    // asked for comes from Chromium's record of the page (`page_requests`); the proxy
    // saw it too, and besides whatever Chromium fetched for itself, which the proxy
    // refused and which no page asked for.
    let origin = server.addr.to_string();
    let mut leaks = vec![];
    for b in [&screen, &host, &p1, &p2, &p3] {
        let asked = b.page_requests().await;
        assert!(
            asked
                .iter()
                .any(|r| r.kind == "Script" && r.url.contains("/assets/")),
            "{}: the log holds the page's scripts: {asked:?}",
            b.name
        );
        assert!(
            asked
                .iter()
                .any(|r| r.kind == "WebSocket" && r.url.contains("/ws/")),
            "{}: the log holds the page's WebSocket: {asked:?}",
            b.name
        );
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
        let (browser_pages, asked): (Vec<_>, Vec<_>) =
            asked.into_iter().partition(|r| r.of_the_browser());
        for r in asked.iter().filter(|r| !r.stays_with(&origin)) {
            leaks.push(format!(
                "{}: {} {} (asked by the page's {})",
                b.name, r.kind, r.url, r.initiator
            ));
        }
        let own: Vec<_> = seen
            .iter()
            .filter(|s| s.authority != origin)
            .map(|s| s.target.as_str())
            .collect();
        eprintln!(
            "{}: {} requests from its pages; {} from Chromium's own pages; the browser's \
             own in the background, refused by the proxy: {own:?}",
            b.name,
            asked.len(),
            browser_pages.len()
        );
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

/// Script: everything the screen shows, measured against the viewport. Returns
/// `{ok, problems, fit, unit, measured}`: `ok` when no text, bar or QR code is cut off or
/// outside the viewport, no container scrolls, every text is at least the minimum size
/// and the numbers and the QR code at least theirs (docs/accessibility.md).
const SCREEN_FITS: &str = r#"
const vw = innerWidth, vh = innerHeight;
const u = Math.min(vw / 100, vh / 56.25);
const min = u * arguments[0], numbers = u * arguments[1], qrMin = u * arguments[2];
const problems = [];
const say = (what, e) => problems.push(what + ': ' + (e ? (e.id || e.className || e.tagName) + ' ' + JSON.stringify((e.textContent || '').slice(0, 40)) : ''));
const inView = (r) => r.left >= -0.5 && r.top >= -0.5 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5;
// A line's box may reach past its glyphs (ascent and descent beyond a tight line height):
// vertically a fifth of the font size is allowed, horizontally half a pixel.
const inside = (r, b, v = 0.5) => r.left >= b.left - 0.5 && r.top >= b.top - v && r.right <= b.right + 0.5 && r.bottom <= b.bottom + v;
for (const c of [document.documentElement, document.body, ...document.querySelectorAll('#main, #stage, #side, #cols, .col, #slide, #join, #groups, #acols, .acol')]) {
  if (c.scrollHeight > c.clientHeight + 1 || c.scrollWidth > c.clientWidth + 1)
    say('scrolls (' + c.scrollWidth + '×' + c.scrollHeight + ' in ' + c.clientWidth + '×' + c.clientHeight + ')', c);
}
const boxes = ['stage', 'side'].map((id) => document.getElementById(id).getBoundingClientRect());
let measured = 0;
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walk.nextNode(); n; n = walk.nextNode()) {
  const e = n.parentElement;
  if (!n.textContent.trim() || e.closest('.vh, #conn, noscript, [hidden]')) continue;
  const range = document.createRange();
  range.selectNodeContents(n);
  const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
  if (!rects.length) continue;
  measured++;
  const size = parseFloat(getComputedStyle(e).fontSize);
  for (const r of rects) {
    if (!inView(r)) { say('text outside the viewport', e); break; }
    if (!boxes.some((b) => inside(r, b, size / 5))) { say('text cut off', e); break; }
  }
  if (size < min - 0.05) say('text of ' + size.toFixed(1) + ' px < ' + min.toFixed(1), e);
  if (e.matches('.pct, #jcode') && size < numbers - 0.05) say('number of ' + size.toFixed(1) + ' px < ' + numbers.toFixed(1), e);
}
for (const bar of document.querySelectorAll('.revealed .area, .revealed .fill')) {
  const r = bar.getBoundingClientRect();
  if (!inView(r) || !inside(r, boxes[0])) say('bar cut off', bar.closest('.col'));
  // A scale's bars stand upright: their length is their height.
  const length = bar.closest('.scale') ? r.height : r.width;
  if (bar.matches('.area') && length < 4 * min) say('bar too short (' + length.toFixed(0) + ' px)', bar.closest('.col'));
}
const qr = document.getElementById('qr').getBoundingClientRect();
if (!inView(qr) || qr.width < qrMin - 0.5 || qr.height < qrMin - 0.5) say('QR code of ' + qr.width.toFixed(0) + ' px, at least ' + qrMin.toFixed(0));
if (document.querySelector('button, [data-lang-toggle]')) say('a control on the screen');
const conn = document.getElementById('conn');
if (conn.dataset.state === 'online' && conn.getClientRects().length) say('"connected" on the screen');
return {ok: problems.length === 0 && measured > 3, problems, measured, fit: document.getElementById('stage').dataset.fit, unit: u};
"#;

/// The screen's minimum text size, in hundredths of the 16:9 width (2.1875 = 42 px at
/// 1920×1080): see docs/accessibility.md for the rule and the arithmetic.
const SCREEN_TEXT_MIN_U: f64 = 2.1875;
/// The minimum of the numbers read at a glance (percentages, the join code): 63 px at
/// 1920×1080.
const SCREEN_NUMBERS_MIN_U: f64 = 3.28;
/// The QR code's minimum side: 288 px at 1920×1080, 0.44 m on a 2.97 m wide image.
const SCREEN_QR_MIN_U: f64 = 15.0;

/// Measures the screen as it is now (see [`SCREEN_FITS`]); fails the test on a problem.
pub(crate) async fn check_screen(screen: &Browser, when: &str) -> Value {
    let result = screen
        .client
        .execute(
            SCREEN_FITS,
            vec![
                json!(SCREEN_TEXT_MIN_U),
                json!(SCREEN_NUMBERS_MIN_U),
                json!(SCREEN_QR_MIN_U),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{}: measure the screen: {e}", screen.name));
    if !harness::truthy(&result) {
        let shot = screen
            .screenshot(&format!(
                "failed-fit-{}",
                when.replace([' ', '/', ','], "-")
            ))
            .await;
        panic!(
            "the screen does not show everything, {when}: {result:#}; screenshot {}",
            shot.display()
        );
    }
    result
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

    // axe-core on every page, in both languages, in every state a slide can be in.
    let ready = "return document.getElementById('conn').dataset.state === 'online' && document.body.dataset.view === arguments[0];";
    let pages = vec![
        Page {
            name: "participant",
            path: format!("/{code}"),
            size: (390, 844),
            ready: ready.to_owned(),
        },
        Page {
            name: "host",
            path: format!("/host/{code}?key={host_key}"),
            size: (1366, 768),
            ready: ready.to_owned(),
        },
        Page {
            name: "host (phone)",
            path: format!("/host/{code}"),
            size: (390, 844),
            ready: ready.to_owned(),
        },
        Page {
            name: "screen",
            path: format!("/screen/{code}?key={screen_key}"),
            size: (1920, 1080),
            ready: format!("const q = document.getElementById('qr'); return q.complete && (() => {{ {ready} }})();"),
        },
    ];
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
    let mut record = |label: &str, wcag: Vec<Value>, advice: Vec<Value>| {
        for v in advice {
            let impact = v["impact"].as_str().unwrap_or("none");
            lesser
                .entry(format!(
                    "best practice, {impact}: {} ({})",
                    v["id"].as_str().unwrap(),
                    v["help"].as_str().unwrap()
                ))
                .or_default()
                .insert(label.to_owned());
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
                    .insert(label.to_owned());
            }
        }
    };
    // The join page.
    for lang in ["nl", "en"] {
        b.viewport(390, 844).await;
        b.goto(&server.url("/")).await;
        b.js(&format!(
            "localStorage.setItem('stemzaal:lang', {})",
            js_str(lang)
        ))
        .await;
        b.goto(&server.url("/")).await;
        b.wait("the join page", &format!("return document.documentElement.lang === {} && !!document.querySelector('#join button').textContent;", js_str(lang))).await;
        runs += 1;
        record(
            &format!("index [{lang}]"),
            b.axe(&axe, WCAG_21_AA).await,
            b.axe(&axe, &["best-practice"]).await,
        );
    }
    // The states: a content slide whose preview scrolls, then a statement not yet opened,
    // open, closed, and closed with its results shown.
    let content = 0u64;
    let mut fresh = statement + 1;
    loop {
        watch.send(json!({"type": "go_to", "slide": fresh})).await;
        let s = watch
            .wait_state(|s| s["slide"]["index"].as_u64() == Some(fresh))
            .await;
        if s["slide"]["kind"] == "statement" {
            break;
        }
        fresh += 1;
    }
    let states: [(&str, Vec<Value>); 5] = [
        (
            "content slide",
            vec![json!({"type": "go_to", "slide": content})],
        ),
        (
            "vote pending",
            vec![json!({"type": "go_to", "slide": fresh})],
        ),
        ("vote open", vec![json!({"type": "open_vote"})]),
        ("vote closed", vec![json!({"type": "close_vote"})]),
        (
            "results revealed",
            vec![json!({"type": "reveal", "visible": true})],
        ),
    ];
    for (state_name, commands) in states {
        for command in commands {
            watch.send(command).await;
        }
        let state = watch
            .wait_state(|s| match state_name {
                "content slide" => s["slide"]["index"].as_u64() == Some(content),
                "vote pending" => {
                    s["slide"]["index"].as_u64() == Some(fresh) && s["slide"]["phase"] == "pending"
                }
                "vote open" => s["slide"]["phase"] == "open",
                "vote closed" => s["slide"]["phase"] == "closed" && s["revealed"] == false,
                _ => s["revealed"] == true,
            })
            .await;
        let view = format!(
            "{}:{}:{}",
            state["slide"]["index"],
            state["slide"]["phase"].as_str().unwrap_or(""),
            state["revealed"]
        );
        for lang in ["nl", "en"] {
            for page in &pages {
                b.viewport(page.size.0, page.size.1).await;
                b.js(&format!(
                    "localStorage.setItem('stemzaal:lang', {})",
                    js_str(lang)
                ))
                .await;
                b.goto(&server.url(&page.path)).await;
                b.wait_script(page.name, &page.ready, &view).await;
                assert_eq!(
                    b.js("return document.documentElement.lang").await,
                    lang,
                    "{}",
                    page.name
                );
                let label = format!("{} [{lang}, {state_name}]", page.name);
                runs += 1;
                record(
                    &label,
                    b.axe(&axe, WCAG_21_AA).await,
                    b.axe(&axe, &["best-practice"]).await,
                );
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
    record(
        "report",
        b.axe(&axe, WCAG_21_AA).await,
        b.axe(&axe, &["best-practice"]).await,
    );

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

/// The console's pages and scripts (admin*, poster*): they load the console's strings
/// (`admin-<lang>.js`) beside the shared ones, which the participant page never downloads.
fn is_console(file: &str) -> bool {
    file.starts_with("admin") || file.starts_with("poster")
}

/// Two language files hold the same keys, none empty, each with the same placeholders.
fn same_keys(nl: &BTreeMap<String, String>, en: &BTreeMap<String, String>, files: &str) {
    let nl_keys: BTreeSet<_> = nl.keys().collect();
    let en_keys: BTreeSet<_> = en.keys().collect();
    assert_eq!(
        nl_keys.symmetric_difference(&en_keys).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "{files}: the same keys in both languages"
    );
    for (key, text) in nl {
        assert!(!text.trim().is_empty(), "nl {key} is empty");
        assert!(!en[key].trim().is_empty(), "en {key} is empty");
        assert_eq!(
            placeholders(text),
            placeholders(&en[key]),
            "{key}: the same {{placeholders}} in both languages"
        );
    }
}

#[test]
fn every_ui_string_comes_from_one_file_per_language() {
    let nl = language("nl");
    let en = language("en");
    same_keys(&nl, &en, "nl.js and en.js");
    let console_nl = language("admin-nl");
    same_keys(
        &console_nl,
        &language("admin-en"),
        "admin-nl.js and admin-en.js",
    );
    let twice: Vec<_> = console_nl.keys().filter(|k| nl.contains_key(*k)).collect();
    assert!(
        twice.is_empty(),
        "keys in both nl.js and admin-nl.js: {twice:?}"
    );
    // What the console's pages can show: the shared strings and their own.
    let mut console_all = nl.clone();
    console_all.extend(console_nl.clone());

    // The keys the participant, host and screen pages use, and those the console's use.
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut used_console: BTreeSet<String> = BTreeSet::new();
    let mut problems = vec![];

    // HTML: text only from data-i18n (a Dutch fallback allowed in <title> and <noscript>).
    for page in files(web(), "html") {
        let html = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let (strings, used) = if is_console(&name) {
            (&console_all, &mut used_console)
        } else {
            (&nl, &mut used)
        };
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
            // A title, a noscript and a button may carry the Dutch string of their key,
            // so a page on a slow link names them before its script has run.
            let fallback = tag_name == "title"
                || tag_name == "button"
                || stack.iter().any(|(n, _)| n == "noscript");
            match key {
                Some(key) if fallback && strings.get(&key).map(String::as_str) == Some(text) => {}
                _ => problems.push(format!("{name}: hard-coded text {text:?} in <{tag_name}>")),
            }
        }
    }

    // Scripts: keys from t('…'); no literal text put on the page.
    for script in files(&web().join("js"), "js") {
        let js = std::fs::read_to_string(&script).unwrap();
        let name = script.file_name().unwrap().to_string_lossy().into_owned();
        if is_console(&name) {
            used_console.extend(t_calls(&js));
        } else {
            used.extend(t_calls(&js));
        }
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
    for key in &used_console {
        if !console_all.contains_key(key) {
            problems.push(format!(
                "the key {key} is used by the console but not in nl.js/en.js or admin-nl.js/admin-en.js"
            ));
        }
    }
    for key in nl.keys() {
        if !used.contains(key) && !used_console.contains(key) {
            problems.push(format!(
                "the key {key} is in the language files but never used"
            ));
        }
    }
    for key in console_nl.keys() {
        if !used_console.contains(key) {
            problems.push(format!(
                "the key {key} is in admin-nl.js/admin-en.js but the console never uses it"
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

/// The stress deck: a long title, twelve bullets, and statements of two to eight options
/// at the longest texts docs/accessibility.md says the screen shows at its minimum size.
const STRESS_DECK: &str = include_str!("browser/stress-deck.md");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_shows_every_slide_whole_at_every_size() {
    run(
        "the_screen_shows_every_slide_whole_at_every_size",
        screen_fits,
    )
    .await;
}

/// Every slide of the built-in deck and of the stress deck, at 1920×1080, 1280×720 and
/// 1024×768; statements open (results hidden), open and revealed, and closed: nothing cut
/// off or outside the viewport, nothing scrolls, no text below the minimum size.
async fn screen_fits(tools: Tools) {
    let started = Instant::now();
    let driver = Driver::start(&tools).await;
    let decks = [("built-in", None), ("stress", Some(STRESS_DECK))];
    let mut checks = 0;
    for (deck_name, source) in decks {
        // The host here steps faster than a person: no rate limit in the way.
        let limits = stemzaal::web::limits::Limits {
            messages_per_second: 1000.0,
            burst: 1000.0,
            ..Default::default()
        };
        let server = match source {
            None => {
                let deck = stemzaal::core::deck::Deck::default_deck();
                let source = stemzaal::core::deck::DEFAULT_DECK_SOURCE;
                let server = TestServer::start_custom(deck, source, limits).await;
                // Its figure, as the binary stores it at start.
                use stemzaal::hub::media::Media as _;
                let key = stemzaal::core::deck::media_key(source);
                let figure = stemzaal::app::builtin_images().expect("the built-in images");
                server.store.put(&key, figure).await.unwrap();
                server
            }
            Some(text) => {
                let deck = stemzaal::core::deck::parse("stress-deck.md", text)
                    .expect("the stress deck parses");
                TestServer::start_custom(deck, text, limits).await
            }
        };
        let code = server.code().to_owned();
        let screen_key = server.session.screen_key().expose().to_owned();
        let mut host = server.host().await;
        let count = host.state["slide"]["count"].as_u64().unwrap();
        let screen = Browser::open(&driver, server.addr, "screen", (1920, 1080)).await;
        screen
            .goto(&server.url(&format!("/screen/{code}?key={screen_key}")))
            .await;
        screen.wait("the screen to connect", "const q = document.getElementById('qr'); return !!document.body.dataset.view && q.complete && q.naturalWidth > 0;").await;
        for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
            screen.viewport(w, h).await;
            for index in 0..count {
                host.send(json!({"type": "go_to", "slide": index})).await;
                let state = host
                    .wait_state(|s| s["slide"]["index"].as_u64() == Some(index))
                    .await;
                let statement = state["slide"]["kind"] == "statement";
                let mut views = vec![(
                    state["slide"]["phase"].as_str().unwrap_or("").to_owned(),
                    state["revealed"] == true,
                )];
                if statement {
                    if state["slide"]["phase"] != "open" {
                        host.send(json!({"type": "open_vote"})).await;
                    }
                    host.send(json!({"type": "reveal", "visible": false})).await;
                    host.wait_state(|s| s["slide"]["phase"] == "open" && s["revealed"] == false)
                        .await;
                    views = vec![
                        ("open".to_owned(), false),
                        ("open".to_owned(), true),
                        ("closed".to_owned(), true),
                    ];
                }
                for (phase, revealed) in views {
                    if statement {
                        if phase == "closed" {
                            host.send(json!({"type": "close_vote"})).await;
                        }
                        host.send(json!({"type": "reveal", "visible": revealed}))
                            .await;
                        host.wait_state(|s| {
                            s["slide"]["phase"] == phase.as_str() && s["revealed"] == revealed
                        })
                        .await;
                    }
                    let view = format!("{index}:{phase}:{revealed}");
                    screen
                        .wait(
                            &format!("the screen to show {view}"),
                            &format!("return document.body.dataset.view === {} && (!{statement} || document.getElementById('cols').classList.contains('revealed') === {revealed});", js_str(&view)),
                        )
                        .await;
                    let when = format!(
                        "{deck_name} deck, slide {}, {w}×{h}, {phase}{}",
                        index + 1,
                        if revealed { " revealed" } else { "" }
                    );
                    let result = check_screen(&screen, &when).await;
                    checks += 1;
                    if index == 1 && deck_name == "stress" {
                        eprintln!("{when}: fit {}", result["fit"]);
                    }
                }
            }
        }
        if deck_name == "stress" {
            screen.viewport(1920, 1080).await;
            host.send(json!({"type": "go_to", "slide": 1})).await;
            host.send(json!({"type": "open_vote"})).await;
            host.send(json!({"type": "reveal", "visible": true})).await;
            screen
                .wait(
                    "eight revealed options",
                    "return document.querySelectorAll('#cols.revealed .col').length === 8;",
                )
                .await;
            screen.screenshot("screen-8-options-1920x1080").await;
        }
        screen.close().await;
    }
    eprintln!(
        "screen fit: {checks} views measured in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_an_open_vote_asks_first_and_every_page_counts_down() {
    run(
        "leaving_an_open_vote_asks_first_and_every_page_counts_down",
        leave_and_countdown,
    )
    .await;
}

/// The host's first press away from an open vote only warns; the second closes and moves
/// on. The timer says what it will do before it starts; phones and screen count down.
/// The last statement on a phone: the result in view, "not voted" not in green, the end
/// of the session said, the deck's text marked Dutch on an English page.
async fn leave_and_countdown(tools: Tools) {
    let deck =
        stemzaal::core::deck::parse("stress-deck.md", STRESS_DECK).expect("the stress deck parses");
    let server = TestServer::start_with(deck, STRESS_DECK).await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let mut watch = server.host().await;
    let last = watch.state["slide"]["count"].as_u64().unwrap() - 1;
    let driver = Driver::start(&tools).await;
    let (host, phone, screen) = tokio::join!(
        Browser::open(&driver, server.addr, "host", (1366, 768)),
        Browser::open(&driver, server.addr, "phone", (390, 844)),
        Browser::open(&driver, server.addr, "screen", (1280, 720)),
    );
    let urls = [
        server.url(&format!("/host/{code}?key={host_key}")),
        server.url(&format!("/{code}")),
        server.url(&format!("/screen/{code}?key={screen_key}")),
    ];
    tokio::join!(
        host.goto(&urls[0]),
        phone.goto(&urls[1]),
        screen.goto(&urls[2])
    );
    for b in [&host, &phone, &screen] {
        b.wait("the page to connect", &conn_is("online")).await;
    }

    // The last statement, opened from the host page.
    host.click(&format!("#slides button[data-i=\"{last}\"]"))
        .await;
    watch
        .wait_state(|s| s["slide"]["index"].as_u64() == Some(last))
        .await;
    host.wait(
        "the open button",
        "return !document.getElementById('open').disabled",
    )
    .await;
    host.click("#open").await;
    watch.wait_state(|s| s["slide"]["phase"] == "open").await;

    // Before the timer starts, the host page says the vote closes when it ends.
    let note = host
        .wait(
            "the timer's note",
            "return document.getElementById('timer-note').textContent",
        )
        .await;
    assert_eq!(note, "Als de tijd om is, sluit de stemming vanzelf.");
    host.click("[data-sec=\"60\"]").await;
    for (b, what) in [(&phone, "#timer"), (&screen, "#timer")] {
        let first = b
            .wait(
                "the countdown",
                &format!("const e = document.querySelector({}); return !e.hidden && /[01]:[0-5][0-9]/.test(e.textContent) && e.getClientRects().length ? e.textContent : null;", js_str(what)),
            )
            .await;
        b.wait(
            "the countdown to move",
            &format!(
                "return document.querySelector({}).textContent !== {};",
                js_str(what),
                first
            ),
        )
        .await;
    }
    let text = phone
        .js("return document.getElementById('timer').textContent")
        .await;
    assert!(
        text.as_str().unwrap().ends_with("om te stemmen"),
        "the phone says what the time is for: {text}"
    );

    // A clicker's first press (←) warns and changes nothing; the second closes and moves.
    host.press(Key::Left.into()).await;
    host.wait(
        "the warning",
        "const w = document.getElementById('leave-warn'); return w.getClientRects().length > 0 && w.textContent === 'De stemming is nog open — druk nogmaals om te sluiten en verder te gaan';",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        host.js("return document.body.dataset.view").await,
        format!("{last}:open:false"),
        "one press does not leave the open vote"
    );
    host.press(Key::Left.into()).await;
    let moved = watch
        .wait_state(|s| s["slide"]["index"].as_u64() == Some(last - 1))
        .await;
    assert!(
        moved["timer"].is_null(),
        "leaving stopped the timer: {moved}"
    );
    host.wait(
        "the warning to go",
        "return document.getElementById('leave-warn').textContent === '';",
    )
    .await;
    // Without an open vote, one press moves.
    host.press(Key::Right.into()).await;
    watch
        .wait_state(|s| {
            s["slide"]["index"].as_u64() == Some(last) && s["slide"]["phase"] == "closed"
        })
        .await;

    // After closing, the primary button is "show results", not reopen; then "next" would be.
    let weights = host.wait("the closed vote's buttons", "return document.body.dataset.view.endsWith(':closed:false') && [...document.querySelectorAll('.controls .primary')].map((b) => b.id).join(',');").await;
    assert_eq!(weights, "reveal", "one primary button, to show the results");
    let labels = host.js("return [document.getElementById('open').textContent, document.getElementById('revote').textContent]").await;
    assert_eq!(
        labels,
        json!(["Stemming weer openen (zelfde ronde)", "Nieuwe stemronde"])
    );
    host.click("#reveal").await;

    // The phone: the result in view, "not voted" not green, the end said.
    let seen = phone
        .wait(
            "the result in view",
            "const r = document.getElementById('result');
             if (r.hidden || document.querySelectorAll('#result-list li').length !== 2) return null;
             const b = r.getBoundingClientRect();
             return {ok: b.top >= 0 && b.bottom <= innerHeight + 1, top: b.top, bottom: b.bottom};",
        )
        .await;
    eprintln!("the phone's result in view: {seen}");
    let status = phone
        .js("const v = document.getElementById('vote-status'); const ok = getComputedStyle(document.documentElement).getPropertyValue('--ok').trim();
             const probe = document.createElement('span'); probe.style.color = ok; document.body.append(probe);
             const green = getComputedStyle(probe).color; probe.remove();
             return {text: v.textContent, color: getComputedStyle(v).color, green, end: !document.getElementById('end').hidden && document.getElementById('end').textContent};")
        .await;
    assert_eq!(
        status["text"], "Je hebt in deze ronde niet gestemd",
        "{status}"
    );
    assert_ne!(
        status["color"], status["green"],
        "not voting is not shown as success: {status}"
    );
    assert_eq!(
        status["end"], "Dit was de laatste dia. Bedankt voor het meedoen!",
        "{status}"
    );

    // In English, the deck's Dutch text keeps lang="nl".
    phone.click("[data-lang-toggle]").await;
    let langs = phone
        .wait(
            "the page in English",
            "return document.documentElement.lang === 'en' && [document.getElementById('slide').lang, document.getElementById('result-list').lang, document.getElementById('title').lang];",
        )
        .await;
    assert_eq!(langs, json!(["nl", "nl", "nl"]));

    // The host on a phone: phase, buttons and tally above the fold.
    host.viewport(390, 844).await;
    let fold = host
        .wait(
            "the phone remote",
            "const bottom = (e) => e.getBoundingClientRect().bottom;
             const rows = [...document.querySelectorAll('#tally li')];
             const items = [document.getElementById('phase'), document.getElementById('next'), document.getElementById('turnout'), ...rows];
             return {ok: rows.length === 2 && items.every((e) => bottom(e) <= innerHeight), bottoms: items.map(bottom), header: document.querySelector('.top').getBoundingClientRect().height};",
        )
        .await;
    eprintln!("the phone remote: {fold}");
    assert!(
        fold["header"].as_f64().unwrap() <= 64.0,
        "a one-line header: {fold}"
    );
    host.screenshot("host-closed-390x844").await;
    phone.screenshot("participant-result-390x844").await;

    for b in [host, phone, screen] {
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_page_warns_in_red_while_votes_cannot_be_stored() {
    run(
        "the_host_page_warns_in_red_while_votes_cannot_be_stored",
        storage_warning,
    )
    .await;
}

async fn storage_warning(tools: Tools) {
    let server = TestServer::start().await;
    let code = server.code().to_owned();
    let key = server.session.host_key().expose().to_owned();
    let slide = crate::support::first_statement(&server.session.deck()) as u64;
    let driver = Driver::start(&tools).await;
    let host = Browser::open(&driver, server.addr, "host-storage", (1366, 768)).await;
    host.goto(&server.url(&format!("/host/{code}?key={key}")))
        .await;
    host.wait(
        "the host page online",
        "return document.body.dataset.view !== undefined;",
    )
    .await;
    let alert = "const a = document.getElementById('storage'); \
                 return a && !a.hidden && getComputedStyle(a).display !== 'none' \
                   ? [a.textContent.trim(), getComputedStyle(a).backgroundColor] : null;";
    assert_eq!(
        host.js(alert).await,
        Value::Null,
        "no warning while it writes"
    );
    let mut control = server.host().await;
    control
        .send(serde_json::json!({"type": "go_to", "slide": slide}))
        .await;
    control.send(serde_json::json!({"type": "open_vote"})).await;
    control.wait_state(|s| s["slide"]["phase"] == "open").await;

    let mut phone = server.participant().await;
    server.store.fail_commits(true);
    let refused = phone.vote(slide, 1, 0).await;
    assert_eq!(refused["code"], "storage_unavailable");
    let shown = host.wait("the storage warning", alert).await;
    let text = shown[0].as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("niet opgeslagen"),
        "the warning says what is wrong: {text}"
    );
    assert_eq!(shown[1], "rgb(179, 38, 30)", "the warning is red");
    host.screenshot("host-storage-failing").await;
    // On a phone used as the remote the warning still leads the page.
    host.viewport(390, 844).await;
    let top = host
        .js("return document.getElementById('storage').getBoundingClientRect().top;")
        .await;
    assert!(top.as_f64().is_some_and(|t| t < 200.0), "warning at {top}");
    host.screenshot("host-storage-failing-390x844").await;
    host.viewport(1366, 768).await;

    server.store.fail_commits(false);
    assert_eq!(phone.vote(slide, 1, 0).await["type"], "ack");
    host.wait(
        "the warning gone once votes are stored again",
        "return document.getElementById('storage').hidden;",
    )
    .await;
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_reconnects_by_itself_after_a_graceful_stop_and_a_restart() {
    run(
        "a_phone_reconnects_by_itself_after_a_graceful_stop_and_a_restart",
        reconnect_after_restart,
    )
    .await;
}

async fn reconnect_after_restart(tools: Tools) {
    use crate::recovery::{free_port, start_binary};
    let data = tempfile::tempdir().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (server, code, key) = start_binary(addr, data.path());
    let ws = format!("ws://{addr}/ws/{code}");
    let slide = crate::support::first_statement(&stemzaal::core::deck::Deck::default_deck());
    let mut host =
        crate::support::TestClient::hello(&ws, json!({"type": "hello", "key": key})).await;
    host.send(json!({"type": "go_to", "slide": slide})).await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;

    let driver = Driver::start(&tools).await;
    let phone = Browser::open(&driver, addr, "phone-restart", (390, 844)).await;
    phone.goto(&format!("http://{addr}/{code}")).await;
    phone.wait("the page online", &conn_is("online")).await;
    phone
        .wait(
            "the options to open",
            "const o = document.querySelectorAll('#options .opt'); return o.length === 2 && [...o].every((b) => !b.disabled);",
        )
        .await;
    phone.click("#options .opt[data-i=\"1\"]").await;
    phone.wait("the vote acknowledged", &voted_for(1)).await;

    // A graceful stop: the page hears 1001 and keeps trying.
    let exit = server.stop().await;
    assert!(exit.success(), "the server exits 0 after SIGTERM: {exit}");
    phone
        .wait("the page notices the stop", &conn_is("reconnecting"))
        .await;

    // The same data directory and port: the page comes back by itself, vote and all.
    let (server, code_again, _) = start_binary(addr, data.path());
    assert_eq!(code_again, code);
    phone
        .wait_for(
            "the page online again",
            &conn_is("online"),
            Duration::from_secs(30),
        )
        .await;
    phone.wait("its vote still shown", &voted_for(1)).await;
    let mut host =
        crate::support::TestClient::hello(&ws, json!({"type": "hello", "key": key})).await;
    let state = host.wait_state(|s| s["voted"] == 1).await;
    assert_eq!(state["tally"], json!([0, 1]), "the vote counted once");
    phone.close().await;
    drop(server);
}

/// A deck with a statement of two long options and one of four, for the shift view.
const SHIFT_DECK: &str = "---
title: Verschuiving
---

## Ambitie uitgesproken in coalitieprogramma; aanpak is ‘beleidsarm’

A) maatwerk is belangrijker dan vastgelegde procedures en jaarlijkse rapportages

B) gebiedsgericht werken kan alleen met een vaste werkwijze die door iedereen wordt gevolgd

---

## Wie draagt de gebiedsgerichte aanpak het best uit?

A) het college, met een jaarlijkse wijkagenda

B) de gemeenteraad, door vaker in de wijken te komen

C) de wijkcoördinatoren, met een eigen budget

D) de wijk- en dorpsraden zelf
";

/// A statement, its two rounds of votes by six phones, and the sentence under the
/// shift in Dutch and English.
type ShiftCase = (u64, Vec<u64>, Vec<u64>, &'static str, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_puts_the_shift_between_rounds_on_the_screen() {
    run(
        "the_host_puts_the_shift_between_rounds_on_the_screen",
        shift_on_screen,
    )
    .await;
}

/// After a re-vote the host's page shows the shift and its button puts it on the
/// screen: for two and four options, whole at every size, axe-clean in both languages.
async fn shift_on_screen(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let deck = stemzaal::core::deck::parse("shift.md", SHIFT_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, SHIFT_DECK).await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let mut control = server.host().await;
    let mut phones = vec![];
    for _ in 0..6 {
        phones.push(server.participant().await);
    }
    let driver = Driver::start(&tools).await;
    let host = Browser::open(&driver, server.addr, "host-shift", (1366, 768)).await;
    let screen = Browser::open(&driver, server.addr, "screen-shift", (1920, 1080)).await;
    host.goto(&server.url(&format!("/host/{code}?key={host_key}")))
        .await;
    screen
        .goto(&server.url(&format!("/screen/{code}?key={screen_key}")))
        .await;
    screen.wait("the screen to connect", "const q = document.getElementById('qr'); return !!document.body.dataset.view && q.complete && q.naturalWidth > 0;").await;
    host.wait("the host page online", &conn_is("online")).await;

    let mut blocking = vec![];
    // Two options: three of six switch. Four options: each of six moves one on, and
    // every switch is listed.
    let rounds: [ShiftCase; 2] = [
        (
            0,
            vec![0, 0, 0, 1, 1, 1],
            vec![0, 1, 1, 0, 1, 1],
            "3 van 6 wisselden: A→B\u{a0}2, B→A\u{a0}1",
            "3 of 6 changed their choice: A→B\u{a0}2, B→A\u{a0}1",
        ),
        (
            1,
            vec![0, 1, 2, 3, 0, 1],
            vec![1, 2, 3, 0, 2, 3],
            "6 van 6 wisselden: A→B\u{a0}1, A→C\u{a0}1, B→C\u{a0}1, B→D\u{a0}1, C→D\u{a0}1, D→A\u{a0}1",
            "6 of 6 changed their choice: A→B\u{a0}1, A→C\u{a0}1, B→C\u{a0}1, B→D\u{a0}1, C→D\u{a0}1, D→A\u{a0}1",
        ),
    ];
    for (slide, first, second, nl, en) in rounds {
        control.send(json!({"type": "go_to", "slide": slide})).await;
        control.send(json!({"type": "open_vote"})).await;
        control
            .wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "open")
            .await;
        for (phone, &option) in phones.iter_mut().zip(&first) {
            phone.wait_state(|s| s["slide"]["phase"] == "open").await;
            assert_eq!(phone.vote(slide, 1, option).await["type"], "ack");
        }
        control.send(json!({"type": "revote"})).await;
        for (phone, &option) in phones.iter_mut().zip(&second) {
            phone.wait_state(|s| s["slide"]["round"] == 2).await;
            assert_eq!(phone.vote(slide, 2, option).await["type"], "ack");
        }
        control.send(json!({"type": "close_vote"})).await;
        // The screen shows a shift only of a revealed round.
        control
            .send(json!({"type": "reveal", "visible": true}))
            .await;
        // The host sees the shift first; the screen only once the button is pressed.
        host.wait(
            "the shift on the host page",
            &format!(
                "const b = document.getElementById('shift-show'); return !document.getElementById('shiftbox').hidden && !b.disabled && document.body.dataset.view === '{slide}:closed:true' && document.getElementById('shift-note').textContent === {};",
                js_str(nl)
            ),
        )
        .await;
        assert_eq!(
            screen
                .js("return document.getElementById('cols').classList.contains('shift');")
                .await,
            json!(false),
            "not on the screen before the host shows it"
        );
        host.click("#shift-show").await;
        screen
            .wait(
                "the shift on the screen",
                &format!(
                    "return document.getElementById('cols').classList.contains('shift') && !document.getElementById('shift').hidden && document.getElementById('shift-text').textContent === {} && document.querySelectorAll('#cols .area.before').length === {};",
                    js_str(nl),
                    if slide == 0 { 2 } else { 4 }
                ),
            )
            .await;
        host.wait(
            "the host to say it is shown",
            &format!(
                "return document.getElementById('shift-show').textContent === {};",
                js_str("Verberg verschuiving op scherm")
            ),
        )
        .await;
        for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
            screen.viewport(w, h).await;
            check_screen(
                &screen,
                &format!("the shift of slide {}, {w}×{h}", slide + 1),
            )
            .await;
        }
        screen.viewport(1920, 1080).await;
        screen
            .screenshot(&format!("screen-shift-slide-{}", slide + 1))
            .await;
        for (lang, sentence) in [("nl", nl), ("en", en)] {
            for (b, name) in [(&host, "host"), (&screen, "screen")] {
                if b.js("return document.documentElement.lang;").await != json!(lang) {
                    b.js(&format!(
                        "localStorage.setItem('stemzaal:lang', {})",
                        js_str(lang)
                    ))
                    .await;
                    b.js("location.reload();").await;
                }
                let text = if name == "host" {
                    "shift-note"
                } else {
                    "shift-text"
                };
                b.wait(
                    &format!("the {name} in {lang}"),
                    &format!(
                        "return document.documentElement.lang === {} && document.getElementById('conn').dataset.state === 'online' && document.getElementById({}).textContent === {};",
                        js_str(lang),
                        js_str(text),
                        js_str(sentence)
                    ),
                )
                .await;
                if name == "screen" {
                    check_screen(b, &format!("the shift of slide {} in {lang}", slide + 1)).await;
                }
                for v in b.axe(&axe, WCAG_21_AA).await {
                    let impact = v["impact"].as_str().unwrap_or("none");
                    if impact == "serious" || impact == "critical" {
                        blocking.push(format!("{name} [{lang}, slide {slide}]: {v:#}"));
                    }
                }
            }
        }
        // Hidden again from the host page (now in English).
        host.click("#shift-show").await;
        screen
            .wait(
                "the shift gone from the screen",
                "return !document.getElementById('cols').classList.contains('shift') && document.getElementById('shift').hidden && !document.querySelector('#cols .area.before');",
            )
            .await;
        for b in [&host, &screen] {
            b.js("localStorage.setItem('stemzaal:lang', 'nl'); location.reload();")
                .await;
            b.wait(
                "back in Dutch",
                "return document.documentElement.lang === 'nl' && document.getElementById('conn').dataset.state === 'online';",
            )
            .await;
        }
    }
    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    host.close().await;
    screen.close().await;
}

/// A seven-point scale with its ends and middle labelled, after a content slide.
const SCALE_DECK: &str = "---
title: Schaal
---
## Welkom

---
## Eén werkwijze voor alle kernen

Gebiedsgericht werken krijgt in elke kern dezelfde aanpak.

1) Helemaal oneens
2)
3)
4) Neutraal
5)
6)
7) Helemaal eens
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_vote_in_chromium_from_the_phones_row_to_the_shift_on_screen() {
    run(
        "a_scale_vote_in_chromium_from_the_phones_row_to_the_shift_on_screen",
        scale_vote,
    )
    .await;
}

/// Script: the text of the element with `id` is `text`.
fn text_is(id: &str, text: &str) -> String {
    format!(
        "const e = document.getElementById({}); return !!e && e.textContent === {};",
        js_str(id),
        js_str(text)
    )
}

/// Serious or critical axe violations on a page, named by `what`.
/// A host (1366×768), a screen (1920×1080) and a phone (390×844) on `server`'s session,
/// each online, and the URLs they opened.
pub(crate) async fn room_pages(
    driver: &harness::Driver,
    server: &crate::support::TestServer,
) -> ([harness::Browser; 3], [String; 3]) {
    let (host, screen, phone) = tokio::join!(
        harness::Browser::open(driver, server.addr, "host", (1366, 768)),
        harness::Browser::open(driver, server.addr, "screen", (1920, 1080)),
        harness::Browser::open(driver, server.addr, "phone", (390, 844)),
    );
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let urls = [
        server.url(&format!("/host/{code}?key={host_key}")),
        server.url(&format!("/screen/{code}?key={screen_key}")),
        server.url(&format!("/{code}")),
    ];
    tokio::join!(
        host.goto(&urls[0]),
        screen.goto(&urls[1]),
        phone.goto(&urls[2])
    );
    for b in [&host, &screen, &phone] {
        b.wait("the page online", &conn_is("online")).await;
    }
    ([host, screen, phone], urls)
}

pub(crate) async fn axe_blocking(b: &Browser, axe: &str, what: &str) -> Vec<String> {
    b.axe(axe, WCAG_21_AA)
        .await
        .into_iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| format!("{what}: {v:#}"))
        .collect()
}

/// Script: the words of the scale's labels that break over two lines, whether two
/// labels overlap, and whether one reaches off the page.
pub(crate) const WHOLE_WORDS: &str = "
const labels = [...document.querySelectorAll('#scale-labels .slabel')];
const broken = [];
for (const l of labels) {
  const node = l.firstChild;
  let at = 0;
  for (const w of node.textContent.split(' ')) {
    const r = document.createRange();
    r.setStart(node, at);
    r.setEnd(node, at + w.length);
    if (new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size > 1) broken.push(w);
    at += w.length + 1;
  }
}
const boxes = labels.map((l) => { const r = document.createRange(); r.selectNodeContents(l); return r.getBoundingClientRect(); });
const overlap = boxes.some((a, i) => boxes.some((b, j) => i < j && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom));
const outside = boxes.some((r) => r.left < 0 || r.right > innerWidth);
return { broken, overlap, outside };";

/// A scale end to end: a narrow phone shows seven numbered points in one row with
/// their labels and votes; after the reveal the screen shows the distribution with
/// median and mean (and the phone and host too); after a re-vote the host and screen
/// show how the distribution moved. Axe-clean in each of those states.
async fn scale_vote(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let deck = stemzaal::core::deck::parse("schaal.md", SCALE_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, SCALE_DECK).await;
    let code = server.code().to_owned();
    let host_key = server.session.host_key().expose().to_owned();
    let screen_key = server.session.screen_key().expose().to_owned();
    let mut control = server.host().await;
    let mut others = vec![];
    for _ in 0..6 {
        others.push(server.participant().await);
    }
    let driver = Driver::start(&tools).await;
    let (host, screen, phone) = tokio::join!(
        Browser::open(&driver, server.addr, "host-scale", (1366, 768)),
        Browser::open(&driver, server.addr, "screen-scale", (1920, 1080)),
        Browser::open(&driver, server.addr, "phone-scale", (360, 740)),
    );
    let (host_url, screen_url, join_url) = (
        server.url(&format!("/host/{code}?key={host_key}")),
        server.url(&format!("/screen/{code}?key={screen_key}")),
        server.url(&format!("/{code}")),
    );
    tokio::join!(
        host.goto(&host_url),
        screen.goto(&screen_url),
        phone.goto(&join_url)
    );
    for b in [&host, &screen, &phone] {
        b.wait("the page to connect", &conn_is("online")).await;
    }
    let mut blocking = vec![];

    // The host's list names the scale.
    host.wait(
        "the scale in the slide list",
        "const t = document.querySelector('#slides button[data-i=\"1\"] .tag'); return !!t && t.textContent === 'Schaal';",
    )
    .await;
    control.send(json!({"type": "go_to", "slide": 1})).await;
    control.send(json!({"type": "open_vote"})).await;
    control
        .wait_state(|s| s["slide"]["index"] == 1 && s["slide"]["phase"] == "open")
        .await;

    // Seven targets in one row on a 360 px phone, each at least 48 px, numbered, named
    // with their place and label; the labels under the ends and the middle.
    let row = phone
        .wait(
            "seven points in one row",
            "const b = [...document.querySelectorAll('#options .opt.pt')];
             if (b.length !== 7 || b.some((x) => x.disabled)) return false;
             const r = b.map((x) => x.getBoundingClientRect());
             return {ok: r.every((x) => Math.abs(x.top - r[0].top) < 1 && x.width >= 48 && x.height >= 48 && x.left >= 0 && x.right <= innerWidth)
                 && document.documentElement.scrollWidth <= innerWidth,
               widths: r.map((x) => x.width), numbers: b.map((x) => x.textContent),
               names: b.map((x) => x.getAttribute('aria-label')),
               labels: [...document.querySelectorAll('#scale-labels .slabel')].map((x) => x.textContent)};",
        )
        .await;
    assert_eq!(row["numbers"], json!(["1", "2", "3", "4", "5", "6", "7"]));
    assert_eq!(row["names"][0], "1 van 7: Helemaal oneens");
    assert_eq!(row["names"][1], "2 van 7");
    assert_eq!(row["names"][3], "4 van 7: Neutraal");
    assert_eq!(
        row["labels"],
        json!(["Helemaal oneens", "Neutraal", "Helemaal eens"])
    );
    phone
        .wait(
            "each label under its own point",
            "const b = [...document.querySelectorAll('#options .opt.pt')].map((x) => x.getBoundingClientRect());
             const l = [...document.querySelectorAll('#scale-labels .slabel')].map((x) => x.getBoundingClientRect());
             const mid = (r) => (r.left + r.right) / 2;
             return l.length === 3 && l[0].left <= b[0].left + 1 && l[2].right >= b[6].right - 1
               && Math.abs(mid(l[1]) - mid(b[3])) < 2 && l.every((r) => r.top >= b[0].bottom);",
        )
        .await;
    // No label breaks inside a word, at 360 and at 390 px, and none runs into another
    // or off the phone.
    for width in [390, 360] {
        phone.viewport(width, 740).await;
        let words = phone.js(WHOLE_WORDS).await;
        assert_eq!(
            words,
            json!({"broken": [], "overlap": false, "outside": false}),
            "at {width} px"
        );
    }
    phone.screenshot("participant-scale-360x740").await;
    blocking.extend(axe_blocking(&phone, &axe, "phone, open scale").await);

    // The phone picks 6: pressed, ticked, said in words.
    phone.click("#options .opt[data-i=\"5\"]").await;
    phone.wait("6 chosen", &voted_for_point(5)).await;
    assert_eq!(
        phone
            .js("return getComputedStyle(document.querySelector('#options .opt[data-i=\"5\"]'), '::after').content;")
            .await,
        json!("\"✓\" / \"\""),
        "the choice is ticked, not only coloured"
    );
    // The others: 1, 2, 3, 4, 4, 5. With the phone's 6: median 4, mean 25/7.
    for (other, option) in others.iter_mut().zip([0, 1, 2, 3, 3, 4]) {
        other.wait_state(|s| s["slide"]["phase"] == "open").await;
        assert_eq!(other.vote(1, 1, option).await["type"], "ack");
    }
    let stats = "Mediaan 4 (Neutraal) · gemiddelde 3,6";
    host.wait("the host's median and mean", &text_is("stats", stats))
        .await;
    host.wait(
        "the host's tally per point",
        "const r = [...document.querySelectorAll('#tally .row-t')]; return r.length === 7 && r.map((x) => x.querySelector('.letter').textContent).join('') === '1234567';",
    )
    .await;
    blocking.extend(axe_blocking(&host, &axe, "host, open scale").await);

    // Closed and revealed from the host page: the distribution on the screen.
    host.click("#close").await;
    host.wait(
        "the reveal button",
        "return document.body.dataset.view === '1:closed:false' && !document.getElementById('reveal').disabled;",
    )
    .await;
    host.click("#reveal").await;
    let columns = screen
        .wait(
            "the distribution with median and mean",
            &format!(
                "const c = document.getElementById('cols');
                 if (!c.classList.contains('scale') || !c.classList.contains('revealed')) return false;
                 const cols = [...c.querySelectorAll('.col')];
                 const s = document.getElementById('stats').textContent;
                 return s === {} && cols.length === 7 && {{
                   counts: cols.map((x) => x.querySelector('.cnt').textContent).join('|'),
                   heights: cols.map((x) => x.querySelector('.now .fill').getBoundingClientRect().height),
                   numbers: cols.map((x) => x.querySelector('.letter').textContent).join(''),
                 }};",
                js_str(stats)
            ),
        )
        .await;
    assert_eq!(columns["counts"], "1|1|1|2|1|1|0");
    assert_eq!(columns["numbers"], "1234567");
    // Point 4 has 29 %, point 1 14 % (2 and 1 of 7, each rounded half up): the bars in
    // that proportion (after their half-second transition).
    screen
        .wait(
            "bars in proportion",
            "const h = [...document.querySelectorAll('#cols .now .fill')].map((x) => x.getBoundingClientRect().height);
             return h[6] === 0 && h[0] > 0 && Math.abs(h[3] / h[0] - 29 / 14) < 0.05;",
        )
        .await;
    for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
        screen.viewport(w, h).await;
        check_screen(&screen, &format!("the revealed scale, {w}×{h}")).await;
    }
    screen.viewport(1920, 1080).await;
    screen.screenshot("screen-scale-1920x1080").await;
    blocking.extend(axe_blocking(&screen, &axe, "screen, revealed scale").await);

    // The phone's result: the distribution and the same median and mean.
    phone
        .wait(
            "the phone's result",
            &format!(
                "return !document.getElementById('result').hidden && document.querySelectorAll('#result-list li').length === 7 && document.getElementById('result-stats').textContent === {};",
                js_str(stats)
            ),
        )
        .await;
    phone.screenshot("participant-scale-result-360x740").await;
    blocking.extend(axe_blocking(&phone, &axe, "phone, scale result").await);

    // A re-vote: 2, 3, 4, 5, 3, 5 and the phone's 7. Five moved up, one down, one stayed.
    control.send(json!({"type": "revote"})).await;
    phone
        .wait(
            "round 2 open on the phone",
            "return document.body.dataset.view === '1:open:false' && !document.querySelector('#options .opt[data-i=\"6\"]').disabled;",
        )
        .await;
    phone.click("#options .opt[data-i=\"6\"]").await;
    phone.wait("7 chosen", &voted_for_point(6)).await;
    for (other, option) in others.iter_mut().zip([1, 2, 3, 4, 2, 4]) {
        other.wait_state(|s| s["slide"]["round"] == 2).await;
        assert_eq!(other.vote(1, 2, option).await["type"], "ack");
    }
    control.send(json!({"type": "close_vote"})).await;
    let shift_stats = "Mediaan 4 (Neutraal) → 4 (Neutraal) · gemiddelde 3,6 → 4,1";
    let moved = "Van de 7 die in beide rondes stemden: 5 hoger, 1 lager, 1 gelijk";
    host.wait(
        "the shift on the host page",
        &format!(
            "const rows = [...document.querySelectorAll('#shift-rows tr')];
             return !document.getElementById('shiftbox').hidden && rows.length === 7
               && rows.map((r) => r.textContent).join('|') === '110|211|312|421|512|610|701'
               && document.getElementById('shift-stats').textContent === {}
               && document.getElementById('shift-note').textContent === {};",
            js_str(shift_stats),
            js_str(moved)
        ),
    )
    .await;
    blocking.extend(axe_blocking(&host, &axe, "host, scale shift").await);
    host.click("#shift-show").await;
    screen
        .wait(
            "the shift on the screen",
            &format!(
                "const c = document.getElementById('cols');
                 return c.classList.contains('scale') && c.classList.contains('shift')
                   && document.querySelectorAll('#cols .area.before').length === 7
                   && document.getElementById('stats').textContent === {}
                   && document.getElementById('shift-text').textContent === {};",
                js_str(shift_stats),
                js_str(moved)
            ),
        )
        .await;
    for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
        screen.viewport(w, h).await;
        check_screen(&screen, &format!("the scale's shift, {w}×{h}")).await;
    }
    screen.viewport(1920, 1080).await;
    screen.screenshot("screen-scale-shift-1920x1080").await;
    blocking.extend(axe_blocking(&screen, &axe, "screen, scale shift").await);

    // In English, decimals with a point.
    screen
        .js("localStorage.setItem('stemzaal:lang', 'en'); location.reload();")
        .await;
    screen
        .wait(
            "the shift in English",
            &text_is(
                "stats",
                "Median 4 (Neutraal) → 4 (Neutraal) · mean 3.6 → 4.1",
            ),
        )
        .await;
    screen
        .wait(
            "who moved, in English",
            &text_is(
                "shift-text",
                "Of the 7 who voted in both rounds: 5 higher, 1 lower, 1 the same",
            ),
        )
        .await;
    check_screen(&screen, "the scale's shift in English").await;
    blocking.extend(axe_blocking(&screen, &axe, "screen, scale shift in English").await);

    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    for b in [host, screen, phone] {
        b.close().await;
    }
}
