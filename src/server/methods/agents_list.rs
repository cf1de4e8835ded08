//! `orchestrator/agents/list`: the seven agents, each in the shape of OpenCode's
//! `cfg.agent[name]` (plus its `name` and `displayName`).

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::orchestrator::agents::AGENTS;
use crate::server::errors::parse_params;
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub async fn handle(_session: &Session, params: Value) -> Result<Value> {
    let _: Params = parse_params(params)?;
    Ok(json!({ "agents": AGENTS }))
}
