//! `mission_verdict`: the Inspector's PASS or FAIL on a mission, with evidence and fixes.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::model::Verdict;
use crate::orchestrator::missions::{Fix, ToolRequest};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct MissionVerdict;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    verdict: Verdict,
    /// What you checked and what it showed: commands run, their results, files read.
    #[schemars(length(min = 1, max = 8000))]
    evidence: String,
    /// For a fail: what must be fixed, each with a title, a description and an agent.
    #[serde(default)]
    #[schemars(length(max = 20))]
    fixes: Vec<Fix>,
}

#[async_trait]
impl Tool for MissionVerdict {
    const NAME: &'static str = "mission_verdict";
    const DESCRIPTION: &'static str = "Give the verification verdict on the mission you are \
verifying: pass, or fail with the fixes needed. Only the Inspector running the verification \
may call it.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let request = ToolRequest::Verdict {
            verdict: args.verdict,
            evidence: args.evidence,
            fixes: args.fixes,
        };
        mission_tool::call(orchestrator, ctx, None, request).await
    }
}
