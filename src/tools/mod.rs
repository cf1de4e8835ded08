//! The tools agents call through the orchestrator, one file each, behind one registry.
//!
//! `orchestrator/tools/list` serves every tool's name, description and JSON Schema;
//! `orchestrator/tools/call` validates the arguments against that schema and runs the tool.
//! The schema is generated from the tool's argument type, so the two cannot drift apart.

pub(crate) mod background;
mod cache_docs;
mod cancel_task;
mod codesearch;
mod delegate_task;
mod get_task_result;
mod glob_search;
mod grep_search;
mod list_tasks;
mod mgrep;
mod mission_complete;
mod mission_tool;
mod mission_triage;
mod mission_verdict;
mod plan_dispatch;
mod plan_edit;
mod plan_get;
mod registry;
mod schema;
mod search;
mod task_report;
pub(crate) mod web;
mod webfetch;
mod websearch;

pub use registry::{ToolInfo, ToolRegistry};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::orchestrator::{Orchestrator, OrchestratorError};

/// Who is calling a tool.
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    /// The OpenCode session whose model called the tool.
    pub session_id: Option<String>,
    pub message_id: Option<String>,
    pub agent: Option<String>,
}

/// What a tool returns: text for the model, plus structured metadata for clients.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub output: String,
    pub metadata: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{name}`; available tools: {known}")]
    UnknownTool { name: String, known: String },
    #[error("invalid arguments for {tool}: {message}")]
    InvalidArguments {
        tool: String,
        /// JSON pointer of the offending field ("" for the whole object).
        field: String,
        message: String,
    },
    #[error("{tool} failed: {source}")]
    Failed {
        tool: String,
        source: OrchestratorError,
    },
}

/// One tool, with typed arguments.
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// Called again and again by design (waiting, reading): never counts towards a mission's
    /// repeated-call breaker.
    const REPEATABLE: bool = false;
    type Args: DeserializeOwned + JsonSchema + Send;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        ctx: &ToolContext,
        args: Self::Args,
    ) -> Result<ToolOutput, OrchestratorError>;
}
