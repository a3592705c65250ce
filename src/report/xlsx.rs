//! The report as an Excel workbook: a sheet per table, numbers as numbers, every text
//! from the deck a string (never a formula).

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::opinion;
use super::{fill, label, text, Report, StatementReport, Suppressed};
use crate::wire::protocol::Lang;

/// The widest a column grows to fit its texts, in pixels; longer texts run on.
const MAX_COLUMN_PIXELS: u32 = 480;

/// The report as an `.xlsx` file, its sheet and column names in `lang`: votes per round
/// (the meeting, date and place on top), groups, switches, arguments and, in a session
/// with voting cards, the cards; the approved questions and the opinion map when there
/// are. Percentages are the report's `percents` with a percent
/// format. `now_ms` is the workbook's creation time, drawn by the caller.
pub fn to_xlsx(report: &Report, lang: Lang, now_ms: u64) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let created = ExcelDateTime::from_timestamp((now_ms / 1000) as i64)?;
    book.set_properties(
        &DocProperties::new()
            .set_title(&report.title)
            .set_creation_datetime(&created),
    );
    let formats = Formats {
        bold: Format::new().set_bold(),
        percent: Format::new().set_num_format("0%"),
    };
    let mut tables: Vec<(&str, Table)> = vec![
        ("sheet_rounds", rounds),
        ("sheet_groups", groups),
        ("sheet_switches", switches),
        ("sheet_arguments", arguments),
    ];
    if report.cards.is_some() {
        tables.push(("sheet_cards", cards));
    }
    if !report.questions.is_empty() {
        tables.push(("sheet_questions", questions));
    }
    if report.opinion_map.is_some() {
        tables.push(("sheet_map", opinion_map));
    }
    for (name, write) in tables {
        let mut sheet = Sheet::new(&mut book, lang, name, &formats)?;
        write(&mut sheet, report)?;
        sheet.finish();
    }
    book.save_to_buffer()
}

/// What writes one sheet's table.
type Table = fn(&mut Sheet, &Report) -> Result<(), XlsxError>;

/// The formats cells take.
struct Formats {
    bold: Format,
    percent: Format,
}

/// One cell's value.
#[derive(Clone, Copy)]
enum Cell<'a> {
    /// Text, written as a string whatever it starts with.
    Text(&'a str),
    Number(u64),
    /// A whole percentage (`27` for 27 %), shown with the percent format.
    Percent(u64),
    /// An option's letter.
    Label(char),
    Bool(bool),
    Empty,
}

/// A worksheet being written, row by row.
struct Sheet<'a> {
    sheet: &'a mut Worksheet,
    formats: &'a Formats,
    lang: Lang,
    row: u32,
}

impl<'a> Sheet<'a> {
    /// A new sheet of `book`, named by `key` in `lang`.
    fn new(
        book: &'a mut Workbook,
        lang: Lang,
        key: &str,
        formats: &'a Formats,
    ) -> Result<Self, XlsxError> {
        let sheet = book.add_worksheet();
        sheet.set_name(word(lang, key))?;
        Ok(Sheet {
            sheet,
            formats,
            lang,
            row: 0,
        })
    }

    /// The header row, bold, its columns named by `keys` in the sheet's language; the
    /// rows above it and the header stay in view when scrolling.
    fn header(&mut self, keys: &[&str]) -> Result<(), XlsxError> {
        for (col, key) in keys.iter().enumerate() {
            let name = word(self.lang, key);
            self.sheet
                .write_string_with_format(self.row, col as u16, name, &self.formats.bold)?;
        }
        self.row += 1;
        self.sheet.set_freeze_panes(self.row, 0)?;
        Ok(())
    }

    /// The next row.
    fn row(&mut self, cells: &[Cell]) -> Result<(), XlsxError> {
        let row = self.row;
        for (col, cell) in cells.iter().enumerate() {
            let col = col as u16;
            match *cell {
                Cell::Text(text) => self.sheet.write_string(row, col, text)?,
                Cell::Number(n) => self.sheet.write_number(row, col, n as f64)?,
                Cell::Percent(p) => self.sheet.write_number_with_format(
                    row,
                    col,
                    p as f64 / 100.0,
                    &self.formats.percent,
                )?,
                Cell::Label(c) => self.sheet.write_string(row, col, c)?,
                Cell::Bool(b) => self.sheet.write_boolean(row, col, b)?,
                Cell::Empty => self.sheet,
            };
        }
        self.row += 1;
        Ok(())
    }

    /// Columns as wide as their texts, up to [`MAX_COLUMN_PIXELS`].
    fn finish(self) {
        self.sheet.set_autofit_max_width(MAX_COLUMN_PIXELS);
        self.sheet.autofit();
    }
}

/// The first sheet: the meeting on top, then per statement, round and option the votes,
/// of which by hand, and the percentage.
fn rounds(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    let bold = sheet.formats.bold.clone();
    sheet
        .sheet
        .write_string_with_format(0, 0, word(sheet.lang, "title"), &bold)?;
    sheet
        .sheet
        .write_string_with_format(0, 1, &report.title, &bold)?;
    sheet.row = 1;
    for (key, value) in [
        ("meeting", &report.meeting),
        ("date", &report.date),
        ("place", &report.place),
        ("session", &Some(report.code.clone())),
    ] {
        let value = value.as_deref().map_or(Cell::Empty, Cell::Text);
        sheet.row(&[Cell::Text(word(sheet.lang, key)), value])?;
    }
    sheet.row(&[
        Cell::Text(word(sheet.lang, "joined")),
        Cell::Number(report.joined),
    ])?;
    sheet.row += 1;
    sheet.header(&[
        "slide",
        "statement",
        "round",
        "option",
        "option_text",
        "votes",
        "hands",
        "percent",
        "voted",
    ])?;
    for s in &report.statements {
        for r in &s.rounds {
            for (i, &count) in r.counts.iter().enumerate() {
                let mut cells = statement_cells(s);
                cells.push(Cell::Number(r.round.into()));
                cells.extend(option_cells(s, i));
                cells.extend([
                    Cell::Number(count),
                    Cell::Number(r.hands.get(i).copied().unwrap_or(0)),
                    r.percents
                        .get(i)
                        .copied()
                        .map_or(Cell::Empty, Cell::Percent),
                    Cell::Number(r.voted),
                ]);
                sheet.row(&cells)?;
            }
        }
    }
    Ok(())
}

/// The statement's slide number and title.
fn statement_cells(s: &StatementReport) -> Vec<Cell<'_>> {
    vec![Cell::Number(s.slide as u64), Cell::Text(&s.title)]
}

/// Option `i`'s name (`A`, or a scale's point) and text.
fn option_cells(s: &StatementReport, i: usize) -> [Cell<'_>; 2] {
    named_option(s.scale, &s.options, i)
}

/// Option `i` of `options` (a scale's points when `scale`): its name and text.
fn named_option(scale: bool, options: &[String], i: usize) -> [Cell<'_>; 2] {
    let name = match scale {
        true => Cell::Number(i as u64 + 1),
        false => Cell::Label(label(i)),
    };
    [name, Cell::Text(options.get(i).map_or("", String::as_str))]
}

/// The last round per group and option; a suppressed group's cells empty, with why.
fn groups(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    sheet.header(&[
        "slide",
        "statement",
        "round",
        "group",
        "option",
        "option_text",
        "votes",
        "percent",
        "voted",
        "note",
    ])?;
    let lang = sheet.lang;
    let min = report.min_group_size.to_string();
    for s in &report.statements {
        let round = s.rounds.last().map_or(1, |r| r.round);
        for g in &s.groups {
            let note = hidden_note(lang, g.suppressed, &min);
            let name = g.group.as_deref().unwrap_or(text(lang, "no_group"));
            for i in 0..s.options.len() {
                let mut cells = statement_cells(s);
                cells.extend([Cell::Number(round.into()), Cell::Text(name)]);
                cells.extend(option_cells(s, i));
                cells.extend([
                    g.counts
                        .as_ref()
                        .map_or(Cell::Empty, |c| Cell::Number(c[i])),
                    g.percents
                        .as_ref()
                        .map_or(Cell::Empty, |p| Cell::Percent(p[i])),
                    g.voted.map_or(Cell::Empty, Cell::Number),
                    note.as_deref().map_or(Cell::Empty, Cell::Text),
                ]);
                sheet.row(&cells)?;
            }
        }
    }
    Ok(())
}

/// Why a group's cells are empty, in `lang`; `None` when they are shown.
fn hidden_note(lang: Lang, why: Option<Suppressed>, min: &str) -> Option<String> {
    let key = match why? {
        Suppressed::Few => "hidden",
        Suppressed::Complement => "hidden_complement",
    };
    Some(fill(text(lang, key), &[min]))
}

/// The opinion map: per statement it rests on and group, the group's size and the
/// option it chose most with its share (a hidden cell empty, with why), and whether
/// the statement is shared by all groups or divides them. With too few participants
/// for a map, one row that says so.
fn opinion_map(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    let Some(map) = &report.opinion_map else {
        return Ok(());
    };
    let lang = sheet.lang;
    let min = report.min_group_size.to_string();
    if let Some(needed) = map.needed {
        sheet.header(&["voted", "note"])?;
        let few = opinion::words(lang, "few");
        let note = fill(
            few,
            &[&map.participants.to_string(), &min, &needed.to_string()],
        );
        return sheet.row(&[Cell::Number(map.participants), Cell::Text(&note)]);
    }
    sheet.header(&[
        "slide",
        "statement",
        "group",
        "group_size",
        "option",
        "option_text",
        "percent",
        "note",
        "standout",
    ])?;
    let groups: Vec<String> = (0..map.groups.len())
        .map(|g| fill(opinion::words(lang, "group"), &[&(g + 1).to_string()]))
        .collect();
    for s in &map.statements {
        let standout = if map.consensus.contains(&s.slide) {
            Cell::Text(opinion::words(lang, "consensus"))
        } else if map.divisive.contains(&s.slide) {
            Cell::Text(opinion::words(lang, "divisive"))
        } else {
            Cell::Empty
        };
        for (g, &size) in map.groups.iter().enumerate() {
            let chosen = s.chosen.get(g).copied().flatten();
            let note = hidden_note(lang, s.suppressed.get(g).copied().flatten(), &min);
            let [option, option_text] = chosen.map_or([Cell::Empty, Cell::Empty], |c| {
                named_option(s.scale, &s.options, c.option)
            });
            sheet.row(&[
                Cell::Number(s.slide as u64),
                Cell::Text(&s.title),
                Cell::Text(&groups[g]),
                Cell::Number(size),
                option,
                option_text,
                chosen.map_or(Cell::Empty, |c| Cell::Percent(c.percent)),
                note.as_deref().map_or(Cell::Empty, Cell::Text),
                standout,
            ])?;
        }
    }
    Ok(())
}

/// Between the first and the last round of each statement voted twice or more: one row
/// per first and last option with the participants who chose them, or one row saying
/// too few voted in both.
fn switches(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    sheet.header(&[
        "slide",
        "statement",
        "from_round",
        "to_round",
        "paired",
        "switched",
        "first",
        "then",
        "participants",
        "note",
    ])?;
    let lang = sheet.lang;
    for s in &report.statements {
        let Some(sw) = &s.switches else {
            continue;
        };
        let mut head = statement_cells(s);
        head.extend([
            Cell::Number(sw.from_round.into()),
            Cell::Number(sw.to_round.into()),
            Cell::Number(sw.paired),
            sw.switched.map_or(Cell::Empty, Cell::Number),
        ]);
        let Some(matrix) = &sw.matrix else {
            let rounds = [sw.from_round.to_string(), sw.to_round.to_string()];
            let note = fill(text(lang, "few_paired"), &[&rounds[0], &rounds[1]]);
            head.extend([Cell::Empty, Cell::Empty, Cell::Empty, Cell::Text(&note)]);
            sheet.row(&head)?;
            continue;
        };
        for (i, row) in matrix.iter().enumerate() {
            for (j, &n) in row.iter().enumerate() {
                let mut cells = statement_cells(s);
                cells.extend(head.iter().skip(2).copied());
                cells.extend([option_name(s, i), option_name(s, j), Cell::Number(n)]);
                sheet.row(&cells)?;
            }
        }
    }
    Ok(())
}

/// Option `i`'s name alone.
fn option_name(s: &StatementReport, i: usize) -> Cell<'_> {
    let [name, _] = option_cells(s, i);
    name
}

/// The approved arguments: statement, option, text, upvotes, highlighted.
fn arguments(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    sheet.header(&[
        "slide",
        "statement",
        "option",
        "option_text",
        "argument",
        "upvotes",
        "highlighted",
    ])?;
    for s in &report.statements {
        for a in &s.arguments {
            let mut cells = statement_cells(s);
            cells.extend(option_cells(s, a.option));
            cells.extend([
                Cell::Text(&a.text),
                Cell::Number(a.upvotes),
                Cell::Bool(a.highlighted),
            ]);
            sheet.row(&cells)?;
        }
    }
    Ok(())
}

/// The approved questions from the room: text, upvotes, answered.
fn questions(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    sheet.header(&["question", "upvotes", "answered"])?;
    for q in &report.questions {
        sheet.row(&[
            Cell::Text(&q.text),
            Cell::Number(q.upvotes),
            Cell::Bool(q.answered),
        ])?;
    }
    Ok(())
}

/// What became of the voting cards: issued, used and voted.
fn cards(sheet: &mut Sheet, report: &Report) -> Result<(), XlsxError> {
    let Some(cards) = report.cards else {
        return Ok(());
    };
    sheet.header(&["issued", "used", "voted"])?;
    sheet.row(&[
        Cell::Number(cards.issued),
        Cell::Number(cards.used),
        Cell::Number(cards.voted),
    ])
}

/// A name in the workbook, in Dutch or English.
fn word(lang: Lang, key: &str) -> &'static str {
    let (nl, en) = match key {
        "sheet_rounds" => ("Stemmen per ronde", "Votes per round"),
        "sheet_groups" => ("Groepen", "Groups"),
        "sheet_switches" => ("Wisselingen", "Switches"),
        "sheet_arguments" => ("Argumenten", "Arguments"),
        "sheet_cards" => ("Stemkaarten", "Voting cards"),
        "sheet_questions" => ("Vragen", "Questions"),
        "sheet_map" => ("Meningskaart", "Opinion map"),
        "group_size" => ("Deelnemers in de groep", "Participants in the group"),
        "standout" => ("Over alle groepen", "Across the groups"),
        "question" => ("Vraag", "Question"),
        "answered" => ("Beantwoord", "Answered"),
        "title" => ("Titel", "Title"),
        "meeting" => ("Bijeenkomst", "Meeting"),
        "date" => ("Datum", "Date"),
        "place" => ("Plaats", "Place"),
        "session" => ("Sessie", "Session"),
        "joined" => ("Deelnemers", "Participants"),
        "slide" => ("Dia", "Slide"),
        "statement" => ("Stelling", "Statement"),
        "round" => ("Ronde", "Round"),
        "option" => ("Keuze", "Option"),
        "option_text" => ("Tekst van de keuze", "Option text"),
        "votes" => ("Stemmen", "Votes"),
        "hands" => ("Waarvan met handopsteking", "Of which by show of hands"),
        "percent" => ("Percentage", "Percentage"),
        "voted" => ("Gestemd", "Voted"),
        "group" => ("Groep", "Group"),
        "note" => ("Toelichting", "Note"),
        "from_round" => ("Van ronde", "From round"),
        "to_round" => ("Naar ronde", "To round"),
        "paired" => ("In beide rondes gestemd", "Voted in both rounds"),
        "switched" => ("Kozen anders", "Changed their choice"),
        "first" => ("Eerst", "First"),
        "then" => ("Daarna", "Then"),
        "participants" => ("Deelnemers", "Participants"),
        "argument" => ("Argument", "Argument"),
        "upvotes" => ("Steun", "Upvotes"),
        "highlighted" => ("Uitgelicht", "Highlighted"),
        "issued" => ("Uitgegeven", "Issued"),
        "used" => ("Gebruikt", "Used"),
        _ => ("", ""),
    };
    if lang == Lang::Nl {
        nl
    } else {
        en
    }
}
