//! One run of the workload against one server, phase by phase: start the server(s),
//! connect host and screen, ramp the phones, open the vote, (with `--arguments`) let
//! some phones argue and the host approve, vote (and upvote) on the plan while reading
//! CPU and the WAL, drain, and check what the screen, the host and the store hold.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use stemzaal::store::Durability;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{self, Host, Plan, ScreenObs, Ws};
use crate::cluster::Cluster;
use crate::phones::{Clock, Counts, GroupReport, GroupSpec};
use crate::report::{self, Metrics};
use crate::servers::{Kind, ServerProc};
use crate::upvotes::{self, Setup, UpvotePlan};
use crate::workers::Fleet;
use crate::{Args, Workload};

/// How often the WAL's size is read during a run.
const WAL_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// How long before the first vote the plan is handed out: every phone must have it
/// before its first vote is due (a worker's phones get it over a pipe).
const PLAN_LEAD: Duration = Duration::from_millis(300);

/// The same with worker processes: each first reads the plan and wakes its phones.
const WORKERS_PLAN_LEAD: Duration = Duration::from_millis(1_000);

/// One finished run.
pub struct Outcome {
    /// The server measured.
    pub kind: Kind,
    /// What the phones did.
    pub workload: Workload,
    /// The figures.
    pub metrics: Metrics,
    /// Everything that was not exact; empty when the run is correct.
    pub problems: Vec<String>,
}

/// One run of the whole workload against one server.
pub async fn run_once(
    args: &Args,
    kind: Kind,
    workload: Workload,
    sources: Vec<Ipv4Addr>,
) -> Result<Outcome> {
    let mut run = Run::start(args, kind, workload).await?;
    let mut stage = run.stage(&sources).await?;
    let mut fleet = run.ramp(&mut stage, &sources).await?;
    run.open_vote(&mut fleet, &mut stage).await?;
    let arguments = match workload {
        Workload::Votes => None,
        Workload::Arguments | Workload::Upvotes => {
            Some(run.arguments(&mut fleet, &mut stage).await?)
        }
    };
    let plan = Arc::new(run.plan(arguments, &stage));
    fleet.run(&plan, &run.clock).await?;
    let wal = run.sample_wal(&plan);
    run.measure_cpu(&plan, &fleet.pids()).await;
    run.wal_result(wal, &plan).await?;
    let (counts, seen) = run.drain(&mut fleet, &plan).await?;
    // The screen's socket stays open until the server is gone, like the phones'.
    let (screen_obs, _screen_ws) = run.check_views(&counts, &seen, stage).await?;
    run.check_stored(&plan, &counts, &seen)?;
    run.latencies(&plan, &seen, &screen_obs);
    if let Some(up) = &plan.upvotes {
        upvotes::window_metrics(&mut run.metrics, &seen, up);
    }
    Ok(run.outcome())
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

/// The server(s) as started, and how to reach the session.
struct Servers {
    under: Under,
    code: String,
    host_key: String,
    screen_key: String,
    addrs: Vec<SocketAddr>,
    /// The server processes (one, or the nodes).
    pids: Vec<String>,
    /// The server processes and the nats-server.
    watched: Vec<String>,
}

impl Servers {
    fn one(args: &Args, kind: Kind, max_secs: u64) -> Result<Servers> {
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
        Ok(Servers {
            under: Under::One(server),
            code: info.code,
            host_key: info.host_key,
            screen_key: info.screen_key,
            addrs: vec![info.addr],
            pids: pids.clone(),
            watched: pids,
        })
    }

    async fn cluster(nodes: usize) -> Result<Servers> {
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
        Ok(Servers {
            code: cluster.code.clone(),
            host_key: cluster.host_key.clone(),
            screen_key: cluster.screen_key.clone(),
            under: Under::Many(cluster),
            addrs,
            pids,
            watched,
        })
    }
}

/// The host and the screen, and the statement they show.
struct Stage {
    host: Host,
    slide: usize,
    round: u32,
    /// The newest state the screen saw.
    latest: watch::Receiver<ScreenObs>,
    stop_screen: watch::Sender<bool>,
    screen_task: JoinHandle<(Vec<ScreenObs>, Option<Ws>)>,
}

/// The ramp so far.
#[derive(Default)]
struct Ramp {
    connect_us: Vec<u32>,
    time: Duration,
    /// (phones, RSS, TCP memory, slab) in kB at each checkpoint.
    readings: Vec<(usize, u64, u64, u64)>,
    failed: usize,
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

/// The metrics one CPU window fills.
struct CpuKeys {
    server: &'static str,
    /// Per process of a cluster, after `node0_` and so on.
    each: &'static str,
    generator: &'static str,
    others: &'static str,
}

const BURST_CPU: CpuKeys = CpuKeys {
    server: "server_cpu_burst",
    each: "cpu_burst",
    generator: "loadgen_cpu_burst",
    others: "other_cpu_burst",
};

const SUSTAIN_CPU: CpuKeys = CpuKeys {
    server: "server_cpu_sustain",
    each: "cpu_sustain",
    generator: "loadgen_cpu_sustain",
    others: "other_cpu_sustain",
};

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

/// What one run holds from phase to phase.
struct Run<'a> {
    args: &'a Args,
    kind: Kind,
    workload: Workload,
    problems: Vec<String>,
    metrics: Metrics,
    server: Under,
    code: String,
    host_key: String,
    screen_key: String,
    addrs: Vec<SocketAddr>,
    urls: Vec<String>,
    /// The server processes (one, or the nodes).
    pids: Vec<String>,
    /// The server processes and the nats-server.
    watched: Vec<String>,
    clock: Clock,
    /// When the host opened the vote.
    open_at: Option<Instant>,
}

impl<'a> Run<'a> {
    async fn start(args: &'a Args, kind: Kind, workload: Workload) -> Result<Run<'a>> {
        let max_secs = args.deadline_secs + 60;
        let s = match args.nodes {
            None => Servers::one(args, kind, max_secs)?,
            Some(nodes) => Servers::cluster(nodes).await?,
        };
        let urls = s
            .addrs
            .iter()
            .map(|a| format!("ws://{a}/ws/{}", s.code))
            .collect();
        Ok(Run {
            args,
            kind,
            workload,
            problems: vec![],
            metrics: Metrics::new(),
            server: s.under,
            code: s.code,
            host_key: s.host_key,
            screen_key: s.screen_key,
            addrs: s.addrs,
            urls,
            pids: s.pids,
            watched: s.watched,
            clock: Clock::start(),
            open_at: None,
        })
    }

    fn max_secs(&self) -> u64 {
        self.args.deadline_secs + 60
    }

    /// Kills the server(s) and turns the problems so far into an error.
    fn fail(&mut self) -> anyhow::Error {
        self.server.kill();
        anyhow::anyhow!("{}", self.problems.join("; "))
    }

    /// The host shows the first statement with results visible; the screen records
    /// every state it gets.
    async fn stage(&mut self, sources: &[Ipv4Addr]) -> Result<Stage> {
        let (ws, welcome, first) = client::hello(
            self.addrs[0],
            &self.urls[0],
            sources[0],
            Some(&self.host_key),
        )
        .await?;
        let slide = welcome["slides"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["kind"] == "statement"))
            .and_then(|s| s["index"].as_u64())
            .context("the host's welcome lists no statement")? as usize;
        let mut host = Host::new(ws, first);
        host.send(json!({"type": "go_to", "slide": slide})).await?;
        host.send(json!({"type": "reveal", "visible": true}))
            .await?;
        let state = host
            .wait("the statement with results visible", |s| {
                s.slide.index == slide && s.revealed
            })
            .await?;
        let round = state.slide.round.unwrap_or(1);

        let screen_node = usize::from(self.addrs.len() > 1);
        let (ws, _, first) = client::hello(
            self.addrs[screen_node],
            &self.urls[screen_node],
            sources[0],
            Some(&self.screen_key),
        )
        .await?;
        let (latest_tx, latest) = watch::channel(ScreenObs::default());
        let (stop_screen, stop_rx) = watch::channel(false);
        let screen_task = tokio::spawn(client::screen(ws, first, latest_tx, stop_rx));
        Ok(Stage {
            host,
            slide,
            round,
            latest,
            stop_screen,
            screen_task,
        })
    }

    /// Ramps to `--phones`, pausing at the checkpoints to read the RSS.
    async fn ramp(&mut self, stage: &mut Stage, sources: &[Ipv4Addr]) -> Result<Fleet> {
        let (args, n) = (self.args, self.args.phones);
        let rss_base = status_sum_kb(&self.pids, "VmRSS");
        let spec = GroupSpec {
            phones: n,
            groups: args.workers.unwrap_or(1),
            index: 0,
            addrs: self.addrs.clone(),
            urls: self.urls.clone(),
            sources: sources.to_vec(),
            connect_concurrency: args.connect_concurrency,
        };
        let mut fleet = Fleet::start(spec, &self.clock, self.max_secs()).await?;
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
        let mut ramp = Ramp::default();
        for &target in &checkpoints {
            self.ramp_step(&mut fleet, &mut stage.latest, target, &mut ramp)
                .await?;
        }
        self.memory_metrics(&ramp);
        println!("  server RSS with host and screen only: {rss_base} kB");
        Ok(fleet)
    }

    /// Connects the phones up to `target`, then reads the memory after a quiet spell.
    async fn ramp_step(
        &mut self,
        fleet: &mut Fleet,
        latest: &mut watch::Receiver<ScreenObs>,
        target: usize,
        ramp: &mut Ramp,
    ) -> Result<()> {
        let start = Instant::now();
        let step = fleet.ramp_to(target).await?;
        ramp.time += start.elapsed();
        ramp.connect_us.extend(step.connect_us);
        if let Some(e) = step.first_error {
            if ramp.failed == 0 {
                self.problems
                    .push(format!("a phone could not connect: {e}"));
            }
        }
        ramp.failed += step.failed;
        if step.finished < step.attempts {
            self.problems.push(format!(
                "only {} of {} connection attempts finished in time",
                step.finished, step.attempts
            ));
        }
        if ramp.failed > 0 {
            return Err(self.fail());
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
            self.problems
                .push(format!("the screen never showed {target} joined"));
            return Err(self.fail());
        }
        tokio::time::sleep(Duration::from_millis(self.args.settle_ms)).await;
        let rss = status_sum_kb(&self.pids, "VmRSS");
        let tcp = report::tcp_mem_kb().unwrap_or(0);
        let slab = report::meminfo_kb("Slab:").unwrap_or(0);
        println!(
            "  {target:>6} phones connected (ramp so far {:.0}/s): server RSS {rss} kB, kernel TCP memory {tcp} kB, slab {slab} kB",
            target as f64 / ramp.time.as_secs_f64()
        );
        ramp.readings.push((target, rss, tcp, slab));
        Ok(())
    }

    fn memory_metrics(&mut self, ramp: &Ramp) {
        let metrics = &mut self.metrics;
        if self.args.nodes.is_some() {
            // Each node's (and the nats-server's) share of the memory, all phones held.
            for (i, p) in self.watched.iter().enumerate() {
                let kb = report::proc_status_kb(p, "VmRSS").unwrap_or(0);
                metrics.insert(proc_key(i, self.pids.len(), "rss_mb"), kb as f64 / 1024.0);
            }
        }
        let n = self.args.phones;
        metrics.insert("ramp_per_s", n as f64 / ramp.time.as_secs_f64());
        metrics.insert("connect_p99_ms", report::summarize(&ramp.connect_us).p99);
        if let [(p0, r0, t0, s0), .., (p1, r1, t1, s1)] = ramp.readings[..] {
            let d = (p1 - p0) as f64;
            metrics.insert("rss_per_conn_kb", (r1 as f64 - r0 as f64) / d);
            metrics.insert("sock_per_conn_kb", (t1 as f64 - t0 as f64) / d);
            metrics.insert("slab_per_conn_kb", (s1 as f64 - s0 as f64) / d);
        }
        if let Some(&(_, r, _, _)) = ramp.readings.last() {
            metrics.insert("rss_full_mb", r as f64 / 1024.0);
        }
    }

    /// Opens the vote: every phone gets one state.
    async fn open_vote(&mut self, fleet: &mut Fleet, stage: &mut Stage) -> Result<()> {
        let n = self.args.phones;
        let open_at = Instant::now();
        stage.host.send(json!({"type": "open_vote"})).await?;
        self.open_at = Some(open_at);
        let opened = fleet.wait_open().await?;
        if opened < n {
            self.problems
                .push(format!("only {opened} of {n} phones saw the vote open"));
        }
        stage
            .host
            .wait("the vote open", |s| {
                s.slide.phase.as_deref() == Some("open")
            })
            .await?;
        Ok(())
    }

    /// The last `--arguments` phones vote and argue (the first `--questions` of them
    /// ask too), the host approves every argument and question; returns their numbers.
    async fn arguments(
        &mut self,
        fleet: &mut Fleet,
        stage: &mut Stage,
    ) -> Result<(Vec<u32>, Vec<u32>)> {
        let (n, a) = (self.args.phones as u64, self.args.arguments as u64);
        let setup = Setup {
            slide: stage.slide,
            round: stage.round,
            first: n - a,
            count: a,
            questions: self.args.questions as u64,
        };
        let (arguments, questions) =
            upvotes::approve_arguments(fleet, &mut stage.host, setup).await?;
        println!(
            "  phones {}..{} voted and argued; the host approved arguments {:?} and questions {:?}",
            n - a,
            n - 1,
            arguments,
            questions
        );
        // The phones take in the states the approvals made before the burst begins.
        tokio::time::sleep(Duration::from_millis(self.args.settle_ms)).await;
        Ok((arguments, questions))
    }

    /// The schedule of votes (and upvotes), starting a moment from now.
    fn plan(&self, arguments: Option<(Vec<u32>, Vec<u32>)>, stage: &Stage) -> Plan {
        let args = self.args;
        let voters_before = if arguments.is_some() {
            args.arguments as u64
        } else {
            0
        };
        let burst_votes = crate::burst_votes(args);
        let sustain_votes = (args.sustain_secs * args.sustain_rate).round() as u64;
        let lead = if args.workers.unwrap_or(1) > 1 {
            WORKERS_PLAN_LEAD
        } else {
            PLAN_LEAD
        };
        let burst_t0 = Instant::now() + lead;
        let burst_len = Duration::from_secs_f64(burst_votes as f64 / args.burst_rate);
        let sustain_t0 = burst_t0 + burst_len + Duration::from_secs_f64(args.gap_secs);
        let upvotes = arguments.map(|(arguments, questions)| UpvotePlan {
            arguments,
            questions,
            phones: args.phones as u64,
            t0: burst_t0,
            rate: args.upvotes_per_sec,
            count: match self.workload {
                Workload::Upvotes => crate::upvote_count(args),
                Workload::Votes | Workload::Arguments => 0,
            },
            end: burst_t0 + Duration::from_secs_f64(args.upvote_secs),
        });
        Plan {
            slide: stage.slide,
            round: stage.round,
            phones: args.phones as u64,
            burst_t0,
            burst_rate: args.burst_rate,
            burst_votes,
            sustain_t0,
            sustain_rate: args.sustain_rate,
            sustain_votes,
            voters_before,
            upvotes,
        }
    }

    /// The WAL's size through the run: it must stay bounded under a sustained load.
    fn sample_wal(&self, plan: &Plan) -> Option<JoinHandle<(u64, u64, u64)>> {
        let dir = self.server.data_dir()?;
        let wal = dir.join(format!("{}-wal", stemzaal::store::DB_FILE));
        let db = dir.join(stemzaal::store::DB_FILE);
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let db_before = size(&db) + size(&wal);
        let until = plan.sustain_end();
        Some(tokio::spawn(async move {
            let mut peak = 0u64;
            while Instant::now() < until {
                peak = peak.max(size(&wal));
                tokio::time::sleep(WAL_SAMPLE_EVERY).await;
            }
            (peak, db_before, size(&db) + size(&wal))
        }))
    }

    async fn wal_result(
        &mut self,
        sampler: Option<JoinHandle<(u64, u64, u64)>>,
        plan: &Plan,
    ) -> Result<()> {
        let Some(sampler) = sampler else {
            return Ok(());
        };
        let (peak, before, after) = sampler.await.context("the WAL sampler")?;
        let votes = plan.total().max(1);
        let per_vote = after.saturating_sub(before) as f64 / votes as f64;
        self.metrics
            .insert("wal_peak_mb", peak as f64 / 1_048_576.0);
        self.metrics.insert("stored_bytes_per_vote", per_vote);
        println!(
            "  WAL peak {:.1} MiB; database + WAL grew {per_vote:.0} bytes per vote",
            peak as f64 / 1_048_576.0,
        );
        Ok(())
    }

    /// Follows the schedule, reading the CPU used in the burst and in the sustained
    /// phase.
    async fn measure_cpu(&mut self, plan: &Plan, generator: &[String]) {
        let burst_len = Duration::from_secs_f64(plan.burst_votes as f64 / plan.burst_rate);
        tokio::time::sleep_until(plan.burst_t0).await;
        println!(
            "  burst: {} first votes at {}/s",
            plan.burst_votes, plan.burst_rate
        );
        if let Some(up) = &plan.upvotes {
            println!(
                "  upvotes: {} at {}/s on {} arguments and {} questions, phones count what they receive for {} s",
                up.count,
                up.rate,
                up.arguments.len(),
                up.questions.len(),
                up.window_secs()
            );
        }
        let cpu0 = cpu_of(&self.watched, generator);
        let tail = Duration::from_millis(200);
        tokio::time::sleep_until(plan.burst_t0 + burst_len + tail).await;
        let cpu1 = cpu_of(&self.watched, generator);
        self.record_cpu(&cpu0, &cpu1, (burst_len + tail).as_secs_f64(), &BURST_CPU);
        tokio::time::sleep_until(plan.sustain_t0).await;
        println!(
            "  sustained: {} changed votes at {}/s",
            plan.sustain_votes, plan.sustain_rate
        );
        let cpu2 = cpu_of(&self.watched, generator);
        tokio::time::sleep_until(plan.sustain_end()).await;
        let cpu3 = cpu_of(&self.watched, generator);
        if plan.sustain_votes > 0 {
            let secs = (plan.sustain_end() - plan.sustain_t0).as_secs_f64();
            self.record_cpu(&cpu2, &cpu3, secs, &SUSTAIN_CPU);
        }
    }

    /// Cores used between `a` and `b`: by the server (the nodes' sum, and each process
    /// of a cluster), the generator, and every other process on the machine.
    fn record_cpu(&mut self, a: &Cpu, b: &Cpu, secs: f64, keys: &CpuKeys) {
        let each: Vec<f64> = a
            .each
            .iter()
            .zip(&b.each)
            .map(|(a, b)| (b - a) / secs)
            .collect();
        let nodes = self.pids.len();
        self.metrics.insert(keys.server, each[..nodes].iter().sum());
        if self.args.nodes.is_some() {
            for (i, c) in each.iter().enumerate() {
                self.metrics.insert(proc_key(i, nodes, keys.each), *c);
            }
        }
        let me = (b.me - a.me) / secs;
        self.metrics.insert(keys.generator, me);
        let machine = (b.machine - a.machine) / secs;
        let others = machine - each.iter().sum::<f64>() - me;
        self.metrics.insert(keys.others, others.max(0.0));
    }

    /// Waits until every vote (and upvote) was sent and answered, then stops the
    /// phones and collects what they saw (they keep their sockets open).
    async fn drain(&mut self, fleet: &mut Fleet, plan: &Plan) -> Result<(Counts, GroupReport)> {
        let total = plan.total();
        let counts = fleet
            .drain(Duration::from_secs_f64(self.args.drain_secs))
            .await?;
        if !counts.drained
            || counts.sent != total
            || counts.acked != total
            || counts.errors > 0
            || counts.lost > 0
        {
            self.problems.push(format!(
                "votes scheduled {total}, sent {}, acked {}, refused {}; connections lost {}",
                counts.sent, counts.acked, counts.errors, counts.lost
            ));
        }
        self.check_upvotes(&counts);
        if let Some(p) = &counts.first_problem {
            self.problems.push(p.clone());
        }
        let seen = match fleet.finish(&self.clock).await {
            Ok(seen) => seen,
            Err(e) => {
                self.problems.push(format!("{e:#}"));
                return Err(self.fail());
            }
        };
        let n = self.args.phones;
        if seen.phones != n {
            let failed = n.saturating_sub(seen.phones);
            self.problems.push(format!("{failed} phone tasks failed"));
        }
        if seen.unacked > 0 {
            let unacked = seen.unacked;
            self.problems
                .push(format!("{unacked} votes never acknowledged"));
        }
        let workers = self.args.workers.unwrap_or(1);
        self.metrics
            .insert("phones_held", n.saturating_sub(counts.lost) as f64);
        self.metrics.insert("generator_processes", workers as f64);
        Ok((counts, seen))
    }

    /// Every upvote must be answered `ok`; refusals are counted by code.
    fn check_upvotes(&mut self, counts: &Counts) {
        if self.workload == Workload::Votes {
            return;
        }
        let refused: u64 = counts.upvotes_refused.values().sum();
        let codes: Vec<String> = counts
            .upvotes_refused
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        let codes = match codes.is_empty() {
            true => String::new(),
            false => format!(" ({})", codes.join(", ")),
        };
        let line = format!(
            "upvotes scheduled {}, sent {}, ok {}, refused {refused}{codes}",
            counts.upvotes_scheduled, counts.upvotes_sent, counts.upvotes_ok
        );
        println!("  {line}");
        self.metrics.insert("upvotes_ok", counts.upvotes_ok as f64);
        self.metrics.insert("upvotes_refused", refused as f64);
        if counts.upvotes_sent != counts.upvotes_scheduled
            || counts.upvotes_ok != counts.upvotes_scheduled
        {
            self.problems.push(line);
        }
    }

    /// The screen must settle on exactly what the phones last chose, and the host's
    /// list on every upvote answered `ok`. Returns what the screen saw, and its socket.
    async fn check_views(
        &mut self,
        counts: &Counts,
        seen: &GroupReport,
        stage: Stage,
    ) -> Result<(Vec<ScreenObs>, Option<Ws>)> {
        let Stage {
            mut host,
            mut latest,
            stop_screen,
            screen_task,
            ..
        } = stage;
        let (expected, voters) = (seen.tally, seen.voters);
        let tally_exact = tokio::time::timeout(
            Duration::from_secs(5),
            latest.wait_for(|o| o.revealed && o.voted == voters && o.tally == expected),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let last_screen = *latest.borrow();
        if !tally_exact {
            self.problems.push(format!(
                "screen shows voted {} tally {:?}, expected voted {voters} tally {expected:?}",
                last_screen.voted, last_screen.tally
            ));
        }
        self.metrics
            .insert("tally_exact", f64::from(u8::from(tally_exact)));
        println!(
            "  final tally A={} B={} from {voters} phones: screen shows A={} B={} ({})",
            expected[0],
            expected[1],
            last_screen.tally[0],
            last_screen.tally[1],
            if tally_exact { "exact" } else { "NOT exact" }
        );
        if self.workload != Workload::Votes {
            self.check_host_upvotes(&mut host, counts.upvotes_ok).await;
        }
        stop_screen.send_replace(true);
        let screen = screen_task.await.context("the screen task")?;
        host.abort();
        self.print_peaks();
        Ok(screen)
    }

    /// The upvotes on the host's list must add up to the upvotes answered `ok` (each
    /// phone upvotes an argument at most once).
    async fn check_host_upvotes(&mut self, host: &mut Host, ok: u64) {
        let exact = tokio::time::timeout(
            Duration::from_secs(5),
            host.state.wait_for(|s| upvotes::upvotes_listed(s) == ok),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let listed = upvotes::upvotes_listed(&host.state.borrow());
        self.metrics
            .insert("host_upvotes_exact", f64::from(u8::from(exact)));
        println!(
            "  the host lists {listed} upvotes, {ok} were answered ok ({})",
            if exact { "exact" } else { "NOT exact" }
        );
        if !exact {
            self.problems.push(format!(
                "the host lists {listed} upvotes, but {ok} were answered ok"
            ));
        }
    }

    fn print_peaks(&self) {
        let nodes = self.pids.len();
        for (i, p) in self.watched.iter().enumerate() {
            if let Some(peak) = report::proc_status_kb(p, "VmHWM") {
                let who = match (self.args.nodes, i < nodes) {
                    (None, _) => "server".to_owned(),
                    (Some(_), true) => format!("node {i}"),
                    (Some(_), false) => "nats-server".to_owned(),
                };
                println!("  {who} peak RSS {peak} kB");
            }
        }
    }

    /// Kills the server like a crash (our sockets close only later), then checks what
    /// it stored: SQLite replayed, or a cluster's export from a fresh node.
    fn check_stored(&mut self, plan: &Plan, counts: &Counts, seen: &GroupReport) -> Result<()> {
        match &mut self.server {
            Under::One(s) => s.kill(),
            Under::Many(_) => self.check_exported(seen.tally),
        }
        let Some(dir) = self.server.data_dir() else {
            return Ok(());
        };
        let stored = stored_tally(dir, &self.code, plan.slide)?;
        let (voters, expected) = (seen.voters, seen.tally);
        let exact = (stored.voters, stored.tally) == (voters, expected);
        self.metrics
            .insert("stored_exact", f64::from(u8::from(exact)));
        println!(
            "  replayed from SQLite after {}: voted {} A={} B={} ({})",
            if self.args.server_wrap.is_some() {
                "it stopped"
            } else {
                "SIGKILL"
            },
            stored.voters,
            stored.tally[0],
            stored.tally[1],
            if exact { "exact" } else { "NOT exact" }
        );
        if !exact {
            self.problems.push(format!(
                "SQLite holds voted {} tally {:?}, expected {voters} {expected:?}",
                stored.voters, stored.tally
            ));
        }
        if self.workload != Workload::Votes {
            self.check_stored_upvotes(stored.upvotes, counts.upvotes_ok);
        }
        Ok(())
    }

    fn check_stored_upvotes(&mut self, stored: u64, ok: u64) {
        let exact = stored == ok;
        self.metrics
            .insert("stored_upvotes_exact", f64::from(u8::from(exact)));
        println!(
            "  replayed from SQLite: {stored} upvotes, {ok} answered ok ({})",
            if exact { "exact" } else { "NOT exact" }
        );
        if !exact {
            self.problems.push(format!(
                "SQLite holds {stored} upvotes, {ok} were answered ok"
            ));
        }
    }

    /// Every node dies; a fresh one must find every acked vote in the log.
    fn check_exported(&mut self, expected: [u64; 2]) {
        let Under::Many(cluster) = &mut self.server else {
            return;
        };
        cluster.kill_nodes();
        let exported = tokio::task::block_in_place(|| cluster.exported_counts());
        let counts = match exported {
            Ok(c) => c,
            Err(e) => {
                self.problems
                    .push(format!("the export from a fresh node failed: {e:#}"));
                vec![]
            }
        };
        let exact = counts == expected;
        self.metrics
            .insert("exported_exact", f64::from(u8::from(exact)));
        println!(
            "  exported by a fresh node after SIGKILL of every node: counts {counts:?} ({})",
            if exact { "exact" } else { "NOT exact" }
        );
        if !exact && !counts.is_empty() {
            self.problems.push(format!(
                "the fresh node exports counts {counts:?}, expected {expected:?}"
            ));
        }
        cluster.kill();
    }

    /// The latencies: the opened vote's fan-out, the burst on the screen and in the
    /// acks, the sustained phase's acks and throughput.
    fn latencies(&mut self, plan: &Plan, seen: &GroupReport, screen_obs: &[ScreenObs]) {
        let open_us = self.open_at.map_or(0, |t| self.clock.us(t));
        let fanout: Vec<u32> = seen
            .opened_at_us
            .iter()
            .map(|&t| (t - open_us).clamp(0, i64::from(u32::MAX)) as u32)
            .collect();
        let fan = report::summarize(&fanout);
        let metrics = &mut self.metrics;
        metrics.insert("open_fanout_p99_ms", fan.p99);
        metrics.insert("open_fanout_max_ms", fan.max);
        metrics.insert("burst_rate", plan.burst_rate);
        let screen_us = vote_to_screen(plan, screen_obs);
        if (screen_us.len() as u64) < plan.burst_votes {
            self.problems.push(format!(
                "the screen showed only {} of {} burst votes",
                screen_us.len(),
                plan.burst_votes
            ));
        }
        let s = report::summarize(&screen_us);
        metrics.insert("burst_screen_p50_ms", s.p50);
        metrics.insert("burst_screen_p99_ms", s.p99);
        metrics.insert("burst_screen_p999_ms", s.p999);
        metrics.insert("burst_screen_max_ms", s.max);
        let a = report::summarize(&seen.burst_ack_us);
        metrics.insert("burst_ack_p50_ms", a.p50);
        metrics.insert("burst_ack_p99_ms", a.p99);
        metrics.insert("burst_ack_max_ms", a.max);
        if plan.sustain_votes > 0 {
            self.sustained_latencies(plan, seen, screen_obs);
        }
        let lag = report::summarize(&seen.send_lag_us).p99;
        self.metrics.insert("send_lag_p99_ms", lag);
    }

    fn sustained_latencies(&mut self, plan: &Plan, seen: &GroupReport, screen_obs: &[ScreenObs]) {
        let metrics = &mut self.metrics;
        let a = report::summarize(&seen.sustain_ack_us);
        metrics.insert("sustain_ack_p50_ms", a.p50);
        metrics.insert("sustain_ack_p99_ms", a.p99);
        metrics.insert("sustain_ack_max_ms", a.max);
        // Throughput between the first and the last ack of the sustained phase: equal
        // to the offered rate while the server keeps up, lower when acks fall behind.
        if let (Some(first), Some(last)) = (seen.first_sustain_ack_us, seen.last_sustain_ack_us) {
            let secs = (last - first).max(0) as f64 / 1e6;
            if a.count > 1 && secs > 0.0 {
                let rate = report::three_digits((a.count - 1) as f64 / secs);
                metrics.insert("sustain_rate", rate);
            }
        }
        let window: Vec<Instant> = screen_obs
            .iter()
            .filter_map(|o| o.at)
            .filter(|&t| t >= plan.sustain_t0 && t <= plan.sustain_end())
            .collect();
        let gap = window
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        metrics.insert("sustain_screen_gap_max_ms", gap.as_secs_f64() * 1000.0);
    }

    fn outcome(self) -> Outcome {
        Outcome {
            kind: self.kind,
            workload: self.workload,
            metrics: self.metrics,
            problems: self.problems,
        }
    }
}

/// vote→screen latency of each burst vote, µs. Vote `k` counts as on screen at the
/// first screen state whose `voted` reaches `voters_before + k + 1`: the number of
/// phones that voted before the burst plus the votes scheduled up to and including
/// `k`. Votes are scheduled in order, so that state is the first in which the screen
/// can account for vote `k`; latency runs from `k`'s scheduled time.
fn vote_to_screen(plan: &Plan, obs: &[ScreenObs]) -> Vec<u32> {
    let mut out = Vec::with_capacity(plan.burst_votes as usize);
    let mut i = 0usize;
    for k in 0..plan.burst_votes {
        let needed = plan.voters_before + k + 1;
        while i < obs.len() && (obs[i].voted < needed || obs[i].at.is_none()) {
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

/// What the store holds for the run's statement.
struct Stored {
    /// Participants who voted in the current round.
    voters: u64,
    /// The current round's count per option (A, B).
    tally: [u64; 2],
    /// Upvotes of the statement's arguments and of the questions.
    upvotes: u64,
}

/// Voters, tally and upvotes of `slide` in the current round, replayed from the stored
/// events. Call it once the server is gone: until then its store holds the directory.
fn stored_tally(dir: &std::path::Path, code: &str, slide: usize) -> Result<Stored> {
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
    let upvotes = session
        .arguments()
        .on(slide)
        .map(|a| a.upvoters.len() as u64)
        .sum::<u64>()
        + session
            .questions()
            .all()
            .map(|q| q.upvoters.len() as u64)
            .sum::<u64>();
    let round = session
        .statement(slide)
        .context("the slide is not a statement")?
        .current();
    let counts = &round.counts;
    Ok(Stored {
        voters: round.votes.len() as u64,
        tally: [
            counts.first().copied().unwrap_or(0),
            counts.get(1).copied().unwrap_or(0),
        ],
        upvotes,
    })
}
