//! A runtime that clients plug in after the orchestrator is open: the per-workspace daemon
//! serves many clients, and which of them can reach OpenCode (over HTTP, or as the plugin's
//! bridge) is only known as they connect. Until one does, every call says so.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::{BackendError, CreateSession, Prompt, SessionBackend, SessionEvent, SessionOutput};
use crate::orchestrator::task::{Millis, now_ms};

/// Who provides the runtime in the slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// OpenCode's HTTP server at this URL.
    Http(String),
    /// The bridge of the client connection with this id.
    Bridge(u64),
}

struct Current {
    backend: Arc<dyn SessionBackend>,
    provider: Provider,
    /// Copies the runtime's events into the slot's stream.
    relay: JoinHandle<()>,
}

pub struct BackendSlot {
    current: Mutex<Option<Current>>,
    events: broadcast::Sender<SessionEvent>,
    /// When each session was last prompted, newest last: a runtime plugged in later is told
    /// (`track_turn`), so it reads each session's current turn, not an earlier answer.
    prompted: Mutex<VecDeque<(String, Millis)>>,
}

/// Sessions whose prompt time is kept for the next runtime, at most.
const MAX_PROMPTED: usize = 4096;

impl Default for BackendSlot {
    fn default() -> Self {
        Self {
            current: Mutex::new(None),
            events: broadcast::channel(16_384).0,
            prompted: Mutex::new(VecDeque::new()),
        }
    }
}

impl BackendSlot {
    /// Puts a runtime in the slot (replacing any other). Listeners are told to look at their
    /// sessions again, since events of the old runtime may have been missed.
    pub fn set(&self, backend: Arc<dyn SessionBackend>, provider: Provider) {
        let mut source = backend.subscribe();
        let events = self.events.clone();
        let relay = tokio::spawn(async move {
            loop {
                match source.recv().await {
                    Ok(event) => {
                        let _ = events.send(event);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = events.send(SessionEvent::Resync);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        for (session, at) in self.prompted.lock().iter() {
            backend.track_turn(session, *at);
        }
        let old = self.current.lock().replace(Current {
            backend,
            provider,
            relay,
        });
        if let Some(old) = old {
            old.relay.abort();
        }
        let _ = self.events.send(SessionEvent::Resync);
    }

    /// Empties the slot if `provider` fills it (its client went away).
    pub fn clear_if(&self, provider: &Provider) -> bool {
        let mut current = self.current.lock();
        if current.as_ref().is_some_and(|c| &c.provider == provider) {
            if let Some(old) = current.take() {
                old.relay.abort();
            }
            return true;
        }
        false
    }

    pub fn provider(&self) -> Option<Provider> {
        self.current.lock().as_ref().map(|c| c.provider.clone())
    }

    fn backend(&self) -> Result<Arc<dyn SessionBackend>, BackendError> {
        self.current
            .lock()
            .as_ref()
            .map(|c| c.backend.clone())
            .ok_or_else(|| {
                BackendError::Unavailable(
                    "no client connected to this workspace's orchestrator can reach OpenCode; \
                     open the project in OpenCode (with the plugin), or give an OpenCode server \
                     URL (`opencodeUrl`)"
                        .into(),
                )
            })
    }
}

impl BackendSlot {
    fn remember_prompt(&self, session_id: &str, at: Millis) {
        let mut prompted = self.prompted.lock();
        prompted.retain(|(s, _)| s != session_id);
        prompted.push_back((session_id.to_string(), at));
        while prompted.len() > MAX_PROMPTED {
            prompted.pop_front();
        }
    }
}

#[async_trait]
impl SessionBackend for BackendSlot {
    fn name(&self) -> &'static str {
        self.current
            .lock()
            .as_ref()
            .map_or("none", |c| c.backend.name())
    }

    fn available(&self) -> Result<(), String> {
        self.backend().map(|_| ()).map_err(|e| e.to_string())
    }

    async fn create_session(&self, req: CreateSession) -> Result<String, BackendError> {
        self.backend()?.create_session(req).await
    }

    async fn prompt(&self, session_id: &str, prompt: Prompt) -> Result<(), BackendError> {
        let backend = self.backend()?;
        self.remember_prompt(session_id, now_ms());
        backend.prompt(session_id, prompt).await
    }

    async fn abort(&self, session_id: &str) -> Result<(), BackendError> {
        self.backend()?.abort(session_id).await
    }

    async fn output(&self, session_id: &str) -> Result<SessionOutput, BackendError> {
        self.backend()?.output(session_id).await
    }

    async fn exists(&self, session_id: &str) -> Result<bool, BackendError> {
        self.backend()?.exists(session_id).await
    }

    async fn is_busy(&self, session_id: &str) -> Result<bool, BackendError> {
        self.backend()?.is_busy(session_id).await
    }

    async fn delete(&self, session_id: &str) -> Result<(), BackendError> {
        self.prompted.lock().retain(|(s, _)| s != session_id);
        self.backend()?.delete(session_id).await
    }

    fn track_turn(&self, session_id: &str, prompted_at: Millis) {
        self.remember_prompt(session_id, prompted_at);
        if let Ok(b) = self.backend() {
            b.track_turn(session_id, prompted_at);
        }
    }

    fn retry_prompt(&self, original: &Prompt, error: &str) -> Prompt {
        match self.backend() {
            Ok(b) => b.retry_prompt(original, error),
            Err(_) => original.clone(),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::backend::scripted::ScriptedBackend;

    #[tokio::test]
    async fn calls_go_to_whoever_fills_the_slot() {
        let slot = BackendSlot::default();
        let mut events = slot.subscribe();
        let err = slot.is_busy("ses_1").await.unwrap_err();
        assert!(err.to_string().contains("no client connected"), "{err}");
        assert!(slot.available().is_err());

        let (backend, handle) = ScriptedBackend::new();
        slot.set(Arc::new(backend), Provider::Bridge(7));
        assert_eq!(events.recv().await.unwrap(), SessionEvent::Resync);
        assert!(slot.available().is_ok());
        handle.add_session("ses_1");
        handle.release("ses_1");
        assert_eq!(
            events.recv().await.unwrap(),
            SessionEvent::Idle {
                session_id: "ses_1".into()
            },
            "the runtime's events come through"
        );
        assert!(!slot.clear_if(&Provider::Bridge(8)));
        assert!(slot.clear_if(&Provider::Bridge(7)));
        assert!(slot.exists("ses_1").await.is_err());
    }

    /// Records the turns it is told about; nothing else is called in the test.
    #[derive(Default)]
    struct Tracking(Mutex<Vec<(String, Millis)>>);

    #[async_trait]
    impl SessionBackend for Tracking {
        fn name(&self) -> &'static str {
            "tracking"
        }
        async fn create_session(&self, _: CreateSession) -> Result<String, BackendError> {
            Ok("ses_new".into())
        }
        async fn prompt(&self, _: &str, _: Prompt) -> Result<(), BackendError> {
            Ok(())
        }
        async fn abort(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
        async fn output(&self, _: &str) -> Result<SessionOutput, BackendError> {
            Ok(SessionOutput::default())
        }
        async fn exists(&self, _: &str) -> Result<bool, BackendError> {
            Ok(true)
        }
        async fn is_busy(&self, _: &str) -> Result<bool, BackendError> {
            Ok(false)
        }
        async fn delete(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
        fn track_turn(&self, session_id: &str, prompted_at: Millis) {
            self.0.lock().push((session_id.into(), prompted_at));
        }
        fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
            broadcast::channel(1).1
        }
    }

    #[tokio::test]
    async fn a_runtime_plugged_in_later_hears_when_each_session_was_prompted() {
        let slot = BackendSlot::default();
        slot.set(Arc::new(Tracking::default()), Provider::Bridge(1));
        let prompt = Prompt {
            agent: "builder".into(),
            model: None,
            text: "go".into(),
            tools: Default::default(),
        };
        slot.prompt("ses_a", prompt.clone()).await.unwrap();
        slot.track_turn("ses_b", 42);
        slot.prompt("ses_gone", prompt).await.unwrap();
        slot.delete("ses_gone").await.unwrap();

        let next = Arc::new(Tracking::default());
        slot.set(next.clone(), Provider::Http("http://127.0.0.1:1".into()));
        let told = next.0.lock().clone();
        let sessions: Vec<&str> = told.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(sessions, ["ses_a", "ses_b"]);
        assert!(told[0].1 > 0);
        assert_eq!(told[1].1, 42);
    }
}
