//! Dispatch bookkeeping done by the server (not by model edits): marking a
//! ready leaf as running, recording the outcome of its delegated task and
//! resetting a failed leaf for another attempt. None of these change the
//! plan revision.

use super::error::{PlanError, clip};
use super::index::Index;
use super::model::{ItemStatus, MAX_RESULT_LEN, Plan, TaskOutcome, short_text};
use super::ready::readiness;

impl Plan {
    /// Marks ready leaf `id` as running as delegated task `task_id`
    /// (pending -> running, `attempts += 1`).
    pub fn mark_dispatched(&mut self, id: &str, task_id: &str) -> Result<(), PlanError> {
        let pos = {
            let index = Index::new(&self.items);
            let Some(i) = index.get(id) else {
                return Err(PlanError::UnknownItem {
                    op: "dispatch",
                    id: clip(id),
                });
            };
            if task_id.trim().is_empty() {
                return Err(PlanError::EmptyTaskId { id: clip(id) });
            }
            readiness(&index, i).map_err(|reason| PlanError::NotReady {
                id: clip(id),
                reason,
            })?;
            i
        };
        if let Some(other) = self.running_item_with_task(task_id) {
            return Err(PlanError::TaskIdInUse {
                id: clip(id),
                task_id: clip(task_id),
                other: self.items[other].id.clone(),
            });
        }
        let item = &mut self.items[pos];
        item.status = ItemStatus::Running;
        item.task_id = Some(task_id.to_string());
        item.attempts = item.attempts.saturating_add(1);
        Ok(())
    }

    /// Records how delegated task `task_id` ended on the running item it
    /// runs, and returns that item's id. `None` when no running item has
    /// this task id: an unknown task, a duplicate report, or a task
    /// detached by an edit (late results are ignored).
    pub fn record_task_result(&mut self, task_id: &str, outcome: TaskOutcome) -> Option<String> {
        let pos = self.running_item_with_task(task_id)?;
        let item = &mut self.items[pos];
        let (status, result) = match outcome {
            TaskOutcome::Completed { summary } => (ItemStatus::Done, summary),
            TaskOutcome::Failed { error } => (ItemStatus::Failed, error),
            TaskOutcome::Cancelled => (ItemStatus::Cancelled, String::new()),
        };
        item.status = status;
        item.result = short_text(&result, MAX_RESULT_LEN);
        Some(item.id.clone())
    }

    /// Puts a failed or cancelled leaf back to pending so it can be
    /// dispatched again. Keeps `attempts` and the last `result` (the error,
    /// useful for the next attempt); clears `task_id`.
    pub fn reset_for_retry(&mut self, id: &str) -> Result<(), PlanError> {
        let pos = {
            let index = Index::new(&self.items);
            let Some(i) = index.get(id) else {
                return Err(PlanError::UnknownItem {
                    op: "retry",
                    id: clip(id),
                });
            };
            if !index.is_leaf(i) {
                return Err(PlanError::NotRetryable {
                    id: clip(id),
                    reason: "it has subtasks; retry its failed subtasks instead".to_string(),
                });
            }
            let status = index.item(i).status;
            if !status.is_dead() {
                return Err(PlanError::NotRetryable {
                    id: clip(id),
                    reason: format!(
                        "it is {status}; only failed or cancelled items can be retried"
                    ),
                });
            }
            i
        };
        let item = &mut self.items[pos];
        item.status = ItemStatus::Pending;
        item.task_id = None;
        Ok(())
    }

    fn running_item_with_task(&self, task_id: &str) -> Option<usize> {
        self.items.iter().position(|item| {
            item.status == ItemStatus::Running && item.task_id.as_deref() == Some(task_id)
        })
    }
}
