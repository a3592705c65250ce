//! `loadgen`: how many phones stemzaal holds on this machine, and how fast the screen
//! follows their votes, measured against a bare fan-out floor in the same run.
//!
//! Each run starts a server in its own process (`loadgen serve-stemzaal` or
//! `loadgen serve-floor`, this same binary), then: connects a host and a screen, ramps
//! to `--phones` participant connections spread over several 127.0.0.x source
//! addresses (measuring connections per second and the server's RSS at two
//! checkpoints), opens the vote, sends a burst of first votes and then a sustained
//! stream of changed votes **open-loop** (each vote has a scheduled time and latency
//! counts from it), and finally checks that every vote was acknowledged and that the
//! screen's tally, and for stemzaal the tally replayed from its SQLite file after a
//! SIGKILL, equals what the phones last chose. It exits non-zero if any of that is not
//! exact; speed is reported, never asserted. `docs/PERFORMANCE.md` has the results.
//!
//! With `--arguments A` it measures what upvotes cost during the votes instead: the
//! last A phones vote and argue before the burst, the host approves every argument,
//! and from the burst's start phones upvote them open-loop (`--upvotes-per-sec`,
//! `--upvote-secs`) while every phone counts the bytes and messages it receives. Each
//! repeat then runs stemzaal twice, without and with the upvotes (see `upvotes`). With
//! `--questions Q` the first Q arguers also ask a question, the host approves those
//! too, and the upvotes go round the arguments and questions alike.
//!
//! With `--nodes N` it measures the real `stemzaal` binary in cluster mode instead:
//! one `nats-server` with JetStream and N nodes serving one session (host on node 0,
//! screen on node 1, phone `i` on node `i % N`). The stored-tally check then kills
//! every node, starts a fresh one on the same NATS and reads the session's export
//! from it: the log must hold every acknowledged vote.
//!
//! Past what one process may hold open (`ulimit -Hn`), the phones live in worker
//! processes (`loadgen phones`, this same binary), each holding every `W`-th phone,
//! all voting on one schedule; they hand every sample back and the report is one.

#![forbid(unsafe_code)]

#[path = "loadgen/client.rs"]
mod client;
#[path = "loadgen/cluster.rs"]
mod cluster;
#[path = "loadgen/phones.rs"]
mod phones;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/run.rs"]
mod run;
#[path = "loadgen/servers.rs"]
mod servers;
#[path = "loadgen/upvotes.rs"]
mod upvotes;
#[path = "loadgen/workers.rs"]
mod workers;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use stemzaal::store::Durability;
use tokio::time::Instant;

use report::Metrics;
use run::Outcome;
use servers::Kind;

/// Load generator for stemzaal: holds N phones on WebSockets, drives votes open-loop
/// and reports latency, memory and correctness against a bare fan-out floor.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Example (the measurement in docs/PERFORMANCE.md):\n  \
        cargo run --release -p stemzaal-bench --bin loadgen -- --phones 19000 --repeat 3 --report perf.md"
)]
struct Cli {
    #[command(subcommand)]
    child: Option<ChildRole>,
    #[command(flatten)]
    args: Args,
}

/// The processes this binary starts of itself (hidden from `--help`).
#[derive(Subcommand, Debug)]
enum ChildRole {
    /// Run the stemzaal server (library, built-in deck) on 127.0.0.1:0.
    #[command(hide = true)]
    ServeStemzaal {
        /// Data directory for the SQLite file.
        #[arg(long)]
        data: PathBuf,
        /// Durability of a commit.
        #[arg(long, value_enum, default_value_t = Durability::Normal)]
        durability: Durability,
        /// Stop after this many seconds whatever happens.
        #[arg(long, default_value_t = 3600)]
        max_secs: u64,
    },
    /// Run the bare fan-out floor on 127.0.0.1:0.
    #[command(hide = true)]
    ServeFloor {
        /// Set TCP_NODELAY on accepted sockets.
        #[arg(long)]
        nodelay: bool,
        /// Stop after this many seconds whatever happens.
        #[arg(long, default_value_t = 3600)]
        max_secs: u64,
    },
    /// Hold a share of the phones, driven over stdin and stdout by the generator.
    #[command(hide = true)]
    Phones {
        /// Stop after this many seconds whatever happens.
        #[arg(long, default_value_t = 3600)]
        max_secs: u64,
    },
}

/// Which servers to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetArg {
    /// The stemzaal server only.
    Stemzaal,
    /// The bare fan-out floor only.
    Floor,
    /// Both, alternating (stemzaal first), with ratios in the table.
    Both,
}

/// What the phones do in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// Vote (the default workload).
    Votes,
    /// Vote, with `--arguments` approved before the burst and nobody upvoting: the
    /// upvote workload's baseline.
    Arguments,
    /// Vote, and upvote the approved arguments from the burst's start.
    Upvotes,
}

/// The workload. Every option has a default that reproduces docs/PERFORMANCE.md.
#[derive(clap::Args, Debug, Clone)]
struct Args {
    /// Participant connections to hold. The server (or each node its share) and the
    /// generator need one file per phone, and one process may hold only so many
    /// (`ulimit -Hn`): past that the generator spreads the phones over `--workers`
    /// processes.
    #[arg(long, default_value_t = 19_000)]
    phones: usize,
    /// Generator processes holding the phones, phone `i` in process `i % W`, all
    /// voting on one schedule, with one merged report. By default the fewest the
    /// open-file limit allows: 1 (the phones in this process) up to ~19,900 phones.
    #[arg(long)]
    workers: Option<usize>,
    /// Which server(s) to measure.
    #[arg(long, value_enum, default_value_t = TargetArg::Both)]
    target: TargetArg,
    /// Measure a cluster instead (`--target` is then ignored): one `nats-server -js`
    /// (found on the PATH or in /usr/sbin) and this many nodes of the release
    /// `stemzaal` binary next to this one (`cargo build --release` first), all serving
    /// one session. Host on node 0, screen on node 1, phones round-robin over the
    /// nodes. The real binary limits new participants per address (600 at once), so
    /// `--sources` is raised to at least one per 500 phones.
    #[arg(long)]
    nodes: Option<usize>,
    /// Run the whole workload this many times per target; the table shows medians.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Number of source addresses (127.0.0.2 and up) to spread phones over, each good
    /// for ~28k ports; every run uses a fresh set so no port is reused while in
    /// TIME_WAIT. With several `--workers` it is rounded up to a multiple of them, so
    /// no two workers share an address.
    #[arg(long, default_value_t = 8)]
    sources: u16,
    /// Connection attempts in flight during the ramp. Keep it below the server's
    /// listen backlog (128, what std and tokio use): past it the kernel drops SYNs and
    /// the phones retry only after a second.
    #[arg(long, default_value_t = 120)]
    connect_concurrency: usize,
    /// First RSS checkpoint (phones connected); the per-connection memory is the slope
    /// between it and `--phones`.
    #[arg(long, default_value_t = 5_000)]
    rss_at: usize,
    /// Quiet time before each RSS reading, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    settle_ms: u64,
    /// Votes per second in the burst (each phone's first vote).
    #[arg(long, default_value_t = 10_000.0)]
    burst_rate: f64,
    /// Length of the burst in seconds; by default long enough for every phone to vote
    /// once (`phones / burst-rate`). At most that.
    #[arg(long)]
    burst_secs: Option<f64>,
    /// Pause between the burst and the sustained phase, in seconds.
    #[arg(long, default_value_t = 2.0)]
    gap_secs: f64,
    /// Votes per second in the sustained phase (phones round-robin, each vote changes
    /// the phone's choice, so every vote is a new event to store).
    #[arg(long, default_value_t = 20_000.0)]
    sustain_rate: f64,
    /// Length of the sustained phase in seconds (0 skips it).
    #[arg(long, default_value_t = 30.0)]
    sustain_secs: f64,
    /// How long to wait for the last acks after the last scheduled vote, in seconds.
    #[arg(long, default_value_t = 20.0)]
    drain_secs: f64,
    /// Durability of stemzaal's commits (`full` adds an fsync per transaction).
    #[arg(long, value_enum, default_value_t = Durability::Normal)]
    durability: Durability,
    /// Set TCP_NODELAY on the floor's accepted sockets (off by default, like the
    /// stemzaal server at the time of writing), to compare with a server that sets it.
    #[arg(long)]
    floor_nodelay: bool,
    /// Start the server under this command, e.g. `valgrind --tool=massif` or
    /// `perf record -g -o perf.data`; at the end it is stopped by closing its stdin
    /// (not SIGKILL), so the tool can write its output.
    #[arg(long)]
    server_wrap: Option<String>,
    /// Before each run, wait until the rest of the machine uses fewer than this many
    /// CPU cores (measured over 2 s), so a neighbour's build does not end up in the
    /// figures; gives up waiting after `--quiet-wait-secs`. Off by default.
    #[arg(long)]
    quiet_below: Option<f64>,
    /// Longest wait for `--quiet-below`, in seconds; then the run starts anyway.
    #[arg(long, default_value_t = 600)]
    quiet_wait_secs: u64,
    /// Give up (and fail) if everything together takes longer than this, in seconds.
    #[arg(long, default_value_t = 3_600)]
    deadline_secs: u64,
    /// Also append the results as Markdown to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The upvote workload: before the burst the last this-many phones vote and argue
    /// and the host approves every argument (at most 50, what phones list); then phones
    /// upvote them during the votes, and every phone counts what it receives. Each
    /// repeat runs stemzaal without, then with the upvotes (not the floor, which knows
    /// no arguments; not with `--nodes`). 0 (the default) leaves it out.
    #[arg(long, default_value_t = 0)]
    arguments: usize,
    /// Upvotes per second, all phones together, from the burst's start (open-loop,
    /// round-robin over the phones, each phone upvoting an argument at most once).
    #[arg(long, default_value_t = 500.0)]
    upvotes_per_sec: f64,
    /// Length of the upvote window in seconds: upvotes are sent, and every phone counts
    /// the bytes and messages it receives, from the burst's start for this long. The
    /// sustained phase is lengthened if the votes would end sooner.
    #[arg(long, default_value_t = 30.0)]
    upvote_secs: f64,
    /// With `--arguments`: the first this-many arguing phones also ask a question, the
    /// host opens questions before and approves them, and the upvotes go round the
    /// arguments and the questions alike (at most 50; 0 leaves questions out).
    #[arg(long, default_value_t = 0)]
    questions: usize,
    /// With `--arguments`, skip the run without upvotes (half the time, no comparison).
    #[arg(long)]
    no_upvote_baseline: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.child {
        Some(ChildRole::ServeStemzaal {
            data,
            durability,
            max_secs,
        }) => servers::serve_stemzaal(&data, durability, max_secs),
        Some(ChildRole::ServeFloor { nodelay, max_secs }) => {
            servers::serve_floor(nodelay, max_secs)
        }
        Some(ChildRole::Phones { max_secs }) => workers::serve_worker(max_secs),
        None => return generate(cli.args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen child: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: Args) -> ExitCode {
    if let Err(e) = check_args(&args) {
        eprintln!("loadgen: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = Duration::from_secs(args.deadline_secs);
    let outcome = runtime.block_on(async {
        match tokio::time::timeout(deadline, run_all(&args)).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "the overall deadline of {} s passed",
                args.deadline_secs
            )),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("loadgen: FAILED: a run was not exact (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_args(args: &Args) -> Result<()> {
    let limit = servers::raise_nofile();
    if args.phones == 0 {
        bail!("--phones must be at least 1");
    }
    if args.workers == Some(0) {
        bail!("--workers must be at least 1");
    }
    // Each process needs one file per phone it holds plus a few dozen of its own.
    let fits = |phones: usize| phones as u64 + OWN_FILES <= limit;
    let per_server = args.phones.div_ceil(args.nodes.unwrap_or(1).max(1));
    if !fits(per_server) {
        bail!(
            "{per_server} phones per server process need {} open files, but the limit is {limit} (ulimit -Hn){}",
            per_server as u64 + OWN_FILES,
            if args.nodes.is_some() { "" } else { ": spread them over --nodes" }
        );
    }
    let per_worker = args.phones.div_ceil(workers_for(args, limit));
    if !fits(per_worker) {
        bail!(
            "{per_worker} phones per generator process need {} open files, but the limit is {limit} (ulimit -Hn): raise --workers",
            per_worker as u64 + OWN_FILES
        );
    }
    if args.sources == 0 || args.sources > MAX_SOURCES {
        bail!("--sources must be 1..={MAX_SOURCES}");
    }
    if args.repeat as u64 * 3 * u64::from(args.sources) >= 1 << 23 {
        bail!("--repeat × --sources would leave 127.0.0.0/8");
    }
    if args.burst_rate <= 0.0 || args.sustain_rate <= 0.0 {
        bail!("rates must be positive");
    }
    if let Some(secs) = args.burst_secs {
        if secs * args.burst_rate > (args.phones - args.arguments.min(args.phones)) as f64 + 0.5 {
            bail!("a burst of {secs} s at {} votes/s needs more phones than --phones less --arguments (each votes once)", args.burst_rate);
        }
    }
    if args.nodes == Some(0) {
        bail!("--nodes must be at least 1");
    }
    if args.nodes.is_some() && args.server_wrap.is_some() {
        bail!("--server-wrap does not go with --nodes");
    }
    if args.repeat == 0 || args.connect_concurrency == 0 {
        bail!("--repeat and --connect-concurrency must be at least 1");
    }
    check_upvote_args(args)
}

/// The upvote workload's options fit the run.
fn check_upvote_args(args: &Args) -> Result<()> {
    if args.arguments == 0 {
        return Ok(());
    }
    if args.arguments > upvotes::MAX_ARGUMENTS || args.arguments >= args.phones {
        bail!(
            "--arguments must be at most {} and fewer than --phones",
            upvotes::MAX_ARGUMENTS
        );
    }
    if args.nodes.is_some() || args.target == TargetArg::Floor {
        bail!("--arguments measures stemzaal only: not with --nodes or --target floor");
    }
    if args.upvotes_per_sec <= 0.0 || args.upvote_secs <= 0.0 {
        bail!("--upvotes-per-sec and --upvote-secs must be positive");
    }
    if args.questions > upvotes::MAX_QUESTIONS || args.questions > args.arguments {
        bail!(
            "--questions must be at most {} and at most --arguments (the arguers ask)",
            upvotes::MAX_QUESTIONS
        );
    }
    let items = args.arguments + args.questions;
    let most = (args.phones * items) as u64;
    if upvote_count(args) > most {
        bail!(
            "{} upvotes, but {} phones can upvote {items} arguments and questions only {most} times (each once)",
            upvote_count(args),
            args.phones,
        );
    }
    if args.questions > 0 && upvote_count(args) > (args.phones - args.arguments) as u64 {
        bail!(
            "with --questions, {} upvotes need as many phones besides the {} arguers, who ask (nobody upvotes their own question)",
            upvote_count(args),
            args.arguments
        );
    }
    Ok(())
}

/// Votes in the burst: each phone's first vote, from the phones that did not vote
/// before it (the arguers did), or as many as `--burst-secs` holds.
fn burst_votes(args: &Args) -> u64 {
    let voters = (args.phones - args.arguments) as u64;
    match args.burst_secs {
        Some(secs) => ((secs * args.burst_rate).round() as u64).min(voters),
        None => voters,
    }
}

/// Upvotes scheduled in the upvote window.
fn upvote_count(args: &Args) -> u64 {
    (args.upvotes_per_sec * args.upvote_secs).round() as u64
}

/// 127.0.0.0: the source addresses are counted from it.
const LOOPBACK: u32 = 0x7f00_0000;

/// Files a process of the run needs besides one per phone.
const OWN_FILES: u64 = 64;

/// The most source addresses a run may use: runs take fresh blocks of them from
/// 127.0.0.2 on, which stays far inside 127.0.0.0/8.
const MAX_SOURCES: u16 = 4_096;

/// `--workers`, or the fewest generator processes whose share of the phones fits
/// under the open-file limit.
fn workers_for(args: &Args, limit: u64) -> usize {
    args.workers.unwrap_or_else(|| {
        let per_process = limit.saturating_sub(OWN_FILES).max(1) as usize;
        args.phones.div_ceil(per_process)
    })
}

async fn run_all(args: &Args) -> Result<bool> {
    let args = &adjust_args(args)?;
    let runs = runs_per_repeat(args);
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    println!("loadgen: {command_line}");
    println!("machine: {}", report::machine());
    let mut outcomes: Vec<Outcome> = vec![];
    let mut slot = 0u32;
    for repeat in 0..args.repeat {
        for &(kind, workload) in &runs {
            // A fresh block of source addresses per run: 127.0.0.2 and up.
            let sources: Vec<Ipv4Addr> = (0..u32::from(args.sources))
                .map(|i| Ipv4Addr::from(LOOPBACK + 2 + slot * u32::from(args.sources) + i))
                .collect();
            slot += 1;
            let name = run_name(kind, workload);
            println!(
                "\n== run {}/{} against {name} ({} phones, sources {}..{}) ==",
                repeat + 1,
                args.repeat,
                args.phones,
                sources[0],
                sources[sources.len() - 1]
            );
            let noise = wait_quiet(args).await;
            let mut outcome = run::run_once(args, kind, workload, sources)
                .await
                .with_context(|| format!("run {} against {name}", repeat + 1))?;
            outcome.metrics.insert("other_cpu_before", noise);
            print_run(&outcome);
            outcomes.push(outcome);
            // Let the kernel finish closing the last run's sockets.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let table = results_table(args, &outcomes);
    println!(
        "\n== medians of {} run(s) per target ==\n\n{table}",
        args.repeat
    );
    let all_exact = outcomes.iter().all(|o| o.problems.is_empty());
    for o in &outcomes {
        println!(
            "RESULT {}: {}",
            run_name(o.kind, o.workload),
            if o.problems.is_empty() {
                exact_text(o)
            } else {
                format!("NOT EXACT: {}", o.problems.join("; "))
            }
        );
    }
    if let Some(path) = &args.report {
        write_report(path, args, &command_line, &table, &outcomes)?;
    }
    Ok(all_exact)
}

/// The arguments as the runs use them: `--sources` raised where the nodes or the
/// workers need more, `--workers` decided, and the sustained phase long enough to
/// cover the upvote window.
fn adjust_args(args: &Args) -> Result<Args> {
    let mut args = args.clone();
    if args.nodes.is_some() {
        // Each node lets one address create 600 participants at once, then 50/s.
        let needed = args.phones.div_ceil(500).min(usize::from(MAX_SOURCES)) as u16;
        if args.sources < needed {
            println!(
                "loadgen: --sources raised from {} to {needed} (at most 500 new phones per address)",
                args.sources
            );
            args.sources = needed;
        }
    }
    let workers = workers_for(&args, servers::raise_nofile());
    args.workers = Some(workers);
    if workers > 1 {
        let rounded = usize::from(args.sources).next_multiple_of(workers);
        let rounded = u16::try_from(rounded).context("too many --sources for --workers")?;
        if rounded != args.sources {
            println!(
                "loadgen: --sources raised from {} to {rounded} (a multiple of the {workers} workers)",
                args.sources
            );
            args.sources = rounded;
        }
        println!(
            "loadgen: the phones are held by {workers} worker processes, phone i in worker i % {workers}"
        );
    }
    if args.arguments > 0 {
        // The upvotes start with the burst; the votes go on at least as long.
        let burst = burst_votes(&args) as f64 / args.burst_rate;
        let needed = args.upvote_secs - burst - args.gap_secs;
        if args.sustain_secs < needed {
            let secs = needed.ceil();
            println!(
                "loadgen: --sustain-secs raised from {} to {secs}, so the votes last the whole upvote window",
                args.sustain_secs
            );
            args.sustain_secs = secs;
        }
    }
    Ok(args)
}

/// The runs of one repeat, in order: stemzaal and the floor (or the cluster); with
/// `--arguments`, stemzaal without and with upvotes.
fn runs_per_repeat(args: &Args) -> Vec<(Kind, Workload)> {
    if args.arguments > 0 {
        let mut runs = vec![];
        if !args.no_upvote_baseline {
            runs.push((Kind::Stemzaal, Workload::Arguments));
        }
        runs.push((Kind::Stemzaal, Workload::Upvotes));
        return runs;
    }
    let kinds: &[Kind] = match (args.nodes, args.target) {
        (Some(_), _) => &[Kind::Cluster],
        (None, TargetArg::Stemzaal) => &[Kind::Stemzaal],
        (None, TargetArg::Floor) => &[Kind::Floor],
        (None, TargetArg::Both) => &[Kind::Stemzaal, Kind::Floor],
    };
    kinds.iter().map(|&k| (k, Workload::Votes)).collect()
}

/// A run's name in the output: the server, and with `--arguments` the workload.
fn run_name(kind: Kind, workload: Workload) -> String {
    match workload {
        Workload::Votes => kind.name().to_owned(),
        Workload::Arguments => format!("{} without upvotes", kind.name()),
        Workload::Upvotes => format!("{} with upvotes", kind.name()),
    }
}

/// What a run without problems confirmed.
fn exact_text(o: &Outcome) -> String {
    match o.workload {
        Workload::Votes => "tally exact, every vote acked".to_owned(),
        Workload::Arguments | Workload::Upvotes => format!(
            "tally exact, every vote acked, every upvote answered ok ({})",
            report::fmt_num(o.metrics.get("upvotes_ok").copied().unwrap_or(0.0))
        ),
    }
}

/// The table of medians over the runs.
fn results_table(args: &Args, outcomes: &[Outcome]) -> String {
    let pick = |k: Kind, w: Workload| -> Vec<&Metrics> {
        outcomes
            .iter()
            .filter(|o| o.kind == k && o.workload == w)
            .map(|o| &o.metrics)
            .collect()
    };
    match (args.nodes, args.arguments) {
        (Some(_), _) => report::table("cluster", &pick(Kind::Cluster, Workload::Votes), "", &[]),
        (None, 0) => report::table(
            "stemzaal",
            &pick(Kind::Stemzaal, Workload::Votes),
            "floor",
            &pick(Kind::Floor, Workload::Votes),
        ),
        (None, _) => report::table(
            "with upvotes",
            &pick(Kind::Stemzaal, Workload::Upvotes),
            "without upvotes",
            &pick(Kind::Stemzaal, Workload::Arguments),
        ),
    }
}

/// Appends the table and every run's metrics to `path` as Markdown.
fn write_report(
    path: &Path,
    args: &Args,
    command_line: &str,
    table: &str,
    outcomes: &[Outcome],
) -> Result<()> {
    let nodes = match args.nodes {
        Some(n) => format!(
            "- nodes: {n} of the release `stemzaal` binary on one `nats-server -js` (replicas 1)\n"
        ),
        None => String::new(),
    };
    let upvotes = match args.arguments {
        0 => String::new(),
        a => format!(
            "- upvote workload: {a} approved arguments, {} upvotes/s for {} s from the burst's start; \
             \"without upvotes\" is the same run with the arguments approved and no upvotes\n",
            args.upvotes_per_sec, args.upvote_secs
        ),
    };
    let mut md = format!(
        "\n### loadgen run\n\n- command: `{command_line}`\n- machine: {}\n{nodes}{upvotes}- runs per target: {}\n\n{table}\n",
        report::machine(),
        args.repeat
    );
    for (i, o) in outcomes.iter().enumerate() {
        md.push_str(&format!(
            "- run {} {}: {}\n",
            i + 1,
            run_name(o.kind, o.workload),
            o.metrics
                .iter()
                .map(|(k, v)| format!("{k}={}", report::fmt_num(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(md.as_bytes())?;
    println!("appended to {}", path.display());
    Ok(())
}

fn print_run(o: &Outcome) {
    let get = |k: &str| o.metrics.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "{}: {} phones at {:.0}/s; RSS {:.2} kB/phone; burst vote→screen p50 {:.1} p99 {:.1} max {:.1} ms, vote→ack p50 {:.1} p99 {:.1} ms; \
         sustained {:.0} votes/s, ack p50 {:.1} p99 {:.1} ms; send lag p99 {:.1} ms; \
         others used {:.2} / {:.2} / {:.2} cores (before / burst / sustained); {}",
        run_name(o.kind, o.workload),
        get("phones_held"),
        get("ramp_per_s"),
        get("rss_per_conn_kb"),
        get("burst_screen_p50_ms"),
        get("burst_screen_p99_ms"),
        get("burst_screen_max_ms"),
        get("burst_ack_p50_ms"),
        get("burst_ack_p99_ms"),
        get("sustain_rate"),
        get("sustain_ack_p50_ms"),
        get("sustain_ack_p99_ms"),
        get("send_lag_p99_ms"),
        get("other_cpu_before"),
        get("other_cpu_burst"),
        get("other_cpu_sustain"),
        if o.problems.is_empty() {
            "exact".to_owned()
        } else {
            format!("NOT EXACT: {}", o.problems.join("; "))
        }
    );
    if o.workload != Workload::Votes {
        println!(
            "  per phone in the upvote window: {:.1} kB/s median, {:.1} max; {:.1} messages/s median ({:.1} states/s); \
             all phones {:.1} MB/s; upvotes ok {}, refused {}, upvote→ok p99 {:.1} ms",
            get("phone_kb_per_s_p50"),
            get("phone_kb_per_s_max"),
            get("phone_msgs_per_s_p50"),
            get("phone_states_per_s_p50"),
            get("egress_mb_per_s"),
            get("upvotes_ok"),
            get("upvotes_refused"),
            get("upvote_ok_p99_ms"),
        );
    }
}

/// Cores the machine used over the last two seconds (nothing of ours runs then).
async fn machine_load() -> f64 {
    let a = report::machine_busy_secs().unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = report::machine_busy_secs().unwrap_or(0.0);
    (b - a) / 2.0
}

/// With `--quiet-below`, waits (bounded) for a quiet machine; returns the load seen.
async fn wait_quiet(args: &Args) -> f64 {
    let Some(limit) = args.quiet_below else {
        return machine_load().await;
    };
    let end = Instant::now() + Duration::from_secs(args.quiet_wait_secs);
    loop {
        let load = machine_load().await;
        if load < limit {
            return load;
        }
        if Instant::now() >= end {
            println!(
                "  the machine is still busy ({load:.2} cores used by others); running anyway"
            );
            return load;
        }
        println!("  waiting for a quiet machine: others use {load:.2} cores");
    }
}
