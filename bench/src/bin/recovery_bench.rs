//! Measures how long a restart takes to serve again with many stored votes.
//!
//! `cargo run --release -p stemzaal-bench --bin recovery_bench -- --votes 100000 --runs 5`
//! writes a session with that many participants, each with a join and a vote (after
//! `--others` sessions of `--other-votes` votes each, as on a server that ran many
//! meetings), then
//! starts the server on that data directory the way `stemzaal` does (`app::run`) and
//! times until a phone's `hello` is answered with its recovered vote. Prints a Markdown
//! table.
//!
//! Each step runs in a tokio runtime of its own that is dropped when the step ends:
//! with it go the sessions' tasks and their store, whose writer then lets go of the
//! data directory, as a stopped process would. The next step's store takes it again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use stemzaal::app::{self, Config};
use stemzaal::core::deck::{Deck, SlideKind, DEFAULT_DECK_SOURCE};
use stemzaal::core::session::Event;
use stemzaal::hub::Hub;
use stemzaal::store::{Completion, Durability, Store};
use stemzaal::web::limits::Limits;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Time a restart with many stored votes.
#[derive(Parser, Debug)]
struct Args {
    /// Stored votes (one participant each).
    #[arg(long, default_value_t = 100_000)]
    votes: usize,
    /// Restarts to time; the report gives each and the median.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Other sessions stored before the probed one (a server that ran many meetings).
    #[arg(long, default_value_t = 0)]
    others: usize,
    /// Stored votes in each of the other sessions.
    #[arg(long, default_value_t = 2_000)]
    other_votes: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let data = tempfile::tempdir()?;
    for _ in 0..args.others {
        runtime()?.block_on(write_session(data.path(), args.other_votes))?;
    }
    let (code, probe) = runtime()?.block_on(write_session(data.path(), args.votes))?;
    // The database and its write-ahead log together: a fresh log may not be checkpointed yet.
    let db_size: u64 = std::fs::read_dir(data.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mut times = vec![];
    for run in 0..args.runs {
        let elapsed = runtime()?.block_on(time_restart(data.path(), &code, probe))?;
        eprintln!("run {}: serving again after {elapsed:?}", run + 1);
        times.push(elapsed);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("| stored votes | other sessions | events | database | runs | median restart → serving | min | max |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} × {} votes | {} | {:.1} MB | {} | {:.0} ms | {:.0} ms | {:.0} ms |",
        args.votes,
        args.others,
        args.other_votes,
        args.votes * 2 + 2,
        db_size as f64 / 1e6,
        args.runs,
        ms(median),
        ms(times[0]),
        ms(*times.last().unwrap())
    );
    Ok(())
}

/// The runtime the `stemzaal` binary builds; dropping it drops every task it ran.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("a tokio runtime")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Stores a session on the default deck with `votes` participants who each voted on
/// the first statement; returns its code and one participant to probe.
async fn write_session(dir: &std::path::Path, votes: usize) -> Result<(String, Uuid)> {
    let store = Store::open(dir, Durability::Normal)?;
    let hub = Hub::new(store.clone(), "http://127.0.0.1".into());
    let deck = Arc::new(Deck::default_deck());
    let slide = deck
        .slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .context("the default deck has a statement")?;
    let handle = hub.create(deck, DEFAULT_DECK_SOURCE).await?;
    let code = handle.code().to_owned();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let done = move || -> Completion {
        let tx = tx.clone();
        Box::new(move |outcome| {
            // The receiver waits below until every write has answered.
            tx.send(outcome).ok();
        })
    };
    let mut writes = 1;
    store.append(
        &code,
        0,
        vec![Event::SlideShown { slide }, Event::VoteOpened { slide }],
        done(),
    )?;
    let mut probe = Uuid::nil();
    for chunk in (0..votes).collect::<Vec<_>>().chunks(10_000) {
        let mut events = Vec::with_capacity(chunk.len() * 2);
        for &i in chunk {
            let participant = Uuid::new_v4();
            probe = participant;
            events.push(Event::Joined { participant });
            events.push(Event::Voted {
                participant,
                slide,
                round: 1,
                option: i % 2,
            });
        }
        store.append(&code, 0, events, done())?;
        writes += 1;
    }
    for _ in 0..writes {
        rx.recv().await.context("the store stopped")??;
    }
    Ok((code, probe))
}

/// Starts the server on `dir` and times until `probe`'s phone is welcomed with its vote.
async fn time_restart(dir: &std::path::Path, code: &str, probe: Uuid) -> Result<Duration> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let bind: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let config = Config {
        bind,
        deck: None,
        data: dir.to_owned(),
        new_session: false,
        public_url: Some(format!("http://{bind}")),
        durability: Durability::Normal,
        limits: Limits::default(),
        admin_password: None,
        nats: None,
    };
    let started = Instant::now();
    let server = tokio::spawn(app::run(config));
    let url = format!("ws://{bind}/ws/{code}");
    let deadline = started + Duration::from_secs(30);
    let elapsed = loop {
        if Instant::now() > deadline {
            bail!("the server did not serve within 30 s");
        }
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        };
        let hello = serde_json::json!({"type": "hello", "participant_id": probe});
        ws.send(Message::text(hello.to_string())).await?;
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            bail!("no welcome");
        };
        let welcome: serde_json::Value = serde_json::from_str(&text)?;
        if welcome["votes"].as_array().map(Vec::len) != Some(1) {
            bail!("the probe's vote was not recovered: {welcome}");
        }
        break started.elapsed();
    };
    // Its sessions' tasks, and with them the store, go when the caller drops the runtime.
    server.abort();
    Ok(elapsed)
}
