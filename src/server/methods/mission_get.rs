//! `orchestrator/mission/get`: a mission whole (plan, budgets, spend per task, verification,
//! context) with its journal.

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
    /// Journal entries after this `seq` (default: from the start).
    #[serde(default)]
    pub journal_after: i64,
    /// At most this many journal entries (1-1000, default 200).
    #[serde(default = "default_limit")]
    pub journal_limit: usize,
}

fn default_limit() -> usize {
    200
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let target = target(p.mission_id, p.session_id)?;
    session
        .orchestrator()?
        .missions()
        .get(target, p.journal_after, p.journal_limit)
        .await
        .map_err(|e| from_orchestrator(&e))
}
