//! The takeover bench keeps working: one small takeover (1,000 stored votes, one NATS
//! server) must end with the table of its figures. Speed is not checked here;
//! docs/SCALING.md has the real measurement.
//!
//! Without `nats-server` (Debian package `nats-server`) this skips with a loud
//! message; with `CI=true` it fails instead.

use std::process::Command;

#[path = "../../tests/it/nats.rs"]
mod nats;

#[test]
fn a_small_takeover_ends_with_its_figures() {
    let Some(nats) = nats::nats_or_skip("a_small_takeover_ends_with_its_figures") else {
        return;
    };
    let output = Command::new(env!("CARGO_BIN_EXE_takeover_bench"))
        .args([
            "--votes",
            "1000",
            "--runs",
            "1",
            "--replicas",
            "1",
            "--nats-server",
        ])
        .arg(&nats)
        .output()
        .expect("the takeover_bench binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("| 1000 | 1 | 1 |"), "{stdout}");
}
