//! The `stemzaal` command: runs a live session, checks a deck, manages stored sessions.

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stemzaal::app::{self, Config};
use stemzaal::cluster::Misconfigured;
use stemzaal::store::Durability;
use stemzaal::web::hosts;
use stemzaal::web::limits::Limits;

/// Live polling for council sessions: one binary, no account, no cloud.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Address and port to listen on.
    #[arg(long, env = "STEMZAAL_BIND", default_value = "0.0.0.0:8080")]
    bind: SocketAddr,
    /// Deck file to run (Markdown); without it the built-in deck runs.
    #[arg(long, env = "STEMZAAL_DECK")]
    deck: Option<PathBuf>,
    /// Directory for the database.
    #[arg(
        long,
        env = "STEMZAAL_DATA",
        default_value_os_t = default_data_dir(),
        global = true
    )]
    data: PathBuf,
    /// Start a new session even if one on the same deck is stored.
    #[arg(long)]
    new: bool,
    /// Base URL phones use (e.g. behind a reverse proxy: https://stem.example.nl).
    #[arg(long, env = "STEMZAAL_PUBLIC_URL")]
    public_url: Option<String>,
    /// What a stored vote survives: `normal` a crash of the process, `full` also a power cut.
    #[arg(long, env = "STEMZAAL_DURABILITY", value_enum, default_value_t = Durability::Normal)]
    durability: Durability,
    /// Most connections held at once (default: the open-file limit less a reserve).
    #[arg(long, env = "STEMZAAL_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most connections from one IP address; a whole room may share one NAT address.
    #[arg(long, env = "STEMZAAL_MAX_PER_IP", default_value_t = Limits::default().max_per_ip)]
    max_per_ip: usize,
    /// New participants one address may add at once (a room behind one NAT address).
    #[arg(long, env = "STEMZAAL_JOIN_BURST", default_value_t = Limits::default().join_burst)]
    join_burst: f64,
    /// New participants one address may add per second once the burst is spent.
    #[arg(long, env = "STEMZAAL_JOINS_PER_SECOND", default_value_t = Limits::default().joins_per_second)]
    joins_per_second: f64,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose
    /// X-Forwarded-For or Forwarded header names the phone's address; nobody else's is
    /// believed. Example: --trusted-proxy 127.0.0.1,10.0.0.0/8
    #[arg(long, env = "STEMZAAL_TRUSTED_PROXY", value_delimiter = ',', value_parser = parse_net)]
    trusted_proxy: Vec<ipnet::IpNet>,
    /// Another origin whose pages may open the WebSocket (e.g. https://stem.example.nl);
    /// repeat for more. The server's own origin is always allowed.
    #[arg(
        long = "allowed-origin",
        env = "STEMZAAL_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Another host name (or name:port) requests may name, besides this machine's own
    /// addresses, localhost and the host of --public-url; repeat for more. Other
    /// names get 421, which shuts out DNS rebinding.
    #[arg(
        long = "allowed-host",
        env = "STEMZAAL_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_parser = hosts::parse_allowed_host
    )]
    allowed_hosts: Vec<String>,
    /// The console's password (at /admin). Without it, a password is made on the first
    /// start, printed once and stored only as a hash.
    #[arg(long, env = "STEMZAAL_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Cluster mode: NATS servers with JetStream (nats://host:4222, comma-separated).
    /// Every node started with the same servers serves every session; sessions live
    /// in JetStream, not in the data directory. See docs/SCALING.md.
    #[arg(
        long,
        env = "STEMZAAL_NATS",
        value_name = "URL[,URL…]",
        hide_env_values = true
    )]
    nats: Option<String>,
    /// Copies JetStream keeps of each session in cluster mode: 3 for a cluster of three
    /// NATS servers (a vote is acknowledged once two have it), 1 for a single server.
    #[arg(long, env = "STEMZAAL_NATS_REPLICAS", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    nats_replicas: u8,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Validate a deck: print its slides and statements, or each error with its line.
    Check {
        /// The deck file.
        file: PathBuf,
        /// The language of the problems: `nl` or `en` (default: from LC_ALL,
        /// LC_MESSAGES or LANG, Dutch unless one starts with `en`).
        #[arg(long)]
        lang: Option<CheckLang>,
    },
    /// Stored sessions in the data directory (stop the server first).
    Sessions {
        #[command(subcommand)]
        action: SessionsCmd,
    },
    /// The console's password (stop the server first; with --nats, the cluster's,
    /// which every running node takes at once).
    Admin {
        #[command(subcommand)]
        action: AdminCmd,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCmd {
    /// Make a new admin password, print it once and store only its hash.
    ResetPassword,
}

#[derive(Subcommand, Debug)]
enum SessionsCmd {
    /// List stored sessions: code, creation time, deck, number of events.
    List,
    /// Delete a session and every vote stored for it.
    Delete {
        /// The session's join code.
        code: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logger = tracing_subscriber::fmt()
        .with_env_filter(app::log_filter(
            &std::env::var("RUST_LOG").unwrap_or_else(|_| "stemzaal=info,warn".into()),
        ))
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr a file on a full disk) is lost; the
        // default would report it with `eprintln!`, which panics on the same full disk.
        .log_internal_errors(false);
    // The old Windows console shows colour codes as text.
    #[cfg(windows)]
    let logger = logger.with_ansi(false);
    logger.init();
    match cli.command {
        Some(Cmd::Check { file, lang }) => check(&file, lang.unwrap_or_else(CheckLang::from_env)),
        Some(Cmd::Sessions { action }) => sessions(&cli.data, action),
        Some(Cmd::Admin {
            action: AdminCmd::ResetPassword,
        }) => reset_password(
            &cli.data,
            cli.nats.map(|urls| app::Nats {
                urls,
                replicas: cli.nats_replicas.into(),
            }),
        ),
        None => {
            #[cfg(unix)]
            stemzaal::web::limits::raise_fd_limit();
            let mut server_limits = Limits {
                max_per_ip: cli.max_per_ip,
                join_burst: cli.join_burst,
                joins_per_second: cli.joins_per_second,
                trusted_proxies: cli.trusted_proxy,
                allowed_origins: cli.allowed_origins,
                allowed_hosts: cli.allowed_hosts,
                ..Limits::default()
            };
            if let Some(max) = cli.max_connections {
                server_limits.max_connections = max;
            }
            let config = Config {
                bind: cli.bind,
                deck: cli.deck,
                data: cli.data,
                new_session: cli.new,
                public_url: cli.public_url,
                durability: cli.durability,
                limits: server_limits,
                admin_password: cli.admin_password,
                nats: cli.nats.map(|urls| app::Nats {
                    urls,
                    replicas: cli.nats_replicas.into(),
                }),
            };
            let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
            match runtime.block_on(app::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // Even with stderr unwritable the exit code says it failed.
                    let _ = writeln!(std::io::stderr(), "stemzaal: {e:#}");
                    failure(&e)
                }
            }
        }
    }
}

/// Where the database lives unless `--data` says: `stemzaal-data` in the working
/// directory; on Windows under the user's local app data (`%LOCALAPPDATA%\stemzaal`),
/// since a double-clicked program starts in whatever folder holds it.
fn default_data_dir() -> PathBuf {
    #[cfg(windows)]
    if let Some(local) = std::env::var_os("LOCALAPPDATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(local).join("stemzaal");
    }
    PathBuf::from("stemzaal-data")
}

/// The exit status of a failed run: [`Misconfigured::EXIT`] for a set-up that no
/// restart mends (a service manager need not try again), 1 for anything else.
fn failure(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|e| e.is::<Misconfigured>()) {
        ExitCode::from(Misconfigured::EXIT)
    } else {
        ExitCode::FAILURE
    }
}

/// An address (`10.0.0.7`, a single host) or a CIDR range (`10.0.0.0/8`).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR range"))
}

/// The language `stemzaal check` says a deck's problems in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CheckLang {
    Nl,
    En,
}

impl CheckLang {
    /// English when the first of LC_ALL, LC_MESSAGES and LANG that is set starts with
    /// `en`; Dutch otherwise, as the product is.
    fn from_env() -> CheckLang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        match locale {
            Some(l) if l.to_ascii_lowercase().starts_with("en") => CheckLang::En,
            _ => CheckLang::Nl,
        }
    }
}

fn check(file: &std::path::Path, lang: CheckLang) -> ExitCode {
    let english = lang == CheckLang::En;
    match app::load_deck(Some(file)) {
        Ok((deck, _, _)) => {
            print!("{}", deck.outline());
            // Warnings do not fail the check: the deck runs, a slide may not fit.
            eprint!("{}", deck.warnings_text(english));
            ExitCode::SUCCESS
        }
        Err(e) => {
            let image = e.downcast_ref::<stemzaal::web::images::ImageError>();
            match e.downcast_ref::<stemzaal::core::deck::DeckError>() {
                Some(deck) => eprintln!("{}", deck.text(english)),
                None => match image {
                    Some(image) => eprintln!("{}", image.text(english)),
                    None => eprintln!("{e:#}"),
                },
            }
            ExitCode::FAILURE
        }
    }
}

fn reset_password(data: &std::path::Path, nats: Option<app::Nats>) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(app::reset_admin_password(data, nats.as_ref())) {
        Ok(password) => {
            println!("new admin password: {password}\n(stored only as a hash; the old one no longer works)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stemzaal: {e:#}");
            failure(&e)
        }
    }
}

fn sessions(data: &std::path::Path, action: SessionsCmd) -> ExitCode {
    let result = match action {
        SessionsCmd::List => app::list_sessions(data).map(|text| print!("{text}")),
        SessionsCmd::Delete { code } => tokio::runtime::Runtime::new()
            .expect("a tokio runtime")
            .block_on(app::delete_session(data, &code))
            .map(|()| {
                println!(
                    "deleted session {} and all its data",
                    code.to_ascii_uppercase()
                )
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stemzaal: {e:#}");
            ExitCode::FAILURE
        }
    }
}
