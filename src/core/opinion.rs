//! The opinion map: which groups of like-minded participants the votes show.
//!
//! Pure and deterministic: the same votes give the same map, whatever order the
//! participants joined in or the statements stand in. The method, in the order it runs
//! (`docs/ARCHITECTURE.md`, "The opinion map", says it in words):
//!
//! 1. A matrix of participants × statements from each participant's choice in the last
//!    round it voted in. A/B is +1 and −1, a scale runs evenly from +1 (its first point)
//!    to −1 (its last), a statement of three or more options is one column per option
//!    (1 for the chosen one), and no vote is 0. Internally every value is multiplied by
//!    [`UNIT`], so the sums are exact integers.
//! 2. Principal component analysis: the two directions in which the votes differ most
//!    (the covariance matrix's top eigenvectors, by `nalgebra`), each participant a dot
//!    on them: the picture.
//! 3. k-means for k = 2 to 5 on the votes themselves (all statements, in exact integer
//!    arithmetic), started from participants far apart (no random start, so nothing to
//!    seed); a group smaller than the deck's `min_group_size` is merged into the
//!    nearest one. Of these, the grouping with the highest mean silhouette (measured to
//!    the groups' centres) is shown. The groups are found on the votes, not on the two
//!    directions: where two directions are equally strong, which one the picture shows
//!    is arbitrary, and the groups must not depend on it (nor on the order of the
//!    statements).
//!
//! Then per group and statement what the group chose, as percentages by
//! [`tally::percents`]; the consensus statements (every group chose the room's most
//! chosen option) and the divisive ones (groups far apart).

use std::collections::{BTreeMap, HashMap};

use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};

use crate::core::ids::ParticipantId;
use crate::core::session::Session;
use crate::core::tally::{self, Suppressed};

/// A vote's value on its column: ±1 scaled to an integer, so that a 5-point scale
/// (steps of ½) and a 7-point one (steps of ⅓) are whole numbers too, and every sum
/// is exact and independent of the order it is added in.
pub const UNIT: i64 = 6;

/// The fewest and most groups the map looks for: one group is no map, and more than
/// five cannot be told apart on a projector from the back of the room.
pub const GROUPS: std::ops::RangeInclusive<usize> = 2..=5;

/// The most rounds of k-means: it settles in a handful on voting data with groups in
/// it; votes with no groups at all (every choice alike likely) keep moving a few
/// participants between groups that mean nothing, and the bound stops that within the
/// time budget (docs/PERFORMANCE.md, "The opinion map").
const MAX_ITERATIONS: usize = 20;

/// A statement is a consensus statement when every group chose the room's most chosen
/// option by at least this percentage.
pub const CONSENSUS_PERCENT: u64 = 60;

/// A statement is divisive when two groups' percentages for one option lie at least this
/// many points apart.
pub const DIVISIVE_POINTS: u64 = 30;

/// Most consensus and most divisive statements listed: what a screen can show beside
/// the map.
pub const LISTED: usize = 3;

/// The extent of the map's drawing coordinates: 0 to `SPAN` on both axes.
pub const SPAN: i64 = 1000;

/// One statement the map rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The statement's slide index.
    pub slide: usize,
    /// Its number of options (points, on a scale).
    pub options: usize,
    /// Whether it is a scale.
    pub scale: bool,
}

impl Column {
    /// An A/B statement on slide `slide`.
    pub fn ab(slide: usize) -> Column {
        Column {
            slide,
            options: 2,
            scale: false,
        }
    }
}

/// A snapshot of the votes, cheap to take from a session and then computed elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Votes {
    /// The statements with votes, in slide order.
    pub columns: Vec<Column>,
    /// Each participant with a vote on any of them: its choice per column.
    pub rows: Vec<(ParticipantId, Vec<Option<u8>>)>,
    /// The deck's `min_group_size`.
    pub min_group_size: u64,
}

/// The votes the map is computed from: per statement with votes, each participant's
/// choice in the last round it voted in.
pub fn votes(session: &Session) -> Votes {
    let slides = session.statements_with_votes();
    let mut rows: HashMap<ParticipantId, Vec<Option<u8>>> = HashMap::new();
    let mut columns = Vec::with_capacity(slides.len());
    for (c, &slide) in slides.iter().enumerate() {
        let statement = session.statement(slide).expect("a statement with votes");
        let options = statement.current().counts.len();
        for round in &statement.rounds {
            for (participant, &option) in &round.votes {
                let row = rows
                    .entry(*participant)
                    .or_insert_with(|| vec![None; slides.len()]);
                row[c] = Some(option as u8);
            }
        }
        columns.push(Column {
            slide,
            options,
            scale: session.deck().slides[slide].scale,
        });
    }
    Votes {
        columns,
        rows: rows.into_iter().collect(),
        min_group_size: session.deck().min_group_size,
    }
}

/// The map, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Fewer than two statements have votes.
    FewStatements,
    /// Too few participants voted for two groups of `min_group_size`.
    FewParticipants {
        /// Participants with a vote.
        participants: u64,
        /// The fewest that two groups need.
        needed: u64,
    },
    /// The groups found.
    Map(Map),
}

/// The groups found and what sets them apart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Map {
    /// Participants on the map.
    pub participants: u64,
    /// The statements' slides, in slide order.
    pub slides: Vec<usize>,
    /// The groups, largest first (group 1 is the largest).
    pub groups: Vec<Group>,
    /// The participants as dots: where identical positions meet, one dot with a count.
    pub dots: Vec<Dot>,
    /// Per statement (as `slides`), what each group chose.
    pub splits: Vec<Split>,
    /// Slides of the consensus statements, strongest first (at most [`LISTED`]).
    pub consensus: Vec<usize>,
    /// Slides of the divisive statements, most divided first (at most [`LISTED`]).
    pub divisive: Vec<usize>,
    /// The share of the differences between participants the two directions show, in
    /// percent of all (by [`tally::percent`]).
    pub explained: u64,
    /// The mean silhouette of the chosen grouping, in hundredths (−100 to 100).
    pub silhouette: i64,
    /// Each participant's group (an index into `groups`); never sent to anyone whole.
    #[serde(skip)]
    pub assignment: HashMap<ParticipantId, usize>,
}

/// One group of participants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Participants in it (at least the deck's `min_group_size`).
    pub size: u64,
    /// Its centre in drawing coordinates (0 to [`SPAN`]).
    pub x: i64,
    pub y: i64,
}

/// Participants at one spot of the map, in drawing coordinates (0 to [`SPAN`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dot {
    pub x: i64,
    pub y: i64,
    /// The group, an index into [`Map::groups`].
    pub group: usize,
    /// How many participants stand here.
    pub n: u64,
}

/// What the groups chose on one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    /// The statement's slide.
    pub slide: usize,
    /// The room's (the map's participants') most chosen option.
    pub top: usize,
    /// Per group, in the order of [`Map::groups`].
    pub groups: Vec<GroupChoice>,
}

/// One group's votes on one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChoice {
    /// Votes per option; `None` when suppressed.
    pub counts: Option<Vec<u64>>,
    /// `counts` as percentages; `None` when suppressed.
    pub percents: Option<Vec<u64>>,
    /// The option the group chose most and its percentage; `None` when suppressed.
    pub chosen: Option<Choice>,
    /// Why the counts are absent (fewer than `min_group_size` of the group voted on
    /// this statement, or its complement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// A group's most chosen option on a statement, with its percentage: the one place this
/// is decided, for the screen, the report and the exports alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// The option (0 is A, or a scale's first point).
    pub option: usize,
    /// Its percentage of the group's votes on the statement.
    pub percent: u64,
}

impl Choice {
    /// The most chosen of `counts` with its percentage in `percents`; on equal counts
    /// the one with the higher percentage (the rounding's), then the first.
    pub fn of(counts: &[u64], percents: &[u64]) -> Option<Choice> {
        let option =
            (0..counts.len()).max_by_key(|&o| (counts[o], percents[o], std::cmp::Reverse(o)))?;
        Some(Choice {
            option,
            percent: percents[option],
        })
    }
}

/// Computes the map of `votes`. Takes a few milliseconds for thousands of
/// participants: run it off the session's task.
pub fn compute(votes: &Votes) -> Outcome {
    if votes.columns.len() < 2 {
        return Outcome::FewStatements;
    }
    let participants = votes.rows.len() as u64;
    let needed = 2 * votes.min_group_size.max(1);
    if participants < needed {
        return Outcome::FewParticipants {
            participants,
            needed,
        };
    }
    let patterns = Patterns::new(votes);
    let (coords, explained) = components(&patterns);
    let Some(grouping) = best_grouping(&patterns, votes.min_group_size) else {
        return Outcome::FewParticipants {
            participants,
            needed,
        };
    };
    Outcome::Map(describe(votes, &patterns, &coords, grouping, explained))
}

/// The participants' vote patterns, each once with how many share it, in a canonical
/// order (so the participants' order cannot matter).
struct Patterns {
    /// Expanded columns (one per option of a statement with three or more options).
    values: Vec<Vec<i64>>,
    weights: Vec<i64>,
    /// Per row of the votes, its pattern.
    of_row: Vec<usize>,
}

impl Patterns {
    fn new(votes: &Votes) -> Patterns {
        let mut index: BTreeMap<Vec<i64>, Vec<usize>> = BTreeMap::new();
        for (r, (_, choices)) in votes.rows.iter().enumerate() {
            index
                .entry(encode(&votes.columns, choices))
                .or_default()
                .push(r);
        }
        let mut of_row = vec![0; votes.rows.len()];
        let mut values = Vec::with_capacity(index.len());
        let mut weights = Vec::with_capacity(index.len());
        for (p, (value, rows)) in index.into_iter().enumerate() {
            for r in &rows {
                of_row[*r] = p;
            }
            values.push(value);
            weights.push(rows.len() as i64);
        }
        Patterns {
            values,
            weights,
            of_row,
        }
    }
}

/// One participant's choices as a row of the matrix (see the module's step 1).
fn encode(columns: &[Column], choices: &[Option<u8>]) -> Vec<i64> {
    let mut row = Vec::with_capacity(columns.len());
    for (column, choice) in columns.iter().zip(choices) {
        let choice = choice.map(|c| c as i64);
        if column.scale || column.options == 2 {
            let last = column.options as i64 - 1;
            // From +UNIT at the first option to −UNIT at the last, in equal steps.
            row.push(choice.map_or(0, |c| UNIT - 2 * UNIT * c / last));
        } else {
            row.extend((0..column.options as i64).map(|o| UNIT * i64::from(choice == Some(o))));
        }
    }
    row
}

/// Each pattern's place on the first two principal components, and the share of the
/// variance they hold in percent.
fn components(patterns: &Patterns) -> (Vec<[f64; 2]>, u64) {
    let d = patterns.values[0].len();
    let n: i64 = patterns.weights.iter().sum();
    let mut sums = vec![0i64; d];
    let mut products = vec![0i64; d * d];
    for (value, &w) in patterns.values.iter().zip(&patterns.weights) {
        for j in 0..d {
            if value[j] == 0 {
                continue;
            }
            sums[j] += w * value[j];
            let wv = w * value[j];
            for l in j..d {
                products[j * d + l] += wv * value[l];
            }
        }
    }
    // n² times the covariance, exactly: n·Σwxx − Σwx·Σwx.
    let n2 = (n as f64) * (n as f64);
    let covariance = DMatrix::from_fn(d, d, |j, l| {
        let (a, b) = (j.min(l), j.max(l));
        (n as i128 * products[a * d + b] as i128 - sums[a] as i128 * sums[b] as i128) as f64 / n2
    });
    let eigen = SymmetricEigen::new(covariance);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let total: f64 = eigen.eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let mut axes = [vec![0.0; d], vec![0.0; d]];
    let mut shown = 0.0;
    for (axis, &e) in axes.iter_mut().zip(&order) {
        shown += eigen.eigenvalues[e].max(0.0);
        axis.copy_from_slice(eigen.eigenvectors.column(e).as_slice());
    }
    let mean: Vec<f64> = sums.iter().map(|&s| s as f64 / n as f64).collect();
    let mut coords: Vec<[f64; 2]> = patterns
        .values
        .iter()
        .map(|value| {
            let mut at = [0.0; 2];
            for (a, axis) in axes.iter().enumerate() {
                at[a] = (0..d).map(|j| (value[j] as f64 - mean[j]) * axis[j]).sum();
            }
            at
        })
        .collect();
    // An eigenvector's sign is arbitrary: turn each axis so that its longer tail
    // points right (or up), which the data decides, not the order of the columns.
    for a in 0..2 {
        let skew: f64 = coords
            .iter()
            .zip(&patterns.weights)
            .map(|(c, &w)| w as f64 * c[a].powi(3))
            .sum();
        if skew < 0.0 {
            coords.iter_mut().for_each(|c| c[a] = -c[a]);
        }
    }
    let explained = if total > 0.0 {
        tally::percent(
            (shown * 1000.0).round() as u64,
            (total * 1000.0).round() as u64,
        )
        .unwrap_or(0)
    } else {
        0
    };
    (coords, explained)
}

/// A grouping of the patterns: per pattern its group, with the groups' silhouette.
struct Grouping {
    of_pattern: Vec<usize>,
    groups: usize,
    silhouette: f64,
}

/// A group's centre kept exactly: the sum of its members' values and their number, so
/// that every distance to it is a ratio of integers and the same whatever order the
/// statements stand in.
#[derive(Clone)]
struct Centre {
    sums: Vec<i64>,
    weight: i64,
}

impl Centre {
    fn of(value: &[i64]) -> Centre {
        Centre {
            sums: value.to_vec(),
            weight: 1,
        }
    }

    /// The squared distance from `value` times `weight²`, exactly. An `i64` holds it:
    /// each term is at most (12·participants)², times at most 8 columns per statement
    /// and 500 statements, far below 2⁶³ for any room.
    fn scaled(&self, value: &[i64]) -> i64 {
        value
            .iter()
            .zip(&self.sums)
            .map(|(&x, &s)| {
                let d = self.weight * x - s;
                d * d
            })
            .sum()
    }

    fn distance(&self, value: &[i64]) -> f64 {
        (self.scaled(value) as f64).sqrt() / self.weight as f64
    }

    /// The distance between two centres (from exact integers, so the same in any
    /// order of the statements).
    fn to(&self, other: &Centre) -> f64 {
        let square: i128 = self
            .sums
            .iter()
            .zip(&other.sums)
            .map(|(&a, &b)| {
                let d = other.weight as i128 * a as i128 - self.weight as i128 * b as i128;
                d * d
            })
            .sum();
        (square as f64).sqrt() / (self.weight as f64 * other.weight as f64)
    }
}

/// The grouping with the highest silhouette over k in [`GROUPS`], small groups merged;
/// `None` when no grouping keeps two groups of `min_group_size`.
fn best_grouping(patterns: &Patterns, min_group_size: u64) -> Option<Grouping> {
    let starts = starts(patterns, *GROUPS.end());
    let columns = Columns::new(patterns);
    let mut best: Option<Grouping> = None;
    for k in GROUPS {
        if k > starts.len() {
            break;
        }
        let mut of_pattern = kmeans(patterns, &columns, &starts[..k]);
        merge_small(patterns, &mut of_pattern, min_group_size);
        let centres = centres(patterns, &of_pattern);
        if centres.len() < 2 {
            continue;
        }
        let silhouette = silhouette(patterns, &of_pattern, &centres);
        // A tie keeps the fewer groups.
        if best.as_ref().is_none_or(|b| silhouette > b.silhouette) {
            best = Some(Grouping {
                of_pattern,
                groups: centres.len(),
                silhouette,
            });
        }
    }
    best
}

/// Up to `most` patterns far apart, where k-means starts: the one farthest from the
/// centre of all, then each time the one farthest from the starts so far. On a tie the
/// pattern more participants share, then the one farther from the centre of all. No
/// random start, so the same votes always give the same groups; an outlier that takes a
/// start is merged back by [`merge_small`]. k-means for k groups starts from the first
/// k: each start is chosen knowing only the ones before it. Fewer than `most` when the
/// patterns run out.
fn starts(patterns: &Patterns, most: usize) -> Vec<usize> {
    let values = &patterns.values;
    let all = centres_of(patterns, &vec![0; values.len()], 1).remove(0);
    let from_all: Vec<i64> = values.iter().map(|v| all.scaled(v)).collect();
    let mut starts = vec![farthest(patterns, &from_all, &from_all)];
    // Each pattern's squared distance to the nearest start so far.
    let mut gap: Vec<i64> = values
        .iter()
        .map(|v| Centre::of(&values[starts[0]]).scaled(v))
        .collect();
    while starts.len() < most {
        let p = farthest(patterns, &gap, &from_all);
        if gap[p] == 0 {
            break;
        }
        starts.push(p);
        let start = Centre::of(&values[p]);
        for (g, v) in gap.iter_mut().zip(values) {
            *g = (*g).min(start.scaled(v));
        }
    }
    starts
}

/// The patterns' values column by column (`[j * patterns + p]`), for the step of
/// k-means that compares every pattern with every centre: a column times a centre's
/// value on it is one multiplication per pattern, in a loop the processor runs several
/// patterns at a time. In `f32` (twice the patterns per instruction) where every sum
/// stays below 2²⁴, else in `f64` (below 2⁵³ for any room): either way every product
/// and partial sum is a whole number the type holds exactly, so the order of the
/// additions cannot change a result.
struct Columns {
    patterns: usize,
    narrow: Option<Vec<f32>>,
    wide: Vec<f64>,
}

impl Columns {
    fn new(patterns: &Patterns) -> Columns {
        let n = patterns.values.len();
        let d = patterns.values.first().map_or(0, Vec::len);
        let mut wide = vec![0.0; n * d];
        for (p, value) in patterns.values.iter().enumerate() {
            for (j, &x) in value.iter().enumerate() {
                wide[j * n + p] = x as f64;
            }
        }
        // |x| ≤ UNIT and a centre's sum |s| ≤ UNIT · participants on each column.
        let participants: i64 = patterns.weights.iter().sum();
        let largest = UNIT * UNIT * participants * d as i64;
        let narrow = (largest < 1 << 24).then(|| wide.iter().map(|&x| x as f32).collect());
        Columns {
            patterns: n,
            narrow,
            wide,
        }
    }

    /// Per centre and pattern, the pattern's value times the centre's sums (`dots[c *
    /// patterns + p]`), exactly.
    fn dots(&self, centres: &[Centre], dots: &mut Vec<i64>) {
        match &self.narrow {
            Some(narrow) => products(narrow, self.patterns, centres, dots),
            None => products(&self.wide, self.patterns, centres, dots),
        }
    }
}

/// A float type that holds the products of [`Columns`] exactly.
trait Lane: Copy + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> {
    const ZERO: Self;
    fn of(whole: i64) -> Self;
    fn whole(self) -> i64;
}

/// The two float types' [`Lane`]: conversions by `as`, exact for the whole numbers
/// [`Columns`] keeps in them.
macro_rules! lane {
    ($t:ty) => {
        impl Lane for $t {
            const ZERO: $t = 0.0;
            fn of(whole: i64) -> $t {
                whole as $t
            }
            fn whole(self) -> i64 {
                self as i64
            }
        }
    };
}
lane!(f32);
lane!(f64);

/// [`Columns::dots`] in the type `T`: per centre, its sums times the columns, added
/// up a column at a time for all patterns.
fn products<T: Lane>(columns: &[T], n: usize, centres: &[Centre], dots: &mut Vec<i64>) {
    dots.clear();
    let mut sums = vec![T::ZERO; n];
    for centre in centres {
        sums.fill(T::ZERO);
        for (column, &s) in columns.chunks_exact(n.max(1)).zip(&centre.sums) {
            if s == 0 {
                continue;
            }
            let s = T::of(s);
            for (sum, &x) in sums.iter_mut().zip(column) {
                *sum = *sum + x * s;
            }
        }
        dots.extend(sums.iter().map(|&sum| sum.whole()));
    }
}

/// Lloyd's k-means on the votes themselves, from the patterns `starts`.
///
/// Each round puts every pattern with its nearest centre. The squared distance from a
/// pattern x to a centre kept as sums s of w members is |x − s/w|² = |x|² + (|s|² −
/// 2w·x·s) / w²; |x|² is the same for every centre, so the nearest centre is the one
/// with the least (|s|² − 2w·x·s) / w², compared exactly as integers (as [`nearest`]
/// does with the whole distance, with the same result on a tie).
fn kmeans(patterns: &Patterns, columns: &Columns, starts: &[usize]) -> Vec<usize> {
    let values = &patterns.values;
    let n = values.len();
    let mut centres: Vec<Centre> = starts.iter().map(|&p| Centre::of(&values[p])).collect();
    let mut of_pattern = vec![usize::MAX; n];
    let mut dots = vec![];
    for _ in 0..MAX_ITERATIONS {
        columns.dots(&centres, &mut dots);
        // Per centre: |s|², w and w², as the comparison needs them.
        let terms: Vec<(i128, i128, i128)> = centres
            .iter()
            .map(|c| {
                let square: i64 = c.sums.iter().map(|&s| s * s).sum();
                let w = c.weight as i128;
                (square as i128, w, w * w)
            })
            .collect();
        // The patterns that change group: (pattern, from, to).
        let mut moves: Vec<(usize, usize, usize)> = vec![];
        for (p, group) in of_pattern.iter_mut().enumerate() {
            let mut best: Option<(usize, i128, i128)> = None;
            for (c, &(square, w, w2)) in terms.iter().enumerate() {
                if w == 0 {
                    continue;
                }
                let key = square - 2 * w * i128::from(dots[c * n + p]);
                if best.is_none_or(|(_, b, bw2)| key * bw2 < b * w2) {
                    best = Some((c, key, w2));
                }
            }
            let nearest = best.map_or(0, |(c, _, _)| c);
            if *group != nearest {
                moves.push((p, *group, nearest));
                *group = nearest;
            }
        }
        if moves.is_empty() {
            break;
        }
        if moves.len() == n {
            centres = centres_of(patterns, &of_pattern, centres.len());
        } else {
            // Only the patterns that moved change the sums: exact, as integers.
            for (p, from, to) in moves {
                let w = patterns.weights[p];
                for (j, &x) in values[p].iter().enumerate() {
                    centres[from].sums[j] -= w * x;
                    centres[to].sums[j] += w * x;
                }
                centres[from].weight -= w;
                centres[to].weight += w;
            }
        }
    }
    compact(&mut of_pattern);
    of_pattern
}

/// The pattern with the largest `score`; on a tie the one more participants share, then
/// the one farther from the centre of all (`from_all`), then the first.
fn farthest(patterns: &Patterns, score: &[i64], from_all: &[i64]) -> usize {
    (0..score.len())
        .max_by_key(|&p| {
            (
                score[p],
                patterns.weights[p],
                from_all[p],
                std::cmp::Reverse(p),
            )
        })
        .expect("a pattern")
}

/// The nearest centre to `value`, other than `skip`; the lower index on a tie. The
/// distances are compared exactly: `a / wa² < b / wb²` as `a · wb² < b · wa²`.
fn nearest(value: &[i64], centres: &[Centre], skip: usize) -> usize {
    let mut best: Option<(usize, i128, i128)> = None;
    for (c, centre) in centres.iter().enumerate() {
        if c == skip || centre.weight == 0 {
            continue;
        }
        let scaled = centre.scaled(value) as i128;
        let square = (centre.weight as i128).pow(2);
        if best.is_none_or(|(_, b, bw)| scaled * bw < b * square) {
            best = Some((c, scaled, square));
        }
    }
    best.map_or(0, |(c, _, _)| c)
}

/// The centres of `groups` groups (an empty one has weight 0 and is never nearest).
fn centres_of(patterns: &Patterns, of_pattern: &[usize], groups: usize) -> Vec<Centre> {
    let d = patterns.values.first().map_or(0, Vec::len);
    let mut centres = vec![
        Centre {
            sums: vec![0; d],
            weight: 0,
        };
        groups
    ];
    for ((value, &w), &g) in patterns
        .values
        .iter()
        .zip(&patterns.weights)
        .zip(of_pattern)
    {
        for (s, &x) in centres[g].sums.iter_mut().zip(value) {
            *s += w * x;
        }
        centres[g].weight += w;
    }
    centres
}

/// Renumbers groups 0, 1, … leaving out empty ones, in order of first appearance.
fn compact(of_pattern: &mut [usize]) {
    let mut new: BTreeMap<usize, usize> = BTreeMap::new();
    for g in of_pattern.iter() {
        let next = new.len();
        new.entry(*g).or_insert(next);
    }
    for g in of_pattern.iter_mut() {
        *g = new[g];
    }
}

fn centres(patterns: &Patterns, of_pattern: &[usize]) -> Vec<Centre> {
    let groups = of_pattern.iter().max().map_or(0, |&g| g + 1);
    centres_of(patterns, of_pattern, groups)
}

/// Merges every group under `min_group_size` participants into the group with the
/// nearest centre, smallest first, until none is left or one group is.
fn merge_small(patterns: &Patterns, of_pattern: &mut [usize], min_group_size: u64) {
    loop {
        let centres = centres(patterns, of_pattern);
        if centres.len() < 2 {
            return;
        }
        let Some(small) = (0..centres.len())
            .filter(|&g| (centres[g].weight as u64) < min_group_size)
            .min_by_key(|&g| (centres[g].weight, g))
        else {
            return;
        };
        let into = (0..centres.len())
            .filter(|&g| g != small)
            .min_by(|&a, &b| {
                let da = centres[small].to(&centres[a]);
                let db = centres[small].to(&centres[b]);
                da.total_cmp(&db).then(a.cmp(&b))
            })
            .expect("two groups");
        for g in of_pattern.iter_mut() {
            if *g == small {
                *g = into;
            }
        }
        compact(of_pattern);
    }
}

/// The mean silhouette, weighted by participants, with distances to the groups' centres
/// (the simplified silhouette: a participant's own centre against the nearest other
/// one). Summed in sorted order, so the order of the patterns cannot change it.
fn silhouette(patterns: &Patterns, of_pattern: &[usize], centres: &[Centre]) -> f64 {
    let total: i64 = patterns.weights.iter().sum();
    let mut parts: Vec<f64> = patterns
        .values
        .iter()
        .zip(&patterns.weights)
        .zip(of_pattern)
        .map(|((value, &w), &g)| {
            let own = centres[g].distance(value);
            let other = centres[nearest(value, centres, g)].distance(value);
            let s = if own.max(other) > 0.0 {
                (other - own) / own.max(other)
            } else {
                0.0
            };
            w as f64 * s
        })
        .collect();
    parts.sort_by(f64::total_cmp);
    parts.iter().sum::<f64>() / total as f64
}

/// The map as the room sees it: groups largest first, dots where the two components
/// place each participant, what each group chose.
fn describe(
    votes: &Votes,
    patterns: &Patterns,
    coords: &[[f64; 2]],
    grouping: Grouping,
    explained: u64,
) -> Map {
    let k = grouping.groups;
    let mut sizes = vec![0u64; k];
    let mut sums = vec![[0.0f64; 2]; k];
    for ((&g, &w), at) in grouping
        .of_pattern
        .iter()
        .zip(&patterns.weights)
        .zip(coords)
    {
        sizes[g] += w as u64;
        sums[g][0] += w as f64 * at[0];
        sums[g][1] += w as f64 * at[1];
    }
    let middles: Vec<[f64; 2]> = (0..k)
        .map(|g| [sums[g][0] / sizes[g] as f64, sums[g][1] / sizes[g] as f64])
        .collect();
    // Largest first; equal sizes by where their middle lies.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        sizes[b].cmp(&sizes[a]).then(
            middles[a][0]
                .total_cmp(&middles[b][0])
                .then(middles[a][1].total_cmp(&middles[b][1])),
        )
    });
    let mut rank = vec![0; k];
    for (r, &g) in order.iter().enumerate() {
        rank[g] = r;
    }
    let draw = Drawing::new(coords);
    let groups = order
        .iter()
        .map(|&g| {
            let [x, y] = draw.place(middles[g]);
            Group {
                size: sizes[g],
                x,
                y,
            }
        })
        .collect();
    let dots = dots(patterns, coords, &grouping, &rank, &draw);
    // Each row's group, in the order of `votes.rows`.
    let of_row: Vec<usize> = patterns
        .of_row
        .iter()
        .map(|&p| rank[grouping.of_pattern[p]])
        .collect();
    let assignment: HashMap<ParticipantId, usize> = votes
        .rows
        .iter()
        .zip(&of_row)
        .map(|((participant, _), &g)| (*participant, g))
        .collect();
    let splits = splits(votes, &of_row, k);
    let (consensus, divisive) = standouts(&splits);
    Map {
        participants: votes.rows.len() as u64,
        slides: votes.columns.iter().map(|c| c.slide).collect(),
        groups,
        dots,
        splits,
        consensus,
        divisive,
        explained,
        silhouette: (grouping.silhouette * 100.0).round() as i64,
        assignment,
    }
}

/// The participants as dots in drawing coordinates, those at one spot of one group as
/// one dot with their number.
fn dots(
    patterns: &Patterns,
    coords: &[[f64; 2]],
    grouping: &Grouping,
    rank: &[usize],
    draw: &Drawing,
) -> Vec<Dot> {
    let mut dots: BTreeMap<(i64, i64, usize), u64> = BTreeMap::new();
    for ((at, &w), &g) in coords
        .iter()
        .zip(&patterns.weights)
        .zip(&grouping.of_pattern)
    {
        let [x, y] = draw.place(*at);
        *dots.entry((x, y, rank[g])).or_default() += w as u64;
    }
    dots.into_iter()
        .map(|((x, y, group), n)| Dot { x, y, group, n })
        .collect()
}

/// From the components to drawing coordinates: the participants' extent fitted into 0
/// to [`SPAN`], one scale for both axes so that distances keep their meaning.
struct Drawing {
    mid: [f64; 2],
    scale: f64,
}

impl Drawing {
    fn new(coords: &[[f64; 2]]) -> Drawing {
        let mut low = [f64::INFINITY; 2];
        let mut high = [f64::NEG_INFINITY; 2];
        for at in coords {
            for a in 0..2 {
                low[a] = low[a].min(at[a]);
                high[a] = high[a].max(at[a]);
            }
        }
        let range = (high[0] - low[0]).max(high[1] - low[1]);
        Drawing {
            mid: [(low[0] + high[0]) / 2.0, (low[1] + high[1]) / 2.0],
            // A sliver of a range is rounding, not a difference between people.
            scale: if range > 1e-9 {
                SPAN as f64 / range
            } else {
                0.0
            },
        }
    }

    fn place(&self, at: [f64; 2]) -> [i64; 2] {
        let half = SPAN as f64 / 2.0;
        [
            ((at[0] - self.mid[0]) * self.scale + half).round() as i64,
            // Up on the screen is up on the axis.
            (half - (at[1] - self.mid[1]) * self.scale).round() as i64,
        ]
    }
}

/// Per statement, what each group chose; a group's cell is suppressed by the rule of
/// the results per group ([`tally::suppress`]).
fn splits(votes: &Votes, of_row: &[usize], k: usize) -> Vec<Split> {
    votes
        .columns
        .iter()
        .enumerate()
        .map(|(c, column)| {
            let mut counts = vec![vec![0u64; column.options]; k];
            let mut room = vec![0u64; column.options];
            for ((_, choices), &group) in votes.rows.iter().zip(of_row) {
                if let Some(choice) = choices[c] {
                    counts[group][choice as usize] += 1;
                    room[choice as usize] += 1;
                }
            }
            let voted: Vec<u64> = counts.iter().map(|c| c.iter().sum()).collect();
            let hidden = tally::suppress(&voted, votes.min_group_size);
            let top = (0..column.options)
                .max_by_key(|&o| (room[o], std::cmp::Reverse(o)))
                .unwrap_or(0);
            Split {
                slide: column.slide,
                top,
                groups: counts
                    .into_iter()
                    .zip(hidden)
                    .map(|(counts, suppressed)| {
                        let percents = suppressed.is_none().then(|| tally::percents(&counts));
                        GroupChoice {
                            chosen: percents.as_ref().and_then(|p| Choice::of(&counts, p)),
                            percents,
                            counts: suppressed.is_none().then_some(counts),
                            suppressed,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The consensus statements and the divisive ones, by the shown groups' percentages.
fn standouts(splits: &[Split]) -> (Vec<usize>, Vec<usize>) {
    let mut consensus: Vec<(u64, usize)> = vec![];
    let mut divisive: Vec<(u64, usize)> = vec![];
    for split in splits {
        let shown: Vec<&Vec<u64>> = split
            .groups
            .iter()
            .filter_map(|g| g.percents.as_ref())
            .collect();
        if shown.len() < 2 {
            continue;
        }
        let agreement = shown.iter().map(|p| p[split.top]).min().unwrap_or(0);
        let options = shown[0].len();
        let spread = (0..options)
            .map(|o| {
                let max = shown.iter().map(|p| p[o]).max().unwrap_or(0);
                let min = shown.iter().map(|p| p[o]).min().unwrap_or(0);
                max - min
            })
            .max()
            .unwrap_or(0);
        if agreement >= CONSENSUS_PERCENT {
            consensus.push((agreement, split.slide));
        } else if spread >= DIVISIVE_POINTS {
            divisive.push((spread, split.slide));
        }
    }
    let strongest = |mut list: Vec<(u64, usize)>| {
        list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        list.into_iter().take(LISTED).map(|(_, s)| s).collect()
    };
    (strongest(consensus), strongest(divisive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab(slides: usize) -> Vec<Column> {
        (0..slides).map(Column::ab).collect()
    }

    fn id(n: u128) -> ParticipantId {
        ParticipantId::from_u128(n)
    }

    #[test]
    fn values_are_plus_and_minus_one_on_a_b_even_steps_on_a_scale_and_columns_on_options() {
        let columns = vec![
            Column {
                slide: 0,
                options: 2,
                scale: false,
            },
            Column {
                slide: 1,
                options: 5,
                scale: true,
            },
            Column {
                slide: 2,
                options: 3,
                scale: false,
            },
        ];
        assert_eq!(
            encode(&columns, &[Some(1), Some(1), Some(2)]),
            [-6, 3, 0, 0, 6]
        );
        assert_eq!(encode(&columns, &[None, Some(4), None]), [0, -6, 0, 0, 0]);
    }

    #[test]
    fn two_camps_make_two_groups_and_their_statements_divide_them() {
        let mut rows = vec![];
        for i in 0..10 {
            rows.push((id(i), vec![Some(0), Some(0), Some(0)]));
            rows.push((id(100 + i), vec![Some(1), Some(1), Some(0)]));
        }
        let votes = Votes {
            columns: ab(3),
            rows,
            min_group_size: 5,
        };
        let Outcome::Map(map) = compute(&votes) else {
            panic!("a map")
        };
        assert_eq!(map.groups.len(), 2);
        assert_eq!(
            map.groups.iter().map(|g| g.size).collect::<Vec<_>>(),
            [10, 10]
        );
        assert_ne!(map.assignment[&id(0)], map.assignment[&id(100)]);
        assert_eq!(map.consensus, [2]);
        assert_eq!(map.divisive, [0, 1]);
    }

    #[test]
    fn too_few_participants_for_two_groups_give_no_map() {
        let rows = (0..9)
            .map(|i| (id(i), vec![Some((i % 2) as u8), Some(0)]))
            .collect();
        let votes = Votes {
            columns: ab(2),
            rows,
            min_group_size: 5,
        };
        assert_eq!(
            compute(&votes),
            Outcome::FewParticipants {
                participants: 9,
                needed: 10
            }
        );
    }

    #[test]
    fn one_statement_gives_no_map() {
        let rows = (0..20)
            .map(|i| (id(i), vec![Some((i % 2) as u8)]))
            .collect();
        let votes = Votes {
            columns: ab(1),
            rows,
            min_group_size: 5,
        };
        assert_eq!(compute(&votes), Outcome::FewStatements);
    }
}
