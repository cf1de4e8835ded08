//! The OpenCode operations the backend needs, independent of how they reach OpenCode.
//!
//! Two transports carry them: HTTP against OpenCode's server (`http.rs`) and a bridge through
//! the OpenCode plugin's in-process SDK client (`bridge.rs`), for `opencode run`, where no
//! server URL answers. Everything above this trait is shared.

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::orchestrator::backend::BackendError;

/// One call into OpenCode's API. `op` names match the plugin bridge's operations.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiCall {
    /// `POST /session` -> the session.
    CreateSession { body: Value },
    /// `POST /session/:id/prompt_async` -> nothing; the answer comes through events.
    PromptAsync { session_id: String, body: Value },
    /// `POST /session/:id/abort`.
    Abort { session_id: String },
    /// `GET /session/:id/message` -> `[{info, parts}]`.
    Messages { session_id: String },
    /// `GET /session/:id` -> the session.
    GetSession { session_id: String },
    /// `DELETE /session/:id`.
    DeleteSession { session_id: String },
    /// `GET /session/status` -> `{sessionID: {type}}` for busy sessions.
    Status,
}

impl ApiCall {
    /// The bridge operation name and its parameters.
    pub fn to_bridge(&self) -> (&'static str, Value) {
        match self {
            ApiCall::CreateSession { body } => ("session.create", json!({ "body": body })),
            ApiCall::PromptAsync { session_id, body } => (
                "session.promptAsync",
                json!({ "sessionID": session_id, "body": body }),
            ),
            ApiCall::Abort { session_id } => ("session.abort", json!({ "sessionID": session_id })),
            ApiCall::Messages { session_id } => {
                ("session.messages", json!({ "sessionID": session_id }))
            }
            ApiCall::GetSession { session_id } => {
                ("session.get", json!({ "sessionID": session_id }))
            }
            ApiCall::DeleteSession { session_id } => {
                ("session.delete", json!({ "sessionID": session_id }))
            }
            ApiCall::Status => ("session.status", json!({})),
        }
    }
}

#[async_trait]
pub trait OpencodeApi: Send + Sync + 'static {
    /// "http" or "bridge", for logs and stats.
    fn transport(&self) -> &'static str;
    async fn call(&self, call: ApiCall) -> Result<Value, BackendError>;
    /// OpenCode's bus events (`{type, properties}`), from now on.
    fn events(&self) -> broadcast::Receiver<Value>;
}
