//! The hub's catalog in the cluster: records in a key-value bucket, a log per
//! session, and placement by lease: a node owns the session it took the lease of, and
//! serves the others through a proxy of their owner.
//!
//! Implemented on the shared `Arc<Cluster>`, because the tasks a placement starts (the
//! owner's side, a proxy) keep the connection for as long as they run.

use std::sync::Arc;

use anyhow::{bail, Result};
use async_trait::async_trait;

use super::log::LogWriter;
use super::{console, owner, proxy, Attached, Claim, Cluster, OwnerViews};
use crate::hub::ports::{Owned, Placement, Proxied, Sessions};
use crate::hub::{could_be_code, Notice, Published, SessionRecord, Status, StoredSession};

#[async_trait]
impl Sessions for Arc<Cluster> {
    fn restore_open(&self) -> Result<Vec<String>> {
        // Every node finds every session in the catalog when asked.
        Ok(vec![])
    }

    async fn may_be_open(&self, code: &str) -> Result<bool> {
        // A code becomes a key and a subject in NATS: nothing else gets that far.
        if !could_be_code(code) {
            return Ok(false);
        }
        let cluster: &Cluster = self;
        Ok(matches!(cluster.record(code).await?, Some(r) if r.status == Status::Open))
    }

    async fn place(&self, code: &str) -> Result<Option<Placement>> {
        let cluster: &Cluster = self;
        // Read again under the hub's lock: the session may have closed meanwhile.
        let record = match cluster.record(code).await? {
            Some(record) if record.status == Status::Open => record,
            _ => return Ok(None),
        };
        let placement = match cluster.attach(code).await? {
            Attached::Owner {
                stored,
                last,
                revision,
            } => {
                let writer = LogWriter::start(cluster, code, revision, last);
                tracing::info!(code, node = cluster.node(), "this node owns the session");
                Placement::Owner {
                    stored: *stored,
                    owned: owned(self, writer, revision),
                }
            }
            Attached::Proxy(views) => {
                tracing::info!(
                    code,
                    node = cluster.node(),
                    "this node serves the session through its owner"
                );
                let OwnerViews { owner, views } = *views;
                Placement::Proxy(proxied(self, record, views, owner))
            }
        };
        Ok(Some(placement))
    }

    async fn create(&self, record: &SessionRecord) -> Result<Option<Owned>> {
        let cluster: &Cluster = self;
        let code = &record.code;
        // The log first, then the record: no node finds a record without a log.
        cluster.create_log(code).await?;
        if !cluster.create_record(record).await? {
            return Ok(None);
        }
        let revision = match cluster.claim_new(code).await? {
            Claim::Owner(revision) => revision,
            Claim::Held => bail!("session {code} was claimed before it started"),
        };
        let writer = LogWriter::start(cluster, code, revision, 0);
        Ok(Some(owned(self, writer, revision)))
    }

    async fn record(&self, code: &str) -> Result<Option<SessionRecord>> {
        if !could_be_code(code) {
            return Ok(None);
        }
        Cluster::record(self, code).await
    }

    async fn records(&self) -> Result<Vec<SessionRecord>> {
        Cluster::records(self).await
    }

    async fn stored(&self, code: &str) -> Result<Option<StoredSession>> {
        if !could_be_code(code) {
            return Ok(None);
        }
        Ok(self.load(code).await?.map(|(stored, _)| stored))
    }

    async fn cards(&self, code: &str) -> Result<crate::core::cards::Cards> {
        // Read from the log, each read going on from where the last ended.
        let (after, mut cards) = self
            .cards
            .get(code)
            .map(|read| read.value().clone())
            .unwrap_or_default();
        let (events, last) = self.read_log_after(code, after).await?;
        for event in &events {
            cards.apply(event);
        }
        self.cards.insert(code.to_owned(), (last, cards.clone()));
        Ok(cards)
    }

    async fn close(&self, record: SessionRecord) -> Result<SessionRecord> {
        let closed = SessionRecord {
            status: Status::Closed,
            closed_ms: Some(crate::hub::now_ms()),
            ..record
        };
        // The record first, then every node hears it: the owner stops after storing
        // what it took, the proxies follow.
        self.put_record(&closed).await?;
        self.announce(&closed.code, Notice::Closed).await?;
        Ok(closed)
    }

    async fn delete(&self, code: &str) -> Result<()> {
        self.delete_session(code).await?;
        self.cards.remove(code);
        Ok(())
    }

    fn edits_running_decks(&self) -> bool {
        false
    }

    async fn store_deck(&self, code: &str, _: &str, _: &str, _: Option<i64>) -> Result<()> {
        bail!("session {code} runs in a cluster, where a running session's deck is not edited")
    }

    async fn claim_start(&self, deck_source: &str) -> Result<bool> {
        let digest = console::digest(deck_source.as_bytes());
        Cluster::claim_start(self, &digest).await
    }

    async fn checkpoint(&self) -> Result<()> {
        // JetStream keeps its own files; nothing is queued here.
        Ok(())
    }
}

/// A session this node owns: its log writer, and beside it the owner's side.
fn owned(cluster: &Arc<Cluster>, writer: LogWriter, revision: u64) -> Owned {
    let cluster = cluster.clone();
    Owned {
        log: Arc::new(writer.clone()),
        companion: Box::new(move |handle| {
            tokio::spawn(owner::serve_owned(cluster, handle, writer, revision));
        }),
    }
}

/// A session another node (`owner`) owns, served here through a proxy.
fn proxied(
    cluster: &Arc<Cluster>,
    record: SessionRecord,
    views: [Published; 3],
    owner: Option<String>,
) -> Proxied {
    let cluster = cluster.clone();
    Proxied {
        record,
        views,
        forwarder: Box::new(move |handle, parts| {
            tokio::spawn(proxy::run_proxy(cluster, handle, parts, owner));
        }),
    }
}
