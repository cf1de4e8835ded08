//! `list_tasks`: the tasks delegated from this session (or all of them), newest first.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::ledger::TaskFilter;
use crate::orchestrator::task::TaskStatus;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct ListTasks;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// Only tasks in these states.
    #[serde(default)]
    status: Vec<TaskStatus>,
    /// Only tasks of this agent.
    #[serde(default)]
    agent: Option<String>,
    /// true: tasks from every session; false (default): only those this session delegated.
    #[serde(default)]
    all: bool,
    /// At most this many tasks (default 20).
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 200), default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    20
}

#[async_trait]
impl Tool for ListTasks {
    const NAME: &'static str = "list_tasks";
    const REPEATABLE: bool = true;
    const DESCRIPTION: &'static str = "List delegated tasks with their status, newest first. \
By default only the tasks this session delegated; set all=true for every task.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let page = orchestrator
            .list(TaskFilter {
                parent_session_id: if args.all {
                    None
                } else {
                    ctx.session_id.clone()
                },
                statuses: args.status,
                agent: args.agent.map(|a| a.trim().to_ascii_lowercase()),
                limit: args.limit,
                before: None,
            })
            .await?;
        let mut out = if page.tasks.is_empty() {
            "No tasks match.".to_string()
        } else {
            format!("{} of {} tasks:\n", page.tasks.len(), page.total)
        };
        for t in &page.tasks {
            let took = t
                .duration_ms()
                .map(|ms| format!(", {:.1}s", ms as f64 / 1000.0))
                .unwrap_or_default();
            out.push_str(&format!(
                "- {} [{}] {}: {}{}\n",
                t.id, t.status, t.agent, t.description, took
            ));
        }
        let summaries: Vec<_> = page.tasks.iter().map(|t| t.summary()).collect();
        Ok(ToolOutput {
            title: Some(format!("{} tasks", page.total)),
            output: out,
            metadata: json!({"tasks": summaries, "total": page.total}),
        })
    }
}
