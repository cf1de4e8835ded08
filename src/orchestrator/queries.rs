//! Reading state: tasks, bounded waits, listings, event replay and statistics.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::events::Event;
use super::ledger::{LedgerCounts, TaskFilter, TaskPage};
use super::task::Task;
use super::{Orchestrator, OrchestratorError};

/// A page of replayed events.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replay {
    pub events: Vec<Event>,
    /// Pass this as `afterSeq` to get the next page.
    pub next_seq: u64,
    /// True when more events follow this page.
    pub more: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub version: &'static str,
    pub uptime_ms: u64,
    pub backend: String,
    pub workspace_root: String,
    pub ledger_path: String,
    pub queued: usize,
    pub running: usize,
    pub running_by_agent: BTreeMap<String, usize>,
    pub queued_by_agent: BTreeMap<String, usize>,
    pub running_by_model: BTreeMap<String, usize>,
    pub hot_tasks: usize,
    pub archived_tasks: u64,
    pub ledger: LedgerCounts,
    pub last_seq: u64,
    pub events_in_memory: usize,
    pub event_subscribers: usize,
    pub limits: crate::config::SchedulerConfig,
}

impl Orchestrator {
    /// Whether anything is queued or running: tasks or background jobs.
    pub fn has_work(&self) -> bool {
        let tasks = {
            let st = self.core.state.lock();
            st.queued() + st.running()
        };
        tasks > 0 || self.core.jobs.any_running()
    }

    /// A task by id, from memory or, once archived, from the ledger.
    pub async fn get(&self, task_id: &str) -> Result<Task, OrchestratorError> {
        self.core.task(task_id).await
    }

    /// Waits up to `wait` for the task to finish; returns it as it is then.
    pub async fn wait(&self, task_id: &str, wait: Duration) -> Result<Task, OrchestratorError> {
        // Subscribe before looking, so a finish between the look and the wait is not missed.
        let mut events = self.core.bus.subscribe();
        let task = self.core.task(task_id).await?;
        if task.status.is_terminal() || wait.is_zero() {
            return Ok(task);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => return self.core.task(task_id).await,
                Ok(Ok(event)) => {
                    if event.data.get("taskId").and_then(|v| v.as_str()) != Some(task_id) {
                        continue;
                    }
                    let task = self.core.task(task_id).await?;
                    if task.status.is_terminal() {
                        return Ok(task);
                    }
                }
                Ok(Err(RecvError::Lagged(_))) => {
                    let task = self.core.task(task_id).await?;
                    if task.status.is_terminal() {
                        return Ok(task);
                    }
                }
                Ok(Err(RecvError::Closed)) => return self.core.task(task_id).await,
            }
        }
    }

    /// The longest wait a request may ask for.
    pub fn max_wait(&self) -> Duration {
        Duration::from_millis(self.core.config.scheduler.max_wait_ms)
    }

    pub async fn list(&self, filter: TaskFilter) -> Result<TaskPage, OrchestratorError> {
        Ok(self.core.ledger.list_tasks(filter).await?)
    }

    /// Events with `seq > after_seq`, oldest first, at most `limit`.
    pub async fn replay(&self, after_seq: u64, limit: usize) -> Result<Replay, OrchestratorError> {
        let limit = limit.max(1);
        let mut events = match self.core.bus.replay_from_memory(after_seq, limit + 1) {
            Some(events) => events,
            None => self.core.ledger.events_after(after_seq, limit + 1).await?,
        };
        let more = events.len() > limit;
        events.truncate(limit);
        let next_seq = events.last().map_or(after_seq, |e| e.seq);
        Ok(Replay {
            events,
            next_seq,
            more,
        })
    }

    pub async fn stats(&self) -> Result<Stats, OrchestratorError> {
        let core = &self.core;
        let ledger = core.ledger.counts().await?;
        let st = core.state.lock();
        Ok(Stats {
            version: env!("CARGO_PKG_VERSION"),
            uptime_ms: core.started.elapsed().as_millis() as u64,
            backend: match &core.backend {
                Ok(b) => b.name().to_string(),
                Err(reason) => format!("unavailable: {reason}"),
            },
            workspace_root: core.workspace_root.display().to_string(),
            ledger_path: core.ledger.path().display().to_string(),
            queued: st.queued(),
            running: st.running(),
            running_by_agent: st.running_by_agent(),
            queued_by_agent: st.queued_by_agent(),
            running_by_model: st.running_by_model(),
            hot_tasks: st.hot().len(),
            archived_tasks: st.hot().archived(),
            last_seq: ledger.last_seq,
            ledger,
            events_in_memory: core.bus.in_memory(),
            event_subscribers: core.bus.receivers(),
            limits: st.limits().clone(),
        })
    }
}
