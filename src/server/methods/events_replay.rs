//! `orchestrator/events/replay`: events after a `seq`, from memory or the ledger.

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::{from_orchestrator, invalid_params, parse_params};
use crate::server::lsp::Session;

const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    /// Replay events with a greater `seq` (0: from the beginning).
    #[serde(default)]
    pub after_seq: u64,
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    1000
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    if p.limit == 0 || p.limit > MAX_LIMIT {
        return Err(invalid_params(format!(
            "invalid params at `limit`: must be between 1 and {MAX_LIMIT}, got {}",
            p.limit
        )));
    }
    let replay = session
        .orchestrator()?
        .replay(p.after_seq, p.limit)
        .await
        .map_err(|e| from_orchestrator(&e))?;
    Ok(json!(replay))
}
