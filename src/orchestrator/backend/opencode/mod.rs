//! The OpenCode agent runtime: child sessions in OpenCode, followed through its events.

mod api;
pub mod bridge;
mod events;
mod http;
mod output;
mod turns;
mod users;

pub use api::{ApiCall, OpencodeApi};
pub use bridge::{BridgeApi, BridgeLink};
pub use http::{HttpApi, is_healthy};

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{
    BackendError, CreateSession, Prompt, SessionBackend, SessionEvent, SessionFailure,
    SessionOutput,
};
use crate::orchestrator::task::{Millis, now_ms};
use output::Turn;

pub struct OpencodeBackend {
    api: Arc<dyn OpencodeApi>,
    events: broadcast::Sender<SessionEvent>,
    /// When each session was last prompted: its answer is what came after.
    prompted_at: Mutex<HashMap<String, Millis>>,
    /// What the events said about each prompted session's turn.
    turns: Arc<turns::TurnTracker>,
}

impl OpencodeBackend {
    pub fn new(api: Arc<dyn OpencodeApi>) -> Self {
        let (events, _) = broadcast::channel(16_384);
        let mut raw = api.events();
        let tx = events.clone();
        let turns = Arc::new(turns::TurnTracker::default());
        let tracker = turns.clone();
        let users = users::UserMessages::default();
        tokio::spawn(async move {
            loop {
                match raw.recv().await {
                    Ok(event) => {
                        // Before the idle that follows reaches a waiting task.
                        tracker.apply(&event);
                        if let Some(user) = users.apply(&event) {
                            let _ = tx.send(user);
                        }
                        if let Some(e) = events::session_event(&event) {
                            if e == SessionEvent::Resync {
                                tracker.clear();
                            }
                            let _ = tx.send(e);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "OpenCode events were missed; rechecking sessions"
                        );
                        tracker.clear();
                        let _ = tx.send(SessionEvent::Resync);
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Self {
            api,
            events,
            prompted_at: Mutex::new(HashMap::new()),
            turns,
        }
    }

    pub fn transport(&self) -> &'static str {
        self.api.transport()
    }
}

fn model_ref(model: &str) -> Option<Value> {
    let (provider, model) = model.split_once('/')?;
    Some(json!({"providerID": provider, "modelID": model}))
}

#[async_trait]
impl SessionBackend for OpencodeBackend {
    fn name(&self) -> &'static str {
        match self.api.transport() {
            "http" => "opencode-http",
            _ => "opencode-bridge",
        }
    }

    async fn create_session(&self, req: CreateSession) -> Result<String, BackendError> {
        let mut body = json!({"title": req.title});
        if let Some(parent) = &req.parent_session_id {
            body["parentID"] = json!(parent);
        }
        let session = self.api.call(ApiCall::CreateSession { body }).await?;
        session
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "OpenCode created a session without an id: {session}"
                ))
            })
    }

    async fn prompt(&self, session_id: &str, prompt: Prompt) -> Result<(), BackendError> {
        let mut body = json!({"parts": [{"type": "text", "text": prompt.text}]});
        if !prompt.agent.is_empty() {
            body["agent"] = json!(prompt.agent);
        }
        if let Some(model) = prompt.model.as_deref().and_then(model_ref) {
            body["model"] = model;
        }
        if !prompt.tools.is_empty() {
            body["tools"] = json!(prompt.tools);
        }
        self.prompted_at
            .lock()
            .insert(session_id.to_string(), now_ms());
        self.turns.start(session_id);
        self.api
            .call(ApiCall::PromptAsync {
                session_id: session_id.to_string(),
                body,
            })
            .await
            .map(|_| ())
    }

    async fn abort(&self, session_id: &str) -> Result<(), BackendError> {
        self.api
            .call(ApiCall::Abort {
                session_id: session_id.to_string(),
            })
            .await
            .map(|_| ())
    }

    async fn output(&self, session_id: &str) -> Result<SessionOutput, BackendError> {
        let since = self
            .prompted_at
            .lock()
            .get(session_id)
            .copied()
            .unwrap_or(0);
        // The events usually have the answer already; ask OpenCode only when they do not.
        // A finished message whose text never came through (a missed part event, or a
        // forwarder that leaves text parts out) is asked for too.
        if let Some(tracked) = self.turns.messages(session_id)
            && let Turn::Finished(out) = output::turn(&tracked, since)
            && !out.text.trim().is_empty()
        {
            return Ok(out);
        }
        let messages = self
            .api
            .call(ApiCall::Messages {
                session_id: session_id.to_string(),
            })
            .await?;
        Ok(match output::turn(&messages, since) {
            Turn::Finished(out) => out,
            Turn::Failed { kind, message } => SessionOutput {
                failure: Some(SessionFailure { kind, message }),
                ..SessionOutput::default()
            },
            Turn::Pending(partial) => SessionOutput {
                text: partial,
                ..SessionOutput::default()
            },
        })
    }

    async fn exists(&self, session_id: &str) -> Result<bool, BackendError> {
        match self
            .api
            .call(ApiCall::GetSession {
                session_id: session_id.to_string(),
            })
            .await
        {
            Ok(_) => Ok(true),
            Err(BackendError::NoSuchSession(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn is_busy(&self, session_id: &str) -> Result<bool, BackendError> {
        let status = self.api.call(ApiCall::Status).await?;
        Ok(status
            .get(session_id)
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t != "idle"))
    }

    async fn delete(&self, session_id: &str) -> Result<(), BackendError> {
        self.prompted_at.lock().remove(session_id);
        self.turns.forget(session_id);
        self.api
            .call(ApiCall::DeleteSession {
                session_id: session_id.to_string(),
            })
            .await
            .map(|_| ())
    }

    fn track_turn(&self, session_id: &str, prompted_at: Millis) {
        self.prompted_at
            .lock()
            .insert(session_id.to_string(), prompted_at);
        // What happened before we were listening is only in OpenCode's messages.
        self.turns.forget(session_id);
    }

    fn retry_prompt(&self, original: &Prompt, error: &str) -> Prompt {
        // The session still holds the original request; ask it to carry on rather than
        // repeating it.
        Prompt {
            text: format!(
                "The previous attempt stopped with an error ({error}). Continue the task from where it stopped."
            ),
            ..original.clone()
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }
}
