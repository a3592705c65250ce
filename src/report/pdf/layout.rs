//! A small flow layout for the report's PDF: text wrapped in paragraphs, headings kept
//! with what follows, tables split between rows with their header repeated, figures.
//! Laid out first (so the page count is known for "pagina 3 van 7"), then drawn with
//! krilla, each piece of content marked and hung in a structure tree in reading order.

use std::num::NonZeroU16;
use std::sync::LazyLock;

use krilla::color::rgb;
use krilla::configure::{Accessibility, Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, BBox, ContentTag, Identifier, Node as KNode, SpanTag, TableHeaderScope,
    Tag, TagGroup, TagKind, TagTree,
};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use skrifa::instance::{LocationRef, Size};
use skrifa::MetadataProvider;

/// The width of an A4 page, in points.
pub const PAGE_WIDTH: f32 = 595.28;
/// The height of an A4 page, in points.
pub const PAGE_HEIGHT: f32 = 841.89;
/// Left and right margin: 2 cm.
pub const MARGIN: f32 = 56.7;
/// Top margin.
const TOP: f32 = 56.7;
/// Where the text area ends; the footer sits below it.
const BOTTOM: f32 = PAGE_HEIGHT - 70.0;
/// The width text runs in.
pub const WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// The body text's size, in points.
pub const BODY: f32 = 10.0;
/// A line of body text.
const LEADING: f32 = 1.4;
/// Inner space of a table cell, left and right.
const CELL_PAD: f32 = 4.0;

/// Text colour: near black, as on the HTML report.
pub const INK: Colour = (0x1a, 0x1a, 0x1a);
/// Secondary text (the footer, captions): #555 on white is 7.5:1.
pub const MUTED: Colour = (0x55, 0x55, 0x55);
/// Table rules.
const RULE: Colour = (0xb0, 0xb0, 0xb0);

/// An sRGB colour.
pub type Colour = (u8, u8, u8);

/// Liberation Sans (SIL Open Font License 1.1; assets/fonts/LICENSE-OFL.txt), metric
/// twins of Arial, the face council documents are usually set in. Regular and bold only.
static REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/LiberationSans-Regular.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/LiberationSans-Bold.ttf");

/// The two faces, parsed once: krilla's for drawing, skrifa's for measuring.
struct Faces {
    regular: Face,
    bold: Face,
}

/// One face of the font.
struct Face {
    font: Font,
    measure: skrifa::FontRef<'static>,
    units_per_em: f32,
}

impl Face {
    fn new(data: &'static [u8]) -> Face {
        let font = Font::new(data.into(), 0).expect("the embedded font parses");
        let measure = skrifa::FontRef::new(data).expect("the embedded font parses");
        let units_per_em = f32::from(
            measure
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        Face {
            font,
            measure,
            units_per_em,
        }
    }

    /// Whether the face has a glyph for `c`.
    fn has(&self, c: char) -> bool {
        self.measure.charmap().map(c).is_some()
    }

    /// The width of `text` at `size` points (without kerning, which only narrows it).
    fn width(&self, text: &str, size: f32) -> f32 {
        let charmap = self.measure.charmap();
        let metrics = self
            .measure
            .glyph_metrics(Size::unscaled(), LocationRef::default());
        let units: f32 = text
            .chars()
            .filter_map(|c| charmap.map(c))
            .filter_map(|g| metrics.advance_width(g))
            .sum();
        units / self.units_per_em * size
    }
}

static FACES: LazyLock<Faces> = LazyLock::new(|| Faces {
    regular: Face::new(REGULAR_TTF),
    bold: Face::new(BOLD_TTF),
});

/// Text as the font can set it: a character it has no glyph for (an emoji, a rare
/// script) becomes `?`, control characters a space. PDF/UA forbids the empty glyph.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            '\u{feff}' | '\u{fffe}' | '\u{ad}' => ' ',
            c if FACES.regular.has(c) && FACES.bold.has(c) => c,
            _ => '?',
        })
        .collect()
}

/// How a run of text is set.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub size: f32,
    pub bold: bool,
    pub colour: Colour,
}

impl Style {
    pub const BODY: Style = Style {
        size: BODY,
        bold: false,
        colour: INK,
    };
    pub const STRONG: Style = Style {
        size: BODY,
        bold: true,
        colour: INK,
    };
    pub const SMALL: Style = Style {
        size: 8.5,
        bold: false,
        colour: MUTED,
    };

    fn face(self) -> &'static Face {
        if self.bold {
            &FACES.bold
        } else {
            &FACES.regular
        }
    }

    /// The width of `text` in this style.
    pub fn width(self, text: &str) -> f32 {
        self.face().width(text, self.size)
    }

    fn line(self) -> f32 {
        self.size * LEADING
    }
}

/// `text` broken into lines no wider than `width` (at spaces; a word longer than a
/// line is cut where it must).
pub fn wrap(text: &str, style: Style, width: f32) -> Vec<String> {
    let mut lines = vec![];
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if style.width(&candidate) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the line, cut by characters.
            for c in word.chars() {
                if !line.is_empty() && style.width(&format!("{line}{c}")) > width {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(c);
            }
        }
        lines.push(line);
    }
    lines
}

/// One drawing operation, in page coordinates (points, y down from the top).
#[derive(Debug, Clone)]
pub enum Draw {
    /// Text with its baseline at `y`.
    Text {
        x: f32,
        y: f32,
        style: Style,
        text: String,
    },
    /// A filled rectangle.
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: Colour,
    },
    /// A rectangle hatched with diagonal lines (what was counted by hand), outlined.
    Hatch { x: f32, y: f32, w: f32, h: f32 },
    /// A thin horizontal line.
    Rule { x: f32, y: f32, w: f32 },
}

/// What a piece of content is to a reader.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mark {
    /// Text in the structure tree.
    Text,
    /// A drawing in the structure tree (a figure's).
    Graphic,
    /// Not content: rules, a repeated table header.
    Layout,
}

/// A run of drawing on one page, marked as one piece.
struct Piece {
    page: usize,
    mark: Mark,
    draws: Vec<Draw>,
}

/// The kinds of structure element the report uses.
#[derive(Debug, Clone)]
pub enum Kind {
    Section,
    /// A heading of level 1 to 3, with its text as its title.
    Heading(u16, String),
    P,
    Table,
    Caption,
    THead,
    TBody,
    TR,
    /// A header cell of a column (`true`) or of a row.
    TH(bool),
    TD,
    /// A figure with its alternative text and its box on a page.
    Figure(String, usize, [f32; 4]),
}

/// A node of the structure tree being built.
enum Node {
    Group(Kind, Vec<Node>),
    Piece(usize),
}

/// A table column: its width and whether its cells are right-aligned (numbers).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub width: f32,
    pub right: bool,
}

/// A table's body row: the first cell is the row's header cell.
pub type Row = Vec<String>;

/// A document being laid out.
pub struct Layout {
    pages: usize,
    y: f32,
    pieces: Vec<Piece>,
    stack: Vec<(Kind, Vec<Node>)>,
    root: Vec<Node>,
    /// Bookmarks: text, page and height.
    outline: Vec<(String, usize, f32)>,
}

impl Layout {
    pub fn new() -> Layout {
        Layout {
            pages: 1,
            y: TOP,
            pieces: vec![],
            stack: vec![],
            root: vec![],
            outline: vec![],
        }
    }

    fn page(&self) -> usize {
        self.pages - 1
    }

    /// Starts a new page if less than `height` is left on this one.
    pub fn need(&mut self, height: f32) {
        if self.y + height > BOTTOM && self.y > TOP {
            self.pages += 1;
            self.y = TOP;
        }
    }

    /// Leaves vertical space (not past the page's end).
    pub fn space(&mut self, height: f32) {
        self.y = (self.y + height).min(BOTTOM);
    }

    /// Opens a structure element; what follows until [`Layout::close`] is in it.
    pub fn open(&mut self, kind: Kind) {
        self.stack.push((kind, vec![]));
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        let (kind, children) = self.stack.pop().expect("an open element");
        self.attach(Node::Group(kind, children));
    }

    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some((_, children)) => children.push(node),
            None => self.root.push(node),
        }
    }

    /// A piece of content in the current element.
    fn piece(&mut self, mark: Mark, draws: Vec<Draw>) {
        let page = self.page();
        let index = self.pieces.len();
        self.pieces.push(Piece { page, mark, draws });
        if mark != Mark::Layout {
            self.attach(Node::Piece(index));
        }
    }

    /// Lines of text at `x`, each its own piece, in the current element.
    fn lines(&mut self, x: f32, lines: &[String], style: Style) {
        for line in lines {
            self.need(style.line());
            self.y += style.line();
            let baseline = self.y - style.line() * 0.28;
            if !line.is_empty() {
                let draw = Draw::Text {
                    x,
                    y: baseline,
                    style,
                    text: line.clone(),
                };
                self.piece(Mark::Text, vec![draw]);
            }
        }
    }

    /// A paragraph.
    pub fn paragraph(&mut self, text: &str, style: Style) {
        let lines = wrap(&printable(text), style, WIDTH);
        self.open(Kind::P);
        self.lines(MARGIN, &lines, style);
        self.close();
        self.space(style.size * 0.5);
    }

    /// A heading, kept on a page with `keep` points of what follows; a level-2 heading
    /// is also a bookmark.
    pub fn heading(&mut self, level: u16, text: &str) {
        let size = match level {
            1 => 20.0,
            2 => 14.0,
            _ => 11.5,
        };
        let style = Style {
            size,
            bold: true,
            colour: INK,
        };
        let text = printable(text);
        let lines = wrap(&text, style, WIDTH);
        let keep = style.line() * lines.len() as f32 + 80.0;
        self.space(if level == 1 { 0.0 } else { size * 0.6 });
        self.need(keep);
        if level == 2 {
            self.outline.push((text.clone(), self.page(), self.y));
        }
        self.open(Kind::Heading(level, text));
        self.lines(MARGIN, &lines, style);
        self.close();
        self.space(size * 0.3);
    }

    /// A figure `height` high drawn by `draw` from the top left of its box, with its
    /// alternative text.
    pub fn figure(&mut self, alt: &str, height: f32, draw: impl FnOnce(f32, f32) -> Vec<Draw>) {
        self.need(height);
        let top = self.y;
        let bbox = [MARGIN, top, WIDTH, height];
        self.open(Kind::Figure(printable(alt), self.page(), bbox));
        let draws = draw(MARGIN, top);
        self.piece(Mark::Graphic, draws);
        self.close();
        self.y += height;
        self.space(BODY * 0.6);
    }

    /// A table with a caption, a header row and body rows whose first cell heads the
    /// row. Split between rows at a page's end, the header drawn again on the next.
    pub fn table(&mut self, caption: &str, columns: &[Column], header: &[String], rows: &[Row]) {
        let caption_lines = wrap(&printable(caption), Style::STRONG, WIDTH);
        let head_style = Style::STRONG;
        let cells = |row: &[String], style: Style| -> Vec<Vec<String>> {
            row.iter()
                .zip(columns)
                .map(|(text, c)| wrap(&printable(text), style, c.width - 2.0 * CELL_PAD))
                .collect()
        };
        let height = |cells: &[Vec<String>], style: Style| {
            cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * style.line() + 4.0
        };
        let head_cells = cells(header, head_style);
        let head_height = height(&head_cells, head_style);
        let first_row = rows
            .first()
            .map_or(0.0, |r| height(&cells(r, Style::BODY), Style::BODY));
        self.need(Style::STRONG.line() * caption_lines.len() as f32 + head_height + first_row);
        self.open(Kind::Table);
        self.open(Kind::Caption);
        self.lines(MARGIN, &caption_lines, Style::STRONG);
        self.close();
        self.open(Kind::THead);
        self.row(columns, &head_cells, head_style, head_height, true);
        self.close();
        self.open(Kind::TBody);
        for row in rows {
            let body = cells(row, Style::BODY);
            let h = height(&body, Style::BODY);
            if self.y + h > BOTTOM {
                self.pages += 1;
                self.y = TOP;
                self.row_again(columns, &head_cells, head_style, head_height);
            }
            self.row(columns, &body, Style::BODY, h, false);
        }
        self.close();
        self.close();
        self.space(BODY * 0.8);
    }

    /// One row of cells at the current height, a rule below it.
    fn row(&mut self, columns: &[Column], cells: &[Vec<String>], style: Style, h: f32, head: bool) {
        self.open(Kind::TR);
        let top = self.y;
        let mut x = MARGIN;
        for (i, (lines, column)) in cells.iter().zip(columns).enumerate() {
            self.open(if head {
                Kind::TH(true)
            } else if i == 0 {
                Kind::TH(false)
            } else {
                Kind::TD
            });
            let style = if i == 0 && !head {
                Style::STRONG
            } else {
                style
            };
            self.y = top + 2.0;
            for line in lines {
                self.y += style.line();
                if line.is_empty() {
                    continue;
                }
                let lx = if column.right {
                    x + column.width - CELL_PAD - style.width(line)
                } else {
                    x + CELL_PAD
                };
                let draw = Draw::Text {
                    x: lx,
                    y: self.y - style.line() * 0.28,
                    style,
                    text: line.clone(),
                };
                self.piece(Mark::Text, vec![draw]);
            }
            self.close();
            x += column.width;
        }
        self.close();
        self.y = top + h;
        let w = columns.iter().map(|c| c.width).sum();
        let thick = if head { 2 } else { 1 };
        let rules = (0..thick)
            .map(|k| Draw::Rule {
                x: MARGIN,
                y: self.y - k as f32 * 0.6,
                w,
            })
            .collect();
        self.piece(Mark::Layout, rules);
    }

    /// A table's header drawn again at the top of a page, outside the structure tree
    /// (a reader has it once).
    fn row_again(&mut self, columns: &[Column], cells: &[Vec<String>], style: Style, h: f32) {
        let top = self.y;
        let mut draws = vec![];
        let mut x = MARGIN;
        for (lines, column) in cells.iter().zip(columns) {
            let mut y = top + 2.0;
            for line in lines {
                y += style.line();
                let lx = if column.right {
                    x + column.width - CELL_PAD - style.width(line)
                } else {
                    x + CELL_PAD
                };
                draws.push(Draw::Text {
                    x: lx,
                    y: y - style.line() * 0.28,
                    style,
                    text: line.clone(),
                });
            }
            x += column.width;
        }
        self.y = top + h;
        let w = columns.iter().map(|c| c.width).sum();
        draws.push(Draw::Rule {
            x: MARGIN,
            y: self.y,
            w,
        });
        self.piece(Mark::Layout, draws);
    }

    /// The document as PDF/A-2a and PDF/UA-1: `title` and `lang` in its metadata,
    /// `footer(page, pages)` at the foot of every page, the level-2 headings as
    /// bookmarks. Fails if krilla finds the file would not conform.
    pub fn finish(
        self,
        meta: Metadata,
        lang: &str,
        footer: impl Fn(usize, usize) -> String,
    ) -> Result<Vec<u8>, String> {
        let configuration = ConfigurationBuilder::new()
            .with_archival_validator(Archival::A2_A)
            .with_accessibility_validator(Accessibility::UA1)
            .finish()
            .map_err(|e| format!("{e:?}"))?;
        let settings = SerializeSettings {
            configuration,
            enable_tagging: true,
            ..SerializeSettings::default()
        };
        let mut document = Document::new_with(settings);
        let mut ids: Vec<Option<Identifier>> = Vec::with_capacity(self.pieces.len());
        let page_size = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).expect("A4 is a size");
        let mut pieces = self.pieces.iter().peekable();
        for page in 0..self.pages {
            let mut p = document.start_page_with(page_size.clone());
            let mut surface = p.surface();
            while let Some(piece) = pieces.next_if(|piece| piece.page == page) {
                let tag = match piece.mark {
                    Mark::Text => ContentTag::Span(SpanTag::empty()),
                    Mark::Graphic => ContentTag::Other,
                    Mark::Layout => ContentTag::Artifact(Artifact::with_kind(ArtifactType::Layout)),
                };
                let id = surface.start_tagged(tag);
                for draw in &piece.draws {
                    paint(&mut surface, draw);
                }
                surface.end_tagged();
                ids.push((piece.mark != Mark::Layout).then_some(id));
            }
            surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::Footer,
            )));
            let text = printable(&footer(page + 1, self.pages));
            let x = PAGE_WIDTH - MARGIN - Style::SMALL.width(&text);
            paint(
                &mut surface,
                &Draw::Rule {
                    x: MARGIN,
                    y: BOTTOM + 22.0,
                    w: WIDTH,
                },
            );
            paint(
                &mut surface,
                &Draw::Text {
                    x,
                    y: BOTTOM + 36.0,
                    style: Style::SMALL,
                    text,
                },
            );
            surface.end_tagged();
            surface.finish();
            p.finish();
        }
        let mut tree = TagTree::new().with_lang(Some(lang.to_owned()));
        let mut ids: Vec<Option<Identifier>> = ids;
        for node in self.root {
            if let Some(node) = tagged(node, &mut ids) {
                tree.push(node);
            }
        }
        document.set_tag_tree(tree);
        let mut outline = Outline::new();
        for (text, page, y) in self.outline {
            let at = krilla::destination::XyzDestination::new(page, Point::from_xy(MARGIN, y));
            outline.push_child(OutlineNode::new(text, at));
        }
        document.set_outline(outline);
        document.set_metadata(meta);
        document.finish().map_err(|e| format!("{e:?}"))
    }
}

/// Our node as krilla's, its pieces replaced by their marked content.
fn tagged(node: Node, ids: &mut [Option<Identifier>]) -> Option<KNode> {
    match node {
        Node::Piece(i) => ids[i].take().map(KNode::Leaf),
        Node::Group(kind, children) => {
            let children: Vec<KNode> = children
                .into_iter()
                .filter_map(|c| tagged(c, ids))
                .collect();
            let tag: TagKind = match kind {
                Kind::Section => Tag::Section.into(),
                Kind::Heading(level, title) => {
                    let level = NonZeroU16::new(level).unwrap_or(NonZeroU16::MIN);
                    Tag::Hn(level, Some(title)).into()
                }
                Kind::P => Tag::P.into(),
                Kind::Table => Tag::Table.into(),
                Kind::Caption => Tag::Caption.into(),
                Kind::THead => Tag::THead.into(),
                Kind::TBody => Tag::TBody.into(),
                Kind::TR => Tag::TR.into(),
                Kind::TH(column) => Tag::TH(if column {
                    TableHeaderScope::Column
                } else {
                    TableHeaderScope::Row
                })
                .into(),
                Kind::TD => Tag::TD.into(),
                Kind::Figure(alt, page, [x, y, w, h]) => {
                    let rect = Rect::from_xywh(x, y, w, h).map(|r| BBox::new(page, r));
                    Tag::Figure(Some(alt)).with_bbox(rect).into()
                }
            };
            // krilla drops an element without children; the report leaves no cell
            // empty ("–" where there is nothing), so a table keeps its shape.
            (!children.is_empty()).then(|| KNode::Group(TagGroup::with_children(tag, children)))
        }
    }
}

fn fill(colour: Colour) -> Fill {
    Fill {
        paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
        ..Fill::default()
    }
}

/// Draws one operation.
fn paint(surface: &mut Surface, draw: &Draw) {
    match draw {
        Draw::Text { x, y, style, text } => {
            surface.set_fill(Some(fill(style.colour)));
            surface.set_stroke(None);
            surface.draw_text(
                Point::from_xy(*x, *y),
                style.face().font.clone(),
                style.size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        Draw::Rect { x, y, w, h, colour } => {
            if let Some(path) = rect(*x, *y, *w, *h) {
                surface.set_stroke(None);
                surface.set_fill(Some(fill(*colour)));
                surface.draw_path(&path);
            }
        }
        Draw::Hatch { x, y, w, h } => hatch(surface, *x, *y, *w, *h),
        Draw::Rule { x, y, w } => {
            if let Some(path) = rect(*x, *y - 0.25, *w, 0.5) {
                surface.set_stroke(None);
                surface.set_fill(Some(fill(RULE)));
                surface.draw_path(&path);
            }
        }
    }
}

fn rect(x: f32, y: f32, w: f32, h: f32) -> Option<krilla::geom::Path> {
    let mut path = PathBuilder::new();
    path.push_rect(Rect::from_xywh(x, y, w.max(0.01), h.max(0.01))?);
    path.finish()
}

/// White under black diagonal stripes, clipped to the box, and an outline: the part
/// of a bar counted by hand, told apart without colour.
fn hatch(surface: &mut Surface, x: f32, y: f32, w: f32, h: f32) {
    let Some(clip) = rect(x, y, w, h) else {
        return;
    };
    surface.set_stroke(None);
    surface.set_fill(Some(fill((0xff, 0xff, 0xff))));
    surface.draw_path(&clip);
    surface.push_clip_path(&clip, &krilla::paint::FillRule::NonZero);
    let mut stripes = PathBuilder::new();
    let mut k = -h;
    while k < w {
        stripes.move_to(x + k, y + h);
        stripes.line_to(x + k + h, y);
        k += 3.5;
    }
    if let Some(stripes) = stripes.finish() {
        stroke(surface, &stripes, 1.2);
    }
    surface.pop();
    stroke(surface, &clip, 0.6);
}

/// Draws the outline of `path` in ink, `width` points wide.
fn stroke(surface: &mut Surface, path: &krilla::geom::Path, width: f32) {
    surface.set_fill(None);
    surface.set_stroke(Some(Stroke {
        paint: rgb::Color::new(INK.0, INK.1, INK.2).into(),
        width,
        ..Stroke::default()
    }));
    surface.draw_path(path);
    surface.set_stroke(None);
}
