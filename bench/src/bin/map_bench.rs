//! Times the opinion map for a large room.
//!
//! `cargo run --release -p stemzaal-bench --bin map_bench -- --runs 30` builds a session
//! in memory (the room logic alone, no server): `--participants` participants voting A
//! or B on `--statements` statements, in one of two patterns: `camps` (three camps of
//! different sizes, each participant leaving its camp's choice on a statement one time
//! in eight, and one in twenty not voting on it) and `random` (every choice drawn
//! alike: no two participants alike, the most work for the map). It then times the two
//! steps apart, `--runs` times each: taking the snapshot of the votes (what the
//! session's task does) and computing the map from it (what a blocking thread does),
//! and prints a Markdown table with the medians, fastest and slowest runs and what the
//! map found. The same session every run: the choices come from a fixed sequence, not
//! from a random source.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use stemzaal::core::deck;
use stemzaal::core::opinion::{self, Outcome};
use stemzaal::core::session::{Command, Session};
use uuid::Uuid;

/// Time the opinion map of a large room.
#[derive(Parser, Debug)]
struct Args {
    /// Participants, each voting on the statements.
    #[arg(long, default_value_t = 5_000)]
    participants: usize,
    /// A/B statements.
    #[arg(long, default_value_t = 20)]
    statements: usize,
    /// Times each step runs; the table gives the median.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// How the room votes.
    #[arg(long, value_enum, default_value_t = Pattern::Camps)]
    pattern: Pattern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Pattern {
    /// Three camps with some noise.
    Camps,
    /// Every choice drawn alike.
    Random,
}

/// A fixed sequence of numbers (a 64-bit linear congruential generator): the same
/// session every run.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let session = session(&args)?;
    let mut snapshots = vec![];
    let mut computes = vec![];
    let mut outcome = None;
    for _ in 0..args.runs.max(1) {
        let start = Instant::now();
        let votes = opinion::votes(&session);
        snapshots.push(start.elapsed());
        let start = Instant::now();
        outcome = Some(opinion::compute(&votes));
        computes.push(start.elapsed());
    }
    let found = match outcome.context("at least one run")? {
        Outcome::Map(map) => format!(
            "{} groups ({}), {} dots",
            map.groups.len(),
            map.groups
                .iter()
                .map(|g| g.size.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            map.dots.len()
        ),
        other => format!("{other:?}"),
    };
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let row = |times: &mut Vec<Duration>| {
        times.sort();
        format!(
            "{} | {} | {}",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        )
    };
    println!("| pattern | participants × statements | runs | snapshot median ms | fastest | slowest | compute median ms | fastest | slowest | found |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {:?} | {} × {} | {} | {} | {} | {} |",
        args.pattern,
        args.participants,
        args.statements,
        snapshots.len(),
        row(&mut snapshots),
        row(&mut computes),
        found
    );
    Ok(())
}

/// The session: every statement opened, voted and closed in turn.
fn session(args: &Args) -> Result<Session> {
    let text: String = (0..args.statements)
        .map(|i| format!("## Stelling {}\n\nA) Eens\nB) Oneens\n", i + 1))
        .collect::<Vec<_>>()
        .join("\n---\n\n");
    let deck = deck::parse("kaart.md", &format!("---\ntitle: Kaart\n---\n\n{text}"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut session = Session::new(Arc::new(deck));
    let people: Vec<Uuid> = (0..args.participants)
        .map(|i| Uuid::from_u128(i as u128 + 1))
        .collect();
    for &participant in &people {
        session
            .apply(Command::Join { participant })
            .map_err(|r| anyhow::anyhow!("joining: {r:?}"))?;
    }
    let mut seq = Sequence(7);
    // Per statement, each camp's choice.
    let camps: Vec<[usize; 3]> = (0..args.statements)
        .map(|_| [0; 3].map(|_| seq.next(2) as usize))
        .collect();
    for (slide, camp_choice) in camps.iter().enumerate() {
        session
            .apply(Command::GoTo { slide })
            .and_then(|_| session.apply(Command::OpenVote))
            .map_err(|r| anyhow::anyhow!("opening {slide}: {r:?}"))?;
        for (i, &participant) in people.iter().enumerate() {
            let option = match args.pattern {
                Pattern::Random => seq.next(2) as usize,
                Pattern::Camps => {
                    // Camps of a half, a third and a sixth of the room.
                    let camp = match i % 6 {
                        0..=2 => 0,
                        3 | 4 => 1,
                        _ => 2,
                    };
                    if seq.next(20) == 0 {
                        continue;
                    }
                    let own = camp_choice[camp];
                    if seq.next(8) == 0 {
                        1 - own
                    } else {
                        own
                    }
                }
            };
            session
                .apply(Command::Vote {
                    participant,
                    slide,
                    round: 1,
                    option,
                })
                .map_err(|r| anyhow::anyhow!("voting: {r:?}"))?;
        }
        session
            .apply(Command::CloseVote)
            .map_err(|r| anyhow::anyhow!("closing {slide}: {r:?}"))?;
    }
    Ok(session)
}
