//! `plan_get`: the mission's plan and what its tasks reported.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct PlanGet;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The mission (default: the one this session works for).
    #[serde(default)]
    mission_id: Option<String>,
}

#[async_trait]
impl Tool for PlanGet {
    const NAME: &'static str = "plan_get";
    const REPEATABLE: bool = true;
    const DESCRIPTION: &'static str = "Show the mission's plan: each item's status, what is \
ready, running, failed or blocked, and what finished tasks reported.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        mission_tool::call(orchestrator, ctx, args.mission_id, ToolRequest::PlanGet).await
    }
}
