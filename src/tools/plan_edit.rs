//! `plan_edit`: write or change the mission's plan, one atomic batch of edits.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolOutput, mission_tool};
use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::plan::{EditPlanArgs, PlanEdit};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct PlanEditTool;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// Applied together or not at all. `{"op": "add", "id", "title", "agent", "parent"?,
    /// "dependsOn"?: [ids], "description"?}`, `{"op": "update", "id", ...fields to change}`,
    /// `{"op": "remove", "id"}`. Ids: letters, digits, `.`, `_`, `-`. At most 3 levels:
    /// the mission, tasks (no parent), subtasks (parent is a task).
    #[schemars(length(min = 1, max = 200))]
    edits: Vec<PlanEdit>,
    /// The mission (default: the one this session works for).
    #[serde(default)]
    mission_id: Option<String>,
}

#[async_trait]
impl Tool for PlanEditTool {
    const NAME: &'static str = "plan_edit";
    const DESCRIPTION: &'static str = "Write or change the mission's plan: tasks and subtasks, \
each with an id, a title, the agent that does it (architect, builder, inspector, recorder, \
librarian, researcher), what it depends on, and a description with acceptance criteria. Items \
with no unfinished dependencies run in parallel, so split work into independent pieces. \
Returns the plan's state.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let request = ToolRequest::EditPlan(EditPlanArgs { edits: args.edits });
        mission_tool::call(orchestrator, ctx, args.mission_id, request).await
    }
}
