//! What can go wrong when asking the orchestrator for something.

use super::backend::BackendError;
use super::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error("unknown agent `{name}`; tasks can be delegated to: {known}")]
    UnknownAgent { name: String, known: String },
    #[error(
        "`{name}` is the primary agent and runs missions itself; tasks can be delegated to: {known}"
    )]
    NotDelegable { name: String, known: String },
    #[error("invalid `{field}`: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    #[error(
        "delegation depth limit reached: this task would be at depth {depth}, and the limit is {max} (scheduler.maxDepth); do the work in this session instead"
    )]
    DepthLimit { depth: u32, max: u32 },
    #[error(
        "the task queue is full ({capacity} tasks waiting, scheduler.queueCapacity); wait for running tasks to finish or cancel some"
    )]
    QueueFull { capacity: usize },
    #[error("no task with id `{id}`; list_tasks shows the known ones")]
    TaskNotFound { id: String },
    #[error("task `{id}` is still {status}; wait for it or cancel it before resuming its session")]
    TaskBusy { id: String, status: String },
    #[error("task `{id}` has no session to resume (it never started)")]
    NoSessionToResume { id: String },
    #[error("{0}")]
    BackendUnavailable(String),
    #[error("{0}")]
    MissionNotFound(String),
    /// The mission is not in a state where this can be done (the message says which).
    #[error("{0}")]
    MissionConflict(String),
    #[error("the orchestrator is shutting down; no new tasks are accepted")]
    ShuttingDown,
    /// A tool could not do what it was asked (the message says what and what to do).
    #[error("{0}")]
    ToolFailed(String),
    /// Its message already names the task ledger and what it was doing.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("agent runtime error: {0}")]
    Backend(#[from] BackendError),
}
