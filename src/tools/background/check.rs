//! `check_background`: a job's status, exit code, duration and the tail of its output.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::ring::MAX_TAIL;
use super::{describe, render_tail};
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::tools::{Tool, ToolContext, ToolOutput};

pub struct CheckBackground;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The job id returned by run_background.
    #[schemars(length(min = 1))]
    job_id: String,
    /// Lines of stdout and of stderr to show, from the end (default 50, at most 1000).
    #[serde(default = "default_tail")]
    #[schemars(default = "default_tail")]
    tail_lines: usize,
    /// Wait up to this many milliseconds for the job to finish (capped by the server; default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 600000))]
    wait_ms: u64,
}

fn default_tail() -> usize {
    50
}

#[async_trait]
impl Tool for CheckBackground {
    const NAME: &'static str = "check_background";
    const REPEATABLE: bool = true;
    const DESCRIPTION: &'static str = "Show a background job's status (running, exited, failed, \
timed_out, killed, lost), exit code, duration and the last lines of its stdout and stderr, with \
the paths of its full logs. Optionally waits up to waitMs for it to finish.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let tail = args.tail_lines.min(MAX_TAIL);
        let wait = args
            .wait_ms
            .min(orchestrator.config().scheduler.max_wait_ms);
        let view = orchestrator
            .jobs()
            .check(&args.job_id, tail, Duration::from_millis(wait))
            .await?;
        let r = &view.record;
        let mut out = format!(
            "Job {}.\nCommand: `{}` in {}\n",
            describe(r),
            r.command,
            r.cwd
        );
        if let Some(note) = &r.note {
            out.push_str(&format!("Note: {note}.\n"));
        }
        out.push('\n');
        out.push_str(&render_tail("stdout", &view.stdout, tail));
        out.push('\n');
        out.push_str(&render_tail("stderr", &view.stderr, tail));
        out.push_str(&format!(
            "\nFull logs: {} and {}",
            r.stdout_log.display(),
            r.stderr_log.display()
        ));
        Ok(ToolOutput {
            title: Some(format!("{} {}", r.job_id, r.status)),
            output: out,
            metadata: json!({
                "job": r.summary(),
                "stdout": {"lines": view.stdout.lines, "total": view.stdout.total,
                           "note": view.stdout.note},
                "stderr": {"lines": view.stderr.lines, "total": view.stderr.total,
                           "note": view.stderr.note},
            }),
        })
    }
}
