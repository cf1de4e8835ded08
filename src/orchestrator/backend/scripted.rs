//! An in-process agent runtime that follows a script, for tests and benchmarks.
//!
//! A prompt whose text is a JSON object with a `script` key is played as that script; any other
//! prompt is answered with `done: <first line of the prompt>` at once. Scripts:
//!
//! ```json
//! {"script": {"delayMs": 50, "reply": "text", "reasoning": "why",
//!             "gate": "g1", "hang": false, "fail": null, "failKind": "rate_limit",
//!             "progress": ["reading files"],
//!             "usage": {"inputTokens": 10, "outputTokens": 5, "reasoningTokens": 0, "cost": 0.01}}}
//! ```
//!
//! `gate` waits until the test calls [`ScriptedHandle::open_gate`]; `hang` keeps the session busy
//! forever (for TTL and cancel tests); `fail` ends the prompt with a session error (only the
//! first `failTimes` prompts of the session, when set).
//!
//! A prompt that is not a script but carries one (`{"script": ...}` inside its text, e.g. in a
//! plan item's description) plays that one. Otherwise a script queued for the prompt's agent
//! ([`ScriptedHandle::script_agent`]) is played, then the agent's default script, if any.
//! Every prompt is announced as a user message, as OpenCode does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::{
    BackendError, CreateSession, Prompt, SessionBackend, SessionErrorKind, SessionEvent,
    SessionFailure, SessionOutput,
};
use crate::orchestrator::task::Usage;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Script {
    #[serde(default)]
    delay_ms: u64,
    reply: Option<String>,
    reasoning: Option<String>,
    gate: Option<String>,
    #[serde(default)]
    hang: bool,
    fail: Option<String>,
    fail_kind: Option<String>,
    usage: Option<Usage>,
    #[serde(default)]
    progress: Vec<String>,
    /// With `fail`: fail only the first N prompts of the session, then answer.
    fail_times: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ScriptEnvelope {
    script: Script,
}

#[derive(Default)]
struct Session {
    output: SessionOutput,
    running: Option<CancellationToken>,
    prompts: u32,
    /// Every prompt text the session received, in order.
    texts: Vec<String>,
}

#[derive(Default)]
struct Shared {
    sessions: Mutex<HashMap<String, Session>>,
    open_gates: Mutex<HashSet<String>>,
    gate_changed: Notify,
    next_id: AtomicU64,
    busy: AtomicUsize,
    max_busy: AtomicUsize,
    prompts: AtomicU64,
    aborts: Mutex<Vec<String>>,
    events: Mutex<Option<broadcast::Sender<SessionEvent>>>,
    /// Scripts for prompts to an agent, played in order, then the agent's default.
    agent_scripts: Mutex<HashMap<String, std::collections::VecDeque<serde_json::Value>>>,
    agent_defaults: Mutex<HashMap<String, serde_json::Value>>,
}

/// The scripted runtime. Clone the [`ScriptedHandle`] to steer it from a test.
pub struct ScriptedBackend {
    shared: Arc<Shared>,
    events: broadcast::Sender<SessionEvent>,
}

/// Test-side controls and observations of a [`ScriptedBackend`].
#[derive(Clone)]
pub struct ScriptedHandle {
    shared: Arc<Shared>,
}

impl ScriptedBackend {
    pub fn new() -> (Self, ScriptedHandle) {
        let shared = Arc::new(Shared::default());
        // Large enough that the scheduler's router never lags in practice; if it does, it
        // re-checks its sessions.
        let (events, _) = broadcast::channel(65_536);
        *shared.events.lock() = Some(events.clone());
        (
            Self {
                shared: shared.clone(),
                events,
            },
            ScriptedHandle { shared },
        )
    }
}

impl ScriptedHandle {
    /// Lets every prompt waiting on `gate` (now or later) go on.
    pub fn open_gate(&self, gate: &str) {
        self.shared.open_gates.lock().insert(gate.to_string());
        self.shared.gate_changed.notify_waiters();
    }

    /// Sessions busy with a prompt right now.
    pub fn busy(&self) -> usize {
        self.shared.busy.load(Ordering::SeqCst)
    }

    /// The most sessions that were ever busy at once.
    pub fn max_busy(&self) -> usize {
        self.shared.max_busy.load(Ordering::SeqCst)
    }

    pub fn prompts(&self) -> u64 {
        self.shared.prompts.load(Ordering::SeqCst)
    }

    pub fn sessions(&self) -> usize {
        self.shared.sessions.lock().len()
    }

    /// Adds a session the test plays the user's part in (a parent to be woken).
    pub fn add_session(&self, session_id: &str) {
        self.shared
            .sessions
            .lock()
            .insert(session_id.to_string(), Session::default());
    }

    /// Makes a session busy, as if its user were talking to it, until [`Self::release`].
    pub fn hold_busy(&self, session_id: &str) {
        let mut sessions = self.shared.sessions.lock();
        let session = sessions.entry(session_id.to_string()).or_default();
        session.running = Some(CancellationToken::new());
    }

    /// Ends a [`Self::hold_busy`]: the session goes idle and says so.
    pub fn release(&self, session_id: &str) {
        if let Some(session) = self.shared.sessions.lock().get_mut(session_id) {
            session.running = None;
        }
        if let Some(events) = self.shared.events.lock().as_ref() {
            let _ = events.send(SessionEvent::Idle {
                session_id: session_id.to_string(),
            });
        }
    }

    /// Every prompt a session received, in order.
    pub fn prompts_of(&self, session_id: &str) -> Vec<String> {
        self.shared
            .sessions
            .lock()
            .get(session_id)
            .map(|s| s.texts.clone())
            .unwrap_or_default()
    }

    /// Sessions that were aborted, in order.
    pub fn aborted(&self) -> Vec<String> {
        self.shared.aborts.lock().clone()
    }

    /// The next prompt to `agent` that carries no script of its own plays `script` (the value
    /// under `"script"`). Queued scripts play in order.
    pub fn script_agent(&self, agent: &str, script: serde_json::Value) {
        self.shared
            .agent_scripts
            .lock()
            .entry(agent.to_string())
            .or_default()
            .push_back(script);
    }

    /// Prompts to `agent` with no script of their own and none queued play `script`.
    pub fn default_script(&self, agent: &str, script: serde_json::Value) {
        self.shared
            .agent_defaults
            .lock()
            .insert(agent.to_string(), script);
    }

    fn send(&self, event: SessionEvent) {
        if let Some(events) = self.shared.events.lock().as_ref() {
            let _ = events.send(event);
        }
    }

    /// The user writes to a session themselves.
    pub fn user_message(&self, session_id: &str, text: &str) {
        self.send(SessionEvent::UserMessage {
            session_id: session_id.to_string(),
            text: text.to_string(),
        });
    }

    /// The user interrupts a session (Esc in the TUI): it stops and reports an abort.
    pub fn interrupt(&self, session_id: &str) {
        if let Some(session) = self.shared.sessions.lock().get_mut(session_id) {
            session.running = None;
        }
        self.send(SessionEvent::Error {
            session_id: session_id.to_string(),
            kind: SessionErrorKind::Aborted,
            message: "the prompt was aborted".into(),
        });
    }
}

fn parse_kind(kind: Option<&str>) -> SessionErrorKind {
    match kind {
        Some("rate_limit") => SessionErrorKind::RateLimit,
        Some("overloaded") => SessionErrorKind::Overloaded,
        Some("auth") => SessionErrorKind::Auth,
        Some("context_too_long") => SessionErrorKind::ContextTooLong,
        _ => SessionErrorKind::Other,
    }
}

impl Shared {
    async fn wait_gate(&self, gate: &str) {
        loop {
            let notified = self.gate_changed.notified();
            if self.open_gates.lock().contains(gate) {
                return;
            }
            notified.await;
        }
    }

    fn set_busy(&self, delta: isize) {
        if delta > 0 {
            let now = self.busy.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_busy.fetch_max(now, Ordering::SeqCst);
        } else {
            self.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl ScriptedBackend {
    /// A script carried inside the prompt's text, else one queued or set for its agent.
    fn script_for(&self, prompt: &Prompt) -> Option<Script> {
        if let Some(at) = prompt.text.find("{\"script\"") {
            let mut values = serde_json::Deserializer::from_str(&prompt.text[at..])
                .into_iter::<ScriptEnvelope>();
            if let Some(Ok(envelope)) = values.next() {
                return Some(envelope.script);
            }
        }
        let queued = self
            .shared
            .agent_scripts
            .lock()
            .get_mut(&prompt.agent)
            .and_then(|q| q.pop_front());
        let value = queued.or_else(|| {
            self.shared
                .agent_defaults
                .lock()
                .get(&prompt.agent)
                .cloned()
        })?;
        match serde_json::from_value::<Script>(value) {
            Ok(script) => Some(script),
            Err(e) => {
                tracing::warn!(agent = %prompt.agent, "unreadable agent script: {e}");
                None
            }
        }
    }
}

#[async_trait]
impl SessionBackend for ScriptedBackend {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn create_session(&self, _req: CreateSession) -> Result<String, BackendError> {
        let n = self.shared.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("ses_scripted_{n:06}");
        self.shared
            .sessions
            .lock()
            .insert(id.clone(), Session::default());
        Ok(id)
    }

    async fn prompt(&self, session_id: &str, prompt: Prompt) -> Result<(), BackendError> {
        let mut script = match serde_json::from_str::<ScriptEnvelope>(prompt.text.trim()) {
            Ok(envelope) => envelope.script,
            Err(_) if prompt.text.trim_start().starts_with("{\"script\"") => {
                return Err(BackendError::Refused(format!(
                    "the scripted runtime could not read the script in the prompt of session {session_id}"
                )));
            }
            Err(_) => match self.script_for(&prompt) {
                Some(script) => script,
                None => Script {
                    reply: Some(format!(
                        "done: {}",
                        prompt.text.lines().next().unwrap_or_default()
                    )),
                    ..Script::default()
                },
            },
        };
        let token = CancellationToken::new();
        {
            let mut sessions = self.shared.sessions.lock();
            let session = sessions
                .get_mut(session_id)
                .ok_or_else(|| BackendError::NoSuchSession(session_id.to_string()))?;
            if session.running.is_some() {
                return Err(BackendError::Refused(format!(
                    "session {session_id} is busy"
                )));
            }
            session.running = Some(token.clone());
            session.output = SessionOutput::default();
            session.prompts += 1;
            session.texts.push(prompt.text.clone());
            if let (Some(times), true) = (script.fail_times, script.fail.is_some())
                && session.prompts > times
            {
                script.fail = None;
            }
        }
        self.shared.prompts.fetch_add(1, Ordering::SeqCst);
        self.shared.set_busy(1);
        let _ = self.events.send(SessionEvent::UserMessage {
            session_id: session_id.to_string(),
            text: prompt.text.clone(),
        });
        let _ = self.events.send(SessionEvent::Busy {
            session_id: session_id.to_string(),
        });

        let shared = self.shared.clone();
        let events = self.events.clone();
        let session_id = session_id.to_string();
        tokio::spawn(async move {
            let played = async {
                if let Some(gate) = &script.gate {
                    shared.wait_gate(gate).await;
                }
                for message in &script.progress {
                    let _ = events.send(SessionEvent::Progress {
                        session_id: session_id.clone(),
                        message: message.clone(),
                    });
                }
                if script.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(script.delay_ms)).await;
                }
                if script.hang {
                    std::future::pending::<()>().await;
                }
            };
            let event = tokio::select! {
                _ = played => {
                    let mut sessions = shared.sessions.lock();
                    if let Some(session) = sessions.get_mut(&session_id) {
                        session.running = None;
                        session.output = match &script.fail {
                            None => SessionOutput {
                                finished: true,
                                text: script.reply.clone().unwrap_or_default(),
                                reasoning: script.reasoning.clone(),
                                usage: script.usage.clone(),
                                failure: None,
                            },
                            // Like OpenCode: the error is recorded on the turn and announced.
                            Some(message) => SessionOutput {
                                failure: Some(SessionFailure {
                                    kind: parse_kind(script.fail_kind.as_deref()),
                                    message: message.clone(),
                                }),
                                ..SessionOutput::default()
                            },
                        };
                    }
                    match &script.fail {
                        Some(message) => SessionEvent::Error {
                            session_id: session_id.clone(),
                            kind: parse_kind(script.fail_kind.as_deref()),
                            message: message.clone(),
                        },
                        None => SessionEvent::Idle { session_id: session_id.clone() },
                    }
                }
                _ = token.cancelled() => {
                    if let Some(session) = shared.sessions.lock().get_mut(&session_id) {
                        session.output.failure = Some(SessionFailure {
                            kind: SessionErrorKind::Aborted,
                            message: "the prompt was aborted".into(),
                        });
                    }
                    SessionEvent::Error {
                        session_id: session_id.clone(),
                        kind: SessionErrorKind::Aborted,
                        message: "the prompt was aborted".into(),
                    }
                }
            };
            shared.set_busy(-1);
            let _ = events.send(event);
        });
        Ok(())
    }

    async fn abort(&self, session_id: &str) -> Result<(), BackendError> {
        let token = {
            let mut sessions = self.shared.sessions.lock();
            let session = sessions
                .get_mut(session_id)
                .ok_or_else(|| BackendError::NoSuchSession(session_id.to_string()))?;
            session.running.take()
        };
        self.shared.aborts.lock().push(session_id.to_string());
        if let Some(token) = token {
            token.cancel();
        }
        Ok(())
    }

    async fn output(&self, session_id: &str) -> Result<SessionOutput, BackendError> {
        self.shared
            .sessions
            .lock()
            .get(session_id)
            .map(|s| s.output.clone())
            .ok_or_else(|| BackendError::NoSuchSession(session_id.to_string()))
    }

    async fn exists(&self, session_id: &str) -> Result<bool, BackendError> {
        Ok(self.shared.sessions.lock().contains_key(session_id))
    }

    async fn is_busy(&self, session_id: &str) -> Result<bool, BackendError> {
        Ok(self
            .shared
            .sessions
            .lock()
            .get(session_id)
            .is_some_and(|s| s.running.is_some()))
    }

    async fn delete(&self, session_id: &str) -> Result<(), BackendError> {
        let removed = self.shared.sessions.lock().remove(session_id);
        match removed {
            Some(_) => {
                let _ = self.events.send(SessionEvent::Deleted {
                    session_id: session_id.to_string(),
                });
                Ok(())
            }
            None => Err(BackendError::NoSuchSession(session_id.to_string())),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }
}
