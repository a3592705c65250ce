//! The room during a council session, in Chromium through the real server: results per
//! group on the host page and the screen, and arguments per side from the phones through
//! the host's moderation to the screen. Each view is measured on the screen at the three
//! projector sizes and checked with axe-core.

use fantoccini::key::Key;
use serde_json::json;

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{axe_blocking, check_screen, conn_is, js_str, run};
use crate::support::{TestClient, TestServer};

/// The group names of the room deck: five, as a council session has them.
const GROUPS: [&str; 5] = [
    "Raadslid",
    "Ambtenaar",
    "Wijk- of dorpsraad",
    "Inwoner",
    "Anders",
];

/// The projector sizes every view must fit whole (docs/deck-format.md).
const SIZES: [(u32, u32); 3] = [(1920, 1080), (1280, 720), (1024, 768)];

/// Exactly `len` characters of plain Dutch words, starting at word `from`: text at the
/// limits of docs/deck-format.md (and of an argument, 280).
fn words(len: usize, from: usize) -> String {
    const WORDS: &[&str] = &[
        "gebiedsgericht",
        "werken",
        "vraagt",
        "om",
        "vertrouwen",
        "tussen",
        "inwoners",
        "ambtenaren",
        "en",
        "raadsleden",
        "omdat",
        "elke",
        "wijk",
        "andere",
        "vragen",
        "heeft",
        "terwijl",
        "duidelijke",
        "afspraken",
        "over",
        "rollen",
        "budget",
        "verantwoording",
        "voorkomen",
        "dat",
        "initiatieven",
        "verzanden",
        "in",
        "overleg",
    ];
    let mut text = String::new();
    let mut i = from;
    while text.len() < len {
        text.push_str(WORDS[i % WORDS.len()]);
        text.push(' ');
        i += 1;
    }
    let mut text: String = text[..len - 1].trim_end().to_owned();
    while text.len() < len - 1 {
        text.push('e');
    }
    text.push('.');
    let mut chars = text.chars();
    let first = chars.next().unwrap().to_ascii_uppercase();
    std::iter::once(first).chain(chars).collect()
}

/// A deck at the screen's limits, with five groups: statements of two, three and four
/// options, each option as long as its count allows, a 90-character title, and two lines
/// of text above the options where the limits allow them.
fn room_deck() -> String {
    let mut deck = format!(
        "---\ntitle: Raadsavond\ngroups: {}\n---\n",
        GROUPS.join(", ")
    );
    for (n, (options, len)) in [(2, 140), (3, 100), (4, 100)].into_iter().enumerate() {
        deck.push_str(&format!("\n## {}\n\n", words(90, n * 3)));
        if options < 4 {
            deck.push_str(&format!("{}\n\n", words(120, n * 5 + 1)));
        }
        for o in 0..options {
            deck.push_str(&format!(
                "{}) {}\n",
                char::from(b'A' + o as u8),
                words(len, n + o * 4)
            ));
        }
        deck.push_str("\n---\n");
    }
    deck.push_str("\n# Einde\n");
    deck
}

/// A participant that chose `group` (none for `None`).
async fn phone_in(server: &TestServer, group: Option<&str>) -> TestClient {
    let mut phone = server.participant().await;
    if let Some(group) = group {
        phone
            .send(json!({"type": "choose_group", "group": group, "id": 1}))
            .await;
        let answer = phone.wait_for("ok").await;
        assert_eq!(answer["id"], 1, "{answer}");
    }
    phone
}

/// Opens the statement at `slide` and lets every phone vote: the i-th for option
/// `i % options`.
async fn vote_all(control: &mut TestClient, phones: &mut [TestClient], slide: u64, options: u64) {
    control.send(json!({"type": "go_to", "slide": slide})).await;
    control.send(json!({"type": "open_vote"})).await;
    control
        .wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "open")
        .await;
    for (i, phone) in phones.iter_mut().enumerate() {
        phone
            .wait_state(|s| s["slide"]["index"] == slide && s["slide"]["phase"] == "open")
            .await;
        let answer = phone.vote(slide, 1, i as u64 % options).await;
        assert_eq!(answer["type"], "ack", "{answer}");
    }
}

/// Script: the screen is connected and its QR code loaded.
const SCREEN_READY: &str = "const q = document.getElementById('qr'); return !!document.body.dataset.view && q.complete && q.naturalWidth > 0;";

/// Script: the text of each row of the table body `id`, cells joined by `|`.
fn rows(id: &str) -> String {
    format!(
        "return [...document.querySelectorAll('#{id} tr')].map((r) => [...r.cells].map((c) => c.textContent).join('|'));"
    )
}

/// A session of the room deck with a host connection to steer it, and Chromium with the
/// screen page open and connected.
struct Room {
    server: TestServer,
    control: TestClient,
    driver: Driver,
    screen: Browser,
}

impl Room {
    async fn open(tools: &Tools, limits: stemzaal::web::limits::Limits) -> Room {
        Self::open_deck(tools, &room_deck(), limits).await
    }

    async fn open_deck(tools: &Tools, source: &str, limits: stemzaal::web::limits::Limits) -> Room {
        let deck = stemzaal::core::deck::parse("room.md", source).expect("the room deck parses");
        let server = TestServer::start_custom(deck, source, limits).await;
        let control = server.host().await;
        let driver = Driver::start(tools).await;
        let screen = Browser::open(&driver, server.addr, "screen", (1920, 1080)).await;
        let key = server.session.screen_key().expose().to_owned();
        screen
            .goto(&server.url(&format!("/screen/{}?key={key}", server.code())))
            .await;
        screen.wait("the screen to connect", SCREEN_READY).await;
        Room {
            server,
            control,
            driver,
            screen,
        }
    }

    /// The host page on a laptop, connected.
    async fn host_page(&self) -> Browser {
        let host = Browser::open(&self.driver, self.server.addr, "host", (1366, 768)).await;
        let key = self.server.session.host_key().expose().to_owned();
        host.goto(
            &self
                .server
                .url(&format!("/host/{}?key={key}", self.server.code())),
        )
        .await;
        host.wait("the host page online", &conn_is("online")).await;
        host
    }

    /// The participant page on a phone, connected.
    async fn phone_page(&self, name: &str) -> Browser {
        let phone = Browser::open(&self.driver, self.server.addr, name, (390, 844)).await;
        phone
            .goto(&self.server.url(&format!("/{}", self.server.code())))
            .await;
        phone.wait("the phone online", &conn_is("online")).await;
        phone
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_shows_results_per_group_and_puts_them_on_the_screen() {
    run(
        "the_host_shows_results_per_group_and_puts_them_on_the_screen",
        groups_live,
    )
    .await;
}

/// Phones in five groups (one of them too small to show) vote; the host sees a row per
/// group, the small one and the one that would give it away said in words; its button
/// shows the result and the groups at once, and the screen shows them whole at every
/// size, for two, three and four options; axe-clean on both pages.
async fn groups_live(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let room = Room::open(&tools, Default::default()).await;
    let host = room.host_page().await;
    let Room {
        server,
        mut control,
        screen,
        ..
    } = room;
    // Six Raadsleden, two Ambtenaren, five in each other group and five without one.
    let mut phones = vec![];
    for (group, n) in [
        (Some(GROUPS[0]), 6),
        (Some(GROUPS[1]), 2),
        (Some(GROUPS[2]), 5),
        (Some(GROUPS[3]), 5),
        (Some(GROUPS[4]), 5),
        (None, 5),
    ] {
        for _ in 0..n {
            phones.push(phone_in(&server, group).await);
        }
    }

    vote_all(&mut control, &mut phones, 0, 2).await;
    // The host: a row per group in deck order, then those without one.
    let host_rows = host
        .wait(
            "the groups on the host page",
            &format!(
                "if (document.getElementById('groupbox').hidden || document.getElementById('turnout').textContent !== 'Stemmen: 28 van 28') return null; const r = (() => {{ {} }})(); return r.length === 6 && r[5].startsWith('Geen groep|') && r;",
                rows("groups-rows")
            ),
        )
        .await;
    let host_rows: Vec<&str> = host_rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        host_rows[0], "Raadslid|3 (50%)|3 (50%)|6",
        "counts and percentages per option, then the voters"
    );
    assert_eq!(
        host_rows[1], "Ambtenaar|minder dan 5 stemmers",
        "a small group in words"
    );
    assert_eq!(
        host_rows
            .iter()
            .filter(|r| r.ends_with("|verborgen om een kleine groep te beschermen"))
            .count(),
        1,
        "the group that would give the small one away: {host_rows:?}"
    );
    // Not revealed yet: the button says it shows the result too, and the screen has none.
    host.wait(
        "the button to show result and groups",
        &format!(
            "const b = document.getElementById('groups-show'); return !b.disabled && b.textContent === {};",
            js_str("Toon resultaat en groepen op scherm")
        ),
    )
    .await;
    assert_eq!(
        screen
            .js("return document.getElementById('groups').hidden;")
            .await,
        json!(true),
        "no groups on the screen before the host shows them"
    );
    control.send(json!({"type": "close_vote"})).await;
    host.click("#groups-show").await;
    control
        .wait_state(|s| s["revealed"] == true && s["groups"]["shown"] == true)
        .await;
    let screen_rows = screen
        .wait(
            "the groups on the screen",
            &format!(
                "if (document.getElementById('groups').hidden) return null; const r = (() => {{ {} }})(); return r.length === 7 && r;",
                rows("groups-rows")
            ),
        )
        .await;
    assert_eq!(
        screen_rows[0], "Iedereen (28)|50%|50%|",
        "everyone first: {screen_rows}"
    );
    assert_eq!(screen_rows[1], "Raadslid (6)|50%|50%|");
    assert_eq!(screen_rows[2], "Ambtenaar|minder dan 5 stemmers");
    host.wait(
        "the host to say the groups are shown",
        &format!(
            "return document.getElementById('groups-show').textContent === {} && document.getElementById('groups-state').textContent === {};",
            js_str("Verberg groepen op scherm"),
            js_str("De groepen staan op het scherm")
        ),
    )
    .await;

    let mut blocking = vec![];
    blocking.extend(axe_blocking(&host, &axe, "host with groups").await);
    blocking.extend(axe_blocking(&screen, &axe, "screen with groups").await);
    host.viewport(390, 844).await;
    blocking.extend(axe_blocking(&host, &axe, "host (phone) with groups").await);
    host.viewport(1366, 768).await;

    // Every statement of the deck, its groups shown, whole at every size.
    for (slide, options) in [(0u64, 2u64), (1, 3), (2, 4)] {
        if slide > 0 {
            vote_all(&mut control, &mut phones, slide, options).await;
            control.send(json!({"type": "close_vote"})).await;
            control
                .send(json!({"type": "reveal", "visible": true}))
                .await;
            control
                .send(json!({"type": "show_groups", "visible": true}))
                .await;
        }
        screen
            .wait(
                &format!("the groups of slide {}", slide + 1),
                &format!(
                    "return document.body.dataset.view === '{slide}:closed:true' && !document.getElementById('groups').hidden && document.querySelectorAll('#groups-head th').length === {};",
                    options + 1
                ),
            )
            .await;
        // On a 1366 px laptop the host's table fits its column: no sideways scrolling.
        let table = host
            .wait(
                &format!("the host's groups of slide {}", slide + 1),
                &format!(
                    "const s = document.querySelector('#groupbox .gscroll');
                     return !document.getElementById('groupbox').hidden && document.querySelectorAll('#groups-head th').length === {}
                       && {{scroll: s.scrollWidth, width: s.clientWidth,
                         cells: [...document.querySelectorAll('#groupbox tr')].map((r) => [...r.children].map((c) => Math.round(c.getBoundingClientRect().width) + ':' + c.textContent).join(' | '))}};",
                    options + 2
                ),
            )
            .await;
        assert!(
            table["scroll"].as_f64() <= table["width"].as_f64(),
            "the host's group table scrolls sideways at 1366 px: {table}"
        );
        for (w, h) in SIZES {
            screen.viewport(w, h).await;
            let fit = check_screen(
                &screen,
                &format!("the groups of slide {}, {w}×{h}", slide + 1),
            )
            .await;
            eprintln!("groups, {options} options, {w}×{h}: fit {}", fit["fit"]);
        }
        screen.viewport(1920, 1080).await;
        screen
            .screenshot(&format!("screen-groups-{options}-options"))
            .await;
    }

    // Hidden again: the result alone.
    host.wait(
        "the hide button",
        &format!(
            "return document.getElementById('groups-show').textContent === {};",
            js_str("Verberg groepen op scherm")
        ),
    )
    .await;
    host.click("#groups-show").await;
    screen
        .wait(
            "the result without groups",
            "return document.getElementById('groups').hidden && document.getElementById('cols').classList.contains('revealed');",
        )
        .await;
    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    host.close().await;
    screen.close().await;
}

/// Sends `argue` for the statement at `slide` and returns the argument's number.
async fn argue(phone: &mut TestClient, slide: u64, text: &str) -> u64 {
    const ID: u64 = 900;
    phone
        .send(json!({"type": "argue", "id": ID, "slide": slide, "text": text}))
        .await;
    let answer = loop {
        if let Some(i) = phone.inbox.iter().position(|m| m["id"] == ID) {
            break phone.inbox.remove(i);
        }
        let m = phone.next_message().await.expect("the socket open");
        if m["type"] != "state" {
            phone.inbox.push(m);
        }
    };
    assert_eq!(answer["type"], "argued", "{answer}");
    answer["argument"].as_u64().unwrap()
}

/// The pause the server asks between two changes of one participant's argument
/// (docs/protocol.md, argue).
const ARGUE_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

/// Script: every text on the page, form fields included.
const ALL_TEXT: &str = "return document.body.innerText + [...document.querySelectorAll('textarea, input')].map((e) => e.value).join(' ');";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_argument_goes_from_a_phone_through_the_host_to_the_screen() {
    run(
        "an_argument_goes_from_a_phone_through_the_host_to_the_screen",
        arguments_end_to_end,
    )
    .await;
}

/// A phone votes and gives its argument in the form; the host approves it and hides
/// another for good; on the screen the approved one stands on its side with the upvote
/// a second phone gave it, and the hidden one is nowhere. axe-clean: the phone with the
/// form open, the host with its queue, the screen with the arguments.
async fn arguments_end_to_end(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let room = Room::open(&tools, Default::default()).await;
    let host = room.host_page().await;
    let p1 = room.phone_page("phone 1").await;
    let p2 = room.phone_page("phone 2").await;
    let Room {
        server,
        mut control,
        screen,
        ..
    } = room;
    let mut rude = server.participant().await;

    control.send(json!({"type": "go_to", "slide": 0})).await;
    control.send(json!({"type": "open_vote"})).await;
    control.wait_state(|s| s["slide"]["phase"] == "open").await;
    // Phone 1 votes A and gives its argument in the form.
    let mine = "Elke wijk is anders;\neén werkwijze past nergens.";
    p1.wait("the options", "const o = document.querySelectorAll('#options .opt'); return o.length === 2 && !o[0].disabled;").await;
    assert_eq!(
        p1.js("return document.getElementById('argue').hidden;")
            .await,
        json!(true),
        "no argument before a vote"
    );
    p1.click("#options .opt[data-i=\"0\"]").await;
    p1.wait(
        "the argument form",
        &format!(
            "const d = document.getElementById('argue'); return !d.hidden && document.getElementById('argue-sum').textContent === {};",
            js_str("Geef een argument")
        ),
    )
    .await;
    p1.click("#argue-sum").await;
    p1.fill("#arg-text", mine).await;
    p1.wait(
        "the characters left",
        &format!(
            "return document.getElementById('arg-left').textContent === {} && document.getElementById('arg-label').textContent === {};",
            js_str(&format!("Nog {} tekens", 280 - mine.chars().count())),
            js_str("Jouw argument voor A")
        ),
    )
    .await;
    let mut blocking = axe_blocking(&p1, &axe, "phone with the argument form open").await;
    p1.screenshot("phone-argument-form").await;
    p1.click("#arg-send").await;
    p1.wait(
        "the argument waiting",
        &format!(
            "return document.getElementById('arg-status').textContent === {};",
            js_str("Je argument wacht op de gespreksleider")
        ),
    )
    .await;
    // Another participant argues for B, in words the host will not have on the list.
    let hidden_text = "Dit argument verdwijnt voorgoed uit de zaal.";
    let vote = rude.vote(0, 1, 1).await;
    assert_eq!(vote["type"], "ack");
    let hidden = argue(&mut rude, 0, hidden_text).await;

    // The host: both in the queue, oldest first.
    host.wait(
        "the queue",
        "return document.querySelectorAll('#queue li').length === 2 && document.getElementById('argsbox').hidden === false;",
    )
    .await;
    let queue = host
        .js("return [...document.querySelectorAll('#queue .atext')].map((e) => e.textContent);")
        .await;
    assert_eq!(queue, json!([mine, hidden_text]), "oldest first");
    blocking.extend(axe_blocking(&host, &axe, "host with the queue").await);
    host.screenshot("host-argument-queue").await;
    // By keyboard: approve the first; the focus moves on to the next one waiting.
    host.tab_to("#queue li:first-child button[data-status=\"approved\"]", 80)
        .await;
    host.press(Key::Enter.into()).await;
    host.wait(
        "one approved, the focus on the next one waiting",
        "return document.querySelectorAll('#approved li').length === 1 && document.querySelectorAll('#queue li').length === 1
           && document.activeElement === document.querySelector('#queue li:first-child button');",
    )
    .await;
    let focus = host.focus_visible().await;
    assert_eq!(focus["ok"], true, "the next argument's button: {focus}");
    // Hide asks first: one press leaves it in the queue.
    host.tab_to("#queue li:first-child button[data-status=\"hidden\"]", 5)
        .await;
    host.press(Key::Enter.into()).await;
    host.wait(
        "the question",
        &format!(
            "const b = document.querySelector('#queue li:first-child button[data-status=\"hidden\"]'); return !!b && b.textContent === {};",
            js_str("Voorgoed verwijderen? Druk nogmaals.")
        ),
    )
    .await;
    // One press hid nothing: the host's view still has it, beside the approved one.
    control
        .wait_state(|s| {
            let items = s["arguments"]["items"].as_array();
            items.is_some_and(|items| {
                items.len() == 2
                    && items
                        .iter()
                        .any(|x| x["argument"] == hidden && x["status"] == "pending")
            })
        })
        .await;
    assert_eq!(
        host.js("return document.querySelectorAll('#queue li').length;")
            .await,
        json!(1),
        "not hidden after one press"
    );
    host.press(Key::Enter.into()).await;
    control
        .wait_state(|s| {
            s["arguments"]["items"]
                .as_array()
                .is_some_and(|items| items.len() == 1 && items[0]["status"] == "approved")
        })
        .await;
    host.wait(
        "the queue empty",
        "return document.querySelectorAll('#queue li').length === 0;",
    )
    .await;
    p1.wait(
        "the phone to say it is on the list",
        &format!(
            "return document.getElementById('arg-status').textContent === {};",
            js_str("Je argument staat op de lijst")
        ),
    )
    .await;

    // On the screen, per side.
    host.click("#args-show").await;
    control
        .wait_state(|s| s["arguments"]["shown"] == true)
        .await;
    screen
        .wait(
            "the argument on the screen, on side A",
            &format!(
                "return !document.getElementById('args').hidden && document.querySelector('#acols .acol.c0 .atext')?.textContent === {};",
                js_str(mine)
            ),
        )
        .await;
    // Phone 2 votes B and upvotes A's argument.
    p2.wait("the options", "const o = document.querySelectorAll('#options .opt'); return o.length === 2 && !o[1].disabled;").await;
    p2.click("#options .opt[data-i=\"1\"]").await;
    p2.wait(
        "the approved argument with its button",
        &format!(
            "const p = document.querySelector('#arg-sides li p'); return !!p && p.textContent === {} && !!document.querySelector('#arg-sides button.up');",
            js_str(mine)
        ),
    )
    .await;
    p2.click("#arg-sides button.up").await;
    p2.wait(
        "the upvote taken",
        "return document.querySelector('#arg-sides button.up').getAttribute('aria-pressed') === 'true';",
    )
    .await;
    control
        .wait_state(|s| s["arguments"]["items"][0]["upvotes"] == 1)
        .await;
    screen
        .wait(
            "the upvote on the screen",
            "return document.querySelector('#acols .acol.c0 .asup')?.textContent === '▲ 1';",
        )
        .await;
    // Both phones hear the count from an `upvotes` message, not a new state.
    for (phone, who) in [(&p1, "the author's phone"), (&p2, "the upvoter's phone")] {
        phone
            .wait(
                &format!("the upvote counted on {who}"),
                "return document.querySelector('#arg-sides button.up')?.dataset.n === '1';",
            )
            .await;
    }
    blocking.extend(axe_blocking(&screen, &axe, "screen with arguments").await);
    screen.screenshot("screen-arguments").await;
    p2.screenshot("phone-arguments-upvoted").await;
    check_screen(&screen, "one argument on the screen").await;
    // The hidden one is nowhere.
    for (b, name) in [
        (&host, "host"),
        (&screen, "screen"),
        (&p1, "phone 1"),
        (&p2, "phone 2"),
    ] {
        let text = b.js(ALL_TEXT).await;
        assert!(
            !text.as_str().unwrap().contains(hidden_text),
            "{name} shows the hidden argument"
        );
    }

    // Revealing the results while the arguments are on the screen puts the results
    // there, and the host says so; with the arguments shown it says that instead.
    host.wait(
        "the host saying the arguments are on the screen",
        &format!(
            "return document.getElementById('shown').textContent === {};",
            js_str("Op het scherm: argumenten")
        ),
    )
    .await;
    host.click("#reveal").await;
    control
        .wait_state(|s| s["revealed"] == true && s["arguments"]["shown"] == false)
        .await;
    screen
        .wait(
            "the results on the screen instead of the arguments",
            "return document.getElementById('args').hidden && document.getElementById('cols').classList.contains('revealed');",
        )
        .await;
    host.wait(
        "the host saying the results are on the screen",
        &format!(
            "return document.getElementById('shown').textContent === {};",
            js_str("Resultaten zichtbaar")
        ),
    )
    .await;
    blocking.extend(axe_blocking(&host, &axe, "host with the results revealed").await);

    // Phone 2 argues, changes its mind too soon (the server's word for it), changes it
    // after the pause and then withdraws it.
    let status = |text: &str| {
        format!(
            "return document.getElementById('arg-status').textContent === {};",
            js_str(text)
        )
    };
    p2.click("#argue-sum").await;
    p2.fill("#arg-text", "Eerste gedachte.").await;
    p2.click("#arg-send").await;
    p2.wait(
        "the first argument waiting",
        &status("Je argument wacht op de gespreksleider"),
    )
    .await;
    p2.wait(
        "the button to change it",
        &format!(
            "return document.getElementById('arg-send').textContent === {} && !document.getElementById('arg-withdraw').hidden;",
            js_str("Wijzigen")
        ),
    )
    .await;
    p2.fill("#arg-text", "Tweede gedachte.").await;
    p2.click("#arg-send").await;
    p2.wait(
        "the server's refusal",
        &status("Even geduld: één argument of vraag per 5 seconden."),
    )
    .await;
    // The server takes one argue or withdraw_argument per participant per 5 seconds.
    tokio::time::sleep(ARGUE_PAUSE).await;
    p2.click("#arg-send").await;
    p2.wait(
        "the change waiting",
        &status("Je argument wacht op de gespreksleider"),
    )
    .await;
    host.wait(
        "the changed argument in the queue",
        "const q = [...document.querySelectorAll('#queue .atext')].map((e) => e.textContent); return q.length === 1 && q[0] === 'Tweede gedachte.';",
    )
    .await;
    // The server takes one argue or withdraw_argument per participant per 5 seconds.
    tokio::time::sleep(ARGUE_PAUSE).await;
    p2.click("#arg-withdraw").await;
    p2.wait("the withdrawal", &status("Je argument is ingetrokken"))
        .await;
    host.wait(
        "the queue empty again",
        "return document.querySelectorAll('#queue li').length === 0;",
    )
    .await;
    assert!(
        blocking.is_empty(),
        "axe found serious or critical violations:\n{}",
        blocking.join("\n")
    );
    for b in [host, screen, p1, p2] {
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_shows_many_long_arguments_whole_in_pages() {
    run(
        "the_screen_shows_many_long_arguments_whole_in_pages",
        arguments_fit,
    )
    .await;
}

/// Fourteen arguments of 280 characters on a statement of two options and on one of
/// four, some highlighted and upvoted: at every size each page shows whole, and the
/// pages turn by themselves.
async fn arguments_fit(tools: Tools) {
    let limits = stemzaal::web::limits::Limits {
        messages_per_second: 1000.0,
        burst: 1000.0,
        ..Default::default()
    };
    // Bound first: the driver must outlive the browsers.
    let room = Room::open(&tools, limits).await;
    let Room {
        server,
        mut control,
        screen,
        ..
    } = room;
    let mut phones = vec![];
    for _ in 0..14 {
        phones.push(server.participant().await);
    }
    for (slide, options) in [(0u64, 2u64), (2, 4)] {
        vote_all(&mut control, &mut phones, slide, options).await;
        let mut numbers = vec![];
        for (i, phone) in phones.iter_mut().enumerate() {
            numbers.push(argue(phone, slide, &words(280, i * 2)).await);
        }
        for (i, n) in numbers.iter().enumerate() {
            let status = if i % 5 == 0 {
                "highlighted"
            } else {
                "approved"
            };
            control
                .send(json!({"type": "moderate", "argument": n, "status": status}))
                .await;
        }
        for (i, phone) in phones.iter_mut().enumerate() {
            phone
                .send(json!({"type": "upvote", "id": 901, "argument": numbers[i % 3]}))
                .await;
        }
        control
            .send(json!({"type": "show_arguments", "visible": true}))
            .await;
        control
            .wait_state(|s| {
                s["arguments"]["shown"] == true
                    && s["arguments"]["items"].as_array().is_some_and(|items| {
                        items.len() == 14 && items.iter().all(|x| x["status"] != "pending")
                    })
            })
            .await;
        for (w, h) in SIZES {
            screen.viewport(w, h).await;
            let pages = screen
                .wait(
                    &format!("the arguments of slide {} in pages", slide + 1),
                    "const p = document.getElementById('apage').textContent.match(/^1\\/(\\d+)$/); return !document.getElementById('args').hidden && document.querySelectorAll('#acols .aitem').length > 0 && p && Number(p[1]);",
                )
                .await;
            let fit = check_screen(
                &screen,
                &format!("arguments of slide {}, page 1, {w}×{h}", slide + 1),
            )
            .await;
            eprintln!(
                "arguments, {options} options, {w}×{h}: {pages} pages, fit {}",
                fit["fit"]
            );
        }
        // The next page comes by itself, whole too.
        screen
            .wait_for(
                "the second page",
                "return document.getElementById('apage').textContent.startsWith('2/');",
                std::time::Duration::from_secs(12),
            )
            .await;
        check_screen(
            &screen,
            &format!("arguments of slide {}, page 2, 1024×768", slide + 1),
        )
        .await;
        screen
            .screenshot(&format!("screen-arguments-{options}-options-1024x768"))
            .await;
        control
            .send(json!({"type": "show_arguments", "visible": false}))
            .await;
    }
    screen.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_offers_no_upvotes_on_a_deck_without_them() {
    run(
        "a_phone_offers_no_upvotes_on_a_deck_without_them",
        upvotes_off,
    )
    .await;
}

/// A deck that says `upvotes: off` lists the approved arguments on the phones without
/// an upvote button (`state.arguments.upvotes` says so), and the server refuses an
/// upvote that comes anyway.
async fn upvotes_off(tools: Tools) {
    let source = room_deck().replacen("---\n", "---\nupvotes: off\n", 1);
    let room = Room::open_deck(&tools, &source, Default::default()).await;
    let phone = room.phone_page("phone").await;
    let Room {
        server,
        mut control,
        ..
    } = room;
    let mut other = server.participant().await;
    control.send(json!({"type": "open_vote"})).await;
    control.wait_state(|s| s["slide"]["phase"] == "open").await;
    other.wait_state(|s| s["slide"]["phase"] == "open").await;
    assert_eq!(other.vote(0, 1, 0).await["type"], "ack");
    let n = argue(&mut other, 0, "Tegen de stroom in.").await;
    control
        .send(json!({"type": "moderate", "argument": n, "status": "approved"}))
        .await;
    phone
        .wait(
            "the approved argument, without an upvote button",
            "const b = document.querySelector('#arg-sides button.up'); return !!b && b.hidden && document.getElementById('arg-sides').textContent.includes('Tegen de stroom in.');",
        )
        .await;
    other
        .send(json!({"type": "upvote", "argument": n, "id": 99}))
        .await;
    assert_eq!(other.wait_for("error").await["code"], "upvotes_off");
    phone.close().await;
}
