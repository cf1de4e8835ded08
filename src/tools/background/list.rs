//! `list_background`: this workspace's background jobs, newest first.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::describe;
use super::jobs::{JobRecord, JobStatus};
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::tools::{Tool, ToolContext, ToolOutput};

pub struct ListBackground;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// Only jobs in these states.
    #[serde(default)]
    status: Vec<JobStatus>,
    /// At most this many jobs (default 50).
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 1000), default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    50
}

#[async_trait]
impl Tool for ListBackground {
    const NAME: &'static str = "list_background";
    const REPEATABLE: bool = true;
    const DESCRIPTION: &'static str = "List this workspace's background jobs, newest first, with \
their status (running, exited, failed, timed_out, killed, lost), label and duration. Jobs from \
before a server restart are included; those that were running then are `lost`.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let (jobs, total) = orchestrator.jobs().list(&args.status, args.limit);
        let mut out = if jobs.is_empty() {
            "No background jobs match.".to_string()
        } else {
            format!("{} of {total} background jobs:\n", jobs.len())
        };
        for r in &jobs {
            out.push_str(&format!("- {}\n", describe(r)));
        }
        let summaries: Vec<_> = jobs.iter().map(JobRecord::summary).collect();
        Ok(ToolOutput {
            title: Some(format!("{total} background jobs")),
            output: out,
            metadata: json!({"jobs": summaries, "total": total}),
        })
    }
}
