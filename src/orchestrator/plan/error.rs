//! Plan errors. Every message names the items involved and says how to fix
//! the problem, because it is shown verbatim to the model that sent the edit.

use thiserror::Error;

use super::model::{MAX_ID_LEN, MAX_TITLE_LEN};

/// At most this many problems are listed in a `Multiple` message.
const MAX_LISTED_ERRORS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("the edit batch is empty: send at least one add, update or remove edit")]
    EmptyBatch,

    #[error(
        "invalid item id `{id}`: an id is 1-{max} characters of A-Z, a-z, 0-9, '.', '_' or '-' \
         (e.g. `api.routes`); choose another id",
        max = MAX_ID_LEN
    )]
    InvalidId { id: String },

    #[error(
        "duplicate id `{id}`: an item with this id already exists; choose another id, \
         or use an update edit to change the existing item"
    )]
    DuplicateId { id: String },

    #[error(
        "cannot {op} `{id}`: no item has this id (ids are case-sensitive, and an update must \
         come after the add of the same item); check the id against the current plan"
    )]
    UnknownItem { op: &'static str, id: String },

    #[error(
        "`{id}` has unknown parent `{parent}`: add `{parent}` (in this batch or before), \
         or omit parent to make `{id}` a top-level task"
    )]
    UnknownParent { id: String, parent: String },

    #[error("`{id}` cannot be its own parent: omit parent to make it a top-level task")]
    SelfParent { id: String },

    #[error(
        "`{id}` would be a 4th level: its parent `{parent}` is already a subtask of \
         `{grandparent}`, and a plan has only 3 levels (mission > task > subtask); flatten it: \
         make `{id}` a sibling of `{parent}` (parent `{grandparent}`) or split `{parent}` into \
         several subtasks of `{grandparent}`"
    )]
    TooDeep {
        id: String,
        parent: String,
        grandparent: String,
    },

    #[error(
        "cannot add subtask `{child}` under `{id}`: `{id}` is running as task `{task_id}`; \
         wait until it finishes, or add `{child}` as a separate task that depends on `{id}`"
    )]
    ParentRunning {
        id: String,
        task_id: String,
        child: String,
    },

    #[error(
        "`{id}` depends on unknown item `{dep}`: fix the id or add `{dep}` \
         (dependencies may name items added later in the same batch)"
    )]
    UnknownDependency { id: String, dep: String },

    #[error("`{id}` depends on itself: remove `{id}` from its dependsOn")]
    SelfDependency { id: String },

    #[error(
        "`{id}` depends on `{dep}`, its own parent task, which is meaningless: a subtask is \
         part of its task; remove `{dep}` from the dependsOn of `{id}` (depend on a sibling \
         subtask or on another task instead)"
    )]
    DependsOnAncestor { id: String, dep: String },

    #[error(
        "`{id}` depends on `{dep}`, one of its own subtasks, which is meaningless: a task is \
         complete when all its subtasks are; remove `{dep}` from the dependsOn of `{id}`"
    )]
    DependsOnDescendant { id: String, dep: String },

    #[error(
        "dependency cycle: {} (an arrow means \"waits for\"; a task waits for its subtasks, and \
         a subtask also waits for its task's dependencies); break the cycle by removing one of \
         these dependencies",
        .path.join(" -> ")
    )]
    DependencyCycle { path: Vec<String> },

    #[error(
        "cannot remove `{id}`{}: {} depend{} on it; remove {} in the same batch, or update \
         {} to drop `{id}` from dependsOn first",
        removed_with_text(.removed_with),
        backticked(.dependants),
        if .dependants.len() == 1 { "s" } else { "" },
        if .dependants.len() == 1 { "it" } else { "them" },
        if .dependants.len() == 1 { "it" } else { "them" }
    )]
    DependedOn {
        id: String,
        /// The explicitly removed ancestor, when `id` goes with a subtree.
        removed_with: Option<String>,
        dependants: Vec<String>,
    },

    #[error("`{id}` has an empty title: give it a short imperative title")]
    EmptyTitle { id: String },

    #[error(
        "the title of `{id}` is {len} characters long: keep it at most {max} characters and \
         move details into description",
        max = MAX_TITLE_LEN
    )]
    TitleTooLong { id: String, len: usize },

    #[error("unknown agent `{agent}` for `{id}`: use one of {}", .allowed.join(", "))]
    UnknownAgent {
        id: String,
        agent: String,
        allowed: Vec<String>,
    },

    #[error(
        "`{id}` has no agent: an item without subtasks is run by an agent; set agent to one \
         of {}",
        .allowed.join(", ")
    )]
    MissingAgent { id: String, allowed: Vec<String> },

    #[error(
        "cannot set the status of `{id}`: it has subtasks, so its status is derived from \
         theirs; set the status of its subtasks instead"
    )]
    StatusOnNonLeaf { id: String },

    #[error(
        "cannot set `{id}` to running: the server marks items running when it dispatches \
         them; use pending, done, failed, skipped or cancelled"
    )]
    RunningByEdit { id: String },

    #[error(
        "the plan would have {count} items, but at most {max} are allowed; merge small items \
         into one, or remove items that are no longer needed"
    )]
    TooManyItems { count: usize, max: usize },

    #[error(
        "{} problems in this edit batch, nothing was applied:\n{}",
        .0.len(),
        numbered(.0)
    )]
    Multiple(Vec<PlanError>),

    #[error("cannot dispatch `{id}`: {reason}")]
    NotReady { id: String, reason: String },

    #[error("cannot dispatch `{id}`: the task id is empty")]
    EmptyTaskId { id: String },

    #[error("cannot dispatch `{id}`: task `{task_id}` is already running `{other}`")]
    TaskIdInUse {
        id: String,
        task_id: String,
        other: String,
    },

    #[error("cannot retry `{id}`: {reason}")]
    NotRetryable { id: String, reason: String },
}

impl PlanError {
    /// One error as is, several wrapped in `Multiple`.
    pub(crate) fn from_many(mut errors: Vec<PlanError>) -> PlanError {
        if errors.len() == 1
            && let Some(only) = errors.pop()
        {
            return only;
        }
        PlanError::Multiple(errors)
    }

    /// The individual problems: itself, or the members of `Multiple`.
    pub fn problems(&self) -> Vec<&PlanError> {
        match self {
            PlanError::Multiple(all) => all.iter().collect(),
            other => vec![other],
        }
    }
}

/// Cut an input-derived string so one huge bogus id cannot bloat a message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = MAX_ID_LEN + 16;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

pub(crate) fn backticked(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn removed_with_text(removed_with: &Option<String>) -> String {
    match removed_with {
        Some(ancestor) => format!(" (removed together with `{ancestor}`)"),
        None => String::new(),
    }
}

fn numbered(errors: &[PlanError]) -> String {
    let mut lines: Vec<String> = errors
        .iter()
        .take(MAX_LISTED_ERRORS)
        .enumerate()
        .map(|(n, e)| format!("{}. {e}", n + 1))
        .collect();
    if errors.len() > MAX_LISTED_ERRORS {
        lines.push(format!(
            "... {} more not shown",
            errors.len() - MAX_LISTED_ERRORS
        ));
    }
    lines.join("\n")
}
