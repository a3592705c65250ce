//! The hub's ports on one machine: every session's events go through the one writer
//! (group commit), and every session is owned here, loaded from the database when
//! first asked for.

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;

use super::Store;
use crate::core::session::Event;
use crate::hub::ports::{
    Completion, Log, Owned, Placement, SessionRecord, Sessions, Status, StoredSession,
};

impl Log for Store {
    fn append(&self, code: &str, epoch: u64, events: Vec<Event>, done: Completion) -> Result<()> {
        Store::append(self, code, epoch, events, done)
    }
}

#[async_trait]
impl Sessions for Store {
    fn restore_open(&self) -> Result<Vec<String>> {
        let codes = self.open_codes()?;
        let mut dormant = self.dormant();
        dormant.extend(codes.iter().cloned());
        Ok(codes)
    }

    async fn may_be_open(&self, code: &str) -> Result<bool> {
        // Sessions created since the start run already; only those stored before it
        // wait to be loaded.
        Ok(self.dormant().contains(code))
    }

    async fn place(&self, code: &str) -> Result<Option<Placement>> {
        if !self.dormant().contains(code) {
            return Ok(None);
        }
        let stored = self.stored(code).await?;
        self.dormant().remove(code);
        let Some(stored) = stored.filter(|s| s.record.status == Status::Open) else {
            return Ok(None);
        };
        Ok(Some(Placement::Owner {
            stored,
            owned: self.owned(),
        }))
    }

    async fn create(&self, record: &SessionRecord) -> Result<Option<Owned>> {
        // The hub holds the code against its own other creates, and this process holds
        // the data directory: a code not stored now is this session's.
        if Store::record(self, &record.code)?.is_some() {
            return Ok(None);
        }
        Store::create(self, record.clone()).await?;
        Ok(Some(self.owned()))
    }

    async fn record(&self, code: &str) -> Result<Option<SessionRecord>> {
        Store::record(self, code)
    }

    async fn records(&self) -> Result<Vec<SessionRecord>> {
        Store::records(self)
    }

    async fn stored(&self, code: &str) -> Result<Option<StoredSession>> {
        let store = self.clone();
        let wanted = code.to_owned();
        tokio::task::spawn_blocking(move || store.load(&wanted))
            .await
            .context("loading a session")?
    }

    async fn cards(&self, code: &str) -> Result<crate::core::cards::Cards> {
        Store::cards(self, code)
    }

    async fn close(&self, record: SessionRecord) -> Result<SessionRecord> {
        let closed_ms = crate::hub::now_ms();
        let code = record.code.clone();
        self.write(move |tx| {
            tx.execute(
                "UPDATE sessions SET status = 'closed', closed_ms = ?1 WHERE code = ?2",
                rusqlite::params![closed_ms as i64, code],
            )
        })
        .await?;
        self.dormant().remove(&record.code);
        Ok(SessionRecord {
            status: Status::Closed,
            closed_ms: Some(closed_ms),
            ..record
        })
    }

    async fn delete(&self, code: &str) -> Result<()> {
        self.dormant().remove(code);
        self.delete_everywhere(code).await
    }

    fn edits_running_decks(&self) -> bool {
        true
    }

    async fn store_deck(
        &self,
        code: &str,
        deck_name: &str,
        deck_source: &str,
        deck_id: Option<i64>,
    ) -> Result<()> {
        let (name, source, code) = (
            deck_name.to_owned(),
            deck_source.to_owned(),
            code.to_owned(),
        );
        self.write(move |tx| {
            tx.execute(
                "UPDATE sessions SET deck_name = ?1, deck_source = ?2,
                     deck_id = COALESCE(?3, deck_id)
                 WHERE code = ?4",
                rusqlite::params![name, source, deck_id, code],
            )
        })
        .await?;
        Ok(())
    }

    async fn claim_start(&self, _deck_source: &str) -> Result<bool> {
        // The store holds its data directory: no other process starts sessions in it.
        Ok(true)
    }

    async fn checkpoint(&self) -> Result<()> {
        Store::checkpoint(self).await
    }
}

impl Store {
    /// What a session owned here runs with: this store as its log, nothing beside it.
    fn owned(&self) -> Owned {
        Owned {
            log: Arc::new(self.clone()),
            companion: Box::new(drop),
        }
    }

    /// The codes of the dormant sessions. A poisoned lock only means a panic while it
    /// was held; the set is still valid.
    fn dormant(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.dormant.lock().unwrap_or_else(|p| p.into_inner())
    }
}
