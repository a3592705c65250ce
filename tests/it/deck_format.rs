//! The deck format as `docs/deck-format.md` describes it, held against the parser's
//! public API: the built-in deck, every error a facilitator can make, safe rendering.

use proptest::prelude::*;
use stemzaal::core::deck::LineError;
use stemzaal::core::deck::{
    fit_context_lines, fit_option_chars, fit_point_chars, parse, render_markdown, Deck, DeckError,
    Layout, Results, SlideKind, StructureChange, FIT_BESIDE_LINES, FIT_CONTENT_BLOCKS,
    FIT_CONTENT_LINES, FIT_CONTENT_TITLE_CHARS, FIT_LINE_CHARS, FIT_TITLE_CHARS,
    FIT_TOP_TITLE_CHARS, MAX_OPTIONS, MAX_SLIDES, MAX_SOURCE_BYTES, PROBLEMS, SCALE_POINTS,
};

/// The errors of a deck that must not parse, as (line, message) pairs.
fn errors_of(text: &str) -> Vec<(usize, String)> {
    match parse("test.md", text) {
        Ok(deck) => panic!("expected errors, got a deck: {deck:#?}"),
        Err(err) => err
            .errors
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect(),
    }
}

/// Asserts that the deck has exactly one error, on `line`, whose message contains `word`.
fn assert_single_error(text: &str, line: usize, word: &str) {
    let errors = errors_of(text);
    assert_eq!(errors.len(), 1, "one error expected: {errors:#?}");
    assert_eq!(errors[0].0, line, "wrong line: {errors:#?}");
    assert!(
        errors[0].1.contains(word),
        "message should mention {word:?}: {:?}",
        errors[0].1
    );
}

fn parse_ok(text: &str) -> Deck {
    parse("test.md", text).unwrap_or_else(|e| panic!("deck should parse:\n{e}"))
}

/// Text a reader sees on a slide: tags out, entities decoded, whitespace collapsed, and
/// the arrow the deck restores (the seed lost it to a double space) read as a space.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    normalize(&text)
}

fn normalize(text: &str) -> String {
    text.replace('→', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// The built-in deck

#[test]
fn default_deck_has_sixteen_slides_and_four_statements_where_the_seed_has_them() {
    let deck = Deck::default_deck();
    assert_eq!(deck.slides.len(), 16);
    let statements: Vec<usize> = (0..deck.slides.len())
        .filter(|&i| deck.options(i).is_some())
        .collect();
    assert_eq!(statements, vec![3, 6, 10, 13]);
    for &i in &statements {
        assert_eq!(deck.options(i).unwrap().len(), 2, "slide {i}");
    }
}

#[test]
fn the_default_decks_approach_slide_shows_the_studys_design_beside_its_methods() {
    let deck = Deck::default_deck();
    let slide = &deck.slides[1];
    assert_eq!(slide.title, "Aanpak");
    assert_eq!(slide.images, ["opzet-onderzoek.png"]);
    assert_eq!(slide.layout, Layout::Beside);
    assert_eq!(
        deck.images(),
        ["opzet-onderzoek.png"],
        "the deck's one figure"
    );
    // Its alt text says what the figure shows: the seed's four questions and methods.
    for words in [
        "vier onderzoeksvragen",
        "vier methoden",
        "deskresearch",
        "burgerpanel",
        "interviews",
        "lessen voor de toekomst",
    ] {
        assert!(slide.html.contains(words), "{words}: {}", slide.html);
    }
    assert!(
        deck.warnings.iter().all(|w| !w.code.starts_with("image")),
        "{:#?}",
        deck.warnings
    );
    // The file beside the deck is the one built in, and it is a large enough PNG.
    let (name, bytes) = stemzaal::core::deck::DEFAULT_DECK_IMAGES[0];
    assert_eq!(name, "opzet-onderzoek.png");
    let image = stemzaal::web::images::prepare(name, bytes).expect("a valid image");
    assert_eq!((image.width, image.height), (1200, 1640));
    assert_eq!(image.screen.content_type, "image/png");
}

#[test]
fn default_deck_statement_options_are_the_seeds() {
    let deck = Deck::default_deck();
    let expect = [
        (
            3,
            "maatwerk is belangrijker",
            "kan alleen met een vaste werkwijze",
        ),
        (
            6,
            "activeren van inwoners",
            "ondersteunen van de actieve inwoners",
        ),
        (10, "vooral voor de wijk", "voor alle inwoners"),
        (
            13,
            "contact te houden met de gemeenschap",
            "gebiedspecifieke informatie",
        ),
    ];
    for (index, a, b) in expect {
        let options = deck.options(index).unwrap();
        assert!(options[0].contains(a), "slide {index} A: {:?}", options[0]);
        assert!(options[1].contains(b), "slide {index} B: {:?}", options[1]);
    }
    // Wrapped options are joined with one space, as the seed wraps them.
    assert_eq!(
        deck.options(3).unwrap()[0],
        "maatwerk is belangrijker dan vastgelegde procedures en jaarlijkse rapportages"
    );
}

#[test]
fn default_deck_statements_carry_their_finding_as_context_heading() {
    let deck = Deck::default_deck();
    assert_eq!(
        deck.slides[3].title,
        "Ambitie uitgesproken in coalitieprogramma; aanpak is ‘beleidsarm’"
    );
    assert!(deck.slides[3].html.contains("<h2>"));
    assert_eq!(deck.slides[13].title, deck.slides[12].title);
}

#[test]
fn default_deck_groups_and_title_come_from_its_front_matter() {
    let deck = Deck::default_deck();
    assert_eq!(
        deck.groups,
        [
            "Raadslid",
            "Ambtenaar",
            "Wijk- of dorpsraad",
            "Inwoner",
            "Anders"
        ]
    );
    assert!(deck.title.starts_with("Gebiedsgericht werken"));
    assert_eq!(deck.source_name, "gebiedsgericht-werken.md");
}

#[test]
fn research_question_slide_has_all_four_questions_and_the_betrokkenen_footnote() {
    let deck = Deck::default_deck();
    let slide = &deck.slides[0];
    assert_eq!(slide.title, "Onderzoeksvragen");
    let text = visible_text(&slide.html);
    for question in [
        "Hoe is het beleid rondom gebiedsgericht werken vormgegeven?",
        "Wat zijn de ervaringen van de intern en extern betrokkenen* met de gebiedsgerichte aanpak?",
        "Wat zijn de resultaten en opbrengsten van gebiedsgericht werken en staan deze in \
         verhouding met de kosten van gebiedsgericht werken?",
        "Wat zijn de lessen voor de toekomst?",
        "Focus: Deze raadsperiode",
    ] {
        assert!(text.contains(question), "missing {question:?} in {text}");
    }
    assert_eq!(slide.html.matches("<li>").count(), 4);
    // The footnote is the last thing on the slide, not a list item.
    assert!(text.ends_with(
        "* college, raad, team wijkzaken, IBOR, vakafdelingen, dorps- en wijkraden, \
         kernraden, inwoners (‘achterban’), maatschappelijke partners (politie, welzijnswerk, \
         woningcorporatie) en eventuele andere relevante partners"
    ));
}

/// The seed document the default deck was written from (a PDF text extraction of the
/// slides), kept in the repository beside the deck so these checks always run.
const SEED: &str = include_str!("../../decks/seeds/gebiedsgericht-werken-slides.txt");

/// The seed's pages, each as its lines, untrimmed.
fn seed_pages() -> Vec<Vec<String>> {
    // The extraction starts each page with one space before a capital, a digit or a
    // bullet; continuation lines inside a page never do (the quote's lines start with
    // `‘` or a lower-case letter).
    let mut pages: Vec<Vec<String>> = Vec::new();
    for line in SEED.lines() {
        let starts_page = line.strip_prefix(' ').is_some_and(|rest| {
            rest.chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || c == '•')
        });
        if starts_page || pages.is_empty() {
            pages.push(Vec::new());
        }
        pages.last_mut().unwrap().push(line.to_string());
    }
    pages
}

fn is_seed_option(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 2 && b[0].is_ascii_uppercase() && b[1] == b')'
}

/// The bullets of a seed page, each joined with its continuation lines. The extraction
/// scattered blank lines inside bullets, so a bullet runs to the next bullet or option.
fn bullets_of(page: &[String]) -> Vec<String> {
    let mut bullets = Vec::new();
    let mut current: Option<String> = None;
    for line in page {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('•') {
            bullets.extend(current.take());
            current = Some(rest.to_string());
        } else if is_seed_option(line) {
            bullets.extend(current.take());
        } else if let Some(bullet) = current.as_mut() {
            bullet.push(' ');
            bullet.push_str(line);
        }
    }
    bullets.extend(current);
    bullets.iter().map(|b| normalize(b)).collect()
}

#[test]
fn every_bullet_of_the_seed_is_on_the_matching_slide_of_the_default_deck() {
    let pages = seed_pages();
    let deck = Deck::default_deck();
    assert_eq!(pages.len(), deck.slides.len(), "one slide per seed page");
    let mut checked = 0;
    for (i, (page, slide)) in pages.iter().zip(&deck.slides).enumerate() {
        let text = visible_text(&slide.html);
        for bullet in bullets_of(page) {
            assert!(
                text.contains(&bullet),
                "slide {i} lacks the seed's bullet {bullet:?}\nslide text: {text}"
            );
            checked += 1;
        }
    }
    // Guards the extraction above: a broken splitter must not pass by finding nothing.
    assert_eq!(checked, 38, "bullets found in the seed");
}

#[test]
fn every_slide_says_exactly_what_its_seed_page_says() {
    let pages = seed_pages();
    let deck = Deck::default_deck();
    assert_eq!(pages.len(), deck.slides.len(), "one slide per seed page");
    // Headings the seed's first two pages show only by their layout.
    let added_headings = ["Onderzoeksvragen", "Aanpak"];
    for (i, (page, slide)) in pages.iter().zip(&deck.slides).enumerate() {
        let seed_text = page
            .iter()
            .map(|l| {
                let l = l.trim().trim_start_matches('•');
                // List numbers are the list's markup on the slide, not its text.
                match l.split_once(". ") {
                    Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => rest,
                    _ => l,
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut expected = normalize(&seed_text);
        if let Some(heading) = added_headings.get(i) {
            expected = format!("{heading} {expected}");
        }
        let mut shown = visible_text(&slide.html);
        if let SlideKind::Statement { options } = &slide.kind {
            for (letter, option) in ('A'..).zip(options) {
                shown = format!("{shown} {letter}) {option}");
            }
        }
        assert_eq!(shown, expected, "slide {i} differs from its seed page");
    }
}

// ---------------------------------------------------------------------------------------
// Structure

#[test]
fn a_minimal_deck_has_one_content_slide_titled_by_its_first_line() {
    let deck = parse_ok("Welkom bij de *raadsavond*\n");
    assert_eq!(deck.slides.len(), 1);
    assert_eq!(deck.slides[0].kind, SlideKind::Content);
    assert_eq!(deck.slides[0].title, "Welkom bij de raadsavond");
    assert_eq!(deck.slides[0].line, 1);
    assert_eq!(
        deck.title, "test.md",
        "no front matter: the source name is the title"
    );
    assert!(deck.groups.is_empty());
}

#[test]
fn slide_lines_point_at_each_slides_first_text() {
    let deck = parse_ok("---\ntitle: T\n---\n\n# Een\n---  \n\n\n## Twee\ntekst\n---\nDrie\n");
    let lines: Vec<usize> = deck.slides.iter().map(|s| s.line).collect();
    assert_eq!(lines, [5, 9, 12]);
    let titles: Vec<&str> = deck.slides.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Een", "Twee", "Drie"]);
}

#[test]
fn a_heading_anywhere_on_the_slide_beats_the_first_line_as_title() {
    let deck = parse_ok("Inleiding\n\n## De **kern** van `zaak`\n");
    assert_eq!(deck.slides[0].title, "De kern van zaak");
}

#[test]
fn long_titles_are_cut_with_an_ellipsis() {
    let deck = parse_ok(&format!("## {}\n", "lang ".repeat(40)));
    let title = &deck.slides[0].title;
    assert!(title.ends_with('…'), "{title}");
    assert!(title.chars().count() <= 80, "{title}");
    let full = &deck.slides[0].full_title;
    assert_eq!(
        full,
        "lang ".repeat(40).trim_end(),
        "the report gets it whole"
    );
}

#[test]
fn leading_and_trailing_empty_slides_are_ignored() {
    let deck = parse_ok("\n---\n \n---\nEen\n---\nTwee\n---\n\n---\n   \n");
    assert_eq!(deck.slides.len(), 2);
    let deck = parse_ok("---\ngroups: a\n---\n---\nEen\n");
    assert_eq!(deck.slides.len(), 1);
}

#[test]
fn windows_line_endings_and_a_byte_order_mark_are_accepted() {
    let deck = parse_ok(
        "\u{feff}---\r\ntitle: Raad\r\n---\r\n## S\r\n\r\nA) ja\r\nB) nee\r\n  en toch\r\n",
    );
    assert_eq!(deck.title, "Raad");
    assert_eq!(deck.options(0).unwrap(), ["ja", "nee en toch"]);
}

#[test]
fn front_matter_sets_title_and_groups_in_order() {
    let deck = parse_ok(
        "---\ntitle:  Raadsavond: wonen \n\ngroups: Raadslid, Ambtenaar ,Inwoner\n---\nHallo\n",
    );
    assert_eq!(deck.title, "Raadsavond: wonen");
    assert_eq!(deck.groups, ["Raadslid", "Ambtenaar", "Inwoner"]);
}

// ---------------------------------------------------------------------------------------
// Statements

#[test]
fn a_slide_with_a_and_b_lines_is_a_statement_whose_context_is_the_text_above() {
    let deck = parse_ok("## Stelling\n\nDe raad *moet* kiezen.\n\nA) ja\nB) nee\n");
    let slide = &deck.slides[0];
    assert_eq!(slide.title, "Stelling");
    assert_eq!(deck.options(0).unwrap(), ["ja", "nee"]);
    assert!(slide.html.contains("<em>moet</em>"), "{}", slide.html);
    assert!(
        !slide.html.contains("ja"),
        "options are not part of the context html"
    );
}

#[test]
fn a_statement_may_have_a_third_option_c() {
    let deck = parse_ok("Kies\n\nA) een\nB) twee\nC) drie\n");
    assert_eq!(deck.options(0).unwrap(), ["een", "twee", "drie"]);
}

#[test]
fn a_statement_may_have_max_options_options() {
    let options: String = ('A'..)
        .take(MAX_OPTIONS)
        .map(|c| format!("{c}) optie {c}\n"))
        .collect();
    let deck = parse_ok(&format!("Kies\n\n{options}"));
    assert_eq!(deck.options(0).unwrap().len(), MAX_OPTIONS);
    assert_eq!(deck.options(0).unwrap()[MAX_OPTIONS - 1], "optie H");
}

#[test]
fn option_continuation_lines_are_joined_with_one_space_until_a_blank_line() {
    let deck = parse_ok(
        "Stelling\n\nA) maatwerk is belangrijker dan\n   vastgelegde procedures\nen rapportages\n\n\n\nB) een vaste\nwerkwijze\n",
    );
    assert_eq!(
        deck.options(0).unwrap(),
        [
            "maatwerk is belangrijker dan vastgelegde procedures en rapportages",
            "een vaste werkwijze"
        ]
    );
}

#[test]
fn option_text_may_start_on_the_line_after_its_letter() {
    let deck = parse_ok("S\n\nA)\nja\nB) nee\n");
    assert_eq!(deck.options(0).unwrap(), ["ja", "nee"]);
}

#[test]
fn a_statement_without_context_is_titled_by_its_first_option() {
    let deck = parse_ok("A) ja\nB) nee\n");
    assert_eq!(deck.slides[0].title, "A) ja");
    assert_eq!(deck.slides[0].html, "");
}

#[test]
fn lowercase_or_indented_letters_are_not_options() {
    let deck = parse_ok("a) klein\n B) ingesprongen\nC)vast\n");
    assert_eq!(deck.slides[0].kind, SlideKind::Content);
}

// ---------------------------------------------------------------------------------------
// Errors: each names its line and what was expected

#[test]
fn option_b_without_a_is_an_error_on_the_b_line() {
    assert_single_error("Stelling\n\nB) nee\nC) misschien\n", 3, "without `A)`");
}

#[test]
fn a_skipped_option_letter_is_an_error_on_the_line_after_the_gap() {
    assert_single_error("Stelling\nA) ja\nB) nee\nD) weet niet\n", 4, "skipped");
}

#[test]
fn a_duplicate_option_letter_is_an_error_on_its_second_use() {
    assert_single_error("Stelling\nA) ja\nB) nee\nB) toch ja\n", 4, "duplicate");
}

#[test]
fn a_single_option_is_an_error_on_its_line() {
    assert_single_error("## Stelling\n\nA) ja\n", 3, "at least two");
}

#[test]
fn an_option_without_text_is_an_error_on_its_line() {
    assert_single_error("Stelling\nA) ja\nB)   \n", 3, "no text");
}

#[test]
fn more_than_max_options_is_an_error_on_the_first_option_too_many() {
    let options: String = ('A'..)
        .take(MAX_OPTIONS + 2)
        .map(|c| format!("{c}) {c}\n"))
        .collect();
    // Slide text on line 1, options from line 2: the ninth option is on line 10.
    assert_single_error(
        &format!("Kies\n{options}"),
        MAX_OPTIONS + 2,
        "too many options",
    );
}

#[test]
fn text_after_the_options_is_an_error_saying_options_come_last() {
    let text = "Stelling\n\nA) ja\nB) nee\n\nNog een opmerking.\nEn nog een.\n";
    assert_single_error(text, 6, "options must come last");
}

#[test]
fn an_empty_slide_between_separators_is_an_error_on_its_opening_separator() {
    assert_single_error("Een\n---\n\n  \n---\nTwee\n", 2, "empty slide");
}

#[test]
fn a_deck_without_slides_is_an_error_on_line_1() {
    for text in ["", "\n\n", "---\ntitle: Leeg\n---\n", "\n---\n---\n \n"] {
        let errors = errors_of(text);
        assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
        assert_eq!(errors[0].0, 1, "{text:?}");
        assert!(errors[0].1.contains("no slides"), "{text:?}: {errors:?}");
    }
}

#[test]
fn an_unknown_front_matter_key_is_an_error_on_its_line() {
    assert_single_error("---\ntitle: T\nauthor: Jan\n---\nHallo\n", 3, "unknown");
}

#[test]
fn a_front_matter_line_without_colon_is_an_error_on_its_line() {
    assert_single_error("---\ntitle: T\nRaadslid, Inwoner\n---\nHallo\n", 3, "colon");
}

#[test]
fn a_duplicate_group_is_an_error_on_the_groups_line() {
    assert_single_error(
        "---\n\ngroups: Raadslid, Inwoner, raadslid\n---\nHallo\n",
        3,
        "twice",
    );
}

#[test]
fn an_empty_group_name_is_an_error_on_the_groups_line() {
    assert_single_error(
        "---\ngroups: Raadslid,, Inwoner\n---\nHallo\n",
        2,
        "empty group",
    );
    assert_single_error(
        "---\ngroups: Raadslid, Inwoner,\n---\nHallo\n",
        2,
        "empty group",
    );
}

#[test]
fn a_front_matter_key_given_twice_is_an_error_on_the_second() {
    assert_single_error("---\ntitle: A\ntitle: B\n---\nHallo\n", 3, "twice");
}

#[test]
fn unclosed_front_matter_is_an_error_on_line_1() {
    assert_single_error("---\ntitle: T\n\n## Slide\n", 1, "not closed");
}

#[test]
fn a_source_over_one_mib_is_refused() {
    let text = "a".repeat(MAX_SOURCE_BYTES + 1);
    assert_single_error(&text, 1, "1 MiB");
    assert!(parse("ok.md", &"a".repeat(MAX_SOURCE_BYTES)).is_ok());
}

#[test]
fn more_than_max_slides_is_an_error_on_the_first_slide_too_many() {
    let just_enough = "x\n---\n".repeat(MAX_SLIDES);
    assert_eq!(parse_ok(&just_enough).slides.len(), MAX_SLIDES);
    // Slide k starts on line 2k - 1.
    let too_many = "x\n---\n".repeat(MAX_SLIDES + 3);
    assert_single_error(&too_many, 2 * (MAX_SLIDES + 1) - 1, "too many slides");
}

#[test]
fn all_errors_are_reported_sorted_by_line() {
    let text = "\
---
colour: blue
groups: a, a
---
Stelling
A) ja
C) nee
---

---
Kies
B) x
";
    let lines: Vec<usize> = errors_of(text).iter().map(|e| e.0).collect();
    assert_eq!(lines, [2, 3, 7, 8, 12, 12]);
}

#[test]
fn errors_display_as_file_line_message_one_per_line() {
    let err: DeckError = parse("raad.md", "---\nfoo: bar\n---\nS\nA) ja\n").unwrap_err();
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(
        lines[0].starts_with("raad.md:2: unknown front matter key"),
        "{shown}"
    );
    assert!(lines[1].starts_with("raad.md:5: "), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Rendering

#[test]
fn raw_html_blocks_and_inline_html_show_as_text() {
    let html =
        render_markdown("<script>alert(1)</script>\n\nTekst met <b onclick=\"x()\">vet</b>.\n");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;b onclick=\"x()\"&gt;vet&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b "), "{html}");
}

#[test]
fn raw_html_in_a_deck_is_escaped_on_the_slide() {
    let deck = parse_ok(
        "## Let op\n\n<script>alert(1)</script>\n\nA) ja\nB) nee <img src=x onerror=alert(1)>\n",
    );
    assert!(
        deck.slides[0].html.contains("&lt;script&gt;"),
        "{}",
        deck.slides[0].html
    );
    assert!(!deck.slides[0].html.contains("<script"));
}

#[test]
fn links_to_unsafe_schemes_keep_only_their_text() {
    for dest in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "javascript&#58;alert(1)",
        "<java\tscript:alert(1)>",
        "data:text/html,x",
        "vbscript:msgbox",
    ] {
        let html = render_markdown(&format!("[klik hier]({dest})"));
        assert_eq!(html, "<p>klik hier</p>\n", "{dest}");
    }
    let html = render_markdown("<javascript:alert(1)>");
    assert!(!html.contains("<a"), "{html}");
}

#[test]
fn links_to_http_https_mailto_and_relative_targets_stay_links() {
    for dest in [
        "https://example.nl/rapport",
        "http://x.nl",
        "mailto:griffie@example.nl",
        "rapport.pdf",
        "/bijlage",
    ] {
        let html = render_markdown(&format!("[rapport]({dest})"));
        assert!(
            html.contains(&format!("<a href=\"{dest}\">rapport</a>")),
            "{html}"
        );
    }
}

#[test]
fn an_unsafe_link_around_a_safe_one_drops_only_itself() {
    let html = render_markdown("[buiten](javascript:x) en [binnen](https://x.nl)");
    assert_eq!(
        html,
        "<p>buiten en <a href=\"https://x.nl\">binnen</a></p>\n"
    );
}

#[test]
fn images_render_as_their_alt_text_outside_a_slide() {
    let html = render_markdown("![kaart van de wijk](kaart.png)");
    assert_eq!(html, "<p>kaart van de wijk</p>\n");
}

#[test]
fn a_slide_shows_its_images_from_this_server_and_phones_get_the_small_size() {
    let text = "## De wijk\n\n![Kaart van de wijk met de drie kernen](kaart.png)\n\n![Grafiek](grafiek.webp \"titel\")\n\n---\n\n## Weer\n\n![Kaart van de wijk](kaart.png)\n";
    let deck = parse_ok(text);
    let key = stemzaal::core::deck::media_key(text);
    assert_eq!(key.len(), 32);
    assert_eq!(
        deck.slides[0].html,
        format!(
            "<h2>De wijk</h2>\n<p><img loading=\"lazy\" src=\"/media/{key}/kaart.png/screen\" alt=\"Kaart van de wijk met de drie kernen\" /></p>\n<p><img loading=\"lazy\" src=\"/media/{key}/grafiek.webp/screen\" alt=\"Grafiek\" /></p>\n"
        )
    );
    assert_eq!(
        stemzaal::core::deck::for_phones(&deck.slides[0].html),
        deck.slides[0].html.replace("/screen\"", "/phone\"")
    );
    assert_eq!(deck.images(), ["kaart.png", "grafiek.webp"]);
    assert_eq!(deck.slides[1].images, ["kaart.png"]);
    // Text that looks like an address is text: only the renderer writes `<img`.
    let deck = parse_ok("## T\n\nZie /screen\" alt=\" en <img src=\"/media/x\">\n");
    assert!(
        !deck.slides[0].html.contains("<img"),
        "{}",
        deck.slides[0].html
    );
}

#[test]
fn an_image_needs_alt_text_and_a_file_beside_the_deck() {
    for (target, code) in [
        ("../geheim.png", "image_source"),
        ("/etc/kaart.png", "image_source"),
        ("map/kaart.png", "image_source"),
        ("kaart%20wijk.png", "image_source"),
        ("data:image/png;base64,AAAA", "image_source"),
        ("kaart.gif", "image_type"),
        ("kaart.SVG", "image_type"),
    ] {
        let problems = problems_of(&format!("## S\n\n![kaart]({target})\n"));
        assert_eq!(
            problems.iter().map(|p| p.code).collect::<Vec<_>>(),
            [code],
            "{target}"
        );
    }
    // Alt text of spaces is none.
    let problems = problems_of("## S\n\n![  ](kaart.png)\n");
    assert_eq!(problems[0].code, "image_alt");
    assert!(problems[0].text(true).contains("WCAG 1.1.1"));
}

#[test]
fn a_marker_after_an_image_places_the_slides_images_beside_or_under_its_text() {
    for (marker, layout) in [
        ("{naast}", Layout::Beside),
        ("{beside}", Layout::Beside),
        (" {Onder}", Layout::Under),
        ("{under}  ", Layout::Under),
        ("", Layout::Flow),
    ] {
        let text =
            format!("## De wijk\n\n![Kaart van de wijk](kaart.png){marker}\n\nA) ja\nB) nee\n");
        let deck = parse_ok(&text);
        let slide = &deck.slides[0];
        assert_eq!(slide.layout, layout, "{marker:?}");
        assert_eq!(slide.images, ["kaart.png"], "{marker:?}");
        // The marker is taken off: the slide shows the image, not the word.
        let key = stemzaal::core::deck::media_key(&text);
        assert_eq!(
            slide.html,
            format!("<h2>De wijk</h2>\n<p><img loading=\"lazy\" src=\"/media/{key}/kaart.png/screen\" alt=\"Kaart van de wijk\" /></p>\n"),
            "{marker:?}"
        );
    }
    // Two images may share a place; a marker that follows no image is text.
    let deck = parse_ok(
        "## S\n\n![a](a.png){naast}\n\n![b](b.png){beside}\n\n---\n\nKies {naast} of {onder}\n",
    );
    assert_eq!(deck.slides[0].layout, Layout::Beside);
    assert_eq!(deck.slides[1].layout, Layout::Flow);
    assert!(deck.slides[1].html.contains("Kies {naast} of {onder}"));
}

#[test]
fn text_that_does_not_fit_beside_its_image_is_a_warning_naming_the_slide() {
    let room = |deck: &Deck| {
        deck.warnings
            .iter()
            .filter(|w| w.code == "image_room")
            .map(|w| (w.line, w.message.clone(), w.dutch.clone()))
            .collect::<Vec<_>>()
    };
    // A heading, a sentence and two options fit in the half beside the image.
    let short = "## Eén werkwijze voor alle raden?\n\nZeven raden, elk met een eigen werkwijze.\n\n![Staafdiagram](grafiek.png){naast}\n\nA) ja, één werkwijze\nB) nee, maatwerk per raad\n";
    assert_eq!(room(&parse_ok(short)), []);
    // Five sentences of 78 characters take three half-width lines each, the heading one.
    let sentence = "Elke raad werkt anders, met een eigen budget, eigen leden en een eigen agenda.";
    let long = format!(
        "intro\n\n---\n\n## Wat de raden doen\n\n{}\n![Staafdiagram](grafiek.png){{naast}}\n",
        format!("{sentence}\n\n").repeat(5)
    );
    let warnings = room(&parse_ok(&long));
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let (line, en, nl) = &warnings[0];
    assert_eq!(*line, 5, "the slide's first line");
    assert!(
        en.contains("about 16 lines of half the screen's width"),
        "{en}"
    );
    assert!(en.contains(&format!("room for {FIT_BESIDE_LINES}")), "{en}");
    assert!(
        nl.contains("ongeveer 16 regels van de halve breedte"),
        "{nl}"
    );
    assert!(nl.contains("`{onder}`"), "{nl}");
    // Under the text, the same five sentences take full-width lines: still more than an
    // image leaves room for, with the warning for text over an image.
    let under = long.replace("{naast}", "{onder}");
    let warnings = room(&parse_ok(&under));
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].1.contains("about 10 lines"), "{warnings:#?}");
}

#[test]
fn tables_and_strikethrough_are_rendered() {
    let html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~oud~~ nieuw\n");
    assert!(html.contains("<table>"), "{html}");
    assert!(html.contains("<del>oud</del>"), "{html}");
}

#[test]
fn the_outline_lists_slides_and_options() {
    let deck = parse_ok(
        "---\ntitle: Raad\ngroups: a, b\n---\n## Welkom\n---\n## Stelling\nA) ja\nB) nee\n",
    );
    let outline = deck.outline();
    for part in [
        "Raad",
        "a, b",
        "2 slides, 1 statements",
        "Welkom",
        "Stelling",
        "A) ja",
        "B) nee",
        "line 7",
    ] {
        assert!(outline.contains(part), "{part:?} missing in\n{outline}");
    }
}

// ---------------------------------------------------------------------------------------
// Scale statements

/// A five-point scale with both ends labelled and a bare point between.
const FIVE: &str = "## Vaste werkwijze\n\nDe raad kiest.\n\n1) Helemaal oneens\n2)\n3) Neutraal\n4) Eens\n5) Helemaal eens\n";

#[test]
fn numbered_points_make_a_scale_whose_options_are_the_labels() {
    let deck = parse_ok(FIVE);
    let slide = &deck.slides[0];
    assert!(slide.scale);
    assert_eq!(
        deck.options(0).unwrap(),
        ["Helemaal oneens", "", "Neutraal", "Eens", "Helemaal eens"]
    );
    assert_eq!(slide.title, "Vaste werkwijze");
    assert!(slide.html.contains("De raad kiest."), "{}", slide.html);
    assert!(
        !slide.html.contains("Neutraal"),
        "points are not in the context"
    );
    assert_eq!(deck.statement_count(), 1);
    // Letters make no scale.
    assert!(!parse_ok("S\n\nA) ja\nB) nee\n").slides[0].scale);
    assert!(!parse_ok("Hallo\n").slides[0].scale);
}

#[test]
fn a_scale_has_seven_points_too_and_labels_may_wrap_like_options() {
    let deck = parse_ok(
        "Stelling\n\n1) Helemaal\noneens\n2) Oneens\n3)\n4) Neutraal\n5)\n6) Eens\n7) Helemaal eens\n",
    );
    assert!(deck.slides[0].scale);
    let options = deck.options(0).unwrap();
    assert_eq!(options.len(), 7);
    assert_eq!(options[0], "Helemaal oneens");
    assert_eq!(options[4], "");
}

#[test]
fn the_outline_names_a_scale_and_its_points_by_number() {
    let outline = parse_ok(FIVE).outline();
    for part in [
        "scale",
        "1) Helemaal oneens",
        "3) Neutraal",
        "5) Helemaal eens",
    ] {
        assert!(outline.contains(part), "{part:?} missing in\n{outline}");
    }
    assert!(
        outline.lines().any(|l| l.trim() == "2)"),
        "a bare point is listed bare:\n{outline}"
    );
}

#[test]
fn scale_results_may_be_live_like_any_statement() {
    let deck = parse_ok(&FIVE.replace("De raad kiest.", "results: live"));
    assert!(deck.starts_revealed(0));
}

#[test]
fn a_scale_of_another_number_of_points_is_an_error_on_its_last_point() {
    for (points, line) in [(3, 5), (4, 6), (6, 8)] {
        let mut text = "Stelling\n\n1) Oneens\n".to_string();
        for n in 2..points {
            text.push_str(&format!("{n})\n"));
        }
        text.push_str(&format!("{points}) Eens\n"));
        assert_single_error(&text, line, "a scale has 5 or 7 points");
        assert_single_error(&text, line, &format!("this one has {points}"));
    }
    // A lone `1)` too; the message points to a numbered list.
    assert_single_error("Stappen:\n\n1) eerst dit\n", 3, "write `1.` instead");
}

#[test]
fn more_than_seven_points_is_an_error_on_the_eighth() {
    let text: String = (1..=9).map(|n| format!("{n}) punt\n")).collect();
    assert_single_error(&format!("Schaal\n{text}"), 9, "too many points");
}

#[test]
fn a_point_out_of_order_is_an_error_on_its_line() {
    let base = ["1) Oneens", "2)", "3)", "4)", "5) Eens"];
    let cases = [
        // (lines, line of the error, word)
        (
            vec!["2) Oneens", "3)", "4)", "5)", "6) Eens"],
            3,
            "without `1)`",
        ),
        (
            vec!["0) Oneens", "1)", "2)", "3)", "4)", "5) Eens"],
            3,
            "`0)` without `1)`",
        ),
        (
            vec![base[0], base[1], base[3], base[4]],
            5,
            "skipped point: `4)` follows `2)`",
        ),
        (
            vec![base[0], base[1], base[1], base[2], base[3], base[4]],
            5,
            "duplicate point `2)`",
        ),
    ];
    for (lines, line, word) in cases {
        let text = format!("Schaal\n\n{}\n", lines.join("\n"));
        assert_single_error(&text, line, word);
    }
    // Two points swapped: the first is a gap, the second comes back, as with letters.
    let swapped = format!(
        "Schaal\n\n{}\n",
        [base[0], base[2], base[1], base[3], base[4]].join("\n")
    );
    let errors = errors_of(&swapped);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, 4);
    assert!(errors[0]
        .1
        .contains("skipped point: `3)` follows `1)`, expected `2)`"));
    assert_eq!(errors[1].0, 5);
}

#[test]
fn an_unlabelled_end_point_is_an_error_on_its_line() {
    assert_single_error(
        "Schaal\n\n1)\n2)\n3) Neutraal\n4)\n5) Eens\n",
        3,
        "point `1)` has no label",
    );
    assert_single_error(
        "Schaal\n\n1) Oneens\n2)\n3)\n4)\n5)\n6)\n7)\n",
        9,
        "point `7)` has no label: the last point",
    );
}

#[test]
fn letters_and_points_on_one_slide_are_an_error_on_the_first_that_differs() {
    assert_single_error(
        "Schaal\n\n1) Oneens\n2)\n3)\nA) ja\n4)\n5) Eens\n",
        6,
        "`A)` mixes option letters and scale points",
    );
    assert_single_error(
        "Stelling\n\nA) ja\nB) nee\n1) Oneens\n",
        5,
        "`1)` mixes option letters and scale points",
    );
}

#[test]
fn text_after_the_points_is_an_error_naming_the_first_point() {
    assert_single_error(
        "Schaal\n\n1) Oneens\n2)\n3)\n4)\n5) Eens\n\nNog iets.\n",
        9,
        "move this text above `1)`",
    );
}

#[test]
fn numbers_in_text_or_in_a_numbered_list_with_dots_make_no_scale() {
    let deck = parse_ok("Stappen\n\n1. eerst\n2. dan\n 3) ingesprongen\n2025)jaar\n1234) lang\n");
    assert_eq!(deck.slides[0].kind, SlideKind::Content);
}

#[test]
fn point_labels_fit_by_the_number_of_points_and_one_more_character_warns() {
    for points in SCALE_POINTS {
        let limit = fit_point_chars(points);
        let scale = |length: usize| {
            let mut text = "## Schaal\n\n".to_string();
            for n in 1..=points {
                let label = if n == 2 { text_of(length) } else { "ja".into() };
                text.push_str(&format!("{n}) {label}\n"));
            }
            text
        };
        assert_eq!(warnings_of(&scale(limit)), vec![], "{points} points");
        let warnings = warnings_of(&scale(limit + 1));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].0, 4, "on the point's line");
        assert!(
            warnings[0].1.contains(&format!(
                "point `2)` has {} characters; with {points} points the screen shows at most {limit}",
                limit + 1
            )),
            "{}",
            warnings[0].1
        );
    }
    assert!(fit_point_chars(7) < fit_point_chars(5));
}

#[test]
fn text_above_a_scale_has_room_for_one_line() {
    let above = |n: usize| format!("## Schaal\n\n{}\n\n1) nee\n2)\n3)\n4)\n5) ja\n", text_of(n));
    assert_eq!(fit_context_lines(5), 1);
    assert_eq!(warnings_of(&above(FIT_LINE_CHARS)), vec![]);
    let warnings = warnings_of(&above(FIT_LINE_CHARS + 1));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .1
            .contains("the text above the points takes about 2 lines"),
        "{}",
        warnings[0].1
    );
}

#[test]
fn a_scale_turned_into_letters_is_a_change_of_structure() {
    let letters = parse_ok("Schaal\n\nA) a\nB) b\nC) c\nD) d\nE) e\n");
    let scale = parse_ok(FIVE);
    assert_eq!(
        letters.structure_change(&scale),
        Some(StructureChange::Scale {
            slide: 0,
            scale: true
        })
    );
    assert_eq!(
        scale.structure_change(&letters).unwrap().describe(false),
        "de stelling op dia 1 was een schaal en heeft nu letters"
    );
    // Other labels keep the session.
    let relabelled = parse_ok(&FIVE.replace("Neutraal", "Weet niet"));
    assert_eq!(scale.structure_change(&relabelled), None);
}

#[test]
fn stemzaal_check_names_a_scale_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schaal.md");
    std::fs::write(&path, "## Schaal\n\n1) Oneens\n2)\n3)\n4) Eens\n").unwrap();
    // `--lang`, else the locale's language, else Dutch.
    for (args, locale, said) in [
        (
            &["--lang", "en"][..],
            "nl_NL.UTF-8",
            "schaal.md:6: a scale has 5 or 7 points",
        ),
        (
            &[][..],
            "en_GB.UTF-8",
            "schaal.md:6: a scale has 5 or 7 points",
        ),
        (
            &[][..],
            "nl_NL.UTF-8",
            "schaal.md:6: een schaal heeft 5 of 7 punten",
        ),
        (
            &[][..],
            "C.UTF-8",
            "schaal.md:6: een schaal heeft 5 of 7 punten",
        ),
        (
            &["--lang", "nl"][..],
            "en_US.UTF-8",
            "schaal.md:6: een schaal heeft 5 of 7 punten",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_stemzaal"))
            .arg("check")
            .args(args)
            .arg(&path)
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", locale)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(said), "{args:?} {locale}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------
// Robustness

/// Whatever `parse` returns must hold the documented shape.
fn check_result(text: &str) {
    match parse("p.md", text) {
        Ok(deck) => {
            assert!(!deck.slides.is_empty());
            assert!(deck.slides.len() <= MAX_SLIDES);
            for slide in &deck.slides {
                assert!(slide.line >= 1);
                assert!(!slide.html.contains("<script"));
                match &slide.kind {
                    SlideKind::Statement { options } if slide.scale => {
                        assert!(SCALE_POINTS.contains(&options.len()));
                        assert!(!options[0].is_empty() && !options[options.len() - 1].is_empty());
                    }
                    SlideKind::Statement { options } => {
                        assert!((2..=MAX_OPTIONS).contains(&options.len()));
                        assert!(options.iter().all(|o| !o.trim().is_empty()));
                    }
                    SlideKind::Content => assert!(!slide.scale),
                }
            }
        }
        Err(err) => {
            assert!(!err.errors.is_empty());
            let last_line = text.lines().count().max(1);
            for e in &err.errors {
                assert!((1..=last_line).contains(&e.line), "{e:?} in {text:?}");
            }
            assert!(err.errors.windows(2).all(|w| w[0].line <= w[1].line));
        }
    }
}

fn deckish_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("---\n".to_string()),
        Just("--- \n".to_string()),
        Just("\n".to_string()),
        Just("A) x\n".to_string()),
        Just("B) y\n".to_string()),
        Just("C) z\n".to_string()),
        Just("D)\n".to_string()),
        Just("A)".to_string()),
        Just("1) oneens\n".to_string()),
        Just("2)\n".to_string()),
        Just("3) neutraal\n".to_string()),
        Just("5) eens\n".to_string()),
        Just("0) nul\n".to_string()),
        "[1-9]\\) [a-z ]{0,6}\n",
        Just("title: t\n".to_string()),
        Just("groups: a, b,\n".to_string()),
        Just("## kop\n".to_string()),
        Just("<script>x</script>\n".to_string()),
        Just("[l](javascript:x)\n".to_string()),
        Just("Notities: n\n".to_string()),
        Just("![kaart](k.png)\n".to_string()),
        Just("![](../x.svg)\n".to_string()),
        Just("\u{feff}".to_string()),
        Just("\r\n".to_string()),
        "[A-Z]\\) [a-zé ]{0,8}\n",
        "\\PC{0,12}\n?",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC*|(?s).{0,200}") {
        check_result(&text);
    }

    #[test]
    fn parse_never_panics_on_deckish_text(parts in prop::collection::vec(deckish_fragment(), 0..40)) {
        check_result(&parts.concat());
    }
}

#[test]
fn the_complete_example_in_the_format_guide_parses_as_described() {
    let guide = include_str!("../../docs/deck-format.md");
    let start = guide
        .find("```markdown\n")
        .expect("the guide has an example")
        + 12;
    let example = &guide[start..start + guide[start..].find("\n```").unwrap() + 1];
    let deck = parse_ok(example);
    assert_eq!(deck.title, "Raadsavond wonen");
    assert_eq!(deck.groups, ["Raadslid", "Ambtenaar", "Inwoner", "Anders"]);
    assert_eq!(
        deck.meeting.as_deref(),
        Some("Raadsavond over wonen in de kernen")
    );
    assert_eq!(deck.date.as_deref(), Some("12 maart 2025"));
    assert_eq!(deck.place.as_deref(), Some("Raadzaal, Stadhuis"));
    assert_eq!(deck.lang, "nl");
    assert_eq!(deck.slides.len(), 3);
    assert_eq!(
        deck.options(1).unwrap(),
        [
            "de gemeente moet vooral bouwen in de kernen",
            "de gemeente moet vooral bouwen aan de rand van de stad, bij de bestaande voorzieningen"
        ]
    );
}

#[test]
fn statements_start_hidden_unless_the_deck_or_the_slide_says_live() {
    let two = "## Een\n\nA) ja\nB) nee\n\n---\n\n## Twee\n\nresults: live\n\nA) ja\nB) nee\n";
    let deck = parse_ok(two);
    assert_eq!(deck.slides[0].results, Results::Hidden);
    assert_eq!(deck.slides[1].results, Results::Live);
    assert!(!deck.starts_revealed(0) && deck.starts_revealed(1));
    // The setting is not slide text.
    assert!(
        !deck.slides[1].html.contains("results"),
        "{}",
        deck.slides[1].html
    );
    assert_eq!(deck.slides[1].title, "Twee");

    let live = parse_ok(
        &format!("---\nresults: Live\n---\n{two}").replace("results: live", "results: hidden"),
    );
    assert_eq!(
        live.slides[0].results,
        Results::Live,
        "the front matter sets the default"
    );
    assert_eq!(
        live.slides[1].results,
        Results::Hidden,
        "a slide overrides it"
    );
    // After the options is as good as above them.
    let after = parse_ok("## S\n\nA) ja\nB) nee\n\nresults: live\n");
    assert_eq!(after.slides[0].results, Results::Live);
    assert_eq!(after.options(0).unwrap(), ["ja", "nee"]);
}

#[test]
fn a_wrong_results_setting_is_an_error_on_its_line() {
    assert_single_error(
        "---\nresults: soms\n---\nA) ja\nB) nee\n",
        2,
        "`hidden` or `live`",
    );
    assert_single_error(
        "## S\n\nresults: soms\nA) ja\nB) nee\n",
        3,
        "`hidden` or `live`",
    );
    assert_single_error(
        "## S\nresults: live\nresults: hidden\nA) ja\nB) nee\n",
        3,
        "twice",
    );
    assert_single_error(
        "## Inhoud\n\nresults: live\n\n- punt\n",
        3,
        "without options",
    );
    assert_single_error(
        "---\nresults: live\nresults: live\n---\nHallo\n",
        3,
        "twice",
    );
}

/// The warnings of a deck that parses, as (line, message) pairs.
fn warnings_of(text: &str) -> Vec<(usize, String)> {
    parse_ok(text)
        .warnings
        .into_iter()
        .map(|w| (w.line, w.message))
        .collect()
}

/// Text of exactly `n` characters, in words, as a deck would have it.
fn text_of(n: usize) -> String {
    let mut text = "woord ".repeat(n / 6 + 1);
    text.truncate(n);
    text.replace_range(n - 1.., "x");
    text
}

/// The deck `tests/it/browser.rs` shows on the screen at every size: every limit at once.
const STRESS_DECK: &str = include_str!("browser/stress-deck.md");

#[test]
fn the_built_in_deck_and_the_stress_deck_fit_the_screen_without_warnings() {
    assert_eq!(Deck::default_deck().warnings, vec![]);
    assert_eq!(warnings_of(STRESS_DECK), vec![]);
}

#[test]
fn the_stress_deck_reaches_every_limit_exactly() {
    let deck = parse_ok(STRESS_DECK);
    let chars = |s: &str| s.chars().count();
    let titles: Vec<usize> = deck.slides.iter().map(|s| chars(&s.full_title)).collect();
    assert!(titles.contains(&FIT_TITLE_CHARS), "{titles:?}");
    assert!(titles.contains(&FIT_CONTENT_TITLE_CHARS), "{titles:?}");
    assert!(titles.contains(&FIT_TOP_TITLE_CHARS), "{titles:?}");
    // Every number of options, each statement with its longest option at its limit; both
    // scales with every label at its limit.
    let mut counts = Vec::new();
    let mut scales = Vec::new();
    for slide in &deck.slides {
        match &slide.kind {
            SlideKind::Statement { options } if slide.scale => {
                for label in options {
                    assert_eq!(chars(label), fit_point_chars(options.len()), "{label}");
                }
                scales.push(options.len());
            }
            SlideKind::Statement { options } => {
                let longest = options.iter().map(|o| chars(o)).max().unwrap();
                assert_eq!(longest, fit_option_chars(options.len()), "{}", slide.title);
                counts.push(options.len());
            }
            SlideKind::Content => {}
        }
    }
    counts.sort();
    assert_eq!(counts, [2, 3, 4, 4, 5, 6, 7, 8]);
    assert_eq!(scales, SCALE_POINTS);
    // Twelve bullets of a full line each; above the options, every line there is room for.
    let bullets: Vec<usize> = STRESS_DECK
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(chars)
        .collect();
    assert_eq!(bullets, vec![FIT_LINE_CHARS; FIT_CONTENT_LINES]);
    let context_lines = STRESS_DECK
        .lines()
        .filter(|l| chars(l) == FIT_LINE_CHARS && !l.starts_with(['-', '#']))
        .count();
    // The letter statements with text above their options, then the two scales.
    let room: usize = [2, 3, 5, 6, 7, 8, 5, 7]
        .into_iter()
        .map(fit_context_lines)
        .sum();
    assert_eq!(context_lines, room);
}

#[test]
fn a_title_longer_than_fits_is_a_warning_on_the_slide_line() {
    // (heading, options below it, limit)
    for (hashes, options, limit) in [
        ("##", "", FIT_CONTENT_TITLE_CHARS),
        ("##", "A) ja\nB) nee\n", FIT_TITLE_CHARS),
        ("#", "", FIT_TOP_TITLE_CHARS),
        ("#", "A) ja\nB) nee\n", FIT_TOP_TITLE_CHARS),
    ] {
        let slide = |n: usize| format!("\n{hashes} {}\n\n{options}", text_of(n));
        assert_eq!(warnings_of(&slide(limit)), vec![], "{hashes} {options:?}");
        let warnings = warnings_of(&slide(limit + 1));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].0, 2);
        assert!(
            warnings[0].1.contains(&format!("{} characters", limit + 1))
                && warnings[0].1.contains(&format!("at most {limit}")),
            "{warnings:?}"
        );
    }
    // A statement without a heading is named by its first option: that option's limit holds.
    let named = format!("A) {}\nB) nee\n", text_of(fit_option_chars(2)));
    assert_eq!(warnings_of(&named), vec![]);
    // The numbers the format guide gives.
    assert_eq!(
        (
            FIT_TITLE_CHARS,
            FIT_CONTENT_TITLE_CHARS,
            FIT_TOP_TITLE_CHARS
        ),
        (90, 100, 60)
    );
}

#[test]
fn option_texts_fit_by_the_number_of_options_and_one_more_character_warns() {
    for count in 2..=MAX_OPTIONS {
        let limit = fit_option_chars(count);
        let statement = |long: usize| {
            let mut deck = String::from("## Stelling\n\n");
            for i in 0..count {
                let n = if i == count - 1 { long } else { limit };
                deck.push_str(&format!("{}) {}\n", (b'A' + i as u8) as char, text_of(n)));
            }
            deck
        };
        assert_eq!(
            warnings_of(&statement(limit)),
            vec![],
            "{count} options at the limit"
        );
        let warnings = warnings_of(&statement(limit + 1));
        let last = (b'A' + count as u8 - 1) as char;
        assert_eq!(warnings.len(), 1, "{count} options: {warnings:?}");
        assert_eq!(warnings[0].0, 2 + count, "the last option's line");
        assert!(
            warnings[0].1.contains(&format!("option `{last})`"))
                && warnings[0].1.contains(&format!("with {count} options")),
            "{warnings:?}"
        );
    }
    // The numbers the format guide gives.
    let limits: Vec<usize> = (2..=8).map(fit_option_chars).collect();
    assert_eq!(limits, [140, 100, 100, 70, 40, 40, 40]);
}

#[test]
fn a_content_slide_of_more_than_twelve_lines_or_bullets_warns_on_its_first_line() {
    let bullets = |n: usize, long: usize| {
        let mut slide = String::from("## Bevindingen\n\n");
        for i in 0..n {
            let len = if i == 0 { long } else { FIT_LINE_CHARS };
            slide.push_str(&format!("- {}\n", text_of(len)));
        }
        slide
    };
    assert_eq!(FIT_CONTENT_LINES, 12);
    assert_eq!(FIT_CONTENT_BLOCKS, 12);
    assert_eq!(FIT_LINE_CHARS, 60);
    assert_eq!(warnings_of(&bullets(12, FIT_LINE_CHARS)), vec![]);
    let too_many = warnings_of(&format!("---\ntitle: T\n---\n{}", bullets(13, 10)));
    assert_eq!(too_many.len(), 1, "{too_many:?}");
    assert_eq!(too_many[0].0, 4);
    assert!(
        too_many[0].1.contains("13 bullets or paragraphs"),
        "{too_many:?}"
    );
    // One bullet a character too long wraps onto a thirteenth line.
    let too_long = warnings_of(&bullets(12, FIT_LINE_CHARS + 1));
    assert_eq!(too_long.len(), 1, "{too_long:?}");
    assert!(too_long[0].1.contains("about 13 lines"), "{too_long:?}");
    // Paragraphs count like bullets; Markdown around the text does not count.
    let markup = format!(
        "## T\n\n**{}** [x](https://example.nl/a/very/long/link/target/that/is/not/shown)\n",
        text_of(FIT_LINE_CHARS - 2)
    );
    assert_eq!(warnings_of(&markup), vec![]);
}

#[test]
fn text_above_the_options_fits_by_the_number_of_options_and_one_more_character_warns() {
    let statement = |context: usize, options: usize| {
        let mut deck = String::from("## Stelling\n\n");
        if context > 0 {
            deck.push_str(&format!("{}\n\n", text_of(context)));
        }
        for i in 0..options {
            deck.push_str(&format!("{}) optie\n", (b'A' + i as u8) as char));
        }
        deck
    };
    // The numbers the format guide gives: four options of three lines leave no room.
    let rooms: Vec<usize> = (2..=8).map(fit_context_lines).collect();
    assert_eq!(rooms, [2, 2, 0, 1, 1, 1, 1]);
    for count in 2..=MAX_OPTIONS {
        let room = fit_context_lines(count) * FIT_LINE_CHARS;
        assert_eq!(
            warnings_of(&statement(room, count)),
            vec![],
            "{count} options"
        );
        let warnings = warnings_of(&statement(room + 1, count));
        assert_eq!(warnings.len(), 1, "{count} options: {warnings:?}");
        assert_eq!(warnings[0].0, 1);
        assert!(
            warnings[0].1.contains("above the options")
                && warnings[0].1.contains(&format!("with {count} options")),
            "{warnings:?}"
        );
    }
    let none = warnings_of(&statement(1, 4));
    assert!(
        none[0].1.contains("no room for text above them"),
        "{none:?}"
    );
}

#[test]
fn stemzaal_check_prints_warnings_with_file_and_line_and_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lang.md");
    let deck = format!("## Stelling\n\nA) {}\nB) nee\n", text_of(141));
    std::fs::write(&path, deck).unwrap();
    for (lang, said) in [
        ("en", "lang.md:3: warning: option `A)` has 141 characters"),
        ("nl", "lang.md:3: waarschuwing: optie `A)` heeft 141 tekens"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_stemzaal"))
            .args(["check", "--lang", lang])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains(said), "{stderr}");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stemzaal"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 slides, 1 statements"));
}

#[test]
fn front_matter_sets_the_slides_language_and_the_meeting_for_the_report() {
    let deck = parse_ok(
        "---\nlang: en\nmeeting: Council evening\ndate: 12 March 2025\nplace: Town hall\n---\nHello\n",
    );
    assert_eq!(deck.lang, "en");
    assert_eq!(deck.meeting.as_deref(), Some("Council evening"));
    assert_eq!(deck.date.as_deref(), Some("12 March 2025"));
    assert_eq!(deck.place.as_deref(), Some("Town hall"));
    let plain = parse_ok("Hallo\n");
    assert_eq!(plain.lang, "nl", "Dutch unless the deck says otherwise");
    assert_eq!((plain.meeting, plain.date, plain.place), (None, None, None));
    assert_eq!(parse_ok("---\nlang: nl-BE\n---\nHallo\n").lang, "nl-BE");
}

#[test]
fn a_wrong_language_or_an_empty_meeting_field_is_an_error_on_its_line() {
    for bad in ["nederlands", "n", "nl_NL", "nl-", "<b>"] {
        assert_single_error(
            &format!("---\n\nlang: {bad}\n---\nHallo\n"),
            3,
            "language tag",
        );
    }
    assert_single_error("---\nlang: nl\nlang: en\n---\nHallo\n", 3, "twice");
    for key in ["meeting", "date", "place"] {
        assert_single_error(
            &format!("---\ntitle: T\n{key}:\n---\nHallo\n"),
            3,
            "is empty",
        );
    }
}

#[test]
fn front_matter_sets_the_group_floor_and_the_argument_settings() {
    let deck = parse(
        "d.md",
        "---\nmin_group_size: 8\narguments: off\nupvotes: OFF\n---\n## S\n\nA) a\nB) b\n",
    )
    .unwrap();
    assert_eq!(
        (deck.min_group_size, deck.arguments, deck.upvotes),
        (8, false, false)
    );
    let plain = parse("d.md", "## S\n\nA) a\nB) b\n").unwrap();
    assert_eq!(
        (plain.min_group_size, plain.arguments, plain.upvotes),
        (5, true, true)
    );
    for (line, want) in [
        (
            "min_group_size: 1",
            "`min_group_size` must be a whole number from 2 to 100",
        ),
        (
            "min_group_size: vijf",
            "`min_group_size` must be a whole number from 2 to 100",
        ),
        ("arguments: ja", "`arguments` must be `on` or `off`"),
        ("upvotes: maybe", "`upvotes` must be `on` or `off`"),
    ] {
        let errors = errors_of(&format!("---\ntitle: t\n{line}\n---\n## S\n\nA) a\nB) b\n"));
        assert_eq!(errors.len(), 1, "{line}: {errors:?}");
        assert_eq!(errors[0].0, 3, "{line}");
        assert!(errors[0].1.contains(want), "{line}: {errors:?}");
    }
}

/// Every problem `check` reports, by code: a deck that makes it, the line it must name,
/// and a phrase its English and its Dutch message must hold.
fn problem_table() -> Vec<(&'static str, String, usize, &'static str, &'static str)> {
    let slides: Vec<String> = (0..=MAX_SLIDES).map(|i| format!("Dia {i}")).collect();
    let options = |labels: &str| {
        labels
            .split(' ')
            .map(|l| format!("{l}) optie"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let words = |n: usize| "woord ".repeat(n);
    vec![
        (
            "too_large",
            "x".repeat(MAX_SOURCE_BYTES + 1),
            1,
            "at most",
            "hoogstens",
        ),
        ("no_slides", String::new(), 1, "no slides", "geen dia's"),
        (
            "too_many_slides",
            slides.join("\n---\n"),
            2 * MAX_SLIDES + 1,
            "too many slides",
            "te veel dia's",
        ),
        (
            "empty_slide",
            "A\n---\n---\nB\n".into(),
            2,
            "empty slide",
            "lege dia",
        ),
        (
            "front_matter_open",
            "---\ntitle: x\n".into(),
            1,
            "not closed",
            "niet afgesloten",
        ),
        (
            "front_matter_colon",
            "---\ntitel x\n---\nA\n".into(),
            2,
            "without a colon",
            "zonder dubbele punt",
        ),
        (
            "front_matter_key",
            "---\ntitel: x\n---\nA\n".into(),
            2,
            "unknown front matter key",
            "onbekende sleutel",
        ),
        (
            "front_matter_twice",
            "---\ntitle: a\ntitle: b\n---\nA\n".into(),
            3,
            "set twice",
            "twee keer",
        ),
        (
            "title_empty",
            "---\ntitle:\n---\nA\n".into(),
            2,
            "is empty",
            "is leeg",
        ),
        (
            "lang_tag",
            "---\nlang: nederlands\n---\nA\n".into(),
            2,
            "language tag",
            "taalcode",
        ),
        (
            "meeting_empty",
            "---\nmeeting:\n---\nA\n".into(),
            2,
            "after the colon",
            "vul het in",
        ),
        (
            "min_group_size",
            "---\nmin_group_size: vijf\n---\nA\n".into(),
            2,
            "whole number",
            "heel getal",
        ),
        (
            "on_off",
            "---\narguments: ja\n---\nA\n".into(),
            2,
            "`on` or `off`",
            "(aan)",
        ),
        (
            "results_value",
            "---\nresults: zichtbaar\n---\nA\n".into(),
            2,
            "`hidden` or `live`",
            "verborgen",
        ),
        (
            "group_empty",
            "---\ngroups: a,,b\n---\nA\n".into(),
            2,
            "empty group name",
            "lege groepsnaam",
        ),
        (
            "group_twice",
            "---\ngroups: Raad, raad\n---\nA\n".into(),
            2,
            "listed twice",
            "twee keer",
        ),
        (
            "results_not_statement",
            "## Dia\nresults: live\n".into(),
            2,
            "without options",
            "zonder opties",
        ),
        (
            "results_twice",
            "## S\nresults: live\nresults: hidden\nA) a\nB) b\n".into(),
            3,
            "set twice",
            "twee keer",
        ),
        (
            "title_long",
            format!("# {}\n", "x".repeat(200)),
            1,
            "the title has",
            "de titel heeft",
        ),
        (
            "content_blocks",
            "- punt\n".repeat(FIT_CONTENT_BLOCKS + 1),
            1,
            "bullets or paragraphs",
            "opsommingstekens",
        ),
        (
            "content_lines",
            words(FIT_LINE_CHARS * FIT_CONTENT_LINES / 6 + 40),
            1,
            "lines of",
            "regels van",
        ),
        (
            "first_option",
            format!("## S\n{}\n", options("B C")),
            2,
            "without `A)`",
            "zonder `A)`",
        ),
        (
            "first_point",
            format!("## S\n{}\n", options("2 3 4 5 6")),
            2,
            "without `1)`",
            "zonder `1)`",
        ),
        (
            "option_twice",
            format!("## S\n{}\n", options("A A")),
            3,
            "duplicate option",
            "twee keer",
        ),
        (
            "point_twice",
            format!("## S\n{}\n", options("1 1 2 3 4 5")),
            3,
            "duplicate point",
            "twee keer",
        ),
        (
            "option_skipped",
            format!("## S\n{}\n", options("A C")),
            3,
            "skipped option letter",
            "overgeslagen",
        ),
        (
            "point_skipped",
            format!("## S\n{}\n", options("1 3 4 5 6")),
            3,
            "skipped point",
            "overgeslagen",
        ),
        (
            "options_mixed",
            format!("## S\n{}\n", options("A 2 B")),
            3,
            "mixes",
            "mengt",
        ),
        (
            "too_many_options",
            format!("## S\n{}\n", options("A B C D E F G H I")),
            10,
            "too many options",
            "te veel opties",
        ),
        (
            "too_many_points",
            format!("## S\n{}\n", options("1 2 3 4 5 6 7 8")),
            9,
            "too many points",
            "te veel punten",
        ),
        (
            "text_after_options",
            "## S\nA) a\nB) b\n\ntekst\n".into(),
            5,
            "text after the options",
            "tekst na de opties",
        ),
        (
            "option_empty",
            "## S\nA)\nB) b\n".into(),
            2,
            "has no text",
            "geen tekst",
        ),
        (
            "one_option",
            "## S\nA) a\n".into(),
            2,
            "at least two options",
            "ten minste twee",
        ),
        (
            "option_long",
            format!("## S\nA) {}\nB) b\n", "x".repeat(300)),
            2,
            "300 characters",
            "300 tekens",
        ),
        (
            "context_long",
            format!("## S\n\n{}\n\nA) a\nB) b\n", words(300)),
            1,
            "the text above",
            "de tekst boven",
        ),
        (
            "scale_points",
            "## S\n1) oneens\n2)\n3) eens\n".into(),
            4,
            "5 or 7 points",
            "5 of 7 punten",
        ),
        (
            "point_label",
            "## S\n1)\n2)\n3)\n4)\n5) eens\n".into(),
            2,
            "no label",
            "geen omschrijving",
        ),
        (
            "small_letter",
            "## S\nA) ja\nb) nee\n".into(),
            3,
            "capital, `B)`",
            "hoofdletter, `B)`",
        ),
        (
            "small_letters",
            "## S\na) ja\nb) nee\n".into(),
            1,
            "write capitals",
            "hoofdletters",
        ),
        (
            "dot_for_parenthesis",
            "## S\n\n1. Helemaal oneens\n2. Oneens\n3. Neutraal\n4. Eens\n5. Helemaal eens\n"
                .into(),
            1,
            "written `1)`",
            "als `1)`",
        ),
        (
            "scale_as_letters",
            "## S\nA) Helemaal oneens\nB) Oneens\nC) Neutraal\nD) Eens\nE) Helemaal eens\n".into(),
            2,
            "`1)` to `5)`",
            "`1)` tot en met `5)`",
        ),
        (
            "image_alt",
            "## S\n\n![](kaart.png)\n".into(),
            3,
            "no alt text",
            "geen alt-tekst",
        ),
        (
            "image_source",
            "## S\n\n![kaart](https://elders.nl/kaart.png)\n".into(),
            3,
            "web address",
            "webadres",
        ),
        (
            "image_type",
            "## S\n\n![kaart](kaart.svg)\n".into(),
            3,
            "SVG",
            "SVG",
        ),
        (
            "image_room",
            "## S\n\n![kaart](kaart.png)\n\n- een\n- twee\n- drie\n- vier\n- vijf\n- zes\n- zeven\n".into(),
            1,
            "about 7 lines",
            "ongeveer 7 regels",
        ),
        (
            "image_layout",
            "## S\n\n![kaart](kaart.png){naast}\n\n![foto](foto.png){under}\n".into(),
            5,
            "another place",
            "andere plaats",
        ),
        (
            "notes_only",
            "## S\n\n---\n\nNotities: alleen voor mij\n".into(),
            5,
            "only presenter notes",
            "alleen notities",
        ),
        (
            "map_on_statement",
            "## S\n\n[meningskaart]\n\nA) Ja\nB) Nee\n".into(),
            3,
            "`[opinion map]` on a statement",
            "`[meningskaart]` op een stelling",
        ),
    ]
}

/// The problems of `text`, errors or warnings.
fn problems_of(text: &str) -> Vec<LineError> {
    match parse("test.md", text) {
        Ok(deck) => deck.warnings,
        Err(err) => err.errors,
    }
}

#[test]
fn every_problem_of_check_speaks_dutch_and_english_and_names_its_line() {
    let table = problem_table();
    for (code, text, line, en, nl) in &table {
        let problems = problems_of(text);
        let Some(problem) = problems.iter().find(|p| p.code == *code) else {
            panic!("{code}: not reported, got {problems:#?}");
        };
        assert_eq!(problem.line, *line, "{code}: {problem:#?}");
        assert!(problem.text(true).contains(en), "{code}: {problem:#?}");
        assert!(problem.text(false).contains(nl), "{code}: {problem:#?}");
        assert_ne!(problem.message, problem.dutch, "{code}");
    }
    // Every code is in the table (but the one only an upload can make, which the API
    // test of a file that is not UTF-8 drives), and every code reported is a known one.
    let mut tested: Vec<&str> = table.iter().map(|row| row.0).collect();
    tested.push("not_utf8");
    // Made where the image file is read (`stemzaal check`, tests/it/images.rs).
    tested.push("image_small");
    tested.sort_unstable();
    let mut known = PROBLEMS.to_vec();
    known.sort_unstable();
    assert_eq!(tested, known);
    let bad = LineError::not_utf8(3, 17);
    assert!(bad.text(true).contains("byte 17") && bad.text(false).contains("byte 17"));
}

#[test]
fn a_small_letter_is_named_on_its_own_line_and_a_scale_as_letters_gets_its_hint() {
    // `b)` on line 3: the error names line 3 and the capital, not "one option" on 2.
    assert_single_error("## Stelling\n\nA) ja\nb) nee\n", 4, "`B)`");
    let deck =
        parse_ok("## S\n\nA) Helemaal oneens\nB) Oneens\nC) Neutraal\nD) Eens\nE) Helemaal eens\n");
    assert_eq!(deck.warnings.len(), 1, "{:#?}", deck.warnings);
    assert_eq!(deck.warnings[0].code, "scale_as_letters");
    // A plain list is no slip.
    let deck = parse_ok("## Bevindingen\n\n1. Eerste\n2. Tweede\n3. Derde\n");
    assert_eq!(deck.warnings, []);
    let deck = parse_ok("## Stelling\n\nA. Ja\nB. Nee\n");
    assert_eq!(deck.warnings[0].code, "dot_for_parenthesis");
}

#[test]
fn presenter_notes_follow_notities_or_notes_and_never_show_on_the_slide() {
    let deck = parse_ok(
        "## Welkom\n\nVanavond het onderzoek.\n\nNotities:\nNoem **de rekenkamer**.\n\n- groet de raad\n\n---\n\n## Stelling\n\nA) ja\nB) nee\n\nnotes: Mind the *second* round.\n\n---\n\n## Zonder\n\nNotities:\n",
    );
    let [welkom, stelling, zonder] = &deck.slides[..] else {
        panic!("three slides: {:#?}", deck.slides);
    };
    assert_eq!(
        welkom.html,
        "<h2>Welkom</h2>\n<p>Vanavond het onderzoek.</p>\n"
    );
    assert_eq!(
        welkom.notes.as_deref(),
        Some("<p>Noem <strong>de rekenkamer</strong>.</p>\n<ul>\n<li>groet de raad</li>\n</ul>\n")
    );
    // After a statement's options: the options stay last on the slide, the notes are not
    // text after them.
    assert_eq!(deck.options(1).unwrap(), ["ja", "nee"]);
    assert_eq!(
        stelling.notes.as_deref(),
        Some("<p>Mind the <em>second</em> round.</p>\n")
    );
    assert!(!stelling.html.contains("second"));
    // A marker without text is no notes, and no text of the slide.
    assert_eq!(zonder.notes, None);
    assert_eq!(zonder.html, "<h2>Zonder</h2>\n");
    assert_eq!(deck.warnings, []);
    // Only at the start of a line: a word `notities:` inside a sentence is slide text.
    let deck = parse_ok("## Een\n\nDe notities: die staan in het rapport.\n");
    assert_eq!(deck.slides[0].notes, None);
    assert!(deck.slides[0].html.contains("notities:"));
}

#[test]
fn the_built_in_deck_has_presenter_notes_on_its_statements() {
    let deck = stemzaal::core::deck::Deck::default_deck();
    let noted = deck.slides.iter().filter(|s| s.notes.is_some()).count();
    assert!(noted >= 3, "{noted} slides with notes");
}
