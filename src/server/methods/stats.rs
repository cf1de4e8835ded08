//! `orchestrator/stats`: queue and running counts, limits, ledger and event figures.

use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::server::errors::{from_orchestrator, parse_params};
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub async fn handle(session: &Session, params: Value) -> Result<Value> {
    let _: Params = parse_params(params)?;
    let stats = session
        .orchestrator()?
        .stats()
        .await
        .map_err(|e| from_orchestrator(&e))?;
    let conn = session.connection();
    let mut v = json!(stats);
    v["client"] = json!({
        "name": *conn.client_name.lock(),
        "droppedEvents": conn.dropped_events.load(Ordering::Relaxed),
    });
    Ok(v)
}
