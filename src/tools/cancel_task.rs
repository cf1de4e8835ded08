//! `cancel_task`: stop a queued or running task (its session is aborted, not deleted).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct CancelTask;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The id of the task to cancel.
    #[schemars(length(min = 1))]
    task_id: String,
}

#[async_trait]
impl Tool for CancelTask {
    const NAME: &'static str = "cancel_task";
    const DESCRIPTION: &'static str = "Cancel a queued or running task. A running task's session is aborted; its partial work stays.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let outcome = orchestrator.cancel(args.task_id.trim()).await?;
        let t = &outcome.task;
        let output = if outcome.cancelled {
            format!("Task {} ({}) was cancelled.", t.id, t.description)
        } else {
            format!(
                "Task {} ({}) was not cancelled: it is already {}.",
                t.id, t.description, t.status
            )
        };
        Ok(ToolOutput {
            title: Some(format!("cancel {}", t.id)),
            output,
            metadata: json!({"task": t.summary(), "cancelled": outcome.cancelled}),
        })
    }
}
