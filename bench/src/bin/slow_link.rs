//! Measures how soon a phone on a poor link can vote after opening the join link.
//!
//! `cargo run --release -p stemzaal-bench --bin slow_link -- --runs 7 --report perf.md`
//! starts a server in this process on the built-in deck with its first statement open,
//! and opens the join link `--runs` times, each in a fresh headless Chromium (an empty
//! cache, a new participant) whose network Chromium emulates: `--latency-ms` added to
//! every round trip, `--kbytes-per-sec` each way. It reads, from the page's own
//! performance marks (milliseconds since the navigation started): `votable`, when a tap
//! on an option first counts (sent at once, or when the socket opens); `online`, when
//! the socket's `welcome` arrived; and the bytes the page fetched. Then it taps and
//! times until the page says the vote is stored. Prints a Markdown table (and appends
//! it to `--report`); medians over the runs, with the range.

#[path = "../../../tests/it/browser/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stemzaal::core::deck::{Deck, SlideKind, DEFAULT_DECK_SOURCE};
use stemzaal::hub::Hub;
use stemzaal::store::{Durability, Store};
use stemzaal::web::limits::Limits;
use tokio_tungstenite::tungstenite::Message;

/// Time a phone on a slow link from the join link to its first vote.
#[derive(Parser, Debug)]
struct Args {
    /// Page loads to time.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Added to each round trip (ms).
    #[arg(long, default_value_t = 400)]
    latency_ms: u64,
    /// Throughput each way (KB/s, 1 KB = 1024 bytes).
    #[arg(long, default_value_t = 50)]
    kbytes_per_sec: u64,
    /// A Markdown file to append the table to.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

/// One page load's figures, in milliseconds since the navigation started.
struct Run {
    votable: f64,
    online: f64,
    tap_to_stored: f64,
    bytes: f64,
    requests: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let Some(tools) = harness::Tools::find("slow_link") else {
        bail!("chromium and chromedriver are needed (see the README)");
    };
    let data = tempfile::tempdir()?;
    let (addr, code, host_key) = serve(data.path()).await?;
    open_first_statement(addr, &code, &host_key).await?;
    let driver = harness::Driver::start(&tools).await;
    let mut runs = vec![];
    for n in 1..=args.runs {
        let run = one_load(&driver, addr, &code, &args).await;
        eprintln!(
            "run {n}: votable {:.0} ms, online {:.0} ms, tap → stored {:.0} ms, {:.1} KB in {} requests",
            run.votable,
            run.online,
            run.tap_to_stored,
            run.bytes / 1024.0,
            run.requests
        );
        runs.push(run);
    }
    let table = table(&args, &runs);
    print!("{table}");
    if let Some(path) = &args.report {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.write_all(table.as_bytes())?;
    }
    Ok(())
}

/// A server on a free loopback port with the built-in deck: its address, code and host key.
async fn serve(data: &std::path::Path) -> Result<(SocketAddr, String, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let store = Store::open(data, Durability::Normal)?;
    let hub = Arc::new(Hub::new(store.clone(), format!("http://{addr}")));
    let session = hub
        .create(Arc::new(Deck::default_deck()), DEFAULT_DECK_SOURCE)
        .await?;
    let code = session.code().to_owned();
    let host_key = session.host_key().expose().to_owned();
    let admin = Arc::new(stemzaal::web::admin::Admin::locked());
    tokio::spawn(async move {
        let library = Arc::new(store);
        let media = library.clone();
        let stop = std::future::pending();
        let limits = Limits::default();
        if let Err(e) =
            stemzaal::web::serve_until(listener, hub, library, media, limits, admin, stop).await
        {
            eprintln!("server: {e:#}");
        }
    });
    Ok((addr, code, host_key))
}

/// As the host: the first statement on show and its vote open.
async fn open_first_statement(addr: SocketAddr, code: &str, key: &str) -> Result<()> {
    let first = Deck::default_deck()
        .slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .context("the built-in deck has a statement")?;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/{code}")).await?;
    for msg in [
        json!({"type": "hello", "key": key, "lang": "nl"}),
        json!({"type": "go_to", "slide": first}),
        json!({"type": "open_vote", "id": 1}),
    ] {
        ws.send(Message::Text(msg.to_string().into())).await?;
    }
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .context("the host's ok in time")?;
        if let Some(Ok(Message::Text(text))) = msg {
            let v: Value = serde_json::from_str(&text)?;
            if v["type"] == "ok" && v["id"] == 1 {
                return Ok(());
            }
        } else {
            bail!("the host's socket ended");
        }
    }
}

/// One page load in a fresh browser on the emulated link, and a tap.
async fn one_load(driver: &harness::Driver, addr: SocketAddr, code: &str, args: &Args) -> Run {
    let phone = harness::Browser::open(driver, addr, "phone", (390, 844)).await;
    phone
        .emulate_network(args.latency_ms, args.kbytes_per_sec * 1024)
        .await;
    phone.goto(&format!("http://{addr}/{code}")).await;
    let limit = Duration::from_secs(60);
    let mark = |name: &str| {
        format!(
            "const m = performance.getEntriesByName({name:?}); return m.length ? m[0].startTime : null;"
        )
    };
    let votable = phone.wait_for("votable", &mark("votable"), limit).await;
    // The tap, at once; the page says "ontvangen" when the server stored it.
    let tapped = phone
        .js("const s = document.getElementById('vote-status');
             window.stored = null;
             new MutationObserver(() => { if (window.stored === null && s.textContent.includes('ontvangen')) window.stored = performance.now(); })
               .observe(s, { childList: true, characterData: true, subtree: true });
             const t = performance.now();
             document.querySelector('#options .opt').click();
             return t;")
        .await;
    let stored = phone
        .wait_for("stored", "return window.stored;", limit)
        .await;
    let online = phone.wait_for("online", &mark("online"), limit).await;
    let bytes = phone
        .js("const n = performance.getEntriesByType('navigation')[0];
             const r = performance.getEntriesByType('resource');
             return [n.transferSize + r.reduce((a, e) => a + e.transferSize, 0), 1 + r.length];")
        .await;
    let waterfall = phone
        .js("const n = performance.getEntriesByType('navigation')[0];
             return [[n.name, 0, n.responseEnd, n.transferSize], ...performance.getEntriesByType('resource')
               .map((e) => [e.name, e.startTime, e.responseEnd, e.transferSize])];")
        .await;
    for entry in waterfall.as_array().into_iter().flatten() {
        let name = entry[0].as_str().unwrap_or_default();
        let path = name.split_once(&addr.to_string()).map_or(name, |(_, p)| p);
        eprintln!(
            "  {path:<32} {:>6.0} → {:>6.0} ms, {:>6} bytes",
            entry[1].as_f64().unwrap_or_default(),
            entry[2].as_f64().unwrap_or_default(),
            entry[3]
        );
    }
    phone.close().await;
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    Run {
        votable: f(&votable),
        online: f(&online),
        tap_to_stored: f(&stored) - f(&tapped),
        bytes: f(&bytes[0]),
        requests: f(&bytes[1]),
    }
}

/// The median and the range of one figure over the runs.
fn spread(runs: &[Run], of: impl Fn(&Run) -> f64) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs.iter().map(of).collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// A row of the table: its name, the figure of a run, and the unit to divide by.
type Row = (&'static str, fn(&Run) -> f64, f64);

fn table(args: &Args, runs: &[Run]) -> String {
    let mut out = format!(
        "\n### slow_link: {} page loads, {} ms round trip, {} KB/s\n\n| | median | min | max |\n|---|---:|---:|---:|\n",
        runs.len(),
        args.latency_ms,
        args.kbytes_per_sec
    );
    let rows: [Row; 5] = [
        ("join link → a tap counts (ms)", |r| r.votable, 1.0),
        ("join link → socket online (ms)", |r| r.online, 1.0),
        ("tap → the page says stored (ms)", |r| r.tap_to_stored, 1.0),
        ("fetched (KB)", |r| r.bytes, 1024.0),
        ("requests (page and its files)", |r| r.requests, 1.0),
    ];
    for (name, of, unit) in rows {
        let (median, low, high) = spread(runs, of);
        out.push_str(&format!(
            "| {name} | {:.1} | {:.1} | {:.1} |\n",
            median / unit,
            low / unit,
            high / unit
        ));
    }
    out
}
