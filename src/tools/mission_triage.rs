//! `mission_triage`: the Commander records how big the mission is.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::missions::model::Level;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct MissionTriage;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// L1: do it directly; L2: a short plan; L3: research, then a deep plan.
    level: Level,
    /// Why, in a sentence.
    #[schemars(length(min = 1, max = 1000))]
    reason: String,
    /// The mission (default: the one this session works for).
    #[serde(default)]
    mission_id: Option<String>,
}

#[async_trait]
impl Tool for MissionTriage {
    const NAME: &'static str = "mission_triage";
    const DESCRIPTION: &'static str = "Record the mission's size: L1 (small, do it yourself), \
L2 (a short plan of a few items) or L3 (large: research first, then a deep plan).";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let request = ToolRequest::Triage {
            level: args.level,
            reason: args.reason,
        };
        mission_tool::call(orchestrator, ctx, args.mission_id, request).await
    }
}
