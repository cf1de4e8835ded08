//! `orchestrator/task/delegate`: queue a task for an agent. Answers at once with the task.

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::orchestrator::DelegateRequest;
use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    pub agent: String,
    pub description: String,
    pub prompt: String,
    #[serde(default = "yes")]
    pub background: bool,
    #[serde(default)]
    pub priority: i32,
    pub model: Option<String>,
    /// The session that delegates; its depth decides this task's depth.
    pub parent_session_id: Option<String>,
    /// Continue the session of this earlier task.
    pub resume: Option<String>,
    /// The delegating session's agent; the parent is woken with it.
    pub parent_agent: Option<String>,
}

fn yes() -> bool {
    true
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let task = session
        .orchestrator()?
        .delegate(DelegateRequest {
            agent: p.agent,
            description: p.description,
            prompt: p.prompt,
            background: p.background,
            priority: p.priority,
            model: p.model,
            parent_session_id: p.parent_session_id,
            resume: p.resume,
            parent_agent: p.parent_agent,
            ..Default::default()
        })
        .await
        .map_err(|e| from_orchestrator(&e))?;
    Ok(json!({ "task": task }))
}
