//! The mission plan model: a hierarchy of tasks and subtasks with
//! dependencies, edited by the Architect in atomic batches and executed by
//! the server, which dispatches ready leaves to specialist agents.
//!
//! Levels: the mission itself (implicit root), tasks (items without parent)
//! and subtasks (items whose parent is a task). Pure logic: no I/O.
//!
//! - [`model`]: the stored types (`Plan`, `PlanItem`, ...)
//! - [`input`]: edit operations (tool-argument types with JSON schemas)
//! - [`error`]: `PlanError`, with messages meant for the model
//! - `edit` / `validate`: `Plan::apply` and its checks
//! - `ready`: readiness, derived status, progress, waves
//! - `dispatch`: `mark_dispatched`, `record_task_result`, `reset_for_retry`
//! - [`render`]: `todo.md` and the Commander's prompt summary

mod dispatch;
mod edit;
pub mod error;
mod index;
pub mod input;
pub mod model;
mod ready;
pub mod render;
mod validate;

#[cfg(test)]
mod tests;

pub use error::PlanError;
pub use input::{AddItem, EditPlanArgs, PlanEdit, RemoveItem, UpdateItem};
pub use model::{
    ApplySummary, BlockedLeaf, DetachedTask, ItemStatus, MAX_ID_LEN, MAX_ITEMS, MAX_RESULT_LEN,
    MAX_TITLE_LEN, Plan, PlanItem, Progress, ProgressKey, TaskOutcome,
};
