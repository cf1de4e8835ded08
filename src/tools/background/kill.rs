//! `kill_background`: stop a running job and everything it started.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::describe;
use super::jobs::JobStatus;
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::tools::{Tool, ToolContext, ToolOutput};

pub struct KillBackground;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The job id returned by run_background.
    #[schemars(length(min = 1))]
    job_id: String,
}

#[async_trait]
impl Tool for KillBackground {
    const NAME: &'static str = "kill_background";
    const DESCRIPTION: &'static str = "Stop a running background job: its whole process group \
gets SIGTERM, then SIGKILL after a short grace. Answers once it has stopped, with its final \
status. A job that already ended is left as it is.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let (killed, r) = orchestrator.jobs().kill(&args.job_id).await?;
        let output = if killed {
            match r.status {
                JobStatus::Running => format!(
                    "Job {} was told to stop and is still stopping; check_background shows when it has.",
                    r.job_id
                ),
                _ => format!("Stopped job {}.", describe(&r)),
            }
        } else {
            format!("Job {} had already ended; nothing to stop.", describe(&r))
        };
        Ok(ToolOutput {
            title: Some(format!("{} {}", r.job_id, r.status)),
            output,
            metadata: json!({"killed": killed, "job": r.summary()}),
        })
    }
}
