//! Naming a mission in params: by `missionId`, or by the `sessionId` it runs in.

use tower_lsp_server::jsonrpc::Error;

use crate::orchestrator::missions::Target;
use crate::server::errors::invalid_params;

pub fn target(mission_id: Option<String>, session_id: Option<String>) -> Result<Target, Error> {
    match (mission_id, session_id) {
        (Some(id), None) => Ok(Target::Id(id)),
        (None, Some(session)) => Ok(Target::Session(session)),
        _ => Err(invalid_params(
            "name the mission with exactly one of `missionId` or `sessionId`",
        )),
    }
}
