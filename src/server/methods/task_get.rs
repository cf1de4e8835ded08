//! `orchestrator/task/get`: one task by id, optionally waiting (bounded) for it to finish.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    pub task_id: String,
    /// Wait up to this long for the task to finish; capped at `scheduler.maxWaitMs`.
    #[serde(default)]
    pub wait_ms: u64,
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let orch = session.orchestrator()?;
    let wait = Duration::from_millis(p.wait_ms).min(orch.max_wait());
    let task = orch
        .wait(&p.task_id, wait)
        .await
        .map_err(|e| from_orchestrator(&e))?;
    Ok(json!({ "task": task }))
}
