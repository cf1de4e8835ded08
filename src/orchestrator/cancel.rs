//! Cancelling queued and running tasks.

use std::time::Duration;

use super::ledger::Op;
use super::task::{Task, TaskStatus, now_ms};
use super::{Orchestrator, OrchestratorError};

/// How long a cancel request waits for a running task to be aborted and recorded.
const CANCEL_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct CancelOutcome {
    /// The task as recorded after the cancel.
    pub task: Task,
    /// False when the task had already finished (nothing to cancel).
    pub cancelled: bool,
}

impl Orchestrator {
    pub async fn cancel(&self, task_id: &str) -> Result<CancelOutcome, OrchestratorError> {
        let core = &self.core;
        let (was_queued, token) = {
            let mut st = core.state.lock();
            if st.dequeue(task_id) {
                (true, None)
            } else {
                (false, st.cancel_token(task_id))
            }
        };
        if was_queued {
            let mut task = core.task(task_id).await?;
            task.status = TaskStatus::Cancelled;
            task.finished_at = Some(now_ms());
            task.error = Some("cancelled before it started".into());
            let mut ops = vec![Op::PutTask(task.clone())];
            ops.extend(super::runner::ending_ops(&task));
            if let Err(e) = core.ledger.commit(ops).await {
                // Not recorded, so not cancelled: it waits in the queue again.
                core.state.lock().enqueue_recovered(&task);
                core.dispatch();
                return Err(e.into());
            }
            core.notice_committed(&task);
            return Ok(CancelOutcome {
                task,
                cancelled: true,
            });
        }
        if let Some(token) = token {
            // The runner aborts the session and records the cancel; wait for that record.
            // The slot outlives the record for a moment, so a second cancel can still find
            // the token: only the request that pulled the switch reports the cancel.
            let first = !token.is_cancelled();
            token.cancel();
            let task = self.wait(task_id, CANCEL_WAIT).await?;
            let cancelled = first && task.status == TaskStatus::Cancelled;
            return Ok(CancelOutcome { task, cancelled });
        }
        let task = core.task(task_id).await?;
        Ok(CancelOutcome {
            task,
            cancelled: false,
        })
    }
}
