//! Tallies a session's rounds for whoever shows them: the report, the host and the
//! screen. Scale statistics, how participants moved between two rounds, and results per
//! group with small groups suppressed: one place, so every view shows the same numbers.
//! Pure: no I/O, no clock.

use serde::{Deserialize, Serialize};

use crate::core::session::{Round, Session};

/// Where a scale round's votes lie, phones and hands together ([`scale_stats`]
/// computes it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScaleStats {
    /// The median as a point of the scale (1 is the first): the middle vote, or with an
    /// even number of votes the lower of the two middle ones, so it is always a point
    /// somebody chose.
    pub median: usize,
    /// The mean in points, rounded half up to one decimal (2.25 is 2.3).
    pub mean: f64,
}

/// How the participants who voted in two rounds of a scale moved along it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// Chose a higher point (towards the last) the second time.
    pub up: u64,
    /// Chose a lower point.
    pub down: u64,
    /// Chose the same point.
    pub stayed: u64,
}

/// How the participants who voted in both the first and the last round moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switches {
    /// The first round.
    pub from_round: u32,
    /// The last round.
    pub to_round: u32,
    /// Participants who voted in both.
    pub paired: u64,
    /// `matrix[i][j]`: chose option i first and option j last; `None` when fewer than
    /// the deck's `min_group_size` participants are paired.
    pub matrix: Option<Vec<Vec<u64>>>,
    /// Of the paired, how many chose differently.
    pub switched: Option<u64>,
    /// On a scale, the paired by direction, from `matrix` (so absent when it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<Moved>,
}

/// The last round's result within one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// The group's name, or `None` for participants who chose no group.
    pub group: Option<String>,
    /// Votes per option; `None` when suppressed.
    pub counts: Option<Vec<u64>>,
    /// `counts` as percentages by [`percent`]; `None` when suppressed.
    pub percents: Option<Vec<u64>>,
    /// Voters in the group; `None` when suppressed.
    pub voted: Option<u64>,
    /// Why the counts are not shown, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// Why a group's result is left out of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppressed {
    /// Fewer than the deck's `min_group_size` voted in it.
    Few,
    /// The group is large enough, but it is the only other group left out with a small
    /// one: shown, it would let the small group be worked out from the total.
    Complement,
}

/// How the participants who voted in both rounds moved from `from` to `to` (each a
/// round number with its round): the switch matrix, shown only when at least
/// `min_group_size` participants voted in both. The report compares the first and the
/// last round; the screen and host compare the current round with the one before.
pub fn switches(
    options: usize,
    from: (u32, &Round),
    to: (u32, &Round),
    min_group_size: u64,
) -> Switches {
    let mut matrix = vec![vec![0u64; options]; options];
    let mut paired = 0;
    for (participant, &before) in &from.1.votes {
        if let Some(&after) = to.1.votes.get(participant) {
            matrix[before][after] += 1;
            paired += 1;
        }
    }
    let shown = paired >= min_group_size;
    let switched: u64 = (0..options)
        .flat_map(|i| (0..options).map(move |j| (i, j)))
        .filter(|(i, j)| i != j)
        .map(|(i, j)| matrix[i][j])
        .sum();
    Switches {
        from_round: from.0,
        to_round: to.0,
        paired,
        matrix: shown.then_some(matrix),
        switched: shown.then_some(switched),
        moved: None,
    }
}

/// `count` of `total` as a whole percentage, rounded half up (12.5 % is 13 %): the one
/// rounding rule of every page and export. Equal counts always get equal percentages, so
/// the percentages of a tally add up to about 100, not always to 100 exactly (3, 3, 2
/// and 3 of 11 give 27, 27, 18 and 27: 99). `None` when nobody voted.
pub fn percent(count: u64, total: u64) -> Option<u64> {
    (total > 0).then(|| (200 * count + total) / (2 * total))
}

/// Each count of a tally as a percentage of their sum by [`percent`]; all 0 when the
/// sum is 0.
pub fn percents(counts: &[u64]) -> Vec<u64> {
    let total = counts.iter().sum();
    counts
        .iter()
        .map(|&n| percent(n, total).unwrap_or(0))
        .collect()
}

/// The median and mean of a scale's votes per point (the first point first), or `None`
/// when nobody voted. The report, the host and the screen all take them from here.
pub fn scale_stats(tally: &[u64]) -> Option<ScaleStats> {
    let total: u64 = tally.iter().sum();
    if total == 0 {
        return None;
    }
    // The middle vote: the ceil(total / 2)-th from the bottom, the lower one of two.
    let middle = total.div_ceil(2);
    let mut below = 0;
    let median = tally.iter().position(|&n| {
        below += n;
        below >= middle
    })? + 1;
    let sum: u64 = (1..).zip(tally).map(|(point, &n)| point * n).sum();
    // In tenths, rounded half up in whole numbers (no binary fraction decides a half).
    let tenths = (20 * sum + total) / (2 * total);
    let mean = tenths as f64 / 10.0;
    Some(ScaleStats { median, mean })
}

/// Of the participants in a switch matrix (`matrix[i][j]`: point i + 1 before, point
/// j + 1 after), how many moved up the scale, down it, or stayed.
pub fn moved(matrix: &[Vec<u64>]) -> Moved {
    let mut moved = Moved {
        up: 0,
        down: 0,
        stayed: 0,
    };
    for (i, row) in matrix.iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            match j.cmp(&i) {
                std::cmp::Ordering::Greater => moved.up += n,
                std::cmp::Ordering::Less => moved.down += n,
                std::cmp::Ordering::Equal => moved.stayed += n,
            }
        }
    }
    moved
}

/// Which of some groups, by their voters, keep their counts hidden: those with fewer
/// than `min_group_size` voters (but some), and if exactly one is, the next smallest
/// too, or the total would give it away. The results per group and the opinion map's
/// groups share this rule.
pub fn suppress(voted: &[u64], min_group_size: u64) -> Vec<Option<Suppressed>> {
    let mut hidden: Vec<Option<Suppressed>> = voted
        .iter()
        .map(|&v| (v > 0 && v < min_group_size).then_some(Suppressed::Few))
        .collect();
    if hidden.iter().flatten().count() == 1 {
        let next = (0..voted.len())
            .filter(|&i| hidden[i].is_none() && voted[i] > 0)
            .min_by_key(|&i| voted[i]);
        if let Some(i) = next {
            hidden[i] = Some(Suppressed::Complement);
        }
    }
    hidden
}

/// Per group a round's phone counts. Groups under the deck's `min_group_size` are
/// suppressed; if exactly one is, the next smallest is too, or the total would give it
/// away.
pub fn group_rows(session: &Session, round: &Round, options: usize) -> Vec<GroupRow> {
    let deck = session.deck();
    if deck.groups.is_empty() {
        return vec![];
    }
    // Index groups.len() stands for "no group chosen"; the round keeps the counts.
    let counts: Vec<Vec<u64>> = (0..=deck.groups.len())
        .map(|g| round.group_counts((g < deck.groups.len()).then_some(g)))
        .map(|mut c| {
            c.resize(options, 0);
            c
        })
        .collect();
    let voted: Vec<u64> = counts.iter().map(|c| c.iter().sum()).collect();
    let hidden = suppress(&voted, deck.min_group_size);
    (0..counts.len())
        .filter(|&i| voted[i] > 0 || i < deck.groups.len())
        .map(|i| GroupRow {
            group: deck.groups.get(i).cloned(),
            counts: hidden[i].is_none().then(|| counts[i].clone()),
            percents: hidden[i].is_none().then(|| percents(&counts[i])),
            voted: hidden[i].is_none().then_some(voted[i]),
            suppressed: hidden[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(tally: &[u64]) -> Option<(usize, f64)> {
        scale_stats(tally).map(|s| (s.median, s.mean))
    }

    #[test]
    fn equal_counts_get_equal_percentages_rounded_half_up() {
        // The room of 11: 3, 3, 2 and 3 votes; the sum is 99, not 100.
        assert_eq!(percents(&[3, 3, 2, 3]), [27, 27, 18, 27]);
        // A group of 6 with 2, 2, 0 and 2: 33 each, 99 in all.
        assert_eq!(percents(&[2, 2, 0, 2]), [33, 33, 0, 33]);
        // 1 of 6 is 16.67: 17 on every page and in the report.
        assert_eq!(percent(1, 6), Some(17));
        // Halves go up: 1 of 8 is 12.5, 1 of 200 is 0.5.
        assert_eq!(percent(1, 8), Some(13));
        assert_eq!(percent(1, 200), Some(1));
        // Three equal thirds: 99 in all, no third gets 34.
        assert_eq!(percents(&[1, 1, 1]), [33, 33, 33]);
        // 3, 3 and 2 of 8 (37.5, 37.5, 25): 101 in all.
        assert_eq!(percents(&[3, 3, 2]), [38, 38, 25]);
        assert_eq!(percent(0, 0), None);
        assert_eq!(percents(&[0, 0]), [0, 0]);
    }

    #[test]
    fn the_mean_rounds_its_halves_up() {
        // 2, 2, 2, 3: 2.25 → 2.3; 1, 2, 2, 2, 2, 2, 2, 2: 1.875 → 1.9.
        assert_eq!(stats(&[0, 3, 1, 0, 0]), Some((2, 2.3)));
        assert_eq!(stats(&[1, 7, 0, 0, 0]), Some((2, 1.9)));
        // 1, 2: 1.5 stays 1.5.
        assert_eq!(stats(&[1, 1, 0, 0, 0]), Some((1, 1.5)));
    }

    #[test]
    fn nobody_voted_has_no_median_and_no_mean() {
        assert_eq!(stats(&[0, 0, 0, 0, 0]), None);
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn the_median_is_the_middle_vote_as_a_point() {
        // 1, 2, 4, 4, 5: the third vote is a 4.
        assert_eq!(stats(&[1, 1, 0, 2, 1]), Some((4, 3.2)));
        // One vote is its own median and mean.
        assert_eq!(stats(&[0, 0, 0, 0, 0, 0, 1]), Some((7, 7.0)));
        assert_eq!(stats(&[3, 0, 0, 0, 0]), Some((1, 1.0)));
    }

    #[test]
    fn an_even_count_takes_the_lower_of_the_two_middle_votes() {
        // 2, 2, 4, 4: the middle pair is 2 and 4.
        assert_eq!(stats(&[0, 2, 0, 2, 0]), Some((2, 3.0)));
        // 1, 5: the lower end.
        assert_eq!(stats(&[1, 0, 0, 0, 1]), Some((1, 3.0)));
    }

    #[test]
    fn the_mean_is_rounded_to_one_decimal_and_counts_every_vote() {
        // (1 + 2 + 2) / 3 = 1.666…
        assert_eq!(stats(&[1, 2, 0, 0, 0]), Some((2, 1.7)));
        // (4·3 + 5·4) / 7 = 4.571…; hands and phones are one tally.
        assert_eq!(stats(&[0, 0, 0, 3, 4, 0, 0]), Some((5, 4.6)));
        // (1 + 3 + 3 + 4) / 4 = 2.75: a half rounds away from zero.
        assert_eq!(stats(&[1, 0, 2, 1, 0]).map(|s| s.1), Some(2.8));
        assert_eq!(stats(&[3, 0, 1, 0, 0]).map(|s| s.1), Some(1.5));
    }

    #[test]
    fn moved_reads_the_switch_matrix_above_below_and_on_its_diagonal() {
        let matrix = vec![
            vec![2, 1, 0, 0, 0],
            vec![0, 1, 3, 0, 0],
            vec![0, 1, 4, 0, 1],
            vec![0, 0, 2, 0, 0],
            vec![0, 0, 0, 0, 5],
        ];
        assert_eq!(
            moved(&matrix),
            Moved {
                up: 5,
                down: 3,
                stayed: 12
            }
        );
    }
}
