//! Measures how long cluster mode takes to go on after the owner of a session died.
//!
//! `cargo run --release -p stemzaal-bench --bin takeover_bench -- --votes 100000 --runs 5 --replicas 3`
//! starts NATS (one server, or with `--replicas 3` a cluster of three on loopback),
//! writes a session with that many participants, each with a join and a vote, into its
//! log, as its owner would have. Then, per run, the owner "dies" holding a fresh lease
//! (it stops renewing at the moment of the kill), and a new node is asked for the
//! session: it waits for the lease to expire, reads the log, fences it and takes a vote.
//! The time from the kill to that vote's acknowledgement is the takeover. Prints a
//! Markdown table. Needs `nats-server` (Debian package `nats-server`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use stemzaal::cluster::{Claim, Cluster, LogWriter, LEASE_TTL};
use stemzaal::core::deck::{Deck, SlideKind, DEFAULT_DECK_SOURCE};
use stemzaal::core::session::{Command as SessionCommand, Event};
use stemzaal::hub::{Hub, Request};
use stemzaal::store::{Completion, Durability, SessionRecord, Store};
use stemzaal::wire::protocol::{Lang, ServerMsg};
use uuid::Uuid;

/// Time a takeover of a session with many stored votes.
#[derive(Parser, Debug)]
struct Args {
    /// Stored votes (one participant each).
    #[arg(long, default_value_t = 100_000)]
    votes: usize,
    /// Takeovers to time; the report gives each and the median.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// 1: one NATS server; 3: a cluster of three, each session's log on all three.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    replicas: u8,
    /// The nats-server binary.
    #[arg(long, default_value = "nats-server")]
    nats_server: PathBuf,
}

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.votes == 0 || args.runs == 0 {
        bail!("--votes and --runs must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let (_servers, url) = start_nats(&args.nats_server, dir.path(), args.replicas)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(&args, &url, dir.path()))
}

async fn run(args: &Args, url: &str, dir: &Path) -> Result<()> {
    let replicas = usize::from(args.replicas);
    let owner = Cluster::connect(url, replicas).await?;
    let (code, slide, probe) = write_session(&owner, args.votes).await?;
    let mut rows = vec![];
    // The probe's vote changes every run, so each acknowledgement waits for an append.
    let mut option = (args.votes - 1) % 2;
    for run in 0..args.runs {
        option = 1 - option;
        // The owner holds a fresh lease at the moment it dies: the worst case, a whole
        // lifetime to wait out.
        let killed = loop {
            if let Claim::Owner(_) = owner.claim(&code).await? {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // A data directory per node, as the server holds one in cluster mode too.
        let _store = Store::open(&dir.join(format!("node{run}")), Durability::Normal)?;
        let node = Arc::new(Cluster::connect(url, replicas).await?);
        let hub = Hub::new(node, "http://127.0.0.1".into());
        let handle = hub
            .find(&code)
            .await?
            .context("the new node finds the session")?;
        let found = killed.elapsed();
        let (outbox, mut answers) = tokio::sync::mpsc::unbounded_channel();
        handle
            .request(Request::Command {
                command: SessionCommand::Vote {
                    participant: probe,
                    slide,
                    round: 1,
                    option,
                },
                id: Some(1),
                lang: Lang::En,
                outbox,
            })
            .await?;
        match answers.recv().await {
            Some(ServerMsg::Ack { .. }) => {}
            other => bail!("the new owner answered the vote with {other:?}"),
        }
        let acked = killed.elapsed();
        eprintln!(
            "run {}: owner found after {found:?}, first vote acknowledged after {acked:?}",
            run + 1
        );
        rows.push((found, acked));
        // A graceful stop lets the lease go, so the next run starts from a free one.
        hub.stop_all(Duration::from_secs(10)).await;
    }
    let median = |pick: fn(&(Duration, Duration)) -> Duration| {
        let mut times: Vec<Duration> = rows.iter().map(pick).collect();
        times.sort();
        (times[times.len() / 2], times[0], times[times.len() - 1])
    };
    let (found, found_min, found_max) = median(|r| r.0);
    let (acked, acked_min, acked_max) = median(|r| r.1);
    println!(
        "| stored votes | replicas | runs | lease lifetime | kill → new owner serving (median, min–max) | kill → first vote acknowledged (median, min–max) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {} | {} ms | {:.0} ms ({:.0}–{:.0}) | {:.0} ms ({:.0}–{:.0}) |",
        args.votes,
        args.replicas,
        args.runs,
        LEASE_TTL.as_millis(),
        ms(found),
        ms(found_min),
        ms(found_max),
        ms(acked),
        ms(acked_min),
        ms(acked_max),
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes a session on the default deck whose log holds `votes` participants who each
/// voted on the first statement; returns its code, the statement and one participant.
async fn write_session(owner: &Cluster, votes: usize) -> Result<(String, usize, Uuid)> {
    let deck = Deck::default_deck();
    let slide = deck
        .slides
        .iter()
        .position(|s| matches!(s.kind, SlideKind::Statement { .. }))
        .context("the default deck has a statement")?;
    // A code the server could have made: nodes look up no other.
    let alphabet = stemzaal::core::cards::ALPHABET;
    let code: String =
        std::iter::repeat_with(|| alphabet[usize::from(rand_u16()) % alphabet.len()] as char)
            .take(stemzaal::hub::CODE_LEN)
            .collect();
    owner.create_log(&code).await?;
    let record = SessionRecord {
        code: code.clone(),
        deck_name: deck.source_name.clone(),
        deck_source: DEFAULT_DECK_SOURCE.to_owned(),
        host_key: format!("{:032x}", 1),
        screen_key: format!("{:032x}", 2),
        created_ms: stemzaal::store::now_ms(),
        ..SessionRecord::default()
    };
    if !owner.create_record(&record).await? {
        bail!("session {code} exists already");
    }
    let Claim::Owner(revision) = owner.claim(&code).await? else {
        bail!("a new session's lease is taken");
    };
    let writer = LogWriter::start(owner, &code, revision, 0);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let done = move || -> Completion {
        let tx = tx.clone();
        Box::new(move |outcome| {
            tx.send(outcome).ok();
        })
    };
    writer.append(
        0,
        vec![Event::SlideShown { slide }, Event::VoteOpened { slide }],
        done(),
    )?;
    let mut writes = 1;
    let mut probe = Uuid::nil();
    // 500 participants (1,000 events) an append, as group commits under a burst write.
    for chunk in (0..votes).collect::<Vec<_>>().chunks(500) {
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
        writer.append(0, events, done())?;
        writes += 1;
    }
    for _ in 0..writes {
        rx.recv().await.context("the log writer stopped")??;
    }
    Ok((code, slide, probe))
}

fn rand_u16() -> u16 {
    (Uuid::new_v4().as_u128() & 0xffff) as u16
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts one NATS server, or three in a cluster; returns them and the client URLs.
fn start_nats(bin: &Path, dir: &Path, replicas: u8) -> Result<(Vec<Process>, String)> {
    let count = if replicas == 1 { 1 } else { 3 };
    let clients: Vec<u16> = (0..count).map(|_| free_port()).collect::<Result<_>>()?;
    let routes: Vec<u16> = (0..count).map(|_| free_port()).collect::<Result<_>>()?;
    let route_list = routes
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut servers = vec![];
    for i in 0..count {
        let mut config = format!(
            "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\n",
            clients[i],
            dir.join(format!("nats{i}")).display()
        );
        if count > 1 {
            config.push_str(&format!(
                "cluster {{ name: bench, listen: 127.0.0.1:{}, routes: [{route_list}] }}\n",
                routes[i]
            ));
        }
        let file = dir.join(format!("nats{i}.conf"));
        std::fs::write(&file, config)?;
        let child = Command::new(bin)
            .arg("-c")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} (apt-get install nats-server)", bin.display()))?;
        servers.push(Process(child));
    }
    for port in &clients {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
            if Instant::now() > deadline {
                bail!("nats-server did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let urls = clients
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok((servers, urls))
}
