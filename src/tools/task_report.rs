//! `task_report`: an agent working on a mission's task hands back a structured result.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::missions::model::Report;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct TaskReport;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// What was done and found, in a few sentences.
    #[schemars(length(min = 1, max = 4000))]
    summary: String,
    /// Files created, changed or deleted, relative to the workspace.
    #[serde(default)]
    #[schemars(length(max = 500))]
    files_changed: Vec<String>,
    /// Work left over or noticed on the way.
    #[serde(default)]
    #[schemars(length(max = 50))]
    follow_ups: Vec<String>,
}

#[async_trait]
impl Tool for TaskReport {
    const NAME: &'static str = "task_report";
    const DESCRIPTION: &'static str = "Report your finished part of a mission: a short summary, \
the files you changed, and follow-ups. The Commander and the agents after you get this \
instead of your whole transcript.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let request = ToolRequest::Report(Report {
            summary: args.summary,
            files_changed: args.files_changed,
            follow_ups: args.follow_ups,
        });
        mission_tool::call(orchestrator, ctx, None, request).await
    }
}
