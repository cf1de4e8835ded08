//! Core data types of a mission plan: the stored plan, its items and the
//! small value types returned by plan operations.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most items a plan may hold (tasks and subtasks together).
pub const MAX_ITEMS: usize = 200;
/// Longest allowed item id, in characters.
pub const MAX_ID_LEN: usize = 64;
/// Longest allowed item title, in characters.
pub const MAX_TITLE_LEN: usize = 200;
/// Stored results are cut to this many characters: the plan keeps a short
/// summary, the full task output lives with the delegated task.
pub const MAX_RESULT_LEN: usize = 1000;

/// Status of a plan item. For an item with subtasks the stored value is
/// ignored and the status is derived from its leaves (see `Plan::status_of`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    #[default]
    Pending,
    Running,
    Done,
    Failed,
    Cancelled,
    Skipped,
}

impl ItemStatus {
    /// Done or skipped: dependants may proceed.
    pub fn is_complete(self) -> bool {
        matches!(self, Self::Done | Self::Skipped)
    }

    /// Failed or cancelled: dependants cannot proceed until it is retried,
    /// skipped or the dependency is dropped.
    pub fn is_dead(self) -> bool {
        matches!(self, Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task (no parent) or subtask (parent is a task) of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanItem {
    pub id: String,
    pub title: String,
    /// What to do and the acceptance criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Specialist agent that runs this item; required for leaves, ignored
    /// for items with subtasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub status: ItemStatus,
    /// The delegated task running (or that last ran) this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Short summary of the last outcome (or the last error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// How many times the item was dispatched.
    #[serde(default)]
    pub attempts: u32,
}

/// A mission plan. `items` keeps insertion order; the plan order used for
/// rendering and listings is a depth-first walk (each task followed by its
/// subtasks), tasks and siblings in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    #[serde(default)]
    pub items: Vec<PlanItem>,
    /// Number of successful edit batches. Dispatch bookkeeping
    /// (`mark_dispatched`, `record_task_result`, `reset_for_retry`) does not
    /// change it.
    #[serde(default)]
    pub revision: u64,
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }

    /// The item with this id, if any.
    pub fn get(&self, id: &str) -> Option<&PlanItem> {
        self.items.iter().find(|item| item.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// How a delegated task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum TaskOutcome {
    Completed { summary: String },
    Failed { error: String },
    Cancelled,
}

/// A delegated task that no longer belongs to a running plan item because
/// an edit removed the item or overrode its status. The server should
/// cancel it; its late result will be ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetachedTask {
    pub item_id: String,
    pub task_id: String,
}

/// What a successful `Plan::apply` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplySummary {
    /// Plan revision after the batch.
    pub revision: u64,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Every removed id, subtrees included.
    pub removed: Vec<String>,
    pub detached_tasks: Vec<DetachedTask>,
}

/// Leaf counts of a plan. `pending` includes `ready` and `blocked` leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub total_leaves: usize,
    pub done: usize,
    pub skipped: usize,
    pub running: usize,
    pub pending: usize,
    /// Pending leaves whose dependencies are all satisfied.
    pub ready: usize,
    /// Pending leaves that can never run because of a failed or cancelled
    /// (possibly indirect) dependency.
    pub blocked: usize,
    pub failed: usize,
    pub cancelled: usize,
}

impl Progress {
    pub fn done_or_skipped(&self) -> usize {
        self.done + self.skipped
    }
}

/// Stagnation detector: `(done_or_skipped_leaves, total_leaves, revision)`.
///
/// It changes when a leaf completes or when the plan is edited (which may
/// add or remove leaves, so the same completed count can mean something
/// else). Dispatching, failures, cancellations and retries do not change
/// it: a mission that keeps failing and retrying makes no progress.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct ProgressKey {
    pub done_or_skipped: usize,
    pub total_leaves: usize,
    pub revision: u64,
}

/// A pending leaf that can never run as the plan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedLeaf<'a> {
    pub item: &'a PlanItem,
    /// Root causes: ids of failed/cancelled leaves (or unknown dependency
    /// ids in a corrupted plan) this leaf transitively waits for.
    pub causes: Vec<String>,
    /// Human-readable explanation, e.g. "waits for failed `b1`".
    pub reason: String,
}

/// Trimmed text cut to `max` characters (with a trailing `…` when cut);
/// `None` when nothing is left.
pub(crate) fn short_text(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= max {
        return Some(text.to_string());
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    Some(out)
}
