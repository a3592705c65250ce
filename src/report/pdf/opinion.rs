//! The opinion map's section of the PDF: the dots as a figure with its alternative
//! text, the groups and what each chose as tables, the consensus and divisive
//! statements, and the method in plain words.

use super::layout::{Column, Draw, Layout, Row, Style, WIDTH};
use crate::core::opinion::SPAN;
use crate::report::fill;
use crate::report::opinion::{method, words, MapReport, GROUP_FILLS};
use crate::wire::protocol::Lang;

/// Side of the map's square, in points.
const SIDE: f32 = 220.0;

/// The map's section.
pub(super) fn section(doc: &mut Layout, map: &MapReport, min_group_size: u64, lang: Lang) {
    let tx = |key| words(lang, key);
    doc.heading(2, tx("title"));
    if let Some(needed) = map.needed {
        let few = fill(
            tx("few"),
            &[
                &map.participants.to_string(),
                &min_group_size.to_string(),
                &needed.to_string(),
            ],
        );
        doc.paragraph(&few, Style::BODY);
        doc.paragraph(&method(lang, min_group_size), Style::BODY);
        return;
    }
    let summary = fill(
        tx("summary"),
        &[
            &map.participants.to_string(),
            &map.groups.len().to_string(),
            &map.explained.to_string(),
        ],
    );
    doc.paragraph(&summary, Style::BODY);
    doc.figure(tx("dots"), SIDE, |x, y| {
        let mut draws = vec![Draw::Rect {
            x,
            y,
            w: SIDE,
            h: SIDE,
            colour: (0xf4, 0xf4, 0xf4),
        }];
        for &(dx, dy, g, n) in &map.dots {
            let r = 1.5 + (n as f32).sqrt().min(4.0);
            let at = |v: i64| 6.0 + v as f32 * (SIDE - 12.0) / SPAN as f32;
            draws.push(Draw::Rect {
                x: x + at(dx) - r,
                y: y + at(dy) - r,
                w: 2.0 * r,
                h: 2.0 * r,
                colour: GROUP_FILLS[g % GROUP_FILLS.len()],
            });
        }
        draws
    });
    tables(doc, map, lang);
    for (key, slides) in [("consensus", &map.consensus), ("divisive", &map.divisive)] {
        doc.heading(3, tx(key));
        if slides.is_empty() {
            doc.paragraph(tx("none"), Style::BODY);
        }
        for slide in slides {
            if let Some(s) = map.statements.iter().find(|s| s.slide == *slide) {
                let line = format!("{}: {}", fill(tx("slide"), &[&slide.to_string()]), s.title);
                doc.paragraph(&line, Style::BODY);
            }
        }
    }
    doc.paragraph(&method(lang, min_group_size), Style::BODY);
}

/// The groups' sizes, and what each chose per statement.
fn tables(doc: &mut Layout, map: &MapReport, lang: Lang) {
    let tx = |key| words(lang, key);
    let group = |g: usize| fill(tx("group"), &[&(g + 1).to_string()]);
    let sizes: Vec<Row> = map
        .groups
        .iter()
        .enumerate()
        .map(|(g, size)| vec![group(g), size.to_string()])
        .collect();
    let two = [
        Column {
            width: 120.0,
            right: false,
        },
        Column {
            width: 90.0,
            right: true,
        },
    ];
    let header = [tx("group_col").to_owned(), tx("size").to_owned()];
    doc.table(tx("sizes"), &two, &header, &sizes);
    let k = map.groups.len();
    let first = WIDTH - 70.0 * k as f32;
    let columns: Vec<Column> = std::iter::once(Column {
        width: first,
        right: false,
    })
    .chain((0..k).map(|_| Column {
        width: 70.0,
        right: true,
    }))
    .collect();
    let mut header = vec![tx("statement").to_owned()];
    header.extend((0..k).map(group));
    let rows: Vec<Row> = map
        .statements
        .iter()
        .map(|s| {
            let name = format!(
                "{}: {}",
                fill(tx("slide"), &[&s.slide.to_string()]),
                s.title
            );
            std::iter::once(name)
                .chain((0..k).map(|g| s.cell(g).unwrap_or_else(|| tx("hidden").to_owned())))
                .collect()
        })
        .collect();
    doc.table(tx("choices"), &columns, &header, &rows);
}
