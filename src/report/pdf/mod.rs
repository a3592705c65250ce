//! The report as an A4 PDF for the council's record: PDF/A-2a (archival) and PDF/UA-1
//! (tagged, accessible), written in memory with krilla, which checks both standards as
//! it writes. Page 1 says what the session was and sums each statement up; a section
//! per statement follows with its chart, tables and arguments; the method and its
//! caveat close it. Every number is the report's (`core::tally`'s rounding rule), and
//! most sentences are the HTML report's.

mod layout;
mod opinion;

use krilla::metadata::{DateTime, Metadata};

use layout::{Column, Draw, Layout, Row, Style, WIDTH};

use super::when::local;
use super::{
    capital, chart_summary, date_text, fill, hands_text, mean_text, median_text, percent,
    scale_shift, skipped_text, summary, text, times, Report, ReportContext, RoundReport,
    StatementReport, Suppressed,
};
use crate::wire::protocol::Lang;

/// The report as a PDF in `lang`. The same closed session gives the same bytes: the
/// document's date is the close time, its identifier the session's code. An error
/// means krilla found that the file would not conform (a bug, logged by the caller).
pub fn to_pdf(report: &Report, lang: Lang, context: &ReportContext) -> anyhow::Result<Vec<u8>> {
    let mut doc = Layout::new();
    first_page(&mut doc, report, lang, context);
    for s in &report.statements {
        statement(&mut doc, s, report.min_group_size, lang);
    }
    questions(&mut doc, report, lang);
    if let Some(map) = &report.opinion_map {
        opinion::section(&mut doc, map, report.min_group_size, lang);
    }
    method(&mut doc, report, lang);
    let created = local(context.closed_ms.unwrap_or(context.now_ms));
    let date = DateTime::new(created.year.clamp(0, 9999) as u16)
        .month(created.month as u8)
        .day(created.day as u8)
        .hour(created.hour as u8)
        .minute(created.minute as u8)
        .second(created.second as u8)
        .utc_offset_hour(created.offset)
        .utc_offset_minute(0);
    let tx = |key| words(lang, key);
    let mut meta = Metadata::new()
        .title(format!("{} — {}", tx("report"), subject(report)))
        .language(code(lang).to_owned())
        .creator("stemzaal".to_owned())
        .creation_date(date)
        .document_id(format!("stemzaal-{}", report.code));
    if let Some(org) = &context.organisation {
        meta = meta.authors(vec![org.clone()]);
    }
    let footer = |page: usize, pages: usize| {
        fill(
            tx("footer"),
            &[&report.code, &page.to_string(), &pages.to_string()],
        )
    };
    doc.finish(meta, code(lang), footer)
        .map_err(|e| anyhow::anyhow!("writing the PDF of session {}: {e}", report.code))
}

/// The language's tag in the document.
fn code(lang: Lang) -> &'static str {
    if lang == Lang::Nl {
        "nl"
    } else {
        "en"
    }
}

/// What the report is of: the meeting, or the deck's title.
fn subject(report: &Report) -> &str {
    report.meeting.as_deref().unwrap_or(&report.title)
}

/// Page 1: what the session was, then a line per statement.
fn first_page(doc: &mut Layout, report: &Report, lang: Lang, context: &ReportContext) {
    let tx = |key| words(lang, key);
    doc.heading(1, tx("report"));
    doc.paragraph(
        subject(report),
        Style {
            size: 14.0,
            bold: true,
            colour: layout::INK,
        },
    );

    let mut facts: Vec<(&str, String)> = vec![];
    if let Some(org) = &context.organisation {
        facts.push(("organisation", org.clone()));
    }
    if report.meeting.is_some() {
        facts.push(("deck", report.title.clone()));
    }
    if let Some(date) = date_text(report, context, lang) {
        facts.push(("date", date));
    }
    if let Some(place) = &report.place {
        facts.push(("place", place.clone()));
    }
    facts.push(("times", times(context, lang)));
    facts.push(("participants", report.joined.to_string()));
    if let Some(cards) = report.cards {
        let counts = [cards.issued, cards.used, cards.voted].map(|n| n.to_string());
        facts.push((
            "cards",
            fill(tx("cards_counts"), &counts.each_ref().map(String::as_str)),
        ));
    }
    facts.push(("session", report.code.clone()));
    for (key, value) in facts {
        doc.paragraph(&format!("{}: {value}", tx(key)), Style::BODY);
    }
    if report.skipped_events > 0 {
        doc.paragraph(&skipped_text(report.skipped_events, lang), Style::STRONG);
    }
    doc.heading(2, tx("summary"));
    if report.statements.is_empty() {
        doc.paragraph(tx("no_statements"), Style::BODY);
    }
    for (n, s) in report.statements.iter().enumerate() {
        doc.paragraph(&format!("{}. {}", n + 1, s.title), Style::STRONG);
        doc.paragraph(&summary(s, lang), Style::BODY);
    }
}

/// A statement's section.
fn statement(doc: &mut Layout, s: &StatementReport, min_group_size: u64, lang: Lang) {
    let tx = |key| text(lang, key);
    doc.open(layout::Kind::Section);
    doc.heading(2, &fill(tx("statement"), &[&s.slide.to_string(), &s.title]));
    for (i, option) in s.options.iter().enumerate() {
        let line = if option.is_empty() {
            s.name(i)
        } else {
            format!("{}) {option}", s.name(i))
        };
        doc.paragraph(&line, Style::BODY);
    }
    if !s.rounds.is_empty() {
        chart(doc, s, lang);
        rounds(doc, s, lang);
    }
    if s.scale && !s.rounds.is_empty() {
        scale(doc, s, lang);
    }
    switches(doc, s, lang);
    groups(doc, s, min_group_size, lang);
    arguments(doc, s, lang);
    doc.close();
}

/// Per option a bar per round, the part counted by hand hatched, the count and
/// percentage beside it; one figure whose alternative text gives every number.
fn chart(doc: &mut Layout, s: &StatementReport, lang: Lang) {
    const LEGEND: f32 = 20.0;
    const ROW: f32 = 14.0;
    const GAP: f32 = 6.0;
    const LABEL: f32 = 86.0;
    const BAR: f32 = 300.0;
    let per_option = s.rounds.len() as f32 * ROW + GAP;
    let height = LEGEND + s.options.len() as f32 * per_option;
    let alt = chart_summary(s, lang);
    doc.figure(&alt, height, |x, y| {
        let mut draws = legend(s, x, y, lang);
        for option in 0..s.options.len() {
            for (k, r) in s.rounds.iter().enumerate() {
                let top = y + LEGEND + option as f32 * per_option + k as f32 * ROW;
                let (count, hands) = r.votes(option);
                let share = |n: u64| r.share(n) as f32 * BAR;
                let caption = if s.rounds.len() > 1 {
                    let round = fill(text(lang, "chart_round"), &[&r.round.to_string()]);
                    format!("{}) {round}", s.name(option))
                } else {
                    format!("{})", s.name(option))
                };
                let style = if k == 0 { Style::STRONG } else { Style::BODY };
                let bar_x = x + LABEL;
                draws.push(Draw::Text {
                    x,
                    y: top + 9.5,
                    style,
                    text: caption,
                });
                draws.push(Draw::Rect {
                    x: bar_x,
                    y: top,
                    w: BAR,
                    h: ROW - 3.0,
                    colour: (0xf0, 0xf0, 0xf0),
                });
                if count > 0 {
                    draws.push(Draw::Rect {
                        x: bar_x,
                        y: top,
                        w: share(count),
                        h: ROW - 3.0,
                        colour: round_fill(k),
                    });
                }
                if hands > 0 {
                    draws.push(Draw::Hatch {
                        x: bar_x,
                        y: top,
                        w: share(hands),
                        h: ROW - 3.0,
                    });
                }
                draws.push(Draw::Text {
                    x: bar_x + BAR + 8.0,
                    y: top + 9.5,
                    style: Style::BODY,
                    text: format!("{count} ({})", percent(count, r.voted)),
                });
            }
        }
        draws
    });
}

/// The bars' colour for the `k`-th round: the HTML report's, light to dark.
fn round_fill(k: usize) -> layout::Colour {
    const FILLS: [layout::Colour; 3] = [(0x6b, 0x8f, 0xb8), (0x1f, 0x4e, 0x8c), (0x0b, 0x25, 0x45)];
    FILLS[k.min(FILLS.len() - 1)]
}

/// The chart's legend: a swatch per round, and the hatching if anything was counted by
/// hand.
fn legend(s: &StatementReport, x: f32, y: f32, lang: Lang) -> Vec<Draw> {
    let mut draws = vec![];
    let mut at = x;
    let mut swatch = |draws: &mut Vec<Draw>, label: String, hatch: Option<layout::Colour>| {
        draws.push(match hatch {
            Some(colour) => Draw::Rect {
                x: at,
                y: y + 2.0,
                w: 10.0,
                h: 10.0,
                colour,
            },
            None => Draw::Hatch {
                x: at,
                y: y + 2.0,
                w: 10.0,
                h: 10.0,
            },
        });
        let width = Style::BODY.width(&label);
        draws.push(Draw::Text {
            x: at + 14.0,
            y: y + 11.0,
            style: Style::BODY,
            text: label,
        });
        at += 14.0 + width + 16.0;
    };
    for (k, r) in s.rounds.iter().enumerate() {
        let label = fill(text(lang, "chart_round"), &[&r.round.to_string()]);
        swatch(&mut draws, label, Some(round_fill(k)));
    }
    if s.rounds.iter().any(|r| r.hands.iter().any(|&h| h > 0)) {
        swatch(&mut draws, text(lang, "legend_hands").to_owned(), None);
    }
    draws
}

/// Columns for a row header of `first` points and `n` number columns sharing the rest.
fn columns(first: f32, n: usize) -> Vec<Column> {
    let rest = ((WIDTH - first) / n.max(1) as f32).min(90.0);
    std::iter::once(Column {
        width: first,
        right: false,
    })
    .chain((0..n).map(|_| Column {
        width: rest,
        right: true,
    }))
    .collect()
}

/// The counts per round, with percentages; what was counted by hand below.
fn rounds(doc: &mut Layout, s: &StatementReport, lang: Lang) {
    let tx = |key| text(lang, key);
    let mut header = vec![tx("round").to_owned()];
    header.extend((0..s.options.len()).map(|i| s.name(i)));
    header.push(tx("voted").to_owned());
    let rows: Vec<Row> = s
        .rounds
        .iter()
        .map(|r| {
            let mut row = vec![r.round.to_string()];
            row.extend(
                r.counts
                    .iter()
                    .map(|&c| format!("{c} ({})", percent(c, r.voted))),
            );
            row.push(r.voted.to_string());
            row
        })
        .collect();
    let cols = columns(60.0, s.options.len() + 1);
    doc.table(tx("per_round"), &cols, &header, &rows);
    for r in s.rounds.iter().filter(|r| r.hands.iter().any(|&n| n > 0)) {
        let line = format!("{} {}: {}", tx("round"), r.round, hands_text(s, r, lang));
        doc.paragraph(&line, Style::BODY);
    }
}

/// A scale's median and mean per round, and how they moved.
fn scale(doc: &mut Layout, s: &StatementReport, lang: Lang) {
    let tx = |key| text(lang, key);
    let header = [tx("round"), tx("median"), tx("mean")].map(str::to_owned);
    let rows: Vec<Row> = s
        .rounds
        .iter()
        .map(|r: &RoundReport| vec![r.round.to_string(), median_text(s, r), mean_text(r, lang)])
        .collect();
    let cols = vec![
        Column {
            width: 60.0,
            right: false,
        },
        Column {
            width: 200.0,
            right: false,
        },
        Column {
            width: 90.0,
            right: true,
        },
    ];
    doc.table(tx("scale_stats"), &cols, &header, &rows);
    if let Some(shift) = scale_shift(s, lang) {
        doc.paragraph(&shift, Style::BODY);
    }
}

/// Who switched between the first and the last round.
fn switches(doc: &mut Layout, s: &StatementReport, lang: Lang) {
    let tx = |key| text(lang, key);
    let Some(sw) = &s.switches else {
        return;
    };
    let (from, to) = (sw.from_round.to_string(), sw.to_round.to_string());
    let (Some(matrix), Some(switched)) = (&sw.matrix, sw.switched) else {
        doc.paragraph(&fill(tx("few_paired"), &[&from, &to]), Style::BODY);
        return;
    };
    let caption = fill(
        tx("switch"),
        &[&from, &to, &switched.to_string(), &sw.paired.to_string()],
    );
    let mut header = vec![tx("first_then").to_owned()];
    header.extend((0..s.options.len()).map(|i| s.name(i)));
    let rows: Vec<Row> = matrix
        .iter()
        .enumerate()
        .map(|(i, row)| {
            std::iter::once(s.name(i))
                .chain(row.iter().map(u64::to_string))
                .collect()
        })
        .collect();
    doc.table(&caption, &columns(90.0, s.options.len()), &header, &rows);
}

/// The last round per group, a small group's row saying why it is not shown.
fn groups(doc: &mut Layout, s: &StatementReport, min_group_size: u64, lang: Lang) {
    let tx = |key| text(lang, key);
    if s.groups.is_empty() {
        return;
    }
    let mut header = vec![tx("group").to_owned()];
    header.extend((0..s.options.len()).map(|i| s.name(i)));
    header.push(tx("voted").to_owned());
    let rows: Vec<Row> = s
        .groups
        .iter()
        .map(|g| {
            let name = g.group.as_deref().unwrap_or(tx("no_group"));
            match (&g.counts, g.voted) {
                (Some(counts), Some(voted)) => std::iter::once(name.to_owned())
                    .chain(
                        counts
                            .iter()
                            .map(|&c| format!("{c} ({})", percent(c, voted))),
                    )
                    .chain(std::iter::once(voted.to_string()))
                    .collect(),
                _ => {
                    let why = match g.suppressed {
                        Some(Suppressed::Complement) => "hidden_complement",
                        _ => "hidden",
                    };
                    let why = fill(tx(why), &[&min_group_size.to_string()]);
                    std::iter::once(format!("{name}: {why}"))
                        .chain((0..=s.options.len()).map(|_| "–".to_owned()))
                        .collect()
                }
            }
        })
        .collect();
    doc.table(
        tx("per_group"),
        &columns(170.0, s.options.len() + 1),
        &header,
        &rows,
    );
}

/// The approved arguments with their support, highlighted ones marked.
fn arguments(doc: &mut Layout, s: &StatementReport, lang: Lang) {
    if s.arguments.is_empty() {
        return;
    }
    let tx = |key| text(lang, key);
    let header = [
        words(lang, "option").to_owned(),
        words(lang, "argument").to_owned(),
        capital(tx("upvotes")),
    ];
    let rows: Vec<Row> = s
        .arguments
        .iter()
        .map(|a| {
            let mut argument = a.text.clone();
            if a.highlighted {
                argument.push_str(&format!(" ({})", tx("highlighted")));
            }
            vec![s.name(a.option), argument, a.upvotes.to_string()]
        })
        .collect();
    let cols = [
        Column {
            width: 50.0,
            right: false,
        },
        Column {
            width: WIDTH - 110.0,
            right: false,
        },
        Column {
            width: 60.0,
            right: true,
        },
    ];
    doc.table(tx("arguments"), &cols, &header, &rows);
}

/// The approved questions from the room with their support, answered ones marked.
fn questions(doc: &mut Layout, report: &Report, lang: Lang) {
    if report.questions.is_empty() {
        return;
    }
    let tx = |key| text(lang, key);
    doc.open(layout::Kind::Section);
    doc.heading(2, tx("questions"));
    let header = [words(lang, "question").to_owned(), capital(tx("upvotes"))];
    let rows: Vec<Row> = report
        .questions
        .iter()
        .map(|q| {
            let mut question = q.text.clone();
            if q.answered {
                question.push_str(&format!(" ({})", tx("answered")));
            }
            vec![question, q.upvotes.to_string()]
        })
        .collect();
    let cols = [
        Column {
            width: WIDTH - 60.0,
            right: false,
        },
        Column {
            width: 60.0,
            right: true,
        },
    ];
    doc.table(tx("questions"), &cols, &header, &rows);
    doc.close();
}

/// The method and its caveat.
fn method(doc: &mut Layout, report: &Report, lang: Lang) {
    let tx = |key| words(lang, key);
    doc.heading(2, tx("method"));
    doc.paragraph(text(lang, "caveat"), Style::BODY);
    doc.paragraph(
        &fill(tx("method_groups"), &[&report.min_group_size.to_string()]),
        Style::BODY,
    );
    let cards = if report.cards.is_some() {
        "method_cards"
    } else {
        "method_no_cards"
    };
    doc.paragraph(tx(cards), Style::BODY);
    doc.paragraph(tx("method_hands"), Style::BODY);
    doc.paragraph(tx("method_rounding"), Style::BODY);
    doc.paragraph(tx("method_times"), Style::SMALL);
}

/// A sentence of the PDF in the reader's language; those the HTML report has too from
/// its table.
fn words(lang: Lang, key: &str) -> &'static str {
    let (nl, en) = match key {
        "organisation" => ("Organisatie", "Organisation"),
        "deck" => ("Presentatie", "Presentation"),
        "date" => ("Datum", "Date"),
        "place" => ("Plaats", "Place"),
        "participants" => ("Deelnemers", "Participants"),
        "cards" => ("Stemkaarten", "Voting cards"),
        "cards_counts" => (
            "{a} uitgegeven, {b} gebruikt, {c} gestemd",
            "{a} issued, {b} used, {c} voted",
        ),
        "session" => ("Sessie", "Session"),
        "no_statements" => ("Dit deck heeft geen stellingen.", "This deck has no statements."),
        "option" => ("Keuze", "Option"),
        "argument" => ("Argument", "Argument"),
        "question" => ("Vraag", "Question"),
        "method" => ("Werkwijze", "Method"),
        "method_groups" => (
            "Uitslagen per groep tonen alleen groepen met ten minste {a} stemmen. Een tweede groep blijft ook weg als anders de kleine groep uit het totaal is af te leiden.",
            "Results per group show only groups with at least {a} votes. A second group is left out too when the small group could otherwise be worked out from the total.",
        ),
        "method_cards" => (
            "Er werd gestemd met stemkaarten: elke uitgegeven kaart geeft één deelnemer één stem per ronde. Een kaart bewijst dat een stem van een uitgegeven kaart kwam en dat geen kaart twee keer stemde, niet wie de kaart in handen had.",
            "Votes were cast with voting cards: each card issued gives one participant one vote per round. A card proves that a vote came from an issued card and that no card voted twice, not who held the card.",
        ),
        "method_no_cards" => (
            "Er werd gestemd zonder stemkaarten: iedereen met de code kon meedoen, en een deelnemer is een telefoon. Niets bewijst dat één persoon één stem had.",
            "Votes were cast without voting cards: anyone with the code could take part, and a participant is a phone. Nothing proves that one person had one vote.",
        ),
        "method_hands" => (
            "Stemmen bij handopsteking telde de voorzitter in de zaal; ze tellen mee in de uitslag en zijn in de grafieken gearceerd.",
            "Votes by show of hands were counted in the room by the chair; they are part of the result and hatched in the charts.",
        ),
        "method_rounding" => (
            "Percentages zijn van wie in die ronde stemde, afgerond op hele procenten (een half naar boven); gelijke aantallen krijgen gelijke percentages, dus samen is het soms 99 of 101.",
            "Percentages are of those who voted in that round, rounded to whole percents (a half up); equal counts get equal percentages, so together they sometimes make 99 or 101.",
        ),
        "method_times" => (
            "Tijden in Nederlandse tijd. Gemaakt met stemzaal.",
            "Times in Dutch time (Europe/Amsterdam). Made with stemzaal.",
        ),
        "footer" => (
            "Stemzaal · sessie {a} · pagina {b} van {c}",
            "Stemzaal · session {a} · page {b} of {c}",
        ),
        _ => return text(lang, key),
    };
    if lang == Lang::Nl {
        nl
    } else {
        en
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::session::{Command, Session};

    /// A report of a deck whose texts hold what the font cannot set.
    fn report() -> Report {
        let source =
            "---\ntitle: Groen 🌳 in de wijk\n---\n## Meer 🌳 in de straat?\n\nA) ja 👍\nB) nee\n";
        let deck = crate::core::deck::parse("groen.md", source).expect("the deck parses");
        let mut session = Session::new(Arc::new(deck));
        for command in [Command::GoTo { slide: 0 }, Command::OpenVote] {
            session.apply(command).expect("the host may");
        }
        crate::report::build(&session, "ABC234")
    }

    #[test]
    fn characters_the_font_lacks_print_as_question_marks_instead_of_failing() {
        let context = ReportContext {
            started_ms: 1_796_751_000_000,
            now_ms: 1_796_752_000_000,
            ..ReportContext::default()
        };
        let pdf = to_pdf(&report(), Lang::Nl, &context).expect("a conforming PDF");
        assert!(pdf.starts_with(b"%PDF-1.7"));
    }

    #[test]
    fn a_closed_session_gives_the_same_bytes_and_an_open_one_is_dated_by_the_request() {
        let report = report();
        let open = |now_ms| ReportContext {
            started_ms: 1_796_751_000_000,
            now_ms,
            ..ReportContext::default()
        };
        let closed = |now_ms| ReportContext {
            closed_ms: Some(1_796_751_600_000),
            ..open(now_ms)
        };
        let pdf = |context: ReportContext| to_pdf(&report, Lang::En, &context).unwrap();
        assert_eq!(
            pdf(closed(1_796_752_000_000)),
            pdf(closed(1_796_999_000_000))
        );
        assert_ne!(pdf(open(1_796_752_000_000)), pdf(open(1_796_752_060_000)));
    }
}
