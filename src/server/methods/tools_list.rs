//! `orchestrator/tools/list`: every tool with its description and JSON Schema.

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::parse_params;
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let _: Params = parse_params(params)?;
    Ok(json!({ "tools": session.connection().tools.list() }))
}
