//! Finding `nats-server` for the tests that need one: the cluster tests here, and the
//! takeover bench's smoke test (`bench/tests/takeover_smoke.rs` includes this file).

use std::path::PathBuf;

/// Finds `nats-server`, or says loudly why `test` does not run (and fails in CI).
pub fn nats_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: nats-server is not installed (apt-get install nats-server)");
        }
        eprintln!(
            "\n!!! SKIPPED {test}: nats-server not found. Install it (apt-get install \
             nats-server) to run it.\n"
        );
    }
    found
}
