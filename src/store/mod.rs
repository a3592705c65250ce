//! Durable storage: an append-only SQLite event log with group commit.
//!
//! One writer thread owns the connection. It takes every queued write at once, commits
//! them in one transaction and only then runs their completions (which acknowledge
//! votes to the phones). While one transaction commits, the next batch queues up, so
//! the batch grows with the load without a fixed wait.
//!
//! The store is the adapter of one machine: it implements the hub's ports
//! ([`crate::hub::ports`]: a log and a catalog of sessions, in `sessions`) and the
//! console's library ([`crate::hub::library::Library`], in `library`) and decks' images
//! ([`crate::hub::media::Media`], in `media`), all in one database written through the
//! one writer, so a full disk refuses a save as it refuses a vote.

mod library;
mod media;
mod sessions;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection};

use crate::core::session::Event;
pub use crate::hub::now_ms;
pub use crate::hub::ports::{
    Completion, Meeting, SessionRecord, Status, StoredSession, WriteFailed,
};

/// The schema version this build writes; older databases are migrated forward.
pub const SCHEMA_VERSION: i64 = 5;

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

/// The columns [`record_from_row`] reads, in order.
const RECORD_COLUMNS: &str = "code, deck_name, deck_source, host_key, screen_key, created_ms, \
     status, closed_ms, meeting, meeting_date, place, deck_id";

/// How a status is stored.
fn status_text(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Closed => "closed",
    }
}

/// A session's record from a row of [`RECORD_COLUMNS`].
fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let status: String = r.get(6)?;
    Ok(SessionRecord {
        code: r.get(0)?,
        deck_name: r.get(1)?,
        deck_source: r.get(2)?,
        host_key: r.get(3)?,
        screen_key: r.get(4)?,
        created_ms: r.get::<_, i64>(5)? as u64,
        status: if status == "closed" {
            Status::Closed
        } else {
            Status::Open
        },
        closed_ms: r.get::<_, Option<i64>>(7)?.map(|ms| ms as u64),
        meeting: Meeting {
            name: r.get(8)?,
            date: r.get(9)?,
            place: r.get(10)?,
        },
        deck_id: r.get(11)?,
    })
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
    /// Whether it is closed.
    pub closed: bool,
}

/// A write the caller spells out; see [`Store::write`].
type Run = Box<dyn Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()> + Send>;

enum Write {
    Create(SessionRecord),
    Append {
        code: String,
        /// The writer's epoch: once one append of a session fails, every later append
        /// of the same epoch fails too, because its events were decided on top of the
        /// lost ones. The session starts a new epoch from what is stored.
        epoch: u64,
        events: Vec<Event>,
    },
    Delete(String),
    /// Anything else the API stores (decks, settings, a session's state).
    Run(Run),
    /// Rewrites the database and empties the WAL, after a delete.
    Vacuum,
    /// Copies the WAL into the database and truncates it (at a graceful stop).
    Checkpoint,
}

struct Op {
    write: Write,
    done: Option<Completion>,
}

/// Whether the store can write, shared with whoever wants to show it.
#[derive(Debug, Default)]
pub struct Health {
    failing: std::sync::atomic::AtomicBool,
    failed_writes: std::sync::atomic::AtomicU64,
    /// Fail every commit as a full disk would (see [`Store::fail_commits`]).
    fail_commits: std::sync::atomic::AtomicBool,
}

impl Health {
    /// Whether the last commit failed.
    pub fn failing(&self) -> bool {
        self.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes given up since the start.
    pub fn failed_writes(&self) -> u64 {
        self.failed_writes
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A handle to the writer thread; cheap to clone. The writer holds the data directory
/// (see [`DirLock`]) until the last handle is gone and what was queued is committed.
#[derive(Clone)]
pub struct Store {
    writer: std::sync::Arc<Writer>,
    path: PathBuf,
    health: std::sync::Arc<Health>,
    /// Open sessions that are stored but not running in this process: each is loaded
    /// when first asked for (see [`crate::hub::Sessions::restore_open`]). The lock is
    /// never held across an `.await`.
    dormant: std::sync::Arc<std::sync::Mutex<HashSet<String>>>,
}

/// The writer thread and its queue, shared by every [`Store`] handle.
struct Writer {
    tx: Option<mpsc::Sender<Op>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// Runs with the last handle: closes the queue and waits until the writer has
    /// committed what was in it, closed the database and let go of the directory, so
    /// whoever opens the directory next (a restart, `sessions delete`) finds it free.
    fn drop(&mut self) {
        drop(self.tx.take());
        let Some(thread) = self.thread.take() else {
            return;
        };
        // A completion that drops the last handle runs on the writer, which cannot
        // wait for itself; it lets go a moment later, when its loop ends.
        if thread.thread().id() != thread::current().id() && thread.join().is_err() {
            tracing::error!("the store's writer thread panicked");
        }
    }
}

impl Store {
    /// Takes the data directory `dir` (or says it is in use), opens (or creates) the
    /// database in it, migrates it, and starts the writer, which holds the directory
    /// for as long as the store lives.
    pub fn open(dir: &Path, durability: Durability) -> Result<Store> {
        let lock = DirLock::acquire(dir)?;
        let path = dir.join(DB_FILE);
        let conn = connect(&path, durability)?;
        // Checkpoints copy the WAL into the database and fsync both files: tens of
        // milliseconds on a busy disk. They run on their own connection and thread,
        // so a commit (and every ack waiting for it) never waits for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = Connection::open(&path)
            .with_context(|| format!("opening {} to checkpoint", path.display()))?;
        checkpointer.busy_timeout(BUSY_TIMEOUT)?;
        let (tx, rx) = mpsc::channel();
        let health = std::sync::Arc::new(Health::default());
        let writes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let alive = std::sync::Arc::new(());
        let writer_alive = std::sync::Arc::downgrade(&alive);
        let writer_health = health.clone();
        let writer_writes = writes.clone();
        let thread = thread::Builder::new()
            .name("stemzaal-store".into())
            .spawn(move || {
                // Dropped in reverse order: the directory is let go after the database
                // is closed.
                let _lock = lock;
                let _alive = alive;
                writer(conn, rx, &writer_health, &writer_writes)
            })
            .context("starting the store's writer thread")?;
        let wal = wal_path(&path);
        thread::Builder::new()
            .name("stemzaal-checkpoint".into())
            .spawn(move || checkpointer_loop(&checkpointer, &wal, &writes, &writer_alive))
            .context("starting the store's checkpoint thread")?;
        let writer = std::sync::Arc::new(Writer {
            tx: Some(tx),
            thread: Some(thread),
        });
        Ok(Store {
            writer,
            path,
            health,
            dormant: Default::default(),
        })
    }

    /// Whether the store can write, as the writer last found.
    pub fn health(&self) -> &std::sync::Arc<Health> {
        &self.health
    }

    /// Makes every commit fail (`true`) as a full disk would, or work again (`false`):
    /// a fault to show what users are told. The writer handles it as any failed
    /// commit; the binary's own tests cut off a real disk instead (a file-size limit).
    pub fn fail_commits(&self, on: bool) {
        self.health
            .fail_commits
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reads every stored session with its events, oldest session first.
    pub fn load_all(&self) -> Result<Vec<StoredSession>> {
        self.load_where("1", [])
    }

    /// Reads one session with its events, open or closed.
    pub fn load(&self, code: &str) -> Result<Option<StoredSession>> {
        Ok(self.load_where("code = ?1", [code])?.pop())
    }

    /// The codes of the open sessions, oldest first.
    pub fn open_codes(&self) -> Result<Vec<String>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare("SELECT code FROM sessions WHERE status = 'open' ORDER BY created_ms, code")?;
        let codes = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(codes)
    }

    /// Every session's record (no events), newest first.
    pub fn records(&self) -> Result<Vec<SessionRecord>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM sessions ORDER BY created_ms DESC, code"
        ))?;
        let rows = stmt
            .query_map([], record_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A session's voting cards as stored, read from their events alone (a session
    /// need not be loaded for its list entry or its printed cards).
    pub fn cards(&self, code: &str) -> Result<crate::core::cards::Cards> {
        let conn = self.reader()?;
        // Serde writes the tag first, so the prefix finds the two kinds of card event.
        let mut stmt = conn.prepare_cached(
            "SELECT data FROM events WHERE session = ?1 AND data LIKE '{\"type\":\"card%' ORDER BY id",
        )?;
        let mut cards = crate::core::cards::Cards::default();
        for row in stmt.query_map([code], |r| r.get::<_, String>(0))? {
            let text = row?;
            let event: Event = serde_json::from_str(&text)
                .with_context(|| format!("reading stored event {text}"))?;
            cards.apply(&event);
        }
        Ok(cards)
    }

    /// One session's record (no events).
    pub fn record(&self, code: &str) -> Result<Option<SessionRecord>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM sessions WHERE code = ?1"
        ))?;
        let mut rows = stmt.query_map([code], record_from_row)?;
        Ok(rows.next().transpose()?)
    }

    fn load_where<P: rusqlite::Params>(
        &self,
        filter: &str,
        params: P,
    ) -> Result<Vec<StoredSession>> {
        let conn = self.reader()?;
        let mut sessions = vec![];
        let mut stmt = conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM sessions WHERE {filter} ORDER BY created_ms, code"
        ))?;
        let records = stmt
            .query_map(params, record_from_row)?
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

    /// A connection to read with; in WAL mode readers never wait for the writer.
    pub(crate) fn reader(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path)
            .with_context(|| format!("opening {} to read", self.path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    /// One line per stored session.
    pub fn list(&self) -> Result<Vec<SessionSummary>> {
        let conn = Connection::open(&self.path)?;
        let mut stmt = conn.prepare(
            "SELECT s.code, s.deck_name, s.created_ms,
                    (SELECT COUNT(*) FROM events e WHERE e.session = s.code), s.status
             FROM sessions s ORDER BY s.created_ms, s.code",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionSummary {
                    code: r.get(0)?,
                    deck_name: r.get(1)?,
                    created_ms: r.get::<_, i64>(2)? as u64,
                    events: r.get::<_, i64>(3)? as u64,
                    closed: r.get::<_, String>(4)? == "closed",
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

    /// Removes a session and all its events, then rewrites the database and empties the
    /// WAL, so nothing of it is left in any file; for a running server.
    pub async fn delete_everywhere(&self, code: &str) -> Result<()> {
        self.delete(code).await?;
        self.write_and_wait(Write::Vacuum).await
    }

    /// Runs `f` in the writer's transaction, in order with every other write, and
    /// returns what it returned once committed. An `Err` from `f` fails the write (and
    /// counts as the store failing): return refusals inside `T` instead.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let out = slot.clone();
        let run: Run = Box::new(move |tx| {
            let value = f(tx)?;
            // The writer runs this once; a poisoned slot only means a panic elsewhere.
            *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
            Ok(())
        });
        self.write_and_wait(Write::Run(run)).await?;
        let value = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        value.context("the store committed a write that never ran")
    }

    /// Waits until everything queued before is committed, then copies the WAL into the
    /// database and truncates it, so a stopped server leaves one file behind.
    pub async fn checkpoint(&self) -> Result<()> {
        self.write_and_wait(Write::Checkpoint).await
    }

    /// Rewrites the database file and empties the WAL, so deleted rows leave no trace on
    /// disk. The store holds the directory, so no server writes meanwhile.
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
            write,
            done: Some(Box::new(move |outcome| {
                // The waiter may have given up; then nobody needs to hear of it.
                tx.send(outcome).ok();
            })),
        })?;
        rx.await.context("the store stopped before committing")??;
        Ok(())
    }

    /// Appends a session's events; `done` runs on the writer thread with the outcome:
    /// `Ok` once they are committed, `Err` if they never will be. A failure fences the
    /// session's `epoch` (see [`Write::Append`]).
    pub fn append(
        &self,
        code: &str,
        epoch: u64,
        events: Vec<Event>,
        done: Completion,
    ) -> Result<()> {
        self.send(Op {
            write: Write::Append {
                code: code.to_owned(),
                epoch,
                events,
            },
            done: Some(done),
        })
    }

    fn send(&self, op: Op) -> Result<()> {
        self.writer
            .tx
            .as_ref()
            .and_then(|tx| tx.send(op).ok())
            .ok_or_else(|| anyhow::anyhow!("the store's writer thread has stopped"))
    }
}

/// How long a connection waits for another one that holds the database (a checkpoint
/// that must wait for the writer, or the writer for a checkpoint that restarts the WAL).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The WAL size past which a checkpoint also makes the next commit start the WAL from
/// its beginning (`RESTART`), holding commits back for the few milliseconds that takes.
/// Under a steady load a plain (passive) checkpoint never catches the writer, and the
/// WAL grows without end.
pub const WAL_RESTART_BYTES: u64 = 8 * 1024 * 1024;

/// What the WAL file is cut back to when it starts over (`journal_size_limit`).
pub const WAL_KEEP_BYTES: i64 = 4 * 1024 * 1024;

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Texts rewritten to nothing (removed arguments and questions) since the start, in every store of
/// the process: a change tells the checkpoint thread to empty the WAL, which still
/// holds the pages with the old text.
static REDACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Checkpoints every [`CHECKPOINT_EVERY`]: passive while the WAL is small, `RESTART`
/// once it passes [`WAL_RESTART_BYTES`], and `TRUNCATE` when nothing was written since
/// the last look (the room is quiet) or a text was removed, so the WAL stays bounded,
/// shrinks when idle, and keeps no removed text.
fn checkpointer_loop(
    conn: &Connection,
    wal: &Path,
    writes: &std::sync::atomic::AtomicU64,
    writer_alive: &std::sync::Weak<()>,
) {
    let mut seen = writes.load(std::sync::atomic::Ordering::Relaxed);
    let mut redacted = REDACTIONS.load(std::sync::atomic::Ordering::Relaxed);
    let mut failing = false;
    while writer_alive.strong_count() > 0 {
        thread::sleep(CHECKPOINT_EVERY);
        let now = writes.load(std::sync::atomic::Ordering::Relaxed);
        let size = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        let redactions = REDACTIONS.load(std::sync::atomic::Ordering::Relaxed);
        let redacting = redactions != redacted && size > 0;
        let mode = if redacting {
            "TRUNCATE"
        } else if now == seen {
            if size == 0 {
                continue;
            }
            "TRUNCATE"
        } else if size > WAL_RESTART_BYTES {
            "RESTART"
        } else {
            "PASSIVE"
        };
        seen = now;
        // A busy checkpoint answers with a row saying so; then a removed text may still
        // be in the WAL, and the next look tries again.
        let busy = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            r.get::<_, i64>(0)
        });
        match busy.map(|busy| busy == 0) {
            Ok(done) => {
                failing = false;
                if redacting && done {
                    redacted = redactions;
                }
            }
            // Logged once per failing stretch: a full disk would say it twice a second.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("WAL checkpoint failed: {e}");
            }
            Err(_) => {}
        }
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
    // A checkpoint that restarts the WAL holds the writer back for a moment; without a
    // busy timeout that moment would fail a commit.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // When the WAL starts over, its file is cut back to this size instead of staying
    // as large as it ever grew.
    conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)?;
    // Deleted and overwritten content is zeroed in the file, not left in free space:
    // a removed argument or a deleted session must not be readable from the disk.
    conn.pragma_update(None, "secure_delete", "ON")?;
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
    if version < 2 {
        // The console: a session's lifecycle and meeting, stored decks with their
        // versions, and settings (the admin password's hash).
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE sessions ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
             ALTER TABLE sessions ADD COLUMN closed_ms INTEGER;
             ALTER TABLE sessions ADD COLUMN meeting TEXT;
             ALTER TABLE sessions ADD COLUMN meeting_date TEXT;
             ALTER TABLE sessions ADD COLUMN place TEXT;
             ALTER TABLE sessions ADD COLUMN deck_id INTEGER;
             CREATE TABLE decks (
                 id         INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 builtin    INTEGER NOT NULL DEFAULT 0,
                 created_ms INTEGER NOT NULL
             );
             CREATE TABLE deck_versions (
                 deck       INTEGER NOT NULL REFERENCES decks(id) ON DELETE CASCADE,
                 version    INTEGER NOT NULL,
                 source     TEXT NOT NULL,
                 created_ms INTEGER NOT NULL,
                 PRIMARY KEY (deck, version)
             );
             CREATE TABLE settings (
                 name  TEXT PRIMARY KEY,
                 value TEXT NOT NULL
             );
             PRAGMA user_version = 2;
             COMMIT;",
        )?;
    }
    if version < 3 {
        // An argument's row is found by its number, so its text can be rewritten to
        // nothing when it is removed (see `apply`).
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE events ADD COLUMN argument INTEGER;
             CREATE INDEX events_by_argument ON events(session, argument)
                 WHERE argument IS NOT NULL;
             PRAGMA user_version = 3;
             COMMIT;",
        )?;
    }
    if version < 4 {
        // Decks' images: each once by its digest, and the file names decks give them
        // (see `media`).
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE images (
                 sha256      TEXT PRIMARY KEY,
                 width       INTEGER NOT NULL,
                 height      INTEGER NOT NULL,
                 screen_type TEXT NOT NULL,
                 screen      BLOB NOT NULL,
                 phone_type  TEXT NOT NULL,
                 phone       BLOB NOT NULL
             );
             CREATE TABLE deck_images (
                 deck   TEXT NOT NULL,
                 name   TEXT NOT NULL,
                 sha256 TEXT NOT NULL REFERENCES images(sha256),
                 PRIMARY KEY (deck, name)
             );
             PRAGMA user_version = 4;
             COMMIT;",
        )?;
    }
    if version < 5 {
        // A question's row is found by its number, as an argument's is.
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE events ADD COLUMN question INTEGER;
             CREATE INDEX events_by_question ON events(session, question)
                 WHERE question IS NOT NULL;
             PRAGMA user_version = 5;
             COMMIT;",
        )?;
    }
    Ok(())
}

fn writer(
    mut conn: Connection,
    rx: mpsc::Receiver<Op>,
    health: &Health,
    writes: &std::sync::atomic::AtomicU64,
) {
    use std::sync::atomic::Ordering;
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    // Per session, the newest epoch in which an append failed.
    let mut fenced: HashMap<String, u64> = HashMap::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcomes = if health.fail_commits.load(Ordering::Relaxed) {
            fence_all(&batch, &mut fenced);
            let failed = WriteFailed {
                reason: "commit: database or disk is full (a fault made on purpose)".into(),
            };
            batch.iter().map(|_| Err(failed.clone())).collect()
        } else {
            commit(&mut conn, &batch, &mut fenced)
        };
        writes.fetch_add(1, Ordering::Relaxed);
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        if failed > 0 {
            health
                .failed_writes
                .fetch_add(failed as u64, Ordering::Relaxed);
            if !health.failing.swap(true, Ordering::Relaxed) {
                let reason = outcomes
                    .iter()
                    .find_map(|o| o.as_ref().err())
                    .map(|e| e.reason.clone())
                    .unwrap_or_default();
                tracing::error!(
                    "STORE CANNOT WRITE: {failed} of {} writes failed ({reason}); votes are refused until it can",
                    batch.len()
                );
            }
        } else if health.failing.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "the store writes again after {} failed writes; votes are taken",
                health.failed_writes()
            );
        }
        for (op, outcome) in batch.drain(..).zip(outcomes) {
            if let Some(done) = op.done {
                done(outcome);
            }
        }
    }
}

/// Commits a batch in one transaction, each write in a savepoint of its own, so one
/// write that fails (a deleted session, say) fails alone; a commit that fails (a full
/// disk) fails them all. Returns each write's outcome, in order.
fn commit(
    conn: &mut Connection,
    batch: &[Op],
    fenced: &mut HashMap<String, u64>,
) -> Vec<Result<(), WriteFailed>> {
    let failed = |reason: String| Err(WriteFailed { reason });
    let checkpoint = batch.iter().any(|op| matches!(op.write, Write::Checkpoint));
    let vacuum = batch.iter().any(|op| matches!(op.write, Write::Vacuum));
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            fence_all(batch, fenced);
            return batch.iter().map(|_| failed(e.to_string())).collect();
        }
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for op in batch {
        if let Write::Append { code, epoch, .. } = &op.write {
            if fenced.get(code).is_some_and(|f| f >= epoch) {
                outcomes.push(failed("an earlier write of this session failed".into()));
                continue;
            }
        }
        let outcome = tx
            .execute_batch("SAVEPOINT write")
            .and_then(|()| apply(&tx, &op.write))
            .map_err(|e| e.to_string());
        match outcome {
            Ok(()) => {
                // A release cannot fail while the savepoint exists; if it does, the
                // commit below fails and says so.
                tx.execute_batch("RELEASE write").ok();
                outcomes.push(Ok(()));
            }
            Err(reason) if tx.is_autocommit() => {
                // SQLite rolled the whole transaction back (a full disk, an I/O
                // error): nothing of the batch is stored.
                fence_all(batch, fenced);
                return batch.iter().map(|_| failed(reason.clone())).collect();
            }
            Err(reason) => {
                // Undoes this write only.
                tx.execute_batch("ROLLBACK TO write; RELEASE write").ok();
                fence(&op.write, fenced);
                outcomes.push(failed(reason));
            }
        }
    }
    if let Err(e) = tx.commit() {
        let reason = format!("commit: {e}");
        fence_all(batch, fenced);
        return batch.iter().map(|_| failed(reason.clone())).collect();
    }
    if vacuum {
        // Outside any transaction, as VACUUM must be; the rows are gone already, this
        // only wipes what is left of them in free pages and the WAL.
        if let Err(e) = conn.execute_batch("VACUUM") {
            tracing::warn!("VACUUM after a delete failed: {e}");
        }
    }
    if checkpoint || vacuum {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!("the final WAL checkpoint failed: {e}");
        }
    }
    outcomes
}

fn apply(tx: &rusqlite::Transaction<'_>, write: &Write) -> rusqlite::Result<()> {
    match write {
        Write::Checkpoint | Write::Vacuum => {}
        Write::Run(run) => run(tx)?,
        Write::Append { code, events, .. } => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (session, data, argument, question) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for event in events {
                let data = serde_json::to_string(event)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                let (argument, question) = match event {
                    Event::ArgumentAdded { argument, .. } => (Some(*argument), None),
                    Event::QuestionAsked { question, .. } => (None, Some(*question)),
                    _ => (None, None),
                };
                insert.execute(params![code, data, argument, question])?;
                // The text leaves the row in the same commit; `secure_delete` zeroes
                // the bytes it had in the file, and a checkpoint soon after
                // (`redactions`) takes the old page out of the WAL.
                let removed = match event {
                    Event::ArgumentRemoved { argument } => Some(("argument", *argument)),
                    Event::QuestionRemoved { question } => Some(("question", *question)),
                    _ => None,
                };
                if let Some((column, number)) = removed {
                    tx.prepare_cached(&format!(
                        "UPDATE events SET data = json_set(data, '$.text', '')
                         WHERE session = ?1 AND {column} = ?2"
                    ))?
                    .execute(params![code, number])?;
                    REDACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        Write::Create(r) => {
            tx.execute(
                "INSERT INTO sessions (code, deck_name, deck_source, host_key, screen_key, created_ms,
                                       status, closed_ms, meeting, meeting_date, place, deck_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    r.code,
                    r.deck_name,
                    r.deck_source,
                    r.host_key,
                    r.screen_key,
                    r.created_ms as i64,
                    status_text(r.status),
                    r.closed_ms.map(|ms| ms as i64),
                    r.meeting.name,
                    r.meeting.date,
                    r.meeting.place,
                    r.deck_id
                ],
            )?;
        }
        Write::Delete(code) => {
            tx.execute("DELETE FROM events WHERE session = ?1", [code])?;
            tx.execute("DELETE FROM sessions WHERE code = ?1", [code])?;
        }
    }
    Ok(())
}

fn fence(write: &Write, fenced: &mut HashMap<String, u64>) {
    if let Write::Append { code, epoch, .. } = write {
        let entry = fenced.entry(code.clone()).or_insert(*epoch);
        *entry = (*entry).max(*epoch);
    }
}

fn fence_all(batch: &[Op], fenced: &mut HashMap<String, u64>) {
    for op in batch {
        fence(&op.write, fenced);
    }
}

/// The lock file that marks a data directory as in use by a running server.
pub const LOCK_FILE: &str = "stemzaal.lock";

/// Holds a data directory for one [`Store`]: a second server, or `sessions delete`
/// while a server runs, would write under a live session's feet.
#[derive(Debug)]
struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock on `dir` (creating it), or says which directory is busy.
    fn acquire(dir: &Path) -> Result<DirLock> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(code: &str) -> SessionRecord {
        SessionRecord {
            code: code.into(),
            deck_name: "d".into(),
            deck_source: "s".into(),
            host_key: "h".into(),
            screen_key: "k".into(),
            created_ms: 1,
            ..SessionRecord::default()
        }
    }

    async fn append(store: &Store, code: &str, epoch: u64) -> Result<(), WriteFailed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let events = vec![Event::TimerStopped];
        store
            .append(code, epoch, events, Box::new(move |o| drop(tx.send(o))))
            .unwrap();
        rx.await.unwrap()
    }

    #[tokio::test]
    async fn a_write_that_fails_fails_alone_and_fences_the_rest_of_its_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.create(record("GOOD22")).await.unwrap();
        // Queued together, so they share one batch: the append to a session that does
        // not exist (a foreign-key failure) fails in its savepoint, the other commits.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (code, epoch) in [("NONE22", 0), ("GOOD22", 0), ("NONE22", 0), ("NONE22", 1)] {
            let tx = tx.clone();
            store
                .append(
                    code,
                    epoch,
                    vec![Event::TimerStopped],
                    Box::new(move |o| drop(tx.send((code, epoch, o)))),
                )
                .unwrap();
        }
        let mut outcomes = vec![];
        for _ in 0..4 {
            let (code, epoch, o) = rx.recv().await.unwrap();
            outcomes.push((code, epoch, o.is_ok()));
        }
        assert_eq!(
            outcomes,
            [
                ("NONE22", 0, false),
                ("GOOD22", 0, true),
                // Decided on top of the lost write: refused without being tried.
                ("NONE22", 0, false),
                // A new epoch is tried again (and fails again: no such session).
                ("NONE22", 1, false),
            ]
        );
        assert!(store.health().failing());
        assert!(append(&store, "GOOD22", 0).await.is_ok());
        assert!(!store.health().failing(), "a good write clears the failure");
        let stored = store.load_all().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].events.len(), 2, "both good appends are stored");
    }

    #[tokio::test]
    async fn a_failing_commit_fails_every_write_of_the_batch_and_stores_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.create(record("GOOD22")).await.unwrap();
        store.fail_commits(true);
        let failed = append(&store, "GOOD22", 0).await.unwrap_err();
        assert!(failed.reason.contains("full"), "{failed}");
        assert!(store.create(record("MORE22")).await.is_err());
        store.fail_commits(false);
        // The epoch that failed stays fenced; the next one is taken.
        assert!(append(&store, "GOOD22", 0).await.is_err());
        assert!(append(&store, "GOOD22", 1).await.is_ok());
        let stored = store.load_all().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].events.len(), 1);
    }

    #[tokio::test]
    async fn the_store_holds_its_directory_until_the_last_handle_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.create(record("LAST22")).await.unwrap();
        let clone = store.clone();
        for held in [store, clone] {
            let err = Store::open(dir.path(), Durability::Normal)
                .err()
                .expect("a second store on a held directory is refused");
            assert!(
                format!("{err:#}").contains(&format!(
                    "data directory {} is in use",
                    dir.path().display()
                )),
                "{err:#}"
            );
            // Queued, not waited for: the last handle waits for it as it goes.
            held.append("LAST22", 0, vec![Event::TimerStopped], Box::new(drop))
                .unwrap();
        }
        let again = Store::open(dir.path(), Durability::Normal).unwrap();
        let stored = again.load_all().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].events.len(), 2);
    }
}
