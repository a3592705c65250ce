//! Limits that keep one client, one address or a flood from taking the server down:
//! connection caps (global and per IP address), a per-connection token bucket and a
//! per-address limit on new participants.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::{DashMap, DashSet};
use tokio::time::Instant;
use uuid::Uuid;

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
    /// Host names (`name` or `name:port`) the server answers to besides its own
    /// addresses and the public URL's host.
    pub allowed_hosts: Vec<String>,
    /// New participants one address may create at once: a whole room scanning the QR
    /// code behind one NAT address. 600 lets a room of 500 in without a wait.
    pub join_burst: f64,
    /// New participants one address may create per second once the burst is spent:
    /// a room of 1,000 behind one address is in within 8 s, while one script makes at
    /// most 180,000 participants an hour instead of millions.
    pub joins_per_second: f64,
    /// Reverse proxies (load balancers) whose connections carry the phone's address in
    /// `X-Forwarded-For` or `Forwarded`: only from these is that header believed, and
    /// only these are exempt from `max_per_ip` (the whole audience comes through them).
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
            allowed_hosts: vec![],
            join_burst: 600.0,
            joins_per_second: 50.0,
            trusted_proxies: vec![],
        }
    }
}

impl Limits {
    /// Whether `ip` is one of the trusted reverse proxies.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The address a request comes from: the connection's `peer`, or, when `peer` is a
    /// trusted proxy, the nearest address before the trusted proxies in
    /// `X-Forwarded-For` (else `Forwarded: for=`). A header from anyone else is ignored,
    /// so no phone can pose as another address.
    pub fn client_addr(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.is_trusted_proxy(peer) {
            return peer;
        }
        let listed = |name: &str| -> Vec<IpAddr> {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|part| forwarded_addr(part, name == "forwarded"))
                .collect()
        };
        let mut chain = listed("x-forwarded-for");
        if chain.is_empty() {
            chain = listed("forwarded");
        }
        // From the right: each trusted proxy added the address it saw.
        chain
            .into_iter()
            .rev()
            .find(|ip| !self.is_trusted_proxy(*ip))
            .unwrap_or(peer)
    }
}

/// One element of `X-Forwarded-For` (an address) or of `Forwarded` (`for=…`, perhaps
/// quoted, an IPv6 address in brackets, perhaps with a port).
fn forwarded_addr(part: &str, rfc7239: bool) -> Option<IpAddr> {
    let value = if rfc7239 {
        part.split(';').find_map(|p| {
            p.trim()
                .strip_prefix("for=")
                .or(p.trim().strip_prefix("For="))
        })?
    } else {
        part
    };
    let value = value.trim().trim_matches('"');
    if let Some(v6) = value.strip_prefix('[') {
        return v6.split(']').next()?.parse().ok();
    }
    value
        .parse()
        .ok()
        .or_else(|| value.rsplit_once(':')?.0.parse().ok())
}

/// File descriptors kept free for the database, the listener and the runtime.
#[cfg(unix)]
const RESERVED_FDS: u64 = 256;

/// The process's open-file limit less a reserve: one connection costs one descriptor,
/// and running out of them would also fail the database.
#[cfg(unix)]
fn default_max_connections() -> usize {
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap_or((20_000, 20_000));
    soft.saturating_sub(RESERVED_FDS).max(64) as usize
}

/// On Windows a socket is a handle, and a process may hold some sixteen million: no
/// open-file limit applies. A fixed cap then, far above any room; memory and the
/// Wi-Fi access point run out long before.
#[cfg(windows)]
fn default_max_connections() -> usize {
    20_000
}

/// Raises the soft open-file limit to the hard one, so the server can hold as many
/// phones as the machine allows; returns the new soft limit.
#[cfg(unix)]
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
            if *count >= limits.max_per_ip && !limits.is_trusted_proxy(ip) {
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
        self.tokens = self.tokens_at(now);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Puts back a token taken for something that turned out not to count.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }

    /// How long from `now` until a token is there.
    pub fn wait(&self, now: Instant) -> std::time::Duration {
        let missing = (1.0 - self.tokens_at(now)).max(0.0);
        std::time::Duration::from_secs_f64(missing / self.rate)
    }

    /// Whether the bucket has refilled by `now`: then it is as good as a new one.
    pub fn is_full(&self, now: Instant) -> bool {
        self.tokens_at(now) >= self.burst
    }

    fn tokens_at(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        (self.tokens + elapsed * self.rate).min(self.burst)
    }
}

/// How often [`prune_joins`] drops the buckets of addresses that stopped joining.
pub const JOIN_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Limits how fast one address creates participants. A `hello` that presents an id this
/// server has welcomed is a returning phone and passes free; any other (no id, or an id
/// never seen here) may create a participant and takes a token from its address's
/// bucket. Without this, one script on one address creates well over a thousand
/// participants a second, each stored for good.
#[derive(Debug)]
pub struct JoinLimiter {
    rate: f64,
    burst: f64,
    /// One bucket per address; a bucket that has refilled is dropped by [`Self::prune`],
    /// so the map holds only addresses that joined in the last minute or so.
    buckets: DashMap<IpAddr, TokenBucket>,
    /// Ids welcomed since the server started. As many as the sessions' participants,
    /// which this limiter keeps from growing fast. After a restart a returning phone
    /// is recognised by its session instead (`SessionHandle::knows`).
    welcomed: DashSet<Uuid>,
}

impl JoinLimiter {
    /// A limiter allowing `rate` new participants a second per address, `burst` at once.
    pub fn new(rate: f64, burst: f64) -> Self {
        JoinLimiter {
            rate,
            burst,
            buckets: DashMap::new(),
            welcomed: DashSet::new(),
        }
    }

    /// Whether a `hello` from `ip` presenting `participant` may go on to join.
    pub fn admit(&self, ip: IpAddr, participant: Option<Uuid>, now: Instant) -> bool {
        if participant.is_some_and(|id| self.welcomed.contains(&id)) {
            return true;
        }
        // The shard lock of the entry is held for this statement only (sync code).
        self.buckets
            .entry(address_key(ip))
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst))
            .try_take(now)
    }

    /// Whether this id was welcomed since the server started.
    pub fn is_welcomed(&self, participant: &Uuid) -> bool {
        self.welcomed.contains(participant)
    }

    /// Records an id the session has welcomed, so the phone returns without a token.
    pub fn welcomed(&self, participant: Uuid) {
        self.welcomed.insert(participant);
    }

    /// Drops the buckets that have refilled by `now`; returns how many are left.
    pub fn prune(&self, now: Instant) -> usize {
        self.buckets.retain(|_, bucket| !bucket.is_full(now));
        self.buckets.len()
    }
}

/// Prunes `limiter` every [`JOIN_PRUNE_INTERVAL`] until the server holding it is gone.
pub async fn prune_joins(limiter: Weak<JoinLimiter>) {
    let mut tick = tokio::time::interval(JOIN_PRUNE_INTERVAL);
    loop {
        tick.tick().await;
        let Some(limiter) = limiter.upgrade() else {
            return;
        };
        limiter.prune(Instant::now());
    }
}

/// The key an address is limited under: an IPv4 address as itself (also when it
/// arrives IPv4-mapped on a dual-stack socket), an IPv6 address by its /64, since one
/// machine may take any number of addresses in its own /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// What to do with a message a connection sent, by its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: handle it.
    Take,
    /// Over the rate: drop it and say `rate_limited`.
    Drop,
    /// Over the rate so often that the client is abusive: close the connection.
    Close,
}

/// A connection's message rate: a token bucket, and a count of dropped messages per
/// window that closes a client which keeps flooding.
#[derive(Debug, Clone)]
pub struct MessageGuard {
    bucket: TokenBucket,
    dropped: u32,
    window_start: Instant,
    abuse_drops: u32,
    abuse_window: Duration,
}

impl MessageGuard {
    /// A guard with the rates of `limits`.
    pub fn new(limits: &Limits, now: Instant) -> Self {
        MessageGuard {
            bucket: TokenBucket::new(limits.messages_per_second, limits.burst),
            dropped: 0,
            window_start: now,
            abuse_drops: limits.abuse_drops,
            abuse_window: limits.abuse_window,
        }
    }

    /// The verdict on a message that arrived at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if self.bucket.try_take(now) {
            return Verdict::Take;
        }
        if now.saturating_duration_since(self.window_start) > self.abuse_window {
            self.window_start = now;
            self.dropped = 0;
        }
        self.dropped += 1;
        if self.dropped >= self.abuse_drops {
            Verdict::Close
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_client_address_comes_from_a_trusted_proxy_only() {
        use axum::http::{HeaderMap, HeaderValue};
        let limits = Limits {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            ..Limits::default()
        };
        let headers = |name: &'static str, value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = headers("x-forwarded-for", "203.0.113.9, 192.0.2.7, 10.0.0.3");
        // Not a trusted peer: its header is ignored.
        assert_eq!(limits.client_addr(ip("192.0.2.50"), &xff), ip("192.0.2.50"));
        // A trusted peer: the nearest address before the trusted ones (a phone cannot
        // pick its own by writing the header, the proxy appends what it saw).
        assert_eq!(limits.client_addr(ip("10.0.0.2"), &xff), ip("192.0.2.7"));
        let fwd = headers("forwarded", r#"for="[2001:db8::7]:4711";proto=http"#);
        assert_eq!(limits.client_addr(ip("::1"), &fwd), ip("2001:db8::7"));
        let fwd = headers("forwarded", "for=192.0.2.8:5000, for=10.0.0.4");
        assert_eq!(limits.client_addr(ip("10.0.0.1"), &fwd), ip("192.0.2.8"));
        // Only trusted addresses, or nothing readable: the peer itself.
        let only = headers("x-forwarded-for", "10.1.2.3");
        assert_eq!(limits.client_addr(ip("10.0.0.2"), &only), ip("10.0.0.2"));
        let junk = headers("x-forwarded-for", "unknown, _hidden");
        assert_eq!(limits.client_addr(ip("10.0.0.2"), &junk), ip("10.0.0.2"));
        assert!(limits.is_trusted_proxy(ip("10.200.0.1")));
        assert!(!limits.is_trusted_proxy(ip("11.0.0.1")));
    }

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_may_create_its_burst_at_once_and_then_the_rate() {
        let limiter = JoinLimiter::new(50.0, 600.0);
        let start = Instant::now();
        let room = ip("192.168.1.7");
        let admitted = (0..700)
            .filter(|_| limiter.admit(room, None, start))
            .count();
        assert_eq!(admitted, 600, "the burst, and not one more");
        let later = start + Duration::from_secs(2);
        let admitted = (0..700)
            .filter(|_| limiter.admit(room, None, later))
            .count();
        assert_eq!(admitted, 100, "two seconds at 50 a second");
        assert!(
            limiter.admit(ip("192.168.1.8"), None, later),
            "another address has its own bucket"
        );
    }

    #[test]
    fn a_welcomed_id_returns_free_and_an_unknown_id_pays() {
        let limiter = JoinLimiter::new(1.0, 1.0);
        let now = Instant::now();
        let room = ip("10.0.0.5");
        let phone = Uuid::new_v4();
        assert!(
            limiter.admit(room, Some(phone), now),
            "an unknown id takes the token"
        );
        limiter.welcomed(phone);
        assert!(
            !limiter.admit(room, None, now),
            "no token left for a new phone"
        );
        assert!(
            !limiter.admit(room, Some(Uuid::new_v4()), now),
            "nor for an id this server never welcomed"
        );
        for _ in 0..10 {
            assert!(
                limiter.admit(room, Some(phone), now),
                "the known phone returns"
            );
        }
    }

    #[test]
    fn ipv6_addresses_share_their_64_and_mapped_ipv4_is_ipv4() {
        let limiter = JoinLimiter::new(1.0, 2.0);
        let now = Instant::now();
        assert!(limiter.admit(ip("2001:db8:1:2::1"), None, now));
        assert!(limiter.admit(ip("2001:db8:1:2:aaaa::9"), None, now));
        assert!(
            !limiter.admit(ip("2001:db8:1:2:ffff::1"), None, now),
            "a third address in the same /64 finds the bucket empty"
        );
        assert!(limiter.admit(ip("2001:db8:1:3::1"), None, now));
        assert!(limiter.admit(ip("::ffff:10.0.0.1"), None, now));
        assert!(limiter.admit(ip("10.0.0.1"), None, now));
        assert!(
            !limiter.admit(ip("10.0.0.1"), None, now),
            "one bucket for both"
        );
    }

    #[test]
    fn refilled_buckets_are_pruned_and_draining_ones_kept() {
        let limiter = JoinLimiter::new(10.0, 10.0);
        let start = Instant::now();
        for i in 0..100u8 {
            limiter.admit(IpAddr::from([10, 0, 1, i]), None, start);
        }
        let busy = ip("10.0.2.1");
        for _ in 0..10 {
            limiter.admit(busy, None, start + Duration::from_millis(900));
        }
        // By 1 s the buckets that gave one token have refilled; the busy one has 1 of 10.
        assert_eq!(limiter.prune(start + Duration::from_secs(1)), 1);
        assert_eq!(limiter.prune(start + Duration::from_secs(2)), 0);
    }

    fn guard_limits() -> Limits {
        Limits {
            messages_per_second: 10.0,
            burst: 5.0,
            abuse_drops: 3,
            abuse_window: Duration::from_secs(10),
            ..Limits::default()
        }
    }

    #[test]
    fn a_guard_takes_the_burst_drops_the_excess_and_closes_a_flood() {
        let start = Instant::now();
        let mut guard = MessageGuard::new(&guard_limits(), start);
        let verdicts: Vec<Verdict> = (0..8).map(|_| guard.check(start)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Take,
                Verdict::Take,
                Verdict::Take,
                Verdict::Take,
                Verdict::Take,
                Verdict::Drop,
                Verdict::Drop,
                Verdict::Close,
            ]
        );
    }

    #[test]
    fn a_guard_forgets_drops_after_the_window_and_refills_at_the_rate() {
        let start = Instant::now();
        let mut guard = MessageGuard::new(&guard_limits(), start);
        for _ in 0..5 {
            assert_eq!(guard.check(start), Verdict::Take);
        }
        assert_eq!(guard.check(start), Verdict::Drop);
        assert_eq!(guard.check(start), Verdict::Drop);
        // A tenth of a second later one token is back.
        let later = start + Duration::from_millis(100);
        assert_eq!(guard.check(later), Verdict::Take);
        // Past the window the drops count from zero again: two more drops do not close.
        let much_later = start + Duration::from_secs(11);
        for _ in 0..5 {
            assert_eq!(guard.check(much_later), Verdict::Take);
        }
        assert_eq!(guard.check(much_later), Verdict::Drop);
        assert_eq!(guard.check(much_later), Verdict::Drop);
    }
}
