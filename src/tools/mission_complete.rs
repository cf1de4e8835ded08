//! `mission_complete`: the Commander says the work is done; the Inspector verifies it.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct MissionComplete;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// What was done, and how the acceptance criteria are met.
    #[schemars(length(min = 1, max = 4000))]
    summary: String,
    /// The mission (default: the one this session works for).
    #[serde(default)]
    mission_id: Option<String>,
}

#[async_trait]
impl Tool for MissionComplete {
    const NAME: &'static str = "mission_complete";
    const DESCRIPTION: &'static str = "Say the mission's work is done and have the Inspector \
verify it. The mission is complete only when the Inspector passes it; a fail turns into fix \
items. Refused while plan items are unfinished.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let request = ToolRequest::Complete {
            summary: args.summary,
        };
        mission_tool::call(orchestrator, ctx, args.mission_id, request).await
    }
}
