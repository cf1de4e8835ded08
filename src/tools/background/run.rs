//! `run_background`: start a shell command as a background job and return its id at once.

use std::collections::BTreeMap;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::human_ms;
use super::jobs::RunRequest;
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::tools::{Tool, ToolContext, ToolOutput};

pub struct RunBackground;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The shell command, run as `sh -c <command>` in its own process group (stdin is empty).
    #[schemars(length(min = 1, max = 65536))]
    command: String,
    /// Working directory, relative to the workspace root (default: the root). Must be an
    /// existing directory inside the workspace.
    #[serde(default)]
    cwd: Option<String>,
    /// Milliseconds before the job and everything it started are stopped (default 30 minutes;
    /// at most the server's jobs.maxTimeoutMs, 24 hours unless configured).
    #[serde(default)]
    #[schemars(range(min = 100, max = 604800000))]
    timeout_ms: Option<u64>,
    /// A short name for listings and the completion event (default: the command).
    #[serde(default)]
    #[schemars(length(max = 200))]
    label: Option<String>,
    /// Extra environment variables, added to the server's environment.
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[async_trait]
impl Tool for RunBackground {
    const NAME: &'static str = "run_background";
    const DESCRIPTION: &'static str = "Run a shell command in the background (builds, test \
suites, servers, long scripts) and get a job id at once, without waiting for it. The command runs \
with `sh -c` in the workspace (or `cwd` inside it) in its own process group; on timeout, \
kill_background or server exit the whole group is stopped. Follow it with check_background \
(status, exit code, output tail) and stop it with kill_background.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let r = orchestrator
            .jobs()
            .run(RunRequest {
                command: args.command,
                cwd: args.cwd,
                timeout_ms: args.timeout_ms,
                label: args.label,
                env: args.env,
                started_by: ctx.session_id.clone(),
            })
            .await?;
        let pid = r.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
        let cwd = if r.cwd == "." {
            "the workspace root".to_string()
        } else {
            r.cwd.clone()
        };
        let output = format!(
            "Started background job {} ({}{pid}) in {} with a timeout of {}.\n\
             Check it with check_background {{\"jobId\": \"{}\"}} (add waitMs to wait for it); \
             stop it with kill_background.",
            r.job_id,
            r.label,
            cwd,
            human_ms(r.timeout_ms),
            r.job_id
        );
        Ok(ToolOutput {
            title: Some(format!("{} started", r.job_id)),
            output,
            metadata: json!({"job": r.summary()}),
        })
    }
}
