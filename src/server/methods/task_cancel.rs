//! `orchestrator/task/cancel`: cancel a queued task, or abort a running one's session.

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    pub task_id: String,
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let outcome = session
        .orchestrator()?
        .cancel(&p.task_id)
        .await
        .map_err(|e| from_orchestrator(&e))?;
    Ok(json!({ "cancelled": outcome.cancelled, "task": outcome.task }))
}
