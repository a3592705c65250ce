//! Durable storage: an append-only SQLite event log with group commit.
//!
//! One writer thread owns the connection. It takes every queued write at once, commits
//! them in one transaction and only then runs their completions (which acknowledge
//! votes to the phones). While one transaction commits, the next batch queues up, so
//! the batch grows with the load without a fixed wait.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection};

use crate::session::Event;

/// The schema version this build writes; older databases are migrated forward.
pub const SCHEMA_VERSION: i64 = 1;

/// The most writes committed in one transaction; bounds the latency of the first one.
pub const MAX_BATCH: usize = 4096;

/// How often the checkpoint thread copies the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "stemzaal.sqlite3";

/// How much a commit must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a committed vote survives a crash of the
    /// process; a power cut may lose the last commits.
    #[default]
    Normal,
    /// `synchronous=FULL`: a committed vote also survives a power cut, at the price of
    /// an fsync per transaction.
    Full,
}

/// What is kept of a session besides its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The join code.
    pub code: String,
    /// The deck's source name.
    pub deck_name: String,
    /// The deck's full text, so the session recovers even if the file changed.
    pub deck_source: String,
    /// The facilitator's key.
    pub host_key: String,
    /// The projector's key.
    pub screen_key: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// A stored session with its events, as read at start-up.
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// The session's record.
    pub record: SessionRecord,
    /// Its events in the order they happened.
    pub events: Vec<Event>,
}

/// A summary line for `stemzaal sessions list`.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The join code.
    pub code: String,
    /// The deck's source name.
    pub deck_name: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// How many events it has.
    pub events: u64,
}

type Completion = Box<dyn FnOnce() + Send>;

enum Write {
    Create(SessionRecord),
    Append { code: String, events: Vec<Event> },
    Delete(String),
}

struct Op {
    write: Option<Write>,
    done: Option<Completion>,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Op>,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the database in `dir`, migrates it, and starts the writer.
    pub fn open(dir: &Path, durability: Durability) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let path = dir.join(DB_FILE);
        let conn = connect(&path, durability)?;
        // Checkpoints copy the WAL into the database and fsync both files: tens of
        // milliseconds on a busy disk. They run on their own connection and thread,
        // so a commit (and every ack waiting for it) never waits for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = Connection::open(&path)
            .with_context(|| format!("opening {} to checkpoint", path.display()))?;
        checkpointer.busy_timeout(std::time::Duration::from_secs(1))?;
        let (tx, rx) = mpsc::channel();
        let alive = std::sync::Arc::new(());
        let writer_alive = std::sync::Arc::downgrade(&alive);
        thread::Builder::new()
            .name("stemzaal-store".into())
            .spawn(move || {
                let _alive = alive;
                writer(conn, rx)
            })
            .context("starting the store's writer thread")?;
        thread::Builder::new()
            .name("stemzaal-checkpoint".into())
            .spawn(move || {
                while writer_alive.strong_count() > 0 {
                    thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) =
                        checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
            })
            .context("starting the store's checkpoint thread")?;
        Ok(Store { tx, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every stored session with its events, oldest session first.
    pub fn load_all(&self) -> Result<Vec<StoredSession>> {
        let conn = Connection::open(&self.path)
            .with_context(|| format!("opening {} to read", self.path.display()))?;
        let mut sessions = vec![];
        let mut stmt = conn.prepare(
            "SELECT code, deck_name, deck_source, host_key, screen_key, created_ms
             FROM sessions ORDER BY created_ms, code",
        )?;
        let records = stmt
            .query_map([], |r| {
                Ok(SessionRecord {
                    code: r.get(0)?,
                    deck_name: r.get(1)?,
                    deck_source: r.get(2)?,
                    host_key: r.get(3)?,
                    screen_key: r.get(4)?,
                    created_ms: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut events = conn.prepare("SELECT data FROM events WHERE session = ?1 ORDER BY id")?;
        for record in records {
            let list = events
                .query_map([&record.code], |r| r.get::<_, String>(0))?
                .map(|row| {
                    let text = row?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("reading stored event {text}"))
                })
                .collect::<Result<Vec<Event>>>()
                .with_context(|| format!("reading the events of session {}", record.code))?;
            sessions.push(StoredSession {
                record,
                events: list,
            });
        }
        Ok(sessions)
    }

    /// One line per stored session.
    pub fn list(&self) -> Result<Vec<SessionSummary>> {
        let conn = Connection::open(&self.path)?;
        let mut stmt = conn.prepare(
            "SELECT s.code, s.deck_name, s.created_ms,
                    (SELECT COUNT(*) FROM events e WHERE e.session = s.code)
             FROM sessions s ORDER BY s.created_ms, s.code",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionSummary {
                    code: r.get(0)?,
                    deck_name: r.get(1)?,
                    created_ms: r.get::<_, i64>(2)? as u64,
                    events: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Stores a new session; returns once it is committed.
    pub async fn create(&self, record: SessionRecord) -> Result<()> {
        self.write_and_wait(Write::Create(record)).await
    }

    /// Removes a session and all its events; returns once it is committed.
    pub async fn delete(&self, code: &str) -> Result<()> {
        self.write_and_wait(Write::Delete(code.to_owned())).await
    }

    /// Rewrites the database file and empties the WAL, so deleted rows leave no trace on
    /// disk. Run it only with no server on the directory (see [`DirLock`]).
    pub fn vacuum(&self) -> Result<()> {
        let conn = Connection::open(&self.path)?;
        // The checkpoint thread may hold the file for a moment.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .with_context(|| format!("vacuuming {}", self.path.display()))
    }

    async fn write_and_wait(&self, write: Write) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Op {
            write: Some(write),
            done: Some(Box::new(move || {
                // The waiter may have given up; then nobody needs to hear of it.
                tx.send(()).ok();
            })),
        })?;
        rx.await.context("the store stopped before committing")
    }

    /// Appends events; `done` runs after they are committed (never if the commit
    /// fails, so nothing is acknowledged that is not stored).
    pub fn append(&self, code: &str, events: Vec<Event>, done: Option<Completion>) -> Result<()> {
        let write = (!events.is_empty()).then(|| Write::Append {
            code: code.to_owned(),
            events,
        });
        self.send(Op { write, done })
    }

    /// Runs `done` after everything queued before it is committed: an idempotent vote
    /// whose first copy may still be in flight is acknowledged only after that copy.
    pub fn after_pending(&self, done: Completion) -> Result<()> {
        self.send(Op {
            write: None,
            done: Some(done),
        })
    }

    fn send(&self, op: Op) -> Result<()> {
        self.tx
            .send(op)
            .map_err(|_| anyhow::anyhow!("the store's writer thread has stopped"))
    }
}

/// Opens a writer connection: WAL, the durability's `synchronous`, foreign keys, and
/// the schema migrated to [`SCHEMA_VERSION`].
pub fn connect(path: &Path, durability: Durability) -> Result<Connection> {
    let conn =
        Connection::open(path).with_context(|| format!("opening database {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&conn).with_context(|| format!("migrating database {}", path.display()))?;
    Ok(conn)
}

/// Brings the schema to [`SCHEMA_VERSION`], one step per version.
fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!("the database has schema version {version}; this build knows up to {SCHEMA_VERSION}: use a newer stemzaal");
    }
    if version < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE sessions (
                 code        TEXT PRIMARY KEY,
                 deck_name   TEXT NOT NULL,
                 deck_source TEXT NOT NULL,
                 host_key    TEXT NOT NULL,
                 screen_key  TEXT NOT NULL,
                 created_ms  INTEGER NOT NULL
             );
             CREATE TABLE events (
                 id      INTEGER PRIMARY KEY,
                 session TEXT NOT NULL REFERENCES sessions(code) ON DELETE CASCADE,
                 data    TEXT NOT NULL
             );
             CREATE INDEX events_by_session ON events(session, id);
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
    }
    Ok(())
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Op>) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        match commit(&mut conn, &batch) {
            Ok(()) => {
                for op in batch.drain(..) {
                    if let Some(done) = op.done {
                        done();
                    }
                }
            }
            Err(e) => {
                // Nothing of the batch is acknowledged; clients resend what they miss.
                tracing::error!("store commit of {} writes failed: {e:#}", batch.len());
                batch.clear();
            }
        }
    }
}

fn commit(conn: &mut Connection, batch: &[Op]) -> Result<()> {
    if batch.iter().all(|op| op.write.is_none()) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached("INSERT INTO events (session, data) VALUES (?1, ?2)")?;
        for op in batch {
            match &op.write {
                None => {}
                Some(Write::Append { code, events }) => {
                    for event in events {
                        insert.execute(params![code, serde_json::to_string(event)?])?;
                    }
                }
                Some(Write::Create(r)) => {
                    tx.execute(
                        "INSERT INTO sessions (code, deck_name, deck_source, host_key, screen_key, created_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![r.code, r.deck_name, r.deck_source, r.host_key, r.screen_key, r.created_ms as i64],
                    )?;
                }
                Some(Write::Delete(code)) => {
                    tx.execute("DELETE FROM events WHERE session = ?1", [code])?;
                    tx.execute("DELETE FROM sessions WHERE code = ?1", [code])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Milliseconds since the Unix epoch, for records.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The lock file that marks a data directory as in use by a running server.
pub const LOCK_FILE: &str = "stemzaal.lock";

/// Holds a data directory for one process: a second server, or `sessions delete`
/// while a server runs, would write under a live session's feet.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock on `dir`, or says which directory is busy.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "data directory {} is in use by a running stemzaal; stop it first",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}
