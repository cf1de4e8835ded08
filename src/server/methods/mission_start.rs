//! `orchestrator/mission/start`: start a mission in a session (the one `/task` was typed in),
//! or in a new session the server creates and prompts.

use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;

use crate::orchestrator::missions::StartMission;
use crate::server::errors::invalid_params;
use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    pub goal: String,
    #[serde(default)]
    pub session_id: Option<String>,
    /// Send the opening prompt to the given session (a new session always gets it).
    #[serde(default)]
    pub prompt: bool,
    /// Budgets for this mission, key by key over `missions.budgets` (`null` lifts a limit).
    #[serde(default)]
    pub budgets: Option<Value>,
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let orchestrator = session.orchestrator()?;
    let budgets = p
        .budgets
        .map(|b| orchestrator.config().missions.budgets.overlay(b))
        .transpose()
        .map_err(invalid_params)?;
    orchestrator
        .missions()
        .start(StartMission {
            goal: p.goal,
            session_id: p.session_id,
            prompt: p.prompt,
            budgets,
        })
        .await
        .map_err(|e| from_orchestrator(&e))
}
