//! Decks' images in cluster mode: uploaded on one node, served by every node from the
//! cluster; an upload while NATS is away is refused and leaves nothing behind.

use serde_json::Value;

use super::{free_port, single_nats_on, Console, Node};
use crate::images::png;
use crate::nats::nats_or_skip;
use crate::support::{http_get_bytes, http_request};

const DECK: &str =
    "## De wijk\n\n![Kaart van de wijk](kaart.png)\n\n---\n\n## Stelling\n\nA) ja\nB) nee\n";

/// Uploads `bytes` as image `file` of `DECK` through a node's console.
async fn upload(console: &Console, file: &str, bytes: &[u8]) -> (u16, Value) {
    let key = stemzaal::core::deck::media_key(DECK);
    let origin = format!("http://{}", console.addr);
    let headers = [
        ("Cookie", console.cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/octet-stream"),
    ];
    let path = format!("/api/images/{key}/{file}");
    let (status, _, body) = http_request(console.addr, "PUT", &path, &headers, bytes).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A node's answer to `/media/…` for `file` at `size`: status, content type, bytes.
async fn media(node: &Node, file: &str, size: &str) -> (u16, Option<String>, Vec<u8>) {
    let key = stemzaal::core::deck::media_key(DECK);
    let addr = format!("127.0.0.1:{}", node.port).parse().unwrap();
    let (status, head, bytes) =
        http_get_bytes(addr, &format!("/media/{key}/{file}/{size}"), &[]).await;
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .map(|t| t.trim().to_owned());
    (status, content_type, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_uploaded_on_one_node_is_served_by_every_node_and_none_while_nats_is_away() {
    let Some(bin) = nats_or_skip("an_image_uploaded_on_one_node_is_served_by_every_node") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut nats = single_nats_on(&bin, dir.path(), port);
    let a = Node::start(&nats.url, 1, &dir.path().join("a"));
    let b = Node::start(&nats.url, 1, &dir.path().join("b"));
    let console = Console::login(&a).await;

    let (status, stored) = upload(&console, "kaart.png", &png(2400, 1400)).await;
    assert_eq!(status, 200, "{stored}");
    for size in ["screen", "phone"] {
        let (status, content_type, from_a) = media(&a, "kaart.png", size).await;
        assert_eq!(status, 200, "{size} from the node that took the upload");
        let (status, from_b_type, from_b) = media(&b, "kaart.png", size).await;
        assert_eq!(status, 200, "{size} from the other node");
        assert_eq!(from_b_type, content_type);
        assert_eq!(from_b, from_a, "the same bytes of {size} on both nodes");
        let decoded = image::load_from_memory(&from_b).expect("an image");
        let widest = if size == "screen" { 1920 } else { 800 };
        assert_eq!(decoded.width(), widest, "{size}");
    }
    // A node started after the upload serves it too: nothing of it is on its disk.
    let c = Node::start(&nats.url, 1, &dir.path().join("c"));
    assert_eq!(media(&c, "kaart.png", "phone").await.0, 200);

    // Without NATS the upload is refused and says so; when NATS is back, the refused
    // image is not there and the stored one still is.
    nats.child.kill();
    let (status, refused) = upload(&console, "plein.png", &png(640, 480)).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{refused}"
    );
    drop(nats);
    let _nats = single_nats_on(&bin, dir.path(), port);
    let mut served = 0;
    for _ in 0..100 {
        served = media(&b, "kaart.png", "screen").await.0;
        if served == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(served, 200, "the stored image after NATS came back");
    assert_eq!(media(&a, "plein.png", "screen").await.0, 404);
    assert_eq!(media(&b, "plein.png", "screen").await.0, 404);
}
