//! The printable sheet of voting cards: A4 pages with cut lines, each card with the
//! session's title, the QR code of its join link, the code to type and how to use it.
//! Built with `maud`, which escapes every inserted text; the QR code's SVG is the one
//! markup put in as it is.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::core::cards::display;

/// Cards per printed A4 page: two columns of four, each about a business card.
pub const CARDS_PER_PAGE: usize = 8;

/// The sheet for `cards` of the session titled `title`, whose phones join at
/// `join_url`; `qr` draws a link as SVG.
pub fn sheet(title: &str, join_url: &str, cards: &[String], qr: impl Fn(&str) -> String) -> String {
    let count = cards.len();
    html! {
        (DOCTYPE)
        html lang="nl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Stemkaarten — " (title) }
                link rel="stylesheet" href="/assets/css/base.css";
                link rel="stylesheet" href="/assets/css/cards.css";
            }
            body {
                main {
                    h1.screen-only { "Stemkaarten — " (title) }
                    p.screen-only {
                        (count) " kaarten. Print op A4 en knip langs de lijnen. "
                        span lang="en" { (count) " cards. Print on A4 and cut along the lines." }
                    }
                    @for page in cards.chunks(CARDS_PER_PAGE) {
                        section.page {
                            @for card in page {
                                (card_markup(title, join_url, card, &qr))
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// One card: the title, the QR code of the join link with the card, and the code.
fn card_markup(title: &str, join_url: &str, card: &str, qr: impl Fn(&str) -> String) -> Markup {
    let typed = display(card);
    let svg = qr(&format!("{join_url}#kaart={card}"));
    html! {
        article.card aria-label={ "Stemkaart " (typed) } {
            p.title { (title) }
            div.qr role="img" aria-label={ "QR-code van stemkaart " (typed) } {
                // The SVG comes from the QR encoder, not from a user: shapes, no text.
                (PreEscaped(without_prolog(&svg)))
            }
            div.text {
                p.code { (typed) }
                p.url { (join_url) }
                p.how {
                    "Scan de QR-code met je telefoon, of open de link en typ de code. \
                     Eén kaart is één stem."
                }
                p.how-en lang="en" {
                    "Scan the QR code with your phone, or open the link and type the code. \
                     One card is one vote."
                }
            }
        }
    }
}

/// An SVG document as an element to put inside HTML: without its XML declaration.
fn without_prolog(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, element)| element),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cards(count: usize) -> Vec<String> {
        let mut next = 0;
        crate::core::cards::generate(count, |len| {
            next += 7;
            next % len
        })
    }

    #[test]
    fn the_sheet_escapes_the_title_and_prints_every_card() {
        let cards = cards(9);
        let html = sheet("<b>Raad</b>", "http://h/ABCDEF", &cards, |_| {
            "<svg></svg>".into()
        });
        assert!(!html.contains("<b>Raad"));
        assert!(html.contains("&lt;b&gt;Raad"));
        assert_eq!(html.matches("<svg>").count(), 9);
        assert_eq!(html.matches("class=\"page\"").count(), 2);
        assert!(html.contains(&display(&cards[8])));
    }

    #[test]
    fn each_card_links_to_the_join_page_with_its_code_and_without_the_xml_prolog() {
        let cards = cards(1);
        let html = sheet("Raad", "http://h/ABCDEF", &cards, |link| {
            format!("<?xml version=\"1.0\"?><svg data-link=\"{link}\"></svg>")
        });
        assert!(!html.contains("<?xml"));
        let link = format!("<svg data-link=\"http://h/ABCDEF#kaart={}\">", cards[0]);
        assert!(html.contains(&link), "{html}");
        let typed = display(&cards[0]);
        assert!(html.contains(&format!("aria-label=\"Stemkaart {typed}\"")));
        assert!(html.contains("<p class=\"code\">"));
    }
}
