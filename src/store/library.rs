//! The console's library in the server's own database: decks with their versions,
//! and settings, written through the store's writer.

use anyhow::Result;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{now_ms, Store};
use crate::core::deck;
use crate::hub::library::{summary, DeckSummary, Library, Refusal, StoredDeck, VersionInfo};

#[async_trait]
impl Library for Store {
    async fn list(&self) -> Result<Vec<DeckSummary>> {
        list(self)
    }

    async fn get(&self, id: i64, version: Option<i64>) -> Result<Option<StoredDeck>> {
        get(self, id, version)
    }

    async fn create(&self, name: &str, source: &str) -> Result<i64> {
        create(self, name, source, false).await
    }

    async fn save(&self, id: i64, name: Option<&str>, source: &str) -> Result<Result<(), Refusal>> {
        save(self, id, name, source).await
    }

    async fn delete(&self, id: i64) -> Result<Result<(), Refusal>> {
        delete(self, id).await
    }

    async fn seed(&self) -> Result<()> {
        seed(self).await
    }

    async fn setting(&self, name: &str) -> Result<Option<String>> {
        setting(self, name)
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        set_setting(self, name, value).await
    }

    async fn create_setting(&self, name: &str, value: &str) -> Result<bool> {
        // One writer, one process on the data directory: nobody stores it between.
        if setting(self, name)?.is_some() {
            return Ok(false);
        }
        set_setting(self, name, value).await?;
        Ok(true)
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

/// Stores a new deck as version 1 (a draft too); returns its id.
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
/// `name` renames the deck.
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
