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
#[path = "loadgen/servers.rs"]
mod servers;
#[path = "loadgen/workers.rs"]
mod workers;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use stemzaal::store::Durability;
use tokio::sync::watch;
use tokio::time::Instant;

use client::{Plan, ScreenObs};
use cluster::Cluster;
use phones::{Clock, GroupSpec};
use report::Metrics;
use servers::{Kind, ServerProc};
use workers::Fleet;

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

/// How often the WAL's size is read during a run.
const WAL_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One finished run.
struct Outcome {
    kind: Kind,
    metrics: Metrics,
    /// Everything that was not exact; empty when the run is correct.
    problems: Vec<String>,
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
        if secs * args.burst_rate > args.phones as f64 + 0.5 {
            bail!("a burst of {secs} s at {} votes/s needs more phones than --phones (each votes once)", args.burst_rate);
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
    Ok(())
}

/// 127.0.0.0: the source addresses are counted from it.
const LOOPBACK: u32 = 0x7f00_0000;

/// How long before the first vote the plan is handed out: every phone must have it
/// before its first vote is due (a worker's phones get it over a pipe).
const PLAN_LEAD: Duration = Duration::from_millis(300);

/// The same with worker processes: each first reads the plan and wakes its phones.
const WORKERS_PLAN_LEAD: Duration = Duration::from_millis(1_000);

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
    let args = &args;
    let kinds: &[Kind] = match (args.nodes, args.target) {
        (Some(_), _) => &[Kind::Cluster],
        (None, TargetArg::Stemzaal) => &[Kind::Stemzaal],
        (None, TargetArg::Floor) => &[Kind::Floor],
        (None, TargetArg::Both) => &[Kind::Stemzaal, Kind::Floor],
    };
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    println!("loadgen: {command_line}");
    println!("machine: {}", report::machine());
    let mut outcomes: Vec<Outcome> = vec![];
    let mut slot = 0u32;
    for repeat in 0..args.repeat {
        for &kind in kinds {
            // A fresh block of source addresses per run: 127.0.0.2 and up.
            let sources: Vec<Ipv4Addr> = (0..u32::from(args.sources))
                .map(|i| Ipv4Addr::from(LOOPBACK + 2 + slot * u32::from(args.sources) + i))
                .collect();
            slot += 1;
            println!(
                "\n== run {}/{} against {} ({} phones, sources {}..{}) ==",
                repeat + 1,
                args.repeat,
                kind.name(),
                args.phones,
                sources[0],
                sources[sources.len() - 1]
            );
            let noise = wait_quiet(args).await;
            let outcome = run_once(args, kind, sources)
                .await
                .with_context(|| format!("run {} against {}", repeat + 1, kind.name()))?;
            let mut outcome = outcome;
            outcome.metrics.insert("other_cpu_before", noise);
            print_run(&outcome);
            outcomes.push(outcome);
            // Let the kernel finish closing the last run's sockets.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let pick = |k: Kind| -> Vec<&Metrics> {
        outcomes
            .iter()
            .filter(|o| o.kind == k)
            .map(|o| &o.metrics)
            .collect()
    };
    let table = match args.nodes {
        Some(_) => report::table("cluster", &pick(Kind::Cluster), &[]),
        None => report::table("stemzaal", &pick(Kind::Stemzaal), &pick(Kind::Floor)),
    };
    println!(
        "\n== medians of {} run(s) per target ==\n\n{table}",
        args.repeat
    );
    let all_exact = outcomes.iter().all(|o| o.problems.is_empty());
    for o in &outcomes {
        println!(
            "RESULT {}: {}",
            o.kind.name(),
            if o.problems.is_empty() {
                "tally exact, every vote acked".to_owned()
            } else {
                format!("NOT EXACT: {}", o.problems.join("; "))
            }
        );
    }
    if let Some(path) = &args.report {
        let nodes = match args.nodes {
            Some(n) => format!(
                "- nodes: {n} of the release `stemzaal` binary on one `nats-server -js` (replicas 1)\n"
            ),
            None => String::new(),
        };
        let mut md = format!(
            "\n### loadgen run\n\n- command: `{command_line}`\n- machine: {}\n{nodes}- runs per target: {}\n\n{table}\n",
            report::machine(),
            args.repeat
        );
        for (i, o) in outcomes.iter().enumerate() {
            md.push_str(&format!(
                "- run {} {}: {}\n",
                i + 1,
                o.kind.name(),
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
    }
    Ok(all_exact)
}

fn print_run(o: &Outcome) {
    let get = |k: &str| o.metrics.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "{}: {} phones at {:.0}/s; RSS {:.2} kB/phone; burst vote→screen p50 {:.1} p99 {:.1} max {:.1} ms, vote→ack p50 {:.1} p99 {:.1} ms; \
         sustained {:.0} votes/s, ack p50 {:.1} p99 {:.1} ms; send lag p99 {:.1} ms; {}",
        o.kind.name(),
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
        if o.problems.is_empty() {
            "exact".to_owned()
        } else {
            format!("NOT EXACT: {}", o.problems.join("; "))
        }
    );
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

/// CPU seconds used so far by each watched process, the generator (this process and
/// its workers) and the machine.
struct Cpu {
    each: Vec<f64>,
    me: f64,
    machine: f64,
}

fn cpu_of(pids: &[String], workers: &[String]) -> Cpu {
    let secs = |p: &String| report::cpu_secs(p).unwrap_or(f64::NAN);
    Cpu {
        each: pids.iter().map(secs).collect(),
        me: report::cpu_secs("self").unwrap_or(f64::NAN) + workers.iter().map(secs).sum::<f64>(),
        machine: report::machine_busy_secs().unwrap_or(f64::NAN),
    }
}

/// The server(s) of one run: a child of this binary, or a cluster of real nodes.
enum Under {
    One(ServerProc),
    Many(Cluster),
}

impl Under {
    /// Kills every server process (SIGKILL, like a crash).
    fn kill(&mut self) {
        match self {
            Under::One(s) => s.kill(),
            Under::Many(c) => c.kill(),
        }
    }

    /// The SQLite directory of a single stemzaal server.
    fn data_dir(&self) -> Option<&Path> {
        match self {
            Under::One(s) => s.data_dir(),
            Under::Many(_) => None,
        }
    }
}

/// Sum of `field` (kB) of `/proc/PID/status` over the processes.
fn status_sum_kb(pids: &[String], field: &str) -> u64 {
    pids.iter()
        .filter_map(|p| report::proc_status_kb(p, field))
        .sum()
}

/// The name of watched process `i` in the metrics: `node0`, …, then `nats`.
fn proc_key(i: usize, nodes: usize, what: &str) -> &'static str {
    let name = if i < nodes {
        format!("node{i}_{what}")
    } else {
        format!("nats_{what}")
    };
    // A handful of keys per run, for a table whose keys are static strings.
    Box::leak(name.into_boxed_str())
}

/// One run of the whole workload against one server.
async fn run_once(args: &Args, kind: Kind, sources: Vec<Ipv4Addr>) -> Result<Outcome> {
    let mut problems: Vec<String> = vec![];
    let mut metrics = Metrics::new();
    let max_secs = args.deadline_secs + 60;
    // `pids`: the server processes (one, or the nodes); `watched`: also the nats-server.
    let (mut server, code, host_key, screen_key, addrs, pids, watched) = match args.nodes {
        None => {
            let server = ServerProc::start(
                kind,
                args.durability,
                args.floor_nodelay,
                args.server_wrap.as_deref(),
                max_secs,
            )?;
            let info = server.info.clone();
            println!("  server pid {} listening on {}", info.pid, info.addr);
            let pids = vec![info.pid.to_string()];
            (
                Under::One(server),
                info.code,
                info.host_key,
                info.screen_key,
                vec![info.addr],
                pids.clone(),
                pids,
            )
        }
        Some(nodes) => {
            let cluster = tokio::task::spawn_blocking(move || Cluster::start(nodes))
                .await
                .context("starting the cluster")??;
            let addrs = cluster.addrs();
            let pids: Vec<String> = cluster.node_pids().iter().map(u32::to_string).collect();
            for (i, (pid, addr)) in pids.iter().zip(&addrs).enumerate() {
                println!("  node {i} pid {pid} listening on {addr}");
            }
            println!("  nats-server pid {}", cluster.nats_pid());
            let mut watched = pids.clone();
            watched.push(cluster.nats_pid().to_string());
            let (code, host_key, screen_key) = (
                cluster.code.clone(),
                cluster.host_key.clone(),
                cluster.screen_key.clone(),
            );
            (
                Under::Many(cluster),
                code,
                host_key,
                screen_key,
                addrs,
                pids,
                watched,
            )
        }
    };
    let urls: Vec<String> = addrs
        .iter()
        .map(|a| format!("ws://{a}/ws/{code}"))
        .collect();
    let nodes = pids.len();
    let screen_node = usize::from(addrs.len() > 1);
    let n = args.phones;
    let workers = args.workers.unwrap_or(1);

    // Host: show the first statement with results visible.
    let (ws, welcome, first) =
        client::hello(addrs[0], &urls[0], sources[0], Some(&host_key)).await?;
    let slide = welcome["slides"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["kind"] == "statement"))
        .and_then(|s| s["index"].as_u64())
        .context("the host's welcome lists no statement")? as usize;
    let mut host = client::Host::new(ws, first);
    host.send(json!({"type": "go_to", "slide": slide})).await?;
    host.send(json!({"type": "reveal", "visible": true}))
        .await?;
    let state = host
        .wait("the statement with results visible", |s| {
            s.slide.index == slide && s.revealed
        })
        .await?;
    let round = state.slide.round.unwrap_or(1);

    // Screen: records every state it gets.
    let (ws, _, first) = client::hello(
        addrs[screen_node],
        &urls[screen_node],
        sources[0],
        Some(&screen_key),
    )
    .await?;
    let (latest_tx, mut latest) = watch::channel(ScreenObs::default());
    let (stop_screen, stop_rx) = watch::channel(false);
    let screen_task = tokio::spawn(client::screen(ws, first, latest_tx, stop_rx));

    let rss_base = status_sum_kb(&pids, "VmRSS");

    // Ramp, pausing at the checkpoint to read the RSS.
    let clock = Clock::start();
    let spec = GroupSpec {
        phones: n,
        groups: workers,
        index: 0,
        addrs: addrs.clone(),
        urls: urls.clone(),
        sources: sources.clone(),
        connect_concurrency: args.connect_concurrency,
    };
    let mut fleet = Fleet::start(spec, &clock, max_secs).await?;
    let generator = fleet.pids();
    if !generator.is_empty() {
        println!("  worker pids {}", generator.join(" "));
    }
    let low = args.rss_at.min(n / 2);
    let checkpoints: Vec<usize> = if low > 0 && low < n {
        vec![low, n]
    } else {
        vec![n]
    };
    let mut connect_us: Vec<u32> = Vec::with_capacity(n);
    let mut ramp_time = Duration::ZERO;
    let mut readings: Vec<(usize, u64, u64, u64)> = vec![]; // (phones, rss, tcp, slab) kB
    let mut failed = 0usize;
    for &target in &checkpoints {
        let start = Instant::now();
        let step = fleet.ramp_to(target).await?;
        ramp_time += start.elapsed();
        connect_us.extend(step.connect_us);
        if let Some(e) = step.first_error {
            if failed == 0 {
                problems.push(format!("a phone could not connect: {e}"));
            }
        }
        failed += step.failed;
        if step.finished < step.attempts {
            problems.push(format!(
                "only {} of {} connection attempts finished in time",
                step.finished, step.attempts
            ));
        }
        if failed > 0 {
            return Err(fail(&mut server, &problems));
        }
        let joined_target = target as u64;
        // The watch's read guard must not outlive this statement: the screen task
        // could not publish while we sleep below, and would block a worker thread.
        let joined = tokio::time::timeout(
            client::STEP_TIMEOUT,
            latest.wait_for(|o| o.joined >= joined_target),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if !joined {
            problems.push(format!("the screen never showed {target} joined"));
            return Err(fail(&mut server, &problems));
        }
        tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
        let rss = status_sum_kb(&pids, "VmRSS");
        let tcp = report::tcp_mem_kb().unwrap_or(0);
        let slab = report::meminfo_kb("Slab:").unwrap_or(0);
        println!(
            "  {target:>6} phones connected (ramp so far {:.0}/s): server RSS {rss} kB, kernel TCP memory {tcp} kB, slab {slab} kB",
            target as f64 / ramp_time.as_secs_f64()
        );
        readings.push((target, rss, tcp, slab));
    }
    if args.nodes.is_some() {
        // Each node's (and the nats-server's) share of the memory, all phones held.
        for (i, p) in watched.iter().enumerate() {
            let kb = report::proc_status_kb(p, "VmRSS").unwrap_or(0);
            metrics.insert(proc_key(i, nodes, "rss_mb"), kb as f64 / 1024.0);
        }
    }
    metrics.insert("ramp_per_s", n as f64 / ramp_time.as_secs_f64());
    metrics.insert("connect_p99_ms", report::summarize(&connect_us).p99);
    if let [(p0, r0, t0, s0), .., (p1, r1, t1, s1)] = readings[..] {
        let d = (p1 - p0) as f64;
        metrics.insert("rss_per_conn_kb", (r1 as f64 - r0 as f64) / d);
        metrics.insert("sock_per_conn_kb", (t1 as f64 - t0 as f64) / d);
        metrics.insert("slab_per_conn_kb", (s1 as f64 - s0 as f64) / d);
    }
    if let Some(&(_, r, _, _)) = readings.last() {
        metrics.insert("rss_full_mb", r as f64 / 1024.0);
    }
    println!("  server RSS with host and screen only: {rss_base} kB");

    // Open the vote: every phone gets one state.
    let open_at = Instant::now();
    host.send(json!({"type": "open_vote"})).await?;
    let opened = fleet.wait_open().await?;
    if opened < n {
        problems.push(format!("only {opened} of {n} phones saw the vote open"));
    }
    host.wait("the vote open", |s| {
        s.slide.phase.as_deref() == Some("open")
    })
    .await?;

    // The schedule.
    let burst_votes = match args.burst_secs {
        Some(secs) => ((secs * args.burst_rate).round() as u64).min(n as u64),
        None => n as u64,
    };
    let sustain_votes = (args.sustain_secs * args.sustain_rate).round() as u64;
    let lead = if workers > 1 {
        WORKERS_PLAN_LEAD
    } else {
        PLAN_LEAD
    };
    let burst_t0 = Instant::now() + lead;
    let burst_len = Duration::from_secs_f64(burst_votes as f64 / args.burst_rate);
    let sustain_t0 = burst_t0 + burst_len + Duration::from_secs_f64(args.gap_secs);
    let sustain_len = Duration::from_secs_f64(sustain_votes as f64 / args.sustain_rate);
    let plan = Arc::new(Plan {
        slide,
        round,
        phones: n as u64,
        burst_t0,
        burst_rate: args.burst_rate,
        burst_votes,
        sustain_t0,
        sustain_rate: args.sustain_rate,
        sustain_votes,
    });
    fleet.run(&plan, &clock).await?;
    // The WAL's size through the run: it must stay bounded under a sustained load.
    let wal_sampler = server.data_dir().map(|dir| {
        let wal = dir.join(format!("{}-wal", stemzaal::store::DB_FILE));
        let db = dir.join(stemzaal::store::DB_FILE);
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let db_before = size(&db) + size(&wal);
        let until = sustain_t0 + sustain_len;
        tokio::spawn(async move {
            let mut peak = 0u64;
            while Instant::now() < until {
                peak = peak.max(size(&wal));
                tokio::time::sleep(WAL_SAMPLE_EVERY).await;
            }
            (peak, db_before, size(&db) + size(&wal))
        })
    });
    tokio::time::sleep_until(burst_t0).await;
    println!(
        "  burst: {burst_votes} first votes at {}/s",
        args.burst_rate
    );
    let cpu0 = cpu_of(&watched, &generator);
    tokio::time::sleep_until(burst_t0 + burst_len + Duration::from_millis(200)).await;
    let cpu1 = cpu_of(&watched, &generator);
    let burst_cpu_secs = (burst_len + Duration::from_millis(200)).as_secs_f64();
    // Per watched process, in cores; "server" is the sum over the server processes.
    let used = |a: &Cpu, b: &Cpu, secs: f64| -> Vec<f64> {
        a.each
            .iter()
            .zip(&b.each)
            .map(|(a, b)| (b - a) / secs)
            .collect()
    };
    let burst_each = used(&cpu0, &cpu1, burst_cpu_secs);
    metrics.insert("server_cpu_burst", burst_each[..nodes].iter().sum());
    let me = (cpu1.me - cpu0.me) / burst_cpu_secs;
    metrics.insert("loadgen_cpu_burst", me);
    let machine = (cpu1.machine - cpu0.machine) / burst_cpu_secs;
    let others = machine - burst_each.iter().sum::<f64>() - me;
    metrics.insert("other_cpu_burst", others.max(0.0));
    if args.nodes.is_some() {
        for (i, c) in burst_each.iter().enumerate() {
            metrics.insert(proc_key(i, nodes, "cpu_burst"), *c);
        }
    }
    tokio::time::sleep_until(sustain_t0).await;
    println!(
        "  sustained: {sustain_votes} changed votes at {}/s",
        args.sustain_rate
    );
    let cpu2 = cpu_of(&watched, &generator);
    tokio::time::sleep_until(sustain_t0 + sustain_len).await;
    let cpu3 = cpu_of(&watched, &generator);
    if sustain_votes > 0 {
        let secs = sustain_len.as_secs_f64();
        let each = used(&cpu2, &cpu3, secs);
        metrics.insert("server_cpu_sustain", each[..nodes].iter().sum());
        if args.nodes.is_some() {
            for (i, c) in each.iter().enumerate() {
                metrics.insert(proc_key(i, nodes, "cpu_sustain"), *c);
            }
        }
        let me = (cpu3.me - cpu2.me) / secs;
        metrics.insert("loadgen_cpu_sustain", me);
        let machine = (cpu3.machine - cpu2.machine) / secs;
        let others = machine - each.iter().sum::<f64>() - me;
        metrics.insert("other_cpu_sustain", others.max(0.0));
    }

    if let Some(sampler) = wal_sampler {
        let (peak, before, after) = sampler.await.context("the WAL sampler")?;
        let votes = (plan.burst_votes + sustain_votes).max(1);
        metrics.insert("wal_peak_mb", peak as f64 / 1_048_576.0);
        metrics.insert(
            "stored_bytes_per_vote",
            after.saturating_sub(before) as f64 / votes as f64,
        );
        println!(
            "  WAL peak {:.1} MiB; database + WAL grew {:.0} bytes per vote",
            peak as f64 / 1_048_576.0,
            after.saturating_sub(before) as f64 / votes as f64
        );
    }

    // Drain: every vote sent and answered (or a connection lost).
    let total = plan.total();
    let counts = fleet
        .drain(Duration::from_secs_f64(args.drain_secs))
        .await?;
    if !counts.drained
        || counts.sent != total
        || counts.acked != total
        || counts.errors > 0
        || counts.lost > 0
    {
        problems.push(format!(
            "votes scheduled {total}, sent {}, acked {}, refused {}; connections lost {}",
            counts.sent, counts.acked, counts.errors, counts.lost
        ));
    }
    if let Some(p) = counts.first_problem {
        problems.push(p);
    }

    // Stop the phones and collect what they saw (they keep their sockets open).
    let seen = match fleet.finish(&clock).await {
        Ok(seen) => seen,
        Err(e) => {
            problems.push(format!("{e:#}"));
            return Err(fail(&mut server, &problems));
        }
    };
    if seen.phones != n {
        problems.push(format!(
            "{} phone tasks failed",
            n.saturating_sub(seen.phones)
        ));
    }
    // What the phones last chose, as the server acknowledged it.
    let (expected, voters) = (seen.tally, seen.voters);
    if seen.unacked > 0 {
        problems.push(format!("{} votes never acknowledged", seen.unacked));
    }
    metrics.insert("phones_held", n.saturating_sub(counts.lost) as f64);
    metrics.insert("generator_processes", workers as f64);

    // The screen must settle on exactly what the phones last chose.
    let tally_exact = tokio::time::timeout(
        Duration::from_secs(5),
        latest.wait_for(|o| o.revealed && o.voted == voters && o.tally == expected),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let last_screen = *latest.borrow();
    if !tally_exact {
        problems.push(format!(
            "screen shows voted {} tally {:?}, expected voted {voters} tally {expected:?}",
            last_screen.voted, last_screen.tally
        ));
    }
    metrics.insert("tally_exact", f64::from(u8::from(tally_exact)));
    println!(
        "  final tally A={} B={} from {voters} phones: screen shows A={} B={} ({})",
        expected[0],
        expected[1],
        last_screen.tally[0],
        last_screen.tally[1],
        if tally_exact { "exact" } else { "NOT exact" }
    );
    stop_screen.send_replace(true);
    let (screen_obs, _screen_ws) = screen_task.await.context("the screen task")?;
    host.abort();

    for (i, p) in watched.iter().enumerate() {
        if let Some(peak) = report::proc_status_kb(p, "VmHWM") {
            let who = match (args.nodes, i < nodes) {
                (None, _) => "server".to_owned(),
                (Some(_), true) => format!("node {i}"),
                (Some(_), false) => "nats-server".to_owned(),
            };
            println!("  {who} peak RSS {peak} kB");
        }
    }
    // Kill the server like a crash; only then close our sockets.
    match &mut server {
        Under::One(s) => s.kill(),
        Under::Many(cluster) => {
            // Every node dies; a fresh one must find every acked vote in the log.
            cluster.kill_nodes();
            let exported = tokio::task::block_in_place(|| cluster.exported_counts());
            let counts = match exported {
                Ok(c) => c,
                Err(e) => {
                    problems.push(format!("the export from a fresh node failed: {e:#}"));
                    vec![]
                }
            };
            let exact = counts == expected;
            metrics.insert("exported_exact", f64::from(u8::from(exact)));
            println!(
                "  exported by a fresh node after SIGKILL of every node: counts {counts:?} ({})",
                if exact { "exact" } else { "NOT exact" }
            );
            if !exact && !counts.is_empty() {
                problems.push(format!(
                    "the fresh node exports counts {counts:?}, expected {expected:?}"
                ));
            }
            cluster.kill();
        }
    }

    if let Some(dir) = server.data_dir() {
        let stored = stored_tally(dir, &code, slide)?;
        let exact = stored == (voters, expected);
        metrics.insert("stored_exact", f64::from(u8::from(exact)));
        println!(
            "  replayed from SQLite after {}: voted {} A={} B={} ({})",
            if args.server_wrap.is_some() {
                "it stopped"
            } else {
                "SIGKILL"
            },
            stored.0,
            stored.1[0],
            stored.1[1],
            if exact { "exact" } else { "NOT exact" }
        );
        if !exact {
            problems.push(format!(
                "SQLite holds voted {} tally {:?}, expected {voters} {expected:?}",
                stored.0, stored.1
            ));
        }
    }

    // Latencies.
    let (burst_ack, sustain_ack, send_lag) =
        (&seen.burst_ack_us, &seen.sustain_ack_us, &seen.send_lag_us);
    let open_us = clock.us(open_at);
    let fanout: Vec<u32> = seen
        .opened_at_us
        .iter()
        .map(|&t| (t - open_us).clamp(0, i64::from(u32::MAX)) as u32)
        .collect();
    let fan = report::summarize(&fanout);
    metrics.insert("open_fanout_p99_ms", fan.p99);
    metrics.insert("open_fanout_max_ms", fan.max);
    metrics.insert("burst_rate", args.burst_rate);
    let screen_us = vote_to_screen(&plan, &screen_obs);
    if (screen_us.len() as u64) < burst_votes {
        problems.push(format!(
            "the screen showed only {} of {burst_votes} burst votes",
            screen_us.len()
        ));
    }
    let s = report::summarize(&screen_us);
    metrics.insert("burst_screen_p50_ms", s.p50);
    metrics.insert("burst_screen_p99_ms", s.p99);
    metrics.insert("burst_screen_p999_ms", s.p999);
    metrics.insert("burst_screen_max_ms", s.max);
    let a = report::summarize(burst_ack);
    metrics.insert("burst_ack_p50_ms", a.p50);
    metrics.insert("burst_ack_p99_ms", a.p99);
    metrics.insert("burst_ack_max_ms", a.max);
    if sustain_votes > 0 {
        let a = report::summarize(sustain_ack);
        metrics.insert("sustain_ack_p50_ms", a.p50);
        metrics.insert("sustain_ack_p99_ms", a.p99);
        metrics.insert("sustain_ack_max_ms", a.max);
        // Throughput between the first and the last ack of the sustained phase: equal
        // to the offered rate while the server keeps up, lower when acks fall behind.
        let first = seen.first_sustain_ack_us;
        let last = seen.last_sustain_ack_us;
        if let (Some(first), Some(last)) = (first, last) {
            let secs = (last - first).max(0) as f64 / 1e6;
            if a.count > 1 && secs > 0.0 {
                metrics.insert(
                    "sustain_rate",
                    report::three_digits((a.count - 1) as f64 / secs),
                );
            }
        }
        let window: Vec<Instant> = screen_obs
            .iter()
            .filter_map(|o| o.at)
            .filter(|&t| t >= sustain_t0 && t <= sustain_t0 + sustain_len)
            .collect();
        let gap = window
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        metrics.insert("sustain_screen_gap_max_ms", gap.as_secs_f64() * 1000.0);
    }
    metrics.insert("send_lag_p99_ms", report::summarize(send_lag).p99);
    Ok(Outcome {
        kind,
        metrics,
        problems,
    })
}

/// Kills the server(s) and turns the problems so far into an error.
fn fail(server: &mut Under, problems: &[String]) -> anyhow::Error {
    server.kill();
    anyhow::anyhow!("{}", problems.join("; "))
}

/// vote→screen latency of each burst vote, µs. Vote `k` counts as on screen at the
/// first screen state whose `voted` reaches `k + 1`: the number of votes scheduled up
/// to and including `k`. Votes are scheduled in order, so that state is the first in
/// which the screen can account for vote `k`; latency runs from `k`'s scheduled time.
fn vote_to_screen(plan: &Plan, obs: &[ScreenObs]) -> Vec<u32> {
    let mut out = Vec::with_capacity(plan.burst_votes as usize);
    let mut i = 0usize;
    for k in 0..plan.burst_votes {
        while i < obs.len() && (obs[i].voted < k + 1 || obs[i].at.is_none()) {
            i += 1;
        }
        let Some(at) = obs.get(i).and_then(|o| o.at) else {
            break;
        };
        let due = plan.due(k);
        out.push(
            at.saturating_duration_since(due)
                .as_micros()
                .min(u32::MAX as u128) as u32,
        );
    }
    out
}

/// Voters and tally of `slide` in the current round, replayed from the stored events.
/// Call it once the server is gone: until then its store holds the directory.
fn stored_tally(dir: &std::path::Path, code: &str, slide: usize) -> Result<(u64, [u64; 2])> {
    let store = stemzaal::store::Store::open(dir, Durability::Normal)?;
    let stored = store
        .load_all()?
        .into_iter()
        .find(|s| s.record.code == code)
        .context("the session is not in the database")?;
    let (session, unfit) = stored.replay()?;
    if let Some((number, why)) = unfit.first() {
        anyhow::bail!("stored event {} cannot be applied: {why}", number + 1);
    }
    let round = session
        .statement(slide)
        .context("the slide is not a statement")?
        .current();
    let counts = &round.counts;
    Ok((
        round.votes.len() as u64,
        [
            counts.first().copied().unwrap_or(0),
            counts.get(1).copied().unwrap_or(0),
        ],
    ))
}
