//! Decks: the Markdown file format and its parser. Pure data, no I/O.
//!
//! `docs/deck-format.md` describes the format for the people who write decks; the tests
//! in `tests/it/deck_format.rs` hold the parser to it.

use std::fmt;
use std::ops::Range;

use pulldown_cmark::{html, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The built-in default deck's source name.
pub const DEFAULT_DECK_NAME: &str = "gebiedsgericht-werken.md";

/// The built-in default deck's text, embedded in the binary.
pub const DEFAULT_DECK_SOURCE: &str = include_str!("../../decks/gebiedsgericht-werken.md");

/// The images the built-in deck shows, by the names its slides give them, kept beside
/// it (`opzet-onderzoek.png` is drawn by `bench/src/bin/deck_figure.rs`).
pub const DEFAULT_DECK_IMAGES: [(&str, &[u8]); 1] = [(
    "opzet-onderzoek.png",
    include_bytes!("../../decks/opzet-onderzoek.png"),
)];

/// Most options a statement may have (`A)` to `H)`): more do not fit on a phone or a tally.
pub const MAX_OPTIONS: usize = 8;

/// The numbers of points a scale statement may have (`1)` to `5)`, or `1)` to `7)`):
/// the usual agree–disagree scales, each with a middle point.
pub const SCALE_POINTS: [usize; 2] = [5, 7];

/// Most slides a deck may have: far beyond any session, small enough to keep a deck cheap.
pub const MAX_SLIDES: usize = 500;

/// Largest deck source accepted, in bytes (1 MiB): a deck is text, not a data dump.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;

/// Longest slide title, in characters, before it is cut with "…" (titles go in lists).
const MAX_TITLE_CHARS: usize = 80;

/// Longest slide title the screen shows in full at its minimum text size (42 px at
/// 1920×1080): two lines of the heading type. `docs/deck-format.md`, "What fits on the
/// screen", documents these limits and why; `tests/it/browser.rs` shows a deck at each of
/// them (`tests/browser/stress-deck.md`) at 1920×1080, 1280×720 and 1024×768.
pub const FIT_TITLE_CHARS: usize = 90;

/// Longest title of a content slide: its text leaves room for a third line of heading
/// now and then, where a statement's options do not.
pub const FIT_CONTENT_TITLE_CHARS: usize = 100;

/// Longest title in a `#` heading, on any slide: its larger type holds fewer characters
/// a line.
pub const FIT_TOP_TITLE_CHARS: usize = 60;

/// Characters of slide text counted as one line on the screen: a line of the slide area
/// at the minimum text size holds about 65, less a margin for wrapping at word ends.
pub const FIT_LINE_CHARS: usize = 60;

/// Lines of text a content slide may have besides its heading: what fits under a
/// two-line title at the minimum text size at 16:9, the tightest screen shape.
pub const FIT_CONTENT_LINES: usize = 12;

/// Bullets or paragraphs a content slide may have: each takes its own line and a gap.
pub const FIT_CONTENT_BLOCKS: usize = 12;

/// Longest option text the screen shows in full, by the statement's number of options:
/// an option's line beside its bar holds about 45 characters, so two options may wrap
/// onto four lines each, three or four onto three, five onto two, six to eight not.
pub fn fit_option_chars(options: usize) -> usize {
    match options {
        0..=2 => 140,
        3 | 4 => 100,
        5 => 70,
        _ => 40,
    }
}

/// Longest label of a scale point the screen shows in full, by the number of points:
/// each point is a column of about 13 characters a line with five points and 9 with
/// seven, and a label may take three lines under its column.
pub fn fit_point_chars(points: usize) -> usize {
    if points <= 5 {
        36
    } else {
        24
    }
}

/// Lines of text a statement may have above its options besides its heading: what is
/// left beside the options' lines (four options of three lines leave none).
pub fn fit_context_lines(options: usize) -> usize {
    match options {
        0..=3 => 2,
        4 => 0,
        _ => 1,
    }
}

/// A parsed deck: what a facilitator steps through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deck {
    /// Where the deck came from (file name), for messages.
    pub source_name: String,
    /// The title from the front matter, or the source name.
    pub title: String,
    /// Participant groups from the front matter (may be empty).
    pub groups: Vec<String>,
    /// The language of the slides' text, a language tag (`lang:`, default `nl`), so
    /// pages can mark it when their own language differs.
    pub lang: String,
    /// The meeting the deck is for (`meeting:`), for the report's heading.
    pub meeting: Option<String>,
    /// The meeting's date as written (`date:`), for the report's heading.
    pub date: Option<String>,
    /// Where the meeting is held (`place:`), for the report's heading.
    pub place: Option<String>,
    /// The fewest voters a group (or a pairing of rounds) must have before its counts
    /// are shown anywhere (`min_group_size:`, default [`DEFAULT_MIN_GROUP_SIZE`]).
    pub min_group_size: u64,
    /// Whether participants may add an argument for their choice (`arguments:`, on by
    /// default).
    pub arguments: bool,
    /// Whether participants may upvote approved arguments (`upvotes:`, on by default).
    pub upvotes: bool,
    /// Whether participants may send questions while the host has them open
    /// (`questions:`, on by default).
    pub questions: bool,
    /// The slides, in order; never empty.
    pub slides: Vec<Slide>,
    /// What the screen cannot show in full at its minimum text size, each with its line
    /// (see "What fits on the screen" in `docs/deck-format.md`). The deck still runs.
    pub warnings: Vec<LineError>,
}

/// One slide of a deck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slide {
    /// 1-based line in the source where the slide starts.
    pub line: usize,
    /// A short title for lists: the first heading, else the first line of text, cut with
    /// "…" after 80 characters.
    pub title: String,
    /// The same title uncut, for the report and exports.
    pub full_title: String,
    /// The slide's Markdown (for a statement: the context before the options) rendered
    /// to HTML, raw HTML escaped and unsafe link targets dropped.
    pub html: String,
    /// Content or statement.
    pub kind: SlideKind,
    /// Whether the statement is a scale (`1)` to `5)` or `7)`): its options are the
    /// points' labels, `""` for a bare point, and a vote's option is the point less one.
    pub scale: bool,
    /// For a statement: whether each round's results start hidden or live.
    pub results: Results,
    /// The presenter's notes (the lines after `Notities:` or `Notes:`), rendered to HTML
    /// as `html` is; `None` when the slide has none. Only the host ever sees them.
    pub notes: Option<String>,
    /// The image files the slide shows (`![alt](name.png)`), each once, in order.
    pub images: Vec<String>,
    /// Whether the slide shows the opinion map (a line `[meningskaart]` or
    /// `[opinion map]` on a content slide).
    pub opinion_map: bool,
    /// Where the slide's images stand against its text (`{naast}` or `{onder}` after
    /// an image).
    pub layout: Layout,
}

/// Where a slide's images stand against its text, as a marker after an image on its
/// line says: `![kaart](kaart.png){naast}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// No marker: the images stand where the Markdown puts them, and on the screen an
    /// image takes the room the text and options leave.
    #[default]
    Flow,
    /// `{naast}` or `{beside}`: the text and options in the left half of the slide area,
    /// the images in the right half, the full height.
    Beside,
    /// `{onder}` or `{under}`: the images under the text and options, across the width,
    /// in the room they leave.
    Under,
}

/// How a statement's results show when a round opens (`results:` in the deck).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Results {
    /// Hidden on screen and phones until the host reveals the round: the default, so
    /// the room does not follow the first votes it sees.
    #[default]
    Hidden,
    /// Shown from the start of every round, as the votes come in.
    Live,
}

/// What a slide is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlideKind {
    /// Shows findings.
    Content,
    /// Asks for a vote between the options (A first); 2..=MAX_OPTIONS.
    Statement {
        /// The option texts, without their `A)` label.
        options: Vec<String>,
    },
}

/// One problem in a deck, with the line it is on, in both languages of the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// A stable name of the problem, one of [`PROBLEMS`].
    pub code: &'static str,
    /// What is wrong and how to fix it, in English.
    pub message: String,
    /// The same in Dutch.
    pub dutch: String,
}

impl LineError {
    fn new(line: usize, text: Text) -> LineError {
        LineError {
            line,
            code: text.code,
            message: text.en,
            dutch: text.nl,
        }
    }

    /// A deck file whose byte `byte` (from 1) on `line` is not UTF-8.
    pub fn not_utf8(line: usize, byte: usize) -> LineError {
        LineError::new(
            line,
            text(
                "not_utf8",
                format!("byte {byte} is not UTF-8: save the deck as UTF-8 text"),
                format!("byte {byte} is geen UTF-8: sla het deck op als UTF-8-tekst"),
            ),
        )
    }

    /// The message in English, or in Dutch.
    pub fn text(&self, english: bool) -> &str {
        if english {
            &self.message
        } else {
            &self.dutch
        }
    }
}

/// A problem's code with its text in English and Dutch, before it has a line.
struct Text {
    code: &'static str,
    en: String,
    nl: String,
}

fn text(code: &'static str, en: impl Into<String>, nl: impl Into<String>) -> Text {
    debug_assert!(PROBLEMS.contains(&code), "{code} is in PROBLEMS");
    Text {
        code,
        en: en.into(),
        nl: nl.into(),
    }
}

/// Every problem `check` can report (errors and warnings), by code.
pub const PROBLEMS: &[&str] = &[
    "too_large",
    "no_slides",
    "too_many_slides",
    "empty_slide",
    "front_matter_open",
    "front_matter_colon",
    "front_matter_key",
    "front_matter_twice",
    "title_empty",
    "lang_tag",
    "meeting_empty",
    "min_group_size",
    "on_off",
    "results_value",
    "group_empty",
    "group_twice",
    "results_not_statement",
    "results_twice",
    "title_long",
    "content_blocks",
    "content_lines",
    "first_option",
    "first_point",
    "option_twice",
    "point_twice",
    "option_skipped",
    "point_skipped",
    "options_mixed",
    "too_many_options",
    "too_many_points",
    "text_after_options",
    "option_empty",
    "one_option",
    "option_long",
    "context_long",
    "scale_points",
    "point_label",
    "small_letter",
    "small_letters",
    "dot_for_parenthesis",
    "scale_as_letters",
    "not_utf8",
    "notes_only",
    "image_alt",
    "image_source",
    "image_type",
    "image_room",
    "image_small",
    "image_layout",
    "map_on_statement",
];

/// Why a deck could not be read: every problem found, each with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeckError {
    /// The source name (file).
    pub file: String,
    /// At least one problem.
    pub errors: Vec<LineError>,
}

impl fmt::Display for DeckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", self.file, e.line, e.message)?;
        }
        Ok(())
    }
}

impl DeckError {
    /// Every problem as `file:line: message`, one a line, in English or Dutch.
    pub fn text(&self, english: bool) -> String {
        let lines: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}:{}: {}", self.file, e.line, e.text(english)))
            .collect();
        lines.join("\n")
    }
}

impl std::error::Error for DeckError {}

/// How an edited deck differs from the one a session runs, in what votes rest on: an
/// edit with none of these keeps the session (see [`Deck::structure_change`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructureChange {
    /// Another number of slides.
    Slides {
        /// Slides before.
        was: usize,
        /// Slides now.
        now: usize,
    },
    /// A slide (index from 0) that was content is a statement now, or the reverse.
    Kind {
        /// The slide's index.
        slide: usize,
        /// Whether it is a statement now.
        statement: bool,
    },
    /// A statement (index from 0) with another number of options.
    Options {
        /// The slide's index.
        slide: usize,
        /// Options before.
        was: usize,
        /// Options now.
        now: usize,
    },
    /// A statement (index from 0) that was a scale is one with letters now, or the
    /// reverse: the same option indexes would mean other answers.
    Scale {
        /// The slide's index.
        slide: usize,
        /// Whether it is a scale now.
        scale: bool,
    },
    /// Other participant groups (names or order).
    Groups,
}

impl StructureChange {
    /// What changed, for a person, in Dutch or English.
    pub fn describe(&self, english: bool) -> String {
        match (self, english) {
            (StructureChange::Slides { was, now }, false) => {
                format!("het deck had {was} dia's en heeft er nu {now}")
            }
            (StructureChange::Slides { was, now }, true) => {
                format!("the deck had {was} slides and now has {now}")
            }
            (StructureChange::Kind { slide, statement }, false) => format!(
                "dia {} was een {} en is nu een {}",
                slide + 1,
                if *statement { "inhoudsdia" } else { "stelling" },
                if *statement { "stelling" } else { "inhoudsdia" }
            ),
            (StructureChange::Kind { slide, statement }, true) => format!(
                "slide {} was a {} and is now a {}",
                slide + 1,
                if *statement {
                    "content slide"
                } else {
                    "statement"
                },
                if *statement {
                    "statement"
                } else {
                    "content slide"
                }
            ),
            (StructureChange::Options { slide, was, now }, false) => format!(
                "de stelling op dia {} had {was} opties en heeft er nu {now}",
                slide + 1
            ),
            (StructureChange::Options { slide, was, now }, true) => format!(
                "the statement on slide {} had {was} options and now has {now}",
                slide + 1
            ),
            (StructureChange::Scale { slide, scale }, false) => format!(
                "de stelling op dia {} {}",
                slide + 1,
                if *scale {
                    "had letters en is nu een schaal"
                } else {
                    "was een schaal en heeft nu letters"
                }
            ),
            (StructureChange::Scale { slide, scale }, true) => format!(
                "the statement on slide {} {}",
                slide + 1,
                if *scale {
                    "had letters and is now a scale"
                } else {
                    "was a scale and now has letters"
                }
            ),
            (StructureChange::Groups, false) => "de deelnemersgroepen zijn veranderd".into(),
            (StructureChange::Groups, true) => "the participant groups changed".into(),
        }
    }
}

impl Deck {
    /// The built-in default deck.
    pub fn default_deck() -> Deck {
        parse(DEFAULT_DECK_NAME, DEFAULT_DECK_SOURCE).expect("the built-in deck parses")
    }

    /// Whether a round of the statement at `index` starts with its results shown.
    pub fn starts_revealed(&self, index: usize) -> bool {
        self.slides
            .get(index)
            .is_some_and(|s| s.results == Results::Live)
    }

    /// Every image file the deck shows, each once, in order.
    pub fn images(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for name in self.slides.iter().flat_map(|s| &s.images) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// How many slides are statements.
    pub fn statement_count(&self) -> usize {
        self.slides
            .iter()
            .filter(|s| matches!(s.kind, SlideKind::Statement { .. }))
            .count()
    }

    /// The first difference between this deck and `edited` that stored votes rest on
    /// (slides, their kinds, each statement's number of options, the groups), or `None`
    /// when `edited` may replace it in a running session: then every stored event still
    /// means what it meant, and only texts change.
    pub fn structure_change(&self, edited: &Deck) -> Option<StructureChange> {
        if self.slides.len() != edited.slides.len() {
            return Some(StructureChange::Slides {
                was: self.slides.len(),
                now: edited.slides.len(),
            });
        }
        for (slide, (a, b)) in self.slides.iter().zip(&edited.slides).enumerate() {
            match (&a.kind, &b.kind) {
                (SlideKind::Content, SlideKind::Content) => {}
                (SlideKind::Statement { options: was }, SlideKind::Statement { options: now }) => {
                    if was.len() != now.len() {
                        return Some(StructureChange::Options {
                            slide,
                            was: was.len(),
                            now: now.len(),
                        });
                    }
                    if a.scale != b.scale {
                        return Some(StructureChange::Scale {
                            slide,
                            scale: b.scale,
                        });
                    }
                }
                (_, now) => {
                    return Some(StructureChange::Kind {
                        slide,
                        statement: matches!(now, SlideKind::Statement { .. }),
                    })
                }
            }
        }
        (self.groups != edited.groups).then_some(StructureChange::Groups)
    }

    /// The options of slide `index` if it is a statement.
    pub fn options(&self, index: usize) -> Option<&[String]> {
        match &self.slides.get(index)?.kind {
            SlideKind::Statement { options } => Some(options),
            SlideKind::Content => None,
        }
    }

    /// The warnings as `stemzaal check` prints them, one `file:line: warning: …` (or
    /// `waarschuwing: …`) a line.
    pub fn warnings_text(&self, english: bool) -> String {
        let label = if english { "warning" } else { "waarschuwing" };
        self.warnings
            .iter()
            .map(|w| {
                format!(
                    "{}:{}: {label}: {}\n",
                    self.source_name,
                    w.line,
                    w.text(english)
                )
            })
            .collect()
    }

    /// A plain-text summary of the deck (title, groups, each slide with its line and the
    /// options of each statement), as `stemzaal check FILE` prints it.
    pub fn outline(&self) -> String {
        let statements = self
            .slides
            .iter()
            .filter(|s| matches!(s.kind, SlideKind::Statement { .. }))
            .count();
        let groups = if self.groups.is_empty() {
            "(none)".to_string()
        } else {
            self.groups.join(", ")
        };
        let mut out = format!(
            "{} ({})\ngroups: {}\n{} slides, {} statements\n",
            self.title,
            self.source_name,
            groups,
            self.slides.len(),
            statements
        );
        for (i, slide) in self.slides.iter().enumerate() {
            let kind = match slide.kind {
                SlideKind::Content => "content",
                SlideKind::Statement { .. } if slide.scale => "scale",
                SlideKind::Statement { .. } => "statement",
            };
            out.push_str(&format!(
                "\n{:>3}. line {:<5} {:<9}  {}",
                i + 1,
                slide.line,
                kind,
                slide.title
            ));
            if let SlideKind::Statement { options } = &slide.kind {
                for (i, option) in options.iter().enumerate() {
                    let label = option_name(slide.scale, i);
                    out.push_str(format!("\n{label:>23}) {option}").trim_end());
                }
            }
        }
        out.push('\n');
        out
    }
}

/// Parses a deck; `source_name` names the file in error messages.
pub fn parse(source_name: &str, text: &str) -> Result<Deck, DeckError> {
    let fail = |errors: Vec<LineError>| DeckError {
        file: source_name.to_string(),
        errors,
    };
    if let Some(error) = size_error(text) {
        return Err(fail(vec![error]));
    }
    // Editors on Windows like to start UTF-8 files with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut errors = Vec::new();

    let Some((front, body_start)) = front_matter(&lines, &mut errors) else {
        return Err(fail(errors));
    };
    let media = media_key(text);
    let (slides, mut warnings) = parse_body(&lines, body_start, front.results, &media, &mut errors);

    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(fail(errors));
    }
    warnings.sort_by_key(|w| w.line);
    Ok(Deck {
        source_name: source_name.to_string(),
        title: front.title.unwrap_or_else(|| source_name.to_string()),
        groups: front.groups,
        lang: front.lang.unwrap_or_else(|| DEFAULT_LANG.to_string()),
        meeting: front.meeting,
        date: front.date,
        place: front.place,
        min_group_size: front.min_group_size,
        arguments: front.arguments,
        upvotes: front.upvotes,
        questions: front.questions,
        slides,
        warnings,
    })
}

/// The error for a source over [`MAX_SOURCE_BYTES`], which is not read at all.
fn size_error(text: &str) -> Option<LineError> {
    let (size, most) = (text.len(), MAX_SOURCE_BYTES);
    (size > most).then(|| {
        LineError::new(
            1,
            self::text(
                "too_large",
                format!("the deck is {size} bytes; a deck may be at most {most} bytes (1 MiB)"),
                format!(
                    "het deck is {size} bytes; een deck mag hoogstens {most} bytes (1 MiB) zijn"
                ),
            ),
        )
    })
}

/// Parses the slides after the front matter: every slide's problems go to `errors`;
/// returns the slides that parsed and the warnings (unsorted).
fn parse_body(
    lines: &[&str],
    body_start: usize,
    default_results: Results,
    media: &str,
    errors: &mut Vec<LineError>,
) -> (Vec<Slide>, Vec<LineError>) {
    let chunks = split_slides(lines, body_start);
    let filled: Vec<usize> = (0..chunks.len())
        .filter(|&i| !is_blank_chunk(lines, &chunks[i]))
        .collect();
    let mut slides = Vec::new();
    let mut warnings = Vec::new();
    let (Some(&first), Some(&last)) = (filled.first(), filled.last()) else {
        errors.push(LineError::new(
            1,
            text(
                "no_slides",
                "the deck has no slides: write at least one slide of Markdown",
                "het deck heeft geen dia's: schrijf ten minste één dia in Markdown",
            ),
        ));
        return (slides, warnings);
    };
    empty_slide_errors(lines, &chunks[first..=last], errors);
    for &i in &filled {
        if let Some(slide) = parse_slide(
            lines,
            chunks[i].clone(),
            default_results,
            media,
            errors,
            &mut warnings,
        ) {
            slides.push(slide);
        }
    }
    if filled.len() > MAX_SLIDES {
        let extra = &chunks[filled[MAX_SLIDES]];
        let (this, most) = (MAX_SLIDES + 1, MAX_SLIDES);
        errors.push(LineError::new(
            first_filled_line(lines, extra.clone()) + 1,
            text(
                "too_many_slides",
                format!("too many slides: this is slide {this}, a deck may have at most {most}"),
                format!("te veel dia's: dit is dia {this}, een deck heeft er hoogstens {most}"),
            ),
        ));
    }
    (slides, warnings)
}

/// Reports each empty slide among `chunks` (from the first filled slide to the last).
/// Empty slides at the very start or end are harmless leftovers; in between, a
/// facilitator would step onto a blank screen, so say where.
fn empty_slide_errors(lines: &[&str], chunks: &[Range<usize>], errors: &mut Vec<LineError>) {
    for chunk in chunks {
        if is_blank_chunk(lines, chunk) {
            // The chunk lies strictly between two `---` lines: 0-based `start - 1` and
            // `end`, that is 1-based `start` and `end + 1`.
            let (open, close) = (chunk.start, chunk.end + 1);
            errors.push(LineError::new(
                open,
                text(
                    "empty_slide",
                    format!(
                        "empty slide: two `---` lines with nothing between (lines {open} and \
                         {close}); remove one of them"
                    ),
                    format!(
                        "lege dia: twee regels `---` zonder iets ertussen (regels {open} en \
                         {close}); haal er een weg"
                    ),
                ),
            ));
        }
    }
}

/// Renders a slide's Markdown to HTML that is safe to put in a page: raw HTML shows as
/// text, links to anything but http(s), mailto or a relative address keep only their
/// text, and images show their alt text.
pub fn render_markdown(markdown: &str) -> String {
    render(markdown, None)
}

/// Renders as [`render_markdown`] does, but with `media` (the deck's [`media_key`]) an
/// image with a valid file name becomes an `<img>` served by this server
/// ([`image_url`]), loaded lazily; any other image shows its alt text.
fn render(markdown: &str, media: Option<&str>) -> String {
    // One entry per open link: whether its tags were dropped, so the matching end goes too.
    let mut dropped_links: Vec<bool> = Vec::new();
    let mut dropped_images: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, markdown_options()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        // An HTML block becomes text, which needs a block around it like any other text.
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let safe = is_safe_link(dest_url);
            dropped_links.push(!safe);
            safe.then_some(event)
        }
        Event::End(TagEnd::Link) => {
            let dropped = dropped_links.pop().unwrap_or(false);
            (!dropped).then_some(event)
        }
        Event::Start(Tag::Image {
            link_type,
            ref dest_url,
            id,
            ..
        }) => {
            let shown = media.filter(|_| image_problem(dest_url).is_none());
            dropped_images.push(shown.is_none());
            shown.map(|media| {
                Event::Start(Tag::Image {
                    link_type,
                    dest_url: image_url(media, dest_url, ImageSize::Screen).into(),
                    title: "".into(),
                    id,
                })
            })
        }
        // Without its tags an image's alt text is ordinary text.
        Event::End(TagEnd::Image) => {
            let dropped = dropped_images.pop().unwrap_or(true);
            (!dropped).then_some(event)
        }
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    // Raw HTML in a deck is escaped, so every `<img` here is one of the deck's images.
    out.replace("<img src=\"/media/", "<img loading=\"lazy\" src=\"/media/")
}

/// The two sizes the server keeps of each image: for the projector and host, and the
/// smaller one for phones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSize {
    /// At most 1920 px wide.
    Screen,
    /// At most 800 px wide, recompressed.
    Phone,
}

impl ImageSize {
    /// The size as its URL names it.
    pub fn name(self) -> &'static str {
        match self {
            ImageSize::Screen => "screen",
            ImageSize::Phone => "phone",
        }
    }
}

/// Where the server serves image `name` of the deck whose [`media_key`] is `media`.
pub fn image_url(media: &str, name: &str, size: ImageSize) -> String {
    format!("/media/{media}/{name}/{}", size.name())
}

/// A slide's HTML as phones get it: every image at the phone's size.
pub fn for_phones(html: &str) -> String {
    // The attribute after `src` is always `alt` (pulldown-cmark's order), and a deck's
    // own text cannot hold a bare `"`, so this matches only the images' addresses.
    html.replace("/screen\" alt=\"", "/phone\" alt=\"")
}

/// The key a deck's images are stored under: the SHA-256 of its text, in hexadecimal
/// (the first 128 bits). A deck's slides name their images by it, so a stored session
/// finds them again from its text alone.
pub fn media_key(source: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(source.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The file types a deck's image may have, by its name's extension (the server checks
/// the content too: PNG, JPEG or WebP, whatever the name says).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// Longest image file name.
const MAX_IMAGE_NAME: usize = 100;

/// What is wrong with an image's target, if anything: it must be a file name beside
/// the deck with a PNG, JPEG or WebP extension.
fn image_problem(dest: &str) -> Option<Text> {
    let lower = dest.to_ascii_lowercase();
    if lower.contains("://") || lower.starts_with("//") || lower.starts_with("data:") {
        return Some(text(
            "image_source",
            format!(
                "the image `{dest}` is a web address: put the file beside the deck and name \
                 it, as `![alt](kaart.png)` (the pages load nothing from other sites)"
            ),
            format!(
                "de afbeelding `{dest}` is een webadres: zet het bestand naast het deck en \
                 noem de naam, zoals `![alt](kaart.png)` (de pagina's laden niets van andere \
                 sites)"
            ),
        ));
    }
    let well_formed = !dest.is_empty()
        && dest.len() <= MAX_IMAGE_NAME
        && !dest.starts_with('.')
        && dest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !well_formed {
        return Some(text(
            "image_source",
            format!(
                "the image `{dest}` must be a file name beside the deck: letters, digits, \
                 `-`, `_` and `.`, no folders or spaces, at most {MAX_IMAGE_NAME} characters"
            ),
            format!(
                "de afbeelding `{dest}` moet een bestandsnaam naast het deck zijn: letters, \
                 cijfers, `-`, `_` en `.`, geen mappen of spaties, hoogstens {MAX_IMAGE_NAME} \
                 tekens"
            ),
        ));
    }
    let extension = lower.rsplit_once('.').map_or("", |(_, e)| e);
    if extension == "svg" {
        return Some(text(
            "image_type",
            format!(
                "`{dest}` is an SVG file: SVG can carry scripts and is not shown; export it \
                 as PNG"
            ),
            format!(
                "`{dest}` is een SVG-bestand: SVG kan scripts bevatten en wordt niet getoond; \
                 exporteer het als PNG"
            ),
        ));
    }
    (!IMAGE_EXTENSIONS.contains(&extension)).then(|| {
        text(
            "image_type",
            format!("`{dest}` is not a PNG, JPEG or WebP file (`.png`, `.jpg`, `.webp`)"),
            format!("`{dest}` is geen PNG-, JPEG- of WebP-bestand (`.png`, `.jpg`, `.webp`)"),
        )
    })
}

/// The image files a slide shows, each once; an image without alt text or with a
/// target that is not a file beside the deck goes to `errors` with its line (`start` is
/// the 0-based source line of `slide_lines[0]`).
fn slide_images(slide_lines: &[&str], start: usize, errors: &mut Vec<LineError>) -> Vec<String> {
    let markdown = slide_lines.join("\n");
    let mut names: Vec<String> = Vec::new();
    // The open image: its target, its line and the alt text so far.
    let mut open: Option<(String, usize, String)> = None;
    for (event, range) in Parser::new_ext(&markdown, markdown_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Image { dest_url, .. }) => {
                let line = start + 1 + markdown[..range.start].matches('\n').count();
                open = Some((dest_url.to_string(), line, String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, alt)) = open.as_mut() {
                    alt.push_str(&t);
                }
            }
            Event::End(TagEnd::Image) => {
                let Some((dest, line, alt)) = open.take() else {
                    continue;
                };
                if let Some(problem) = image_problem(&dest) {
                    errors.push(LineError::new(line, problem));
                } else if !names.contains(&dest) {
                    names.push(dest.clone());
                }
                if alt.trim().is_empty() {
                    errors.push(LineError::new(
                        line,
                        text(
                            "image_alt",
                            format!(
                                "the image `{dest}` has no alt text: write what it shows \
                                 between the brackets, `![what it shows]({dest})`, for \
                                 people who cannot see it (WCAG 1.1.1)"
                            ),
                            format!(
                                "de afbeelding `{dest}` heeft geen alt-tekst: schrijf tussen \
                                 de haken wat ze toont, `![wat ze toont]({dest})`, voor wie \
                                 haar niet kan zien (WCAG 1.1.1)"
                            ),
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    names
}

/// The Markdown extensions a deck may use.
fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Whether a link target may stay a link: http, https, mailto, or no scheme (relative).
fn is_safe_link(dest: &str) -> bool {
    // Browsers skip tabs and newlines anywhere in a URL and control characters or spaces
    // before it, so `java\tscript:` must be judged as `javascript:`.
    let cleaned: String = dest
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let cleaned = cleaned.trim_start_matches(|c: char| c <= ' ');
    let before_path = cleaned.find(['/', '?', '#']).unwrap_or(cleaned.len());
    match cleaned[..before_path].find(':') {
        None => true,
        Some(colon) => {
            let scheme = &cleaned[..colon];
            ["http", "https", "mailto"]
                .iter()
                .any(|allowed| scheme.eq_ignore_ascii_case(allowed))
        }
    }
}

/// What the front matter sets.
struct FrontMatter {
    title: Option<String>,
    groups: Vec<String>,
    results: Results,
    lang: Option<String>,
    meeting: Option<String>,
    date: Option<String>,
    place: Option<String>,
    min_group_size: u64,
    arguments: bool,
    upvotes: bool,
    questions: bool,
}

impl Default for FrontMatter {
    fn default() -> Self {
        FrontMatter {
            title: None,
            groups: vec![],
            results: Results::default(),
            lang: None,
            meeting: None,
            date: None,
            place: None,
            min_group_size: DEFAULT_MIN_GROUP_SIZE,
            arguments: true,
            upvotes: true,
            questions: true,
        }
    }
}

/// Groups smaller than this are never shown: five is the usual floor below which a
/// few raadsleden in a room could be singled out.
pub const DEFAULT_MIN_GROUP_SIZE: u64 = 5;

/// The range `min_group_size:` may take: below 2 a group of one is a person.
pub const MIN_GROUP_SIZE_RANGE: std::ops::RangeInclusive<u64> = 2..=100;

/// The front matter keys, as named in messages.
const FRONT_KEYS: &str = "`title`, `groups`, `results`, `lang`, `meeting`, `date`, `place`, \
     `min_group_size`, `arguments`, `upvotes` or `questions`";

/// The language of a deck without `lang:`.
pub const DEFAULT_LANG: &str = "nl";

/// Reads the front matter if the first line is `---`; returns it with the index of the
/// first body line, or `None` when it is not closed (nothing after it can be trusted).
fn front_matter(lines: &[&str], errors: &mut Vec<LineError>) -> Option<(FrontMatter, usize)> {
    let mut front = FrontMatter::default();
    if !lines.first().is_some_and(|l| is_separator(l)) {
        return Some((front, 0));
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|l| is_separator(l))
        .map(|p| p + 1)
    else {
        errors.push(LineError::new(
            1,
            text(
                "front_matter_open",
                "front matter is not closed: a file whose first line is `---` starts with \
                 `key: value` lines that end with another `---` line",
                "de kop (front matter) is niet afgesloten: een bestand waarvan de eerste \
                 regel `---` is, begint met regels `sleutel: waarde` die eindigen met nog \
                 een regel `---`",
            ),
        ));
        return None;
    };
    // The line each key was first set on.
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (idx, raw) in lines.iter().enumerate().take(close).skip(1) {
        let line = idx + 1;
        let mut error = |problem: Text| errors.push(LineError::new(line, problem));
        match front_entry(raw, line, &mut seen) {
            Ok(Some(entry)) => set_front_key(&mut front, entry, &mut error),
            Ok(None) => {}
            Err(message) => error(message),
        }
    }
    Some((front, close + 1))
}

/// One `key: value` line of the front matter: the key as written, its lower-case name
/// and the value, both trimmed.
struct FrontEntry<'a> {
    key: &'a str,
    name: String,
    value: &'a str,
}

/// Reads a front matter line on `line`: `None` for a blank line, the entry for a known
/// key not set before (recorded in `seen`), else what is wrong with the line.
fn front_entry<'a>(
    raw: &'a str,
    line: usize,
    seen: &mut Vec<(String, usize)>,
) -> Result<Option<FrontEntry<'a>>, Text> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let Some((key, value)) = raw.split_once(':') else {
        let found = raw.trim();
        return Err(text(
            "front_matter_colon",
            format!(
                "front matter line without a colon: expected `key: value` ({FRONT_KEYS}), \
                 found `{found}`"
            ),
            format!(
                "regel in de kop zonder dubbele punt: verwacht `sleutel: waarde` \
                 ({FRONT_KEYS}), gevonden `{found}`"
            ),
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    let name = key.to_ascii_lowercase();
    if !matches!(
        name.as_str(),
        "title"
            | "groups"
            | "results"
            | "lang"
            | "meeting"
            | "date"
            | "place"
            | "min_group_size"
            | "arguments"
            | "upvotes"
            | "questions"
    ) {
        return Err(text(
            "front_matter_key",
            format!("unknown front matter key `{key}`: expected {FRONT_KEYS}"),
            format!("onbekende sleutel `{key}` in de kop: verwacht {FRONT_KEYS}"),
        ));
    }
    if let Some((_, first)) = seen.iter().find(|(k, _)| *k == name) {
        return Err(text(
            "front_matter_twice",
            format!("`{key}` is set twice (first on line {first})"),
            format!("`{key}` staat er twee keer (eerst op regel {first})"),
        ));
    }
    seen.push((name.clone(), line));
    Ok(Some(FrontEntry { key, name, value }))
}

/// Sets what a known front matter key says, or reports why its value is wrong.
fn set_front_key(front: &mut FrontMatter, entry: FrontEntry, error: &mut impl FnMut(Text)) {
    let FrontEntry { key, name, value } = entry;
    match name.as_str() {
        "title" if value.is_empty() => error(text(
            "title_empty",
            "`title` is empty: write the deck's title after the colon",
            "`title` is leeg: schrijf de titel van het deck na de dubbele punt",
        )),
        "title" => front.title = Some(value.to_string()),
        "lang" if is_language_tag(value) => front.lang = Some(value.to_string()),
        "lang" => error(text(
            "lang_tag",
            format!(
                "`lang` must be a language tag such as `nl`, `en`, `fy` or `nl-BE`, found \
                 `{value}`"
            ),
            format!(
                "`lang` moet een taalcode zijn zoals `nl`, `en`, `fy` of `nl-BE`, gevonden \
                 `{value}`"
            ),
        )),
        "meeting" | "date" | "place" if value.is_empty() => error(text(
            "meeting_empty",
            format!("`{key}` is empty: write it after the colon, or remove the line"),
            format!("`{key}` is leeg: vul het in na de dubbele punt, of haal de regel weg"),
        )),
        "meeting" => front.meeting = Some(value.to_string()),
        "date" => front.date = Some(value.to_string()),
        "place" => front.place = Some(value.to_string()),
        "min_group_size" => match value.parse::<u64>() {
            Ok(k) if MIN_GROUP_SIZE_RANGE.contains(&k) => front.min_group_size = k,
            _ => {
                let (low, high) = (MIN_GROUP_SIZE_RANGE.start(), MIN_GROUP_SIZE_RANGE.end());
                error(text(
                    "min_group_size",
                    format!(
                        "`min_group_size` must be a whole number from {low} to {high}, found \
                         `{value}`"
                    ),
                    format!(
                        "`min_group_size` moet een heel getal van {low} tot en met {high} zijn, \
                         gevonden `{value}`"
                    ),
                ))
            }
        },
        "arguments" | "upvotes" | "questions" => match value.to_ascii_lowercase().as_str() {
            "on" | "off" => {
                let on = value.eq_ignore_ascii_case("on");
                match name.as_str() {
                    "arguments" => front.arguments = on,
                    "upvotes" => front.upvotes = on,
                    _ => front.questions = on,
                }
            }
            _ => error(text(
                "on_off",
                format!("`{key}` must be `on` or `off`, found `{value}`"),
                format!("`{key}` moet `on` (aan) of `off` (uit) zijn, gevonden `{value}`"),
            )),
        },
        "results" => match parse_results(value) {
            Some(results) => front.results = results,
            None => error(results_value(value)),
        },
        "groups" if value.is_empty() => {}
        _ => add_groups(front, value, error),
    }
}

/// Adds the comma-separated group names of `groups:`, each once.
fn add_groups(front: &mut FrontMatter, value: &str, error: &mut impl FnMut(Text)) {
    for name in value.split(',').map(str::trim) {
        if name.is_empty() {
            error(text(
                "group_empty",
                "empty group name in `groups`: separate names with single commas",
                "lege groepsnaam in `groups`: scheid de namen met één komma",
            ));
        } else if front
            .groups
            .iter()
            .any(|g| g.to_lowercase() == name.to_lowercase())
        {
            error(text(
                "group_twice",
                format!("group `{name}` is listed twice in `groups`"),
                format!("groep `{name}` staat twee keer in `groups`"),
            ));
        } else {
            front.groups.push(name.to_string());
        }
    }
}

/// A language tag as HTML's `lang` takes it: a primary language of two or three
/// letters, then optional subtags of one to eight letters or digits (`nl`, `nl-BE`).
fn is_language_tag(value: &str) -> bool {
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `hidden` or `live`, in any case.
fn parse_results(value: &str) -> Option<Results> {
    match value.to_ascii_lowercase().as_str() {
        "hidden" => Some(Results::Hidden),
        "live" => Some(Results::Live),
        _ => None,
    }
}

/// The value of a slide's `results:` line (at the very start of the line, lower case),
/// which sets how that statement's results show.
fn results_line(line: &str) -> Option<&str> {
    line.strip_prefix("results:").map(str::trim)
}

/// Splits the body at `---` lines into the 0-based line ranges between them.
fn split_slides(lines: &[&str], body_start: usize) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = body_start;
    for (idx, line) in lines.iter().enumerate().skip(body_start) {
        if is_separator(line) {
            chunks.push(start..idx);
            start = idx + 1;
        }
    }
    chunks.push(start..lines.len());
    chunks
}

fn is_separator(line: &str) -> bool {
    line.trim_end() == "---"
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_blank_chunk(lines: &[&str], chunk: &Range<usize>) -> bool {
    lines[chunk.clone()].iter().all(|l| is_blank(l))
}

/// The 0-based index of the first non-blank line in `range` (its start if all are blank).
fn first_filled_line(lines: &[&str], range: Range<usize>) -> usize {
    range
        .clone()
        .find(|&i| !is_blank(lines[i]))
        .unwrap_or(range.start)
}

/// The letter and the rest of an option line (`A) text`), or `None` for other lines.
fn option_label(line: &str) -> Option<(u8, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_uppercase() && bytes[1] == b')' {
        // Both bytes are ASCII, so index 2 is a character boundary.
        let rest = &line[2..];
        if rest.is_empty() || rest.starts_with([' ', '\t']) {
            return Some((bytes[0], rest));
        }
    }
    None
}

/// The number of a scale point line (`3) Eens`, `2)`) and the rest, or `None` for other
/// lines. Up to three digits, so that `8)` or `10)` is an error about the scale rather
/// than text.
fn point_label(line: &str) -> Option<(usize, &str)> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=3).contains(&digits) {
        return None;
    }
    // The digits are ASCII, so `digits` is a character boundary.
    let rest = line[digits..].strip_prefix(')')?;
    if rest.is_empty() || rest.starts_with([' ', '\t']) {
        Some((line[..digits].parse().ok()?, rest))
    } else {
        None
    }
}

/// An option line of either kind: the letter's index from 0 (`A)` is 0) or the point's
/// number (`1)` is 1), whether it is a point, and the rest of the line.
fn option_line(line: &str) -> Option<(usize, bool, &str)> {
    if let Some((letter, rest)) = option_label(line) {
        return Some((usize::from(letter - b'A'), false, rest));
    }
    point_label(line).map(|(number, rest)| (number, true, rest))
}

/// How an option is named where it is written: `A`, `B`, … or, on a scale, `1`, `2`, …
pub fn option_name(scale: bool, index: usize) -> String {
    if scale {
        (index + 1).to_string()
    } else {
        char::from(b'A' + index as u8).to_string()
    }
}

/// An option line's label as written, from [`option_line`]'s number: `A` for 0, or
/// the point's own number (`0` too, which is no point).
fn written(point: bool, number: usize) -> String {
    if point {
        number.to_string()
    } else {
        option_name(false, number)
    }
}

/// Why an option line is out of order, if it is: `found` after the options up to
/// `expected` (both in [`option_line`]'s terms).
fn order_error(scale: bool, found: usize, expected: usize) -> Option<Text> {
    let first = if scale { 1 } else { 0 };
    let name = |n: usize| written(scale, n);
    let (got, want) = (name(found), name(expected));
    if found == expected {
        None
    } else if expected == first && scale {
        Some(text(
            "first_point",
            format!("`{got})` without `1)`: the points of a scale start at 1)"),
            format!("`{got})` zonder `1)`: de punten van een schaal beginnen bij 1)"),
        ))
    } else if expected == first {
        Some(text(
            "first_option",
            format!("`{got})` without `A)`: the options of a statement start at A)"),
            format!("`{got})` zonder `A)`: de opties van een stelling beginnen bij A)"),
        ))
    } else if found < expected && scale {
        Some(text(
            "point_twice",
            format!("duplicate point `{got})`: each number is used once"),
            format!("punt `{got})` staat er twee keer: elk nummer komt één keer voor"),
        ))
    } else if found < expected {
        Some(text(
            "option_twice",
            format!("duplicate option `{got})`: each letter is used once"),
            format!("optie `{got})` staat er twee keer: elke letter komt één keer voor"),
        ))
    } else {
        let before = name(expected - 1);
        Some(if scale {
            text(
                "point_skipped",
                format!("skipped point: `{got})` follows `{before})`, expected `{want})`"),
                format!("punt overgeslagen: `{got})` volgt op `{before})`, verwacht `{want})`"),
            )
        } else {
            text(
                "option_skipped",
                format!("skipped option letter: `{got})` follows `{before})`, expected `{want})`"),
                format!(
                    "optieletter overgeslagen: `{got})` volgt op `{before})`, verwacht `{want})`"
                ),
            )
        })
    }
}

/// Parses one non-blank slide; pushes its problems to `errors` and returns `None` then.
fn parse_slide(
    lines: &[&str],
    range: Range<usize>,
    default_results: Results,
    media: &str,
    errors: &mut Vec<LineError>,
    warnings: &mut Vec<LineError>,
) -> Option<Slide> {
    let (range, notes) = take_notes(lines, range);
    if is_blank_chunk(lines, &range) {
        errors.push(LineError::new(
            range.end + 1,
            text(
                "notes_only",
                "this slide has only presenter notes: the room would see an empty slide \
                 (write the slide's text above `Notities:`)",
                "deze dia heeft alleen notities voor de presentator: de zaal zou een lege dia \
                 zien (schrijf de tekst van de dia boven `Notities:`)",
            ),
        ));
        return None;
    }
    let first_line = first_filled_line(lines, range.clone());
    let (slide_lines, results) = take_results_lines(&lines[range.clone()], range.start, errors);
    let (slide_lines, map_line) = take_map_line(&slide_lines, range.start);
    let (slide_lines, layout) = take_layout(&slide_lines, range.start, errors);
    let slide_lines = slide_lines.as_slice();
    let images = slide_images(slide_lines, range.start, errors);
    let full_title = slide_title(slide_lines);
    warn_long_title(slide_lines, &full_title, first_line + 1, warnings);
    let head = SlideHead {
        line: first_line + 1,
        title: short_title(&full_title),
        full_title,
    };
    let first_option = slide_lines.iter().position(|l| option_line(l).is_some());
    if !images.is_empty() {
        let room = ImageRoom {
            layout,
            title: &head.full_title,
            first_option,
            line: head.line,
        };
        warn_image_room(slide_lines, room, warnings);
    }
    let Some(first_option) = first_option else {
        if let Some((line, _)) = results {
            errors.push(LineError::new(
                line,
                text(
                    "results_not_statement",
                    "`results:` on a slide without options: only a statement has results \
                     (remove the line, or add the `A)` and `B)` options)",
                    "`results:` op een dia zonder opties: alleen een stelling heeft een \
                     uitslag (haal de regel weg, of voeg de opties `A)` en `B)` toe)",
                ),
            ));
            return None;
        }
        return Some(Slide {
            notes,
            images,
            layout,
            opinion_map: map_line.is_some(),
            ..content_slide(slide_lines, head, media, warnings)
        });
    };
    if let Some(line) = map_line {
        errors.push(LineError::new(
            line,
            text(
                "map_on_statement",
                "`[opinion map]` on a statement: the map needs a slide of its own \
                 (move the line to a slide without options)",
                "`[meningskaart]` op een stelling: de kaart heeft een eigen dia nodig \
                 (zet de regel op een dia zonder opties)",
            ),
        ));
        return None;
    }
    let statement = Statement {
        lines: slide_lines,
        start: range.start,
        first_option,
        results: results.map_or(default_results, |(_, mode)| mode),
    };
    statement_slide(statement, head, media, errors, warnings).map(|slide| Slide {
        notes,
        images,
        layout,
        ..slide
    })
}

/// Lines of text (besides the heading) a slide with an image may have: with more, the
/// image gets less than about a third of the screen's height at the minimum text size,
/// too little to read from the back of the room.
pub const FIT_IMAGE_TEXT_LINES: usize = 6;

/// Characters of an option's text a line holds beside its letter and bar.
const OPTION_LINE_CHARS: usize = 45;

/// Lines a slide's heading, text and options may take beside an image (`{naast}`):
/// the text has half the slide area's width and all its height, which at the minimum
/// text size at 16:9 holds about 15 lines, less a margin for the gaps between blocks.
pub const FIT_BESIDE_LINES: usize = 13;

/// Characters of text a line holds in the half of the slide area beside an image: half
/// of [`FIT_LINE_CHARS`], less the gap between the halves.
const BESIDE_LINE_CHARS: usize = 27;

/// Characters of a heading a line holds beside an image (its type is larger).
const BESIDE_TITLE_CHARS: usize = 24;

/// Characters of an option's text a line holds beside an image, its letter and bar.
const BESIDE_OPTION_CHARS: usize = 18;

/// What [`warn_image_room`] needs to know of a slide with an image.
struct ImageRoom<'a> {
    layout: Layout,
    /// The slide's heading (or first line), uncut.
    title: &'a str,
    /// The index in the slide's lines of its first option, on a statement.
    first_option: Option<usize>,
    /// The slide's 1-based line, for the warning.
    line: usize,
}

/// Warns when a slide's text leaves its image too little room on the screen (under the
/// text, or where the Markdown puts it), or takes more than its half beside the image;
/// an option counts its lines beside its letter.
fn warn_image_room(slide_lines: &[&str], room: ImageRoom, warnings: &mut Vec<LineError>) {
    let beside = room.layout == Layout::Beside;
    let (line_chars, option_chars) = if beside {
        (BESIDE_LINE_CHARS, BESIDE_OPTION_CHARS)
    } else {
        (FIT_LINE_CHARS, OPTION_LINE_CHARS)
    };
    let text_end = room.first_option.unwrap_or(slide_lines.len());
    let blocks = text_blocks(&slide_lines[..text_end].join("\n"));
    let mut lines: usize = blocks.iter().map(|&n| n.div_ceil(line_chars)).sum();
    for raw in &slide_lines[text_end..] {
        if let Some((_, _, rest)) = option_line(raw) {
            lines += rest.trim().chars().count().div_ceil(option_chars).max(1);
        }
    }
    let problem = if beside {
        lines += room
            .title
            .chars()
            .count()
            .div_ceil(BESIDE_TITLE_CHARS)
            .max(1);
        if lines <= FIT_BESIDE_LINES {
            return;
        }
        text(
            "image_room",
            format!(
                "the heading, text and options beside the image take about {lines} lines of \
                 half the screen's width; beside an image there is room for \
                 {FIT_BESIDE_LINES} (shorten the text, put the image under it with \
                 `{{under}}`, or give the image a slide of its own)"
            ),
            format!(
                "de kop, tekst en opties naast de afbeelding beslaan ongeveer {lines} regels \
                 van de halve breedte van het scherm; naast een afbeelding is er ruimte voor \
                 {FIT_BESIDE_LINES} (maak de tekst korter, zet de afbeelding eronder met \
                 `{{onder}}`, of geef de afbeelding een eigen dia)"
            ),
        )
    } else {
        if lines <= FIT_IMAGE_TEXT_LINES {
            return;
        }
        text(
            "image_room",
            format!(
                "the text beside the image takes about {lines} lines; with an image the \
                 screen has room for {FIT_IMAGE_TEXT_LINES} (the image would be too small \
                 to read: put the text or the image on a slide of its own)"
            ),
            format!(
                "de tekst naast de afbeelding beslaat ongeveer {lines} regels; met een \
                 afbeelding heeft het scherm ruimte voor {FIT_IMAGE_TEXT_LINES} (de \
                 afbeelding zou te klein worden om te lezen: zet de tekst of de \
                 afbeelding op een eigen dia)"
            ),
        )
    };
    warnings.push(LineError::new(room.line, problem));
}

/// Smallest image, in pixels, that a projector shows without enlarging it much: an
/// image gets about half the screen's height and three quarters of its width at
/// 1920×1080, so one smaller than this both ways is blown up and blurred.
pub const MIN_IMAGE_SIZE: (u32, u32) = (800, 450);

/// The warning for image `name` (`width`×`height` pixels) on the slide at `line`
/// when it is too small to read on a projector, made where the file is read.
pub fn small_image(line: usize, name: &str, width: u32, height: u32) -> Option<LineError> {
    let (w, h) = MIN_IMAGE_SIZE;
    (width < w && height < h).then(|| {
        LineError::new(
            line,
            text(
                "image_small",
                format!(
                    "the image `{name}` is {width}×{height} pixels; the projector enlarges it \
                     and it will look blurred (use at least {w} pixels wide or {h} high)"
                ),
                format!(
                    "de afbeelding `{name}` is {width}×{height} pixels; de beamer vergroot haar \
                     en ze wordt wazig (gebruik er een van ten minste {w} pixels breed of {h} \
                     hoog)"
                ),
            ),
        )
    })
}

/// The words that start a slide's presenter notes, at the very start of a line and
/// followed by a colon, in any case.
const NOTES_MARKERS: [&str; 2] = ["notities", "notes"];

/// Splits a slide's presenter notes off its lines: from the first line that starts
/// with `Notities:` or `Notes:` to the end of the slide. Returns the range of the
/// slide's own lines and the notes rendered to HTML, if they have any text.
fn take_notes(lines: &[&str], range: Range<usize>) -> (Range<usize>, Option<String>) {
    let marker = range.clone().find_map(|i| {
        let (word, rest) = lines[i].split_once(':')?;
        NOTES_MARKERS
            .iter()
            .any(|m| word.eq_ignore_ascii_case(m))
            .then_some((i, rest))
    });
    let Some((at, first)) = marker else {
        return (range, None);
    };
    let mut notes = vec![first.trim_start()];
    notes.extend(&lines[at + 1..range.end]);
    let markdown = notes.join("\n");
    let html = (!markdown.trim().is_empty()).then(|| render_markdown(&markdown));
    (range.start..at, html)
}

/// What every slide has before its kind is known: where it starts and its title.
struct SlideHead {
    /// 1-based line of the slide's first non-blank line.
    line: usize,
    title: String,
    full_title: String,
}

/// A statement slide's lines, as [`parse_slide`] found them.
struct Statement<'a> {
    /// The slide's lines, `results:` lines blanked.
    lines: &'a [&'a str],
    /// The 0-based source line of `lines[0]`.
    start: usize,
    /// The index in `lines` of the first option.
    first_option: usize,
    /// How the statement's results show.
    results: Results,
}

/// Takes the `results:` lines out of a slide's `lines` (from 0-based source line
/// `start`). A `results:` line is a setting, not text: it becomes blank, so the other
/// lines keep their numbers. Returns the lines and the first valid setting with its
/// 1-based line; a bad or repeated one goes to `errors`.
fn take_results_lines<'a>(
    lines: &[&'a str],
    start: usize,
    errors: &mut Vec<LineError>,
) -> (Vec<&'a str>, Option<(usize, Results)>) {
    let mut results = None;
    let slide_lines = lines
        .iter()
        .enumerate()
        .map(|(offset, raw)| {
            let Some(value) = results_line(raw) else {
                return *raw;
            };
            let line = start + offset + 1;
            let mut error = |problem| errors.push(LineError::new(line, problem));
            match (parse_results(value), results) {
                (_, Some((first, _))) => error(text(
                    "results_twice",
                    format!("`results:` is set twice on this slide (first on line {first})"),
                    format!("`results:` staat twee keer op deze dia (eerst op regel {first})"),
                )),
                (Some(mode), None) => results = Some((line, mode)),
                (None, None) => error(results_value(value)),
            }
            ""
        })
        .collect();
    (slide_lines, results)
}

/// The lines that put the opinion map on a slide, in any case.
const MAP_MARKERS: [&str; 2] = ["[meningskaart]", "[opinion map]"];

/// Blanks a slide's opinion-map line; returns the lines and the 1-based line of the
/// marker, if the slide has one.
fn take_map_line<'a>(lines: &[&'a str], start: usize) -> (Vec<&'a str>, Option<usize>) {
    let mut marker = None;
    let slide_lines = lines
        .iter()
        .enumerate()
        .map(|(offset, raw)| {
            let trimmed = raw.trim();
            if MAP_MARKERS.iter().any(|m| trimmed.eq_ignore_ascii_case(m)) {
                marker.get_or_insert(start + offset + 1);
                ""
            } else {
                *raw
            }
        })
        .collect();
    (slide_lines, marker)
}

/// The markers after an image that place a slide's images, in Dutch and English.
const LAYOUT_MARKERS: [(&str, Layout); 4] = [
    ("{naast}", Layout::Beside),
    ("{beside}", Layout::Beside),
    ("{onder}", Layout::Under),
    ("{under}", Layout::Under),
];

/// The slide's lines with the layout markers after its images taken off, and the
/// layout they ask for. Two markers that ask for different places are an error (at
/// the second one's line); a marker not after an image is left as text.
fn take_layout<'a>(
    lines: &[&'a str],
    start: usize,
    errors: &mut Vec<LineError>,
) -> (Vec<&'a str>, Layout) {
    let mut layout: Option<Layout> = None;
    let slide_lines = lines
        .iter()
        .enumerate()
        .map(|(offset, raw)| {
            let trimmed = raw.trim_end();
            let found = LAYOUT_MARKERS.iter().find_map(|&(marker, place)| {
                let cut = trimmed.len().checked_sub(marker.len())?;
                let (before, tail) = (trimmed.get(..cut)?, &trimmed[cut..]);
                let before = before.trim_end();
                (tail.eq_ignore_ascii_case(marker)
                    && before.ends_with(')')
                    && before.contains("!["))
                .then_some((before, place))
            });
            let Some((before, place)) = found else {
                return *raw;
            };
            match layout {
                Some(earlier) if earlier != place => errors.push(LineError::new(
                    start + offset + 1,
                    text(
                        "image_layout",
                        "this image asks for another place than the one before it on this \
                         slide (`{naast}` and `{onder}`): a slide's images stand together, \
                         so give them one place",
                        "deze afbeelding vraagt een andere plaats dan die ervoor op deze dia \
                         (`{naast}` en `{onder}`): de afbeeldingen van een dia staan bij \
                         elkaar, geef ze dus één plaats",
                    ),
                )),
                _ => layout = Some(place),
            }
            before
        })
        .collect();
    (slide_lines, layout.unwrap_or_default())
}

/// Why a `results` value is not one.
fn results_value(value: &str) -> Text {
    text(
        "results_value",
        format!("`results` must be `hidden` or `live`, found `{value}`"),
        format!("`results` moet `hidden` (verborgen) of `live` zijn, gevonden `{value}`"),
    )
}

/// Warns when the title (on 1-based `line`) is longer than the screen shows in full.
fn warn_long_title(
    slide_lines: &[&str],
    full_title: &str,
    line: usize,
    warnings: &mut Vec<LineError>,
) {
    let statement = slide_lines.iter().any(|l| option_line(l).is_some());
    let (title_limit, heading, kop) = if top_heading(slide_lines) {
        (FIT_TOP_TITLE_CHARS, "a `#` heading", "een kop met `#`")
    } else if statement {
        (
            FIT_TITLE_CHARS,
            "a statement's title",
            "de titel van een stelling",
        )
    } else {
        (
            FIT_CONTENT_TITLE_CHARS,
            "a content slide's title",
            "de titel van een inhoudsdia",
        )
    };
    // A statement without text above its options is named by its first option, which
    // the screen shows as an option, under that option's limit.
    let titled_by_option = slide_lines
        .iter()
        .find(|l| !is_blank(l))
        .is_some_and(|l| option_line(l).is_some());
    if !titled_by_option && full_title.chars().count() > title_limit {
        let length = full_title.chars().count();
        warnings.push(LineError::new(
            line,
            text(
                "title_long",
                format!(
                    "the title has {length} characters; the screen shows at most {title_limit} \
                     of {heading} in full at the minimum text size (shorten the heading)"
                ),
                format!(
                    "de titel heeft {length} tekens; het scherm toont van {kop} hoogstens \
                     {title_limit} helemaal bij de kleinste tekstgrootte (maak de kop korter)"
                ),
            ),
        ));
    }
}

/// A content slide (no options), with a warning when its text does not fit.
fn content_slide(
    slide_lines: &[&str],
    head: SlideHead,
    media: &str,
    warnings: &mut Vec<LineError>,
) -> Slide {
    let markdown = slide_lines.join("\n");
    let blocks = text_blocks(&markdown);
    let lines = screen_lines(&blocks);
    let mut warn = |problem: Text| warnings.push(LineError::new(head.line, problem));
    let count = blocks.len();
    if count > FIT_CONTENT_BLOCKS {
        warn(text(
            "content_blocks",
            format!(
                "{count} bullets or paragraphs; the screen shows at most {FIT_CONTENT_BLOCKS} \
                 in full at the minimum text size (split the slide with `---`)"
            ),
            format!(
                "{count} opsommingstekens of alinea's; het scherm toont er hoogstens \
                 {FIT_CONTENT_BLOCKS} helemaal bij de kleinste tekstgrootte (splits de dia \
                 met `---`)"
            ),
        ));
    } else if lines > FIT_CONTENT_LINES {
        warn(text(
            "content_lines",
            format!(
                "the text takes about {lines} lines of {FIT_LINE_CHARS} characters; the \
                 screen shows at most {FIT_CONTENT_LINES} in full at the minimum text size \
                 (shorten it, or split the slide with `---`)"
            ),
            format!(
                "de tekst beslaat ongeveer {lines} regels van {FIT_LINE_CHARS} tekens; het \
                 scherm toont er hoogstens {FIT_CONTENT_LINES} helemaal bij de kleinste \
                 tekstgrootte (maak hem korter, of splits de dia met `---`)"
            ),
        ));
    }
    slip_warnings(slide_lines, head.line, warnings);
    Slide {
        line: head.line,
        title: head.title,
        full_title: head.full_title,
        html: render(&markdown, Some(media)),
        kind: SlideKind::Content,
        scale: false,
        results: Results::Hidden,
        notes: None,
        images: vec![],
        opinion_map: false,
        layout: Layout::Flow,
    }
}

/// A statement slide, or `None` when its options have errors (pushed to `errors`).
fn statement_slide(
    statement: Statement,
    head: SlideHead,
    media: &str,
    errors: &mut Vec<LineError>,
    warnings: &mut Vec<LineError>,
) -> Option<Slide> {
    let errors_before = errors.len();
    // The first option decides the kind: letters, or the points of a scale.
    let scale =
        option_line(statement.lines[statement.first_option]).is_some_and(|(_, point, _)| point);
    let options = read_options(&statement, scale, errors);
    if scale {
        scale_errors(&options, errors.len() > errors_before, errors);
    } else {
        letter_errors(&options, errors);
    }
    if errors.len() > errors_before {
        return None;
    }
    let context = statement.lines[..statement.first_option].join("\n");
    warn_statement_fit(&options, scale, &context, head.line, warnings);
    if !scale {
        scale_as_letters(&options, warnings);
    }
    Some(Slide {
        line: head.line,
        title: head.title,
        full_title: head.full_title,
        html: render(&context, Some(media)),
        kind: SlideKind::Statement {
            options: options.into_iter().map(|(_, text)| text).collect(),
        },
        scale,
        results: statement.results,
        notes: None,
        images: vec![],
        opinion_map: false,
        layout: Layout::Flow,
    })
}

/// Reads a statement's option lines (letters, or points when `scale`) from its first
/// option on: (1-based line, text) per option in source order, a wrapped option's
/// lines joined. What is out of order, mixed, too many or after the options goes to
/// `errors`.
fn read_options(
    statement: &Statement,
    scale: bool,
    errors: &mut Vec<LineError>,
) -> Vec<(usize, String)> {
    let (first, most) = if scale {
        (1, SCALE_POINTS[SCALE_POINTS.len() - 1])
    } else {
        (0, MAX_OPTIONS)
    };
    let mut options: Vec<(usize, String)> = Vec::new();
    let mut expected = first;
    let mut continuing = false;
    let mut reported_trailing = false;
    let mut reported_mixed = false;
    let lines = statement.lines.iter().enumerate();
    for (offset, raw) in lines.skip(statement.first_option) {
        let line = statement.start + offset + 1;
        if let Some((found, point, rest)) = option_line(raw) {
            continuing = true;
            if point != scale {
                if !reported_mixed {
                    reported_mixed = true;
                    errors.push(LineError::new(line, mixed_options(point, found)));
                }
                continue;
            }
            if let Some(problem) = order_error(scale, found, expected) {
                errors.push(LineError::new(line, problem));
            }
            expected = expected.max(found + 1);
            options.push((line, rest.trim().to_string()));
            if options.len() == most + 1 {
                errors.push(LineError::new(line, too_many_options(scale, most)));
            }
        } else if let Some(problem) = small_letter(raw, scale) {
            // `b)` where `B)` was meant: said here, not taken for a wrapped option.
            errors.push(LineError::new(line, problem));
            continuing = false;
        } else if is_blank(raw) {
            continuing = false;
        } else if continuing {
            // A long option wrapped onto the next line, as in the source document.
            if let Some((_, text)) = options.last_mut() {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(raw.trim());
            }
        } else if !reported_trailing {
            reported_trailing = true;
            errors.push(LineError::new(line, trailing_text(scale)));
        }
    }
    options
}

/// Why an option line of the other kind (`point` or letter, as [`option_line`] read it)
/// may not follow the first option.
fn mixed_options(point: bool, found: usize) -> Text {
    let name = written(point, found);
    text(
        "options_mixed",
        format!(
            "`{name})` mixes option letters and scale points: a statement has either \
             letters (`A)`, `B)`, …) or the points of a scale (`1)` to `5)`, or `1)` to `7)`)"
        ),
        format!(
            "`{name})` mengt optieletters en schaalpunten: een stelling heeft óf letters \
             (`A)`, `B)`, …) óf de punten van een schaal (`1)` tot en met `5)`, of `1)` tot \
             en met `7)`)"
        ),
    )
}

/// Why the option after the `most`-th is one too many.
fn too_many_options(scale: bool, most: usize) -> Text {
    if scale {
        text(
            "too_many_points",
            format!("too many points: a scale has {most} at most (1 to {most})"),
            format!("te veel punten: een schaal heeft er hoogstens {most} (1 tot en met {most})"),
        )
    } else {
        text(
            "too_many_options",
            format!("too many options: a statement has at most {most} (A to H)"),
            format!("te veel opties: een stelling heeft er hoogstens {most} (A tot en met H)"),
        )
    }
}

/// Why text may not follow a statement's options.
fn trailing_text(scale: bool) -> Text {
    let first = if scale { "1)" } else { "A)" };
    text(
        "text_after_options",
        format!(
            "text after the options: options must come last on a statement slide (move this \
             text above `{first}`, or start a new slide with `---`)"
        ),
        format!(
            "tekst na de opties: de opties staan als laatste op een stellingdia (zet deze \
             tekst boven `{first}`, of begin een nieuwe dia met `---`)"
        ),
    )
}

/// An option written with a small letter (`b)`) in a statement with letters: the hint
/// to write the capital.
fn small_letter(raw: &str, scale: bool) -> Option<Text> {
    let letter = small_option_letter(raw).filter(|_| !scale)?;
    let capital = letter.to_ascii_uppercase();
    Some(text(
        "small_letter",
        format!(
            "`{letter})` is written with a small letter: an option starts with a capital, \
             `{capital})` (this line now belongs to no option)"
        ),
        format!(
            "`{letter})` staat met een kleine letter: een optie begint met een hoofdletter, \
             `{capital})` (deze regel hoort nu bij geen enkele optie)"
        ),
    ))
}

/// The letter of a line that reads like an option with a small letter, `a)` to `h)`.
fn small_option_letter(raw: &str) -> Option<char> {
    let line = raw.trim_start();
    let mut chars = line.chars();
    let letter = chars.next().filter(|c| ('a'..='h').contains(c))?;
    (chars.next() == Some(')') && chars.next().is_none_or(char::is_whitespace)).then_some(letter)
}

/// Hints for a content slide that reads like a statement written wrongly: options with
/// small letters, `A.` or `1.` for `A)` or `1)`.
fn slip_warnings(slide_lines: &[&str], line: usize, warnings: &mut Vec<LineError>) {
    let smalls = slide_lines
        .iter()
        .filter_map(|l| small_option_letter(l))
        .count();
    if smalls >= 2 {
        warnings.push(LineError::new(
            line,
            text(
                "small_letters",
                "this slide has lines like `a)` and `b)`: if they are options, write capitals \
                 (`A)`, `B)`), or it shows as text and nobody can vote",
                "deze dia heeft regels als `a)` en `b)`: zijn het opties, schrijf dan \
                 hoofdletters (`A)`, `B)`), anders toont hij als tekst en kan niemand stemmen",
            ),
        ));
    }
    let item = |p: &str| {
        slide_lines
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(p))
            .map(str::to_lowercase)
    };
    let letters = item("A. ").is_some() && item("B. ").is_some();
    // A numbered list is a list, unless it runs from disagree to agree: a scale.
    let numbers = item("1. ").is_some_and(|t| t.contains("oneens") || t.contains("disagree"));
    if letters || numbers {
        let (wrote, meant) = if letters { ("A.", "A)") } else { ("1.", "1)") };
        warnings.push(LineError::new(
            line,
            text(
                "dot_for_parenthesis",
                format!(
                    "this slide has lines starting `{wrote}`: a statement's options are \
                     written `{meant}`, with a parenthesis (a list stays a list)"
                ),
                format!(
                    "deze dia heeft regels die beginnen met `{wrote}`: de opties van een \
                     stelling schrijf je als `{meant}`, met een haakje (een opsomming blijft \
                     een opsomming)"
                ),
            ),
        ));
    }
}

/// What is wrong with a lettered statement's options as a whole: an option without
/// text, or one option alone.
fn letter_errors(options: &[(usize, String)], errors: &mut Vec<LineError>) {
    for (i, (line, text)) in options.iter().enumerate() {
        if text.is_empty() {
            let name = option_name(false, i);
            errors.push(LineError::new(
                *line,
                self::text(
                    "option_empty",
                    format!("option `{name})` has no text"),
                    format!("optie `{name})` heeft geen tekst"),
                ),
            ));
        }
    }
    // With a `b)` reported, the one option is already explained.
    let small = errors
        .iter()
        .any(|e| e.code == "small_letter" && e.line > options[0].0);
    if options.len() == 1 && !small {
        errors.push(LineError::new(
            options[0].0,
            self::text(
                "one_option",
                "a statement needs at least two options, `A)` and `B)`",
                "een stelling heeft ten minste twee opties nodig, `A)` en `B)`",
            ),
        ));
    }
}

/// Warns about each option, and the `context` above the options, that the screen
/// cannot show in full; `line` is the slide's first line.
fn warn_statement_fit(
    options: &[(usize, String)],
    scale: bool,
    context: &str,
    line: usize,
    warnings: &mut Vec<LineError>,
) {
    let (limit, what) = if scale {
        (fit_point_chars(options.len()), "points")
    } else {
        (fit_option_chars(options.len()), "options")
    };
    let (count, wat) = (options.len(), if scale { "punten" } else { "opties" });
    for (i, (line, option)) in options.iter().enumerate() {
        let length = option.chars().count();
        if length > limit {
            let (kind, soort) = if scale {
                ("point", "punt")
            } else {
                ("option", "optie")
            };
            let name = option_name(scale, i);
            warnings.push(LineError::new(
                *line,
                text(
                    "option_long",
                    format!(
                        "{kind} `{name})` has {length} characters; with {count} {what} the \
                         screen shows at most {limit} in full at the minimum text size \
                         (shorten it, or split the statement)"
                    ),
                    format!(
                        "{soort} `{name})` heeft {length} tekens; met {count} {wat} toont het \
                         scherm er hoogstens {limit} helemaal bij de kleinste tekstgrootte \
                         (maak hem korter, of splits de stelling)"
                    ),
                ),
            ));
        }
    }
    let context_lines = screen_lines(&text_blocks(context));
    let room = fit_context_lines(options.len());
    if context_lines > room {
        let (room, ruimte) = match room {
            0 => (
                "no room for text above them".to_string(),
                "geen ruimte voor tekst erboven".to_string(),
            ),
            1 => (
                "room for 1 line".to_string(),
                "ruimte voor 1 regel".to_string(),
            ),
            n => (
                format!("room for {n} lines"),
                format!("ruimte voor {n} regels"),
            ),
        };
        warnings.push(LineError::new(
            line,
            text(
                "context_long",
                format!(
                    "the text above the {what} takes about {context_lines} lines of \
                     {FIT_LINE_CHARS} characters; with {count} {what} the screen has {room} \
                     (put the detail on a content slide before the statement)"
                ),
                format!(
                    "de tekst boven de {wat} beslaat ongeveer {context_lines} regels van \
                     {FIT_LINE_CHARS} tekens; met {count} {wat} heeft het scherm {ruimte} (zet \
                     de uitleg op een inhoudsdia vóór de stelling)"
                ),
            ),
        ));
    }
}

/// What is wrong with a scale's points as a whole, once each is in order (`disordered`
/// says it is not): the number of points, and a label on both ends, which say what the
/// numbers mean.
fn scale_errors(points: &[(usize, String)], disordered: bool, errors: &mut Vec<LineError>) {
    let Some((last_line, last)) = points.last() else {
        return;
    };
    if disordered {
        return;
    }
    let count = points.len();
    if !SCALE_POINTS.contains(&count) {
        errors.push(LineError::new(
            *last_line,
            text(
                "scale_points",
                format!(
                    "a scale has 5 or 7 points, `1)` to `5)` or `1)` to `7)`; this one has \
                     {count} (for a numbered list, write `1.` instead of `1)`)"
                ),
                format!(
                    "een schaal heeft 5 of 7 punten, `1)` tot en met `5)` of `1)` tot en met \
                     `7)`; deze heeft er {count} (voor een genummerde opsomming schrijf je \
                     `1.` in plaats van `1)`)"
                ),
            ),
        ));
        return;
    }
    let (first_line, first) = &points[0];
    let ends = [
        (first_line, first, 1, "first", "eerste"),
        (last_line, last, count, "last", "laatste"),
    ];
    for (line, label, number, end, eind) in ends {
        if label.is_empty() {
            errors.push(LineError::new(
                *line,
                text(
                    "point_label",
                    format!(
                        "point `{number})` has no label: the {end} point of a scale says what \
                         the numbers mean (`1) Helemaal oneens`, `{count}) Helemaal eens`)"
                    ),
                    format!(
                        "punt `{number})` heeft geen omschrijving: het {eind} punt van een \
                         schaal zegt wat de getallen betekenen (`1) Helemaal oneens`, \
                         `{count}) Helemaal eens`)"
                    ),
                ),
            ));
        }
    }
}

/// Hints that a lettered statement of 5 or 7 options running from disagree to agree is a
/// scale written as `A)` to `E)`: as points it gets a median and a mean.
fn scale_as_letters(options: &[(usize, String)], warnings: &mut Vec<LineError>) {
    let (Some((line, first)), Some((_, last))) = (options.first(), options.last()) else {
        return;
    };
    let (first, last) = (first.to_lowercase(), last.to_lowercase());
    let disagree = first.contains("oneens") || first.contains("disagree");
    let agree = (last.contains("eens") && !last.contains("oneens"))
        || (last.contains("agree") && !last.contains("disagree"));
    let count = options.len();
    if SCALE_POINTS.contains(&count) && disagree && agree {
        warnings.push(LineError::new(
            *line,
            text(
                "scale_as_letters",
                format!(
                    "these {count} options run from disagree to agree: write them as a scale, \
                     `1)` to `{count})`, so the screen and the report show its median and mean"
                ),
                format!(
                    "deze {count} opties lopen van oneens naar eens: schrijf ze als schaal, \
                     `1)` tot en met `{count})`, dan tonen het scherm en het verslag de \
                     mediaan en het gemiddelde"
                ),
            ),
        ));
    }
}

/// The slide's first heading as plain text, else its first non-blank line's text.
fn slide_title(slide_lines: &[&str]) -> String {
    let markdown = slide_lines.join("\n");
    let mut in_heading = false;
    let mut heading = String::new();
    for event in Parser::new_ext(&markdown, markdown_options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => in_heading = true,
            Event::End(TagEnd::Heading(_)) => break,
            Event::Text(t) | Event::Code(t) if in_heading => heading.push_str(&t),
            Event::SoftBreak | Event::HardBreak if in_heading => heading.push(' '),
            _ => {}
        }
    }
    let mut title = collapse_whitespace(&heading);
    if title.is_empty() {
        let line = slide_lines
            .iter()
            .find(|l| !is_blank(l))
            .copied()
            .unwrap_or("");
        title = collapse_whitespace(&plain_text(line));
        if title.is_empty() {
            // A line of markup only (`<div>`, `***`) still needs a name in the list.
            title = collapse_whitespace(line);
        }
    }
    title
}

/// Whether the slide's title is a `#` heading, which the screen shows in larger type.
fn top_heading(slide_lines: &[&str]) -> bool {
    let markdown = slide_lines.join("\n");
    Parser::new_ext(&markdown, markdown_options())
        .find_map(|event| match event {
            Event::Start(Tag::Heading { level, .. }) => Some(level == HeadingLevel::H1),
            _ => None,
        })
        .unwrap_or(false)
}

/// A title cut to [`MAX_TITLE_CHARS`] with "…", for lists.
fn short_title(title: &str) -> String {
    if title.chars().count() > MAX_TITLE_CHARS {
        let cut: String = title.chars().take(MAX_TITLE_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        title.to_string()
    }
}

/// The text blocks of a slide's Markdown, besides its first heading (the title has its
/// own limit), as the screen lays them out: for each paragraph, list item, quote
/// paragraph, table row, later heading or line of code, its length in characters as
/// shown.
fn text_blocks(markdown: &str) -> Vec<usize> {
    let mut blocks = Vec::new();
    let mut current = 0;
    let mut in_code = false;
    let mut title_seen = false;
    let flush = |current: &mut usize, blocks: &mut Vec<usize>| {
        if *current > 0 {
            blocks.push(*current);
            *current = 0;
        }
    };
    let mut in_image = false;
    for event in Parser::new_ext(markdown, markdown_options()) {
        match event {
            // An image shows as a picture, not its alt text: it has a limit of its own.
            Event::Start(Tag::Image { .. }) => in_image = true,
            Event::End(TagEnd::Image) => in_image = false,
            Event::Text(_) if in_image => {}
            Event::Start(Tag::Heading { .. }) => flush(&mut current, &mut blocks),
            Event::End(TagEnd::Heading(_)) => {
                if title_seen {
                    flush(&mut current, &mut blocks);
                } else {
                    title_seen = true;
                    current = 0;
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                flush(&mut current, &mut blocks);
                in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(text) if in_code => {
                blocks.extend(text.lines().map(|l| l.chars().count().max(1)));
            }
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
                current += text.chars().count();
            }
            Event::SoftBreak | Event::TaskListMarker(_) => current += 1,
            Event::End(TagEnd::TableCell) => current += 2,
            Event::HardBreak
            | Event::Start(Tag::Paragraph | Tag::Item | Tag::List(_))
            | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::TableRow | TagEnd::TableHead) => {
                flush(&mut current, &mut blocks)
            }
            _ => {}
        }
    }
    flush(&mut current, &mut blocks);
    blocks
}

/// Lines the blocks take on the screen: each starts a line and wraps every
/// [`FIT_LINE_CHARS`] characters.
fn screen_lines(blocks: &[usize]) -> usize {
    blocks.iter().map(|&n| n.div_ceil(FIT_LINE_CHARS)).sum()
}

/// The text of a Markdown fragment with its markup (and any raw HTML) left out.
fn plain_text(markdown: &str) -> String {
    let mut out = String::new();
    for event in Parser::new_ext(markdown, markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            _ => {}
        }
    }
    out
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_links_are_http_https_mailto_and_relative() {
        for dest in [
            "https://x.nl",
            "HTTP://x",
            "mailto:a@b.nl",
            "/a",
            "a/b:c",
            "#top",
            "?q=a:b",
            "rapport.pdf",
        ] {
            assert!(is_safe_link(dest), "{dest}");
        }
        for dest in [
            "javascript:alert(1)",
            " JavaScript:x",
            "java\tscript:x",
            "data:text/html,x",
            "vbscript:x",
            "file:///etc",
        ] {
            assert!(!is_safe_link(dest), "{dest}");
        }
    }

    #[test]
    fn option_labels_need_a_capital_a_parenthesis_and_a_space() {
        assert_eq!(option_label("A) ja"), Some((b'A', " ja")));
        assert_eq!(option_label("H)"), Some((b'H', "")));
        assert_eq!(option_label("a) ja"), None);
        assert_eq!(option_label("A)ja"), None);
        assert_eq!(option_label(" A) ja"), None);
        assert_eq!(option_label("É) ja"), None);
    }

    #[test]
    fn long_titles_are_cut_with_an_ellipsis() {
        let long = "woord ".repeat(40);
        let title = short_title(&slide_title(&[long.as_str()]));
        assert!(title.ends_with('…'));
        assert!(title.chars().count() <= MAX_TITLE_CHARS);
    }
}
