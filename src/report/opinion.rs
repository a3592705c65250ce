//! The opinion map in the report: the groups, what each chose per statement, the
//! consensus and divisive statements, the dots as an SVG, and the method in plain words.

use maud::{html, Markup};
use serde::Serialize;

use super::{fill, Suppressed};
use crate::core::deck::{option_name, Deck};
use crate::core::opinion::{Choice, Outcome, CONSENSUS_PERCENT, DIVISIVE_POINTS, SPAN};
use crate::wire::protocol::Lang;

/// The opinion map as the report keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct MapReport {
    /// Participants who voted on the statements (all of them on the map when there is
    /// one).
    pub participants: u64,
    /// The fewest two groups need, when there were too few for a map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed: Option<u64>,
    /// Participants per group, largest first; empty when there is no map.
    pub groups: Vec<u64>,
    /// The statements the map rests on, with what each group chose.
    pub statements: Vec<MapStatementReport>,
    /// Slide numbers (from 1) of the consensus statements, strongest first.
    pub consensus: Vec<usize>,
    /// Slide numbers (from 1) of the divisive statements, most divided first.
    pub divisive: Vec<usize>,
    /// The share of the differences the map shows, in percent.
    pub explained: u64,
    /// The participants as dots: `[x, y, group, n]` from 0 to 1000.
    pub dots: Vec<(i64, i64, usize, u64)>,
    /// How the map was made, in Dutch (the page and the PDF say it in the reader's
    /// language).
    pub method: String,
}

/// One statement under the map.
#[derive(Debug, Clone, Serialize)]
pub struct MapStatementReport {
    /// The slide's number, from 1.
    pub slide: usize,
    pub title: String,
    pub options: Vec<String>,
    /// Whether it is a scale (its options are named 1, 2, …).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub scale: bool,
    /// Per group, percentages per option; `None` where too few of the group voted.
    pub percents: Vec<Option<Vec<u64>>>,
    /// Per group, the option it chose most and its percentage; `None` as `percents`.
    pub chosen: Vec<Option<Choice>>,
    /// Per group, why its cell is hidden (`None` where it is shown).
    pub suppressed: Vec<Option<Suppressed>>,
}

impl MapStatementReport {
    /// The group's most chosen option and its percentage (as the map computed them),
    /// as "A 80%".
    pub(super) fn cell(&self, group: usize) -> Option<String> {
        let chosen = (*self.chosen.get(group)?)?;
        Some(format!(
            "{} {}%",
            option_name(self.scale, chosen.option),
            chosen.percent
        ))
    }
}

/// The report's map from a computed outcome; `None` when fewer than two statements
/// have votes.
pub fn opinion_map(deck: &Deck, outcome: &Outcome) -> Option<MapReport> {
    let method = method(Lang::Nl, deck.min_group_size);
    match outcome {
        Outcome::FewStatements => None,
        Outcome::FewParticipants {
            participants,
            needed,
        } => Some(MapReport {
            participants: *participants,
            needed: Some(*needed),
            groups: vec![],
            statements: vec![],
            consensus: vec![],
            divisive: vec![],
            explained: 0,
            dots: vec![],
            method,
        }),
        Outcome::Map(map) => Some(MapReport {
            participants: map.participants,
            needed: None,
            groups: map.groups.iter().map(|g| g.size).collect(),
            statements: map
                .splits
                .iter()
                .map(|s| MapStatementReport {
                    slide: s.slide + 1,
                    title: deck.slides[s.slide].full_title.clone(),
                    options: deck.options(s.slide).unwrap_or_default().to_vec(),
                    scale: deck.slides[s.slide].scale,
                    percents: s.groups.iter().map(|g| g.percents.clone()).collect(),
                    chosen: s.groups.iter().map(|g| g.chosen).collect(),
                    suppressed: s.groups.iter().map(|g| g.suppressed).collect(),
                })
                .collect(),
            consensus: map.consensus.iter().map(|s| s + 1).collect(),
            divisive: map.divisive.iter().map(|s| s + 1).collect(),
            explained: map.explained,
            dots: map.dots.iter().map(|d| (d.x, d.y, d.group, d.n)).collect(),
            method,
        }),
    }
}

/// The method in plain words, in `lang`.
pub(super) fn method(lang: Lang, min_group_size: u64) -> String {
    let min = min_group_size.to_string();
    let (consensus, divisive) = (CONSENSUS_PERCENT.to_string(), DIVISIVE_POINTS.to_string());
    if lang == Lang::Nl {
        format!(
            "Hoe de kaart is gemaakt. Per deelnemer telt de laatste keuze op elke stelling: \
             A is +1 en B is −1, een schaal loopt in gelijke stappen van +1 tot −1, bij drie \
             of meer opties telt elke optie apart, en niet gestemd is 0. Uit al die keuzes \
             zoekt de computer de twee richtingen waarin deelnemers het meest van elkaar \
             verschillen (hoofdcomponentenanalyse); elke stip op de kaart is een deelnemer \
             op die twee richtingen, zonder naam. Dan deelt hij de deelnemers in 2 tot 5 \
             groepen van mensen die dicht bij elkaar staan (k-means) en kiest het aantal \
             groepen waarbij de groepen het duidelijkst van elkaar gescheiden zijn \
             (silhouet: hoeveel dichter elke deelnemer bij het midden van de eigen groep \
             staat dan bij het midden van de naaste andere groep, gemiddeld over allen). \
             Een groep met minder dan {min} deelnemers wordt bij de dichtstbijzijnde \
             groep gevoegd; zo is niemand apart te herkennen. Dezelfde stemmen geven altijd \
             dezelfde kaart: er zit geen toeval in. Een stelling is gedeeld (consensus) als \
             elke groep voor minstens {consensus}% dezelfde keuze maakte als de zaal; \
             verdelend als twee groepen {divisive} procentpunten of meer van elkaar \
             verschillen. De kaart laat zien wie op elkaar lijkt in deze stemmen, niet waarom."
        )
    } else {
        format!(
            "How the map was made. For each participant its last choice on every statement \
             counts: A is +1 and B is −1, a scale runs in equal steps from +1 to −1, with \
             three or more options each option counts apart, and no vote is 0. From all those \
             choices the computer finds the two directions in which participants differ most \
             (principal component analysis); each dot on the map is a participant on those \
             two directions, without a name. It then divides the participants into 2 to 5 \
             groups of people who stand close together (k-means) and picks the number of \
             groups that keeps them most clearly apart (silhouette: how much closer each \
             participant stands to the middle of its own group than to the middle of the \
             nearest other group, averaged over all). A group of fewer than \
             {min} participants is merged into the nearest group, so nobody can be singled \
             out. The same votes always give the same map: nothing in it is random. A \
             statement is shared (consensus) when every group made the room's choice by at \
             least {consensus}%; divisive when two groups differ by {divisive} percentage \
             points or more. The map shows who is alike in these votes, not why."
        )
    }
}

/// A sentence of the map's part of the report in `lang`.
pub(super) fn words(lang: Lang, key: &str) -> &'static str {
    let nl = lang == Lang::Nl;
    match key {
        "title" if nl => "Meningskaart",
        "title" => "Opinion map",
        "few" if nl => "Te weinig deelnemers voor een kaart: {a} stemden, groepen van minstens {b} vragen er {c}.",
        "few" => "Too few participants for a map: {a} voted, groups of at least {b} need {c}.",
        "summary" if nl => "{a} deelnemers in {b} groepen. De twee richtingen van de kaart tonen {c}% van de verschillen.",
        "summary" => "{a} participants in {b} groups. The map's two directions show {c}% of the differences.",
        "group" if nl => "Groep {a}",
        "group" => "Group {a}",
        "sizes" if nl => "Groepen en hun grootte",
        "sizes" => "Groups and their size",
        "group_col" if nl => "Groep",
        "group_col" => "Group",
        "size" if nl => "Deelnemers",
        "size" => "Participants",
        "choices" if nl => "Wat elke groep koos (meest gekozen optie en aandeel)",
        "choices" => "What each group chose (most chosen option and share)",
        "statement" if nl => "Stelling",
        "statement" => "Statement",
        "hidden" if nl => "te weinig stemmen",
        "hidden" => "too few votes",
        "consensus" if nl => "Gedeeld door alle groepen",
        "consensus" => "Shared by all groups",
        "divisive" if nl => "Verdeelt de groepen",
        "divisive" => "Divides the groups",
        "none" if nl => "geen",
        "none" => "none",
        "dots" if nl => "Kaart met een stip per deelnemer, gekleurd per groep; de tabellen hieronder geven dezelfde groepen in cijfers.",
        "dots" => "Map with a dot per participant, coloured by group; the tables below give the same groups in numbers.",
        "slide" if nl => "dia {a}",
        "slide" => "slide {a}",
        _ => "",
    }
}

/// The groups' colours: told apart in colour and in grey print, each with at least 3:1
/// contrast on white.
pub(super) const GROUP_FILLS: [(u8, u8, u8); 5] = [
    (0x1f, 0x4e, 0x8c),
    (0xb3, 0x4a, 0x00),
    (0x2e, 0x7d, 0x32),
    (0x7b, 0x1f, 0xa2),
    (0x55, 0x55, 0x55),
];

/// The map's section of the HTML report.
pub(super) fn html(map: &MapReport, min_group_size: u64, lang: Lang) -> Markup {
    let tx = |key| words(lang, key);
    let group = |g: usize| fill(tx("group"), &[&(g + 1).to_string()]);
    html! {
        section class="opinion-map" {
            h2 { (tx("title")) }
            @if let Some(needed) = map.needed {
                p { (fill(tx("few"), &[&map.participants.to_string(), &min_group_size.to_string(), &needed.to_string()])) }
            } @else {
                p { (fill(tx("summary"), &[&map.participants.to_string(), &map.groups.len().to_string(), &map.explained.to_string()])) }
                (svg(map, lang))
                table {
                    caption { (tx("sizes")) }
                    thead { tr { th scope="col" { (tx("group_col")) } th scope="col" { (tx("size")) } } }
                    tbody {
                        @for (g, size) in map.groups.iter().enumerate() {
                            tr { th scope="row" { (group(g)) } td { (size) } }
                        }
                    }
                }
                table {
                    caption { (tx("choices")) }
                    thead {
                        tr {
                            th scope="col" { (tx("statement")) }
                            @for g in 0..map.groups.len() { th scope="col" { (group(g)) } }
                        }
                    }
                    tbody {
                        @for s in &map.statements {
                            tr {
                                th scope="row" { (fill(tx("slide"), &[&s.slide.to_string()])) ": " (s.title) }
                                @for g in 0..map.groups.len() {
                                    td { (s.cell(g).unwrap_or_else(|| tx("hidden").to_owned())) }
                                }
                            }
                        }
                    }
                }
                (standouts(map, "consensus", &map.consensus, lang))
                (standouts(map, "divisive", &map.divisive, lang))
            }
            p { (method(lang, min_group_size)) }
        }
    }
}

fn standouts(map: &MapReport, key: &str, slides: &[usize], lang: Lang) -> Markup {
    html! {
        h3 { (words(lang, key)) }
        @if slides.is_empty() {
            p { (words(lang, "none")) }
        } @else {
            ul {
                @for slide in slides {
                    @if let Some(s) = map.statements.iter().find(|s| s.slide == *slide) {
                        li { (fill(words(lang, "slide"), &[&slide.to_string()])) ": " (s.title) }
                    }
                }
            }
        }
    }
}

/// The dots as inline SVG, coloured by group, drawn with attributes only (the page
/// allows no inline style); the tables after it give the same as text.
fn svg(map: &MapReport, lang: Lang) -> Markup {
    let size = 400;
    let scale = |v: i64| 10 + v * (size - 20) / SPAN;
    html! {
        svg class="opinion-map-dots" role="img" aria-label=(words(lang, "dots"))
            viewBox={ "0 0 " (size) " " (size) } width=(size) height=(size)
            xmlns="http://www.w3.org/2000/svg" {
            rect x="0" y="0" width=(size) height=(size) fill="#ffffff" stroke="#767676" {}
            @for &(x, y, g, n) in &map.dots {
                @let (r, gr, b) = GROUP_FILLS[g % GROUP_FILLS.len()];
                circle cx=(scale(x)) cy=(scale(y)) r=(format!("{:.1}", 3.0 + (n as f64).sqrt()))
                    fill=(format!("#{r:02x}{gr:02x}{b:02x}")) fill-opacity="0.8" {}
            }
        }
    }
}
