//! The phones of one process: a [`PhoneGroup`] connects its share of a run's phones,
//! lets them vote on the shared [`Plan`] and sums up what they saw.
//!
//! Phone `i` of a run belongs to group `i % groups`. The generator holds the only
//! group itself, or, past what one process may hold open, each worker process holds
//! one (see `workers`). What a group reports is plain data that merges without loss:
//! every latency sample is kept, and times are microseconds on a [`Clock`] every
//! process of the run shares.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{self, Control, PhoneResult, Plan, Shared, Ws};
use crate::upvotes::{ArgueReport, Setup};

/// How long the phones may take to hand in their results once told to stop.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// A time base shared by the processes of a run: microseconds since one moment,
/// named by its wall-clock time. Each process pairs that moment with its own
/// monotonic clock once, at start; both clocks are slewed alike, so the processes
/// agree to within the microseconds that pairing takes.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
    /// The epoch as microseconds since 1970, for the worker processes.
    pub unix_us: i64,
}

fn unix_us_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Clock {
        Clock {
            epoch: Instant::now(),
            unix_us: unix_us_now(),
        }
    }

    /// The clock another process started at `unix_us`.
    pub fn join(unix_us: i64) -> Clock {
        let (now, wall) = (Instant::now(), unix_us_now());
        let behind = Duration::from_micros(wall.saturating_sub(unix_us).max(0) as u64);
        Clock {
            epoch: now.checked_sub(behind).unwrap_or(now),
            unix_us,
        }
    }

    /// `t` in microseconds since the epoch.
    pub fn us(&self, t: Instant) -> i64 {
        if t >= self.epoch {
            (t - self.epoch).as_micros() as i64
        } else {
            -((self.epoch - t).as_micros() as i64)
        }
    }

    /// The instant `us` microseconds after the epoch.
    pub fn at(&self, us: i64) -> Instant {
        let d = Duration::from_micros(us.unsigned_abs());
        if us >= 0 {
            self.epoch + d
        } else {
            self.epoch.checked_sub(d).unwrap_or(self.epoch)
        }
    }
}

/// Where the phones connect, and which of them a group holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSpec {
    /// Phones in the whole run.
    pub phones: usize,
    /// Groups the phones are spread over.
    pub groups: usize,
    /// This group: it holds phone `i` when `i % groups == index`.
    pub index: usize,
    /// Each node's address; phone `i` connects to node `i % nodes`.
    pub addrs: Vec<SocketAddr>,
    /// Each node's WebSocket URL for the session.
    pub urls: Vec<String>,
    /// Source addresses; phone `i` connects from `sources[i % sources.len()]`.
    pub sources: Vec<Ipv4Addr>,
    /// Connection attempts in flight.
    pub connect_concurrency: usize,
}

impl GroupSpec {
    fn holds(&self, i: usize) -> bool {
        i % self.groups == self.index
    }
}

/// One step of the ramp.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RampReport {
    /// Connection attempts started.
    pub attempts: usize,
    /// Attempts that ended (connected or failed) within the time allowed.
    pub finished: usize,
    /// connect + hello + welcome + first state of each connected phone, µs.
    pub connect_us: Vec<u32>,
    /// Attempts that failed.
    pub failed: usize,
    /// The first failure.
    pub first_error: Option<String>,
}

impl RampReport {
    /// Adds another group's step.
    pub fn merge(&mut self, other: RampReport) {
        self.attempts += other.attempts;
        self.finished += other.finished;
        self.connect_us.extend(other.connect_us);
        self.failed += other.failed;
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// The phones' counters after the votes drained.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Votes the plan gives these phones.
    pub scheduled: u64,
    /// Votes sent.
    pub sent: u64,
    /// Votes acknowledged.
    pub acked: u64,
    /// Votes refused.
    pub errors: u64,
    /// Connections lost.
    pub lost: usize,
    /// Upvotes the plan gives these phones.
    pub upvotes_scheduled: u64,
    /// Upvotes sent.
    pub upvotes_sent: u64,
    /// Upvotes answered `ok`.
    pub upvotes_ok: u64,
    /// Upvotes refused, by error code.
    pub upvotes_refused: BTreeMap<String, u64>,
    /// Whether every vote and upvote was sent and answered (or a connection lost) in
    /// time.
    pub drained: bool,
    /// The first problem a phone met.
    pub first_problem: Option<String>,
}

impl Counts {
    /// Adds another group's counters.
    pub fn merge(&mut self, other: Counts) {
        self.scheduled += other.scheduled;
        self.sent += other.sent;
        self.acked += other.acked;
        self.errors += other.errors;
        self.lost += other.lost;
        self.upvotes_scheduled += other.upvotes_scheduled;
        self.upvotes_sent += other.upvotes_sent;
        self.upvotes_ok += other.upvotes_ok;
        for (code, n) in other.upvotes_refused {
            *self.upvotes_refused.entry(code).or_default() += n;
        }
        self.drained &= other.drained;
        self.first_problem = self.first_problem.take().or(other.first_problem);
    }
}

/// What the phones of a group saw, once stopped.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GroupReport {
    /// Phones whose task ended with a result.
    pub phones: usize,
    /// vote→ack of each burst vote, µs from its scheduled time.
    pub burst_ack_us: Vec<u32>,
    /// vote→ack of each sustained vote, µs from its scheduled time.
    pub sustain_ack_us: Vec<u32>,
    /// How late each vote was sent, µs after its scheduled time.
    pub send_lag_us: Vec<u32>,
    /// When each phone saw the vote open, µs on the run's clock.
    pub opened_at_us: Vec<i64>,
    /// Phones with an acknowledged vote.
    pub voters: u64,
    /// Each phone's last acknowledged choice, counted.
    pub tally: [u64; 2],
    /// Votes sent and never acknowledged.
    pub unacked: u64,
    /// The first ack of a sustained vote, µs on the run's clock.
    pub first_sustain_ack_us: Option<i64>,
    /// The last ack of a sustained vote, µs on the run's clock.
    pub last_sustain_ack_us: Option<i64>,
    /// upvote→ok of each upvote, µs from its scheduled time.
    pub upvote_ok_us: Vec<u32>,
    /// Per phone, payload bytes of the text frames received in the upvote window
    /// (empty without one).
    pub window_bytes: Vec<u64>,
    /// Per phone, messages received in the upvote window.
    pub window_messages: Vec<u32>,
    /// Per phone, `state` messages received in the upvote window.
    pub window_states: Vec<u32>,
}

impl GroupReport {
    /// Adds another group's report.
    pub fn merge(&mut self, other: GroupReport) {
        self.phones += other.phones;
        self.burst_ack_us.extend(other.burst_ack_us);
        self.sustain_ack_us.extend(other.sustain_ack_us);
        self.send_lag_us.extend(other.send_lag_us);
        self.opened_at_us.extend(other.opened_at_us);
        self.voters += other.voters;
        self.tally[0] += other.tally[0];
        self.tally[1] += other.tally[1];
        self.unacked += other.unacked;
        self.first_sustain_ack_us = match (self.first_sustain_ack_us, other.first_sustain_ack_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_sustain_ack_us = self.last_sustain_ack_us.max(other.last_sustain_ack_us);
        self.upvote_ok_us.extend(other.upvote_ok_us);
        self.window_bytes.extend(other.window_bytes);
        self.window_messages.extend(other.window_messages);
        self.window_states.extend(other.window_states);
    }
}

/// The phones this process holds.
pub struct PhoneGroup {
    spec: GroupSpec,
    shared: Arc<Shared>,
    control: watch::Sender<Control>,
    semaphore: Arc<Semaphore>,
    connected_tx: mpsc::UnboundedSender<Result<u32, String>>,
    connected_rx: mpsc::UnboundedReceiver<Result<u32, String>>,
    /// Each phone's index and task.
    phones: Vec<(u64, JoinHandle<PhoneResult>)>,
    /// The ramp has considered phones below this index.
    ramped: usize,
    /// The plan the phones vote on, once given.
    plan: Option<Arc<Plan>>,
    /// The phones' sockets after they stopped, open until the group is dropped (after
    /// the servers are gone, so no TIME_WAIT is left on the generator's ports).
    kept: Vec<Ws>,
}

impl PhoneGroup {
    /// A group with no phones yet.
    pub fn new(spec: GroupSpec) -> PhoneGroup {
        let (connected_tx, connected_rx) = mpsc::unbounded_channel();
        PhoneGroup {
            semaphore: Arc::new(Semaphore::new(spec.connect_concurrency)),
            spec,
            shared: Arc::new(Shared::default()),
            control: watch::channel(Control::Wait).0,
            connected_tx,
            connected_rx,
            phones: vec![],
            ramped: 0,
            plan: None,
            kept: vec![],
        }
    }

    /// Connects this group's phones among the first `upto`, and waits (bounded) until
    /// each attempt ended.
    pub async fn ramp_to(&mut self, upto: usize) -> RampReport {
        let upto = upto.min(self.spec.phones);
        let mut report = RampReport::default();
        let from = self.ramped.min(upto);
        for i in from..upto {
            if !self.spec.holds(i) {
                continue;
            }
            let spec = &self.spec;
            let semaphore = self.semaphore.clone();
            let node = i % spec.addrs.len();
            let (addr, url) = (spec.addrs[node], spec.urls[node].clone());
            let source = spec.sources[i % spec.sources.len()];
            let shared = self.shared.clone();
            let control = self.control.subscribe();
            let connected = self.connected_tx.clone();
            self.phones.push((
                i as u64,
                tokio::spawn(async move {
                    let permit = semaphore.acquire_owned().await.expect("semaphore open");
                    let t = Instant::now();
                    let hello = client::hello(addr, &url, source, None).await;
                    drop(permit);
                    // The receiver lives as long as the group; a send fails only
                    // while the group is being dropped, when nobody counts any more.
                    match hello {
                        Ok((ws, _, state)) => {
                            let us = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                            connected.send(Ok(us)).ok();
                            let open = state.slide.phase.as_deref() == Some("open");
                            client::phone(i as u64, ws, open, shared, control).await
                        }
                        Err(e) => {
                            connected.send(Err(format!("{e:#}"))).ok();
                            client::phone_failed()
                        }
                    }
                }),
            ));
            report.attempts += 1;
        }
        self.ramped = self.ramped.max(upto);
        let limit = Duration::from_secs(30) + Duration::from_millis(report.attempts as u64 * 5);
        let end = Instant::now() + limit;
        while report.finished < report.attempts {
            match tokio::time::timeout_at(end, self.connected_rx.recv()).await {
                Ok(Some(Ok(us))) => report.connect_us.push(us),
                Ok(Some(Err(e))) => {
                    report.failed += 1;
                    report.first_error.get_or_insert(e);
                }
                Ok(None) | Err(_) => break,
            }
            report.finished += 1;
        }
        report
    }

    /// Waits (bounded) until every phone of the group saw the vote open; returns how
    /// many did.
    pub async fn wait_open(&self) -> usize {
        let all = self.phones.len();
        let end = Instant::now() + client::STEP_TIMEOUT;
        loop {
            let opened = self.shared.opened.load(Ordering::Relaxed);
            if opened >= all || Instant::now() >= end {
                return opened;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Lets the arguers among the group's phones vote and argue, and waits (bounded)
    /// until each argument is stored or refused.
    pub async fn argue(&mut self, setup: Setup) -> ArgueReport {
        let arguers = self.phones.iter().filter(|(i, _)| setup.holds(*i)).count();
        self.control.send_replace(Control::Setup(Arc::new(setup)));
        let s = &self.shared;
        let end = Instant::now() + client::STEP_TIMEOUT;
        loop {
            let report = ArgueReport {
                arguers,
                argued: s.argued.load(Ordering::Relaxed),
                failed: s.setup_failed.load(Ordering::Relaxed) + s.lost.load(Ordering::Relaxed),
            };
            if report.argued + report.failed >= arguers || Instant::now() >= end {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Lets the phones vote on `plan` (each sleeps until its own votes' times).
    pub fn run(&mut self, plan: Arc<Plan>) {
        self.plan = Some(plan.clone());
        self.control.send_replace(Control::Run(plan));
    }

    /// Waits (polling, at most `within`) until every vote of the group's phones was
    /// sent and answered, or a connection was lost.
    pub async fn drain(&self, within: Duration) -> Counts {
        let (scheduled, upvotes_scheduled) = match &self.plan {
            Some(plan) => self.phones.iter().fold((0, 0), |(v, u), (i, _)| {
                let up = plan.upvotes.as_ref().map_or(0, |up| up.count_of(*i));
                (v + plan.votes_of(*i), u + up)
            }),
            None => (0, 0),
        };
        let s = &self.shared;
        let end = Instant::now() + within;
        let drained = loop {
            let answered = s.acked.load(Ordering::Relaxed) + s.errors.load(Ordering::Relaxed);
            let upvoted = s.upvotes_ok.load(Ordering::Relaxed) + s.refused_upvotes();
            let votes_done = s.sent.load(Ordering::Relaxed) >= scheduled && answered >= scheduled;
            let upvotes_done = s.upvotes_sent.load(Ordering::Relaxed) >= upvotes_scheduled
                && upvoted >= upvotes_scheduled;
            if votes_done && upvotes_done || s.lost.load(Ordering::Relaxed) > 0 {
                break true;
            }
            if Instant::now() >= end {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        Counts {
            scheduled,
            sent: s.sent.load(Ordering::Relaxed),
            acked: s.acked.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            lost: s.lost.load(Ordering::Relaxed),
            upvotes_scheduled,
            upvotes_sent: s.upvotes_sent.load(Ordering::Relaxed),
            upvotes_ok: s.upvotes_ok.load(Ordering::Relaxed),
            upvotes_refused: s.upvotes_refused.lock().expect("refusals lock").clone(),
            drained,
            first_problem: s.first_problem.lock().expect("problem lock").clone(),
        }
    }

    /// Stops the phones and sums up what they saw; their sockets stay open.
    pub async fn finish(&mut self, clock: &Clock) -> Result<GroupReport> {
        self.control.send_replace(Control::Stop);
        let mut results = Vec::with_capacity(self.phones.len());
        let phones = std::mem::take(&mut self.phones);
        let collect = async {
            for (_, handle) in phones {
                // A phone task that panicked has no result; `phones` tells.
                if let Ok(r) = handle.await {
                    results.push(r);
                }
            }
        };
        if tokio::time::timeout(STOP_WITHIN, collect).await.is_err() {
            bail!("phones did not stop within {} s", STOP_WITHIN.as_secs());
        }
        let mut report = GroupReport {
            phones: results.len(),
            ..GroupReport::default()
        };
        let at = |t: Option<Instant>| t.map(|t| clock.us(t));
        let window = self.plan.as_ref().is_some_and(|p| p.upvotes.is_some());
        for r in results {
            if window {
                report.window_bytes.push(r.window.bytes);
                report.window_messages.push(r.window.messages);
                report.window_states.push(r.window.states);
            }
            report.upvote_ok_us.extend(r.upvote_ok_us);
            report.burst_ack_us.extend(r.burst_ack_us);
            report.sustain_ack_us.extend(r.sustain_ack_us);
            report.send_lag_us.extend(r.send_lag_us);
            report.opened_at_us.extend(at(r.opened_at));
            if let Some(o) = r.last_acked {
                report.tally[usize::from(o)] += 1;
                report.voters += 1;
            }
            report.unacked += r.unacked;
            report.merge(GroupReport {
                first_sustain_ack_us: at(r.first_sustain_ack),
                last_sustain_ack_us: at(r.last_sustain_ack),
                ..GroupReport::default()
            });
            self.kept.extend(r.ws);
        }
        Ok(report)
    }
}
