//! Limits that keep one client, one address or a flood from taking the server down:
//! connection caps (global and per IP address) and a per-connection token bucket.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

/// Every limit in one place, with defaults for a council chamber.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open TCP connections in all, WebSockets included. Past it new connections are
    /// closed at once. The default leaves room under the process's file limit.
    pub max_connections: usize,
    /// Open connections from one IP address. A whole chamber may sit behind one NAT
    /// (each phone holds a WebSocket and sometimes an HTTP connection), so generous.
    pub max_per_ip: usize,
    /// Time a client has to send a request's headers; closes slow-header (slowloris)
    /// connections.
    pub header_read_timeout: Duration,
    /// How often the server pings an idle WebSocket.
    pub ping_interval: Duration,
    /// A WebSocket that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// Messages per second a connection may send on average.
    pub messages_per_second: f64,
    /// Messages a connection may send in a burst above the average.
    pub burst: f64,
    /// Messages dropped for the rate limit within one `abuse_window` that close the
    /// connection (code 1008).
    pub abuse_drops: u32,
    /// The window in which dropped messages are counted.
    pub abuse_window: Duration,
    /// Origins allowed to open a WebSocket besides the server's own.
    pub allowed_origins: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            max_per_ip: 5_000,
            header_read_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(70),
            messages_per_second: 10.0,
            burst: 40.0,
            abuse_drops: 200,
            abuse_window: Duration::from_secs(10),
            allowed_origins: vec![],
        }
    }
}

/// File descriptors kept free for the database, the listener and the runtime.
const RESERVED_FDS: u64 = 256;

/// The process's open-file limit less a reserve: one connection costs one descriptor,
/// and running out of them would also fail the database.
fn default_max_connections() -> usize {
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap_or((20_000, 20_000));
    soft.saturating_sub(RESERVED_FDS).max(64) as usize
}

/// Raises the soft open-file limit to the hard one, so the server can hold as many
/// phones as the machine allows; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() else {
        return 1024;
    };
    match rlimit::Resource::NOFILE.set(hard, hard) {
        Ok(()) => hard,
        Err(_) => soft,
    }
}

/// Counts open connections, in all and per address.
#[derive(Debug, Default)]
pub struct ConnectionCounter {
    total: AtomicUsize,
    per_ip: DashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max_connections`.
    Full,
    /// The address holds `max_per_ip`.
    TooManyFromAddress,
}

impl ConnectionCounter {
    /// Admits a connection from `ip` if both caps allow; the slot frees itself on drop.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Result<ConnectionSlot, Refusal> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= limits.max_connections {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Full);
        }
        // The entry guard is dropped before returning, so no map shard lock is held
        // beyond this block (and never across an await: this function is sync).
        {
            let mut count = self.per_ip.entry(ip).or_insert(0);
            if *count >= limits.max_per_ip {
                drop(count);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(Refusal::TooManyFromAddress);
            }
            *count += 1;
        }
        Ok(ConnectionSlot {
            counter: self.clone(),
            ip,
        })
    }

    /// Open connections in all.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    counter: Arc<ConnectionCounter>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.counter.total.fetch_sub(1, Ordering::AcqRel);
        self.counter.per_ip.remove_if_mut(&self.ip, |_, count| {
            *count -= 1;
            *count == 0
        });
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
