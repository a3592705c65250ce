//! The `stemzaal` command as a user runs it: the banner, `check`, `sessions`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Instant;

fn stemzaal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stemzaal"))
}

#[test]
fn check_lists_the_default_deck_and_names_file_and_line_of_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.md");
    std::fs::write(&good, stemzaal::core::deck::DEFAULT_DECK_SOURCE).unwrap();
    // `check` reads a deck's images from beside it, as the built-in deck keeps its own.
    for (name, bytes) in stemzaal::core::deck::DEFAULT_DECK_IMAGES {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let out = stemzaal().arg("check").arg(&good).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Gemeenteraad opereert op afstand"), "{text}");
    assert!(text.matches("statement").count() >= 4, "{text}");

    let bad = dir.path().join("bad.md");
    std::fs::write(
        &bad,
        "# Intro\n\n---\n\n## Stelling\n\nA) alleen een optie\n",
    )
    .unwrap();
    let out = stemzaal().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("{}:7:", bad.display())), "{err}");
}

#[test]
fn check_exits_0_for_a_deck_with_warnings_1_for_errors_or_an_unreadable_file_2_for_bad_use() {
    let dir = tempfile::tempdir().unwrap();
    let warned = dir.path().join("warned.md");
    let long = "lang ".repeat(30);
    std::fs::write(&warned, format!("## Stelling\n\nA) {long}\nB) nee\n")).unwrap();
    let out = stemzaal().arg("check").arg(&warned).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("warned.md:3: "), "a warning: {err}");
    assert_eq!(out.status.code(), Some(0), "{err}");

    let latin1 = dir.path().join("latin1.md");
    std::fs::write(&latin1, b"## Caf\xe9?\n\nA) ja\nB) nee\n").unwrap();
    for unreadable in [dir.path().join("missing.md"), dir.path().to_owned(), latin1] {
        let out = stemzaal().arg("check").arg(&unreadable).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {err}",
            unreadable.display()
        );
        assert!(err.contains("reading deck"), "{err}");
        assert!(out.stdout.is_empty());
    }
    for args in [&["check"][..], &["check", "--lang", "fr", "x.md"]] {
        let out = stemzaal().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn the_server_prints_urls_code_and_a_qr_code_and_resumes_its_session_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let first = banner(dir.path(), port, &[]);
    let base = format!("http://127.0.0.1:{port}/");
    let code = banner_code(&first);
    assert!(first.contains(&format!("{base}{code}")), "{first}");
    assert!(
        first.contains(&format!("{base}host/{code}?key=")),
        "{first}"
    );
    assert!(
        first.contains(&format!("{base}screen/{code}?key=")),
        "{first}"
    );
    assert!(first.contains(&format!("{base}admin")), "{first}");
    let password = first
        .lines()
        .find_map(|l| l.split("admin password: ").nth(1))
        .expect("the generated admin password, shown on the first start");
    assert_eq!(password.trim().len(), 23, "{password}");
    assert!(first.contains("Nieuwe sessie"));
    let second = banner(dir.path(), port, &[]);
    assert!(second.contains("Sessie hervat"), "{second}");
    assert!(
        second.contains(&format!("{base}{code}")),
        "the same session comes back"
    );
    assert!(
        !second.contains(password.trim()) && !second.contains("admin password"),
        "the password is shown once: {second}"
    );
}

#[test]
fn the_server_without_arguments_serves_the_built_in_decks_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mut child) = serve_in(dir.path());
    // Serving once the banner is out.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("Code:")), "a banner");
    let key = stemzaal::core::deck::media_key(stemzaal::core::deck::DEFAULT_DECK_SOURCE);
    let mut got = Vec::new();
    for size in ["screen", "phone"] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::Write as _;
        write!(
            stream,
            "GET /media/{key}/opzet-onderzoek.png/{size} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        got.push(answer);
    }
    child.kill().ok();
    child.wait().ok();
    for answer in got {
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
        assert!(
            head.starts_with("http/1.0 200") || head.starts_with("http/1.1 200"),
            "{head}"
        );
        assert!(head.contains("content-type: image/png"), "{head}");
        assert!(answer[split + 4..].starts_with(b"\x89PNG"), "{head}");
    }
}

/// Starts the server on a free port with its data in `dir`, its banner on a pipe.
fn serve_in(dir: &std::path::Path) -> (u16, std::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = stemzaal()
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (port, child)
}

/// Starts the binary with `args`, reads its banner up to the QR code, stops it.
fn banner(dir: &std::path::Path, port: u16, args: &[&str]) -> String {
    let started = Instant::now();
    let mut child = stemzaal()
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let qr_line = line.contains('▀') || line.contains('▄') || line.contains('█');
        text.push_str(&line);
        text.push('\n');
        if qr_line && text.matches('\n').count() > 20 {
            break;
        }
    }
    let elapsed = started.elapsed();
    child.kill().ok();
    child.wait().ok();
    eprintln!("banner with QR printed after {elapsed:?}");
    text
}

fn banner_code(banner: &str) -> String {
    let code_line = banner
        .lines()
        .find(|l| l.contains("Code:"))
        .expect("a code line");
    let code = code_line.split_whitespace().last().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    code
}

#[test]
fn a_restart_with_an_edited_deck_keeps_the_code_unless_the_structure_changed() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::recovery::free_port();
    let deck = dir.path().join("raad.md");
    let data = dir.path().join("data");
    let deck_arg = deck.to_str().unwrap();
    std::fs::write(&deck, "## Stelling\n\nA) Ja\nB) Nee\n").unwrap();
    let first = banner(&data, port, &["--deck", deck_arg]);
    let code = banner_code(&first);
    assert!(first.contains("Nieuwe sessie"), "{first}");
    // A typo fixed: the same session, its texts replaced.
    std::fs::write(&deck, "## Stelling\n\nA) Ja, graag\nB) Nee\n").unwrap();
    let second = banner(&data, port, &["--deck", deck_arg]);
    assert!(second.contains("deck bijgewerkt"), "{second}");
    assert_eq!(banner_code(&second), code, "the room keeps its code");
    // A third option: a new session, with a new code.
    std::fs::write(&deck, "## Stelling\n\nA) Ja, graag\nB) Nee\nC) Weet niet\n").unwrap();
    let third = banner(&data, port, &["--deck", deck_arg]);
    assert!(third.contains("Nieuwe sessie"), "{third}");
    assert_ne!(banner_code(&third), code);
    let listed = stemzaal()
        .args(["sessions", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    // The stored deck of the kept session is the edited text.
    let db = rusqlite::Connection::open(data.join(stemzaal::store::DB_FILE)).unwrap();
    let source: String = db
        .query_row(
            "SELECT deck_source FROM sessions WHERE code = ?1",
            [&code],
            |r| r.get(0),
        )
        .unwrap();
    assert!(source.contains("Ja, graag"), "{source}");
}

#[test]
fn reset_password_prints_a_new_one_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = stemzaal()
        .args(["admin", "reset-password", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("new admin password: "))
        .expect("the password")
        .to_owned();
    assert_eq!(password.len(), 23);
    let db = rusqlite::Connection::open(dir.path().join(stemzaal::store::DB_FILE)).unwrap();
    let hash: String = db
        .query_row(
            "SELECT value FROM settings WHERE name = 'admin_password_hash'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(&password));
}

#[test]
fn sessions_list_and_delete_remove_every_trace_of_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let (_port, mut child) = serve_in(dir.path());
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 256];
    let mut seen = String::new();
    while !seen.contains("Code:") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the server printed its banner");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // While the server runs, the data directory is its own.
    let busy = stemzaal()
        .args(["sessions", "delete", "ABCDEF", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("in use"));
    child.kill().unwrap();
    child.wait().unwrap();

    let list = stemzaal()
        .args(["sessions", "list", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).unwrap();
    let code = text.split_whitespace().next().unwrap().to_owned();
    assert_eq!(code.len(), 6, "{text}");
    assert!(text.contains("gebiedsgericht-werken.md"));

    let unknown = stemzaal()
        .args(["sessions", "delete", "ZZZZZZ", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    let deleted = stemzaal()
        .args(["sessions", "delete", &code, "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    let list = stemzaal()
        .args(["sessions", "list", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8(list.stdout)
        .unwrap()
        .contains("no stored sessions"));
    // Nothing of it is left in the files either (the host key was stored with it).
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&code), "the code is still on disk");
    }
}

#[test]
fn the_example_deck_in_the_readme_passes_check() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```markdown\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a markdown example in the README");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("noord.md");
    std::fs::write(&file, block).unwrap();
    let out = stemzaal().arg("check").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Wijkraad Noord") && text.contains("statement"),
        "{text}"
    );
}
