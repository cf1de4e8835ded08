//! `get_task_result`: the status and result of a delegated task, for any id ever returned.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::task::{Task, TaskStatus};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct GetTaskResult;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The task id returned by delegate_task.
    #[schemars(length(min = 1))]
    task_id: String,
    /// Wait up to this many milliseconds for the task to finish (capped by the server; default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 600000))]
    wait_ms: u64,
}

/// The model-facing account of a task.
pub(super) fn describe(task: &Task) -> String {
    let head = format!(
        "Task {} ({}, {}): {}",
        task.id, task.agent, task.description, task.status
    );
    match task.status {
        TaskStatus::Completed => format!(
            "{head}\n\n{}",
            task.result.as_deref().unwrap_or("(the agent gave no text)")
        ),
        TaskStatus::Queued => format!("{head}. It is waiting for a free slot."),
        TaskStatus::Running => format!(
            "{head}. It is still running; you will be notified when it finishes, or call get_task_result again with waitMs."
        ),
        _ => format!(
            "{head}. {}",
            task.error
                .as_deref()
                .unwrap_or("No further detail was recorded.")
        ),
    }
}

#[async_trait]
impl Tool for GetTaskResult {
    const NAME: &'static str = "get_task_result";
    const REPEATABLE: bool = true;
    const DESCRIPTION: &'static str = "Get the status and result of a delegated task by its id. \
Works for every task id delegate_task ever returned, finished or not.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let wait = Duration::from_millis(args.wait_ms).min(orchestrator.max_wait());
        let task = orchestrator.wait(args.task_id.trim(), wait).await?;
        Ok(ToolOutput {
            title: Some(format!("{} {}", task.id, task.status)),
            output: describe(&task),
            metadata: json!({"task": task}),
        })
    }
}
