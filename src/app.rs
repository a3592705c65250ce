//! Start-up for the binary: opens the store, picks the adapters (SQLite on one
//! machine, NATS in cluster mode) once for the hub and the console, brings back stored
//! sessions, opens the session for the chosen deck and prints how to reach it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use crate::cluster::Cluster;
use crate::core::deck::{self, Deck};
use crate::hub::library::{Library, Logins};
use crate::hub::media::{Image, Media};
use crate::hub::{Hub, Opened, SessionHandle};
use crate::store::{Durability, Store};
use crate::web::admin::{Admin, MemoryLogins};
use crate::web::images::ImageError;
use crate::web::limits::Limits;

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// A deck file; `None` runs the built-in deck.
    pub deck: Option<PathBuf>,
    /// Where the database lives.
    pub data: PathBuf,
    /// Start a new session even if one on the same deck is stored.
    pub new_session: bool,
    /// The base URL phones use; `None` derives it from the LAN address and port.
    pub public_url: Option<String>,
    /// How much a commit must survive.
    pub durability: Durability,
    /// Connection caps, rate limits, timeouts, allowed origins and hosts.
    pub limits: Limits,
    /// The console's password; `None` uses the stored one or makes one.
    pub admin_password: Option<String>,
    /// Cluster mode: where NATS is.
    pub nats: Option<Nats>,
}

/// Where a node's cluster is (see [`crate::cluster`]).
#[derive(Debug, Clone)]
pub struct Nats {
    /// NATS server URLs, comma-separated.
    pub urls: String,
    /// Copies of each stream.
    pub replicas: usize,
}

/// The log filter for `spec` (the `RUST_LOG` syntax), except that the WebSocket library
/// is held at `info`: at `trace` it logs whole frames, and a `hello` frame carries a key.
/// Keys are never written to a log, whatever the operator asks for.
pub fn log_filter(spec: &str) -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::new(spec);
    ["tungstenite=info", "tokio_tungstenite=info"]
        .into_iter()
        .fold(filter, |f, d| {
            f.add_directive(d.parse().expect("a valid directive"))
        })
}

/// Reads a deck file, or the built-in deck; returns the deck, its text and its images,
/// read from beside the file and checked (an image error names its file).
pub fn load_deck(path: Option<&std::path::Path>) -> Result<(Deck, String, Vec<Image>)> {
    match path {
        None => Ok((
            Deck::default_deck(),
            deck::DEFAULT_DECK_SOURCE.to_owned(),
            vec![],
        )),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading deck {}", path.display()))?;
            let name = path.display().to_string();
            let mut deck = deck::parse(&name, &text)?;
            let beside = path.parent().unwrap_or(std::path::Path::new("."));
            let images = read_images(&deck, beside)?;
            warn_small_images(&mut deck, &images);
            Ok((deck, text, images))
        }
    }
}

/// The built-in deck's images, checked and sized as an uploaded image is.
pub fn builtin_images() -> Result<Vec<Image>> {
    deck::DEFAULT_DECK_IMAGES
        .iter()
        .map(|(name, bytes)| Ok(crate::web::images::prepare(name, bytes)?))
        .collect()
}

/// Adds a warning to `deck` on each slide that shows an image too small for a projector.
fn warn_small_images(deck: &mut Deck, images: &[Image]) {
    let small: Vec<_> = deck
        .slides
        .iter()
        .flat_map(|slide| slide.images.iter().map(move |name| (slide.line, name)))
        .filter_map(|(line, name)| {
            let image = images.iter().find(|i| &i.name == name)?;
            deck::small_image(line, name, image.width, image.height)
        })
        .collect();
    deck.warnings.extend(small);
    deck.warnings.sort_by_key(|w| w.line);
}

/// Reads and checks the images `deck` shows from the folder `beside` it.
fn read_images(deck: &Deck, beside: &std::path::Path) -> Result<Vec<Image>> {
    let mut total = 0;
    let mut images = Vec::new();
    for name in deck.images() {
        let file = beside.join(name);
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ImageError::missing(name).into())
            }
            Err(e) => return Err(e).with_context(|| format!("reading image {}", file.display())),
        };
        total += bytes.len();
        if total > crate::web::images::MAX_DECK_IMAGE_BYTES {
            return Err(ImageError::deck_too_large(name, total).into());
        }
        images.push(crate::web::images::prepare(name, &bytes)?);
    }
    Ok(images)
}

/// Runs the server until it is stopped.
pub async fn run(config: Config) -> Result<()> {
    let (deck, source, images) = load_deck(config.deck.as_deref())?;
    let listener = listen(config.bind).with_context(|| format!("listening on {}", config.bind))?;
    let local = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", display_addr(local)));
    // Checked before the banner, so a public URL without a host stops the start at once.
    crate::web::hosts::AllowedHosts::new(&base_url, &config.limits.allowed_hosts)?;
    // A write past a file-size limit (`ulimit -f`) must fail, so the store refuses the
    // votes and says so, instead of SIGXFSZ ending the process: a handler replaces the
    // default action for as long as the process runs. (Windows has no such signal: a
    // write past a limit fails there anyway.)
    #[cfg(unix)]
    let _file_size_signal =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ))
            .context("handling SIGXFSZ")?;
    // The store holds the data directory until the server has stopped.
    let store = Store::open(&config.data, config.durability)?;
    let Adapters {
        hub,
        library,
        logins,
        media,
    } = adapters(&store, base_url, config.nats.as_ref()).await?;
    let hub = Arc::new(hub);
    let cluster = config.nats.is_some();
    step(cluster, "putting the built-in deck in the library", || {
        library.seed()
    })
    .await?;
    // Every library holds the built-in deck, so its images are stored with it, whatever
    // deck runs (once: an image is kept by its digest).
    let builtin = builtin_images()?;
    let builtin_key = deck::media_key(deck::DEFAULT_DECK_SOURCE);
    step(cluster, "storing the built-in deck's images", || {
        media.put(&builtin_key, builtin.clone())
    })
    .await?;
    let (admin, new_password) = step(cluster, "setting up the console's password", || {
        Admin::set_up(
            library.clone(),
            logins.clone(),
            config.admin_password.as_deref(),
        )
    })
    .await?;
    // The images of a `--deck` file; in a cluster every node started with the file
    // stores the same, once by their digests.
    if !images.is_empty() {
        let key = deck::media_key(&source);
        step(cluster, "storing the deck's images", || {
            media.put(&key, images.clone())
        })
        .await?;
    }
    let open = hub.restore_open()?;
    let deck = Arc::new(deck);
    let (handle, opened) = step(cluster, "opening the session", || {
        hub.open_or_reuse(deck.clone(), &source, config.new_session)
    })
    .await?;
    print_banner(
        &hub,
        &handle,
        opened,
        open.len(),
        &config,
        new_password.as_deref(),
    );
    let limits = config.limits;
    let admin = Arc::new(admin);
    let served =
        crate::web::serve_until(listener, hub, library, media, limits, admin, stop_signal());
    let served = served.await;
    // Held to here: in cluster mode nothing else holds the data directory.
    drop(store);
    served
}

/// Runs a step of the start-up. On one machine once; in a cluster until it succeeds,
/// for at most [`crate::cluster::START_FOR`]: nodes started at once on a cluster that
/// has just started meet streams without leaders yet and each other's creates, and
/// none may stop for that. Each step can be run again: what it stored the first time
/// is found the next.
async fn step<T, F, Fut>(cluster: bool, what: &str, mut run: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    if !cluster {
        return run().await.context(what.to_owned());
    }
    crate::cluster::retry_for(what, crate::cluster::START_FOR, run).await
}

/// The hub and the console's ports over the storage a server runs on.
struct Adapters {
    hub: Hub,
    library: Arc<dyn Library>,
    logins: Arc<dyn Logins>,
    media: Arc<dyn Media>,
}

/// Picks the adapters, once: the SQLite store of this machine, or with `nats` the
/// cluster, where sessions, decks, settings and logins are shared by every node.
async fn adapters(store: &Store, base_url: String, nats: Option<&Nats>) -> Result<Adapters> {
    let Some(nats) = nats else {
        return Ok(Adapters {
            hub: Hub::new(store.clone(), base_url),
            library: Arc::new(store.clone()),
            logins: Arc::new(MemoryLogins::default()),
            media: Arc::new(store.clone()),
        });
    };
    let cluster = Arc::new(Cluster::connect(&nats.urls, nats.replicas).await?);
    tracing::info!(
        node = cluster.node(),
        "cluster mode: sessions live in NATS JetStream"
    );
    let console = Arc::new(cluster.console().clone());
    let media = Arc::new(cluster.media().clone());
    Ok(Adapters {
        hub: Hub::new(cluster, base_url),
        library: console.clone(),
        logins: console,
        media,
    })
}

/// Resolves on SIGTERM (a service manager's stop) or SIGINT (Ctrl-C).
#[cfg(unix)]
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let name = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        // Without signal handlers the default action (ending the process) stays; the
        // store still loses nothing acknowledged.
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("cannot handle stop signals: {e}");
            return std::future::pending().await;
        }
    };
    tracing::warn!("{name} received: stopping");
}

/// Resolves on Ctrl-C or Ctrl-Break in the console, or when its window is closed: the
/// same stop as SIGINT on Unix. Windows waits some seconds for a closed console's
/// process to end, enough to answer the votes in flight and close the sockets.
#[cfg(windows)]
async fn stop_signal() {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let name = match (ctrl_c(), ctrl_break(), ctrl_close()) {
        (Ok(mut c), Ok(mut brk), Ok(mut close)) => tokio::select! {
            _ = c.recv() => "Ctrl-C",
            _ = brk.recv() => "Ctrl-Break",
            _ = close.recv() => "the console window's close",
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::warn!("cannot handle Ctrl-C: {e}");
            return std::future::pending().await;
        }
    };
    tracing::warn!("{name} received: stopping");
}

/// Connections the kernel queues before the server accepts them. A room scanning the QR
/// code at once is a burst of hundreds; the usual 128 overflowed in the load test.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds a listener with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, so a restart can bind
/// the same port at once).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The address phones can reach: for a wildcard bind the machine's LAN address.
fn display_addr(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(
            lan_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            local.port(),
        )
    } else {
        local
    }
}

/// The first private IPv4 address of an interface that is up, preferring the usual
/// home and office ranges; read from the interface list, no packet is sent.
pub fn lan_ip() -> Option<IpAddr> {
    let addrs = if_addrs::get_if_addrs().ok()?;
    let mut v4: Vec<Ipv4Addr> = addrs
        .iter()
        .filter(|a| !a.is_loopback())
        .filter_map(|a| match a.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .collect();
    v4.sort_by_key(|ip| !ip.is_private());
    v4.first().map(|ip| IpAddr::V4(*ip))
}

fn print_banner(
    hub: &Hub,
    handle: &SessionHandle,
    opened: Opened,
    open: usize,
    config: &Config,
    new_password: Option<&str>,
) {
    use std::fmt::Write as _;
    let join = hub.join_url(handle.code());
    let deck = handle.deck();
    let statements = deck
        .slides
        .iter()
        .filter(|s| matches!(s.kind, crate::core::deck::SlideKind::Statement { .. }))
        .count();
    let status = match opened {
        Opened::Resumed => "Sessie hervat / session resumed",
        Opened::Edited => "Sessie hervat, deck bijgewerkt / session resumed, deck edited",
        Opened::New => "Nieuwe sessie / new session",
    };
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "\n  stemzaal — {}\n  {status} ({} slides, {statements} statements)\n",
        deck.title,
        deck.slides.len()
    );
    let _ = writeln!(out, "  Deelnemers / participants:  {join}");
    let _ = writeln!(out, "  Code:                       {}", handle.code());
    let _ = writeln!(
        out,
        "  Gespreksleider / host:      {}",
        hub.host_url(handle)
    );
    let _ = writeln!(
        out,
        "  Scherm / screen:            {}",
        hub.screen_url(handle)
    );
    let _ = writeln!(
        out,
        "  Beheer / console:           {}/admin",
        hub.base_url()
    );
    if let Some(password) = new_password {
        let _ = writeln!(
            out,
            "  Beheerwachtwoord / admin password: {password}\n    \
             (nu eenmalig getoond, alleen als hash bewaard / shown once, stored only as a hash)"
        );
    }
    let _ = writeln!(
        out,
        "  Data:                       {} ({open} open sessions)\n",
        config.data.display()
    );
    out.push_str(&crate::web::qr::terminal(&join));
    out.push('\n');
    // A closed stdout (a supervisor that stopped reading) must not stop the server.
    let mut stdout = std::io::stdout().lock();
    if std::io::Write::write_all(&mut stdout, out.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut stdout))
        .is_err()
    {
        tracing::warn!("could not print the start-up banner to stdout");
    }
}

/// `stemzaal sessions list`: one line per stored session.
pub fn list_sessions(data: &std::path::Path) -> Result<String> {
    let store = Store::open(data, Durability::Normal)?;
    let mut out = String::new();
    for s in store.list()? {
        out.push_str(&format!(
            "{}  {}  {}  {}  {} events\n",
            s.code,
            if s.closed { "closed" } else { "open  " },
            format_ms(s.created_ms),
            s.deck_name,
            s.events
        ));
    }
    if out.is_empty() {
        out.push_str("no stored sessions\n");
    }
    Ok(out)
}

/// `stemzaal admin reset-password`: makes a new admin password, stores its hash in
/// place of the old one (in the data directory, or with `nats` in the cluster, where
/// every node takes it at once) and returns it.
pub async fn reset_admin_password(data: &std::path::Path, nats: Option<&Nats>) -> Result<String> {
    let library: Box<dyn Library> = match nats {
        None => Box::new(Store::open(data, Durability::Normal)?),
        Some(nats) => Box::new(
            Cluster::connect(&nats.urls, nats.replicas)
                .await?
                .console()
                .clone(),
        ),
    };
    Admin::reset(library.as_ref()).await
}

/// `stemzaal sessions delete CODE`: removes the session and all its events.
pub async fn delete_session(data: &std::path::Path, code: &str) -> Result<()> {
    let store = Store::open(data, Durability::Normal)?;
    let code = code.trim().to_ascii_uppercase();
    if !store.list()?.iter().any(|s| s.code == code) {
        anyhow::bail!("no stored session with code {code} in {}", data.display());
    }
    store.delete(&code).await?;
    store.vacuum()
}

/// A UTC timestamp for listings, without a date library: `YYYY-MM-DD HH:MM UTC`.
fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm), valid for all dates after 1970.
    let z = days as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}
