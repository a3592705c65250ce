//! Times writing the report's PDF for a large session.
//!
//! `cargo run --release -p stemzaal-bench --bin pdf_bench -- --runs 20` builds a session
//! in memory (the room logic alone, no server): `--statements` statements of two options
//! voted in two rounds each by `--participants` participants in three groups, with
//! `--arguments` approved arguments spread over the statements, most of them upvoted;
//! then writes its PDF `--runs` times and prints a Markdown table with the median, the
//! fastest and slowest run and the size (`pdfinfo` on the `--out` file counts its
//! pages). The same session every time (participants and choices are numbered, not
//! drawn), so the file is the same too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use stemzaal::core::arguments::Status;
use stemzaal::core::deck;
use stemzaal::core::session::{Command, Session};
use stemzaal::report::{self, ReportContext};
use stemzaal::wire::protocol::Lang;
use uuid::Uuid;

/// Time the report's PDF of a large session.
#[derive(Parser, Debug)]
struct Args {
    /// Statements, each voted in two rounds.
    #[arg(long, default_value_t = 10)]
    statements: usize,
    /// Participants, each voting in every round.
    #[arg(long, default_value_t = 1_000)]
    participants: usize,
    /// Approved arguments, spread over the statements.
    #[arg(long, default_value_t = 200)]
    arguments: usize,
    /// PDFs to write; the report gives the median.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Where to write the last PDF, to look at.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// The groups participants choose, one in three each.
const GROUPS: [&str; 3] = ["Raad", "Ambtenaar", "Inwoner"];

fn main() -> Result<()> {
    let args = Args::parse();
    let session = session(&args)?;
    let report = report::build(&session, "BENCH7");
    let context = ReportContext {
        organisation: Some("Rekenkamer Zutphen".to_owned()),
        started_ms: 1_796_751_000_000,
        closed_ms: Some(1_796_760_000_000),
        now_ms: 1_796_760_000_000,
    };
    let mut times = vec![];
    let mut pdf = vec![];
    for _ in 0..args.runs.max(1) {
        let start = Instant::now();
        pdf = report::to_pdf(&report, Lang::Nl, &context)?;
        times.push(start.elapsed());
    }
    if let Some(out) = &args.out {
        std::fs::write(out, &pdf).with_context(|| format!("writing {}", out.display()))?;
    }
    times.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    println!(
        "| statements × rounds | participants | arguments | runs | median ms | fastest ms | slowest ms | size |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} × 2 | {} | {} | {} | {} | {} | {} | {} KB |",
        args.statements,
        args.participants,
        args.arguments,
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        pdf.len().div_ceil(1024),
    );
    Ok(())
}

/// The deck: statements with two options and a title of council length.
fn deck_source(statements: usize) -> String {
    let mut source = format!(
        "---\ntitle: Begroting 2027\ngroups: {}\nmeeting: Raadsavond begroting\ndate: 2026-12-08\nplace: Raadzaal\n---\n",
        GROUPS.join(", ")
    );
    for i in 1..=statements {
        if i > 1 {
            source.push_str("\n---\n");
        }
        source.push_str(&format!(
            "## Stelling {i}: de gemeente trekt in 2027 meer geld uit voor onderdeel {i} van de begroting, ook als dat elders ten koste gaat\n\nA) eens, meer geld\nB) oneens, zo laten\n"
        ));
    }
    source
}

/// Applies a command the session must take.
fn run(session: &mut Session, command: Command) -> Result<()> {
    session
        .apply(command)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// The session: everybody joins and picks a group, votes on every statement twice
/// (a tenth changing their mind), argues, and upvotes.
fn session(args: &Args) -> Result<Session> {
    let source = deck_source(args.statements);
    let deck = deck::parse("begroting.md", &source).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut session = Session::new(Arc::new(deck));
    let people: Vec<Uuid> = (0..args.participants)
        .map(|i| Uuid::from_u128(i as u128 + 1))
        .collect();
    for (i, &participant) in people.iter().enumerate() {
        run(&mut session, Command::Join { participant })?;
        let group = Some(GROUPS[i % GROUPS.len()].to_owned());
        run(&mut session, Command::ChooseGroup { participant, group })?;
    }
    let per_statement = args.arguments.div_ceil(args.statements.max(1));
    let mut argued = 0;
    for slide in 0..args.statements {
        run(&mut session, Command::GoTo { slide })?;
        run(&mut session, Command::OpenVote)?;
        for round in 1..=2u32 {
            if round == 2 {
                run(&mut session, Command::Revote)?;
            }
            for (i, &participant) in people.iter().enumerate() {
                let changed = round == 2 && i % 10 == 0;
                let option = usize::from((i + slide) % 3 == 0) ^ usize::from(changed);
                run(
                    &mut session,
                    Command::Vote {
                        participant,
                        slide,
                        round,
                        option,
                    },
                )?;
            }
        }
        for k in 0..per_statement.min(args.arguments - argued) {
            let participant = people[k % people.len()];
            argued += 1;
            run(&mut session, Command::Argue {
                participant,
                slide,
                text: format!(
                    "Argument {argued}: wie hier woont merkt het verschil elke dag, in de straat en bij de voorzieningen"
                ),
                now_ms: 1_796_751_000_000 + (slide as u64) * 600_000,
            })?;
            let argument = session.arguments().next_number() - 1;
            run(
                &mut session,
                Command::Moderate {
                    argument,
                    status: Some(Status::Approved),
                },
            )?;
            for upvoter in people.iter().skip(k + 1).take(k % 7) {
                run(
                    &mut session,
                    Command::Upvote {
                        participant: *upvoter,
                        argument,
                    },
                )?;
            }
        }
        run(&mut session, Command::CloseVote)?;
    }
    Ok(session)
}
