//! The client side of the OpenCode plugin bridge: calls into OpenCode made by the plugin that
//! is this connection's client, as server-to-client JSON-RPC requests.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::lsp_types::request::Request;

use crate::orchestrator::backend::opencode::bridge::{BridgeFailure, BridgeLink};

/// One OpenCode operation for the plugin to carry out (docs/PROTOCOL.md).
pub enum OpencodeCall {}

impl Request for OpencodeCall {
    type Params = Value;
    type Result = Value;
    const METHOD: &'static str = "orchestrator/opencode/call";
}

/// A call the plugin has not answered in this time is given up (the plugin is gone or stuck).
/// The plugin answers sooner (25 s) when OpenCode is slow: tower-lsp keeps a request that is
/// never answered in its pending table.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ClientLink {
    pub client: Client,
}

#[async_trait]
impl BridgeLink for ClientLink {
    async fn call(&self, op: &str, params: Value) -> Result<Value, BridgeFailure> {
        let request = self
            .client
            .send_request::<OpencodeCall>(json!({"op": op, "params": params}));
        match tokio::time::timeout(CALL_TIMEOUT, request).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(BridgeFailure {
                status: e
                    .data
                    .as_ref()
                    .and_then(|d| d.get("status"))
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok()),
                message: e.message.to_string(),
            }),
            Err(_) => Err(BridgeFailure {
                status: None,
                message: format!("the plugin did not answer within {CALL_TIMEOUT:?}"),
            }),
        }
    }
}
