//! Missions: `/task` goals run by the Commander in one session, with a plan the server owns,
//! delegated plan items, verification by the Inspector, and continuation driven by the
//! session's real `idle` events, within loop breakers and budgets.
//!
//! One task owns every mission ([`engine`]); requests, tool calls, task endings and session
//! events reach it as messages and are handled one at a time, so a mission's record has one
//! writer and is committed in the order it changed.

mod continuation;
mod engine;
mod handlers;
mod lifecycle;
pub mod model;
pub mod prompts;
mod verify;
pub mod view;
mod work;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::plan::EditPlanArgs;
use super::{Orchestrator, OrchestratorError};
use crate::config::Budgets;
use model::{Level, Report, Verdict};

/// Starting a mission.
#[derive(Debug, Clone, Default)]
pub struct StartMission {
    pub goal: String,
    /// The session to run it in (the one `/task` was typed in); `None` creates one.
    pub session_id: Option<String>,
    /// Send the opening prompt (always, when the server creates the session). `/task` sends
    /// its own prompt, so the plugin passes false.
    pub prompt: bool,
    /// Budgets for this mission; unset ones come from `missions.budgets`.
    pub budgets: Option<Budgets>,
}

/// Which mission a request means.
#[derive(Debug, Clone)]
pub enum Target {
    Id(String),
    Session(String),
}

/// What the mission tools ask of the engine.
#[derive(Debug, Clone)]
pub enum ToolRequest {
    Triage {
        level: Level,
        reason: String,
    },
    EditPlan(EditPlanArgs),
    PlanGet,
    Dispatch,
    Report(Report),
    Complete {
        summary: String,
    },
    Verdict {
        verdict: Verdict,
        evidence: String,
        fixes: Vec<Fix>,
    },
}

/// A fix the Inspector asks for.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fix {
    /// What to fix, in a few words.
    pub title: String,
    /// What is wrong and what done looks like.
    #[serde(default)]
    pub description: Option<String>,
    /// Who fixes it (default builder).
    #[serde(default)]
    pub agent: Option<String>,
}

/// A tool's answer: text for the model and metadata for clients.
#[derive(Debug, Clone)]
pub struct ToolReply {
    pub title: String,
    pub output: String,
    pub metadata: Value,
}

type Reply<T> = oneshot::Sender<Result<T, OrchestratorError>>;

pub(crate) enum Command {
    Start(StartMission, Reply<Value>),
    Get {
        target: Target,
        journal_after: i64,
        journal_limit: usize,
        reply: Reply<Value>,
    },
    List {
        statuses: Vec<String>,
        limit: usize,
        reply: Reply<Value>,
    },
    Cancel(Target, Reply<Value>),
    Resume {
        target: Target,
        /// Laid over the mission's budgets, key by key.
        budgets: Option<Value>,
        reply: Reply<Value>,
    },
    Tool {
        session_id: Option<String>,
        mission_id: Option<String>,
        request: ToolRequest,
        reply: Reply<ToolReply>,
    },
    /// A tool call made from some session, for the repeated-call breaker.
    ToolCalled {
        session_id: String,
        signature: u64,
    },
    /// Time to look at a mission again (a debounced idle, a timer).
    Check {
        mission_id: String,
        generation: u64,
    },
}

/// The handle every request and tool uses.
#[derive(Clone)]
pub struct Missions {
    tx: mpsc::UnboundedSender<Command>,
}

impl Missions {
    pub(crate) fn spawn(orchestrator: Orchestrator, stop: CancellationToken) -> Missions {
        let (tx, rx) = mpsc::unbounded_channel();
        engine::spawn(orchestrator, tx.clone(), rx, stop);
        Missions { tx }
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, OrchestratorError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| OrchestratorError::ShuttingDown)?;
        rx.await.map_err(|_| OrchestratorError::ShuttingDown)?
    }

    pub async fn start(&self, req: StartMission) -> Result<Value, OrchestratorError> {
        self.ask(|reply| Command::Start(req, reply)).await
    }

    pub async fn get(
        &self,
        target: Target,
        journal_after: i64,
        journal_limit: usize,
    ) -> Result<Value, OrchestratorError> {
        self.ask(|reply| Command::Get {
            target,
            journal_after,
            journal_limit,
            reply,
        })
        .await
    }

    pub async fn list(
        &self,
        statuses: Vec<String>,
        limit: usize,
    ) -> Result<Value, OrchestratorError> {
        self.ask(|reply| Command::List {
            statuses,
            limit,
            reply,
        })
        .await
    }

    pub async fn cancel(&self, target: Target) -> Result<Value, OrchestratorError> {
        self.ask(|reply| Command::Cancel(target, reply)).await
    }

    pub async fn resume(
        &self,
        target: Target,
        budgets: Option<Value>,
    ) -> Result<Value, OrchestratorError> {
        self.ask(|reply| Command::Resume {
            target,
            budgets,
            reply,
        })
        .await
    }

    /// A mission tool called from `session_id` (or naming `mission_id`).
    pub async fn tool(
        &self,
        session_id: Option<String>,
        mission_id: Option<String>,
        request: ToolRequest,
    ) -> Result<ToolReply, OrchestratorError> {
        self.ask(|reply| Command::Tool {
            session_id,
            mission_id,
            request,
            reply,
        })
        .await
    }

    /// Notes a tool call from `session_id`, for the repeated-call breaker (the registry leaves
    /// out tools that are called again and again by design).
    pub fn tool_called(&self, session_id: &str, name: &str, arguments: &Value) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        arguments.to_string().hash(&mut h);
        let _ = self.tx.send(Command::ToolCalled {
            session_id: session_id.to_string(),
            signature: h.finish(),
        });
    }
}
