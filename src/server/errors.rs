//! Turning orchestrator and tool errors into JSON-RPC errors that say what to do.

use std::borrow::Cow;

use serde_json::json;
use tower_lsp_server::jsonrpc::{Error, ErrorCode};

use super::protocol::codes;
use crate::orchestrator::OrchestratorError;
use crate::tools::ToolError;

fn error(code: i64, message: String, data: serde_json::Value) -> Error {
    Error {
        code: ErrorCode::from(code),
        message: Cow::Owned(message),
        data: Some(data),
    }
}

pub fn invalid_params(message: impl Into<String>) -> Error {
    let message = message.into();
    error(
        codes::INVALID_PARAMS,
        message,
        json!({"kind": "invalid_params"}),
    )
}

pub fn from_orchestrator(e: &OrchestratorError) -> Error {
    let (code, kind) = match e {
        OrchestratorError::UnknownAgent { .. } => (codes::INVALID_PARAMS, "unknown_agent"),
        OrchestratorError::NotDelegable { .. } => (codes::INVALID_PARAMS, "not_delegable"),
        OrchestratorError::InvalidArgument { .. } => (codes::INVALID_PARAMS, "invalid_argument"),
        OrchestratorError::DepthLimit { .. } => (codes::DEPTH_LIMIT, "depth_limit"),
        OrchestratorError::QueueFull { .. } => (codes::QUEUE_FULL, "queue_full"),
        OrchestratorError::TaskNotFound { .. } => (codes::TASK_NOT_FOUND, "task_not_found"),
        OrchestratorError::TaskBusy { .. } => (codes::TASK_CONFLICT, "task_busy"),
        OrchestratorError::NoSessionToResume { .. } => (codes::TASK_CONFLICT, "no_session"),
        OrchestratorError::BackendUnavailable(_) => {
            (codes::BACKEND_UNAVAILABLE, "backend_unavailable")
        }
        OrchestratorError::ShuttingDown => (codes::SHUTTING_DOWN, "shutting_down"),
        OrchestratorError::MissionNotFound(_) => (codes::MISSION_NOT_FOUND, "mission_not_found"),
        OrchestratorError::MissionConflict(_) => (codes::MISSION_CONFLICT, "mission_conflict"),
        OrchestratorError::ToolFailed(_) => (codes::TOOL_FAILED, "tool_failed"),
        OrchestratorError::Ledger(_) => (codes::INTERNAL_ERROR, "ledger"),
        OrchestratorError::Backend(_) => (codes::INTERNAL_ERROR, "backend"),
    };
    let mut data = json!({"kind": kind});
    if let OrchestratorError::InvalidArgument { field, .. } = e {
        data["field"] = json!(field);
    }
    error(code, e.to_string(), data)
}

pub fn from_tool(e: &ToolError) -> Error {
    match e {
        ToolError::UnknownTool { name, .. } => error(
            codes::INVALID_PARAMS,
            e.to_string(),
            json!({"kind": "unknown_tool", "tool": name}),
        ),
        ToolError::InvalidArguments { tool, field, .. } => error(
            codes::INVALID_PARAMS,
            e.to_string(),
            json!({"kind": "invalid_arguments", "tool": tool, "field": field}),
        ),
        ToolError::Failed { tool, source } => {
            let mut err = from_orchestrator(source);
            err.message = Cow::Owned(e.to_string());
            if let Some(data) = err.data.as_mut() {
                data["tool"] = json!(tool);
            }
            err
        }
    }
}

/// Deserializes method params, naming the offending field on failure.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            invalid_params(format!("invalid params: {}", e.inner()))
        } else {
            invalid_params(format!("invalid params at `{path}`: {}", e.inner()))
        }
    })
}
