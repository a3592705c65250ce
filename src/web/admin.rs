//! The console's door: the admin password (only its Argon2id hash is kept), logins
//! (a random token in an HttpOnly cookie), and the rate of login attempts per address.
//! A stored password's hash is in the [`Library`]'s settings and the logins are in a
//! [`Logins`] port: on one machine in its database and memory, in cluster mode in the
//! cluster (the logins as digests), so a login made on one node opens the console on
//! every node, and a logout or a new password reaches them all at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use async_trait::async_trait;
use dashmap::DashMap;
use rand::Rng;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use crate::hub::library::LOGIN_LIFETIME;
use crate::hub::library::{Library, Logins};
use crate::web::limits::TokenBucket;

/// The cookie that carries a login.
pub const COOKIE: &str = "stemzaal_admin";

/// Login attempts an address may make in a row before it must wait.
pub const ATTEMPT_BURST: f64 = 10.0;

/// Then one attempt per this many seconds: guessing a generated password (about 80
/// bits) or even a weak one of a few words stays out of reach.
pub const ATTEMPT_EVERY_SECS: f64 = 6.0;

/// Password checks running at once: each costs Argon2's 19 MiB and tens of
/// milliseconds of a core, and the cores belong to the votes.
const CHECKS_AT_ONCE: usize = 2;

/// Addresses whose attempts are remembered; past it the oldest full buckets go.
const MAX_ADDRESSES: usize = 10_000;

/// The setting under which a generated password's hash is stored.
const HASH_SETTING: &str = "admin_password_hash";

/// Characters of a generated password: lower case without look-alikes.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// The admin password and who is logged in.
pub struct Admin {
    password: Password,
    /// Where the logins are kept.
    logins: Arc<dyn Logins>,
    /// Attempts per address. The lock is never held across an `.await`.
    attempts: Mutex<HashMap<IpAddr, TokenBucket>>,
    checks: Semaphore,
}

/// Where the password's hash is.
enum Password {
    /// Given at the start (`--admin-password`), or empty (no password opens): held in
    /// memory.
    Held(String),
    /// Stored in the library's settings: read at every attempt, so a new password
    /// (`admin reset-password` against a cluster) reaches every node at once.
    Stored(Arc<dyn Library>),
}

/// Logins kept in this process's memory (a server on one machine): a restart logs
/// everyone out.
#[derive(Default)]
pub struct MemoryLogins {
    /// By the token's public half; the secret half is compared in constant time.
    logins: DashMap<String, Login>,
}

struct Login {
    secret: String,
    expires: Instant,
}

#[async_trait]
impl Logins for MemoryLogins {
    async fn start(&self, id: &str, secret: &str, lifetime: Duration) -> Result<()> {
        let now = Instant::now();
        self.logins.retain(|_, login| login.expires > now);
        self.logins.insert(
            id.to_owned(),
            Login {
                secret: secret.to_owned(),
                expires: now + lifetime,
            },
        );
        Ok(())
    }

    async fn check(&self, id: &str, secret: &str) -> Result<bool> {
        Ok(self.logins.get(id).is_some_and(|login| {
            login.expires > Instant::now()
                && bool::from(login.secret.as_bytes().ct_eq(secret.as_bytes()))
        }))
    }

    async fn end(&self, id: &str) -> Result<()> {
        self.logins.remove(id);
        Ok(())
    }
}

/// How a login attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The password was right: the cookie's value.
    Accepted(String),
    /// The password was wrong.
    Refused,
    /// Too many attempts from this address; try again after this long.
    TooMany(Duration),
    /// The password or the login could not be read or stored (the cluster is not
    /// reachable).
    Unavailable,
}

impl Admin {
    /// An admin whose password is `password` (hashed here, kept in memory only), with
    /// logins in memory.
    pub fn with_password(password: &str) -> Result<Admin> {
        let logins = Arc::new(MemoryLogins::default());
        Ok(Admin::new(Password::Held(hash(password)?), logins))
    }

    /// An admin no password opens: the console of a server that has none set up.
    pub fn locked() -> Admin {
        Admin::new(
            Password::Held(String::new()),
            Arc::new(MemoryLogins::default()),
        )
    }

    fn new(password: Password, logins: Arc<dyn Logins>) -> Admin {
        Admin {
            password,
            logins,
            attempts: Mutex::new(HashMap::new()),
            checks: Semaphore::new(CHECKS_AT_ONCE),
        }
    }

    /// The admin for a server: the password given (`--admin-password`), else the hash
    /// stored in the library, else a new password, whose hash is stored and which is
    /// returned to be shown once. Of nodes starting at once on an empty cluster, one
    /// makes the password and shows it. Logins are kept in `logins`.
    pub async fn set_up(
        library: Arc<dyn Library>,
        logins: Arc<dyn Logins>,
        given: Option<&str>,
    ) -> Result<(Admin, Option<String>)> {
        if let Some(password) = given {
            if password.is_empty() {
                anyhow::bail!("the admin password is empty");
            }
            return Ok((Admin::new(Password::Held(hash(password)?), logins), None));
        }
        let (stored, shown) = stored_or_new(library.as_ref()).await?;
        PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("the stored admin password hash: {e}"))?;
        Ok((Admin::new(Password::Stored(library), logins), shown))
    }

    /// Makes a new password and stores its hash in place of any before; returns the
    /// password.
    pub async fn reset(library: &dyn Library) -> Result<String> {
        let password = generate_password();
        let hashed = hash(&password)?;
        library
            .set_setting(HASH_SETTING, &hashed)
            .await
            .context("storing the admin password's hash")?;
        Ok(password)
    }

    /// Checks a password from `peer`: at most [`ATTEMPT_BURST`] wrong ones in a row,
    /// then one per [`ATTEMPT_EVERY_SECS`].
    pub async fn log_in(&self, peer: IpAddr, password: &str) -> Attempt {
        if let Some(wait) = self.take_attempt(peer) {
            return Attempt::TooMany(wait);
        }
        let right = match self.verify(password).await {
            Ok(right) => right,
            Err(e) => {
                tracing::error!("checking the admin password: {e:#}");
                return Attempt::Unavailable;
            }
        };
        if !right {
            return Attempt::Refused;
        }
        if let Some(bucket) = self
            .attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&peer)
        {
            bucket.give_back();
        }
        match self.new_login().await {
            Ok(cookie) => Attempt::Accepted(cookie),
            Err(e) => {
                tracing::error!("storing a login: {e:#}");
                Attempt::Unavailable
            }
        }
    }

    /// Takes an attempt from `peer`'s bucket; how long to wait if it is empty.
    fn take_attempt(&self, peer: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if attempts.len() >= MAX_ADDRESSES {
            attempts.retain(|_, bucket| !bucket.is_full(now));
        }
        let bucket = attempts
            .entry(peer)
            .or_insert_with(|| TokenBucket::new(1.0 / ATTEMPT_EVERY_SECS, ATTEMPT_BURST));
        if bucket.try_take(now) {
            None
        } else {
            Some(bucket.wait(now).max(Duration::from_secs(1)))
        }
    }

    async fn verify(&self, password: &str) -> Result<bool> {
        let hash = match &self.password {
            Password::Held(hash) => hash.clone(),
            Password::Stored(library) => library
                .setting(HASH_SETTING)
                .await?
                .context("no admin password is stored")?,
        };
        // The semaphore is never closed.
        let Ok(_permit) = self.checks.acquire().await else {
            return Ok(false);
        };
        let password = password.to_owned();
        Ok(tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false))
    }

    async fn new_login(&self) -> Result<String> {
        let (id, secret) = {
            let mut rng = rand::thread_rng();
            (
                format!("{:016x}", rng.gen::<u64>()),
                format!("{:032x}", rng.gen::<u128>()),
            )
        };
        self.logins.start(&id, &secret, LOGIN_LIFETIME).await?;
        Ok(format!("{id}.{secret}"))
    }

    /// Whether a cookie's value is a login that has not expired; an error if the
    /// logins cannot be read (the cluster that keeps them is not reachable).
    pub async fn is_logged_in(&self, cookie: &str) -> Result<bool> {
        let Some((id, secret)) = cookie.split_once('.') else {
            return Ok(false);
        };
        // A cookie cannot name a key of its choosing: the id is what `new_login` makes.
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        self.logins.check(id, secret).await
    }

    /// Ends a login, on every node.
    pub async fn log_out(&self, cookie: &str) -> Result<()> {
        if self.is_logged_in(cookie).await? {
            if let Some((id, _)) = cookie.split_once('.') {
                self.logins.end(id).await?;
            }
        }
        Ok(())
    }
}

/// The stored password's hash, or a new password's, stored now and returned with the
/// password to be shown once; a node that lost the race to store one reads the
/// winner's.
async fn stored_or_new(library: &dyn Library) -> Result<(String, Option<String>)> {
    if let Some(stored) = library.setting(HASH_SETTING).await? {
        return Ok((stored, None));
    }
    let password = generate_password();
    let hashed = hash(&password)?;
    let created = library
        .create_setting(HASH_SETTING, &hashed)
        .await
        .context("storing the admin password's hash")?;
    if created {
        return Ok((hashed, Some(password)));
    }
    let stored = library
        .setting(HASH_SETTING)
        .await?
        .context("the admin password's hash went away")?;
    Ok((stored, None))
}

fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the admin password: {e}"))
}

/// Four groups of five characters from [`PASSWORD_ALPHABET`] (about 99 bits), easy to
/// type from a terminal: `k7mxp-2aqrt-…`.
fn generate_password() -> String {
    let mut rng = rand::thread_rng();
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| PASSWORD_ALPHABET[rng.gen_range(0..PASSWORD_ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_right_password_logs_in_and_wrong_ones_are_limited_per_address() {
        let admin = Admin::with_password("kraan-fiets").unwrap();
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        let Attempt::Accepted(cookie) = admin.log_in(peer, "kraan-fiets").await else {
            panic!("the right password is taken");
        };
        assert!(admin.is_logged_in(&cookie).await.unwrap());
        assert!(!admin.is_logged_in(&format!("{}x", cookie)).await.unwrap());
        assert!(!admin.is_logged_in("nonsense").await.unwrap());
        for _ in 0..ATTEMPT_BURST as usize {
            assert_eq!(admin.log_in(peer, "wrong").await, Attempt::Refused);
        }
        assert!(matches!(
            admin.log_in(peer, "kraan-fiets").await,
            Attempt::TooMany(_)
        ));
        // Another address is not held back by this one.
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(matches!(
            admin.log_in(other, "kraan-fiets").await,
            Attempt::Accepted(_)
        ));
        admin.log_out(&cookie).await.unwrap();
        assert!(!admin.is_logged_in(&cookie).await.unwrap());
    }

    #[test]
    fn a_generated_password_has_four_groups_of_five() {
        let password = generate_password();
        assert_eq!(password.len(), 23);
        assert_eq!(password.split('-').count(), 4);
        assert_ne!(password, generate_password());
    }
}
