//! What the console keeps, as ports its adapters implement: the [`Library`] of decks
//! (each with every version it was saved as) and settings, and the shared [`Logins`].
//! On one machine the library is in the same database as the sessions, written
//! through the same writer (so a full disk refuses a save as it refuses a vote), and
//! the logins are in memory; in cluster mode both are in NATS, so every node serves
//! the same console. `app` picks the adapters; nothing here knows them.

use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use serde::Serialize;

use crate::core::deck::{self, Deck};

/// How long a login lasts: a council day with its evening.
pub const LOGIN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Where the console's decks and settings are kept.
#[async_trait]
pub trait Library: Send + Sync {
    /// Every deck with its newest version, most recently changed first.
    async fn list(&self) -> Result<Vec<DeckSummary>>;

    /// A deck at `version` (the newest if `None`).
    async fn get(&self, id: i64, version: Option<i64>) -> Result<Option<StoredDeck>>;

    /// Stores a new deck as version 1; returns its id. `source` need not parse: a
    /// draft with errors is kept like any version (the caller has checked its size).
    async fn create(&self, name: &str, source: &str) -> Result<i64>;

    /// Stores `source` as the deck's next version, unless it equals the newest; a new
    /// `name` renames the deck. `source` may be a draft, as in [`Library::create`].
    async fn save(&self, id: i64, name: Option<&str>, source: &str) -> Result<Result<(), Refusal>>;

    /// Removes a deck and its versions (sessions keep their own copy).
    async fn delete(&self, id: i64) -> Result<Result<(), Refusal>>;

    /// Puts the built-in deck ([`deck::DEFAULT_DECK_SOURCE`]) into an empty library, so
    /// a new console has one to start from.
    async fn seed(&self) -> Result<()>;

    /// A setting's value.
    async fn setting(&self, name: &str) -> Result<Option<String>>;

    /// Stores a setting.
    async fn set_setting(&self, name: &str, value: &str) -> Result<()>;

    /// Stores a setting that has none yet; `false` if it has one (another node may
    /// have stored it first).
    async fn create_setting(&self, name: &str, value: &str) -> Result<bool>;
}

/// Where the console's logins are kept. A login is an id (public, 16 hexadecimal
/// digits) and a secret; an adapter may keep only a digest of the secret, and must
/// compare it in constant time.
#[async_trait]
pub trait Logins: Send + Sync {
    /// Keeps a new login for `lifetime`.
    async fn start(&self, id: &str, secret: &str, lifetime: Duration) -> Result<()>;

    /// Whether `id` is a login with this secret that has not expired.
    async fn check(&self, id: &str, secret: &str) -> Result<bool>;

    /// Ends a login (on every node that shares it).
    async fn end(&self, id: &str) -> Result<()>;
}

/// A deck as the console lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeckSummary {
    /// Its number in the library.
    pub id: i64,
    /// The file name it goes by (`raad.md`); errors name it.
    pub name: String,
    /// The title its front matter gives (or its name).
    pub title: String,
    /// The deck the server ships with.
    pub builtin: bool,
    /// The newest version's number, from 1.
    pub version: i64,
    /// Slides in the newest version.
    pub slides: usize,
    /// Statements among them.
    pub statements: usize,
    /// When the newest version was saved.
    pub updated_ms: u64,
    /// The version does not parse: a draft saved with its errors, which no session
    /// starts on until a version without errors is saved.
    pub draft: bool,
}

/// One saved version of a deck.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VersionInfo {
    /// From 1.
    pub version: i64,
    /// When it was saved.
    pub created_ms: u64,
}

/// A deck with one version's text and the list of all versions.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDeck {
    /// What the list shows, for the version asked for.
    #[serde(flatten)]
    pub summary: DeckSummary,
    /// The Markdown text of that version.
    pub source: String,
    /// Every version, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// Why a library call changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No deck with this id (or no such version).
    UnknownDeck,
    /// The built-in deck stays.
    Builtin,
}

pub(crate) fn summary(
    name: String,
    id: i64,
    builtin: bool,
    version: i64,
    source: &str,
    ms: i64,
) -> DeckSummary {
    // A draft (or a version a newer build's stricter rules refuse) is listed with its
    // name and no slides.
    let parsed = deck::parse(&name, source).ok();
    DeckSummary {
        title: parsed
            .as_ref()
            .map(|d| d.title.clone())
            .unwrap_or_else(|| name.clone()),
        slides: parsed.as_ref().map_or(0, |d| d.slides.len()),
        statements: parsed.as_ref().map_or(0, Deck::statement_count),
        draft: parsed.is_none(),
        name,
        id,
        builtin,
        version,
        updated_ms: ms as u64,
    }
}
