//! `orchestrator/mission/list`: missions, newest first.

use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    /// Only these statuses (active, paused, stopped, completed, cancelled).
    #[serde(default)]
    pub status: Vec<String>,
    /// At most this many (1-1000, default 50).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    50
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    session
        .orchestrator()?
        .missions()
        .list(p.status, p.limit)
        .await
        .map_err(|e| from_orchestrator(&e))
}
