//! `orchestrator/task/list`: tasks newest first, filtered and paged.

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::orchestrator::ledger::TaskFilter;
use crate::orchestrator::task::TaskStatus;
use crate::server::errors::{from_orchestrator, invalid_params, parse_params};
use crate::server::lsp::Session;

const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    pub parent_session_id: Option<String>,
    #[serde(default)]
    pub status: Vec<TaskStatus>,
    pub agent: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Include each task's prompt and result text (default false: summaries only).
    #[serde(default)]
    pub full: bool,
}

fn default_limit() -> usize {
    100
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    if p.limit == 0 || p.limit > MAX_LIMIT {
        return Err(invalid_params(format!(
            "invalid params at `limit`: must be between 1 and {MAX_LIMIT}, got {}",
            p.limit
        )));
    }
    let page = session
        .orchestrator()?
        .list(TaskFilter {
            parent_session_id: p.parent_session_id,
            statuses: p.status,
            agent: p.agent.map(|a| a.trim().to_ascii_lowercase()),
            limit: p.limit,
            before: p.cursor,
        })
        .await
        .map_err(|e| from_orchestrator(&e))?;
    let tasks: Vec<Value> = page
        .tasks
        .iter()
        .map(|t| if p.full { json!(t) } else { t.summary() })
        .collect();
    Ok(json!({ "tasks": tasks, "total": page.total, "nextCursor": page.next_cursor }))
}
