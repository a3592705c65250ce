//! The load generator keeps working: a small run (300 phones, a couple of seconds)
//! against stemzaal and the floor must end with every vote acknowledged and an exact
//! tally on the screen and in SQLite, and with the upvote workload (arguments and
//! questions) every upvote answered and every phone's bytes counted. Speed is not checked here;
//! docs/PERFORMANCE.md has the real measurement.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs loadgen with 300 phones, a second of sustained votes and `extra`; returns its
/// output, after asserting that it succeeded.
fn small_run(extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--phones",
            "300",
            "--sources",
            "2",
            "--connect-concurrency",
            "32",
            "--rss-at",
            "100",
            "--settle-ms",
            "100",
            "--burst-rate",
            "1000",
            "--gap-secs",
            "0.3",
            "--sustain-rate",
            "1000",
            "--sustain-secs",
            "1",
            "--drain-secs",
            "10",
            "--deadline-secs",
            "120",
        ])
        .args(extra)
        .output()
        .expect("the loadgen binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "loadgen failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

#[test]
fn a_small_loadgen_run_against_both_servers_ends_with_an_exact_tally() {
    let started = Instant::now();
    let stdout = small_run(&["--target", "both"]);
    for target in ["stemzaal", "floor"] {
        assert!(
            stdout.contains(&format!("RESULT {target}: tally exact, every vote acked")),
            "no exact result for {target}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("replayed from SQLite after SIGKILL: voted 300")
            && stdout.contains("(exact)"),
        "the stored tally was not checked or not exact:\n{stdout}"
    );
    // 300 first votes plus 1,000 changed votes, all acked: the table shows the rates.
    assert!(
        stdout.contains("| burst vote→screen p99 (ms) |"),
        "{stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the smoke run took {:?}",
        started.elapsed()
    );
}

#[test]
fn phones_spread_over_worker_processes_give_one_exact_report() {
    let stdout = small_run(&["--target", "stemzaal", "--workers", "3"]);
    assert!(
        stdout.contains("held by 3 worker processes")
            && stdout.contains("--sources raised from 2 to 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("RESULT stemzaal: tally exact, every vote acked"),
        "{stdout}"
    );
    assert!(
        stdout.contains("replayed from SQLite after SIGKILL: voted 300")
            && stdout.contains("| generator processes holding the phones | 3 |"),
        "{stdout}"
    );
}

/// The first number in the table row labelled `label`.
fn table_value(stdout: &str, label: &str) -> Option<f64> {
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {label} |")))?;
    row.split('|').nth(2)?.trim().replace(',', "").parse().ok()
}

#[test]
fn upvotes_of_arguments_and_questions_during_the_votes_are_all_answered_and_counted() {
    let stdout = small_run(&[
        "--target",
        "stemzaal",
        "--arguments",
        "10",
        "--questions",
        "4",
        "--upvotes-per-sec",
        "200",
        "--upvote-secs",
        "1.4",
    ]);
    // The first 4 arguers asked a question each and the host approved them all.
    let approved = stdout
        .lines()
        .find_map(|l| l.split_once("and questions [").map(|(_, q)| q.to_owned()))
        .unwrap_or_default();
    assert_eq!(approved.split(',').count(), 4, "{stdout}");
    // 200/s for 1.4 s: 280 upvotes round the 10 arguments and 4 questions, each phone
    // at most once per item, none by the 10 arguers (the askers among them).
    for (run, ok) in [("without upvotes", 0), ("with upvotes", 280)] {
        assert!(
            stdout.contains(&format!(
                "RESULT stemzaal {run}: tally exact, every vote acked, every upvote answered ok ({ok})"
            )),
            "no exact result for the run {run}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("upvotes scheduled 280, sent 280, ok 280, refused 0"),
        "{stdout}"
    );
    // Every upvote answered ok is on the host's lists and in SQLite.
    assert!(
        stdout.contains("the host lists 280 upvotes, 280 were answered ok (exact)")
            && stdout.contains("replayed from SQLite: 280 upvotes, 280 answered ok (exact)"),
        "{stdout}"
    );
    // The 10 arguers voted before the burst, the 290 others in it: all 300 count.
    assert!(
        stdout.contains("replayed from SQLite after SIGKILL: voted 300"),
        "{stdout}"
    );
    // The phones counted what they received in the window (at least their acks).
    for label in [
        "received per phone in the window, median (kB/s)",
        "messages per phone per s in the window, median",
        "server → phones in the window, all phones (MB/s)",
    ] {
        let value = table_value(&stdout, label);
        assert!(
            value.is_some_and(|v| v > 0.0),
            "{label}: {value:?}\n{stdout}"
        );
    }
    assert_eq!(
        table_value(&stdout, "upvotes answered ok"),
        Some(280.0),
        "{stdout}"
    );
}

#[test]
fn loadgen_help_documents_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--help")
        .output()
        .expect("the loadgen binary runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--phones",
        "--workers",
        "--target",
        "--nodes",
        "--repeat",
        "--sources",
        "--connect-concurrency",
        "--rss-at",
        "--settle-ms",
        "--burst-rate",
        "--burst-secs",
        "--gap-secs",
        "--sustain-rate",
        "--sustain-secs",
        "--drain-secs",
        "--durability",
        "--floor-nodelay",
        "--server-wrap",
        "--quiet-below",
        "--quiet-wait-secs",
        "--deadline-secs",
        "--report",
        "--arguments",
        "--upvotes-per-sec",
        "--upvote-secs",
        "--questions",
        "--no-upvote-baseline",
    ] {
        assert!(help.contains(option), "--help does not mention {option}");
    }
    assert!(
        !help.contains("serve-stemzaal"),
        "the server subcommands stay hidden"
    );
}
