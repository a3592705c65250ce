//! `--nodes N`: the real `stemzaal` binary in cluster mode, N nodes on one
//! `nats-server` with JetStream, all serving the same session.
//!
//! The nats-server and every node are children of the load generator, held in a
//! [`Cluster`] that kills them all (SIGKILL) on every exit path. The nodes start one
//! after the other: the first creates the session, each later one finds it in
//! JetStream and prints the same code and keys in its banner.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The console password every node gets (the console is not used here).
const ADMIN_PASSWORD: &str = "kraan-fiets-molen-tulp";

/// How long a node may take to print its banner.
const BANNER_WITHIN: Duration = Duration::from_secs(60);

/// How long a fresh node may take to answer the export after every node was killed
/// (it first waits out the dead owner's lease, then reads the log).
const EXPORT_WITHIN: Duration = Duration::from_secs(90);

/// A child process, killed (SIGKILL) and reaped when dropped.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `stemzaal --nats …` node.
struct Node {
    proc: Proc,
    addr: SocketAddr,
}

/// The nats-server and the nodes. Fields drop in order: nodes first, then the
/// nats-server, then the temporary directories.
pub struct Cluster {
    nodes: Vec<Node>,
    nats: Proc,
    nats_url: String,
    stemzaal: PathBuf,
    /// The session's join code.
    pub code: String,
    /// The host key.
    pub host_key: String,
    /// The screen key.
    pub screen_key: String,
    dirs: Vec<tempfile::TempDir>,
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `nats-server` on the PATH or where Debian puts it.
fn find_nats_server() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/bin".into()])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
        .context("nats-server not found (apt-get install nats-server)")
}

/// The release `stemzaal` binary next to this one.
fn find_stemzaal() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the loadgen binary")?;
    let bin = exe
        .parent()
        .context("the loadgen binary's directory")?
        .join("stemzaal");
    if !bin.is_file() {
        bail!(
            "{} does not exist: build it first (cargo build --release)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Waits until something accepts connections on `port`.
fn wait_port(port: u16, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// What a node's banner says.
struct Banner {
    code: String,
    host_key: String,
    screen_key: String,
}

impl Cluster {
    /// Starts the nats-server and `nodes` nodes, one after the other.
    pub fn start(nodes: usize) -> Result<Cluster> {
        let nats_bin = find_nats_server()?;
        let stemzaal = find_stemzaal()?;
        let nats_dir = tempfile::Builder::new()
            .prefix("stemzaal-loadgen-nats-")
            .tempdir()?;
        let port = free_port()?;
        let log = std::fs::File::create(nats_dir.path().join("nats.log"))?;
        let child = Command::new(&nats_bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(nats_dir.path().join("js"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", nats_bin.display()))?;
        let nats = Proc(child);
        if !wait_port(port, Duration::from_secs(20)) {
            let log = std::fs::read_to_string(nats_dir.path().join("nats.log")).unwrap_or_default();
            bail!("nats-server did not listen on {port} within 20 s:\n{log}");
        }
        let mut cluster = Cluster {
            nodes: vec![],
            nats,
            nats_url: format!("nats://127.0.0.1:{port}"),
            stemzaal,
            code: String::new(),
            host_key: String::new(),
            screen_key: String::new(),
            dirs: vec![nats_dir],
        };
        for i in 0..nodes {
            let (node, banner) = cluster.start_node()?;
            if i == 0 {
                cluster.code = banner.code;
                cluster.host_key = banner.host_key;
                cluster.screen_key = banner.screen_key;
            } else if banner.code != cluster.code
                || banner.host_key != cluster.host_key
                || banner.screen_key != cluster.screen_key
            {
                bail!(
                    "node {i} serves session {} but node 0 serves {}",
                    banner.code,
                    cluster.code
                );
            }
            cluster.nodes.push(node);
        }
        Ok(cluster)
    }

    /// Starts one more node and reads its banner, as the cluster tests do.
    fn start_node(&mut self) -> Result<(Node, Banner)> {
        let dir = tempfile::Builder::new()
            .prefix("stemzaal-loadgen-node-")
            .tempdir()?;
        let port = free_port()?;
        let mut child = Command::new(&self.stemzaal)
            .args(["--bind", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path())
            .args(["--nats", &self.nats_url, "--nats-replicas", "1"])
            .args(["--admin-password", ADMIN_PASSWORD])
            .env(
                "RUST_LOG",
                std::env::var("LOADGEN_NODE_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.stemzaal.display()))?;
        let stdout = child.stdout.take().context("the node's stdout")?;
        let node = Node {
            proc: Proc(child),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        self.dirs.push(dir);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let (mut code, mut host_key, mut screen_key) = (None, None, None);
            let key = |l: &str| {
                l.rsplit("key=")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains("Code:") {
                    code = line.split_whitespace().last().map(str::to_owned);
                } else if line.contains("/host/") {
                    host_key = Some(key(&line));
                } else if line.contains("/screen/") {
                    screen_key = Some(key(&line));
                    break;
                }
            }
            let banner = match (code, host_key, screen_key) {
                (Some(code), Some(host_key), Some(screen_key)) => Some(Banner {
                    code,
                    host_key,
                    screen_key,
                }),
                _ => None,
            };
            tx.send(banner).ok();
            // The rest of stdout is drained, so the node never blocks on a full pipe.
            for _ in lines {}
        });
        let banner = match rx.recv_timeout(BANNER_WITHIN) {
            Ok(Some(banner)) => banner,
            Ok(None) => bail!("a stemzaal node exited before its banner was complete"),
            Err(_) => bail!(
                "a stemzaal node printed no banner within {} s",
                BANNER_WITHIN.as_secs()
            ),
        };
        if !wait_port(port, Duration::from_secs(20)) {
            bail!("a stemzaal node did not listen on {port}");
        }
        Ok((node, banner))
    }

    /// Where each node listens.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    /// The nodes' process ids.
    pub fn node_pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.proc.0.id()).collect()
    }

    /// The nats-server's process id.
    pub fn nats_pid(&self) -> u32 {
        self.nats.0.id()
    }

    /// Kills every node (SIGKILL, like a crash); the nats-server stays.
    pub fn kill_nodes(&mut self) {
        for node in &mut self.nodes {
            node.proc.kill();
        }
    }

    /// Kills everything.
    pub fn kill(&mut self) {
        self.kill_nodes();
        self.nats.kill();
    }

    /// After [`Cluster::kill_nodes`]: starts one fresh node on the same NATS and
    /// returns `statements[0].rounds[0].counts` of its JSON export of the session.
    pub fn exported_counts(&mut self) -> Result<Vec<u64>> {
        let (node, banner) = self.start_node()?;
        if banner.code != self.code {
            bail!(
                "the fresh node serves session {} instead of {}",
                banner.code,
                self.code
            );
        }
        let addr = node.addr;
        self.nodes.push(node);
        let path = format!("/export/{}.json?key={}", self.code, self.host_key);
        let (status, body) = http_get(addr, &path, EXPORT_WITHIN)?;
        if status != 200 {
            bail!("the export answered {status}: {body}");
        }
        let report: serde_json::Value =
            serde_json::from_str(&body).context("the export is not JSON")?;
        let counts = report["statements"][0]["rounds"][0]["counts"]
            .as_array()
            .context("the export has no statements[0].rounds[0].counts")?
            .iter()
            .map(|v| v.as_u64().context("a count is not a number"))
            .collect::<Result<Vec<u64>>>()?;
        Ok(counts)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.0 GET (no chunked body), with a deadline for the whole answer.
fn http_get(addr: SocketAddr, path: &str, within: Duration) -> Result<(u16, String)> {
    use std::io::Write;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(within))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut raw = vec![];
    stream.read_to_end(&mut raw).context("reading the export")?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("no end of the headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    Ok((status, body.to_owned()))
}
