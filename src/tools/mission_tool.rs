//! What the mission tools share: sending the request to the mission engine and turning its
//! reply into a tool output.

use crate::orchestrator::missions::ToolRequest;
use crate::orchestrator::{Orchestrator, OrchestratorError};

use super::{ToolContext, ToolOutput};

pub async fn call(
    orchestrator: &Orchestrator,
    ctx: &ToolContext,
    mission_id: Option<String>,
    request: ToolRequest,
) -> Result<ToolOutput, OrchestratorError> {
    let reply = orchestrator
        .missions()
        .tool(ctx.session_id.clone(), mission_id, request)
        .await?;
    Ok(ToolOutput {
        title: Some(reply.title),
        output: reply.output,
        metadata: reply.metadata,
    })
}
