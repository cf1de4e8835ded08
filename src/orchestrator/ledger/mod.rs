//! The durable task ledger: every task state change, event and parent notice, in SQLite.
//!
//! Nothing is announced before it is committed. All writes go through one writer thread
//! that owns the write connection and does group commit: it takes whatever jobs are
//! waiting, applies them in one transaction (each job under its own SAVEPOINT, so one bad
//! job fails alone), commits once, then publishes the batch's events on the [`EventBus`]
//! in `seq` order and answers each caller. Reads use a second connection (WAL lets it read
//! while the writer writes) on tokio's blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use super::events::{Event, EventBus, EventDraft};

mod docs;
mod missions;
mod schema;

use super::task::{Millis, Task, TaskStatus, now_ms};
pub use docs::DocEntry;
pub use missions::{JournalDraft, JournalEntry, MissionRow, ReadOnlyMissions};
use schema::ensure_schema;

pub use schema::SCHEMA_VERSION;

/// Default cap on pending notices per parent session.
pub const DEFAULT_NOTICES_PER_PARENT: usize = 100;

/// Page size when [`TaskFilter::limit`] is 0 (the `Default`), and the largest page served.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 1000;

/// The error stored on tasks found `running` when the ledger is reopened.
pub const INTERRUPTED_ERROR: &str = "the orchestrator stopped while this task was running";

/// Most jobs one transaction takes: bounds the latency a large backlog adds to the first job.
const MAX_BATCH: usize = 256;
/// How long SQLite waits on a lock held by another connection before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `close` waits for the writer to drain its queue.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the checkpointer looks for new WAL content.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// WAL size (pages, ~4 KiB each) past which the writer stops to let the WAL start over.
const WAL_RESTART_PAGES: i64 = 8192;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot open the task ledger at {}: {op}: {source}", path.display())]
    Open {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: OpenCause,
    },
    #[error(
        "the task ledger at {} has schema version {found}, newer than the {supported} this build \
         understands; use a newer orchestrator or another ledger path",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A statement failed. Shared (`Arc`) because a failed commit fails every job of its batch.
    #[error("task ledger: {op}: {source}")]
    Sqlite {
        op: &'static str,
        #[source]
        source: Arc<rusqlite::Error>,
    },
    #[error("task ledger: corrupt {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("task ledger: cannot encode {what}: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("task ledger: unknown cursor {0:?}: no task has that id")]
    UnknownCursor(String),
    /// The work stopped short: a read's blocking task died, or a batch was abandoned.
    #[error("task ledger: {op} did not finish: {detail}")]
    Aborted { op: &'static str, detail: String },
    #[error("the task ledger is closed")]
    Closed,
}

/// Why [`LedgerError::Open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenCause {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> LedgerError {
    move |e| LedgerError::Sqlite {
        op,
        source: Arc::new(e),
    }
}

/// One write, applied atomically with the other ops of its `commit`.
// Ops are built once and moved to the writer, never stored in bulk: boxing the task
// would cost every caller an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Insert or replace the whole task row.
    PutTask(Task),
    /// Append an event; it gets the next `seq`.
    Event(EventDraft),
    /// Queue a "your task finished" notice for a parent session.
    Notice {
        parent_session_id: String,
        task_id: String,
    },
    /// Insert or replace a docs cache entry.
    PutDoc(DocEntry),
    /// Forget the docs cache entry of this URL (no error when there is none).
    DeleteDoc(String),
    /// Insert or replace a mission record.
    PutMission(MissionRow),
    /// Append to a mission's journal.
    Journal(JournalDraft),
}

#[derive(Clone)]
pub struct OpenOptions {
    pub path: PathBuf,
    /// Pending notices kept per parent session; at least 1.
    pub notices_per_parent: usize,
    /// Called with every task a `commit` wrote, once committed and before the commit's events
    /// are published, so whatever it updates is current by the time anyone hears of the change.
    pub on_commit: Option<CommitHook>,
}

/// Runs on the writer thread, in commit order: keep it short and never wait on the ledger.
/// A panic in it is caught and logged; the commit stands.
pub type CommitHook = Arc<dyn Fn(&Task) + Send + Sync>;

impl OpenOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            notices_per_parent: DEFAULT_NOTICES_PER_PARENT,
            on_commit: None,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("path", &self.path)
            .field("notices_per_parent", &self.notices_per_parent)
            .field("on_commit", &self.on_commit.as_ref().map(|_| "Fn(&Task)"))
            .finish()
    }
}

/// What `open` found left over by the previous process.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Tasks that were `running` before they had a session; now `interrupted`, persisted, each
    /// with a `task.interrupted` event.
    pub interrupted: Vec<Task>,
    /// Tasks that were `running` in a session: left as they are, for the orchestrator to
    /// re-attach or interrupt.
    pub running: Vec<Task>,
    /// Tasks still `queued`, oldest first, for the scheduler to queue again.
    pub requeue: Vec<Task>,
    /// Highest `seq` in the ledger after recovery (0 if there are no events).
    pub last_seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub parent_session_id: Option<String>,
    /// Any of these; empty means any status.
    pub statuses: Vec<TaskStatus>,
    pub agent: Option<String>,
    /// Page size; 0 means [`DEFAULT_PAGE`], larger than [`MAX_PAGE`] is capped.
    pub limit: usize,
    /// Cursor: a task id. The page holds tasks strictly older than it.
    pub before: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPage {
    /// Newest first, by (created_at, id).
    pub tasks: Vec<Task>,
    /// Tasks matching the filter, ignoring limit and cursor.
    pub total: u64,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub id: i64,
    pub parent_session_id: String,
    pub task_id: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerCounts {
    /// Every status, zeros included.
    pub tasks_by_status: HashMap<TaskStatus, u64>,
    pub tasks_total: u64,
    pub events_total: u64,
    pub last_seq: u64,
    pub pending_notices: u64,
}

/// Cheap to clone; all clones share one writer thread and one read connection.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// `None` once closed; dropping it is what tells the writer to drain and stop.
    sender: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    reader: Mutex<Option<Connection>>,
    /// Reports closed when the writer thread has released its connection.
    writer_done: watch::Receiver<()>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    stats: Arc<WriterStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteStats {
    pub batches: u64,
    pub jobs: u64,
}

#[derive(Default)]
struct WriterStats {
    batches: AtomicU64,
    jobs: AtomicU64,
    /// Set by the checkpointer when the WAL outgrew [`WAL_RESTART_PAGES`]; the writer then
    /// restarts it between batches (only it can: it never lets go of the write lock for long).
    wal_full: AtomicBool,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

enum Request {
    Commit {
        ops: Vec<Op>,
        reply: oneshot::Sender<Result<Vec<Event>, LedgerError>>,
    },
    MarkDelivered {
        ids: Vec<i64>,
        reply: oneshot::Sender<Result<usize, LedgerError>>,
    },
    /// Holds the writer until signalled, so a test can line up several jobs in one batch.
    #[cfg(test)]
    Pause(std::sync::mpsc::Receiver<()>),
}

impl Ledger {
    /// Opens (creating parent directories and the schema) in WAL mode with
    /// `synchronous=NORMAL`, and recovers what the previous process left: `running` tasks
    /// become `interrupted` (committed, and their events published, before this returns);
    /// `queued` tasks are returned in [`Recovered::requeue`].
    pub fn open(opts: OpenOptions, bus: EventBus) -> Result<(Ledger, Recovered), LedgerError> {
        let path = opts.path;
        let fail = |op: &'static str| {
            let path = path.clone();
            move |e: OpenCause| LedgerError::Open {
                path,
                op,
                source: e,
            }
        };

        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail("creating its directory")(e.into()))?;
        }
        // No URI flag: the path is a file name, never interpreted as `file:` options.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| fail("opening the database")(e.into()))?;
        configure(&conn, Role::Writer).map_err(|e| fail("configuring the connection")(e.into()))?;
        ensure_schema(&mut conn, &path)?;

        let (recovered, next_seq, events) = recover(&mut conn)?;
        for event in events {
            bus.publish(event);
        }

        let open_more = |role: Role, op: &'static str| {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|c| configure(&c, role).map(|()| c))
            .map_err(|e| fail(op)(e.into()))
        };
        let reader = open_more(Role::Reader, "opening the read connection")?;
        let stats = Arc::new(WriterStats::default());
        let checkpointer = Checkpointer::spawn(
            open_more(Role::Checkpointer, "opening the checkpoint connection")?,
            stats.clone(),
        )
        .map_err(|e| fail("starting the checkpoint thread")(e.into()))?;

        let (sender, receiver) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = watch::channel(());
        let writer = Writer {
            conn,
            next_seq,
            notices_per_parent: opts.notices_per_parent.max(1),
            bus,
            on_commit: opts.on_commit,
            stats: stats.clone(),
            checkpointer: Some(checkpointer),
        };
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                writer.run(receiver);
                // Only now, with the connection closed, may `close` return.
                drop(done_tx);
            })
            .map_err(|e| fail("starting the writer thread")(e.into()))?;

        tracing::debug!(
            path = %path.display(),
            interrupted = recovered.interrupted.len(),
            requeue = recovered.requeue.len(),
            last_seq = recovered.last_seq,
            "task ledger open"
        );
        let ledger = Ledger {
            inner: Arc::new(Inner {
                path,
                sender: Mutex::new(Some(sender)),
                reader: Mutex::new(Some(reader)),
                writer_done: done_rx,
                writer_thread: Mutex::new(Some(thread)),
                stats,
            }),
        };
        Ok((ledger, recovered))
    }

    /// Applies all `ops` in one transaction, then publishes their events (in order) on the
    /// bus and returns them with their `seq`. Returns only after the commit: if it returns
    /// `Ok`, the ops are durable; if `Err`, none of them were applied. Once the future has
    /// been polled, dropping it does not withdraw the ops: they may still commit.
    pub async fn commit(&self, ops: Vec<Op>) -> Result<Vec<Event>, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Commit { ops, reply })?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }

    /// Marks pending notices delivered; returns how many changed. Already delivered (or
    /// evicted) ids are left alone, so delivering twice is a no-op.
    pub async fn mark_notices_delivered(&self, ids: &[i64]) -> Result<usize, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::MarkDelivered {
            ids: ids.to_vec(),
            reply,
        })?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }

    pub async fn task(&self, id: &str) -> Result<Option<Task>, LedgerError> {
        let id = id.to_owned();
        self.read("reading a task", move |conn| {
            let body = conn
                .prepare_cached("SELECT body FROM tasks WHERE id = ?1")
                .and_then(|mut st| st.query_row([&id], |r| loose_text(r, 0)).optional())
                .map_err(sql("reading a task"))?;
            body.map(|b| decode_task(&id, b)).transpose()
        })
        .await
    }

    /// The newest task run in `session_id` (a resumed task shares its predecessor's session).
    pub async fn task_by_session(&self, session_id: &str) -> Result<Option<Task>, LedgerError> {
        let session_id = session_id.to_owned();
        self.read("reading a task by session", move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT id, body FROM tasks WHERE session_id = ?1 \
                     ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .and_then(|mut st| {
                    st.query_row([&session_id], |r| Ok((text(r, 0)?, loose_text(r, 1)?)))
                        .optional()
                })
                .map_err(sql("reading a task by session"))?;
            row.map(|(id, body)| decode_task(&id, body)).transpose()
        })
        .await
    }

    /// Tasks matching `filter`, newest first. Corrupt rows are skipped (and logged).
    pub async fn list_tasks(&self, filter: TaskFilter) -> Result<TaskPage, LedgerError> {
        self.read("listing tasks", move |conn| list_tasks(conn, &filter))
            .await
    }

    /// Up to `limit` events with `seq > seq`, oldest first. Corrupt rows are skipped (and logged).
    pub async fn events_after(&self, seq: u64, limit: usize) -> Result<Vec<Event>, LedgerError> {
        self.read("reading events", move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT seq, time, type, data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(sql("reading events"))?;
            let rows = st
                .query_map([clamp_i64(seq), clamp_i64(limit as u64)], |r| {
                    let time = match r.get_ref(1)? {
                        ValueRef::Integer(t) => Some(t),
                        _ => None,
                    };
                    Ok((
                        r.get::<_, i64>(0)?,
                        time,
                        loose_text(r, 2)?,
                        loose_text(r, 3)?,
                    ))
                })
                .map_err(sql("reading events"))?;
            let mut events = Vec::new();
            for row in rows {
                let (seq, time, kind, data) = row.map_err(sql("reading events"))?;
                match decode_event(seq, time, kind, data) {
                    Ok(event) => events.push(event),
                    Err(e) => tracing::warn!(seq, error = %e, "skipping a corrupt event row"),
                }
            }
            Ok(events)
        })
        .await
    }

    /// Parent sessions that have undelivered notices.
    pub async fn parents_with_pending_notices(&self) -> Result<Vec<String>, LedgerError> {
        self.read("reading notices", move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT DISTINCT parent_session_id FROM outbox WHERE state = 'pending'",
                )
                .map_err(sql("reading notices"))?;
            let rows = st
                .query_map([], |r| text(r, 0))
                .map_err(sql("reading notices"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(sql("reading notices"))
        })
        .await
    }

    /// Pending notices for `parent_session_id`, oldest first.
    pub async fn pending_notices(
        &self,
        parent_session_id: &str,
    ) -> Result<Vec<Notice>, LedgerError> {
        let parent = parent_session_id.to_owned();
        self.read("reading notices", move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, task_id, created_at FROM outbox \
                     WHERE parent_session_id = ?1 AND state = 'pending' ORDER BY id",
                )
                .map_err(sql("reading notices"))?;
            let rows = st
                .query_map([&parent], |r| {
                    Ok((r.get::<_, i64>(0)?, text(r, 1)?, r.get::<_, i64>(2)?))
                })
                .map_err(sql("reading notices"))?;
            let mut notices = Vec::new();
            for row in rows {
                let (id, task_id, created_at) = row.map_err(sql("reading notices"))?;
                notices.push(Notice {
                    id,
                    parent_session_id: parent.clone(),
                    task_id,
                    created_at: u64::try_from(created_at).unwrap_or(0),
                });
            }
            Ok(notices)
        })
        .await
    }

    pub async fn counts(&self) -> Result<LedgerCounts, LedgerError> {
        self.read("counting", |conn| {
            // One read transaction, so the figures agree with each other.
            let tx = conn.unchecked_transaction().map_err(sql("counting"))?;
            let mut tasks_by_status: HashMap<TaskStatus, u64> =
                TaskStatus::ALL.iter().map(|s| (*s, 0)).collect();
            let mut tasks_total = 0;
            {
                let mut st = tx
                    .prepare_cached("SELECT status, COUNT(*) FROM tasks GROUP BY status")
                    .map_err(sql("counting tasks"))?;
                let rows = st
                    .query_map([], |r| Ok((text(r, 0)?, r.get::<_, i64>(1)?)))
                    .map_err(sql("counting tasks"))?;
                for row in rows {
                    let (status, n) = row.map_err(sql("counting tasks"))?;
                    let n = u64::try_from(n).unwrap_or(0);
                    tasks_total += n;
                    match TaskStatus::parse(&status) {
                        Some(s) => *tasks_by_status.entry(s).or_default() += n,
                        None => tracing::warn!(status, n, "tasks with an unknown status"),
                    }
                }
            }
            let (events_total, last_seq) = tx
                .prepare_cached("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events")
                .and_then(|mut st| {
                    st.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                })
                .map_err(sql("counting events"))?;
            let pending: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .and_then(|mut st| st.query_row([], |r| r.get(0)))
                .map_err(sql("counting notices"))?;
            Ok(LedgerCounts {
                tasks_by_status,
                tasks_total,
                events_total: u64::try_from(events_total).unwrap_or(0),
                last_seq: u64::try_from(last_seq).unwrap_or(0),
                pending_notices: u64::try_from(pending).unwrap_or(0),
            })
        })
        .await
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Write transactions and jobs so far: `jobs / batches` is the group-commit factor.
    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            batches: self.inner.stats.batches.load(Ordering::Relaxed),
            jobs: self.inner.stats.jobs.load(Ordering::Relaxed),
        }
    }

    /// Lets the writer finish every job already queued, stops it and joins it (waiting at
    /// most [`CLOSE_TIMEOUT`]). Later calls fail with [`LedgerError::Closed`]. Idempotent.
    pub async fn close(&self) {
        // Dropping the only sender ends the writer's queue after its last job.
        drop(self.inner.sender.lock().take());

        let mut done = self.inner.writer_done.clone();
        let drained = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while done.changed().await.is_ok() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(path = %self.inner.path.display(), "task ledger writer did not stop in time");
            return;
        }

        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            drop(inner.reader.lock().take());
            let thread = inner.writer_thread.lock().take();
            thread.map(|t| t.join())
        })
        .await;
        match joined {
            Ok(Some(Err(_))) => tracing::error!("task ledger writer thread panicked"),
            Err(e) => tracing::warn!(error = %e, "could not finish closing the task ledger"),
            Ok(_) => {}
        }
    }

    fn send(&self, request: Request) -> Result<(), LedgerError> {
        let sender = self.inner.sender.lock();
        let sender = sender.as_ref().ok_or(LedgerError::Closed)?;
        sender.send(request).map_err(|_| LedgerError::Closed)
    }

    /// Runs `f` with the read connection on the blocking pool; the lock never spans an await.
    async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let guard = inner.reader.lock();
            let conn = guard.as_ref().ok_or(LedgerError::Closed)?;
            f(conn)
        })
        .await
        .map_err(|e| LedgerError::Aborted {
            op,
            detail: e.to_string(),
        })?
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Writer,
    Reader,
    Checkpointer,
}

fn configure(conn: &Connection, role: Role) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    match role {
        Role::Reader => {
            conn.set_prepared_statement_cache_capacity(64);
            // The reader never writes; make an accidental write an error instead of a surprise.
            conn.pragma_update(None, "query_only", true)?;
        }
        Role::Writer => {
            conn.set_prepared_statement_cache_capacity(64);
            // Small pages: a commit rewrites every page it touches into the WAL, and most
            // commits touch one task row and a few index entries. Measured: about 20% less
            // scheduler overhead per task than the default 4 KiB (docs/BENCHMARKS.md).
            // Only takes effect when the database is created.
            conn.pragma_update(None, "page_size", 1024)?;
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(
                    mode,
                    "task ledger is not in WAL mode; reads will wait for writes"
                );
            }
            // WAL + NORMAL: a commit survives a process crash; only power loss can undo the
            // last ones.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Checkpoints (and their fsyncs) happen on the checkpointer's thread instead.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
        Role::Checkpointer => conn.pragma_update(None, "synchronous", "NORMAL")?,
    }
    Ok(())
}

/// Copies the WAL back into the database file on its own connection and thread, so the
/// fsyncs a checkpoint needs never stall a commit.
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    fn spawn(conn: Connection, stats: Arc<WriterStats>) -> std::io::Result<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || {
                let mut seen = 0;
                // Ends when `stop` is dropped (or sent to).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    let batches = stats.batches.load(Ordering::Relaxed);
                    if batches != seen {
                        seen = batches;
                        if checkpoint(&conn, Checkpoint::Passive) > WAL_RESTART_PAGES {
                            stats.wal_full.store(true, Ordering::Relaxed);
                        }
                    }
                }
            })?;
        Ok(Self { stop, thread })
    }

    fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("task ledger checkpointer thread panicked");
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Checkpoint {
    /// Copies what it can without waiting for anyone.
    Passive,
    /// Waits for the writer and readers, copies everything, and lets the WAL start over.
    Restart,
}

/// Runs a checkpoint; returns the WAL's size in pages (0 if unknown).
fn checkpoint(conn: &Connection, mode: Checkpoint) -> i64 {
    let statement = match mode {
        Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Checkpoint::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    match conn.query_row(statement, [], |r| r.get::<_, i64>(1)) {
        Ok(pages) => pages,
        Err(e) => {
            tracing::warn!(error = %e, ?mode, "task ledger checkpoint failed");
            0
        }
    }
}

/// Marks `running` tasks interrupted and collects `queued` ones, in one transaction.
/// Returns the recovered tasks, the next `seq`, and the events to publish.
fn recover(conn: &mut Connection) -> Result<(Recovered, u64, Vec<Event>), LedgerError> {
    const OP: &str = "recovering unfinished tasks";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql(OP))?;
    let max_seq: i64 = tx
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
        .map_err(sql(OP))?;
    let mut next_seq = u64::try_from(max_seq).unwrap_or(0) + 1;

    let rows: Vec<(String, Result<String, String>)> = tx
        .prepare(
            "SELECT id, body FROM tasks WHERE status IN ('running', 'queued') \
             ORDER BY created_at, id",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((text(r, 0)?, loose_text(r, 1)?)))?
                .collect()
        })
        .map_err(sql(OP))?;

    let now = now_ms();
    let mut recovered = Recovered::default();
    let mut events = Vec::new();
    for (id, body) in rows {
        let mut task = match decode_task(&id, body) {
            Ok(task) => task,
            Err(e) => {
                tracing::warn!(task_id = %id, error = %e, "cannot recover a corrupt task row");
                continue;
            }
        };
        match task.status {
            // A task whose session exists may still be running in the agent runtime: the
            // orchestrator tries to re-attach it (and interrupts it if it cannot).
            TaskStatus::Running if task.session_id.is_some() => recovered.running.push(task),
            TaskStatus::Running => {
                task.status = TaskStatus::Interrupted;
                task.finished_at = Some(now);
                task.error = Some(INTERRUPTED_ERROR.to_owned());
                put_task(&tx, &task)?;
                let draft = EventDraft::new(TaskStatus::Interrupted.event_type(), task.summary());
                events.push(insert_event(&tx, next_seq, now, draft)?);
                next_seq += 1;
                recovered.interrupted.push(task);
            }
            TaskStatus::Queued => recovered.requeue.push(task),
            other => tracing::warn!(
                task_id = %id,
                body_status = %other,
                "task row's status column disagrees with its body; left as it is"
            ),
        }
    }
    tx.commit().map_err(sql(OP))?;
    recovered.last_seq = next_seq - 1;
    Ok((recovered, next_seq, events))
}

/// The writer thread's state. Owns the only write connection and the `seq` counter.
struct Writer {
    conn: Connection,
    next_seq: u64,
    notices_per_parent: usize,
    bus: EventBus,
    on_commit: Option<CommitHook>,
    stats: Arc<WriterStats>,
    checkpointer: Option<Checkpointer>,
}

/// A job's answer, kept until its batch has committed.
enum Done {
    /// `tasks` are kept for the commit hook only (empty without one).
    Commit {
        events: Vec<Event>,
        tasks: Vec<Task>,
    },
    Count(usize),
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Request>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = receiver.blocking_recv() {
            #[cfg(test)]
            if let Request::Pause(resume) = first {
                let _ = resume.recv();
                continue;
            }
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.process(&mut batch);
            // A passive checkpoint never catches up with a writer that never pauses, so the
            // WAL would grow without end; pausing here lets it start over.
            if self.stats.wal_full.swap(false, Ordering::Relaxed) {
                checkpoint(&self.conn, Checkpoint::Restart);
            }
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
    }

    /// One transaction for the whole batch, one savepoint per job.
    fn process(&mut self, batch: &mut Vec<Request>) {
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .jobs
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let first_seq = self.next_seq;
        let time = now_ms();
        let mut results: Vec<Result<Done, LedgerError>> = Vec::with_capacity(batch.len());

        let outcome = self.run_batch(batch, time, &mut results);
        if let Err(e) = outcome {
            // The whole transaction is gone: so is every job's work, and their seqs.
            self.rollback();
            self.next_seq = first_seq;
            tracing::error!(error = %e, jobs = batch.len(), "task ledger batch failed");
            results.clear();
            results.extend(batch.iter().map(|_| Err(shared_error(&e))));
        }

        if let Some(hook) = &self.on_commit {
            for done in results.iter().flatten() {
                if let Done::Commit { tasks, .. } = done {
                    for task in tasks {
                        // The writer must outlive a buggy hook: the commit is already durable.
                        let call = std::panic::AssertUnwindSafe(|| hook(task));
                        if std::panic::catch_unwind(call).is_err() {
                            tracing::error!(task_id = %task.id, "task ledger commit hook panicked");
                        }
                    }
                }
            }
        }
        // Publish everything before answering anyone: a caller that has its reply can
        // rely on its events (and all earlier ones) being on the bus.
        for done in results.iter().flatten() {
            if let Done::Commit { events, .. } = done {
                for event in events {
                    self.bus.publish(event.clone());
                }
            }
        }
        for (request, result) in batch.drain(..).zip(results) {
            reply(request, result);
        }
    }

    /// Applies every job; a job's own failure is recorded in `results` and rolled back to
    /// its savepoint. `Err` means the transaction itself failed.
    fn run_batch(
        &mut self,
        batch: &mut [Request],
        time: Millis,
        results: &mut Vec<Result<Done, LedgerError>>,
    ) -> Result<(), LedgerError> {
        exec(&self.conn, "BEGIN IMMEDIATE", "beginning a transaction")?;
        for request in batch.iter_mut() {
            exec(&self.conn, "SAVEPOINT job", "opening a savepoint")?;
            let seq_before = self.next_seq;
            match self.apply(request, time) {
                Ok(done) => {
                    exec(&self.conn, "RELEASE job", "releasing a savepoint")?;
                    results.push(Ok(done));
                }
                Err(e) => {
                    // Its seqs go to the next job: no gaps in the sequence.
                    self.next_seq = seq_before;
                    if self.conn.is_autocommit() {
                        // SQLite abandoned the whole transaction (e.g. disk full), not just
                        // this job: the earlier jobs' work is gone too.
                        return Err(e);
                    }
                    exec(&self.conn, "ROLLBACK TO job", "rolling back a job")?;
                    exec(&self.conn, "RELEASE job", "releasing a savepoint")?;
                    results.push(Err(e));
                }
            }
        }
        exec(&self.conn, "COMMIT", "committing")
    }

    fn apply(&mut self, request: &mut Request, time: Millis) -> Result<Done, LedgerError> {
        match request {
            Request::Commit { ops, .. } => {
                let mut events = Vec::new();
                let mut tasks = Vec::new();
                for op in std::mem::take(ops) {
                    match op {
                        Op::PutTask(task) => {
                            put_task(&self.conn, &task)?;
                            if self.on_commit.is_some() {
                                tasks.push(task);
                            }
                        }
                        Op::Event(draft) => {
                            events.push(insert_event(&self.conn, self.next_seq, time, draft)?);
                            self.next_seq += 1;
                        }
                        Op::Notice {
                            parent_session_id,
                            task_id,
                        } => enqueue_notice(
                            &self.conn,
                            &parent_session_id,
                            &task_id,
                            time,
                            self.notices_per_parent,
                        )?,
                        Op::PutDoc(doc) => docs::put(&self.conn, &doc)?,
                        Op::DeleteDoc(url) => docs::delete(&self.conn, &url)?,
                        Op::PutMission(row) => missions::put(&self.conn, &row)?,
                        Op::Journal(entry) => missions::append(&self.conn, &entry, time)?,
                    }
                }
                Ok(Done::Commit { events, tasks })
            }
            Request::MarkDelivered { ids, .. } => {
                let mut st = self
                    .conn
                    .prepare_cached(
                        "UPDATE outbox SET state = 'delivered', delivered_at = ?2 \
                         WHERE id = ?1 AND state = 'pending'",
                    )
                    .map_err(sql("marking notices delivered"))?;
                let mut changed = 0;
                for id in ids.iter() {
                    changed += st
                        .execute(rusqlite::params![id, clamp_i64(time)])
                        .map_err(sql("marking notices delivered"))?;
                }
                Ok(Done::Count(changed))
            }
            #[cfg(test)]
            Request::Pause(_) => Ok(Done::Count(0)),
        }
    }

    fn rollback(&self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "task ledger rollback failed");
        }
    }
}

/// The same failure, for every job of a failed batch.
fn shared_error(e: &LedgerError) -> LedgerError {
    match e {
        LedgerError::Sqlite { op, source } => LedgerError::Sqlite {
            op,
            source: source.clone(),
        },
        other => LedgerError::Aborted {
            op: "committing",
            detail: other.to_string(),
        },
    }
}

fn reply(request: Request, result: Result<Done, LedgerError>) {
    // A caller that stopped waiting is no error: its work is committed all the same.
    match request {
        Request::Commit { reply, .. } => {
            let _ = reply.send(result.map(|d| match d {
                Done::Commit { events, .. } => events,
                Done::Count(_) => Vec::new(),
            }));
        }
        Request::MarkDelivered { reply, .. } => {
            let _ = reply.send(result.map(|d| match d {
                Done::Count(n) => n,
                Done::Commit { .. } => 0,
            }));
        }
        #[cfg(test)]
        Request::Pause(_) => {}
    }
}

fn exec(conn: &Connection, statement: &str, op: &'static str) -> Result<(), LedgerError> {
    conn.prepare_cached(statement)
        .and_then(|mut st| st.execute([]))
        .map(drop)
        .map_err(sql(op))
}

fn put_task(conn: &Connection, task: &Task) -> Result<(), LedgerError> {
    let body = encode_task(task)?;
    conn.prepare_cached(
        "INSERT INTO tasks (id, parent_session_id, status, agent, session_id, created_at, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (id) DO UPDATE SET parent_session_id = excluded.parent_session_id, \
         status = excluded.status, agent = excluded.agent, session_id = excluded.session_id, \
         created_at = excluded.created_at, body = excluded.body",
    )
    .and_then(|mut st| {
        st.execute(rusqlite::params![
            task.id,
            task.parent_session_id,
            task.status.as_str(),
            task.agent,
            task.session_id,
            // Only orders rows; the body keeps the exact value.
            clamp_i64(task.created_at),
            body,
        ])
    })
    .map(drop)
    .map_err(sql("writing a task"))
}

fn encode_task(task: &Task) -> Result<String, LedgerError> {
    let encode = |t: &Task| {
        serde_json::to_string(t).map_err(|e| LedgerError::Encode {
            what: format!("task {}", t.id),
            source: e,
        })
    };
    // JSON turns a NaN or infinite cost into `null`, which would make the row unreadable.
    match &task.usage {
        Some(usage) if !usage.cost.is_finite() => {
            tracing::warn!(task_id = %task.id, cost = usage.cost, "storing a non-finite cost as 0");
            let mut task = task.clone();
            if let Some(usage) = task.usage.as_mut() {
                usage.cost = 0.0;
            }
            encode(&task)
        }
        _ => encode(task),
    }
}

fn insert_event(
    conn: &Connection,
    seq: u64,
    time: Millis,
    draft: EventDraft,
) -> Result<Event, LedgerError> {
    let data = serde_json::to_string(&draft.data).map_err(|e| LedgerError::Encode {
        what: format!("event {}", draft.kind),
        source: e,
    })?;
    conn.prepare_cached("INSERT INTO events (seq, time, type, data) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut st| {
            st.execute(rusqlite::params![
                clamp_i64(seq),
                clamp_i64(time),
                draft.kind,
                data
            ])
        })
        .map_err(sql("appending an event"))?;
    Ok(Event {
        seq,
        time,
        kind: draft.kind,
        data: draft.data,
    })
}

fn enqueue_notice(
    conn: &Connection,
    parent: &str,
    task_id: &str,
    time: Millis,
    cap: usize,
) -> Result<(), LedgerError> {
    const OP: &str = "queueing a notice";
    let inserted = conn
        .prepare_cached(
            "INSERT INTO outbox (parent_session_id, task_id, created_at, state) \
             VALUES (?1, ?2, ?3, 'pending') \
             ON CONFLICT (parent_session_id, task_id) WHERE state = 'pending' DO NOTHING",
        )
        .and_then(|mut st| st.execute(rusqlite::params![parent, task_id, clamp_i64(time)]))
        .map_err(sql(OP))?;
    if inserted == 0 {
        return Ok(()); // already pending: the parent will hear about this task once
    }
    let pending: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM outbox WHERE parent_session_id = ?1 AND state = 'pending'",
        )
        .and_then(|mut st| st.query_row([parent], |r| r.get(0)))
        .map_err(sql(OP))?;
    let excess = u64::try_from(pending)
        .unwrap_or(0)
        .saturating_sub(cap as u64);
    if excess > 0 {
        // Select, then update by id: several times faster than `UPDATE .. WHERE id IN (..)`.
        let oldest: Vec<i64> = conn
            .prepare_cached(
                "SELECT id FROM outbox WHERE parent_session_id = ?1 AND state = 'pending' \
                 ORDER BY id LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(rusqlite::params![parent, clamp_i64(excess)], |r| r.get(0))?
                    .collect()
            })
            .map_err(sql(OP))?;
        // Evicted rows are kept: the record of what a parent missed is worth having.
        let mut evict = conn
            .prepare_cached("UPDATE outbox SET state = 'evicted' WHERE id = ?1")
            .map_err(sql(OP))?;
        for id in &oldest {
            evict.execute([id]).map_err(sql(OP))?;
        }
        tracing::debug!(
            parent_session_id = parent,
            evicted = oldest.len(),
            "evicted the oldest pending notices"
        );
    }
    Ok(())
}

fn list_tasks(conn: &Connection, filter: &TaskFilter) -> Result<TaskPage, LedgerError> {
    const OP: &str = "listing tasks";
    let limit = match filter.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(parent) = &filter.parent_session_id {
        clauses.push("parent_session_id = ?".into());
        args.push(Value::Text(parent.clone()));
    }
    // Fixed order, no repeats: equal filters share one cached statement.
    let statuses: Vec<TaskStatus> = TaskStatus::ALL
        .into_iter()
        .filter(|s| filter.statuses.contains(s))
        .collect();
    if !statuses.is_empty() {
        clauses.push(format!(
            "status IN ({})",
            vec!["?"; statuses.len()].join(", ")
        ));
        args.extend(statuses.iter().map(|s| Value::Text(s.as_str().to_owned())));
    }
    if let Some(agent) = &filter.agent {
        clauses.push("agent = ?".into());
        args.push(Value::Text(agent.clone()));
    }
    let filtered = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };

    // One read transaction: the total and the page describe the same moment.
    let tx = conn.unchecked_transaction().map_err(sql(OP))?;
    let total: i64 = tx
        .prepare_cached(&format!("SELECT COUNT(*) FROM tasks{filtered}"))
        .and_then(|mut st| st.query_row(rusqlite::params_from_iter(&args), |r| r.get(0)))
        .map_err(sql(OP))?;

    if let Some(cursor) = &filter.before {
        let created_at: i64 = tx
            .prepare_cached("SELECT created_at FROM tasks WHERE id = ?1")
            .and_then(|mut st| st.query_row([cursor], |r| r.get(0)).optional())
            .map_err(sql(OP))?
            .ok_or_else(|| LedgerError::UnknownCursor(cursor.clone()))?;
        clauses.push("(created_at < ? OR (created_at = ? AND id < ?))".into());
        args.push(Value::Integer(created_at));
        args.push(Value::Integer(created_at));
        args.push(Value::Text(cursor.clone()));
    }
    // One row more than the page tells whether another page follows.
    args.push(Value::Integer(clamp_i64(limit as u64 + 1)));
    let query = format!(
        "SELECT id, body FROM tasks{} ORDER BY created_at DESC, id DESC LIMIT ?",
        if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        }
    );
    let mut st = tx.prepare_cached(&query).map_err(sql(OP))?;
    let rows = st
        .query_map(rusqlite::params_from_iter(&args), |r| {
            Ok((text(r, 0)?, loose_text(r, 1)?))
        })
        .map_err(sql(OP))?;

    let mut tasks = Vec::with_capacity(limit);
    let mut last_id = None;
    let mut more = false;
    for (n, row) in rows.enumerate() {
        let (id, body) = row.map_err(sql(OP))?;
        if n == limit {
            more = true;
            break;
        }
        match decode_task(&id, body) {
            Ok(task) => tasks.push(task),
            Err(e) => tracing::warn!(task_id = %id, error = %e, "skipping a corrupt task row"),
        }
        // A skipped row still moves the cursor, so paging never stalls on it.
        last_id = Some(id);
    }
    Ok(TaskPage {
        tasks,
        total: u64::try_from(total).unwrap_or(0),
        next_cursor: if more { last_id } else { None },
    })
}

/// `body` is the raw column: text, or why it is not.
fn decode_task(id: &str, body: Result<String, String>) -> Result<Task, LedgerError> {
    let corrupt = |detail: String| LedgerError::Corrupt {
        what: format!("task {id}"),
        detail,
    };
    let body = body.map_err(corrupt)?;
    let task: Task = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
    if task.id != id {
        return Err(corrupt(format!("its body is task {:?}", task.id)));
    }
    Ok(task)
}

fn decode_event(
    seq: i64,
    time: Option<i64>,
    kind: Result<String, String>,
    data: Result<String, String>,
) -> Result<Event, LedgerError> {
    let corrupt = |detail: String| LedgerError::Corrupt {
        what: format!("event {seq}"),
        detail,
    };
    let seq = u64::try_from(seq).map_err(|_| corrupt("negative seq".into()))?;
    let time = time
        .and_then(|t| u64::try_from(t).ok())
        .ok_or_else(|| corrupt("missing or negative time".into()))?;
    let kind = kind.map_err(corrupt)?;
    let data = serde_json::from_str(&data.map_err(corrupt)?).map_err(|e| corrupt(e.to_string()))?;
    Ok(Event {
        seq,
        time,
        kind,
        data,
    })
}

/// A TEXT column; any other type is an error (rusqlite never converts into `String`).
fn text(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<String> {
    row.get(idx)
}

/// A column that should hold text; anything else is reported to the caller, not fatal to
/// the whole query, so one bad row cannot poison a listing.
fn loose_text(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Result<String, String>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string()),
        other => Err(format!("expected text, found {}", other.data_type())),
    })
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bus() -> EventBus {
        EventBus::new(64, 65_536)
    }

    fn open(path: &Path) -> (Ledger, Recovered) {
        match Ledger::open(OpenOptions::new(path), bus()) {
            Ok(opened) => opened,
            Err(e) => panic!("open failed: {e}"),
        }
    }

    fn task(id: &str, created_at: Millis) -> Task {
        Task {
            id: id.into(),
            agent: "coder".into(),
            description: format!("task {id}"),
            prompt: "do it".into(),
            status: TaskStatus::Queued,
            background: true,
            priority: 0,
            depth: 1,
            model: None,
            parent_session_id: Some("parent-a".into()),
            parent_task_id: None,
            session_id: None,
            resumed_from: None,
            parent_agent: None,
            created_at,
            started_at: None,
            finished_at: None,
            result: None,
            reasoning: None,
            error: None,
            usage: None,
            mission_id: None,
            plan_item: None,
        }
    }

    fn event(kind: &str, n: u64) -> Op {
        Op::Event(EventDraft::new(kind, json!({ "n": n })))
    }

    #[tokio::test]
    async fn put_task_round_trips_and_updates() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let mut t = task("t1", 10);
        ledger.commit(vec![Op::PutTask(t.clone())]).await.unwrap();
        assert_eq!(ledger.task("t1").await.unwrap(), Some(t.clone()));
        assert_eq!(ledger.task("nope").await.unwrap(), None);

        t.status = TaskStatus::Completed;
        t.result = Some("done".into());
        t.usage = Some(super::super::task::Usage {
            input_tokens: 3,
            output_tokens: 4,
            reasoning_tokens: 0,
            cost: 0.5,
        });
        ledger.commit(vec![Op::PutTask(t.clone())]).await.unwrap();
        assert_eq!(ledger.task("t1").await.unwrap(), Some(t));
        let counts = ledger.counts().await.unwrap();
        assert_eq!(counts.tasks_total, 1);
        assert_eq!(counts.tasks_by_status[&TaskStatus::Completed], 1);
        assert_eq!(counts.tasks_by_status[&TaskStatus::Queued], 0);
        ledger.close().await;
    }

    #[tokio::test]
    async fn list_tasks_filters_pages_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let mut ops = Vec::new();
        for i in 0..10u64 {
            let mut t = task(&format!("t{i:02}"), 100 + i / 2); // pairs share created_at
            t.parent_session_id = Some(if i % 2 == 0 { "even" } else { "odd" }.into());
            t.agent = if i < 5 { "coder" } else { "reviewer" }.into();
            t.status = match i % 3 {
                0 => TaskStatus::Queued,
                1 => TaskStatus::Running,
                _ => TaskStatus::Completed,
            };
            ops.push(Op::PutTask(t));
        }
        ledger.commit(ops).await.unwrap();
        let ids = |p: &TaskPage| p.tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>();

        let all = ledger.list_tasks(TaskFilter::default()).await.unwrap();
        assert_eq!(all.total, 10);
        assert_eq!(ids(&all)[..3], ["t09", "t08", "t07"]);
        assert_eq!(all.next_cursor, None);

        let even = TaskFilter {
            parent_session_id: Some("even".into()),
            ..Default::default()
        };
        let page = ledger.list_tasks(even).await.unwrap();
        assert_eq!(ids(&page), ["t08", "t06", "t04", "t02", "t00"]);

        let running_or_done = TaskFilter {
            statuses: vec![
                TaskStatus::Running,
                TaskStatus::Completed,
                TaskStatus::Running,
            ],
            ..Default::default()
        };
        let page = ledger.list_tasks(running_or_done).await.unwrap();
        assert_eq!(ids(&page), ["t08", "t07", "t05", "t04", "t02", "t01"]);

        let reviewer_odd = TaskFilter {
            agent: Some("reviewer".into()),
            parent_session_id: Some("odd".into()),
            ..Default::default()
        };
        let page = ledger.list_tasks(reviewer_odd).await.unwrap();
        assert_eq!(ids(&page), ["t09", "t07", "t05"]);

        // Paging with a cursor, across rows sharing created_at.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let filter = TaskFilter {
                limit: 3,
                before: before.clone(),
                ..Default::default()
            };
            let page = ledger.list_tasks(filter).await.unwrap();
            assert_eq!(page.total, 10);
            assert!(page.tasks.len() <= 3);
            seen.extend(ids(&page));
            match page.next_cursor {
                Some(c) => before = Some(c),
                None => break,
            }
        }
        let expected: Vec<String> = (0..10).rev().map(|i| format!("t{i:02}")).collect();
        assert_eq!(seen, expected);

        let bad = TaskFilter {
            before: Some("missing".into()),
            ..Default::default()
        };
        assert!(matches!(
            ledger.list_tasks(bad).await,
            Err(LedgerError::UnknownCursor(c)) if c == "missing"
        ));
        ledger.close().await;
    }

    #[tokio::test]
    async fn task_by_session_finds_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let mut first = task("first", 1);
        first.session_id = Some("ses-1".into());
        let mut resumed = task("resumed", 2);
        resumed.session_id = Some("ses-1".into());
        resumed.resumed_from = Some("first".into());
        let mut other = task("other", 3);
        other.session_id = Some("ses-2".into());
        ledger
            .commit(vec![
                Op::PutTask(first),
                Op::PutTask(resumed.clone()),
                Op::PutTask(other.clone()),
            ])
            .await
            .unwrap();
        assert_eq!(
            ledger.task_by_session("ses-1").await.unwrap(),
            Some(resumed)
        );
        assert_eq!(ledger.task_by_session("ses-2").await.unwrap(), Some(other));
        assert_eq!(ledger.task_by_session("ses-3").await.unwrap(), None);
        ledger.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seq_strictly_increases_across_concurrent_committers() {
        let dir = tempfile::tempdir().unwrap();
        let bus = bus();
        let mut rx = bus.subscribe();
        let (ledger, _) = Ledger::open(OpenOptions::new(dir.path().join("l.db")), bus).unwrap();

        let mut handles = Vec::new();
        for worker in 0..50u64 {
            let ledger = ledger.clone();
            handles.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..20u64 {
                    let t = task(&format!("w{worker}-{i}"), i);
                    let events = ledger
                        .commit(vec![Op::PutTask(t), event("a", i), event("b", i)])
                        .await
                        .unwrap();
                    assert_eq!(events.len(), 2);
                    assert_eq!(
                        events[1].seq,
                        events[0].seq + 1,
                        "one commit's events are adjacent"
                    );
                    seqs.extend(events.iter().map(|e| e.seq));
                }
                seqs
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            let seqs = h.await.unwrap();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "each caller sees rising seqs"
            );
            all.extend(seqs);
        }
        all.sort_unstable();
        let expected: Vec<u64> = (1..=2000).collect();
        assert_eq!(all, expected, "no seq repeated or skipped");

        // The bus saw every event, in seq order.
        let mut published = Vec::new();
        while let Ok(e) = rx.try_recv() {
            published.push(e.seq);
        }
        assert_eq!(published, expected);

        let stats = ledger.write_stats();
        assert_eq!(stats.jobs, 1000);
        assert!(stats.batches <= stats.jobs);
        let counts = ledger.counts().await.unwrap();
        assert_eq!(
            (counts.events_total, counts.last_seq, counts.tasks_total),
            (2000, 2000, 1000)
        );
        ledger.close().await;
    }

    #[tokio::test]
    async fn events_after_pages_by_seq() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        for i in 0..10 {
            ledger.commit(vec![event("tick", i)]).await.unwrap();
        }
        let page = ledger.events_after(3, 4).await.unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5, 6, 7]);
        assert_eq!(page[0].kind, "tick");
        assert_eq!(page[0].data, json!({ "n": 3 }));
        assert!(page[0].time > 0);
        assert_eq!(ledger.events_after(8, 100).await.unwrap().len(), 2);
        assert!(ledger.events_after(10, 100).await.unwrap().is_empty());
        assert!(ledger.events_after(0, 0).await.unwrap().is_empty());
        ledger.close().await;
    }

    #[tokio::test]
    async fn restart_interrupts_running_and_requeues_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/l.db");
        let (ledger, recovered) = open(&path);
        assert!(recovered.interrupted.is_empty() && recovered.requeue.is_empty());
        assert_eq!(recovered.last_seq, 0);

        let mut running = task("running", 1);
        running.status = TaskStatus::Running;
        running.started_at = Some(2);
        let queued = task("queued", 2);
        let mut done = task("done", 3);
        done.status = TaskStatus::Completed;
        done.finished_at = Some(4);
        let events = ledger
            .commit(vec![
                Op::PutTask(running.clone()),
                Op::PutTask(queued.clone()),
                Op::PutTask(done.clone()),
                event("x", 1),
                event("x", 2),
            ])
            .await
            .unwrap();
        let old_max = events[1].seq;
        // No close: a dropped ledger must lose nothing it acknowledged either.
        drop(ledger);

        let bus = bus();
        let mut rx = bus.subscribe();
        // The dropped writer may still hold its lock briefly; busy_timeout covers that.
        let (ledger, recovered) = Ledger::open(OpenOptions::new(&path), bus.clone()).unwrap();
        assert_eq!(recovered.requeue, vec![queued.clone()]);
        assert_eq!(recovered.interrupted.len(), 1);
        let interrupted = &recovered.interrupted[0];
        assert_eq!(interrupted.id, "running");
        assert_eq!(interrupted.status, TaskStatus::Interrupted);
        assert_eq!(interrupted.error.as_deref(), Some(INTERRUPTED_ERROR));
        assert!(interrupted.finished_at.is_some());
        assert_eq!(recovered.last_seq, old_max + 1);

        assert_eq!(
            ledger.task("running").await.unwrap().as_ref(),
            Some(interrupted)
        );
        assert_eq!(ledger.task("queued").await.unwrap(), Some(queued.clone()));
        assert_eq!(ledger.task("done").await.unwrap(), Some(done));

        let after = ledger.events_after(old_max, 10).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].seq, old_max + 1);
        assert_eq!(after[0].kind, "task.interrupted");
        assert_eq!(after[0].data["taskId"], "running");
        let published = rx.try_recv().unwrap();
        assert_eq!(*published, after[0]);

        // New events continue the sequence.
        let next = ledger.commit(vec![event("y", 0)]).await.unwrap();
        assert_eq!(next[0].seq, old_max + 2);
        ledger.close().await;

        // A third open finds nothing running any more.
        let (ledger, recovered) = open(&path);
        assert!(recovered.interrupted.is_empty());
        assert_eq!(recovered.requeue, vec![queued]);
        assert_eq!(recovered.last_seq, old_max + 2);
        ledger.close().await;
    }

    #[tokio::test]
    async fn a_failing_job_does_not_fail_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        ledger.commit(vec![event("before", 0)]).await.unwrap();
        let before = ledger.write_stats();

        // Hold the writer so all three jobs are waiting when it takes its next batch.
        let (resume, paused) = std::sync::mpsc::channel();
        ledger.send(Request::Pause(paused)).unwrap();
        let submit = |ops: Vec<Op>| {
            let (reply, rx) = oneshot::channel();
            ledger.send(Request::Commit { ops, reply }).unwrap();
            rx
        };
        let ok1 = submit(vec![Op::PutTask(task("good1", 1)), event("good", 1)]);
        // Empty ids break the CHECK constraint; the task's event before it must go too.
        let bad = submit(vec![event("doomed", 0), Op::PutTask(task("", 1))]);
        let ok2 = submit(vec![Op::PutTask(task("good2", 2)), event("good", 2)]);
        resume.send(()).unwrap();

        let ok1 = ok1.await.unwrap().unwrap();
        let err = bad.await.unwrap().unwrap_err();
        let ok2 = ok2.await.unwrap().unwrap();
        assert!(
            matches!(
                err,
                LedgerError::Sqlite {
                    op: "writing a task",
                    ..
                }
            ),
            "{err}"
        );
        // The rolled-back job's seq was handed on, not burned.
        assert_eq!((ok1[0].seq, ok2[0].seq), (2, 3));

        let after = ledger.write_stats();
        assert_eq!(
            after.batches - before.batches,
            1,
            "all three jobs shared one transaction"
        );
        assert_eq!(after.jobs - before.jobs, 3);

        assert!(ledger.task("good1").await.unwrap().is_some());
        assert!(ledger.task("good2").await.unwrap().is_some());
        let kinds: Vec<String> = ledger
            .events_after(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["before", "good", "good"]);
        ledger.close().await;
    }

    #[tokio::test]
    async fn outbox_caps_dedups_and_delivers_once() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let notice = |parent: &str, task: &str| Op::Notice {
            parent_session_id: parent.into(),
            task_id: task.into(),
        };
        for i in 0..101 {
            ledger
                .commit(vec![notice("p", &format!("t{i}"))])
                .await
                .unwrap();
        }
        ledger.commit(vec![notice("other", "t0")]).await.unwrap();

        let pending = ledger.pending_notices("p").await.unwrap();
        assert_eq!(pending.len(), 100);
        assert_eq!(pending[0].task_id, "t1", "the oldest was evicted");
        assert_eq!(pending[99].task_id, "t100");
        assert!(
            pending
                .iter()
                .all(|n| n.parent_session_id == "p" && n.created_at > 0)
        );

        // Duplicate of a pending notice: nothing changes.
        ledger
            .commit(vec![notice("p", "t50"), notice("p", "t50")])
            .await
            .unwrap();
        assert_eq!(ledger.pending_notices("p").await.unwrap(), pending);

        let ids: Vec<i64> = pending[..2].iter().map(|n| n.id).collect();
        assert_eq!(ledger.mark_notices_delivered(&ids).await.unwrap(), 2);
        assert_eq!(ledger.mark_notices_delivered(&ids).await.unwrap(), 0);
        assert_eq!(ledger.mark_notices_delivered(&[]).await.unwrap(), 0);
        assert_eq!(ledger.pending_notices("p").await.unwrap().len(), 98);
        assert_eq!(ledger.counts().await.unwrap().pending_notices, 99);

        // Once delivered, the same task may be announced again.
        ledger.commit(vec![notice("p", "t1")]).await.unwrap();
        assert_eq!(ledger.pending_notices("p").await.unwrap().len(), 99);

        // Evicted rows are kept, not deleted.
        ledger.close().await;
        let raw = Connection::open(dir.path().join("l.db")).unwrap();
        let states: Vec<(String, i64)> = raw
            .prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            states,
            [
                ("delivered".to_string(), 2),
                ("evicted".into(), 1),
                ("pending".into(), 100)
            ]
        );
    }

    #[tokio::test]
    async fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let (ledger, _) = open(&path);
        ledger.close().await;
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        let err = Ledger::open(OpenOptions::new(&path), bus()).unwrap_err();
        assert!(
            matches!(
                err,
                LedgerError::SchemaTooNew {
                    found: 99,
                    supported: SCHEMA_VERSION,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[tokio::test]
    async fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE stuff (x)")
            .unwrap();
        let err = Ledger::open(OpenOptions::new(&path), bus()).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");

        std::fs::write(
            dir.path().join("junk.db"),
            b"this is not a database at all....",
        )
        .unwrap();
        let err = Ledger::open(OpenOptions::new(dir.path().join("junk.db")), bus()).unwrap_err();
        assert!(matches!(err, LedgerError::Open { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_file_in_place_of_the_directory_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = Ledger::open(OpenOptions::new(file.join("l.db")), bus()).unwrap_err();
        match &err {
            LedgerError::Open { path, op, .. } => {
                assert_eq!(path, &file.join("l.db"));
                assert_eq!(*op, "creating its directory");
            }
            other => panic!("expected an Open error, got {other}"),
        }
        assert!(err.to_string().contains("plain-file"), "{err}");
    }

    #[tokio::test]
    async fn commit_after_close_is_closed_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let other = ledger.clone();
        // Racing close: either committed or Closed, never stuck.
        let racing = tokio::spawn(async move { other.commit(vec![event("last", 0)]).await });
        tokio::task::yield_now().await;
        ledger.close().await;
        ledger.close().await; // idempotent
        let raced = racing.await.unwrap();
        assert!(
            matches!(raced, Ok(_) | Err(LedgerError::Closed)),
            "{raced:?}"
        );

        let quick = Duration::from_secs(5);
        let commit = tokio::time::timeout(quick, ledger.commit(vec![event("late", 0)])).await;
        assert!(matches!(commit, Ok(Err(LedgerError::Closed))), "{commit:?}");
        let read = tokio::time::timeout(quick, ledger.task("x")).await;
        assert!(matches!(read, Ok(Err(LedgerError::Closed))), "{read:?}");
        let mark = tokio::time::timeout(quick, ledger.mark_notices_delivered(&[1])).await;
        assert!(matches!(mark, Ok(Err(LedgerError::Closed))), "{mark:?}");
    }

    #[tokio::test]
    async fn commit_queued_before_close_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let (ledger, _) = open(&path);
        let (reply, rx) = oneshot::channel();
        ledger
            .send(Request::Commit {
                ops: vec![Op::PutTask(task("kept", 1))],
                reply,
            })
            .unwrap();
        ledger.close().await;
        assert!(rx.await.unwrap().is_ok());
        let (ledger, recovered) = open(&path);
        assert_eq!(recovered.requeue.len(), 1);
        ledger.close().await;
    }

    #[tokio::test]
    async fn corrupt_rows_are_skipped_in_listings_and_reported_by_task() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let (ledger, _) = open(&path);
        let mut ops: Vec<Op> = ["a", "b", "c", "d"]
            .iter()
            .zip(1..)
            .map(|(id, at)| Op::PutTask(task(id, at)))
            .collect();
        ops.extend([event("e", 1), event("e", 2), event("e", 3)]);
        ledger.commit(ops).await.unwrap();
        ledger.close().await;

        let raw = Connection::open(&path).unwrap();
        raw.execute("UPDATE tasks SET body = '{not json' WHERE id = 'b'", [])
            .unwrap();
        raw.execute("UPDATE tasks SET body = x'00ff' WHERE id = 'c'", [])
            .unwrap();
        raw.execute("UPDATE events SET data = 'nope' WHERE seq = 2", [])
            .unwrap();
        // A `running` row with a bad body must not stop the next open either.
        raw.execute(
            "UPDATE tasks SET status = 'running', body = 'oops' WHERE id = 'd'",
            [],
        )
        .unwrap();
        drop(raw);

        let (ledger, recovered) = open(&path);
        assert!(recovered.interrupted.is_empty());
        let page = ledger.list_tasks(TaskFilter::default()).await.unwrap();
        assert_eq!(page.total, 4);
        assert_eq!(
            page.tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );

        // Paging walks past corrupt rows instead of stalling on them.
        let mut before = None;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let filter = TaskFilter {
                limit: 1,
                before: before.clone(),
                ..Default::default()
            };
            let page = ledger.list_tasks(filter).await.unwrap();
            seen.extend(page.tasks.into_iter().map(|t| t.id));
            before = page.next_cursor;
            if before.is_none() {
                break;
            }
        }
        assert_eq!(seen, ["a"]);

        assert!(matches!(
            ledger.task("b").await,
            Err(LedgerError::Corrupt { .. })
        ));
        assert!(matches!(
            ledger.task("c").await,
            Err(LedgerError::Corrupt { .. })
        ));
        let seqs: Vec<u64> = ledger
            .events_after(0, 10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [1, 3]);
        ledger.close().await;
    }

    #[tokio::test]
    async fn non_finite_cost_stays_readable() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let mut t = task("nan", 1);
        t.usage = Some(super::super::task::Usage {
            cost: f64::NAN,
            ..Default::default()
        });
        ledger.commit(vec![Op::PutTask(t)]).await.unwrap();
        let back = ledger.task("nan").await.unwrap().unwrap();
        assert_eq!(back.usage.map(|u| u.cost), Some(0.0));
        ledger.close().await;
    }

    #[tokio::test]
    async fn commit_hook_sees_tasks_before_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let bus = bus();
        // (task id, last seq on the bus when the hook ran)
        type Seen = Mutex<Vec<(String, Option<u64>)>>;
        let seen: Arc<Seen> = Arc::default();
        let (hook_seen, hook_bus) = (seen.clone(), bus.clone());
        let mut opts = OpenOptions::new(dir.path().join("l.db"));
        opts.on_commit = Some(Arc::new(move |t: &Task| {
            if t.id == "boom" {
                panic!("a buggy hook");
            }
            // What the bus had announced when the hook ran.
            hook_seen.lock().push((t.id.clone(), hook_bus.last_seq()));
        }));
        let (ledger, _) = Ledger::open(opts, bus).unwrap();

        let events = ledger
            .commit(vec![Op::PutTask(task("t1", 1)), event("e", 1)])
            .await
            .unwrap();
        assert_eq!(*seen.lock(), [("t1".to_string(), None)]);
        assert_eq!(events[0].seq, 1);

        // A job rolled back never reaches the hook.
        let failed = ledger
            .commit(vec![Op::PutTask(task("t2", 2)), Op::PutTask(task("", 2))])
            .await;
        assert!(failed.is_err());
        assert_eq!(seen.lock().len(), 1);

        // A panicking hook neither fails the commit nor stops the writer.
        ledger
            .commit(vec![Op::PutTask(task("boom", 3))])
            .await
            .unwrap();
        ledger
            .commit(vec![Op::PutTask(task("t3", 4)), event("e", 2)])
            .await
            .unwrap();
        assert_eq!(seen.lock()[1], ("t3".to_string(), Some(1)));
        assert!(ledger.task("boom").await.unwrap().is_some());
        ledger.close().await;
    }

    #[tokio::test]
    async fn empty_commit_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        assert!(ledger.commit(Vec::new()).await.unwrap().is_empty());
        assert_eq!(ledger.path(), dir.path().join("l.db"));
        ledger.close().await;
    }

    /// Run with `cargo test --release -- --ignored --nocapture throughput`.
    #[ignore]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throughput() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = open(&dir.path().join("l.db"));
        let n = 10_000u64;

        let start = std::time::Instant::now();
        for i in 0..n {
            let mut t = task(&format!("seq-{i}"), i);
            t.prompt = "x".repeat(500);
            let draft = EventDraft::new("task.queued", t.summary());
            ledger
                .commit(vec![Op::PutTask(t), Op::Event(draft)])
                .await
                .unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "sequential: {n} commits in {secs:.3}s = {:.0} commits/s",
            n as f64 / secs
        );

        let before = ledger.write_stats();
        let start = std::time::Instant::now();
        let workers = 50u64;
        let per_worker = n / workers;
        let mut handles = Vec::new();
        for w in 0..workers {
            let ledger = ledger.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..per_worker {
                    let mut t = task(&format!("par-{w}-{i}"), i);
                    t.prompt = "x".repeat(500);
                    let draft = EventDraft::new("task.queued", t.summary());
                    ledger
                        .commit(vec![Op::PutTask(t), Op::Event(draft)])
                        .await
                        .unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let stats = ledger.write_stats();
        let batches = stats.batches - before.batches;
        println!(
            "concurrent ({workers} committers): {n} commits in {secs:.3}s = {:.0} commits/s, \
             {batches} transactions ({:.1} commits per transaction)",
            n as f64 / secs,
            n as f64 / batches as f64
        );
        ledger.close().await;
    }
}
