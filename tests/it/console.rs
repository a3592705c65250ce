//! The facilitator's console (/admin) in Chromium, from the login to a deleted session:
//! a deck written in the editor, checked as it is typed and previewed on the real pages,
//! becomes a session that a host runs and phones vote in; the console closes it, its
//! report holds the votes, and it is deleted. axe-core checks every state on the way.
//! Needs the same tools as `browser.rs` (and skips, or fails under `CI=true`, the same).

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{conn_is, js_str, run, voted_for, WCAG_21_AA};
use crate::support::{TestServer, ADMIN_PASSWORD};
use fantoccini::key::Key;
use serde_json::Value;

/// The deck as first typed: the second option of its statement has no text (line 14).
const DECK_WITH_ERROR: &str = "---
title: Raadstest
---

# Welkom

Vandaag stemmen we over het groen.

---

## Meer groen in de wijk

A) Eens
B)
";

/// The line of the error in [`DECK_WITH_ERROR`].
const ERROR_LINE: u64 = 14;

/// What is typed at the end of that line to fix it.
const FIX: &str = " Oneens";

const STATEMENT: &str = "Meer groen in de wijk";
const MEETING: &str = "Raadsvergadering 9 december";

/// Script: the element matching `css` exists and is not hidden.
pub(crate) fn shown(css: &str) -> String {
    format!(
        "const e = document.querySelector({}); return !!e && !e.closest('[hidden]');",
        js_str(css)
    )
}

/// Script: the session `code` in the console's list, as `li` (null if absent).
fn session(code: &str) -> String {
    format!(
        "const li = document.querySelector({});",
        js_str(&format!("#session-list [data-code=\"{code}\"]"))
    )
}

/// Runs axe-core with the WCAG 2.1 AA rules and the best practices; fails on any violation.
pub(crate) async fn axe_clean(b: &Browser, axe: &str, state: &str) {
    let wcag = b.axe(axe, WCAG_21_AA).await;
    let advice = b.axe(axe, &["best-practice"]).await;
    assert!(
        wcag.is_empty() && advice.is_empty(),
        "axe on the console, {state}: {:#}",
        Value::Array(wcag.into_iter().chain(advice).collect())
    );
    eprintln!("axe: {state}: no violations");
}

/// Logs in on the console's login form and waits for the console with its decks.
pub(crate) async fn log_in(b: &Browser) {
    b.fill("#password", ADMIN_PASSWORD).await;
    b.press(Key::Enter.into()).await;
    b.wait(
        "the console with the built-in deck",
        "return !document.getElementById('console').hidden && document.querySelectorAll('#deck-list .deckbtn').length > 0;",
    )
    .await;
}

/// A browser window of `size` on the console of `server`, logged in.
pub(crate) async fn logged_in(driver: &Driver, server: &TestServer, size: (u32, u32)) -> Browser {
    let admin = Browser::open(driver, server.addr, "console", size).await;
    admin.goto(&server.url("/admin")).await;
    admin.wait("the login form", &shown("#password")).await;
    log_in(&admin).await;
    admin
}

/// Opens the console afresh and presses the button `act` of session `code` twice: the
/// first press only asks for the second.
async fn press_twice(b: &Browser, server: &TestServer, code: &str, act: &str) {
    b.goto(&server.url("/admin")).await;
    let css = format!("#session-list [data-code=\"{code}\"] [data-act={act}]");
    b.wait("the session's button", &shown(&css)).await;
    b.click(&css).await;
    b.wait(
        "the button to ask for a second press",
        &format!(
            "const e = document.querySelector({}); return !!e && e.dataset.armed != null;",
            js_str(&css)
        ),
    )
    .await;
    b.click(&css).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_takes_a_deck_from_the_editor_to_a_report() {
    run(
        "the_console_takes_a_deck_from_the_editor_to_a_report",
        console,
    )
    .await;
}

async fn console(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let server = TestServer::start_console().await;
    let driver = Driver::start(&tools).await;
    let admin = Browser::open(&driver, server.addr, "console", (1440, 1000)).await;

    // Login: a wrong password is refused in words, the right one opens the console.
    admin.goto(&server.url("/admin")).await;
    admin.wait("the login form", &shown("#password")).await;
    assert_eq!(admin.js("return document.documentElement.lang").await, "nl");
    axe_clean(&admin, &axe, "login").await;
    admin.fill("#password", "niet-het-wachtwoord").await;
    admin.press(Key::Enter.into()).await;
    let refused = admin
        .wait(
            "the wrong password's message",
            "return document.getElementById('login-error').textContent;",
        )
        .await;
    eprintln!("wrong password: {refused}");
    assert_eq!(
        admin
            .js("return document.getElementById('console').hidden")
            .await,
        true
    );
    log_in(&admin).await;

    // A new deck with an error: named by its line, the line marked, the caret taken there.
    admin.click("#new-deck").await;
    admin.fill("#deck-name", "raadstest.md").await;
    admin.fill("#source", DECK_WITH_ERROR).await;
    let problem = admin
        .wait(
            "the error with its line",
            &format!(
                "const b = document.querySelector('#problems button[data-line=\"{ERROR_LINE}\"]');
                 const s = document.getElementById('check-status');
                 return !!b && s.classList.contains('bad') && b.textContent;"
            ),
        )
        .await;
    assert!(
        problem
            .as_str()
            .unwrap()
            .starts_with(&format!("Regel {ERROR_LINE}: ")),
        "{problem}"
    );
    let marked = admin
        .js("return [...document.querySelectorAll('#gutter .err')].map((e) => e.textContent);")
        .await;
    assert_eq!(marked, serde_json::json!([ERROR_LINE.to_string()]));
    assert_eq!(
        problem,
        serde_json::json!(format!("Regel {ERROR_LINE}: optie `B)` heeft geen tekst"))
    );
    // The check speaks the page's language: English after the switch, Dutch again after.
    let said = |text: String| {
        format!(
            "const b = document.querySelector('#problems button[data-line=\"{ERROR_LINE}\"]'); return !!b && b.textContent === {};",
            serde_json::to_string(&text).unwrap()
        )
    };
    admin.click("[data-lang-toggle]").await;
    admin
        .wait(
            "the error in English",
            &said(format!("Line {ERROR_LINE}: option `B)` has no text")),
        )
        .await;
    admin.click("[data-lang-toggle]").await;
    admin
        .wait(
            "the error in Dutch again",
            &said(format!("Regel {ERROR_LINE}: optie `B)` heeft geen tekst")),
        )
        .await;
    admin
        .js("document.getElementById('source').focus(); return true;")
        .await;
    axe_clean(&admin, &axe, "the editor with an error").await;
    // By keyboard: from the text on to the error, Enter.
    admin
        .tab_to(&format!("#problems button[data-line=\"{ERROR_LINE}\"]"), 10)
        .await;
    let focus = admin.focus_visible().await;
    assert_eq!(focus["ok"], true, "the error in the list: {focus}");
    admin.press(Key::Enter.into()).await;
    let caret = admin
        .js("const s = document.getElementById('source');
             return document.activeElement === s && s.value.slice(0, s.selectionStart).split('\\n').length;")
        .await;
    assert_eq!(caret, ERROR_LINE, "the caret is on the error's line");
    admin.press(Key::End.into()).await;
    for c in FIX.chars() {
        admin.press(c).await;
    }
    let ok = admin
        .wait(
            "the deck to check out",
            "const s = document.getElementById('check-status');
             return s.classList.contains('ok') && !document.querySelector('#problems li') && s.textContent;",
        )
        .await;
    eprintln!("check: {ok}");
    assert_eq!(
        admin
            .js("return document.querySelectorAll('#gutter .err').length")
            .await,
        0
    );

    // The preview: the statement on the screen and on a phone, the real pages.
    admin
        .wait(
            "two slides to pick from",
            "return document.querySelectorAll('#slide-pick option').length === 2;",
        )
        .await;
    admin
        .js("const p = document.getElementById('slide-pick'); p.value = '1'; p.dispatchEvent(new Event('change'));")
        .await;
    let options = format!("[\"Eens\",{}]", js_str(FIX.trim()));
    admin
        .wait(
            "the statement in both previews",
            &format!(
                "const doc = (id) => document.getElementById(id).contentDocument;
                 const screen = doc('pv-screen'), phone = doc('pv-phone');
                 const texts = (d, css) => JSON.stringify([...d.querySelectorAll(css)].map((e) => e.textContent));
                 return screen.getElementById('slide').textContent.includes({statement})
                   && phone.getElementById('slide').textContent.includes({statement})
                   && texts(screen, '#cols .otext') === {options} && texts(phone, '#options .otext') === {options};",
                statement = js_str(STATEMENT),
                options = js_str(&options)
            ),
        )
        .await;
    // No session, so no code, no QR code and no "Verbonden": the preview says so, and
    // the QR code's place is marked as one.
    let join = admin
        .js("const doc = (id) => document.getElementById(id).contentDocument;
             const screen = doc('pv-screen'), phone = doc('pv-phone');
             return [screen.getElementById('jcode').textContent, screen.getElementById('jurl').textContent,
                     screen.getElementById('qr').getAttribute('src'), screen.getElementById('qr').textContent,
                     screen.getElementById('conn').textContent,
                     phone.getElementById('conn').textContent];")
        .await;
    assert_eq!(
        join,
        serde_json::json!([
            "volgt bij de start",
            "Het adres en de QR-code komen bij de start van de sessie.",
            null,
            "QR-code",
            "Voorbeeld",
            "Voorbeeld"
        ])
    );

    // Saved, it is a stored deck that a session can start on.
    admin.click("#save").await;
    admin
        .wait(
            "the stored deck in the list",
            "const b = document.querySelector('#deck-list .deckbtn[aria-current]'); return !!b && b.textContent.includes('Raadstest');",
        )
        .await;
    axe_clean(
        &admin,
        &axe,
        "the editor, checked and saved, with its preview",
    )
    .await;
    admin.screenshot("console-editor-1440x1000").await;

    // A session on it, with a meeting.
    admin
        .js("const s = document.getElementById('start-deck'); return [...s.options].find((o) => o.selected).textContent;")
        .await
        .as_str()
        .filter(|t| t.contains("raadstest.md"))
        .expect("the saved deck is the one to start");
    admin.fill("#meeting-name", MEETING).await;
    admin
        .js("document.getElementById('meeting-date').value = '2026-12-09'")
        .await;
    admin.fill("#meeting-place", "Raadzaal").await;
    admin.click("#start button[type=submit]").await;
    let code = admin
        .wait(
            "the new session in the list",
            "const li = [...document.querySelectorAll('#session-list li.is-open')].find((l) => l.querySelector('.stitle').textContent === 'Raadstest');
             return li ? li.dataset.code : null;",
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let links = admin
        .js(&format!(
            "{} return [li.querySelector('#link-join-{code}').value, li.querySelector('#link-host-{code}').value,
                       li.querySelector('.smeeting').textContent, li.querySelectorAll('.qr img').length];",
            session(&code)
        ))
        .await;
    let join = links[0].as_str().unwrap().to_owned();
    let host_link = links[1].as_str().unwrap().to_owned();
    assert!(join.ends_with(&format!("/{code}")), "{links}");
    assert!(host_link.contains(&format!("/host/{code}?key=")), "{links}");
    assert!(links[2].as_str().unwrap().contains(MEETING), "{links}");
    assert_eq!(links[3], 2, "QR codes of the join and host links");
    assert_eq!(
        admin
            .js("return ['meeting-name', 'meeting-date', 'meeting-place', 'start-cards'].map((id) => document.getElementById(id).value);")
            .await,
        serde_json::json!(["", "", "", ""]),
        "the start form is empty again, so a second click does not start the meeting twice"
    );
    admin
        .wait(
            "the QR codes",
            "return [...document.querySelectorAll('#session-list .qr img')].every((i) => i.complete && i.naturalWidth > 0);",
        )
        .await;
    axe_clean(&admin, &axe, "sessions").await;
    admin.screenshot("console-sessions-1440x1000").await;
    // In English as well.
    admin.click("[data-lang-toggle]").await;
    admin
        .wait(
            "English",
            "return document.documentElement.lang === 'en' && document.getElementById('check-status').textContent.startsWith('No errors');",
        )
        .await;
    axe_clean(&admin, &axe, "sessions, in English").await;
    admin.click("[data-lang-toggle]").await;
    admin
        .wait("Dutch", "return document.documentElement.lang === 'nl';")
        .await;

    // The poster.
    admin
        .goto(&server.url(&format!("/admin/poster/{code}")))
        .await;
    admin
        .wait(
            "the poster with its QR code",
            &format!(
                "const q = document.getElementById('qr');
                 return !document.getElementById('poster').hidden && q.complete && q.naturalWidth > 0
                   && document.getElementById('code').textContent === {};",
                js_str(&code)
            ),
        )
        .await;
    axe_clean(&admin, &axe, "poster").await;

    // The host link in a second browser; three phones vote A, B, A.
    let (host, p1, p2, p3) = tokio::join!(
        Browser::open(&driver, server.addr, "host", (1366, 768)),
        Browser::open(&driver, server.addr, "phone 1", (390, 844)),
        Browser::open(&driver, server.addr, "phone 2", (390, 844)),
        Browser::open(&driver, server.addr, "phone 3", (390, 844)),
    );
    host.goto(&host_link).await;
    host.wait("the host page", &conn_is("online")).await;
    host.wait(
        "the deck on the host page",
        "return document.getElementById('title').textContent === 'Raadstest' && !document.getElementById('next').disabled;",
    )
    .await;
    host.click("#next").await;
    host.wait(
        "the open button",
        "return !document.getElementById('open').disabled",
    )
    .await;
    host.click("#open").await;
    let phones = [(&p1, 0), (&p2, 1), (&p3, 0)];
    tokio::join!(p1.goto(&join), p2.goto(&join), p3.goto(&join));
    for (phone, choice) in phones {
        phone
            .wait("the open options", "const o = document.querySelectorAll('#options .opt'); return o.length === 2 && !o[0].disabled;")
            .await;
        phone
            .click(&format!("#options .opt[data-i=\"{choice}\"]"))
            .await;
        phone.wait("the vote", &voted_for(choice)).await;
    }
    host.wait(
        "three votes on the host page",
        "return document.getElementById('turnout').textContent.startsWith('Stemmen: 3 ');",
    )
    .await;

    // Closed from the console; the report has the votes and the meeting.
    press_twice(&admin, &server, &code, "close").await;
    admin
        .wait(
            "the session closed",
            &format!(
                "{} return !!li && li.classList.contains('is-closed') && !li.querySelector('[data-act=close]');",
                session(&code)
            ),
        )
        .await;
    // The phones and the host page say the session has ended, and stay put.
    for b in [&p1, &p2, &p3, &host] {
        b.wait(
            "the page to say the session ended",
            "const c = document.getElementById('conn'); return c.dataset.state === 'ended' && c.textContent === 'De sessie is afgesloten';",
        )
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        p1.js("return document.getElementById('conn').dataset.state;")
            .await,
        serde_json::json!("ended"),
        "no reconnecting after the end"
    );
    axe_clean(&admin, &axe, "sessions, one closed").await;
    // The closed session's workbook, named in the page's language, and its report as a
    // PDF, in the deck's language, download.
    let files = admin
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 {} Promise.all(['Excel', 'Verslag (pdf)'].map((text) => {{
                   const a = [...li.querySelectorAll('a[download]')].find((a) => a.textContent === text);
                   return fetch(a.href).then(async (r) => [a.getAttribute('href'), r.status, r.headers.get('content-type'),
                     new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5))]);
                 }})).then(done, (e) => done(String(e)));",
                session(&code)
            ),
            vec![],
        )
        .await
        .expect("fetch the workbook and the PDF");
    let workbook = &files[0];
    assert!(
        workbook[0].as_str().is_some_and(|href| href
            .starts_with(&format!("/export/{code}.xlsx?key="))
            && href.ends_with("&lang=nl")),
        "{files}"
    );
    assert_eq!(workbook[1], 200, "{files}");
    let pdf = &files[1];
    assert!(
        pdf[0]
            .as_str()
            .is_some_and(|href| href.starts_with(&format!("/report/{code}.pdf?key="))
                && !href.contains("lang=")),
        "{files}"
    );
    assert_eq!(
        (&pdf[1], &pdf[2], &pdf[3]),
        (
            &serde_json::json!(200),
            &serde_json::json!("application/pdf"),
            &serde_json::json!("%PDF-")
        ),
        "{files}"
    );
    let report = admin
        .js(&format!(
            "{} return li.querySelector('a[href*=\"/report/\"]').href;",
            session(&code)
        ))
        .await;
    admin.goto(report.as_str().unwrap()).await;
    let seen = admin
        .wait(
            "the report",
            "const rows = [...document.querySelectorAll('table tbody tr')].map((r) =>
               [...r.querySelectorAll('td')].map((td) => td.textContent.split(' ')[0]).join('|'));
             const m = document.querySelector('.meeting');
             return !!m && {ok: true, meeting: m.textContent, rows};",
        )
        .await;
    assert!(
        seen["meeting"].as_str().unwrap().contains(MEETING),
        "{seen}"
    );
    assert!(
        seen["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "2|1|3"),
        "A 2, B 1, 3 voted: {seen}"
    );

    // Deleted: gone from the list.
    press_twice(&admin, &server, &code, "delete").await;
    admin
        .wait(
            "the session gone",
            &format!(
                "{} return !li && document.getElementById('sessions-msg').textContent.includes({});",
                session(&code),
                js_str(&code)
            ),
        )
        .await;
    axe_clean(&admin, &axe, "sessions, one deleted").await;

    for b in [admin, host, p1, p2, p3] {
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_wraps_long_lines_and_keeps_each_number_beside_its_line() {
    run(
        "the_editor_wraps_long_lines_and_keeps_each_number_beside_its_line",
        soft_wrap,
    )
    .await;
}

async fn soft_wrap(tools: Tools) {
    let server = TestServer::start_console().await;
    let driver = Driver::start(&tools).await;
    let admin = logged_in(&driver, &server, (1024, 900)).await;
    admin.click("#new-deck").await;
    let long = "Een lange alinea die in de editor over meer dan één regel loopt. ".repeat(6);
    let deck = format!("## Stelling\n\n{long}\n\nA) Ja\nB) Nee\n");
    admin.fill("#source", &deck).await;
    // No sideways scrolling; the long line (3) wraps, and every number stands level with
    // the first row of its own line, also the ones after the wrapped line.
    let rows = admin
        .wait(
            "the gutter beside the wrapped text",
            "const s = document.getElementById('source');
             const nums = [...document.querySelectorAll('#gutter span')];
             const lines = [...document.querySelectorAll('.editor .measure div')];
             if (nums.length !== 7 || lines.length !== 7 || s.scrollWidth > s.clientWidth) return false;
             const lh = lines[0].getBoundingClientRect().height;
             const level = nums.every((n, i) => Math.abs((n.offsetTop - nums[0].offsetTop) - (lines[i].offsetTop - lines[0].offsetTop)) < 1);
             return level && Math.round(lines[2].getBoundingClientRect().height / lh);",
        )
        .await;
    assert!(
        rows.as_u64().unwrap() >= 3,
        "the long line wraps onto several rows: {rows}"
    );
    admin.screenshot("console-editor-wrapped-1024x900").await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deck_with_errors_is_saved_as_a_draft_that_the_console_will_not_start() {
    run(
        "a_deck_with_errors_is_saved_as_a_draft_that_the_console_will_not_start",
        draft,
    )
    .await;
}

/// Script: the text of the element with `id`, and whether it shows as an error.
fn text_of(id: &str) -> String {
    format!("const e = document.getElementById({}); return [e.textContent, e.classList.contains('error')];", js_str(id))
}

async fn draft(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let server = TestServer::start_console().await;
    let driver = Driver::start(&tools).await;
    let admin = logged_in(&driver, &server, (1440, 1000)).await;

    // With an error, the button says what it does, and a press keeps the deck as a draft.
    admin.click("#new-deck").await;
    admin.fill("#deck-name", "concept.md").await;
    admin.fill("#source", DECK_WITH_ERROR).await;
    admin
        .wait(
            "the button to save a draft",
            "return document.getElementById('save').textContent === 'Opslaan als concept';",
        )
        .await;
    admin.click("#save").await;
    let said = admin
        .wait(
            "the draft in the list, chosen to start",
            "const b = document.querySelector('#deck-list .deckbtn[aria-current]');
             const s = document.getElementById('start-deck');
             return !!b && !!b.querySelector('.tag.draft') && s.selectedOptions[0].textContent.includes('concept.md')
               && [b.querySelector('.tag.draft').textContent, document.getElementById('save-state').textContent,
                   s.selectedOptions[0].textContent];",
        )
        .await;
    assert_eq!(
        said,
        serde_json::json!([
            "concept met fouten",
            "concept.md is bewaard als concept (versie 1). Het deck bevat fouten: een sessie starten kan pas als ze hersteld zijn.",
            "concept.md (concept.md) — concept met fouten"
        ])
    );
    assert_eq!(
        admin.js(&text_of("start-deck-note")).await,
        serde_json::json!([
            "Dit deck is een concept met fouten. Herstel ze in de editor en sla het op; dan kan de sessie starten.",
            true
        ])
    );
    axe_clean(&admin, &axe, "a draft saved, chosen to start").await;
    admin.screenshot("console-draft-1440x1000").await;

    // Starting is refused with the server's reason, and no session is added.
    let sessions = "return document.querySelectorAll('#session-list li').length;";
    let before = admin.js(sessions).await;
    admin.click("#start button[type=submit]").await;
    let refused = admin
        .wait(
            "the refusal",
            "const m = document.getElementById('start-msg'); return m.classList.contains('error') && m.textContent;",
        )
        .await;
    assert_eq!(
        refused,
        "Dit deck is een concept met fouten; herstel ze en sla het deck op voordat een sessie het gebruikt."
    );
    assert_eq!(admin.js(sessions).await, before);

    // After a reload the draft is there, and says so in English too.
    admin.goto(&server.url("/admin")).await;
    admin.click("[data-lang-toggle]").await;
    let english = admin
        .wait(
            "the draft in English",
            "const b = [...document.querySelectorAll('#deck-list .deckbtn')].find((x) => x.textContent.includes('concept.md'));
             const n = document.getElementById('start-deck-note');
             return !!b && !!b.querySelector('.tag.draft') && n.textContent.startsWith('This')
               && [b.querySelector('.tag.draft').textContent, n.textContent];",
        )
        .await;
    assert_eq!(
        english,
        serde_json::json!([
            "draft with errors",
            "This deck is a draft with errors. Fix them in the editor and save it; then the session can start."
        ])
    );
    admin.click("#deck-list .deckbtn:has(.tag.draft)").await;
    admin
        .wait(
            "the draft in the editor with its error",
            &format!(
                "return document.getElementById('save').textContent === 'Save as draft'
                   && !!document.querySelector('#problems button[data-line=\"{ERROR_LINE}\"]')
                   && document.getElementById('save-state').textContent === 'Stored as a draft — version 1, with errors';"
            ),
        )
        .await;

    // Fixed and saved, it is a deck like any other: no tag, no note, and it starts.
    admin
        .js(&format!(
            "const s = document.getElementById('source'); s.value = {}; s.dispatchEvent(new Event('input')); return true;",
            js_str(&DECK_WITH_ERROR.replace("B)\n", &format!("B){FIX}\n")))
        ))
        .await;
    admin
        .wait(
            "the plain save button",
            "return document.getElementById('save').textContent === 'Save' && document.getElementById('check-status').classList.contains('ok');",
        )
        .await;
    admin.click("#save").await;
    admin
        .wait(
            "the deck without the draft tag",
            "const b = document.querySelector('#deck-list .deckbtn[aria-current]');
             return !!b && !b.querySelector('.tag.draft') && document.getElementById('start-deck-note').textContent === ''
               && document.getElementById('save-state').textContent === 'concept.md is stored as version 2.';",
        )
        .await;
    admin.click("#start button[type=submit]").await;
    admin
        .wait(
            "the session started on it",
            "return document.getElementById('start-msg').textContent.startsWith('Session ')
               && [...document.querySelectorAll('#session-list li.is-open')].length === 2;",
        )
        .await;
    admin.close().await;
}
