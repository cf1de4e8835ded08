//! Waking parent sessions. A finished background task leaves a notice for its parent in the
//! ledger's outbox (in the same transaction as its result). When the parent session is idle,
//! its pending notices go to it as one message its model sees and acts on, and are marked
//! delivered; while it is busy they wait for its next `idle`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::backend::{BackendError, Prompt, SessionBackend, SessionEvent};
use super::events::EventDraft;
use super::ledger::{Ledger, Op};
use super::task::{Task, TaskStatus};

/// Longest result text pasted into a notice; the rest is one `get_task_result` away.
const PREVIEW_CHARS: usize = 1500;

/// Tells the notifier that a parent has new notices.
#[derive(Clone)]
pub struct NoticeSignal {
    tx: mpsc::UnboundedSender<String>,
}

impl NoticeSignal {
    pub fn notify(&self, parent_session_id: &str) {
        let _ = self.tx.send(parent_session_id.to_string());
    }
}

pub struct Notifier {
    ledger: Ledger,
    backend: Arc<dyn SessionBackend>,
    /// How long to wait for more results before delivering, so results that finish together
    /// arrive in one message.
    batch: Duration,
    /// Parents with undelivered notices that are worth trying again on their next idle.
    waiting: HashSet<String>,
}

impl Notifier {
    /// Starts the notifier; returns the signal the runner uses after committing a notice.
    pub fn spawn(
        ledger: Ledger,
        backend: Arc<dyn SessionBackend>,
        batch: Duration,
        stop: CancellationToken,
    ) -> NoticeSignal {
        let (tx, rx) = mpsc::unbounded_channel();
        let events = backend.subscribe();
        let notifier = Notifier {
            ledger,
            backend,
            batch,
            waiting: HashSet::new(),
        };
        tokio::spawn(notifier.run(rx, events, stop));
        NoticeSignal { tx }
    }

    async fn run(
        mut self,
        mut signals: mpsc::UnboundedReceiver<String>,
        mut events: broadcast::Receiver<SessionEvent>,
        stop: CancellationToken,
    ) {
        // Notices a previous process could not deliver.
        match self.ledger.parents_with_pending_notices().await {
            Ok(parents) => self.waiting.extend(parents),
            Err(e) => tracing::warn!("cannot read the notice outbox: {e}"),
        }
        for parent in self.waiting.clone() {
            self.deliver(&parent).await;
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                signal = signals.recv() => {
                    let Some(first) = signal else { return };
                    tokio::time::sleep(self.batch).await;
                    let mut parents = vec![first];
                    while let Ok(more) = signals.try_recv() {
                        parents.push(more);
                    }
                    parents.sort();
                    parents.dedup();
                    for parent in parents {
                        self.deliver(&parent).await;
                    }
                }
                event = events.recv() => match event {
                    Ok(SessionEvent::Idle { session_id }) if self.waiting.contains(&session_id) => {
                        self.deliver(&session_id).await;
                    }
                    Ok(SessionEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        for parent in self.waiting.clone() {
                            self.deliver(&parent).await;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// Delivers the parent's pending notices if it is idle; otherwise leaves them for its idle.
    async fn deliver(&mut self, parent: &str) {
        let notices = match self.ledger.pending_notices(parent).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(parent, "cannot read notices: {e}");
                return;
            }
        };
        if notices.is_empty() {
            self.waiting.remove(parent);
            return;
        }
        self.waiting.insert(parent.to_string());
        match self.backend.is_busy(parent).await {
            Ok(false) => {}
            Ok(true) => return, // its idle event brings us back
            Err(e) => {
                tracing::warn!(parent, "cannot tell whether the parent is busy: {e}");
                return;
            }
        }
        let mut tasks = Vec::with_capacity(notices.len());
        for n in &notices {
            match self.ledger.task(&n.task_id).await {
                Ok(Some(t)) => tasks.push(t),
                Ok(None) => tracing::warn!(task_id = %n.task_id, "notice for an unknown task"),
                Err(e) => tracing::warn!(task_id = %n.task_id, "cannot read a noticed task: {e}"),
            }
        }
        let agent = tasks
            .iter()
            .rev()
            .find_map(|t| t.parent_agent.clone())
            .unwrap_or_default();
        let prompt = Prompt {
            agent,
            model: None,
            text: render(&tasks),
            tools: BTreeMap::new(),
        };
        match self.backend.prompt(parent, prompt).await {
            Ok(()) => {}
            Err(BackendError::NoSuchSession(_)) => {
                // Nobody to wake: the results stay readable through get_task_result.
                tracing::warn!(
                    parent,
                    "parent session is gone; its notices stay in the outbox"
                );
                self.waiting.remove(parent);
                return;
            }
            Err(e) => {
                tracing::warn!(parent, "could not wake the parent: {e}");
                return;
            }
        }
        let ids: Vec<i64> = notices.iter().map(|n| n.id).collect();
        match self.ledger.mark_notices_delivered(&ids).await {
            Ok(_) => {
                let event = EventDraft::new(
                    "notice.delivered",
                    json!({"parentSessionId": parent,
                           "taskIds": tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>()}),
                );
                if let Err(e) = self.ledger.commit(vec![Op::Event(event)]).await {
                    tracing::warn!(parent, "could not record the delivery: {e}");
                }
            }
            Err(e) => tracing::error!(parent, "delivered notices could not be marked: {e}"),
        }
        self.waiting.remove(parent);
    }
}

/// The message a parent's model reads: what finished, how, and the start of each result.
pub fn render(tasks: &[Task]) -> String {
    let mut out = format!(
        "[opencode-orchestrator] {} background task{} finished:\n",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" }
    );
    for t in tasks {
        out.push_str(&format!(
            "\n## {} ({}): {} [{}]\n",
            t.id, t.agent, t.description, t.status
        ));
        match t.status {
            TaskStatus::Completed => {
                let text = t.result.as_deref().unwrap_or("(no text)");
                let preview: String = text.chars().take(PREVIEW_CHARS).collect();
                out.push_str(&preview);
                if text.chars().count() > PREVIEW_CHARS {
                    out.push_str(&format!(
                        "\n... (truncated; get_task_result with taskId \"{}\" has it all)",
                        t.id
                    ));
                }
                out.push('\n');
            }
            _ => {
                out.push_str(t.error.as_deref().unwrap_or("no detail recorded"));
                out.push('\n');
            }
        }
    }
    out.push_str("\nContinue with these results. get_task_result returns any task's full result.");
    out
}
