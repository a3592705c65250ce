//! Phones in more processes than one: a process may hold only so many open files
//! (`ulimit -Hn`), so past that the generator re-executes itself as `loadgen
//! phones`, once per [`PhoneGroup`], and drives the workers over their stdin and
//! stdout, one JSON line per [`Command`] and one per [`Reply`].
//!
//! Every worker gets the same plan, with times on the run's [`Clock`], so vote `k` is
//! due at the same moment whichever process sends it: the open loop stays one open
//! loop. A worker hands back every latency sample, so the merged percentiles are
//! exact. [`Fleet`] is what the run drives: its own group, or the workers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::client::{Plan, STEP_TIMEOUT};
use crate::phones::{Clock, Counts, GroupReport, GroupSpec, PhoneGroup, RampReport};
use crate::upvotes::{ArgueReport, Setup, UpvotePlan};

/// How long a worker may take to answer a command beyond the work the command asks
/// for (reading 18,000 phones' samples back takes well under a second).
const REPLY_SLACK: Duration = Duration::from_secs(30);

/// The plan as it travels: its times in microseconds on the run's clock.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanWire {
    slide: usize,
    round: u32,
    phones: u64,
    burst_t0_us: i64,
    burst_rate: f64,
    burst_votes: u64,
    sustain_t0_us: i64,
    sustain_rate: f64,
    sustain_votes: u64,
    voters_before: u64,
    upvotes: Option<UpvoteWire>,
}

/// The upvote schedule as it travels.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpvoteWire {
    arguments: Vec<u32>,
    questions: Vec<u32>,
    phones: u64,
    t0_us: i64,
    rate: f64,
    count: u64,
    end_us: i64,
}

impl UpvoteWire {
    fn new(up: &UpvotePlan, clock: &Clock) -> UpvoteWire {
        UpvoteWire {
            arguments: up.arguments.clone(),
            questions: up.questions.clone(),
            phones: up.phones,
            t0_us: clock.us(up.t0),
            rate: up.rate,
            count: up.count,
            end_us: clock.us(up.end),
        }
    }

    fn plan(&self, clock: &Clock) -> UpvotePlan {
        UpvotePlan {
            arguments: self.arguments.clone(),
            questions: self.questions.clone(),
            phones: self.phones,
            t0: clock.at(self.t0_us),
            rate: self.rate,
            count: self.count,
            end: clock.at(self.end_us),
        }
    }
}

impl PlanWire {
    fn new(plan: &Plan, clock: &Clock) -> PlanWire {
        PlanWire {
            slide: plan.slide,
            round: plan.round,
            phones: plan.phones,
            burst_t0_us: clock.us(plan.burst_t0),
            burst_rate: plan.burst_rate,
            burst_votes: plan.burst_votes,
            sustain_t0_us: clock.us(plan.sustain_t0),
            sustain_rate: plan.sustain_rate,
            sustain_votes: plan.sustain_votes,
            voters_before: plan.voters_before,
            upvotes: plan.upvotes.as_ref().map(|up| UpvoteWire::new(up, clock)),
        }
    }

    fn plan(&self, clock: &Clock) -> Plan {
        Plan {
            slide: self.slide,
            round: self.round,
            phones: self.phones,
            burst_t0: clock.at(self.burst_t0_us),
            burst_rate: self.burst_rate,
            burst_votes: self.burst_votes,
            sustain_t0: clock.at(self.sustain_t0_us),
            sustain_rate: self.sustain_rate,
            sustain_votes: self.sustain_votes,
            voters_before: self.voters_before,
            upvotes: self.upvotes.as_ref().map(|up| up.plan(clock)),
        }
    }
}

/// What the generator tells a worker; each command gets one [`Reply`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
enum Command {
    /// The first line: which phones, and the run's clock.
    Setup { spec: GroupSpec, clock_unix_us: i64 },
    /// Connect the group's phones among the first `upto`.
    Ramp { upto: usize },
    /// Wait until the group's phones saw the vote open.
    AwaitOpen,
    /// The group's arguers vote and argue.
    Argue { setup: Setup },
    /// Vote on this plan.
    Run { plan: PlanWire },
    /// Wait at most `secs` for every vote to be answered.
    Drain { secs: f64 },
    /// Stop the phones and report.
    Finish,
}

/// A worker's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
enum Reply {
    Ready,
    Ramped { report: RampReport },
    Opened { count: usize },
    Argued { report: ArgueReport },
    Running,
    Drained { counts: Counts },
    Finished { report: GroupReport },
    Failed { error: String },
}

/// `loadgen phones`: a worker. Reads commands on stdin until it closes (the generator
/// went away, or is done with it) or `max_secs` run out, then exits.
pub fn serve_worker(max_secs: u64) -> Result<()> {
    crate::servers::raise_nofile();
    let runtime = tokio::runtime::Runtime::new().context("a tokio runtime")?;
    let served = runtime.block_on(async {
        tokio::select! {
            served = worker_loop() => served,
            _ = tokio::time::sleep(Duration::from_secs(max_secs)) => {
                bail!("a worker ran out of its {max_secs} s")
            }
        }
    });
    // The phones' tasks (and sockets) go with the process, not with a slow shutdown.
    runtime.shutdown_background();
    served
}

async fn worker_loop() -> Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    let mut state: Option<(PhoneGroup, Clock)> = None;
    while let Some(line) = lines.next_line().await.context("reading a command")? {
        let command: Command = serde_json::from_str(&line).context("parsing a command")?;
        let reply = match (command, &mut state) {
            (
                Command::Setup {
                    spec,
                    clock_unix_us,
                },
                _,
            ) => {
                state = Some((PhoneGroup::new(spec), Clock::join(clock_unix_us)));
                Reply::Ready
            }
            (_, None) => Reply::Failed {
                error: "a command before the setup".into(),
            },
            (Command::Ramp { upto }, Some((group, _))) => Reply::Ramped {
                report: group.ramp_to(upto).await,
            },
            (Command::AwaitOpen, Some((group, _))) => Reply::Opened {
                count: group.wait_open().await,
            },
            (Command::Argue { setup }, Some((group, _))) => Reply::Argued {
                report: group.argue(setup).await,
            },
            (Command::Run { plan }, Some((group, clock))) => {
                group.run(Arc::new(plan.plan(clock)));
                Reply::Running
            }
            (Command::Drain { secs }, Some((group, _))) => Reply::Drained {
                counts: group.drain(Duration::from_secs_f64(secs)).await,
            },
            (Command::Finish, Some((group, clock))) => match group.finish(clock).await {
                Ok(report) => Reply::Finished { report },
                Err(e) => Reply::Failed {
                    error: format!("{e:#}"),
                },
            },
        };
        let mut text = serde_json::to_string(&reply)?;
        text.push('\n');
        out.write_all(text.as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

/// One worker process, killed when dropped.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// The worker processes of a run.
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// Starts `groups` workers, each holding the phones `i % groups == index` of `spec`.
    pub async fn start(spec: &GroupSpec, clock: &Clock, max_secs: u64) -> Result<Workers> {
        let exe = std::env::current_exe().context("finding the loadgen binary")?;
        let mut workers = Workers { workers: vec![] };
        for index in 0..spec.groups {
            let mut child = tokio::process::Command::new(&exe)
                .args(["phones", "--max-secs", &max_secs.to_string()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {} phones", exe.display()))?;
            let stdin = child.stdin.take().context("a worker's stdin")?;
            let stdout = child.stdout.take().context("a worker's stdout")?;
            workers.workers.push(Worker {
                child,
                stdin,
                stdout: BufReader::new(stdout).lines(),
            });
            let spec = GroupSpec {
                index,
                ..spec.clone()
            };
            let setup = Command::Setup {
                spec,
                clock_unix_us: clock.unix_us,
            };
            let worker = workers.workers.last_mut().expect("just pushed");
            send(worker, &setup).await?;
            match receive(worker, STEP_TIMEOUT).await? {
                Reply::Ready => {}
                other => bail!("worker {index} answered its setup with {other:?}"),
            }
        }
        Ok(workers)
    }

    /// Sends `command` to every worker, then reads every answer (each within `within`).
    async fn ask(&mut self, command: &Command, within: Duration) -> Result<Vec<Reply>> {
        for w in &mut self.workers {
            send(w, command).await?;
        }
        let mut replies = Vec::with_capacity(self.workers.len());
        for (i, w) in self.workers.iter_mut().enumerate() {
            match receive(w, within)
                .await
                .with_context(|| format!("worker {i}"))?
            {
                Reply::Failed { error } => bail!("worker {i}: {error}"),
                reply => replies.push(reply),
            }
        }
        Ok(replies)
    }

    /// The workers' process ids (for their CPU time).
    pub fn pids(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter_map(|w| w.child.id())
            .map(|p| p.to_string())
            .collect()
    }
}

async fn send(worker: &mut Worker, command: &Command) -> Result<()> {
    let mut line = serde_json::to_string(command)?;
    line.push('\n');
    worker
        .stdin
        .write_all(line.as_bytes())
        .await
        .context("writing to a worker")?;
    worker.stdin.flush().await.context("writing to a worker")
}

async fn receive(worker: &mut Worker, within: Duration) -> Result<Reply> {
    let line = tokio::time::timeout(within, worker.stdout.next_line())
        .await
        .context("a worker did not answer in time")?
        .context("reading from a worker")?
        .context("a worker exited")?;
    serde_json::from_str(&line).context("parsing a worker's answer")
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.workers {
            // SIGKILL; `kill_on_drop` would do it too, this makes it happen now.
            w.child.start_kill().ok();
        }
    }
}

/// The phones of a run: in this process, or in worker processes.
pub enum Fleet {
    /// One group, here.
    Local(Box<PhoneGroup>),
    /// One group per worker.
    Workers(Workers),
}

impl Fleet {
    /// Holds the phones of `spec` here (`spec.groups == 1`) or in `spec.groups`
    /// workers.
    pub async fn start(spec: GroupSpec, clock: &Clock, max_secs: u64) -> Result<Fleet> {
        Ok(if spec.groups == 1 {
            Fleet::Local(Box::new(PhoneGroup::new(spec)))
        } else {
            Fleet::Workers(Workers::start(&spec, clock, max_secs).await?)
        })
    }

    /// Connects the phones among the first `upto`.
    pub async fn ramp_to(&mut self, upto: usize) -> Result<RampReport> {
        match self {
            Fleet::Local(group) => Ok(group.ramp_to(upto).await),
            Fleet::Workers(w) => {
                // Each worker bounds its own wait (30 s plus 5 ms per phone).
                let within = REPLY_SLACK * 2 + Duration::from_millis(upto as u64 * 5);
                let mut merged = RampReport::default();
                for reply in w.ask(&Command::Ramp { upto }, within).await? {
                    let Reply::Ramped { report } = reply else {
                        bail!("a worker answered the ramp with {reply:?}");
                    };
                    merged.merge(report);
                }
                Ok(merged)
            }
        }
    }

    /// Waits (bounded) until every phone saw the vote open; returns how many did.
    pub async fn wait_open(&mut self) -> Result<usize> {
        match self {
            Fleet::Local(group) => Ok(group.wait_open().await),
            Fleet::Workers(w) => {
                let mut count = 0;
                for reply in w
                    .ask(&Command::AwaitOpen, STEP_TIMEOUT + REPLY_SLACK)
                    .await?
                {
                    let Reply::Opened { count: c } = reply else {
                        bail!("a worker answered the open vote with {reply:?}");
                    };
                    count += c;
                }
                Ok(count)
            }
        }
    }

    /// Lets the arguers vote and argue; waits (bounded) until every argument is stored
    /// or refused.
    pub async fn argue(&mut self, setup: Setup) -> Result<ArgueReport> {
        match self {
            Fleet::Local(group) => Ok(group.argue(setup).await),
            Fleet::Workers(w) => {
                let mut merged = ArgueReport::default();
                let command = Command::Argue { setup };
                for reply in w.ask(&command, STEP_TIMEOUT + REPLY_SLACK).await? {
                    let Reply::Argued { report } = reply else {
                        bail!("a worker answered the arguments with {reply:?}");
                    };
                    merged.merge(report);
                }
                Ok(merged)
            }
        }
    }

    /// Lets every phone vote on `plan`.
    pub async fn run(&mut self, plan: &Arc<Plan>, clock: &Clock) -> Result<()> {
        match self {
            Fleet::Local(group) => group.run(plan.clone()),
            Fleet::Workers(w) => {
                let plan = PlanWire::new(plan, clock);
                w.ask(&Command::Run { plan }, REPLY_SLACK).await?;
            }
        }
        Ok(())
    }

    /// Waits at most `within` for every vote to be answered.
    pub async fn drain(&mut self, within: Duration) -> Result<Counts> {
        match self {
            Fleet::Local(group) => Ok(group.drain(within).await),
            Fleet::Workers(w) => {
                let command = Command::Drain {
                    secs: within.as_secs_f64(),
                };
                let mut merged = Counts {
                    drained: true,
                    ..Counts::default()
                };
                for reply in w.ask(&command, within + REPLY_SLACK).await? {
                    let Reply::Drained { counts } = reply else {
                        bail!("a worker answered the drain with {reply:?}");
                    };
                    merged.merge(counts);
                }
                Ok(merged)
            }
        }
    }

    /// Stops the phones and merges what they saw; their sockets stay open until the
    /// fleet is dropped.
    pub async fn finish(&mut self, clock: &Clock) -> Result<GroupReport> {
        match self {
            Fleet::Local(group) => group.finish(clock).await,
            Fleet::Workers(w) => {
                let mut merged = GroupReport::default();
                for reply in w.ask(&Command::Finish, REPLY_SLACK * 2).await? {
                    let Reply::Finished { report } = reply else {
                        bail!("a worker answered the stop with {reply:?}");
                    };
                    merged.merge(report);
                }
                Ok(merged)
            }
        }
    }

    /// The worker processes' ids (none when the phones are here).
    pub fn pids(&self) -> Vec<String> {
        match self {
            Fleet::Local(_) => vec![],
            Fleet::Workers(w) => w.pids(),
        }
    }
}
