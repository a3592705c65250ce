//! The console's data in cluster mode: the deck library with every version, the
//! settings (the admin password's hash) and the logins, in two key-value buckets, so
//! every node serves the same console.
//!
//! The bucket `stemzaal_console` holds:
//! - `deck.<id>`: a deck's head (name, whether built in, its versions);
//! - `text.<id>.<digest>.<part>`: a version's text, cut in parts that stay far below
//!   NATS's largest message (1 MiB by default, the size of the largest deck);
//! - `next_deck`: the id the next deck gets (1 is the built-in deck's);
//! - `setting.<name>`: a setting.
//!
//! A save writes the text first and then the head, with the head's revision: a
//! reader never meets a head that names text not yet stored, and of two saves at once
//! one wins and the other reads again. The bucket `stemzaal_logins` holds each login's
//! digest, and forgets it when the login expires.
//!
//! [`Console`] implements the console's ports, [`Library`] and [`Logins`].

use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::hub::library::{
    summary, DeckSummary, Library, Logins, Refusal, StoredDeck, VersionInfo,
};
use crate::hub::now_ms;

const CONSOLE: &str = "stemzaal_console";
const LOGINS: &str = "stemzaal_logins";

/// The built-in deck's id, the same on every node.
const BUILTIN_ID: i64 = 1;

/// The largest part of a version's text in one entry.
const PART_BYTES: usize = 256 * 1024;

/// How often a save that met another save at once reads the head again.
const SAVE_ATTEMPTS: usize = 10;

/// A deck's head.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    name: String,
    builtin: bool,
    created_ms: u64,
    /// Oldest first; never empty.
    versions: Vec<Version>,
}

/// Where one version's text is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Version {
    version: i64,
    created_ms: u64,
    /// The SHA-256 of the text, hexadecimal.
    digest: String,
    parts: usize,
}

/// A login as the cluster keeps it: the digest of its secret, never the secret.
#[derive(Debug, Serialize, Deserialize)]
struct SharedLogin {
    /// SHA-256 of the secret half of the cookie, hexadecimal.
    digest: String,
    /// When it expires.
    expires_ms: u64,
}

/// The console's buckets; cheap to clone.
#[derive(Clone)]
pub struct Console {
    client: async_nats::Client,
    kv: kv::Store,
    logins: kv::Store,
}

/// SHA-256 of `text`, hexadecimal.
pub fn digest(text: &[u8]) -> String {
    Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn head_key(id: i64) -> String {
    format!("deck.{id}")
}

fn text_key(id: i64, digest: &str, part: usize) -> String {
    format!("text.{id}.{digest}.{part}")
}

fn setting_key(name: &str) -> String {
    format!("setting.{name}")
}

/// An entry's value and revision, unless the key holds nothing (never written,
/// deleted or purged).
fn live(entry: Option<kv::Entry>) -> Option<kv::Entry> {
    entry.filter(|e| e.operation == kv::Operation::Put)
}

impl Console {
    /// Opens (and makes, the first time) the console's buckets.
    pub(super) async fn open(
        client: &async_nats::Client,
        js: &jetstream::Context,
        replicas: usize,
        login_lifetime: Duration,
    ) -> Result<Console> {
        Ok(Console {
            client: client.clone(),
            kv: super::ensure_bucket(js, CONSOLE, replicas, Duration::ZERO).await?,
            logins: super::ensure_bucket(js, LOGINS, replicas, login_lifetime).await?,
        })
    }

    /// Refuses at once while NATS is not connected. A write handed to the client then
    /// would wait in its buffer and might be stored after the console was told it
    /// failed.
    fn connected(&self) -> Result<()> {
        super::connected(&self.client)
    }

    async fn head(&self, id: i64) -> Result<Option<(Head, u64)>> {
        let entry = self
            .kv
            .entry(head_key(id))
            .await
            .context("reading a deck")?;
        live(entry)
            .map(|e| {
                let head = serde_json::from_slice(&e.value).context("reading a deck's head")?;
                Ok((head, e.revision))
            })
            .transpose()
    }

    async fn text(&self, id: i64, version: &Version) -> Result<String> {
        let mut bytes = Vec::new();
        for part in 0..version.parts {
            let value = self
                .kv
                .get(text_key(id, &version.digest, part))
                .await
                .context("reading a deck's text")?
                .with_context(|| {
                    format!("deck {id} version {}: a part is missing", version.version)
                })?;
            bytes.extend_from_slice(&value);
        }
        String::from_utf8(bytes).context("a deck's text is not UTF-8")
    }

    /// Stores `source` in parts (the same text under the same keys, so writing it twice
    /// does no harm); returns where it is.
    async fn put_text(&self, id: i64, source: &str, version: i64) -> Result<Version> {
        let digest = digest(source.as_bytes());
        let parts: Vec<&[u8]> = if source.is_empty() {
            vec![b""]
        } else {
            source.as_bytes().chunks(PART_BYTES).collect()
        };
        for (n, part) in parts.iter().enumerate() {
            self.kv
                .put(text_key(id, &digest, n), Bytes::copy_from_slice(part))
                .await
                .context("storing a deck's text")?;
        }
        Ok(Version {
            version,
            created_ms: now_ms(),
            digest,
            parts: parts.len(),
        })
    }

    fn stored(id: i64, head: &Head, version: &Version, source: String) -> StoredDeck {
        StoredDeck {
            summary: summary(
                head.name.clone(),
                id,
                head.builtin,
                version.version,
                &source,
                version.created_ms as i64,
            ),
            source,
            versions: head
                .versions
                .iter()
                .map(|v| VersionInfo {
                    version: v.version,
                    created_ms: v.created_ms,
                })
                .collect(),
        }
    }

    /// Every deck with its newest version, most recently changed first.
    pub async fn list(&self) -> Result<Vec<DeckSummary>> {
        self.connected()?;
        let mut keys = self.kv.keys().await.context("listing decks")?;
        let mut ids = vec![];
        while let Some(key) = keys.next().await {
            let key = key.context("listing decks")?;
            if let Some(id) = key.strip_prefix("deck.").and_then(|id| id.parse().ok()) {
                ids.push(id);
            }
        }
        let mut decks = vec![];
        for id in ids {
            // A deck deleted while the list was read is left out.
            if let Some(deck) = self.get(id, None).await? {
                decks.push(deck.summary);
            }
        }
        decks.sort_by_key(|d| std::cmp::Reverse((d.updated_ms, d.id)));
        Ok(decks)
    }

    /// A deck at `version` (the newest if `None`).
    pub async fn get(&self, id: i64, version: Option<i64>) -> Result<Option<StoredDeck>> {
        self.connected()?;
        let Some((head, _)) = self.head(id).await? else {
            return Ok(None);
        };
        let wanted = match version {
            None => head.versions.last(),
            Some(v) => head.versions.iter().find(|x| x.version == v),
        };
        let Some(wanted) = wanted.cloned() else {
            return Ok(None);
        };
        let source = self.text(id, &wanted).await?;
        Ok(Some(Console::stored(id, &head, &wanted, source)))
    }

    /// The next deck's id.
    async fn next_id(&self) -> Result<i64> {
        for _ in 0..SAVE_ATTEMPTS {
            let entry = live(
                self.kv
                    .entry("next_deck")
                    .await
                    .context("numbering a deck")?,
            );
            let taken = match entry {
                None => {
                    let first = BUILTIN_ID + 1;
                    self.kv
                        .create("next_deck", (first + 1).to_string().into())
                        .await
                        .map(|_| first)
                        .map_err(|e| e.kind() == kv::CreateErrorKind::AlreadyExists)
                }
                Some(e) => {
                    let id: i64 = std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .context("reading the next deck's id")?;
                    self.kv
                        .update("next_deck", (id + 1).to_string().into(), e.revision)
                        .await
                        .map(|_| id)
                        .map_err(|e| e.kind() == kv::UpdateErrorKind::WrongLastRevision)
                }
            };
            match taken {
                Ok(id) => return Ok(id),
                // Another node took this id at the same moment.
                Err(true) => continue,
                Err(false) => bail!("numbering a deck: the bucket refused the write"),
            }
        }
        bail!("numbering a deck: too many saves at once")
    }

    async fn create_head(&self, id: i64, name: &str, source: &str, builtin: bool) -> Result<bool> {
        let version = self.put_text(id, source, 1).await?;
        let head = Head {
            name: name.to_owned(),
            builtin,
            created_ms: version.created_ms,
            versions: vec![version],
        };
        super::created(
            self.kv
                .create(head_key(id), serde_json::to_vec(&head)?.into())
                .await,
            "storing a deck",
        )
    }

    /// Stores a new deck as version 1; returns its id.
    pub async fn create(&self, name: &str, source: &str, builtin: bool) -> Result<i64> {
        self.connected()?;
        let id = self.next_id().await?;
        if !self.create_head(id, name, source, builtin).await? {
            bail!("storing a deck: its id {id} is taken");
        }
        Ok(id)
    }

    /// Puts the built-in deck in an empty library; of nodes starting at once, one does.
    pub async fn seed(&self, name: &str, source: &str) -> Result<()> {
        if self.head(BUILTIN_ID).await?.is_none() {
            self.create_head(BUILTIN_ID, name, source, true).await?;
        }
        Ok(())
    }

    /// Stores `source` as the deck's next version, unless it equals the newest; a new
    /// `name` renames the deck.
    pub async fn save(
        &self,
        id: i64,
        name: Option<&str>,
        source: &str,
    ) -> Result<Result<(), Refusal>> {
        self.connected()?;
        let wanted = digest(source.as_bytes());
        for _ in 0..SAVE_ATTEMPTS {
            let Some((mut head, revision)) = self.head(id).await? else {
                return Ok(Err(Refusal::UnknownDeck));
            };
            let newest = head.versions.last().context("a deck without versions")?;
            let same_text = newest.digest == wanted;
            let same_name = name.is_none_or(|n| n == head.name);
            if same_text && same_name {
                return Ok(Ok(()));
            }
            if let Some(name) = name {
                head.name = name.to_owned();
            }
            if !same_text {
                let next = newest.version + 1;
                head.versions.push(self.put_text(id, source, next).await?);
            }
            match self
                .kv
                .update(head_key(id), serde_json::to_vec(&head)?.into(), revision)
                .await
            {
                Ok(_) => return Ok(Ok(())),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(e).context("storing a deck"),
            }
        }
        bail!("storing a deck: too many saves at once")
    }

    /// Removes a deck and its versions (sessions keep their own copy).
    pub async fn delete(&self, id: i64) -> Result<Result<(), Refusal>> {
        self.connected()?;
        let Some((head, _)) = self.head(id).await? else {
            return Ok(Err(Refusal::UnknownDeck));
        };
        if head.builtin {
            return Ok(Err(Refusal::Builtin));
        }
        self.kv
            .purge(head_key(id))
            .await
            .context("deleting a deck")?;
        for version in &head.versions {
            for part in 0..version.parts {
                self.kv
                    .purge(text_key(id, &version.digest, part))
                    .await
                    .context("deleting a deck's text")?;
            }
        }
        Ok(Ok(()))
    }

    /// A setting's value.
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        self.connected()?;
        let value = self
            .kv
            .get(setting_key(name))
            .await
            .context("reading a setting")?;
        value
            .map(|v| String::from_utf8(v.to_vec()).context("a setting is not UTF-8"))
            .transpose()
    }

    /// Stores a setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.connected()?;
        self.kv
            .put(setting_key(name), value.to_owned().into())
            .await
            .context("storing a setting")?;
        Ok(())
    }

    /// Stores a setting that has no value yet; `false` if another node was first.
    pub async fn create_setting(&self, name: &str, value: &str) -> Result<bool> {
        self.connected()?;
        super::created(
            self.kv
                .create(setting_key(name), value.to_owned().into())
                .await,
            "storing a setting",
        )
    }

    /// Keeps a login for every node.
    async fn put_login(&self, id: &str, login: &SharedLogin) -> Result<()> {
        self.connected()?;
        self.logins
            .put(id, serde_json::to_vec(login)?.into())
            .await
            .context("storing a login")?;
        Ok(())
    }

    /// A login, if it was made and not ended (it may have expired: see `expires_ms`).
    async fn login(&self, id: &str) -> Result<Option<SharedLogin>> {
        self.connected()?;
        let value = self.logins.get(id).await.context("reading a login")?;
        value
            .map(|v| serde_json::from_slice(&v).context("reading a login"))
            .transpose()
    }

    /// Ends a login on every node.
    pub async fn end_login(&self, id: &str) -> Result<()> {
        self.connected()?;
        self.logins.purge(id).await.context("ending a login")?;
        Ok(())
    }
}

#[async_trait]
impl Library for Console {
    async fn list(&self) -> Result<Vec<DeckSummary>> {
        Console::list(self).await
    }

    async fn get(&self, id: i64, version: Option<i64>) -> Result<Option<StoredDeck>> {
        Console::get(self, id, version).await
    }

    async fn create(&self, name: &str, source: &str) -> Result<i64> {
        Console::create(self, name, source, false).await
    }

    async fn save(&self, id: i64, name: Option<&str>, source: &str) -> Result<Result<(), Refusal>> {
        Console::save(self, id, name, source).await
    }

    async fn delete(&self, id: i64) -> Result<Result<(), Refusal>> {
        Console::delete(self, id).await
    }

    async fn seed(&self) -> Result<()> {
        let (name, source) = (
            crate::core::deck::DEFAULT_DECK_NAME,
            crate::core::deck::DEFAULT_DECK_SOURCE,
        );
        Console::seed(self, name, source).await
    }

    async fn setting(&self, name: &str) -> Result<Option<String>> {
        Console::setting(self, name).await
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        Console::set_setting(self, name, value).await
    }

    async fn create_setting(&self, name: &str, value: &str) -> Result<bool> {
        Console::create_setting(self, name, value).await
    }
}

#[async_trait]
impl Logins for Console {
    async fn start(&self, id: &str, secret: &str, lifetime: Duration) -> Result<()> {
        let login = SharedLogin {
            digest: digest(secret.as_bytes()),
            expires_ms: now_ms() + lifetime.as_millis() as u64,
        };
        self.put_login(id, &login).await
    }

    async fn check(&self, id: &str, secret: &str) -> Result<bool> {
        let Some(login) = self.login(id).await? else {
            return Ok(false);
        };
        let presented = digest(secret.as_bytes());
        Ok(login.expires_ms > now_ms()
            && bool::from(login.digest.as_bytes().ct_eq(presented.as_bytes())))
    }

    async fn end(&self, id: &str) -> Result<()> {
        self.end_login(id).await
    }
}
