//! The agent runtime behind the scheduler: something that runs a prompt in a child session.
//!
//! Shaped after OpenCode's server API: sessions are created with a parent, prompted
//! asynchronously (the call returns once the prompt is accepted), aborted, and read back; what
//! happens in between arrives as a stream of session events. Completion is learnt from those
//! events, never from polling.

pub mod opencode;
pub mod scripted;
pub mod slot;

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::task::Usage;

/// A child session to create.
#[derive(Debug, Clone)]
pub struct CreateSession {
    pub parent_session_id: Option<String>,
    pub title: String,
    pub agent: String,
    /// The workspace the session works in.
    pub directory: PathBuf,
}

/// A prompt to send to a session.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub agent: String,
    /// "provider/model", when the task asked for one.
    pub model: Option<String>,
    pub text: String,
    /// Tools switched on or off for this prompt (e.g. `delegate_task: false` past the depth limit).
    pub tools: BTreeMap<String, bool>,
}

/// What a session produced for the prompt it was last given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionOutput {
    /// True when the last assistant message after the prompt has finished.
    pub finished: bool,
    pub text: String,
    pub reasoning: Option<String>,
    pub usage: Option<Usage>,
    /// Set when the turn ended in an error instead of an answer.
    pub failure: Option<SessionFailure>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionFailure {
    pub kind: SessionErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionErrorKind {
    RateLimit,
    Overloaded,
    Auth,
    ContextTooLong,
    Aborted,
    Other,
}

/// What the runtime reports about its sessions.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Busy {
        session_id: String,
    },
    Idle {
        session_id: String,
    },
    /// The runtime is retrying the model call itself after a passing error.
    Retrying {
        session_id: String,
        attempt: u64,
        message: String,
    },
    /// What the session is doing now (e.g. the tool it runs), for people watching.
    Progress {
        session_id: String,
        message: String,
    },
    Error {
        session_id: String,
        kind: SessionErrorKind,
        message: String,
    },
    Deleted {
        session_id: String,
    },
    /// A user message was added to the session (by anyone: the user, a command, or us).
    UserMessage {
        session_id: String,
        text: String,
    },
    /// Events may have been missed (a reconnect, a lagging reader): look at sessions again.
    Resync,
}

impl SessionEvent {
    pub fn session_id(&self) -> Option<&str> {
        match self {
            SessionEvent::Busy { session_id }
            | SessionEvent::Idle { session_id }
            | SessionEvent::Progress { session_id, .. }
            | SessionEvent::Retrying { session_id, .. }
            | SessionEvent::Error { session_id, .. }
            | SessionEvent::Deleted { session_id }
            | SessionEvent::UserMessage { session_id, .. } => Some(session_id),
            SessionEvent::Resync => None,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    #[error("the agent runtime is not available: {0}")]
    Unavailable(String),
    #[error("session {0} does not exist")]
    NoSuchSession(String),
    #[error("the agent runtime refused the request: {0}")]
    Refused(String),
}

#[async_trait]
pub trait SessionBackend: Send + Sync + 'static {
    /// A short name for logs and stats.
    fn name(&self) -> &'static str;
    /// Whether calls can be made now, or why not (a runtime plugged in later may be missing).
    fn available(&self) -> Result<(), String> {
        Ok(())
    }
    /// Creates a child session and returns its id.
    async fn create_session(&self, req: CreateSession) -> Result<String, BackendError>;
    /// Sends a prompt; returns once the runtime has accepted it, not when it is answered.
    async fn prompt(&self, session_id: &str, prompt: Prompt) -> Result<(), BackendError>;
    /// Stops whatever the session is doing. The session itself is kept.
    async fn abort(&self, session_id: &str) -> Result<(), BackendError>;
    /// The session's answer to its latest prompt.
    async fn output(&self, session_id: &str) -> Result<SessionOutput, BackendError>;
    /// Whether the session still exists (re-attaching after a restart).
    async fn exists(&self, session_id: &str) -> Result<bool, BackendError>;
    /// Whether the session is working on something right now.
    async fn is_busy(&self, session_id: &str) -> Result<bool, BackendError>;
    /// Deletes a session (after the retention delay; never a busy one).
    async fn delete(&self, session_id: &str) -> Result<(), BackendError>;
    /// Re-attaching after a restart: the session's current turn started at `prompted_at`.
    fn track_turn(&self, _session_id: &str, _prompted_at: crate::orchestrator::task::Millis) {}
    /// The prompt that retries a turn that failed with `error`.
    fn retry_prompt(&self, original: &Prompt, _error: &str) -> Prompt {
        original.clone()
    }
    /// Session events from now on. Subscribe before prompting so nothing is missed.
    fn subscribe(&self) -> broadcast::Receiver<SessionEvent>;
}
