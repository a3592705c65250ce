//! The participant page as the first response brings it: the deck's title, the slide
//! on show and its options rendered by the server, and the phones' `state` in a JSON
//! block, so a phone on a slow link shows the statement at once and takes a tap before
//! its socket is open (the page's script sends it when it is).

use maud::{html, Markup, PreEscaped};
use serde_json::Value;

/// The empty parts of `participant.html` that the server fills.
const TITLE: &str = r#"<h1 id="title" class="deck"></h1>"#;
const SLIDE: &str = r#"<div id="slide" class="slide"></div>"#;
const OPTIONS: &str = r#"<div id="options" class="options" role="group" data-i18n-aria-label="part.options_label" hidden></div>"#;
const BODY_END: &str = "</body>";

/// The one inline script of a page: it takes a tap on an option before the page's own
/// scripts have arrived (on a slow link they come a second later), marks it, and
/// leaves it in `#options[data-tap]` for `participant.js` to send. Allowed by its hash
/// in [`csp`], not by `'unsafe-inline'`.
const TAP: &str = "(()=>{const o=document.getElementById('options');\
o.addEventListener('click',e=>{const b=e.target.closest('button[data-i]');\
if(!b||b.disabled||o.dataset.live)return;o.dataset.tap=b.dataset.i;\
for(const x of o.children)x.setAttribute('aria-pressed',String(x===b));\
b.classList.add('sending')});\
if(!o.hidden&&o.querySelector('button[data-i]:not([disabled])'))performance.mark('votable')})()";

/// The Content-Security-Policy of a participant page the server rendered: the
/// product's, with the hash of [`TAP`] as the one script allowed inline.
pub(crate) fn csp() -> &'static str {
    static CSP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(TAP));
        super::CSP.replacen(
            "script-src 'self'",
            &format!("script-src 'self' 'sha256-{hash}'"),
            1,
        )
    });
    &CSP
}

/// `template` (participant.html) with the title, the slide and its options of `state`
/// (the phones' `state` message) filled in, and `state` itself for the script. A
/// template without the expected parts is returned as it is.
pub(crate) fn participant_page(template: &str, title: &str, lang: &str, state: &str) -> String {
    let Ok(view) = serde_json::from_str::<Value>(state) else {
        return template.to_owned();
    };
    if ![TITLE, SLIDE, OPTIONS, BODY_END]
        .iter()
        .all(|part| template.contains(part))
    {
        return template.to_owned();
    }
    let slide = &view["slide"];
    let title = html! { h1 #title.deck lang=(lang) { (title) } };
    let html = slide["html"].as_str().unwrap_or_default();
    let content = html! { div #slide.slide lang=(lang) { (PreEscaped(html)) } };
    // A `</` inside a string would end the script element: JSON allows `<\/` for it.
    let tap = format!("<script>{TAP}</script>");
    let data = state.replace("</", "<\\/");
    let boot = format!(r#"<script type="application/json" id="boot">{data}</script>{BODY_END}"#);
    template
        .replacen(TITLE, &title.into_string(), 1)
        .replacen(SLIDE, &content.into_string(), 1)
        .replacen(OPTIONS, &(options(slide, lang).into_string() + &tap), 1)
        .replacen(BODY_END, &boot, 1)
}

/// The options as the page's script draws them: letters, or a scale's points; enabled
/// only while the vote is open.
fn options(slide: &Value, lang: &str) -> Markup {
    let texts: Vec<&str> = slide["options"]
        .as_array()
        .map(|o| o.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let scale = slide["scale"] == true;
    let closed = slide["phase"] != "open";
    let count = texts.len();
    html! {
        div #options.options.scale[scale] role="group" aria-label="Keuzes"
            data-i18n-aria-label="part.options_label" lang=(lang)
            hidden[texts.is_empty()] style=(format!("--n: {count}")) {
            @for (i, text) in texts.iter().enumerate() {
                @if scale {
                    @let label = if text.is_empty() {
                        format!("{} van {count}", i + 1)
                    } else {
                        format!("{} van {count}: {text}", i + 1)
                    };
                    button.opt.pt type="button" data-i=(i) aria-label=(label) disabled[closed] {
                        span.num { (i + 1) }
                    }
                } @else {
                    button.opt type="button" data-i=(i) disabled[closed] {
                        span.letter { (letter(i)) }
                        span.otext { (text) }
                    }
                }
            }
        }
    }
}

fn letter(i: usize) -> char {
    char::from(b'A' + (i as u8 % 26))
}
