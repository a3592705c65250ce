//! The decks the console keeps, each with every version it was saved as, and the
//! server's settings. On one machine they are in the same database as the sessions,
//! written through the same writer (so a full disk refuses a save as it refuses a
//! vote); in cluster mode they are in NATS (see [`crate::cluster::console`]), so every
//! node serves the same console.

use std::sync::Arc;

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::cluster::Cluster;
use crate::deck::{self, Deck};
use crate::store::{now_ms, Store};

/// Where the console's decks and settings are kept.
#[derive(Clone)]
pub enum Library {
    /// In the server's own database.
    Local(Store),
    /// In the cluster, shared by every node.
    Cluster(Arc<Cluster>),
}

impl Library {
    /// Every deck with its newest version, most recently changed first.
    pub async fn list(&self) -> Result<Vec<DeckSummary>> {
        match self {
            Library::Local(store) => list(store),
            Library::Cluster(cluster) => cluster.console().list().await,
        }
    }

    /// A deck at `version` (the newest if `None`).
    pub async fn get(&self, id: i64, version: Option<i64>) -> Result<Option<StoredDeck>> {
        match self {
            Library::Local(store) => get(store, id, version),
            Library::Cluster(cluster) => cluster.console().get(id, version).await,
        }
    }

    /// Stores a new deck as version 1; returns its id. The caller has parsed `source`.
    pub async fn create(&self, name: &str, source: &str) -> Result<i64> {
        match self {
            Library::Local(store) => create(store, name, source, false).await,
            Library::Cluster(cluster) => cluster.console().create(name, source, false).await,
        }
    }

    /// Stores `source` as the deck's next version, unless it equals the newest; a new
    /// `name` renames the deck. The caller has parsed `source`.
    pub async fn save(
        &self,
        id: i64,
        name: Option<&str>,
        source: &str,
    ) -> Result<Result<(), Refusal>> {
        match self {
            Library::Local(store) => save(store, id, name, source).await,
            Library::Cluster(cluster) => cluster.console().save(id, name, source).await,
        }
    }

    /// Removes a deck and its versions (sessions keep their own copy).
    pub async fn delete(&self, id: i64) -> Result<Result<(), Refusal>> {
        match self {
            Library::Local(store) => delete(store, id).await,
            Library::Cluster(cluster) => cluster.console().delete(id).await,
        }
    }

    /// Puts the built-in deck into an empty library, so a new console has one to start
    /// from.
    pub async fn seed(&self) -> Result<()> {
        match self {
            Library::Local(store) => seed(store).await,
            Library::Cluster(cluster) => {
                cluster
                    .console()
                    .seed(deck::DEFAULT_DECK_NAME, deck::DEFAULT_DECK_SOURCE)
                    .await
            }
        }
    }

    /// A setting's value.
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        match self {
            Library::Local(store) => setting(store, name),
            Library::Cluster(cluster) => cluster.console().setting(name).await,
        }
    }

    /// Stores a setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        match self {
            Library::Local(store) => set_setting(store, name, value).await,
            Library::Cluster(cluster) => cluster.console().set_setting(name, value).await,
        }
    }

    /// Stores a setting that has none yet; `false` if it has one (in a cluster: another
    /// node stored it first).
    pub async fn create_setting(&self, name: &str, value: &str) -> Result<bool> {
        match self {
            Library::Local(store) => {
                if setting(store, name)?.is_some() {
                    return Ok(false);
                }
                set_setting(store, name, value).await?;
                Ok(true)
            }
            Library::Cluster(cluster) => cluster.console().create_setting(name, value).await,
        }
    }

    /// The cluster the library is kept in, if any.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        match self {
            Library::Local(_) => None,
            Library::Cluster(cluster) => Some(cluster),
        }
    }
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
    // Only parsed sources are stored; one that no longer parses (a newer build's
    // stricter rules) is listed with its name and no slides.
    let parsed = deck::parse(&name, source).ok();
    DeckSummary {
        title: parsed
            .as_ref()
            .map(|d| d.title.clone())
            .unwrap_or_else(|| name.clone()),
        slides: parsed.as_ref().map_or(0, |d| d.slides.len()),
        statements: parsed.as_ref().map_or(0, Deck::statement_count),
        name,
        id,
        builtin,
        version,
        updated_ms: ms as u64,
    }
}

/// Every deck with its newest version, most recently changed first.
fn list(store: &Store) -> Result<Vec<DeckSummary>> {
    let conn = store.reader()?;
    let mut stmt = conn.prepare(
        "SELECT d.id, d.name, d.builtin, v.version, v.source, v.created_ms
         FROM decks d JOIN deck_versions v ON v.deck = d.id
         WHERE v.version = (SELECT MAX(version) FROM deck_versions WHERE deck = d.id)
         ORDER BY v.created_ms DESC, d.id DESC",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(summary(
                r.get(1)?,
                r.get(0)?,
                r.get(2)?,
                r.get(3)?,
                &r.get::<_, String>(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A deck at `version` (the newest if `None`).
fn get(store: &Store, id: i64, version: Option<i64>) -> Result<Option<StoredDeck>> {
    let conn = store.reader()?;
    let head: Option<(String, bool)> = conn
        .query_row("SELECT name, builtin FROM decks WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((name, builtin)) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT version, created_ms FROM deck_versions WHERE deck = ?1 ORDER BY version",
    )?;
    let versions = stmt
        .query_map([id], |r| {
            Ok(VersionInfo {
                version: r.get(0)?,
                created_ms: r.get::<_, i64>(1)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let Some(wanted) = version.or_else(|| versions.last().map(|v| v.version)) else {
        return Ok(None);
    };
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT source, created_ms FROM deck_versions WHERE deck = ?1 AND version = ?2",
            [id, wanted],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.map(|(source, ms)| StoredDeck {
        summary: summary(name, id, builtin, wanted, &source, ms),
        source,
        versions,
    }))
}

/// Stores a new deck as version 1; returns its id. The caller has parsed `source`.
async fn create(store: &Store, name: &str, source: &str, builtin: bool) -> Result<i64> {
    let (name, source) = (name.to_owned(), source.to_owned());
    store
        .write(move |tx| {
            let now = now_ms() as i64;
            tx.execute(
                "INSERT INTO decks (name, builtin, created_ms) VALUES (?1, ?2, ?3)",
                params![name, builtin, now],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO deck_versions (deck, version, source, created_ms) VALUES (?1, 1, ?2, ?3)",
                params![id, source, now],
            )?;
            Ok(id)
        })
        .await
}

/// Stores `source` as the deck's next version, unless it equals the newest; a new
/// `name` renames the deck. The caller has parsed `source`.
async fn save(
    store: &Store,
    id: i64,
    name: Option<&str>,
    source: &str,
) -> Result<Result<(), Refusal>> {
    let (name, source) = (name.map(str::to_owned), source.to_owned());
    store
        .write(move |tx| {
            let newest: Option<(i64, String)> = tx
                .query_row(
                    "SELECT version, source FROM deck_versions WHERE deck = ?1
                     ORDER BY version DESC LIMIT 1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((version, newest)) = newest else {
                return Ok(Err(Refusal::UnknownDeck));
            };
            if let Some(name) = &name {
                tx.execute(
                    "UPDATE decks SET name = ?1 WHERE id = ?2",
                    params![name, id],
                )?;
            }
            if newest != source {
                tx.execute(
                    "INSERT INTO deck_versions (deck, version, source, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, version + 1, source, now_ms() as i64],
                )?;
            }
            Ok(Ok(()))
        })
        .await
}

/// Removes a deck and its versions (sessions keep their own copy).
async fn delete(store: &Store, id: i64) -> Result<Result<(), Refusal>> {
    store
        .write(move |tx| {
            let builtin: Option<bool> = tx
                .query_row("SELECT builtin FROM decks WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            match builtin {
                None => Ok(Err(Refusal::UnknownDeck)),
                Some(true) => Ok(Err(Refusal::Builtin)),
                Some(false) => {
                    tx.execute("DELETE FROM decks WHERE id = ?1", [id])?;
                    Ok(Ok(()))
                }
            }
        })
        .await
}

/// Puts the built-in deck into an empty library, so a new console has one to start from.
async fn seed(store: &Store) -> Result<()> {
    let any: i64 = store
        .reader()?
        .query_row("SELECT COUNT(*) FROM decks", [], |r| r.get(0))?;
    if any == 0 {
        create(
            store,
            deck::DEFAULT_DECK_NAME,
            deck::DEFAULT_DECK_SOURCE,
            true,
        )
        .await?;
    }
    Ok(())
}

/// A setting's value.
fn setting(store: &Store, name: &str) -> Result<Option<String>> {
    Ok(store
        .reader()?
        .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Stores a setting.
async fn set_setting(store: &Store, name: &str, value: &str) -> Result<()> {
    let (name, value) = (name.to_owned(), value.to_owned());
    store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?;
            Ok(())
        })
        .await
}
