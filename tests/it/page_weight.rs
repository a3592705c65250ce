//! The participant page must load on an old phone over poor Wi-Fi: everything it
//! fetches (HTML, CSS, scripts, the Dutch strings), as the server sends it gzipped,
//! stays within 30 KB.

use crate::support;

use std::collections::BTreeSet;

use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The budget from the brief: 30 KB over the wire.
const BUDGET_BYTES: usize = 30 * 1024;

/// GETs `path` with gzip accepted; returns (status, content-encoding, body bytes as sent).
async fn get_wire(addr: std::net::SocketAddr, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = vec![];
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let encoding = head
        .lines()
        .find_map(|l| l.strip_prefix("content-encoding: "))
        .map(str::to_owned);
    if head.contains("transfer-encoding: chunked") {
        let mut out = vec![];
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest = &rest[line_end + 2 + size + 2..];
        }
        body = out;
    }
    (status, encoding, body)
}

/// Every `/assets/…` URL a text mentions, and `./x.js` imports resolved against `base`.
fn references(text: &str, base: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for quote in ['"', '\''] {
        for piece in text.split(quote).skip(1).step_by(2) {
            if piece.starts_with("/assets/") && !piece.contains('$') {
                found.insert(piece.to_owned());
            } else if let Some(name) = piece.strip_prefix("./") {
                if name.ends_with(".js") {
                    found.insert(format!("{base}{name}"));
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn the_participant_page_with_everything_it_loads_stays_under_30_kb_gzipped() {
    let server = TestServer::start().await;
    let mut todo: Vec<String> = vec![format!("/{}", server.code()), "/assets/i18n/nl.js".into()];
    let mut seen = BTreeSet::new();
    let (mut wire, mut plain) = (0usize, 0usize);
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (status, encoding, body) = get_wire(server.addr, &path).await;
        assert_eq!(status, 200, "{path}");
        wire += body.len();
        let text = if encoding.as_deref() == Some("gzip") {
            let mut decoded = String::new();
            flate2_decode(&body, &mut decoded);
            decoded
        } else {
            String::from_utf8(body).unwrap()
        };
        plain += text.len();
        let base = path.rsplit_once('/').map_or("/", |(dir, _)| dir).to_owned() + "/";
        if path.ends_with(".js") || path == format!("/{}", server.code()) {
            todo.extend(references(&text, &base));
        }
    }
    println!(
        "participant page: {} files, {plain} bytes, {wire} bytes over the wire (gzip)",
        seen.len()
    );
    assert!(
        seen.len() >= 5,
        "the crawl found the page's files: {seen:?}"
    );
    assert!(wire <= BUDGET_BYTES, "{wire} bytes over the wire");
    assert!(wire < plain, "responses are compressed");
}

/// Gunzips with the `flate2` that tower-http already depends on.
fn flate2_decode(bytes: &[u8], out: &mut String) {
    use std::io::Read;
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(out)
        .expect("valid gzip");
}
