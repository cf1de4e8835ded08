//! `orchestrator/tools/call`: run a tool with arguments validated against its schema.

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::{from_tool, parse_params};
use crate::server::lsp::Session;
use crate::tools::ToolContext;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params {
    pub name: String,
    #[serde(default = "empty_object")]
    pub arguments: Value,
    #[serde(default)]
    pub context: CallContext,
}

/// Who called: the OpenCode session (and message) whose model used the tool.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallContext {
    pub session_id: Option<String>,
    pub message_id: Option<String>,
    pub agent: Option<String>,
}

fn empty_object() -> Value {
    json!({})
}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let p: Params = parse_params(params)?;
    let orch = session.orchestrator()?;
    let ctx = ToolContext {
        session_id: p.context.session_id,
        message_id: p.context.message_id,
        agent: p.context.agent,
    };
    let out = session
        .connection()
        .tools
        .call(orch, &p.name, p.arguments, &ctx)
        .await
        .map_err(|e| from_tool(&e))?;
    Ok(json!(out))
}
