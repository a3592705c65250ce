//! Images on slides: `stemzaal check` reads them from beside the deck and refuses what
//! is not a PNG, JPEG or WebP by its content, or too large, naming the file; the server
//! serves each in two sizes from its own origin with the right type and `nosniff`, and
//! phones are sent the small one.

use std::io::Cursor;
use std::process::Command;

use stemzaal::hub::media::Media;
use stemzaal::web::images::{prepare, PHONE_TARGET_BYTES};

use crate::support::{http_get_bytes, http_request, TestServer};

const DECK: &str = "## De wijk

![Kaart van de wijk met de drie kernen](kaart.png)

---

## Stelling

![Foto van het plein](plein.jpg)

A) ja
B) nee
";

/// A chart-like PNG of `width`×`height`: blocks of flat colour.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x / 97 * 40 % 256) as u8, (y / 61 * 50 % 256) as u8, 200])
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

/// A photo-like JPEG of `width`×`height`.
pub(crate) fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) >> 7;
        image::Rgb([(n % 256) as u8, (x % 256) as u8, (y % 256) as u8])
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
        .unwrap();
    bytes
}

/// The CRC-32 of a PNG chunk (type and data).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small file that says it is a PNG of `width`×`height` pixels.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(width.to_be_bytes());
    chunk.extend(height.to_be_bytes());
    chunk.extend([8, 2, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(13u32.to_be_bytes());
    bytes.extend(&chunk);
    bytes.extend(crc32(&chunk).to_be_bytes());
    // An empty IDAT: a decoder reads the header up to the first one.
    for empty in [&b"IDAT"[..], b"IEND"] {
        bytes.extend([0, 0, 0, 0]);
        bytes.extend(empty);
        bytes.extend(crc32(empty).to_be_bytes());
    }
    bytes
}

fn check(dir: &std::path::Path, lang: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .args(["check", "--lang", lang])
        .arg(dir.join("deck.md"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reads_the_images_beside_the_deck_and_names_each_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deck.md"), DECK).unwrap();
    std::fs::write(dir.path().join("kaart.png"), png(1200, 700)).unwrap();
    // A PNG named `.jpg` is shown: the type comes from the content.
    std::fs::write(dir.path().join("plein.jpg"), png(40, 30)).unwrap();
    let (status, err) = check(dir.path(), "nl");
    assert_eq!(status, Some(0), "{err}");
    // It runs, but so small an image is blown up on the projector: a warning.
    let (_, err) = check(dir.path(), "en");
    assert!(
        err.contains(
            "deck.md:7: warning: the image `plein.jpg` is 40×30 pixels; the projector enlarges it"
        ),
        "{err}"
    );
    assert!(
        !err.contains("kaart.png"),
        "1200×700 is large enough: {err}"
    );

    let bad: [(&str, Vec<u8>, &str, &str); 4] = [
        (
            "a truncated JPEG",
            jpeg(200, 150)[..2000].to_vec(),
            "plein.jpg: the image cannot be read: the file is damaged or cut short",
            "plein.jpg: de afbeelding is niet te lezen",
        ),
        (
            "a PNG of 20,000×20,000 pixels",
            png_header(20_000, 20_000),
            "plein.jpg: the image is 20000×20000 pixels; an image may have at most 30 megapixels",
            "plein.jpg: de afbeelding is 20000×20000 pixels",
        ),
        (
            "an SVG with a script",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            "plein.jpg: the file is not a PNG, JPEG or WebP image (SVG and other types are not shown)",
            "plein.jpg: het bestand is geen PNG-, JPEG- of WebP-afbeelding",
        ),
        (
            "a file over 10 MiB",
            vec![0xFF; 10 * 1024 * 1024 + 1],
            "plein.jpg: the file is 11 MiB; an image may be at most 10 MiB",
            "plein.jpg: het bestand is 11 MiB",
        ),
    ];
    for (what, bytes, en, nl) in bad {
        std::fs::write(dir.path().join("plein.jpg"), bytes).unwrap();
        let (status, err) = check(dir.path(), "en");
        assert_eq!(status, Some(1), "{what}: {err}");
        assert!(err.contains(en), "{what}: {err}");
        let (_, err) = check(dir.path(), "nl");
        assert!(err.contains(nl), "{what}: {err}");
    }
    std::fs::remove_file(dir.path().join("plein.jpg")).unwrap();
    let (status, err) = check(dir.path(), "en");
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains("plein.jpg: the deck shows this image, but there is no such file"),
        "{err}"
    );
}

#[tokio::test]
async fn images_are_served_from_this_server_in_two_sizes_and_phones_get_the_small_one() {
    let deck = stemzaal::core::deck::parse("wijk.md", DECK).expect("the deck parses");
    let server = TestServer::start_with(deck, DECK).await;
    let key = stemzaal::core::deck::media_key(DECK);
    let kaart = prepare("kaart.png", &png(2400, 1600)).unwrap();
    let plein = prepare("plein.jpg", &jpeg(3000, 2000)).unwrap();
    server.store.put(&key, vec![kaart, plein]).await.unwrap();

    // Each role's slide names the size it loads.
    let (host, screen, phone) = (
        server.host().await,
        server.screen().await,
        server.participant().await,
    );
    let screen_src = format!("src=\"/media/{key}/kaart.png/screen\"");
    let phone_src = format!("src=\"/media/{key}/kaart.png/phone\"");
    for state in [&host.state, &screen.state] {
        let html = state["slide"]["html"].as_str().unwrap();
        assert!(html.contains(&screen_src), "{html}");
    }
    let html = phone.state["slide"]["html"].as_str().unwrap();
    assert!(
        html.contains(&phone_src) && html.contains("loading=\"lazy\""),
        "{html}"
    );
    assert!(
        html.contains("alt=\"Kaart van de wijk met de drie kernen\""),
        "{html}"
    );

    // Served with their type, nosniff, the CSP and a digest to revalidate by.
    for (name, size, content_type, widest) in [
        ("kaart.png", "screen", "image/png", 1920),
        ("kaart.png", "phone", "image/png", 800),
        ("plein.jpg", "screen", "image/jpeg", 1920),
        ("plein.jpg", "phone", "image/jpeg", 800),
    ] {
        let path = format!("/media/{key}/{name}/{size}");
        let (status, head, body) = http_get_bytes(server.addr, &path, &[]).await;
        assert_eq!(status, 200, "{path}: {head}");
        assert!(
            head.contains(&format!("content-type: {content_type}")),
            "{head}"
        );
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(
            head.contains("content-security-policy: default-src 'self'"),
            "{head}"
        );
        let decoded = image::load_from_memory(&body).unwrap();
        assert_eq!(decoded.width(), widest, "{path}");
        if size == "phone" {
            assert!(
                body.len() <= PHONE_TARGET_BYTES,
                "{path}: {} bytes",
                body.len()
            );
        }
        let etag = head
            .lines()
            .find_map(|l| l.strip_prefix("etag: "))
            .expect("an etag")
            .trim()
            .to_owned();
        let (status, _, body) =
            http_get_bytes(server.addr, &path, &[("If-None-Match", &etag)]).await;
        assert_eq!((status, body.len()), (304, 0), "{path}");
    }
    for path in [
        format!("/media/{key}/onbekend.png/screen"),
        format!("/media/{key}/kaart.png/groot"),
        "/media/0000/kaart.png/screen".to_owned(),
    ] {
        let (status, _, _) = http_get_bytes(server.addr, &path, &[]).await;
        assert_eq!(status, 404, "{path}");
    }
}

/// A content slide and a statement, each with a chart.
const SHOW_DECK: &str = "## Waar de wijkraden actief zijn

Zeven wijk- en dorpsraden, elk met een eigen werkwijze.

![Staafdiagram van de zeven raden](grafiek.png)

---

## Eén werkwijze voor alle raden?

![Staafdiagram van de zeven raden](grafiek.png)

A) ja, één werkwijze
B) nee, maatwerk per raad
";

/// Script: the slide's image loaded, and where its box and its picture (scaled whole
/// into the box) stand against the stage and the window.
const IMAGE_BOX: &str = "
const img = document.querySelector('#slide img');
if (!img || !img.complete || !img.naturalWidth) return null;
const b = img.getBoundingClientRect(), s = document.getElementById('stage').getBoundingClientRect();
const k = Math.min(b.width / img.naturalWidth, b.height / img.naturalHeight);
return { inside: b.left >= s.left - 1 && b.right <= s.right + 1 && b.top >= s.top - 1 && b.bottom <= s.bottom + 1
           && b.right <= innerWidth && b.bottom <= innerHeight,
         shown: [img.naturalWidth * k, img.naturalHeight * k], stage: [s.width, s.height],
         src: img.getAttribute('src') };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_shows_a_slides_image_whole_at_every_size_and_a_phone_loads_the_small_one() {
    crate::browser::run(
        "the_screen_shows_a_slides_image_whole_at_every_size_and_a_phone_loads_the_small_one",
        image_on_screen,
    )
    .await;
}

/// A room on `deck` with its chart `grafiek.png` (1600×900) stored: the server, the
/// host's control socket, the browser driver (kept while its pages are open) and the
/// host, screen and phone pages.
async fn room_with_chart(
    tools: &crate::browser::harness::Tools,
    deck: &str,
) -> (
    TestServer,
    crate::support::TestClient,
    crate::browser::harness::Driver,
    [crate::browser::harness::Browser; 3],
) {
    let parsed = stemzaal::core::deck::parse("wijk.md", deck).expect("the deck parses");
    assert_eq!(
        parsed.warnings,
        [],
        "the deck is within the limits that fit"
    );
    let server = TestServer::start_with(parsed, deck).await;
    let key = stemzaal::core::deck::media_key(deck);
    let chart = prepare("grafiek.png", &png(1600, 900)).unwrap();
    server.store.put(&key, vec![chart]).await.unwrap();
    let control = server.host().await;
    let driver = crate::browser::harness::Driver::start(tools).await;
    let (pages, _) = crate::browser::room_pages(&driver, &server).await;
    (server, control, driver, pages)
}

async fn image_on_screen(tools: crate::browser::harness::Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let (_server, mut control, _driver, [host, screen, phone]) =
        room_with_chart(&tools, SHOW_DECK).await;
    let mut blocking = vec![];
    for slide in [0, 1] {
        control
            .send(serde_json::json!({"type": "go_to", "slide": slide}))
            .await;
        if slide == 1 {
            control.send(serde_json::json!({"type": "open_vote"})).await;
        }
        for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
            screen.viewport(w, h).await;
            let when = format!("slide {slide} at {w}×{h}");
            let title = [
                "Waar de wijkraden actief zijn",
                "Eén werkwijze voor alle raden?",
            ][slide];
            screen
                .wait(
                    "the slide's image loaded",
                    &format!(
                        "const h = document.querySelector('#slide h2'); return !!h && h.textContent === {} && (() => {{ {IMAGE_BOX} }})();",
                        crate::browser::js_str(title)
                    ),
                )
                .await;
            let seen = screen.js(IMAGE_BOX).await;
            assert_eq!(seen["inside"], true, "{when}: {seen}");
            assert!(seen["src"]
                .as_str()
                .unwrap()
                .ends_with("/grafiek.png/screen"));
            // Whole and large enough to read: at least a third of the stage's height
            // or its full width.
            let (shown_w, shown_h) = (
                seen["shown"][0].as_f64().unwrap(),
                seen["shown"][1].as_f64().unwrap(),
            );
            let (stage_w, stage_h) = (
                seen["stage"][0].as_f64().unwrap(),
                seen["stage"][1].as_f64().unwrap(),
            );
            assert!(
                shown_h >= stage_h / 3.0 || shown_w >= stage_w - 2.0,
                "{when}: {seen}"
            );
            crate::browser::check_screen(&screen, &when).await;
            screen
                .screenshot(&format!("image-slide{slide}-{w}x{h}"))
                .await;
        }
        blocking.extend(
            crate::browser::axe_blocking(&screen, &axe, &format!("screen, slide {slide}")).await,
        );
    }

    // The phone: the small copy, its bytes over the wire.
    let bytes = phone
        .wait(
            "the phone's image loaded",
            "const img = document.querySelector('#slide img');
             if (!img || !img.complete || !img.naturalWidth) return null;
             const e = performance.getEntriesByType('resource').filter((r) => r.name.includes('/media/'));
             return e.length ? { src: img.getAttribute('src'), urls: e.map((r) => r.name), bytes: e.map((r) => r.encodedBodySize), width: img.naturalWidth } : null;",
        )
        .await;
    assert!(
        bytes["src"]
            .as_str()
            .unwrap()
            .ends_with("/grafiek.png/phone"),
        "{bytes}"
    );
    assert_eq!(bytes["width"], 800, "{bytes}");
    let urls = bytes["urls"].as_array().unwrap();
    assert!(
        urls.iter().all(|u| u.as_str().unwrap().ends_with("/phone")),
        "only the small copy: {bytes}"
    );
    assert!(
        bytes["bytes"][0].as_u64().unwrap() <= PHONE_TARGET_BYTES as u64,
        "{bytes}"
    );
    println!("phone image bytes over the wire: {}", bytes["bytes"][0]);
    blocking.extend(crate::browser::axe_blocking(&phone, &axe, "phone with an image").await);
    phone.screenshot("image-phone-390x844").await;
    host.screenshot("image-host-1366x768").await;
    for b in [host, screen, phone] {
        b.close().await;
    }
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
}

/// Slides whose images stand beside their text (`{naast}`) and under it (`{onder}`):
/// the beside content slide has as much text as fits beside an image without a
/// warning (the heading and four paragraphs of three half-width lines).
const PLACED_DECK: &str = "## Waar de raden werken

Zeven wijk- en dorpsraden, elk met een eigen werkwijze, budget en eigen leden.

De raden adviseren het college over hun kern en voeren kleine projecten uit.

In 2015 besloot de raad de werkwijze gebiedsgericht te maken, met contacten.

Het onderzoek liep van 2015 tot en met 2018 en keek naar alle raden samen.

![Staafdiagram van de zeven raden](grafiek.png){naast}

---

## Eén werkwijze voor alle raden?

![Staafdiagram van de zeven raden](grafiek.png){naast}

A) ja, één werkwijze
B) nee, maatwerk per raad

---

## Waar de wijkraden actief zijn

Zeven wijk- en dorpsraden, elk met een eigen werkwijze.

![Staafdiagram van de zeven raden](grafiek.png){onder}

---

## Eén werkwijze voor alle raden?

![Staafdiagram van de zeven raden](grafiek.png){onder}

A) ja, één werkwijze
B) nee, maatwerk per raad
";

/// Script: the placed image loaded, and the boxes to hold against each other: the
/// picture as painted (scaled into its box by `object-fit`, centred), the text (the
/// slide and its options), the stage and the window.
const PLACED_BOXES: &str = "
const stage = document.getElementById('stage');
const img = stage.querySelector(':scope > .fig img');
if (!img || !img.complete || !img.naturalWidth) return null;
const b = img.getBoundingClientRect(), s = stage.getBoundingClientRect();
const fit = getComputedStyle(img).objectFit;
const k = fit === 'contain' ? Math.min(b.width / img.naturalWidth, b.height / img.naturalHeight) : null;
const w = k ? img.naturalWidth * k : b.width, h = k ? img.naturalHeight * k : b.height;
const pos = getComputedStyle(img).objectPosition;
const left = b.left + (b.width - w) / 2, top = b.top + (b.height - h) / 2;
const texts = [...document.querySelectorAll('#slide, #cols')].filter((e) => e.getClientRects().length && e.textContent.trim())
  .map((e) => e.getBoundingClientRect());
const text = [Math.min(...texts.map((r) => r.left)), Math.min(...texts.map((r) => r.top)),
              Math.max(...texts.map((r) => r.right)), Math.max(...texts.map((r) => r.bottom))];
const slide = document.getElementById('slide');
return { layout: stage.dataset.layout, fit: Number(stage.dataset.fit), position: pos,
         picture: [left, top, left + w, top + h], text, stage: [s.left, s.top, s.right, s.bottom],
         window: [innerWidth, innerHeight], aspect: [w / h, img.naturalWidth / img.naturalHeight],
         overflow: stage.scrollHeight > stage.clientHeight + 1 || stage.scrollWidth > stage.clientWidth + 1
                   || slide.scrollWidth > slide.clientWidth + 1,
         in_slide: !!slide.querySelector('img'), src: img.getAttribute('src') };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_beside_or_under_the_text_shows_whole_and_apart_from_it_at_every_size() {
    crate::browser::run(
        "an_image_beside_or_under_the_text_shows_whole_and_apart_from_it_at_every_size",
        placed_images,
    )
    .await;
}

async fn placed_images(tools: crate::browser::harness::Tools) {
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let (_server, mut control, _driver, [host, screen, phone]) =
        room_with_chart(&tools, PLACED_DECK).await;
    let mut blocking = vec![];
    for (slide, layout) in [(0, "beside"), (1, "beside"), (2, "under"), (3, "under")] {
        control
            .send(serde_json::json!({"type": "go_to", "slide": slide}))
            .await;
        if slide % 2 == 1 {
            control.send(serde_json::json!({"type": "open_vote"})).await;
        }
        for (w, h) in [(1920, 1080), (1280, 720), (1024, 768)] {
            screen.viewport(w, h).await;
            let when = format!("slide {slide} ({layout}) at {w}×{h}");
            let seen = screen
                .wait(
                    "the placed image loaded and the stage fitted",
                    &format!(
                        "if (!document.body.dataset.view.startsWith('{slide}:')) return null;
                         const m = (() => {{ {PLACED_BOXES} }})();
                         return m && m.layout === '{layout}' && m.window[0] === {w} && m.window[1] === {h} ? m : null;"
                    ),
                )
                .await;
            let num = |v: &serde_json::Value| v.as_f64().unwrap();
            let rect = |key: &str| -> [f64; 4] { std::array::from_fn(|i| num(&seen[key][i])) };
            let (picture, text, stage) = (rect("picture"), rect("text"), rect("stage"));
            assert_eq!(
                seen["in_slide"], false,
                "{when}: the image left the text: {seen}"
            );
            assert!(seen["src"]
                .as_str()
                .unwrap()
                .ends_with("/grafiek.png/screen"));
            // Whole: inside the stage and the window.
            assert!(
                picture[0] >= stage[0] - 1.0
                    && picture[1] >= stage[1] - 1.0
                    && picture[2] <= stage[2] + 1.0
                    && picture[3] <= stage[3] + 1.0
                    && picture[2] <= f64::from(w)
                    && picture[3] <= f64::from(h),
                "{when}: the picture is cut off: {seen}"
            );
            // Not distorted: painted at the file's own shape.
            let (painted, natural) = (num(&seen["aspect"][0]), num(&seen["aspect"][1]));
            assert!(
                (painted / natural - 1.0).abs() < 0.01,
                "{when}: stretched: {seen}"
            );
            // Apart from the text: beside it on the right, or under it.
            if layout == "beside" {
                assert!(picture[0] >= text[2] - 1.0, "{when}: over the text: {seen}");
                assert!(
                    picture[2] - picture[0]
                        >= (stage[2] - stage[0]) / 2.0 - 2.0 - f64::from(w) * 0.03,
                    "{when}: the picture takes its half: {seen}"
                );
            } else {
                assert!(picture[1] >= text[3] - 1.0, "{when}: over the text: {seen}");
                assert!(
                    picture[3] - picture[1] >= (stage[3] - stage[1]) / 3.0,
                    "{when}: too small to read: {seen}"
                );
            }
            // The text whole, at the minimum size or larger.
            assert_eq!(seen["overflow"], false, "{when}: {seen}");
            assert!(
                num(&seen["fit"]) >= 1.0,
                "{when}: text below the minimum: {seen}"
            );
            crate::browser::check_screen(&screen, &when).await;
            screen
                .screenshot(&format!("image-{layout}-slide{slide}-{w}x{h}"))
                .await;
        }
        blocking.extend(
            crate::browser::axe_blocking(&screen, &axe, &format!("screen, {layout} slide {slide}"))
                .await,
        );
        // The host's preview and the phone place the image too, the phone's small copy.
        let host_fig = host
            .wait(
                "the host's preview places the image",
                &format!("const f = document.querySelector('#preview > .fig.{layout} img'); return f && f.complete && f.naturalWidth ? f.getAttribute('src') : null;"),
            )
            .await;
        assert!(
            host_fig.as_str().unwrap().ends_with("/screen"),
            "{host_fig}"
        );
        let phone_fig = phone
            .wait(
                "the phone places the image",
                &format!("const f = document.querySelector('#slide > .fig.{layout} img'); return f && f.complete && f.naturalWidth ? f.getAttribute('src') : null;"),
            )
            .await;
        assert!(
            phone_fig.as_str().unwrap().ends_with("/phone"),
            "{phone_fig}"
        );
        if slide == 1 {
            // A statement with its image beside: on a phone's narrow width the image
            // stands above the options, and the vote buttons are the full width.
            let vote = phone
                .js("const i = document.querySelector('#slide > .fig img').getBoundingClientRect();
                     const b = document.querySelector('#options button').getBoundingClientRect();
                     return { image_bottom: i.bottom, button_top: b.top, button_width: b.width, width: innerWidth };")
                .await;
            assert!(
                vote["image_bottom"].as_f64().unwrap()
                    <= vote["button_top"].as_f64().unwrap() + 1.0,
                "{vote}"
            );
            phone.screenshot("image-beside-phone-390x844").await;
            host.screenshot("image-beside-host-1366x768").await;
        }
    }
    blocking.extend(crate::browser::axe_blocking(&phone, &axe, "phone with a placed image").await);
    for b in [host, screen, phone] {
        b.close().await;
    }
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));
}

#[tokio::test]
async fn the_console_uploads_a_decks_images_and_bad_files_are_refused_naming_them() {
    let server = TestServer::start_console().await;
    let console = crate::api::Console::log_in(&server).await;
    let (status, checked) = console
        .call(
            "POST",
            "/api/check",
            Some(serde_json::json!({"name": "wijk.md", "source": DECK})),
        )
        .await;
    assert_eq!(status, 200, "{checked}");
    let key = stemzaal::core::deck::media_key(DECK);
    assert_eq!(
        checked["images"],
        serde_json::json!({"key": key, "files": ["kaart.png", "plein.jpg"]})
    );
    let origin = format!("http://{}", server.addr);
    let put = |path: String, bytes: Vec<u8>, lang: &'static str| {
        let (cookie, origin) = (console.cookie.clone(), origin.clone());
        async move {
            let headers = [
                ("Cookie", cookie.as_str()),
                ("Origin", origin.as_str()),
                ("Content-Type", "application/octet-stream"),
                ("Accept-Language", lang),
            ];
            let (status, _, body) = http_request(server.addr, "PUT", &path, &headers, &bytes).await;
            (
                status,
                serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let (status, stored) = put(format!("/api/images/{key}/kaart.png"), png(1200, 700), "nl").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        (stored["width"].clone(), stored["height"].clone()),
        (1200.into(), 700.into())
    );
    let (status, _, _) =
        http_get_bytes(server.addr, &format!("/media/{key}/kaart.png/phone"), &[]).await;
    assert_eq!(status, 200);

    let refused = [
        (
            "a truncated JPEG",
            "plein.jpg",
            jpeg(200, 150)[..2000].to_vec(),
            422,
            "plein.jpg: the image cannot be read",
        ),
        (
            "a PNG of 20,000×20,000",
            "plein.jpg",
            png_header(20_000, 20_000),
            422,
            "plein.jpg: the image is 20000×20000 pixels",
        ),
        (
            "an SVG with a script",
            "plein.jpg",
            b"<svg onload=\"alert(1)\"/>".to_vec(),
            422,
            "plein.jpg: the file is not a PNG, JPEG or WebP image",
        ),
        (
            "an SVG by name",
            "kaart.svg",
            png(10, 10),
            422,
            "kaart.svg: `kaart.svg` is an SVG file",
        ),
        (
            "a path out of the folder",
            "..%2Fgeheim.png",
            png(10, 10),
            422,
            "must be a file name beside the deck",
        ),
        (
            "over 10 MiB",
            "plein.jpg",
            vec![0; 10 * 1024 * 1024 + 1],
            413,
            "at most 10 MiB",
        ),
    ];
    for (what, file, bytes, code, message) in refused {
        let (status, answer) = put(format!("/api/images/{key}/{file}"), bytes, "en").await;
        assert_eq!(status, code, "{what}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "{what}: {answer}"
        );
    }

    // A zip of the deck and its images: the images stored, the Markdown and macOS's
    // copies left out; a path out of the folder refuses the whole zip, naming it.
    let zipped = |files: &[(&str, Vec<u8>)]| {
        let mut bytes = Vec::new();
        let mut zip = zip::ZipWriter::new(Cursor::new(&mut bytes));
        for (name, data) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut zip, data).unwrap();
        }
        zip.finish().unwrap();
        bytes
    };
    let good = zipped(&[
        ("deck.md", DECK.as_bytes().to_vec()),
        ("kaart.png", png(1000, 600)),
        ("plein.jpg", jpeg(1000, 600)),
        ("__MACOSX/._kaart.png", vec![0; 10]),
    ]);
    let (status, stored) = put(format!("/api/images/{key}"), good, "nl").await;
    assert_eq!(status, 200, "{stored}");
    let files: Vec<&str> = stored["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["kaart.png", "plein.jpg"]);
    let (status, _, _) =
        http_get_bytes(server.addr, &format!("/media/{key}/plein.jpg/screen"), &[]).await;
    assert_eq!(status, 200);
    let evil = zipped(&[("kaart.png", png(10, 10)), ("../geheim.png", png(10, 10))]);
    let (status, answer) = put(format!("/api/images/{key}"), evil, "en").await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("../geheim.png: a zip of a deck's images holds its files side by side"),
        "{answer}"
    );
    let (status, answer) = put(format!("/api/images/{key}"), b"geen zip".to_vec(), "nl").await;
    assert_eq!(status, 422, "{answer}");

    let (status, answer) = put("/api/images/nokey/kaart.png".into(), png(10, 10), "nl").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("image_invalid")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_sends_the_images_chosen_beside_the_editor() {
    crate::browser::run(
        "the_console_sends_the_images_chosen_beside_the_editor",
        console_images,
    )
    .await;
}

async fn console_images(tools: crate::browser::harness::Tools) {
    use crate::browser::harness::{Browser, Driver};
    let axe = std::fs::read_to_string(&tools.axe).expect("read axe.min.js");
    let server = TestServer::start_console().await;
    let driver = Driver::start(&tools).await;
    let admin = Browser::open(&driver, server.addr, "console", (1440, 1000)).await;
    admin.goto(&server.url("/admin")).await;
    crate::console::log_in(&admin).await;
    // The editor's text, set as a paste would (typing it would take long).
    admin
        .js(&format!(
            "const s = document.getElementById('source'); s.value = {}; s.dispatchEvent(new Event('input', {{ bubbles: true }})); return true;",
            crate::browser::js_str(DECK)
        ))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (kaart, plein) = (dir.path().join("kaart.png"), dir.path().join("plein.jpg"));
    std::fs::write(&kaart, png(1200, 700)).unwrap();
    std::fs::write(&plein, jpeg(1200, 700)).unwrap();
    let choose = |files: String| {
        let client = admin.client.clone();
        async move {
            client
                .find(fantoccini::Locator::Css("#images"))
                .await
                .expect("the file input")
                .send_keys(&files)
                .await
                .expect("choose the files");
        }
    };
    choose(format!("{}\n{}", kaart.display(), plein.display())).await;
    admin
        .wait(
            "the images stored",
            "return document.getElementById('images-status').textContent === 'Opgeslagen: kaart.png, plein.jpg.';",
        )
        .await;
    let key = stemzaal::core::deck::media_key(DECK);
    for name in ["kaart.png", "plein.jpg"] {
        let path = format!("/media/{key}/{name}/screen");
        let (status, _, _) = http_get_bytes(server.addr, &path, &[]).await;
        assert_eq!(status, 200, "{path}");
    }
    let blocking = crate::browser::axe_blocking(&admin, &axe, "console with images").await;
    assert!(blocking.is_empty(), "{}", blocking.join("\n"));

    // An SVG by another name is refused, and the page names the file.
    std::fs::write(&plein, b"<svg onload=\"alert(1)\"/>").unwrap();
    choose(plein.display().to_string()).await;
    admin
        .wait(
            "the refusal",
            "const s = document.getElementById('images-status'); return s.classList.contains('error') && s.textContent.startsWith('plein.jpg: het bestand is geen PNG-');",
        )
        .await;
    admin.screenshot("console-images-1440x1000").await;
    admin.close().await;
}
