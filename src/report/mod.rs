//! The results of a session for the council: per statement and round the counts, who
//! switched between the first and last round, and results per participant group with
//! small groups suppressed. Rendered as CSV, JSON, an Excel workbook and a printable
//! HTML page with a bar chart per statement.

mod csv;
pub(crate) mod opinion;
mod pdf;
pub mod when;
mod xlsx;

pub use csv::to_csv;
pub use opinion::{opinion_map, MapReport};
pub use pdf::to_pdf;
pub use xlsx::to_xlsx;

use maud::{html, Markup, PreEscaped};
use serde::Serialize;

use crate::core::deck::{option_name, SlideKind};
use crate::core::session::{Round, Session};
use crate::core::tally::{self, group_rows, moved, scale_stats, switches};
pub use crate::core::tally::{GroupRow, Moved, ScaleStats, Suppressed, Switches};
use crate::wire::protocol::Lang;
use when::{clock, written_day};

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The deck's title.
    pub title: String,
    /// The meeting, from the deck's front matter (`meeting:`).
    pub meeting: Option<String>,
    /// The meeting's date as the deck writes it (`date:`).
    pub date: Option<String>,
    /// Where the meeting was held (`place:`).
    pub place: Option<String>,
    /// The session's join code.
    pub code: String,
    /// Participants who joined.
    pub joined: u64,
    /// The smallest group size shown.
    pub min_group_size: u64,
    /// For a session with voting cards: how many were issued, used and voted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards: Option<CardsReport>,
    /// One entry per statement, in deck order.
    pub statements: Vec<StatementReport>,
    /// Stored events that could not be applied and were skipped: the counts may differ
    /// from what was voted. Absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_events: u64,
    /// The language of the deck (`lang:`), which the PDF and the page are written in
    /// unless the reader asks for the other.
    #[serde(skip)]
    pub lang: Lang,
    /// The questions from the room the host approved, by upvotes; never the pending or
    /// removed ones, never who asked or upvoted them. Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<QuestionReport>,
    /// The opinion map of the last votes, or why there is none (absent when fewer
    /// than two statements have votes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opinion_map: Option<MapReport>,
}

/// An approved question from the room.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionReport {
    /// Its text.
    pub text: String,
    /// How many participants upvoted it.
    pub upvotes: u64,
    /// Whether the host marked it answered.
    pub answered: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What became of a session's voting cards: what "one card, one vote" rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CardsReport {
    /// Cards printed for the session.
    pub issued: u64,
    /// Cards used to join.
    pub used: u64,
    /// Cards whose participant voted at least once (by phone, in any round).
    pub voted: u64,
}

/// The results of one statement.
#[derive(Debug, Clone, Serialize)]
pub struct StatementReport {
    /// The slide's number, from 1, as the host and the report say it ("dia 4").
    pub slide: usize,
    /// The slide's title, uncut.
    pub title: String,
    /// The option texts, A first; on a scale the points' labels, `""` for a bare point.
    pub options: Vec<String>,
    /// Whether the statement is a scale: then each round has its `stats`, and the
    /// `switches` say how many moved up and down.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub scale: bool,
    /// Every round that was opened, first first.
    pub rounds: Vec<RoundReport>,
    /// Between the first and the last round, if there were two or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switches: Option<Switches>,
    /// The last round per group.
    pub groups: Vec<GroupRow>,
    /// The arguments the host approved, highlighted first, then by upvotes; never the
    /// pending or removed ones, never who wrote or upvoted them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<ArgumentReport>,
}

/// An approved argument.
#[derive(Debug, Clone, Serialize)]
pub struct ArgumentReport {
    /// The option it argues for.
    pub option: usize,
    /// Its text.
    pub text: String,
    /// How many participants upvoted it.
    pub upvotes: u64,
    /// Whether the host highlighted it.
    pub highlighted: bool,
}

/// The count of one round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    /// Round number, from 1.
    pub round: u32,
    /// Votes per option, phones and hand counts together.
    pub counts: Vec<u64>,
    /// Of those, counted by hand in the room.
    pub hands: Vec<u64>,
    /// `counts` as whole percentages of `voted`, rounded half up as on every page.
    pub percents: Vec<u64>,
    /// Everybody who voted, phones and hands.
    pub voted: u64,
    /// On a scale, the median and mean of `counts`; absent when nobody voted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<ScaleStats>,
}

impl RoundReport {
    /// Option `i`'s votes, and how many of them were counted by hand.
    pub fn votes(&self, i: usize) -> (u64, u64) {
        let count = self.counts.get(i).copied().unwrap_or(0);
        (count, self.hands.get(i).copied().unwrap_or(0))
    }

    /// `n` votes as a share of the round's voters, from 0 to 1 (0 when nobody voted):
    /// how long a chart's bar is.
    pub fn share(&self, n: u64) -> f64 {
        if self.voted == 0 {
            0.0
        } else {
            n as f64 / self.voted as f64
        }
    }
}

/// Each round of a statement as the report gives it. A round that was never opened (a
/// re-vote started but not voted) still shows, with zeros: the host did start it.
fn round_reports(rounds: &[Round], scale: bool) -> Vec<RoundReport> {
    rounds
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let counts = r.tally();
            RoundReport {
                round: i as u32 + 1,
                stats: scale.then(|| scale_stats(&counts)).flatten(),
                percents: tally::percents(&counts),
                counts,
                hands: r.hands.clone(),
                voted: r.voted(),
            }
        })
        .collect()
}

/// Builds the report of a session.
pub fn build(session: &Session, code: &str) -> Report {
    let deck = session.deck();
    let statements = deck
        .slides
        .iter()
        .enumerate()
        .filter_map(|(slide, s)| {
            let SlideKind::Statement { options } = &s.kind else {
                return None;
            };
            let statement = session.statement(slide)?;
            let rounds = round_reports(&statement.rounds, s.scale);
            let first = statement.rounds.first()?;
            let last = statement.current();
            let switches = (statement.rounds.len() > 1).then(|| {
                let mut switches = switches(
                    options.len(),
                    (1, first),
                    (statement.round_number(), last),
                    deck.min_group_size,
                );
                if s.scale {
                    switches.moved = switches.matrix.as_deref().map(moved);
                }
                switches
            });
            let groups = group_rows(session, last, options.len());
            let arguments = session
                .arguments()
                .listed(slide)
                .into_iter()
                .map(|a| ArgumentReport {
                    option: a.option,
                    text: a.text.clone(),
                    upvotes: a.upvoters.len() as u64,
                    highlighted: a.status == crate::core::arguments::Status::Highlighted,
                })
                .collect();
            Some(StatementReport {
                slide: slide + 1,
                title: s.full_title.clone(),
                options: options.clone(),
                scale: s.scale,
                rounds,
                switches,
                groups,
                arguments,
            })
        })
        .collect();
    Report {
        title: deck.title.clone(),
        meeting: deck.meeting.clone(),
        date: deck.date.clone(),
        place: deck.place.clone(),
        code: code.to_owned(),
        joined: session.joined() as u64,
        min_group_size: deck.min_group_size,
        cards: cards_report(session),
        statements,
        // Known to whoever read the log (see `hub`), who sets it.
        skipped_events: 0,
        lang: deck_lang(&deck.lang),
        questions: session
            .questions()
            .approved()
            .into_iter()
            .map(|q| QuestionReport {
                text: q.text.clone(),
                upvotes: q.upvoters.len() as u64,
                answered: q.status == crate::core::questions::Status::Answered,
            })
            .collect(),
        // Computed apart, off the session's task (see `hub`), which sets it.
        opinion_map: None,
    }
}

/// The report's language for a deck's `lang:`: English for `en…`, Dutch otherwise.
fn deck_lang(tag: &str) -> Lang {
    if tag.starts_with("en") {
        Lang::En
    } else {
        Lang::Nl
    }
}

/// The cards' counts, for a session that has cards.
fn cards_report(session: &Session) -> Option<CardsReport> {
    let cards = session.cards();
    if !cards.required() {
        return None;
    }
    let voted = cards
        .holders()
        .filter(|p| {
            (0..session.deck().slides.len())
                .filter_map(|i| session.statement(i))
                .flat_map(|s| &s.rounds)
                .any(|r| r.votes.contains_key(p))
        })
        .count();
    Some(CardsReport {
        issued: cards.issued() as u64,
        used: cards.used() as u64,
        voted: voted as u64,
    })
}

/// Option labels: A, B, C, …
pub fn label(index: usize) -> char {
    (b'A' + index as u8) as char
}

impl StatementReport {
    /// How option `index` is named: `A`, `B`, … or on a scale `1`, `2`, …
    pub fn name(&self, index: usize) -> String {
        option_name(self.scale, index)
    }
}

/// What the PDF and the page say besides the report: who held the session and when.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// The organisation, a console setting ("Rekenkamer Zutphen").
    pub organisation: Option<String>,
    /// When the session was started, in milliseconds since the Unix epoch; 0 when not
    /// known (the page then leaves the times out).
    pub started_ms: u64,
    /// When it was closed; `None` while it is open.
    pub closed_ms: Option<u64>,
    /// The time of the request: the document's date while the session is open.
    pub now_ms: u64,
}

/// When the session began and closed, on a Dutch clock; the close on its own day if it
/// was another.
pub(crate) fn times(context: &ReportContext, lang: Lang) -> String {
    let start = clock(context.started_ms);
    let Some(closed) = context.closed_ms else {
        return fill(text(lang, "open_since"), &[&start, &clock(context.now_ms)]);
    };
    let end = if written_day(closed, lang) == written_day(context.started_ms, lang) {
        clock(closed)
    } else {
        format!("{} {}", written_day(closed, lang), clock(closed))
    };
    fill(text(lang, "from_to"), &[&start, &end])
}

/// One statement's outcome in a sentence: per round the share of each option (or a
/// scale's median and mean) and the voters, then the shift.
pub(crate) fn summary(s: &StatementReport, lang: Lang) -> String {
    let tx = |key| text(lang, key);
    let mut parts = vec![];
    for r in &s.rounds {
        let outcome = if s.scale {
            fill(
                tx("scale_outcome"),
                &[&median_text(s, r), &mean_text(r, lang)],
            )
        } else {
            r.counts
                .iter()
                .enumerate()
                .map(|(i, &c)| format!("{} {}", s.name(i), percent(c, r.voted)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        parts.push(fill(
            tx("round_outcome"),
            &[&r.round.to_string(), &outcome, &r.voted.to_string()],
        ));
    }
    let mut line = if parts.is_empty() {
        tx("not_voted").to_owned()
    } else {
        capital(&parts.join("; ")) + "."
    };
    if let Some(sw) = &s.switches {
        line.push(' ');
        match sw.switched {
            Some(n) => line.push_str(&fill(
                tx("shift"),
                &[&n.to_string(), &sw.paired.to_string()],
            )),
            None => line.push_str(&fill(
                text(lang, "few_paired"),
                &[&sw.from_round.to_string(), &sw.to_round.to_string()],
            )),
        }
    }
    line
}

/// `word` with a capital first letter.
pub(crate) fn capital(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// The meeting's date written out ("8 december 2026"), or the day the session started.
pub(crate) fn date_text(report: &Report, context: &ReportContext, lang: Lang) -> Option<String> {
    match &report.date {
        Some(date) => Some(when::written_date(date, lang)),
        None => (context.started_ms > 0).then(|| when::written_day(context.started_ms, lang)),
    }
}

/// `part` of `total` as the pages show it, by the product's one rounding rule.
fn percent(part: u64, total: u64) -> String {
    tally::percent(part, total).map_or_else(|| "–".to_owned(), |p| format!("{p}%"))
}

/// A report sentence in the reader's language; `{a}`, `{b}`, … are filled in by [`fill`].
fn text(lang: Lang, key: &str) -> &'static str {
    let nl = lang == Lang::Nl;
    match key {
        "meta" if nl => "Sessie {a} · {b} deelnemers · groepen met minder dan {c} stemmen worden niet getoond.",
        "meta" => "Session {a} · {b} participants · groups with fewer than {c} votes are not shown.",
        "cards" if nl => "Stemkaarten: {a} uitgegeven, {b} gebruikt, {c} gestemd. Eén kaart is één stem.",
        "cards" => "Voting cards: {a} issued, {b} used, {c} voted. One card is one vote.",
        "statement" if nl => "Stelling (dia {a}): {b}",
        "statement" => "Statement (slide {a}): {b}",
        "per_round" if nl => "Uitslag per ronde",
        "per_round" => "Result per round",
        "round" if nl => "Ronde",
        "round" => "Round",
        "voted" if nl => "Gestemd",
        "voted" => "Voted",
        "hands" if nl => "waarvan met handopsteking geteld: {a}",
        "hands" => "of which counted by show of hands: {a}",
        "switch" if nl => "Van ronde {a} naar ronde {b}: {c} van {d} deelnemers kozen anders",
        "switch" => "From round {a} to round {b}: {c} of {d} participants changed their choice",
        "first_then" if nl => "Eerst \\ daarna",
        "first_then" => "First \\ then",
        "few_paired" if nl => "Ronde {a} en {b}: te weinig deelnemers stemden in beide rondes om wisselingen te tonen.",
        "few_paired" => "Rounds {a} and {b}: too few participants voted in both rounds to show changes.",
        "arguments" if nl => "Argumenten (goedgekeurd, met steun)",
        "arguments" => "Arguments (approved, with upvotes)",
        "upvotes" if nl => "steun",
        "upvotes" => "upvotes",
        "highlighted" if nl => "uitgelicht",
        "highlighted" => "highlighted",
        "questions" if nl => "Vragen uit de zaal (goedgekeurd, met steun)",
        "questions" => "Questions from the room (approved, with upvotes)",
        "answered" if nl => "beantwoord",
        "answered" => "answered",
        "per_group" if nl => "Laatste ronde per groep",
        "per_group" => "Last round per group",
        "group" if nl => "Groep",
        "group" => "Group",
        "no_group" if nl => "(geen groep gekozen)",
        "no_group" => "(no group chosen)",
        "hidden" if nl => "niet getoond (minder dan {a} stemmen)",
        "hidden" => "not shown (fewer than {a} votes)",
        "hidden_complement" if nl => "niet getoond (anders is een groep met minder dan {a} stemmen af te leiden)",
        "hidden_complement" => "not shown (it would give away a group with fewer than {a} votes)",
        "skipped_one" if nl => "{a} opgeslagen gebeurtenis kon niet worden gelezen; de uitslag kan afwijken van wat er gestemd is.",
        "skipped_one" => "{a} stored event could not be read; the results may differ from what was voted.",
        "skipped_other" if nl => "{a} opgeslagen gebeurtenissen konden niet worden gelezen; de uitslag kan afwijken van wat er gestemd is.",
        "skipped_other" => "{a} stored events could not be read; the results may differ from what was voted.",
        "caveat" if nl => "Niet representatief. Wie hier stemde, koos daar zelf voor: de mensen in de zaal die wilden meedoen. Dat is geen steekproef. De uitkomst zegt wat deze groep vond, niet wat inwoners, raadsleden of ambtenaren in het algemeen vinden.",
        "caveat" => "Not representative. The people who voted here chose to: those in the room who wanted to take part. They are not a sample. The result says what this group thought, not what residents, council members or officials think in general.",
        "print" if nl => "Afdrukken",
        "print" => "Print",
        "print_hint" if nl => "Afdrukken of bewaren als pdf kan ook met Ctrl+P (⌘P op een Mac).",
        "print_hint" => "You can also print or save as PDF with Ctrl+P (⌘P on a Mac).",
        "chart" if nl => "Staafdiagram, per keuze een staaf per ronde",
        "chart" => "Bar chart, for each option a bar per round",
        "chart_round" if nl => "ronde {a}",
        "chart_round" => "round {a}",
        "chart_voted" if nl => "Ronde {a}, {b} gestemd:",
        "chart_voted" => "Round {a}, {b} voted:",
        "chart_hands" if nl => "waarvan met handopsteking",
        "chart_hands" => "of which by show of hands",
        "legend_hands" if nl => "met handopsteking geteld",
        "legend_hands" => "counted by show of hands",
        "scale_stats" if nl => "Mediaan en gemiddelde per ronde",
        "scale_stats" => "Median and mean per round",
        "median" if nl => "Mediaan",
        "median" => "Median",
        "mean" if nl => "Gemiddelde",
        "mean" => "Mean",
        "scale_shift" if nl => "Van ronde {a} naar ronde {b} ging de mediaan van {c} naar {d} en het gemiddelde van {e} naar {f}.",
        "scale_shift" => "From round {a} to round {b} the median went from {c} to {d} and the mean from {e} to {f}.",
        "scale_moved" if nl => "Van de {a} deelnemers die in beide rondes stemden kozen {b} een hoger punt, {c} een lager punt en {d} hetzelfde.",
        "scale_moved" => "Of the {a} participants who voted in both rounds, {b} chose a higher point, {c} a lower point and {d} the same.",
        _ => summary_text(lang, key),
    }
}

/// The sentences of page 1's summary and times, which the PDF shares with the page.
fn summary_text(lang: Lang, key: &str) -> &'static str {
    let nl = lang == Lang::Nl;
    match key {
        "from_to" if nl => "van {a} tot {b}",
        "from_to" => "from {a} to {b}",
        "open_since" if nl => "begonnen om {a}, nog open toen dit verslag om {b} werd gemaakt",
        "open_since" => "started at {a}, still open when this report was made at {b}",
        "round_outcome" if nl => "ronde {a}: {b} ({c} gestemd)",
        "round_outcome" => "round {a}: {b} ({c} voted)",
        "scale_outcome" if nl => "mediaan {a}, gemiddelde {b}",
        "scale_outcome" => "median {a}, mean {b}",
        "not_voted" if nl => "Niet in stemming gebracht.",
        "not_voted" => "Not put to the vote.",
        "shift" if nl => "{a} van {b} deelnemers kozen in de laatste ronde anders.",
        "shift" => "{a} of {b} participants chose differently in the last round.",
        "report" if nl => "Verslag",
        "report" => "Report",
        "times" if nl => "Tijd",
        "times" => "Time",
        "summary" if nl => "Samenvatting",
        "summary" => "Summary",
        _ => "",
    }
}

/// Fills `{a}`, `{b}`, … in a template with values: plain text, which the page escapes
/// like any other (one rule, maud's, for every text on the page).
fn fill(template: &str, values: &[&str]) -> String {
    values
        .iter()
        .zip(["{a}", "{b}", "{c}", "{d}", "{e}", "{f}"])
        .fold(template.to_owned(), |t, (v, k)| t.replace(k, v))
}

/// Colours of the bars of round 1, round 2 and later rounds: light to dark, so rounds
/// stay apart in grey print too, each with at least 3:1 contrast on white.
const ROUND_FILLS: [&str; 3] = ["#6b8fb8", "#1f4e8c", "#0b2545"];

/// Width of the chart's bar area, in SVG units (the whole chart is 640 wide).
const BAR_WIDTH: f64 = 380.0;

/// Height of one bar's row in the chart, in SVG units (the bar is 4 less).
const BAR_ROW: f64 = 22.0;

/// Height of the chart's legend above the bars, in SVG units.
const LEGEND_HEIGHT: f64 = 30.0;

/// Space after each option's bars, in SVG units.
const OPTION_GAP: f64 = 12.0;

/// A bar chart of one statement's rounds as inline SVG: per option one bar per round,
/// as a share of that round's voters, with the part counted by hand hatched and the
/// count and percentage written beside each bar. Drawn with attributes only (the page
/// allows no inline style); `role="img"` with a title that gives every number as text,
/// for screen readers.
fn chart(s: &StatementReport, lang: Lang) -> Markup {
    let per_option = s.rounds.len() as f64 * BAR_ROW + OPTION_GAP;
    let height = LEGEND_HEIGHT + s.options.len() as f64 * per_option;
    let id = format!("chart-{}", s.slide);
    html! {
        svg class="chart" role="img" aria-labelledby={ (id) "-title" }
            viewBox={ "0 0 640 " (height) } width="640" height=(height)
            xmlns="http://www.w3.org/2000/svg" {
            title id={ (id) "-title" } { (chart_summary(s, lang)) }
            defs {
                pattern id={ (id) "-hands" } width="6" height="6" patternUnits="userSpaceOnUse"
                    patternTransform="rotate(45)" {
                    rect width="6" height="6" fill="#ffffff" {}
                    rect width="3" height="6" fill="#1a1a1a" {}
                }
            }
            (chart_legend(s, &id, lang))
            @for option in 0..s.options.len() {
                @for (k, r) in s.rounds.iter().enumerate() {
                    @let y = LEGEND_HEIGHT + option as f64 * per_option + k as f64 * BAR_ROW;
                    (chart_bar(s, &id, option, (k, r), y, lang))
                }
            }
        }
    }
}

/// The chart's title: every number of the chart as a sentence per round.
fn chart_summary(s: &StatementReport, lang: Lang) -> String {
    let tx = |key| text(lang, key);
    let mut summary = vec![tx("chart").to_owned()];
    for r in &s.rounds {
        let mut sentence = fill(
            tx("chart_voted"),
            &[&r.round.to_string(), &r.voted.to_string()],
        );
        let parts: Vec<String> = r
            .counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let hands = r.hands.get(i).copied().unwrap_or(0);
                let mut part = format!("{}) {c} ({})", s.name(i), percent(c, r.voted));
                if hands > 0 {
                    part.push_str(&format!(", {} {hands}", tx("chart_hands")));
                }
                part
            })
            .collect();
        sentence.push(' ');
        sentence.push_str(&parts.join("; "));
        summary.push(sentence);
    }
    summary.join(" ")
}

/// The chart's legend: one swatch per round, and the hatching if anything was counted
/// by hand.
fn chart_legend(s: &StatementReport, id: &str, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    let any_hands = s.rounds.iter().any(|r| r.hands.iter().any(|&h| h > 0));
    let hands_x = 100.0 * s.rounds.len() as f64;
    html! {
        @for (k, r) in s.rounds.iter().enumerate() {
            @let x = 100.0 * k as f64;
            @let colour = ROUND_FILLS[(r.round as usize - 1).min(ROUND_FILLS.len() - 1)];
            rect x=(x) y="4" width="16" height="16" fill=(colour) {}
            text x=(x + 22.0) y="17" font-size="14" fill="#1a1a1a" {
                (fill(tx("chart_round"), &[&r.round.to_string()]))
            }
        }
        @if any_hands {
            rect x=(hands_x) y="4" width="16" height="16" fill={ "url(#" (id) "-hands)" }
                stroke="#1a1a1a" {}
            text x=(hands_x + 22.0) y="17" font-size="14" fill="#1a1a1a" { (tx("legend_hands")) }
        }
    }
}

/// One bar of the chart at height `y`: option `option` in round `r` (the `k`-th), its
/// part by hand hatched over it, its count and percentage beside it.
fn chart_bar(
    s: &StatementReport,
    id: &str,
    option: usize,
    (k, r): (usize, &RoundReport),
    y: f64,
    lang: Lang,
) -> Markup {
    let (count, hands) = r.votes(option);
    let share = |n: u64| (r.share(n) * BAR_WIDTH).round();
    let caption = if s.rounds.len() > 1 {
        let round = fill(text(lang, "chart_round"), &[&r.round.to_string()]);
        format!("{}) {round}", s.name(option))
    } else {
        format!("{})", s.name(option))
    };
    let weight = if k == 0 { "700" } else { "400" };
    let colour = ROUND_FILLS[k.min(ROUND_FILLS.len() - 1)];
    let bar = BAR_ROW - 4.0;
    html! {
        g class="bar" {
            text x="0" y=(y + 15.0) font-size="14" font-weight=(weight) fill="#1a1a1a" {
                (caption)
            }
            rect x="110" y=(y) width=(BAR_WIDTH) height=(bar) fill="#f0f0f0" {}
            rect class="count" x="110" y=(y) width=(share(count)) height=(bar) fill=(colour) {}
            @if hands > 0 {
                rect class="hands" x="110" y=(y) width=(share(hands)) height=(bar)
                    fill={ "url(#" (id) "-hands)" } stroke="#1a1a1a" {}
            }
            text x=(110.0 + BAR_WIDTH + 10.0) y=(y + 15.0) font-size="14" fill="#1a1a1a" {
                (count) " (" (percent(count, r.voted)) ")"
            }
        }
    }
}

/// The report as a printable HTML page in Dutch or English (styles from
/// `/assets/css/report.css`).
pub fn to_html(report: &Report, lang: Lang, context: &ReportContext) -> String {
    let tx = |key| text(lang, key);
    let code = if lang == Lang::Nl { "nl" } else { "en" };
    let page = html! {
        (PreEscaped("<!doctype html>\n"))
        html lang=(code) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (tx("report")) " — " (report.meeting.as_deref().unwrap_or(&report.title)) }
                link rel="stylesheet" href="/assets/css/report.css";
                // The print button is wired by a module: the page's policy allows no
                // inline script.
                script type="module" src="/assets/js/report.js" {}
            }
            body {
                main {
                    (html_heading(report, lang, context))
                    @for s in &report.statements {
                        section {
                            h2 { (fill(tx("statement"), &[&s.slide.to_string(), &s.title])) }
                            (chart(s, lang))
                            (html_rounds(s, lang))
                            @if s.scale {
                                (html_scale(s, lang))
                            }
                            (html_switches(s, lang))
                            (html_groups(s, report.min_group_size, lang))
                            (html_arguments(s, lang))
                        }
                    }
                    (html_questions(report, lang))
                    @if let Some(map) = &report.opinion_map {
                        (opinion::html(map, report.min_group_size, lang))
                    }
                }
            }
        }
    };
    page.into_string()
}

/// The page's heading: the title, the meeting, the print button, the caveat and the
/// session's numbers.
fn html_heading(report: &Report, lang: Lang, context: &ReportContext) -> Markup {
    let tx = |key| text(lang, key);
    let date = date_text(report, context, lang);
    let subject = Some(
        report
            .meeting
            .clone()
            .unwrap_or_else(|| report.title.clone()),
    );
    let meeting: Vec<&str> = [&subject, &date, &report.place]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let session = [
        report.code.clone(),
        report.joined.to_string(),
        report.min_group_size.to_string(),
    ];
    html! {
        h1 { (tx("report")) }
        p class="meeting" { (meeting.join(" · ")) }
        @if let Some(org) = &context.organisation {
            p class="meta" { (org) }
        }
        @if context.started_ms > 0 {
            p class="meta" { (tx("times")) ": " (times(context, lang)) }
        }
        p class="actions" {
            button type="button" id="print" hidden { (tx("print")) }
            " "
            span class="hint" { (tx("print_hint")) }
        }
        p class="caveat" { (tx("caveat")) }
        @if report.skipped_events > 0 {
            p class="skipped" role="alert" {
                (skipped_text(report.skipped_events, lang))
            }
        }
        p class="meta" { (fill(tx("meta"), &session.each_ref().map(String::as_str))) }
        @if let Some(cards) = report.cards {
            p class="meta" {
                (fill(tx("cards"), &[
                    &cards.issued.to_string(),
                    &cards.used.to_string(),
                    &cards.voted.to_string(),
                ]))
            }
        }
        @if !report.statements.is_empty() {
            section class="summary" {
                h2 { (tx("summary")) }
                ol {
                    @for s in &report.statements {
                        li { strong { (s.title) } " " (summary(s, lang)) }
                    }
                }
            }
        }
    }
}

/// The warning that stored events were skipped, singular or plural.
fn skipped_text(skipped: u64, lang: Lang) -> String {
    let key = if skipped == 1 {
        "skipped_one"
    } else {
        "skipped_other"
    };
    fill(text(lang, key), &[&skipped.to_string()])
}

/// What a round counted by hand, per option: "waarvan met handopsteking geteld: A 2, B 1".
fn hands_text(s: &StatementReport, r: &RoundReport, lang: Lang) -> String {
    let hands: Vec<String> = r
        .hands
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{} {n}", s.name(i)))
        .collect();
    fill(text(lang, "hands"), &[&hands.join(", ")])
}

/// The table of counts per round, hand counts in a row of their own.
fn html_rounds(s: &StatementReport, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    let hands = |r: &RoundReport| hands_text(s, r, lang);
    html! {
        table {
            caption { (tx("per_round")) }
            thead {
                tr {
                    th scope="col" { (tx("round")) }
                    @for (i, o) in s.options.iter().enumerate() {
                        th scope="col" { (s.name(i)) ") " (o) }
                    }
                    th scope="col" { (tx("voted")) }
                }
            }
            tbody {
                @for r in &s.rounds {
                    tr {
                        th scope="row" { (r.round) }
                        @for c in &r.counts {
                            td { (c) " (" (percent(*c, r.voted)) ")" }
                        }
                        td { (r.voted) }
                    }
                    @if r.hands.iter().any(|&n| n > 0) {
                        tr {
                            td {}
                            td colspan=(s.options.len() + 1) { (hands(r)) }
                        }
                    }
                }
            }
        }
    }
}

/// A number of points with one decimal, as the reader writes it (`3,6` in Dutch).
fn decimal(value: f64, lang: Lang) -> String {
    let text = format!("{value:.1}");
    if lang == Lang::Nl {
        text.replace('.', ",")
    } else {
        text
    }
}

/// A scale round's median point, with its label if it has one.
fn median_text(s: &StatementReport, r: &RoundReport) -> String {
    match r.stats {
        Some(stats) => {
            let label = &s.options[stats.median - 1];
            let point = format!("{}", stats.median);
            if label.is_empty() {
                point
            } else {
                format!("{point} ({label})")
            }
        }
        None => "–".to_owned(),
    }
}

/// A scale round's mean, as the reader writes it.
fn mean_text(r: &RoundReport, lang: Lang) -> String {
    r.stats.map_or("–".to_owned(), |st| decimal(st.mean, lang))
}

/// A scale's median and mean per round and, after a re-vote, how they and the voters
/// moved from the first round to the last.
fn html_scale(s: &StatementReport, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    html! {
        table {
            caption { (tx("scale_stats")) }
            thead {
                tr {
                    th scope="col" { (tx("round")) }
                    th scope="col" { (tx("median")) }
                    th scope="col" { (tx("mean")) }
                }
            }
            tbody {
                @for r in &s.rounds {
                    tr {
                        th scope="row" { (r.round) }
                        td { (median_text(s, r)) }
                        td { (mean_text(r, lang)) }
                    }
                }
            }
        }
        @if let Some(shift) = scale_shift(s, lang) {
            p class="scale-shift" { (shift) }
        }
    }
}

/// How a scale's median and mean, and its voters, moved from the first round to the
/// last; `None` before a re-vote.
fn scale_shift(s: &StatementReport, lang: Lang) -> Option<String> {
    let tx = |key| text(lang, key);
    let (Some(first), Some(last), Some(sw)) = (s.rounds.first(), s.rounds.last(), &s.switches)
    else {
        return None;
    };
    let mut shift = fill(
        tx("scale_shift"),
        &[
            &first.round.to_string(),
            &last.round.to_string(),
            &median_text(s, first),
            &median_text(s, last),
            &mean_text(first, lang),
            &mean_text(last, lang),
        ],
    );
    if let Some(m) = sw.moved {
        shift.push(' ');
        shift.push_str(&fill(
            tx("scale_moved"),
            &[
                &sw.paired.to_string(),
                &m.up.to_string(),
                &m.down.to_string(),
                &m.stayed.to_string(),
            ],
        ));
    }
    Some(shift)
}

/// Who switched between the first and the last round, when enough voted in both.
fn html_switches(s: &StatementReport, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    let Some(sw) = &s.switches else {
        return html! {};
    };
    let (from, to) = (sw.from_round.to_string(), sw.to_round.to_string());
    html! {
        @if let (Some(matrix), Some(switched)) = (&sw.matrix, sw.switched) {
            table {
                caption {
                    (fill(tx("switch"), &[&from, &to, &switched.to_string(), &sw.paired.to_string()]))
                }
                thead {
                    tr {
                        th scope="col" { (tx("first_then")) }
                        @for i in 0..s.options.len() {
                            th scope="col" { (s.name(i)) }
                        }
                    }
                }
                tbody {
                    @for (i, row) in matrix.iter().enumerate() {
                        tr {
                            th scope="row" { (s.name(i)) }
                            @for c in row {
                                td { (c) }
                            }
                        }
                    }
                }
            }
        } @else {
            p { (fill(tx("few_paired"), &[&from, &to])) }
        }
    }
}

/// The approved arguments per option, as plain text.
fn html_arguments(s: &StatementReport, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    let of = |i: usize| -> Vec<&ArgumentReport> {
        s.arguments.iter().filter(|a| a.option == i).collect()
    };
    html! {
        @if !s.arguments.is_empty() {
            h3 { (tx("arguments")) }
            @for (i, option) in s.options.iter().enumerate() {
                @let mine = of(i);
                @if !mine.is_empty() {
                    h4 { (s.name(i)) ") " (option) }
                    ul class="arguments" {
                        @for a in mine {
                            li {
                                (a.text) " "
                                span class="upvotes" { "(" (a.upvotes) " " (tx("upvotes")) ")" }
                                @if a.highlighted {
                                    " " strong { "(" (tx("highlighted")) ")" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The approved questions from the room, by upvotes, as plain text.
fn html_questions(report: &Report, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    html! {
        @if !report.questions.is_empty() {
            section {
                h2 { (tx("questions")) }
                ul class="arguments" {
                    @for q in &report.questions {
                        li {
                            (q.text) " "
                            span class="upvotes" { "(" (q.upvotes) " " (tx("upvotes")) ")" }
                            @if q.answered {
                                " " strong { "(" (tx("answered")) ")" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Counts per group in the last round, small groups hidden with the reason.
fn html_groups(s: &StatementReport, min_group_size: u64, lang: Lang) -> Markup {
    let tx = |key| text(lang, key);
    html! {
        @if !s.groups.is_empty() {
            table {
                caption { (tx("per_group")) }
                thead {
                    tr {
                        th scope="col" { (tx("group")) }
                        @for i in 0..s.options.len() {
                            th scope="col" { (s.name(i)) }
                        }
                        th scope="col" { (tx("voted")) }
                    }
                }
                tbody {
                    @for g in &s.groups {
                        tr {
                            th scope="row" { (g.group.as_deref().unwrap_or(tx("no_group"))) }
                            (group_cells(s, g, min_group_size, lang))
                        }
                    }
                }
            }
        }
    }
}

/// A group's counts and voters, or one cell saying why they are not shown.
fn group_cells(s: &StatementReport, g: &GroupRow, min_group_size: u64, lang: Lang) -> Markup {
    let hidden = match g.suppressed {
        Some(Suppressed::Complement) => "hidden_complement",
        _ => "hidden",
    };
    html! {
        @if let (Some(counts), Some(voted)) = (&g.counts, g.voted) {
            @for c in counts {
                td { (c) " (" (percent(*c, voted)) ")" }
            }
            td { (voted) }
        } @else {
            td colspan=(s.options.len() + 1) {
                (fill(text(lang, hidden), &[&min_group_size.to_string()]))
            }
        }
    }
}
