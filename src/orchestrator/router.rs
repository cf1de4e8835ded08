//! Routes the agent runtime's session events to the task waiting on each session, so a
//! running task learns at once that its session went idle or failed.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc};

use super::backend::SessionEvent;

/// What a waiting task receives.
#[derive(Debug, Clone)]
pub enum Wake {
    Event(SessionEvent),
    /// Events may have been missed: look at the session's state directly.
    Recheck,
}

#[derive(Clone, Default)]
pub struct SessionRouter {
    waiters: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Wake>>>>,
}

impl SessionRouter {
    /// Starts routing events from `events` until the runtime closes the stream.
    pub fn spawn(
        &self,
        mut events: broadcast::Receiver<SessionEvent>,
    ) -> tokio::task::JoinHandle<()> {
        let waiters = self.waiters.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let waiters = waiters.lock();
                        match event.session_id() {
                            Some(id) => {
                                if let Some(tx) = waiters.get(id) {
                                    let _ = tx.send(Wake::Event(event));
                                }
                            }
                            None => {
                                for tx in waiters.values() {
                                    let _ = tx.send(Wake::Recheck);
                                }
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "session events were missed; rechecking every running session"
                        );
                        for tx in waiters.lock().values() {
                            let _ = tx.send(Wake::Recheck);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Starts listening for one session's events. Call before prompting it.
    pub fn register(&self, session_id: &str) -> mpsc::UnboundedReceiver<Wake> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.waiters.lock().insert(session_id.to_string(), tx);
        rx
    }

    /// Asks the task waiting on this session to look at it again.
    pub fn recheck(&self, session_id: &str) -> bool {
        self.waiters
            .lock()
            .get(session_id)
            .is_some_and(|tx| tx.send(Wake::Recheck).is_ok())
    }

    pub fn unregister(&self, session_id: &str) {
        self.waiters.lock().remove(session_id);
    }
}
