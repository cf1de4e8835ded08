//! The job manager: starts background shell commands, follows them, stops them, and keeps
//! their records and output.
//!
//! Each job is `/bin/sh -c <command>` as the leader of its own process group, so stopping it
//! (timeout, `kill_background`, the orchestrator shutting down) reaches everything it started:
//! SIGTERM to the group, SIGKILL to whatever is left after `jobs.killGraceMs`. A job whose
//! shell exits has the rest of its group stopped the same way, so nothing outlives it.
//!
//! State lives under `<state dir>/jobs/` (the ledger's directory): per job a JSON record
//! (`<id>.json`, rewritten atomically at start and end) and one log file per stream. The newest
//! output lines also stay in memory (bounded) for cheap tails. A record still saying `running`
//! when a manager opens belongs to a previous process that stopped without finishing it: it is
//! recorded `lost` (and its processes, if they outlived that process and can be recognised, are
//! stopped). Every end, `lost` included, is announced as a `background.completed` event through
//! the ledger (committed, then published).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::process::{self, Sig};
use super::ring::{Ring, Tail, file_tail};
use crate::config::{Config, JobsConfig};
use crate::orchestrator::OrchestratorError;
use crate::orchestrator::events::EventDraft;
use crate::orchestrator::ledger::{Ledger, Op};
use crate::orchestrator::task::{Millis, now_ms};

/// The event announcing a finished (or lost) job.
pub const COMPLETED_EVENT: &str = "background.completed";

/// Shortest timeout a job may ask for.
pub const MIN_TIMEOUT_MS: u64 = 100;
/// Longest command accepted, in bytes.
const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Longest label, in characters.
const MAX_LABEL_CHARS: usize = 200;
/// Finished jobs whose output stays in memory; older ones are read back from their logs.
const RINGS_KEPT: usize = 16;
/// How long the output of a finished job may take to arrive: a process that left the job's
/// group can hold its pipes open for ever.
const DRAIN: Duration = Duration::from_millis(500);
/// How long SIGKILLed processes get to disappear before the job is recorded.
const AFTER_KILL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Still running.
    Running,
    /// Exited with code 0.
    Exited,
    /// Exited with another code, or died of a signal nobody here sent.
    Failed,
    /// Stopped when its timeout ran out.
    TimedOut,
    /// Stopped by kill_background or by the orchestrator shutting down.
    Killed,
    /// Was running when a previous orchestrator process stopped; its end is unknown.
    Lost,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Exited => "exited",
            JobStatus::Failed => "failed",
            JobStatus::TimedOut => "timed_out",
            JobStatus::Killed => "killed",
            JobStatus::Lost => "lost",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is kept about a job, in memory and as `<id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job_id: String,
    pub label: String,
    pub command: String,
    /// The working directory, relative to the workspace root (`.` for the root).
    pub cwd: String,
    /// Names of the extra environment variables (their values are never stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_keys: Vec<String>,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended the shell, e.g. `SIGTERM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The shell's pid, which is also the job's process group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The shell's start time from `/proc` (recognises it after a restart); internal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc_start: Option<u64>,
    pub started_at: Millis,
    /// Start order among this workspace's jobs (orders jobs started in the same millisecond);
    /// internal.
    #[serde(default)]
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub timeout_ms: u64,
    /// The session whose tool call started the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// The orchestrator process that runs the job, and its start time: a running job of
    /// another live process (a second server on the same workspace) is not taken for lost;
    /// internal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_start: Option<u64>,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    /// What else happened: why it stopped, leftovers stopped, a capped log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl JobRecord {
    /// The record as clients see it (without internal fields).
    pub fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.remove("procStart");
            obj.remove("seq");
            obj.remove("ownerPid");
            obj.remove("ownerStart");
        }
        v
    }

    fn add_note(&mut self, note: impl AsRef<str>) {
        let note = note.as_ref();
        self.note = Some(match self.note.take() {
            Some(old) if !old.is_empty() => format!("{old}; {note}"),
            _ => note.to_string(),
        });
    }

    fn finished(&self) -> bool {
        self.status != JobStatus::Running
    }

    /// Newest first.
    fn order_key(&self) -> (Millis, u64, &str) {
        (self.started_at, self.seq, self.job_id.as_str())
    }
}

/// Why the orchestrator stopped a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Timeout,
    Killed,
    Shutdown,
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub command: String,
    pub cwd: Option<String>,
    pub timeout_ms: Option<u64>,
    pub label: Option<String>,
    pub env: BTreeMap<String, String>,
    pub started_by: Option<String>,
}

/// A job's record with the tails of its output.
#[derive(Debug, Clone)]
pub struct JobView {
    pub record: JobRecord,
    pub stdout: Tail,
    pub stderr: Tail,
}

struct Job {
    record: Mutex<JobRecord>,
    record_path: PathBuf,
    /// `None` once the output is only in the log files.
    out: Mutex<Option<Ring>>,
    err: Mutex<Option<Ring>>,
    /// The first reason given wins.
    stop: watch::Sender<Option<StopReason>>,
    done: watch::Sender<bool>,
    /// Process group of a job this process runs.
    pgid: Option<i32>,
    started: Option<Instant>,
    /// Run by another live orchestrator process: its record is read again from disk.
    foreign: AtomicBool,
}

impl Job {
    fn ring(&self, stream: Stream) -> &Mutex<Option<Ring>> {
        match stream {
            Stream::Out => &self.out,
            Stream::Err => &self.err,
        }
    }

    /// Asks the supervisor to stop the job; false if a reason was already given.
    fn request_stop(&self, reason: StopReason) -> bool {
        self.stop.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        })
    }

    /// The last resort when nobody will supervise the job any more (the manager or its
    /// supervisor dropped without a shutdown): SIGKILL the group and record it, synchronously.
    fn kill_now(&self, why: &str) {
        let Some(pgid) = self.pgid else { return };
        let mut record = self.record.lock();
        if record.finished() {
            return;
        }
        self.request_stop(StopReason::Shutdown);
        process::signal_group(pgid, Sig::Kill);
        record.status = JobStatus::Killed;
        record.finished_at = Some(now_ms());
        record.duration_ms = Some(
            record
                .finished_at
                .unwrap_or(0)
                .saturating_sub(record.started_at),
        );
        record.add_note(why);
        if let Err(e) = save_sync(&self.record_path, &record) {
            tracing::warn!(job = %record.job_id, error = %e, "cannot save a job record");
        }
    }

    async fn tail(
        &self,
        stream: Stream,
        n: usize,
        max_line_bytes: usize,
    ) -> Result<Tail, OrchestratorError> {
        if let Some(tail) = self.ring(stream).lock().as_ref().and_then(|r| r.tail(n)) {
            return Ok(tail);
        }
        let path = {
            let r = self.record.lock();
            match stream {
                Stream::Out => r.stdout_log.clone(),
                Stream::Err => r.stderr_log.clone(),
            }
        };
        let shown = path.clone();
        tokio::task::spawn_blocking(move || file_tail(&path, n, max_line_bytes))
            .await
            .map_err(|e| OrchestratorError::ToolFailed(format!("reading a job log failed: {e}")))?
            .map_err(|e| {
                OrchestratorError::ToolFailed(format!(
                    "cannot read the job log {}: {e}",
                    shown.display()
                ))
            })
    }
}

/// SIGKILLs the job's group if dropped while still armed: a supervisor dropped with the
/// runtime, or a start that failed half-way.
struct GroupGuard {
    job: Arc<Job>,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            self.job
                .kill_now("killed because the orchestrator stopped without shutting down");
        }
    }
}

/// A slot of `jobs.maxRunning`, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Cheap to clone; every clone manages the same jobs.
#[derive(Clone)]
pub struct JobManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: JobsConfig,
    /// The workspace root as given, and canonical.
    root: PathBuf,
    real_root: PathBuf,
    dir: PathBuf,
    ledger: Ledger,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    running: Arc<AtomicUsize>,
    next_seq: AtomicU64,
    closed: AtomicBool,
    tracker: TaskTracker,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for job in self.jobs.get_mut().values() {
            job.kill_now("killed because the orchestrator stopped without shutting down");
        }
    }
}

impl JobManager {
    /// Loads the jobs recorded under the state dir; those a previous process left running are
    /// recorded `lost`, announced, and their surviving processes stopped. Never fails: a job
    /// directory that cannot be read is logged, and starting a job then says what is wrong.
    pub fn open(config: &Config, workspace_root: &Path, ledger: Ledger) -> JobManager {
        let dir = config
            .ledger_path(workspace_root)
            .parent()
            .map(|p| p.join("jobs"))
            .unwrap_or_else(|| workspace_root.join(".opencode/orchestrator/jobs"));
        let real_root =
            std::fs::canonicalize(workspace_root).unwrap_or_else(|_| workspace_root.to_path_buf());
        let (jobs, lost, survivors) = load(&dir);
        let next_seq = jobs
            .values()
            .map(|j| j.record.lock().seq)
            .max()
            .unwrap_or(0)
            + 1;
        let inner = Arc::new(Inner {
            config: config.jobs.clone(),
            root: workspace_root.to_path_buf(),
            real_root,
            dir,
            ledger,
            jobs: Mutex::new(jobs),
            running: Arc::new(AtomicUsize::new(0)),
            next_seq: AtomicU64::new(next_seq),
            closed: AtomicBool::new(false),
            tracker: TaskTracker::new(),
        });
        prune(&inner);
        if !lost.is_empty() {
            let ledger = inner.ledger.clone();
            let grace = Duration::from_millis(inner.config.kill_grace_ms);
            inner.tracker.spawn(async move {
                futures::future::join_all(
                    survivors
                        .iter()
                        .map(|pgid| process::stop_group(*pgid, grace, AFTER_KILL)),
                )
                .await;
                for record in &lost {
                    announce(&ledger, record).await;
                }
            });
        }
        JobManager { inner }
    }

    /// Starts a job; returns its record once it runs and its record is saved.
    pub async fn run(&self, req: RunRequest) -> Result<JobRecord, OrchestratorError> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::SeqCst) {
            return Err(OrchestratorError::ShuttingDown);
        }
        let bad = |field: &'static str, message: String| OrchestratorError::InvalidArgument {
            field,
            message,
        };
        let command = req.command;
        if command.trim().is_empty() {
            return Err(bad(
                "command",
                "must not be empty: give a shell command to run".into(),
            ));
        }
        if command.len() > MAX_COMMAND_BYTES {
            return Err(bad(
                "command",
                format!(
                    "is {} bytes long; at most {MAX_COMMAND_BYTES} are accepted (put long scripts in a file)",
                    command.len()
                ),
            ));
        }
        if command.contains('\0') {
            return Err(bad("command", "must not contain a NUL byte".into()));
        }
        let label = match req.label.as_deref().map(str::trim) {
            Some(l) if l.chars().count() > MAX_LABEL_CHARS => {
                return Err(bad(
                    "label",
                    format!("must be at most {MAX_LABEL_CHARS} characters"),
                ));
            }
            Some(l) if !l.is_empty() => l.to_string(),
            _ => default_label(&command),
        };
        let max = inner.config.max_timeout_ms;
        let timeout_ms = req
            .timeout_ms
            .unwrap_or(inner.config.default_timeout_ms.min(max));
        if !(MIN_TIMEOUT_MS..=max).contains(&timeout_ms) {
            return Err(bad(
                "timeoutMs",
                format!(
                    "must be between {MIN_TIMEOUT_MS} and {max} milliseconds (jobs.maxTimeoutMs), got {timeout_ms}"
                ),
            ));
        }
        for (key, value) in &req.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(bad(
                    "env",
                    format!(
                        "`{key}` is not a valid variable name (it must be non-empty, without `=` or NUL)"
                    ),
                ));
            }
            if value.contains('\0') {
                return Err(bad(
                    "env",
                    format!("the value of `{key}` contains a NUL byte"),
                ));
            }
        }
        let (cwd, cwd_shown) = self.resolve_cwd(req.cwd.as_deref())?;

        let reserved = inner.running.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(inner.running.clone());
        if reserved >= inner.config.max_running {
            return Err(OrchestratorError::ToolFailed(format!(
                "{} background jobs are already running (jobs.maxRunning); wait for one to finish or stop one with kill_background",
                inner.config.max_running
            )));
        }
        tokio::fs::create_dir_all(&inner.dir).await.map_err(|e| {
            OrchestratorError::ToolFailed(format!(
                "cannot create the job directory {}: {e}",
                inner.dir.display()
            ))
        })?;
        let id = new_id();
        let stdout_log = inner.dir.join(format!("{id}.stdout.log"));
        let stderr_log = inner.dir.join(format!("{id}.stderr.log"));
        let open_log = |path: PathBuf| async move {
            tokio::fs::File::create(&path).await.map_err(|e| {
                OrchestratorError::ToolFailed(format!(
                    "cannot create the job log {}: {e}",
                    path.display()
                ))
            })
        };
        let out_file = open_log(stdout_log.clone()).await?;
        let err_file = open_log(stderr_log.clone()).await?;

        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&command)
            .current_dir(&cwd)
            .envs(&req.env)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            OrchestratorError::ToolFailed(format!("cannot start `/bin/sh -c …`: {e}"))
        })?;
        let pid = child.id();
        let record = JobRecord {
            job_id: id.clone(),
            label,
            command,
            cwd: cwd_shown,
            env_keys: req.env.keys().cloned().collect(),
            status: JobStatus::Running,
            exit_code: None,
            signal: None,
            pid,
            proc_start: pid.and_then(process::start_time),
            started_at: now_ms(),
            seq: inner.next_seq.fetch_add(1, Ordering::SeqCst),
            finished_at: None,
            duration_ms: None,
            timeout_ms,
            started_by: req.started_by,
            owner_pid: Some(std::process::id()),
            owner_start: *OWN_START.get_or_init(|| process::start_time(std::process::id())),
            stdout_log,
            stderr_log,
            note: None,
        };
        let (stop, _) = watch::channel(None);
        let (done, _) = watch::channel(false);
        let job = Arc::new(Job {
            record: Mutex::new(record.clone()),
            record_path: inner.dir.join(format!("{id}.json")),
            out: Mutex::new(Some(Ring::new(
                inner.config.memory_bytes,
                inner.config.max_line_bytes,
            ))),
            err: Mutex::new(Some(Ring::new(
                inner.config.memory_bytes,
                inner.config.max_line_bytes,
            ))),
            stop,
            done,
            pgid: pid.and_then(|p| i32::try_from(p).ok()),
            started: Some(Instant::now()),
            foreign: AtomicBool::new(false),
        });
        // From here on, any early return stops the group.
        let guard = GroupGuard {
            job: job.clone(),
            armed: true,
        };
        let Some(pgid) = job.pgid else {
            return Err(OrchestratorError::ToolFailed(
                "the job's shell exited before it could be followed".into(),
            ));
        };
        save(&job.record_path, &record).await.map_err(|e| {
            OrchestratorError::ToolFailed(format!(
                "cannot save the job record {}: {e}; the job was stopped",
                job.record_path.display()
            ))
        })?;

        let cap = inner.config.max_log_bytes;
        let pumps = [
            child.stdout.take().map(|s| {
                inner
                    .tracker
                    .spawn(pump(s, job.clone(), Stream::Out, out_file, cap))
            }),
            child.stderr.take().map(|s| {
                inner
                    .tracker
                    .spawn(pump(s, job.clone(), Stream::Err, err_file, cap))
            }),
        ];
        inner.jobs.lock().insert(id.clone(), job.clone());
        let sup = Supervisor {
            job,
            pgid,
            guard,
            slot,
            ledger: inner.ledger.clone(),
            grace: Duration::from_millis(inner.config.kill_grace_ms),
            manager: Arc::downgrade(inner),
        };
        inner
            .tracker
            .spawn(sup.run(child, pumps, Duration::from_millis(timeout_ms)));
        tracing::info!(job = %id, pid = pgid, "background job started");
        Ok(record)
    }

    /// The job's record and the last `tail` lines of each stream, after waiting up to `wait`
    /// for it to finish.
    pub async fn check(
        &self,
        id: &str,
        tail: usize,
        wait: Duration,
    ) -> Result<JobView, OrchestratorError> {
        let job = self.get(id)?;
        if !wait.is_zero() {
            let mut done = job.done.subscribe();
            let _ = tokio::time::timeout(wait, done.wait_for(|d| *d)).await;
        }
        let record = job.record.lock().clone();
        let max_line = self.inner.config.max_line_bytes;
        let stdout = job.tail(Stream::Out, tail, max_line).await?;
        let stderr = job.tail(Stream::Err, tail, max_line).await?;
        Ok(JobView {
            record,
            stdout,
            stderr,
        })
    }

    /// Jobs of this workspace, newest first, with the count of all that match.
    /// Whether any job runs now (the daemon's idle check, every tick: no copies, no sort).
    pub fn any_running(&self) -> bool {
        let jobs: Vec<Arc<Job>> = self.inner.jobs.lock().values().cloned().collect();
        jobs.iter().any(|j| {
            refresh(j);
            j.record.lock().status == JobStatus::Running
        })
    }

    pub fn list(&self, statuses: &[JobStatus], limit: usize) -> (Vec<JobRecord>, usize) {
        let jobs: Vec<Arc<Job>> = self.inner.jobs.lock().values().cloned().collect();
        let mut records: Vec<JobRecord> = jobs
            .iter()
            .map(|j| {
                refresh(j);
                j.record.lock().clone()
            })
            .filter(|r| statuses.is_empty() || statuses.contains(&r.status))
            .collect();
        records.sort_by(|a, b| b.order_key().cmp(&a.order_key()));
        let total = records.len();
        records.truncate(limit);
        (records, total)
    }

    /// Stops a running job's whole process group and waits (bounded) for its record. Returns
    /// whether this call stopped it, and the record.
    pub async fn kill(&self, id: &str) -> Result<(bool, JobRecord), OrchestratorError> {
        let job = self.get(id)?;
        if job.record.lock().finished() {
            return Ok((false, job.record.lock().clone()));
        }
        if job.foreign.load(Ordering::SeqCst) {
            let owner = job.record.lock().owner_pid.unwrap_or_default();
            return Err(OrchestratorError::ToolFailed(format!(
                "job {} is run by another orchestrator process (pid {owner}) on this workspace; stop it from there",
                id.trim()
            )));
        }
        let stopped = job.request_stop(StopReason::Killed);
        let mut done = job.done.subscribe();
        let limit = Duration::from_millis(self.inner.config.kill_grace_ms) + Duration::from_secs(5);
        let _ = tokio::time::timeout(limit, done.wait_for(|d| *d)).await;
        let record = job.record.lock().clone();
        // A shell that had exited on its own as the kill came (its leftovers still being
        // stopped) was not killed: its record says how it ended.
        let killed = stopped && matches!(record.status, JobStatus::Running | JobStatus::Killed);
        Ok((killed, record))
    }

    /// Refuses new jobs, stops every running one (whole groups) and waits for their records and
    /// events. Call before the ledger closes. Idempotent.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        let running: Vec<Arc<Job>> = inner.jobs.lock().values().cloned().collect();
        for job in running {
            if !job.record.lock().finished() {
                job.request_stop(StopReason::Shutdown);
            }
        }
        inner.tracker.close();
        let limit = Duration::from_millis(inner.config.kill_grace_ms)
            + AFTER_KILL
            + DRAIN
            + Duration::from_secs(3);
        if tokio::time::timeout(limit, inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("background jobs did not all stop in time");
        }
    }

    fn get(&self, id: &str) -> Result<Arc<Job>, OrchestratorError> {
        let job = self
            .inner
            .jobs
            .lock()
            .get(id.trim())
            .cloned()
            .ok_or_else(|| OrchestratorError::InvalidArgument {
                field: "jobId",
                message: format!(
                    "no background job has id `{id}`; list_background shows the known ones"
                ),
            })?;
        refresh(&job);
        Ok(job)
    }

    /// The canonical working directory and how to show it (relative to the workspace).
    fn resolve_cwd(&self, cwd: Option<&str>) -> Result<(PathBuf, String), OrchestratorError> {
        let inner = &self.inner;
        let bad = |message: String| OrchestratorError::InvalidArgument {
            field: "cwd",
            message,
        };
        let raw = cwd.unwrap_or("").trim();
        if raw.contains('\0') {
            return Err(bad("must not contain a NUL byte".into()));
        }
        let given = Path::new(if raw.is_empty() { "." } else { raw });
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            inner.real_root.join(given)
        };
        let outside = || {
            bad(format!(
                "`{raw}` is outside the workspace {}; give a directory inside it (relative paths start at the workspace root)",
                inner.real_root.display()
            ))
        };
        // Named as escaping even when it does not exist.
        let lexical = normalize(&joined);
        if !lexical.starts_with(&inner.real_root) && !lexical.starts_with(&inner.root) {
            return Err(outside());
        }
        let real = match std::fs::canonicalize(&joined) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(format!("`{raw}` does not exist in the workspace")));
            }
            Err(e) => return Err(bad(format!("`{raw}` cannot be used: {e}"))),
        };
        if !real.starts_with(&inner.real_root) {
            // Only a symbolic link gets here.
            return Err(outside());
        }
        if !real.is_dir() {
            return Err(bad(format!("`{raw}` is not a directory")));
        }
        let shown = match real.strip_prefix(&inner.real_root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => real.display().to_string(),
        };
        Ok((real, shown))
    }
}

/// Follows one running job to its end.
struct Supervisor {
    job: Arc<Job>,
    pgid: i32,
    guard: GroupGuard,
    slot: Slot,
    ledger: Ledger,
    grace: Duration,
    manager: Weak<Inner>,
}

/// What a pump reports when its stream ends.
#[derive(Debug, Default)]
struct PumpEnd {
    /// The log reached `jobs.maxLogBytes`.
    capped: bool,
    error: Option<String>,
}

impl Supervisor {
    async fn run(
        mut self,
        mut child: tokio::process::Child,
        pumps: [Option<JoinHandle<PumpEnd>>; 2],
        timeout: Duration,
    ) {
        let pgid = self.pgid;
        let mut stop = self.job.stop.subscribe();
        let exited = tokio::select! {
            r = child.wait() => Some(r),
            _ = tokio::time::sleep(timeout) => {
                self.job.request_stop(StopReason::Timeout);
                None
            }
            _ = stop.wait_for(|r| r.is_some()) => None,
        };
        let mut leftovers = false;
        // A shell that exited on its own did so whatever is asked of it later (a kill while
        // its leftovers are stopped), and its run ended when it exited.
        let shell_exit = exited.is_some().then(|| (Instant::now(), now_ms()));
        let reason = match exited {
            Some(_) => None,
            None => *self.job.stop.borrow(),
        };
        let status = match exited {
            Some(status) => {
                // The shell is done; whatever it left running in its group goes too.
                leftovers = tokio::task::spawn_blocking(move || process::group_alive(pgid))
                    .await
                    .unwrap_or(false);
                if leftovers {
                    process::stop_group(pgid, self.grace, AFTER_KILL).await;
                }
                status.ok()
            }
            None => {
                // The shell has not been reaped, so the group id is still ours.
                process::signal_group(pgid, Sig::Term);
                let deadline = Instant::now() + self.grace;
                let mut status = tokio::time::timeout_at(deadline, child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok);
                if !process::wait_group_gone(pgid, deadline).await {
                    process::signal_group(pgid, Sig::Kill);
                    process::wait_group_gone(pgid, Instant::now() + AFTER_KILL).await;
                }
                if status.is_none() {
                    status = child.wait().await.ok();
                }
                status
            }
        };
        self.guard.armed = false;
        let ended = shell_exit.unwrap_or_else(|| (Instant::now(), now_ms()));

        let mut ends = Vec::new();
        let mut held_open = false;
        let deadline = Instant::now() + DRAIN;
        for mut pump in pumps.into_iter().flatten() {
            match tokio::time::timeout_at(deadline, &mut pump).await {
                Ok(Ok(end)) => ends.push(end),
                Ok(Err(_)) => {}
                Err(_) => {
                    pump.abort();
                    held_open = true;
                }
            }
        }
        if held_open {
            ends.push(PumpEnd {
                capped: false,
                error: Some(
                    "a process that left the job's process group holds its output open; later output is not captured".into(),
                ),
            });
        }
        self.finish(status, reason, ended, leftovers, ends).await;
    }

    async fn finish(
        self,
        status: Option<std::process::ExitStatus>,
        reason: Option<StopReason>,
        (ended, ended_ms): (Instant, Millis),
        leftovers: bool,
        pumps: Vec<PumpEnd>,
    ) {
        use std::os::unix::process::ExitStatusExt;
        let record = {
            let mut r = self.job.record.lock();
            if r.finished() {
                // Recorded already by a last-resort kill.
                r.clone()
            } else {
                r.exit_code = status.and_then(|s| s.code());
                r.signal = status.and_then(|s| s.signal()).map(signal_name);
                r.status = match reason {
                    Some(StopReason::Timeout) => JobStatus::TimedOut,
                    Some(StopReason::Killed | StopReason::Shutdown) => JobStatus::Killed,
                    None if r.exit_code == Some(0) => JobStatus::Exited,
                    None => JobStatus::Failed,
                };
                r.finished_at = Some(ended_ms);
                r.duration_ms = Some(
                    self.job
                        .started
                        .map(|s| ended.duration_since(s).as_millis() as u64)
                        .unwrap_or_else(|| ended_ms.saturating_sub(r.started_at)),
                );
                match reason {
                    Some(StopReason::Timeout) => {
                        let limit = super::human_ms(r.timeout_ms);
                        r.add_note(format!("stopped after its timeout of {limit}"));
                    }
                    Some(StopReason::Killed) => r.add_note("stopped by kill_background"),
                    Some(StopReason::Shutdown) => {
                        r.add_note("stopped because the orchestrator shut down")
                    }
                    None => {}
                }
                if status.is_none() {
                    r.add_note("its exit status could not be read");
                }
                if leftovers {
                    r.add_note("processes it left running in its group were stopped");
                }
                for end in &pumps {
                    if end.capped {
                        r.add_note(
                            "a log file reached jobs.maxLogBytes; later output is only in memory",
                        );
                    }
                    if let Some(e) = &end.error {
                        r.add_note(e);
                    }
                }
                r.clone()
            }
        };
        if let Err(e) = save(&self.job.record_path, &record).await {
            tracing::warn!(job = %record.job_id, error = %e, "cannot save a job record");
        }
        drop(self.slot);
        if let Some(inner) = self.manager.upgrade() {
            prune(&inner);
        }
        self.job.done.send_replace(true);
        tracing::info!(job = %record.job_id, status = %record.status, exit_code = ?record.exit_code, "background job ended");
        announce(&self.ledger, &record).await;
    }
}

/// Copies one output stream into its ring and its log file until the stream ends.
async fn pump<R: AsyncRead + Unpin>(
    mut src: R,
    job: Arc<Job>,
    stream: Stream,
    mut log: tokio::fs::File,
    cap: u64,
) -> PumpEnd {
    let mut end = PumpEnd::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut written = 0u64;
    let mut logging = true;
    loop {
        let n = match src.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                end.error = Some(format!("reading the job's output failed: {e}"));
                break;
            }
        };
        let chunk = &buf[..n];
        // The log first, then the ring: whatever check_background has shown is already in
        // the file, so it survives the orchestrator being killed a moment later.
        if logging {
            logging = write_log(&mut log, chunk, cap, &mut written, &mut end).await;
            if end.capped
                && let Some(ring) = job.ring(stream).lock().as_mut()
            {
                ring.mark_log_capped();
            }
        }
        if let Some(ring) = job.ring(stream).lock().as_mut() {
            ring.push(chunk);
        }
    }
    end
}

/// Appends `chunk` to the log up to `cap` bytes in all; false once nothing more is logged.
async fn write_log(
    log: &mut tokio::fs::File,
    chunk: &[u8],
    cap: u64,
    written: &mut u64,
    end: &mut PumpEnd,
) -> bool {
    let n = chunk.len();
    {
        let room = usize::try_from(cap.saturating_sub(*written)).unwrap_or(usize::MAX);
        let take = room.min(n);
        let result = async {
            log.write_all(&chunk[..take]).await?;
            if take < n {
                let marker = format!("\n[log capped at {cap} bytes; later output was not saved]\n");
                log.write_all(marker.as_bytes()).await?;
            }
            // Flushed at once, so what a job printed survives the orchestrator dying.
            log.flush().await
        }
        .await;
        *written += take as u64;
        if take < n {
            end.capped = true;
            return false;
        }
        if let Err(e) = result {
            end.error = Some(format!("writing the job's log failed: {e}"));
            return false;
        }
        true
    }
}

/// Commits (and so publishes) `background.completed` for a finished or lost job.
async fn announce(ledger: &Ledger, r: &JobRecord) {
    let mut data = json!({
        "jobId": r.job_id,
        "label": r.label,
        "status": r.status,
        "exitCode": r.exit_code,
        "durationMs": r.duration_ms,
        "startedBy": r.started_by,
    });
    if let Some(signal) = &r.signal {
        data["signal"] = json!(signal);
    }
    if let Err(e) = ledger
        .commit(vec![Op::Event(EventDraft::new(COMPLETED_EVENT, data))])
        .await
    {
        tracing::warn!(job = %r.job_id, error = %e, "cannot record the end of a background job");
    }
}

/// This process's start time, for the records of the jobs it runs.
static OWN_START: OnceLock<Option<u64>> = OnceLock::new();

/// Whether a running job belongs to another orchestrator process that is still alive.
fn owned_elsewhere(r: &JobRecord) -> bool {
    match r.owner_pid {
        Some(pid) if pid != std::process::id() => process::alive(pid, r.owner_start),
        _ => false,
    }
}

/// Reads the records under `dir`. Returns the jobs, those found `running` (now `lost`, saved),
/// and the process groups of lost jobs that are still running. Running jobs of another live
/// orchestrator process are left to it.
fn load(dir: &Path) -> (HashMap<String, Arc<Job>>, Vec<JobRecord>, Vec<i32>) {
    let mut jobs = HashMap::new();
    let mut lost = Vec::new();
    let mut survivors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (jobs, lost, survivors),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the background job records");
            return (jobs, lost, survivors);
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let mut record: JobRecord = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable job record");
                continue;
            }
        };
        let foreign = record.status == JobStatus::Running && owned_elsewhere(&record);
        if record.status == JobStatus::Running && !foreign {
            record.status = JobStatus::Lost;
            record.add_note(
                "the orchestrator stopped while this job was running; its output up to then is in its logs",
            );
            if let (Some(pid), Some(start)) = (record.pid, record.proc_start)
                && process::same_live_process(pid, start)
                && let Ok(pgid) = i32::try_from(pid)
            {
                survivors.push(pgid);
                record.add_note("its processes were still running and have been stopped");
            }
            if let Err(e) = save_sync(&path, &record) {
                tracing::warn!(path = %path.display(), error = %e, "cannot save a lost job's record");
            }
            lost.push(record.clone());
        }
        let (stop, _) = watch::channel(None);
        let (done, _) = watch::channel(true);
        let job = Job {
            record: Mutex::new(record.clone()),
            record_path: path,
            out: Mutex::new(None),
            err: Mutex::new(None),
            stop,
            done,
            pgid: None,
            started: None,
            foreign: AtomicBool::new(foreign),
        };
        jobs.insert(record.job_id.clone(), Arc::new(job));
    }
    lost.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    (jobs, lost, survivors)
}

/// Reads the record of a job another process runs again, as that process updates it.
fn refresh(job: &Job) {
    if !job.foreign.load(Ordering::SeqCst) {
        return;
    }
    let fresh = std::fs::read(&job.record_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<JobRecord>(&b).ok());
    if let Some(fresh) = fresh {
        if fresh.finished() {
            job.foreign.store(false, Ordering::SeqCst);
        }
        *job.record.lock() = fresh;
    }
}

/// Forgets (and deletes) the oldest finished jobs beyond `jobs.keepFinished`, and keeps the
/// output of only the newest finished jobs in memory.
fn prune(inner: &Inner) {
    let mut doomed = Vec::new();
    {
        let mut jobs = inner.jobs.lock();
        let mut finished: Vec<(Millis, u64, String)> = jobs
            .values()
            .filter_map(|j| {
                let r = j.record.lock();
                r.finished()
                    .then(|| (r.started_at, r.seq, r.job_id.clone()))
            })
            .collect();
        finished.sort_by(|a, b| b.cmp(a));
        for (i, (_, _, id)) in finished.iter().enumerate() {
            if i >= inner.config.keep_finished {
                if let Some(job) = jobs.remove(id) {
                    doomed.push(job);
                }
            } else if i >= RINGS_KEPT
                && let Some(job) = jobs.get(id)
            {
                *job.out.lock() = None;
                *job.err.lock() = None;
            }
        }
    }
    for job in doomed {
        let r = job.record.lock();
        for path in [&job.record_path, &r.stdout_log, &r.stderr_log] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete an old job file")
                }
            }
        }
    }
}

async fn save(path: &Path, record: &JobRecord) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, path).await
}

fn save_sync(path: &Path, record: &JobRecord) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Resolves `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn default_label(command: &str) -> String {
    let first = command.trim().lines().next().unwrap_or_default().trim();
    let mut label: String = first.chars().take(60).collect();
    if label.len() < first.len() || command.trim().lines().nth(1).is_some() {
        label.push('…');
    }
    label
}

/// `job_` + milliseconds (hex) + 6 hex digits from a per-process random start and a counter.
fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u64> = OnceLock::new();
    let salt = *SALT.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "job_{:011x}{:06x}",
        now_ms(),
        salt.wrapping_add(n) & 0xff_ffff
    )
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_ordered_by_time() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|i| i.starts_with("job_") && i.len() == 21));
    }

    #[test]
    fn labels_default_to_the_command() {
        assert_eq!(default_label("  cargo test  "), "cargo test");
        assert_eq!(default_label("make\nmake install"), "make…");
        assert_eq!(default_label(&"x".repeat(100)).chars().count(), 61);
    }

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize(Path::new("/a/b/../c/./d")), Path::new("/a/c/d"));
        assert_eq!(normalize(Path::new("/a/../../b")), Path::new("/b"));
    }

    #[test]
    fn records_round_trip_and_summaries_hide_internals() {
        let r = JobRecord {
            job_id: "job_1".into(),
            label: "l".into(),
            command: "true".into(),
            cwd: ".".into(),
            env_keys: vec![],
            status: JobStatus::TimedOut,
            exit_code: None,
            signal: Some("SIGTERM".into()),
            pid: Some(42),
            proc_start: Some(7),
            started_at: 1,
            seq: 3,
            finished_at: Some(2),
            duration_ms: Some(1),
            timeout_ms: 100,
            started_by: Some("ses_1".into()),
            owner_pid: Some(1),
            owner_start: Some(2),
            stdout_log: "/x.out".into(),
            stderr_log: "/x.err".into(),
            note: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"status\":\"timed_out\""), "{text}");
        assert_eq!(serde_json::from_str::<JobRecord>(&text).unwrap(), r);
        let s = r.summary();
        for internal in ["procStart", "seq", "ownerPid", "ownerStart"] {
            assert!(s.get(internal).is_none(), "{internal}");
        }
        assert_eq!(s["jobId"], "job_1");
    }
}
