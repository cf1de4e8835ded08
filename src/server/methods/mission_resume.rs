//! `orchestrator/mission/resume`: continue a paused or stopped mission, optionally with new
//! budgets; its breakers start over.

use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;

use super::mission_target::target;
use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub mission_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    /// New budgets, key by key over the mission's current ones (`null` lifts a limit).
    #[serde(default)]
    pub budgets: Option<Value>,
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let target = target(p.mission_id, p.session_id)?;
    session
        .orchestrator()?
        .missions()
        .resume(target, p.budgets)
        .await
        .map_err(|e| from_orchestrator(&e))
}
