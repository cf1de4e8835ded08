//! `plan_dispatch`: start every ready plan item, in parallel, within the scheduler's limits.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct PlanDispatch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The mission (default: the one this session works for).
    #[serde(default)]
    mission_id: Option<String>,
}

#[async_trait]
impl Tool for PlanDispatch {
    const NAME: &'static str = "plan_dispatch";
    const DESCRIPTION: &'static str = "Start every plan item whose dependencies are done, each \
as a task for its agent, all in parallel. From then on items start by themselves as their \
dependencies finish; you are woken when the work is done or needs a decision.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        mission_tool::call(orchestrator, ctx, args.mission_id, ToolRequest::Dispatch).await
    }
}
