//! The report as CSV: one file, its tables told apart by the first column.

use super::{MapReport, Report, StatementReport, Suppressed};
use crate::core::deck::option_name;

/// The columns, in order.
const HEADER: &str =
    "table,slide,statement,round,group,option,option_text,votes,hands,percent,upvotes,note";

/// The byte order mark a CSV file starts with, so that a spreadsheet opens it as UTF-8.
const BOM: char = '\u{feff}';

/// The report as CSV (RFC 4180, UTF-8 with a byte order mark): one row per statement,
/// round or group, and option, its table in the first column. `slide` counts from 1, as
/// the host and the report do.
///
/// - `round`: per round and option, phones and hands together in `votes`, the part
///   counted by hand in `hands`, `percent` from the report's `percents`.
/// - `median`: after each scale round, the median point in `option`, with
///   `mediaan; gemiddelde 3.6` in `note`.
/// - `shift`: after a scale's re-vote, a row without `option` that says in `note` how
///   many moved up and down between the first and the last round.
/// - `group`: per group and option in the last round, phones only (a hand has no group,
///   so `hands` is empty); a suppressed group's `votes` and `percent` are empty, with
///   `<5` in `note` for a small group, or a note saying it protects a small group.
/// - `argument`: an approved argument, its upvotes in `upvotes` (never in `votes`), its
///   text in `note` after `argument: ` or `uitgelicht argument: `.
/// - `question`: an approved question from the room, by upvotes, after the statements:
///   its upvotes in `upvotes`, its text in `note` after `vraag: ` or
///   `beantwoorde vraag: `; the statement's columns empty.
/// - `map_group`, `map`, `map_consensus`, `map_divisive`: the opinion map, when two or
///   more statements have votes. `map_group` is a row per group, largest first, `groep
///   1` … in `group`, its participants in `votes`. `map` is a row per statement the map
///   rests on and group: the option the group chose most in `option` and
///   `option_text`, its share in `percent`; a hidden cell's option and percent empty,
///   with its note as for `group`. `map_consensus` and `map_divisive` name the
///   consensus and the divisive statements, strongest first. With too few participants
///   for a map, one `map` row instead: who voted in `votes`, why in `note`.
/// - `cards`: for a session with voting cards, three rows, `stemkaarten` in
///   `statement`, `uitgegeven`, `gebruikt` and `gestemd` in `option_text`, the number
///   in `votes`.
/// - `skipped`: when stored events could not be applied, one row, `opgeslagen
///   gebeurtenissen` in `statement`, `niet gelezen` in `option_text`, the number in
///   `votes`.
pub fn to_csv(report: &Report) -> String {
    let mut out = format!("{BOM}{HEADER}\r\n");
    for s in &report.statements {
        csv_rounds(&mut out, s);
        let last = s.rounds.last().map_or(1, |r| r.round).to_string();
        csv_scale_shift(&mut out, s, &last, report.min_group_size);
        csv_groups(&mut out, s, &last, report.min_group_size);
        csv_arguments(&mut out, s);
    }
    if let Some(map) = &report.opinion_map {
        csv_map(&mut out, map, report.min_group_size);
    }
    for q in &report.questions {
        let kind = if q.answered {
            "beantwoorde vraag"
        } else {
            "vraag"
        };
        let (upvotes, note) = (q.upvotes.to_string(), format!("{kind}: {}", q.text));
        let fields = [
            "question", "", "", "", "", "", "", "", "", "", &upvotes, &note,
        ];
        line(&mut out, fields);
    }
    if let Some(cards) = report.cards {
        for (what, n) in [
            ("uitgegeven", cards.issued),
            ("gebruikt", cards.used),
            ("gestemd", cards.voted),
        ] {
            out.push_str(&format!("cards,,stemkaarten,,,,{what},{n},,,,\r\n"));
        }
    }
    if report.skipped_events > 0 {
        let n = report.skipped_events;
        out.push_str(&format!(
            "skipped,,opgeslagen gebeurtenissen,,,,niet gelezen,{n},,,,\r\n"
        ));
    }
    out
}

/// The cells of a row after its option: empty unless given.
#[derive(Default)]
struct Cells<'a> {
    votes: String,
    hands: String,
    percent: String,
    upvotes: String,
    note: &'a str,
}

/// A statement's rows per round and option, each scale round followed by its median.
fn csv_rounds(out: &mut String, s: &StatementReport) {
    for r in &s.rounds {
        let round = r.round.to_string();
        for (i, count) in r.counts.iter().enumerate() {
            let cells = Cells {
                votes: count.to_string(),
                hands: r.hands.get(i).copied().unwrap_or(0).to_string(),
                percent: r.percents.get(i).map(u64::to_string).unwrap_or_default(),
                ..Cells::default()
            };
            row(out, ("round", s), [&round, ""], i, cells);
        }
        if let Some(stats) = r.stats {
            let note = format!("mediaan; gemiddelde {:.1}", stats.mean);
            let cells = Cells {
                note: &note,
                ..Cells::default()
            };
            row(out, ("median", s), [&round, ""], stats.median - 1, cells);
        }
    }
}

/// After a scale's re-vote, the row that says how many moved up and down by the `last`
/// round (or that too few voted in both).
fn csv_scale_shift(out: &mut String, s: &StatementReport, last: &str, min_group_size: u64) {
    let Some(sw) = s.switches.as_ref().filter(|_| s.scale) else {
        return;
    };
    let from = sw.from_round;
    let note = match sw.moved {
        Some(m) => format!(
            "verschuiving vanaf ronde {from}: {} hoger, {} lager, {} gelijk",
            m.up, m.down, m.stayed
        ),
        None => {
            format!("verschuiving vanaf ronde {from}: <{min_group_size} stemden in beide rondes")
        }
    };
    let cells = Cells {
        note: &note,
        ..Cells::default()
    };
    row(out, ("shift", s), [last, ""], usize::MAX, cells);
}

/// The `last` round's rows per group and option, a suppressed group's counts empty.
fn csv_groups(out: &mut String, s: &StatementReport, last: &str, min_group_size: u64) {
    for g in &s.groups {
        let name = g.group.as_deref().unwrap_or("(geen groep)");
        let note = hidden_note(g.suppressed, min_group_size);
        for i in 0..s.options.len() {
            let cell = |values: &Option<Vec<u64>>| {
                values
                    .as_ref()
                    .map(|v| v[i].to_string())
                    .unwrap_or_default()
            };
            let cells = Cells {
                votes: cell(&g.counts),
                percent: cell(&g.percents),
                note: &note,
                ..Cells::default()
            };
            row(out, ("group", s), [last, name], i, cells);
        }
    }
}

/// Why a group's cell is empty, or nothing when it is shown.
fn hidden_note(why: Option<Suppressed>, min_group_size: u64) -> String {
    match why {
        None => String::new(),
        Some(Suppressed::Few) => format!("<{min_group_size}"),
        Some(Suppressed::Complement) => {
            format!("verborgen: zou een groep <{min_group_size} verraden")
        }
    }
}

/// The opinion map's rows: its groups, what each chose per statement, and the
/// consensus and divisive statements.
fn csv_map(out: &mut String, map: &MapReport, min_group_size: u64) {
    if let Some(needed) = map.needed {
        let note = format!(
            "te weinig deelnemers voor een kaart: groepen van minstens {min_group_size} vragen er {needed}"
        );
        let votes = map.participants.to_string();
        line(
            out,
            ["map", "", "", "", "", "", "", &votes, "", "", "", &note],
        );
        return;
    }
    let group = |g: usize| format!("groep {}", g + 1);
    for (g, size) in map.groups.iter().enumerate() {
        let size = size.to_string();
        line(
            out,
            [
                "map_group",
                "",
                "",
                "",
                &group(g),
                "",
                "",
                &size,
                "",
                "",
                "",
                "",
            ],
        );
    }
    for s in &map.statements {
        let slide = s.slide.to_string();
        for g in 0..map.groups.len() {
            let chosen = s.chosen.get(g).copied().flatten();
            let option = chosen
                .map(|c| option_name(s.scale, c.option))
                .unwrap_or_default();
            let text = chosen.map_or("", |c| s.options.get(c.option).map_or("", String::as_str));
            let percent = chosen.map(|c| c.percent.to_string()).unwrap_or_default();
            let note = hidden_note(s.suppressed.get(g).copied().flatten(), min_group_size);
            let fields = [
                "map",
                &slide,
                &s.title,
                "",
                &group(g),
                &option,
                text,
                "",
                "",
                &percent,
                "",
                &note,
            ];
            line(out, fields);
        }
    }
    for (table, slides) in [
        ("map_consensus", &map.consensus),
        ("map_divisive", &map.divisive),
    ] {
        for slide in slides {
            let title = map
                .statements
                .iter()
                .find(|s| s.slide == *slide)
                .map_or("", |s| s.title.as_str());
            line(
                out,
                [
                    table,
                    &slide.to_string(),
                    title,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ],
            );
        }
    }
}

/// Approved arguments: `upvotes` holds the upvotes, `note` the text.
fn csv_arguments(out: &mut String, s: &StatementReport) {
    for a in &s.arguments {
        let kind = if a.highlighted {
            "uitgelicht argument"
        } else {
            "argument"
        };
        let note = format!("{kind}: {}", a.text);
        let cells = Cells {
            upvotes: a.upvotes.to_string(),
            note: &note,
            ..Cells::default()
        };
        row(out, ("argument", s), ["", ""], a.option, cells);
    }
}

/// One CSV row of `table` for statement `s`, in `[round, group]`. Option `i` past the
/// options leaves `option` and `option_text` empty.
fn row(
    out: &mut String,
    (table, s): (&str, &StatementReport),
    [round, group]: [&str; 2],
    i: usize,
    cells: Cells,
) {
    let fields = [
        table,
        &s.slide.to_string(),
        &s.title,
        round,
        group,
        &s.options.get(i).map(|_| s.name(i)).unwrap_or_default(),
        s.options.get(i).map_or("", String::as_str),
        &cells.votes,
        &cells.hands,
        &cells.percent,
        &cells.upvotes,
        cells.note,
    ];
    line(out, fields);
}

/// One CSV row of `fields`, quoted where needed.
fn line(out: &mut String, fields: [&str; 12]) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// Quotes a CSV field when needed, and defuses spreadsheet formulas (a field starting
/// with `=`, `+`, `-` or `@` is prefixed with `'`), since decks are free text.
fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}
