//! Numbers: latency summaries, /proc readings, the metrics of a run and the table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// A latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

/// Summarizes samples given in microseconds.
pub fn summarize<'a>(samples: impl IntoIterator<Item = &'a u32>) -> Summary {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds");
    for &s in samples {
        h.saturating_record(u64::from(s.max(1)));
    }
    if h.is_empty() {
        return Summary::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Summary {
        count: h.len(),
        p50: ms(h.value_at_quantile(0.50)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// `VmRSS` (or another `Vm…` line) of a process, in kB (1024 bytes).
pub fn proc_status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User plus system CPU time of a process, in seconds (clock ticks of 1/100 s).
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A line of `/proc/meminfo` (e.g. `Slab:`), in kB.
pub fn meminfo_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU seconds the whole machine was busy (all CPUs, from `/proc/stat`).
pub fn machine_busy_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle) / 100.0)
}

/// Rounds to three significant digits (a rate measured over a window is no more
/// precise than that).
pub fn three_digits(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// Kernel memory of all TCP sockets, in kB, from `/proc/net/sockstat` (pages of 4 KiB).
pub fn tcp_mem_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "mem" {
            return words.next()?.parse::<u64>().ok().map(|pages| pages * 4);
        }
    }
    None
}

/// The machine, for the report header.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((0, 0));
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB RAM, open files {soft}/{hard} (soft/hard), kernel {}",
        mem_kb as f64 / 1024.0 / 1024.0,
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    )
}

/// How a value compares with its target.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// At least this.
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
}

impl Target {
    fn met(self, v: f64) -> bool {
        match self {
            Target::AtLeast(t) => v >= t,
            Target::AtMost(t) => v <= t,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtLeast(t) => format!("≥ {}", fmt_num(t)),
            Target::AtMost(t) => format!("≤ {}", fmt_num(t)),
        }
    }
}

/// One row of the table.
pub struct MetricDef {
    /// Key in a run's metrics.
    pub key: &'static str,
    /// What it is, with its unit.
    pub label: &'static str,
    /// The target for stemzaal, if any.
    pub target: Option<Target>,
    /// Whether to show stemzaal ÷ floor.
    pub ratio: bool,
}

const fn m(
    key: &'static str,
    label: &'static str,
    target: Option<Target>,
    ratio: bool,
) -> MetricDef {
    MetricDef {
        key,
        label,
        target,
        ratio,
    }
}

/// Every row, in order.
pub const METRICS: &[MetricDef] = &[
    m(
        "phones_held",
        "phones held (connected, none lost)",
        Some(Target::AtLeast(19_000.0)),
        false,
    ),
    m(
        "generator_processes",
        "generator processes holding the phones",
        None,
        false,
    ),
    m(
        "ramp_per_s",
        "connection ramp (phones/s)",
        Some(Target::AtLeast(1_500.0)),
        true,
    ),
    m(
        "connect_p99_ms",
        "connect+hello+welcome p99 (ms)",
        None,
        true,
    ),
    m(
        "rss_per_conn_kb",
        "server RSS per idle phone (kB, slope)",
        Some(Target::AtMost(12.0)),
        true,
    ),
    m(
        "sock_per_conn_kb",
        "kernel TCP memory per phone, both ends (kB)",
        None,
        true,
    ),
    m(
        "slab_per_conn_kb",
        "kernel slab per phone, both ends (kB, slope)",
        None,
        true,
    ),
    m("rss_full_mb", "server RSS with all phones (MB)", None, true),
    m(
        "open_fanout_p99_ms",
        "open_vote → phone sees it, p99 (ms)",
        None,
        true,
    ),
    m(
        "open_fanout_max_ms",
        "open_vote → last phone sees it (ms)",
        None,
        true,
    ),
    m("burst_rate", "burst rate (votes/s, scheduled)", None, false),
    m(
        "burst_screen_p50_ms",
        "burst vote→screen p50 (ms)",
        Some(Target::AtMost(60.0)),
        true,
    ),
    m(
        "burst_screen_p99_ms",
        "burst vote→screen p99 (ms)",
        Some(Target::AtMost(200.0)),
        true,
    ),
    m(
        "burst_screen_p999_ms",
        "burst vote→screen p99.9 (ms)",
        None,
        true,
    ),
    m(
        "burst_screen_max_ms",
        "burst vote→screen max (ms)",
        None,
        true,
    ),
    m("burst_ack_p50_ms", "burst vote→ack p50 (ms)", None, true),
    m("burst_ack_p99_ms", "burst vote→ack p99 (ms)", None, true),
    m("burst_ack_max_ms", "burst vote→ack max (ms)", None, true),
    m(
        "sustain_rate",
        "sustained changed votes acked/s",
        Some(Target::AtLeast(20_000.0)),
        true,
    ),
    m(
        "sustain_ack_p50_ms",
        "sustained vote→ack p50 (ms)",
        None,
        true,
    ),
    m(
        "sustain_ack_p99_ms",
        "sustained vote→ack p99 (ms)",
        None,
        true,
    ),
    m(
        "sustain_ack_max_ms",
        "sustained vote→ack max (ms)",
        None,
        true,
    ),
    m(
        "sustain_screen_gap_max_ms",
        "sustained: longest gap between screen updates (ms)",
        None,
        true,
    ),
    m(
        "send_lag_p99_ms",
        "generator send lag p99 (ms, included above)",
        None,
        false,
    ),
    m(
        "arguments",
        "approved arguments listed on every phone",
        None,
        false,
    ),
    m(
        "upvote_rate",
        "upvotes scheduled per second, from the burst's start",
        None,
        false,
    ),
    m("upvote_window_s", "upvote window (s)", None, false),
    m("upvotes_ok", "upvotes answered ok", None, true),
    m("upvotes_refused", "upvotes refused", None, false),
    m("upvote_ok_p50_ms", "upvote→ok p50 (ms)", None, true),
    m("upvote_ok_p99_ms", "upvote→ok p99 (ms)", None, true),
    m(
        "phone_kb_per_s_p50",
        "received per phone in the window, median (kB/s)",
        None,
        true,
    ),
    m(
        "phone_kb_per_s_max",
        "received per phone in the window, max (kB/s)",
        None,
        true,
    ),
    m(
        "phone_msgs_per_s_p50",
        "messages per phone per s in the window, median",
        None,
        true,
    ),
    m(
        "phone_msgs_per_s_max",
        "messages per phone per s in the window, max",
        None,
        true,
    ),
    m(
        "phone_states_per_s_p50",
        "of which `state`, per phone per s, median",
        None,
        true,
    ),
    m(
        "egress_mb_per_s",
        "server → phones in the window, all phones (MB/s)",
        None,
        true,
    ),
    m(
        "server_cpu_burst",
        "server CPU during burst (cores)",
        None,
        true,
    ),
    m(
        "server_cpu_sustain",
        "server CPU during sustain (cores)",
        None,
        true,
    ),
    m(
        "loadgen_cpu_burst",
        "generator CPU during burst (cores)",
        None,
        false,
    ),
    m(
        "loadgen_cpu_sustain",
        "generator CPU during sustain (cores)",
        None,
        false,
    ),
    m(
        "other_cpu_before",
        "other processes' CPU just before the run (cores, noise)",
        None,
        false,
    ),
    m(
        "other_cpu_burst",
        "other processes' CPU during burst (cores, noise)",
        None,
        false,
    ),
    m(
        "other_cpu_sustain",
        "other processes' CPU during sustain (cores, noise)",
        None,
        false,
    ),
    m(
        "tally_exact",
        "final tally on screen exact (1 = yes)",
        Some(Target::AtLeast(1.0)),
        false,
    ),
    m(
        "stored_exact",
        "tally replayed from SQLite exact (1 = yes)",
        None,
        false,
    ),
    m(
        "host_upvotes_exact",
        "upvotes on the host's list = upvotes ok (1 = yes)",
        None,
        false,
    ),
    m(
        "stored_upvotes_exact",
        "upvotes replayed from SQLite = upvotes ok (1 = yes)",
        None,
        false,
    ),
    m(
        "exported_exact",
        "tally exported by a fresh node after every node was killed exact (1 = yes)",
        None,
        false,
    ),
];

/// The per-process rows of a cluster run, after the fixed ones: by node number, the
/// nats-server last.
fn process_rows(out: &mut String, runs: &[&Metrics], two_columns: bool) {
    let mut extra: Vec<&'static str> = runs
        .iter()
        .flat_map(|m| m.keys().copied())
        .filter(|k| process_label(k).is_some())
        .collect();
    extra.sort_by_key(|k| {
        let (who, what) = k.split_once('_').unwrap_or((k, ""));
        let node = who
            .strip_prefix("node")
            .and_then(|i| i.parse::<usize>().ok());
        (node.unwrap_or(usize::MAX), what)
    });
    extra.dedup();
    for key in extra {
        let label = process_label(key).unwrap_or_default();
        let value = median(runs, key).map(fmt_num).unwrap_or("–".into());
        if two_columns {
            writeln!(out, "| {label} | {value} | – | | | |").ok();
        } else {
            writeln!(out, "| {label} | {value} | | |").ok();
        }
    }
}

/// The label of a per-process row of a cluster run (`node0_rss_mb`, `nats_cpu_sustain`).
fn process_label(key: &str) -> Option<String> {
    let (who, what) = key.split_once('_')?;
    let who = match who.strip_prefix("node") {
        Some(i) => format!("node {i}"),
        None if who == "nats" => "nats-server".to_owned(),
        None => return None,
    };
    let what = match what {
        "rss_mb" => "RSS with all phones (MB)",
        "cpu_burst" => "CPU during burst (cores)",
        "cpu_sustain" => "CPU during sustain (cores)",
        _ => return None,
    };
    Some(format!("{who} {what}"))
}

/// The metrics of one run.
pub type Metrics = BTreeMap<&'static str, f64>;

/// The median of the values of `key` over runs (missing values skipped).
pub fn median(runs: &[&Metrics], key: &str) -> Option<f64> {
    let mut v: Vec<f64> = runs.iter().filter_map(|r| r.get(key).copied()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A number for the table: integers without decimals, small values with one or two.
pub fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The Markdown table of medians: `name` (stemzaal or the cluster), `other` (the
/// floor, or stemzaal without upvotes), ratio, target, verdict. Without runs of `other`
/// its column and the ratio are left out; per-process rows of a cluster run follow the
/// fixed ones.
pub fn table(name: &str, stemzaal: &[&Metrics], other: &str, floor: &[&Metrics]) -> String {
    let mut out = String::new();
    let cell = |runs: &[&Metrics], key: &str| median(runs, key).map(fmt_num).unwrap_or("–".into());
    if floor.is_empty() {
        writeln!(
            out,
            "| metric | {name} | target | met |\n|---|---:|---|---|"
        )
        .ok();
    } else {
        writeln!(
            out,
            "| metric | {name} | {other} | {name} ÷ {other} | target | met |\n|---|---:|---:|---:|---|---|"
        )
        .ok();
    }
    for def in METRICS {
        let s = median(stemzaal, def.key);
        let f = median(floor, def.key);
        if s.is_none() && f.is_none() {
            continue;
        }
        let ratio = match (def.ratio, s, f) {
            (true, Some(s), Some(f)) if f != 0.0 => format!("{:.2}×", s / f),
            _ => String::new(),
        };
        let (target, met) = match (def.target, s) {
            (Some(t), Some(v)) => (t.text(), if t.met(v) { "yes" } else { "**no**" }.to_owned()),
            (Some(t), None) => (t.text(), String::new()),
            (None, _) => (String::new(), String::new()),
        };
        if floor.is_empty() {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                def.label,
                cell(stemzaal, def.key),
                target,
                met
            )
            .ok();
        } else {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                def.label,
                cell(stemzaal, def.key),
                cell(floor, def.key),
                ratio,
                target,
                met
            )
            .ok();
        }
    }
    process_rows(&mut out, stemzaal, !floor.is_empty());
    out
}
