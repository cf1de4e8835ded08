//! `delegate_task`: hand a piece of work to a specialist agent in its own child session.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::get_task_result::describe;
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{DelegateRequest, Orchestrator, OrchestratorError};

pub struct DelegateTask;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The agent to run the task: architect, builder, inspector, recorder, librarian or researcher.
    #[schemars(length(min = 1))]
    agent: String,
    /// A short description of the task (3-10 words), shown in task lists.
    #[schemars(length(min = 1, max = 200))]
    description: String,
    /// The complete instructions for the agent: goal, context, files, and what to report back.
    #[schemars(length(min = 1))]
    prompt: String,
    /// true (default): return at once; you are told when the task finishes. false: wait for the result.
    #[serde(default = "default_true")]
    #[schemars(default = "default_true")]
    background: bool,
    /// Id of an earlier, finished task whose session should continue with this prompt.
    #[serde(default)]
    resume: Option<String>,
    /// Tasks with a higher priority start first when slots are scarce (default 0).
    #[serde(default)]
    #[schemars(range(min = -100, max = 100))]
    priority: i32,
    /// A model for this task as "provider/model"; the agent's default when omitted.
    #[serde(default)]
    model: Option<String>,
}

fn default_true() -> bool {
    true
}

#[async_trait]
impl Tool for DelegateTask {
    const NAME: &'static str = "delegate_task";
    const DESCRIPTION: &'static str = "Delegate a task to a specialist agent running in its own child session. \
Background tasks (the default) run in parallel and you are notified when they finish; use get_task_result to read a result. \
Set background=false to wait for the result instead.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let background = args.background;
        let task = orchestrator
            .delegate(DelegateRequest {
                agent: args.agent,
                description: args.description,
                prompt: args.prompt,
                background,
                priority: args.priority,
                model: args.model,
                parent_session_id: ctx.session_id.clone(),
                resume: args.resume,
                parent_agent: ctx.agent.clone(),
                ..Default::default()
            })
            .await?;
        if background {
            return Ok(ToolOutput {
                title: Some(format!("{}: {}", task.agent, task.description)),
                output: format!(
                    "Task {} queued for {} ({}). It runs in the background; you will be notified when it finishes. \
Use get_task_result with taskId \"{}\" to read its result.",
                    task.id, task.agent, task.description, task.id
                ),
                metadata: json!({"task": task.summary()}),
            });
        }
        // Waiting is bounded: no request stays open for the life of a sub-agent.
        let wait: Duration = orchestrator.max_wait();
        let task = orchestrator.wait(&task.id, wait).await?;
        Ok(ToolOutput {
            title: Some(format!("{}: {}", task.agent, task.description)),
            output: describe(&task),
            metadata: json!({"task": task.summary()}),
        })
    }
}
