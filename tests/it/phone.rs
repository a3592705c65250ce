//! The phone's last mile, in Chromium through the real server: it names the choice it
//! stored, brings the confirmation into view after a tap on a long option, starts a new
//! round at the top, counts an argument's characters as the server does and never cuts
//! a paste, and says when an argument did not make the list.

use serde_json::json;

use crate::browser::harness::{Browser, Driver, Tools};
use crate::browser::{axe_blocking, conn_is, js_str, run, WHOLE_WORDS};
use crate::support::TestServer;

/// Four options long enough that a 390 × 844 phone shows the last one near the bottom
/// and its confirmation below the fold.
fn long_deck() -> String {
    let long = |what: &str| {
        format!(
            "{what}, ook als dat betekent dat de gemeente haar eigen procedures voor elke wijk \
             opnieuw moet bekijken, met de bewoners aan tafel en met een eigen budget per \
             kern, zodat afspraken niet verzanden in overleg zonder einde"
        )
    };
    format!(
        "---\ntitle: Lange keuzes\n---\n\n## Hoe verder met gebiedsgericht werken?\n\n\
         A) {}\nB) {}\nC) {}\nD) {}\n\n---\n\n## Eén werkwijze voor alle kernen\n\n\
         1) Helemaal oneens\n2) Oneens\n3) Neutraal\n4) Eens\n5) Helemaal eens\n",
        long("Maatwerk per wijk"),
        long("Eén werkwijze voor alle kernen"),
        long("Eerst een proef in twee wijken"),
        long("Wachten op de evaluatie")
    )
}

/// Expression: the element with `id` lies wholly inside the viewport.
fn in_view(id: &str) -> String {
    format!(
        "(() => {{ const r = document.getElementById({}).getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }})()",
        js_str(id)
    )
}

/// Sets the argument's text as a paste would and says so to the page.
async fn paste(phone: &Browser, text: &str) {
    phone
        .js(&format!(
            "const t = document.getElementById('arg-text'); t.value = {}; t.dispatchEvent(new Event('input')); return true;",
            js_str(text)
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_names_its_choice_keeps_its_place_and_counts_as_the_server_does() {
    run(
        "a_phone_names_its_choice_keeps_its_place_and_counts_as_the_server_does",
        phone_last_mile,
    )
    .await;
}

async fn phone_last_mile(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let source = long_deck();
    let deck = stemzaal::core::deck::parse("lang.md", &source).expect("the deck parses");
    let server = TestServer::start_with(deck, &source).await;
    let mut control = server.host().await;
    let driver = Driver::start(&tools).await;
    let phone = Browser::open(&driver, server.addr, "phone", (390, 844)).await;
    phone
        .goto(&server.url(&format!("/{}", server.code())))
        .await;
    phone.wait("the phone online", &conn_is("online")).await;
    control.send(json!({"type": "open_vote"})).await;
    control.wait_state(|s| s["slide"]["phase"] == "open").await;
    let mut problems = vec![];

    // A tap on the last long option: the confirmation names the option's text, and
    // comes into view with the argument form under it.
    phone
        .wait(
            "four options",
            "const o = document.querySelectorAll('#options .opt'); return o.length === 4 && !o[3].disabled;",
        )
        .await;
    phone
        .js("document.querySelector('#options .opt[data-i=\"3\"]').scrollIntoView({block: 'end'}); return true;")
        .await;
    assert_eq!(
        phone
            .js("const r = document.querySelector('#options .opt[data-i=\"3\"]').getBoundingClientRect(); return Math.abs(r.bottom - innerHeight) < 2;")
            .await,
        json!(true),
        "the option ends at the bottom edge, so what comes under it starts below the fold"
    );
    phone.click("#options .opt[data-i=\"3\"]").await;
    let label = "Wachten op de evaluatie, ook als";
    phone
        .wait(
            "the confirmation naming the choice, in view",
            &format!(
                "const s = document.getElementById('vote-status');
                 return s.textContent.startsWith({}) && s.textContent.includes({}) && ({});",
                js_str("Je keuze D is ontvangen: "),
                js_str(label),
                in_view("vote-status")
            ),
        )
        .await;

    // The argument: an emoji is one character, as the server counts; a paste of 285
    // characters stays whole and the form says how many to take out.
    phone.click("#argue-sum").await;
    paste(&phone, "😀").await;
    phone
        .wait("one character used", &text_is("arg-left", "Nog 279 tekens"))
        .await;
    let too_long = "x".repeat(285);
    paste(&phone, &too_long).await;
    let over = phone
        .wait(
            "five too many, nothing cut",
            &format!(
                "const t = document.getElementById('arg-text');
                 return document.getElementById('arg-left').textContent === {} && {{
                   length: t.value.length, invalid: t.getAttribute('aria-invalid'),
                   disabled: document.getElementById('arg-send').disabled }};",
                js_str("5 tekens te veel: maak je argument korter")
            ),
        )
        .await;
    assert_eq!(
        over,
        json!({"length": 285, "invalid": "true", "disabled": true})
    );
    problems.extend(axe_blocking(&phone, &axe, "phone, argument too long").await);
    paste(&phone, "Eerst de evaluatie lezen, dan pas kiezen.").await;
    phone.click("#arg-send").await;
    phone
        .wait(
            "the argument waiting",
            &text_is("arg-status", "Je argument wacht op de gespreksleider"),
        )
        .await;

    // The host hides it; once the vote is closed the phone no longer says it waits.
    let host_state = control
        .wait_state(|s| {
            s["arguments"]["items"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await;
    let number = host_state["arguments"]["items"][0]["argument"].clone();
    control
        .send(json!({"type": "moderate", "argument": number, "status": "hidden"}))
        .await;
    control.send(json!({"type": "close_vote"})).await;
    control
        .send(json!({"type": "reveal", "visible": true}))
        .await;
    phone
        .wait(
            "the argument not on the list",
            &text_is("arg-status", "Je argument is niet op de lijst gezet"),
        )
        .await;
    phone
        .wait(
            "the result, scrolled to",
            "return !document.getElementById('result').hidden && scrollY > 0;",
        )
        .await;

    // The scroll to the result has come to rest (it is smooth where motion is allowed).
    phone
        .wait(
            "the scroll at rest",
            "const y = scrollY, same = window.lastY === y; window.lastY = y; return y > 0 && same;",
        )
        .await;

    // A new round starts at the top, with the question and the options in view.
    control.send(json!({"type": "revote"})).await;
    control.send(json!({"type": "open_vote"})).await;
    let top = phone
        .wait(
            "round 2 at the top",
            "return document.body.dataset.view === '0:open:false' && {y: scrollY,
               question: document.getElementById('slide').getBoundingClientRect().top >= 0};",
        )
        .await;
    assert_eq!(top, json!({"y": 0, "question": true}));
    problems.extend(axe_blocking(&phone, &axe, "phone, round 2").await);
    phone.screenshot("participant-round2-390x844").await;

    // The built-in deck's scale of five: its labels break between words only, at 390
    // and at 360 px.
    control.send(json!({"type": "go_to", "slide": 1})).await;
    control.send(json!({"type": "open_vote"})).await;
    phone
        .wait(
            "five points",
            "return document.querySelectorAll('#options .opt.pt').length === 5 && document.querySelectorAll('#scale-labels .slabel').length === 5;",
        )
        .await;
    for width in [390, 360] {
        phone.viewport(width, 844).await;
        let words = phone.js(WHOLE_WORDS).await;
        assert_eq!(
            words,
            json!({"broken": [], "overlap": false, "outside": false}),
            "at {width} px"
        );
        phone
            .screenshot(&format!("participant-scale5-{width}x844"))
            .await;
    }
    assert!(
        problems.is_empty(),
        "axe found serious or critical violations:\n{}",
        problems.join("\n")
    );
    phone.close().await;
}

/// Script: the text of the element with `id` is `text`.
fn text_is(id: &str, text: &str) -> String {
    format!(
        "const e = document.getElementById({}); return !!e && e.textContent === {};",
        js_str(id),
        js_str(text)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_response_shows_the_open_statement_and_a_tap_waits_for_the_socket() {
    run(
        "the_first_response_shows_the_open_statement_and_a_tap_waits_for_the_socket",
        first_response,
    )
    .await;
}

async fn first_response(tools: Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let source = long_deck();
    let deck = stemzaal::core::deck::parse("lang.md", &source).expect("the deck parses");
    let server = TestServer::start_with(deck, &source).await;
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    let code = server.code().to_owned();

    // The page as the server sends it: title, statement and options already in it, and
    // the phones' state for the script; a `</` in the state cannot end its element.
    let (status, head, page) = server.get(&format!("/{code}")).await;
    assert_eq!(status, 200);
    // Its one inline script (which takes a tap before the page's scripts arrive) is
    // allowed by its hash, and nothing else inline is.
    let inline: Vec<&str> = page
        .split("<script>")
        .skip(1)
        .map(|s| s.split("</script>").next().unwrap())
        .collect();
    assert_eq!(inline.len(), 1, "{page}");
    let hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline[0]))
    };
    let csp = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .expect("a CSP");
    assert!(
        // The test's reading of the head is in lower case.
        csp.contains(&format!("script-src 'self' 'sha256-{hash}';").to_lowercase()),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    for part in [
        r#"<h1 class="deck" id="title" lang="nl">Lange keuzes</h1>"#,
        "<h2>Hoe verder met gebiedsgericht werken?</h2>",
        r#"<button class="opt" type="button" data-i="3"><span class="letter">D</span><span class="otext">Wachten op de evaluatie"#,
        r#"<script type="application/json" id="boot">{"type":"state""#,
    ] {
        assert!(page.contains(part), "the page has {part}:\n{page}");
    }
    let boot = page.split(r#"id="boot">"#).nth(1).unwrap();
    let boot = boot.split("</script>").next().unwrap();
    assert!(!boot.contains("</"), "{boot}");
    let state: serde_json::Value = serde_json::from_str(boot).unwrap();
    assert_eq!(state["slide"]["phase"], "open");

    // In Chromium, with every WebSocket refused: the statement shows and takes a tap,
    // which waits and is sent once the socket opens.
    let driver = Driver::start(&tools).await;
    let phone = Browser::open(&driver, server.addr, "phone", (390, 844)).await;
    phone.proxy.block(true);
    phone.goto(&server.url(&format!("/{code}"))).await;
    phone
        .wait(
            "the options before any socket",
            "return document.querySelectorAll('#options .opt:not([disabled])').length === 4 && document.getElementById('conn').dataset.state !== 'online';",
        )
        .await;
    phone.screenshot("participant-before-socket-390x844").await;
    let blocking = axe_blocking(&phone, &axe, "phone before its socket").await;
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
    phone.click("#options .opt[data-i=\"1\"]").await;
    phone
        .wait(
            "the tap waiting",
            &text_is("vote-status", "Je keuze B wordt verstuurd…"),
        )
        .await;
    assert_eq!(
        host.state["voted"], 0,
        "nothing reached the server yet: {}",
        host.state
    );
    phone.proxy.block(false);
    phone.wait("the page online", &conn_is("online")).await;
    let voted = host.wait_state(|s| s["voted"] == 1).await;
    assert_eq!(voted["tally"], json!([0, 1, 0, 0]));
    phone
        .wait(
            "the vote confirmed",
            "return document.getElementById('vote-status').textContent.startsWith('Je keuze B is ontvangen');",
        )
        .await;
    phone.close().await;

    // A tap before the page's own script has arrived: the page's inline script takes
    // it, and the script sends it once it runs.
    let early = Browser::open_with(&driver, server.addr, "early", (390, 844), "none").await;
    early.proxy.hold(Some("/assets/js/participant.js"));
    early.goto(&server.url(&format!("/{code}"))).await;
    early
        .wait(
            "the server's options",
            "return document.querySelectorAll('#options .opt:not([disabled])').length === 4;",
        )
        .await;
    early.click("#options .opt[data-i=\"0\"]").await;
    early
        .wait(
            "the tap taken without participant.js",
            "const o = document.getElementById('options'); return o.dataset.tap === '0' && o.dataset.live === undefined && o.querySelector('[data-i=\"0\"]').getAttribute('aria-pressed') === 'true';",
        )
        .await;
    let blocking = axe_blocking(&early, &axe, "a tap before the page's script").await;
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
    assert_eq!(host.state["voted"], 1, "{}", host.state);
    early.proxy.hold(None);
    let voted = host.wait_state(|s| s["voted"] == 2).await;
    assert_eq!(voted["tally"], json!([1, 1, 0, 0]));
    early
        .wait(
            "the early vote confirmed",
            "return document.getElementById('vote-status').textContent.startsWith('Je keuze A is ontvangen');",
        )
        .await;
    early.close().await;

    // On an emulated slow link (400 ms round trip, 50 KB/s, as the benchmark in
    // docs/PERFORMANCE.md measures it) the page marks the moment a tap first counts, and
    // a tap then is stored.
    let slow = Browser::open(&driver, server.addr, "slow", (390, 844)).await;
    slow.emulate_network(400, 50 * 1024).await;
    slow.goto(&server.url(&format!("/{code}"))).await;
    slow.wait_for(
        "the mark of the first tap that counts",
        "return performance.getEntriesByName('votable').length === 1;",
        std::time::Duration::from_secs(30),
    )
    .await;
    slow.click("#options .opt[data-i=\"2\"]").await;
    let voted = host.wait_state(|s| s["voted"] == 3).await;
    assert_eq!(voted["tally"], json!([1, 1, 1, 0]));
    slow.close().await;
}

/// A statement with a photo under its question, as a phone votes on it.
const PHOTO_DECK: &str = "## Hoe verder met het plein?

![Foto van het plein met de markt en de bomen eromheen](plein.jpg){onder}

A) opnieuw inrichten
B) laten zoals het is
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_slow_link_a_phone_votes_within_2_s_while_the_slides_photo_loads() {
    run(
        "on_a_slow_link_a_phone_votes_within_2_s_while_the_slides_photo_loads",
        slow_photo,
    )
    .await;
}

async fn slow_photo(tools: Tools) {
    use stemzaal::hub::media::Media;
    let deck = stemzaal::core::deck::parse("plein.md", PHOTO_DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, PHOTO_DECK).await;
    let key = stemzaal::core::deck::media_key(PHOTO_DECK);
    let photo = stemzaal::web::images::prepare("plein.jpg", &crate::images::jpeg(2400, 1800))
        .expect("a photo");
    let phone_bytes = photo.phone.bytes.len();
    server.store.put(&key, vec![photo]).await.unwrap();
    let mut host = server.host().await;
    host.send(json!({"type": "open_vote"})).await;
    host.wait_state(|s| s["slide"]["phase"] == "open").await;
    let code = server.code().to_owned();

    // 400 ms round trip, 50 KB/s each way, no cache: the slow link of docs/PERFORMANCE.md.
    let driver = Driver::start(&tools).await;
    let slow = Browser::open(&driver, server.addr, "slow", (390, 844)).await;
    slow.emulate_network(400, 50 * 1024).await;
    slow.goto(&server.url(&format!("/{code}"))).await;
    let votable = slow
        .wait_for(
            "the mark of the first tap that counts",
            "const m = performance.getEntriesByName('votable'); return m.length ? m[0].startTime : null;",
            std::time::Duration::from_secs(30),
        )
        .await;
    slow.click("#options .opt[data-i=\"1\"]").await;
    let voted = host.wait_state(|s| s["voted"] == 1).await;
    assert_eq!(voted["tally"], json!([0, 1]));
    let photo = slow
        .wait_for(
            "the photo loaded",
            "const img = document.querySelector('#slide img');
             const e = performance.getEntriesByType('resource').filter((r) => r.name.includes('/media/'));
             if (!img || !img.complete || !img.naturalWidth || !e.length) return null;
             const page = performance.getEntriesByType('navigation')[0];
             return { lazy: img.loading, src: img.getAttribute('src'), requests: e.length,
                      bytes: e[0].encodedBodySize, wire: e[0].transferSize, start: e[0].startTime,
                      end: e[0].responseEnd, page_bytes: page.transferSize };",
            std::time::Duration::from_secs(60),
        )
        .await;
    let votable = votable.as_f64().unwrap();
    // The options did not move once the page was votable, not when the photo arrived
    // and not when the socket opened: a finger about to tap one must not hit another.
    // (A few pixels are left when the script redraws the slide; an option is 48 high.)
    const MOVE_LIMIT: f64 = 8.0;
    let shifts = slow
        .js("return new Promise((done) => {
               const moved = [];
               const seen = new PerformanceObserver((list) => {
                 for (const e of list.getEntries()) {
                   const options = e.sources.filter((s) => s.node && s.node.closest && s.node.closest('#options'));
                   if (options.length && !e.hadRecentInput) moved.push({ at: Math.round(e.startTime),
                     from: options[0].previousRect.y, to: options[0].currentRect.y });
                 }
               });
               seen.observe({ type: 'layout-shift', buffered: true });
               setTimeout(() => { seen.disconnect(); done(moved); }, 300);
             });")
        .await;
    let late: Vec<&serde_json::Value> = shifts
        .as_array()
        .expect("a list of layout shifts")
        .iter()
        .filter(|s| s["at"].as_f64().unwrap() >= votable)
        .filter(|s| (s["to"].as_f64().unwrap() - s["from"].as_f64().unwrap()).abs() >= MOVE_LIMIT)
        .collect();
    assert!(
        late.is_empty(),
        "the options moved after the page was votable at {votable:.0} ms: {late:?}; the photo {photo}"
    );
    println!("slow link, a statement with a photo: votable after {votable:.0} ms; {photo}");
    // Votable within 2 s of opening the link, the photo still on its way or not.
    assert!(votable <= 2000.0, "votable after {votable:.0} ms: {photo}");
    assert_eq!(photo["lazy"], "lazy", "{photo}");
    assert!(
        photo["src"].as_str().unwrap().ends_with("/plein.jpg/phone"),
        "{photo}"
    );
    assert_eq!(photo["requests"], 1, "one copy, once: {photo}");
    assert_eq!(
        photo["bytes"].as_u64().unwrap(),
        phone_bytes as u64,
        "{photo}"
    );
    assert!(
        phone_bytes <= stemzaal::web::images::PHONE_TARGET_BYTES,
        "{phone_bytes}"
    );
    slow.close().await;
}
