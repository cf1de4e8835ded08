//! The task that owns every mission: its state, the loop that feeds it (requests, bus events,
//! session events), and persistence. What it does with a mission lives next door: `work.rs`
//! (task endings, dispatch), `verify.rs`, `continuation.rs`, `lifecycle.rs` (stop, pause, end,
//! budgets), `handlers.rs` (requests and tools).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::model::{DelegatedTask, Mission, MissionStatus};
use super::{Command, prompts};
use crate::orchestrator::backend::{SessionBackend, SessionErrorKind, SessionEvent};
use crate::orchestrator::events::{Event, EventDraft};
use crate::orchestrator::ledger::{JournalDraft, MissionRow, Op};
use crate::orchestrator::plan::render;
use crate::orchestrator::task::{Task, TaskStatus, now_ms};
use crate::orchestrator::{Orchestrator, OrchestratorError};

/// The file humans read the plan in, relative to the workspace.
pub const TODO_FILE: &str = ".opencode/todo.md";

pub(super) struct Engine {
    pub orch: Orchestrator,
    pub tx: mpsc::UnboundedSender<Command>,
    /// Every mission loaded, by id.
    pub missions: HashMap<String, Mission>,
    /// A session's newest mission.
    pub by_session: HashMap<String, String>,
    /// A mission's tasks, by task id.
    pub by_task: HashMap<String, String>,
    /// Tasks delegated under a mission outside its plan (by the Commander, or by a mission
    /// task): their spend counts towards the mission's budgets.
    pub under: HashMap<String, String>,
    /// Debounce: only the newest scheduled check of a mission runs.
    pub generation: HashMap<String, u64>,
    /// What `.opencode/todo.md` was last written with.
    pub todo_written: Option<String>,
}

pub(super) fn spawn(
    orch: Orchestrator,
    tx: mpsc::UnboundedSender<Command>,
    rx: mpsc::UnboundedReceiver<Command>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let bus = orch.bus().subscribe();
        let sessions = orch.backend().ok().map(|b| b.subscribe());
        let mut engine = Engine {
            orch,
            tx,
            missions: HashMap::new(),
            by_session: HashMap::new(),
            by_task: HashMap::new(),
            under: HashMap::new(),
            generation: HashMap::new(),
            todo_written: None,
        };
        engine.load().await;
        engine.run(rx, bus, sessions, stop).await;
    });
}

impl Engine {
    async fn run(
        &mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut bus: broadcast::Receiver<Arc<Event>>,
        mut sessions: Option<broadcast::Receiver<SessionEvent>>,
        stop: CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                command = commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => return,
                },
                event = bus.recv() => match event {
                    Ok(event) => self.on_bus_event(&event).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => self.reconcile_all().await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                event = next_session_event(&mut sessions) => match event {
                    Some(Ok(event)) => self.on_session_event(event).await,
                    Some(Err(broadcast::error::RecvError::Lagged(_))) => self.reconcile_all().await,
                    Some(Err(broadcast::error::RecvError::Closed)) => sessions = None,
                    None => {}
                },
            }
        }
    }

    /// Missions a previous process left unfinished, brought back and reconciled with their
    /// tasks (which may have ended, or been interrupted, while nobody was watching).
    async fn load(&mut self) {
        let rows = match self.orch.ledger().missions(Vec::new(), 10_000).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot read missions: {e}");
                return;
            }
        };
        // Oldest first, so a session's newest mission wins `by_session`.
        for row in rows.into_iter().rev() {
            match serde_json::from_str::<Mission>(&row.body) {
                Ok(m) => self.insert(m),
                Err(e) => tracing::error!(mission = row.id, "unreadable mission record: {e}"),
            }
        }
        self.reconcile_all().await;
    }

    pub fn insert(&mut self, mission: Mission) {
        // A session's newest mission, unless that one is over and an earlier one is not (it
        // was resumed after the newer one ended): loading oldest first must end the same.
        let keeps_open = self
            .by_session
            .get(&mission.session_id)
            .and_then(|id| self.missions.get(id))
            .is_some_and(|m| !m.status.is_final());
        if !(keeps_open && mission.status.is_final()) {
            self.by_session
                .insert(mission.session_id.clone(), mission.id.clone());
        }
        for task in &mission.task_ids {
            self.by_task.insert(task.clone(), mission.id.clone());
        }
        for d in &mission.delegated {
            self.under.insert(d.task_id.clone(), mission.id.clone());
        }
        self.missions.insert(mission.id.clone(), mission);
    }

    /// Applies the endings of tasks that finished unseen, then looks at every open mission.
    async fn reconcile_all(&mut self) {
        let open: Vec<(String, Vec<String>)> = self
            .missions
            .values()
            .filter(|m| !m.status.is_final() || m.final_message_pending)
            .map(|m| (m.id.clone(), running_tasks(m)))
            .collect();
        for (id, tasks) in open {
            for task_id in tasks {
                if let Ok(task) = self.orch.get(&task_id).await
                    && task.status.is_terminal()
                {
                    if self.by_task.contains_key(&task_id) {
                        self.task_ended(&task).await;
                    } else {
                        self.delegated_ended(&id, &task).await;
                    }
                }
            }
            self.schedule_check(&id, Duration::ZERO);
        }
    }

    async fn on_bus_event(&mut self, event: &Event) {
        // A notice reached the session: its turn (and the idle after it) may have come before
        // the delivery was recorded, so look again.
        if event.kind == "notice.delivered" {
            if let Some(id) = event
                .data
                .get("parentSessionId")
                .and_then(Value::as_str)
                .and_then(|s| self.by_session.get(s))
                .cloned()
            {
                let delay = self.orch.config().missions.continue_delay_ms;
                self.schedule_check(&id, Duration::from_millis(delay));
            }
            return;
        }
        if !event.kind.starts_with("task.") {
            return;
        }
        let Some(task_id) = event.data.get("taskId").and_then(Value::as_str) else {
            return;
        };
        if !self.by_task.contains_key(task_id) {
            self.delegated_task_event(event, task_id).await;
            return;
        }
        match self.orch.get(task_id).await {
            Ok(task) if task.status.is_terminal() => self.task_ended(&task).await,
            Ok(_) => {}
            Err(e) => tracing::warn!(task_id, "cannot read a mission task: {e}"),
        }
    }

    /// A task outside the plan: if it is delegated under an active mission (by its session
    /// or by one of its tasks), the mission adopts it; its ending counts its spend.
    async fn delegated_task_event(&mut self, event: &Event, task_id: &str) {
        let mission = match self.under.get(task_id) {
            Some(id) => id.clone(),
            // Adopted when it is delegated, never later: a task the user delegated before
            // the mission started or while it was paused stays theirs.
            None if event.kind == TaskStatus::Queued.event_type() => {
                let Some(id) = self.adopting_mission(&event.data) else {
                    return;
                };
                self.adopt(&id, event, task_id).await;
                id
            }
            None => return,
        };
        let ended = TaskStatus::ALL
            .iter()
            .any(|s| s.is_terminal() && s.event_type() == event.kind);
        if !ended {
            return;
        }
        if let Ok(task) = self.orch.get(task_id).await {
            self.delegated_ended(&mission, &task).await;
        }
    }

    /// The active mission a new task works under: its parent task's, or its parent session's.
    fn adopting_mission(&self, data: &Value) -> Option<String> {
        let by_parent_task = data
            .get("parentTaskId")
            .and_then(Value::as_str)
            .and_then(|t| self.by_task.get(t).or_else(|| self.under.get(t)));
        let by_session = data
            .get("parentSessionId")
            .and_then(Value::as_str)
            .and_then(|s| self.by_session.get(s));
        let id = by_parent_task.or(by_session)?;
        // A paused or ended mission's session is the user's again: their work is their own.
        (self.missions.get(id)?.status == MissionStatus::Active).then(|| id.clone())
    }

    /// Records a task delegated under the mission. One past `maxTasks` stops the mission and is
    /// cancelled itself; the tasks started within the budget run on.
    async fn adopt(&mut self, id: &str, event: &Event, task_id: &str) {
        let Some(m) = self.missions.get_mut(id) else {
            return;
        };
        let text = |k: &str| {
            event
                .data
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (agent, description) = (text("agent"), text("description"));
        m.delegated.push(DelegatedTask {
            task_id: task_id.to_string(),
            agent: agent.clone(),
            description: description.clone(),
            running: true,
        });
        self.under.insert(task_id.to_string(), id.to_string());
        self.save_quietly(
            id,
            vec![(
                "delegated".into(),
                format!("{agent}: {description}"),
                json!({"taskId": task_id, "agent": agent}),
            )],
            Vec::new(),
        )
        .await;
        if let Some(reason) = self.over_task_budget(id) {
            self.cancel_in_background(vec![task_id.to_string()]);
            self.stop_for_tasks(id, &reason).await;
        }
    }

    /// A delegated task ended: it no longer runs, and its spend counts.
    pub(super) async fn delegated_ended(&mut self, id: &str, task: &Task) {
        let Some(m) = self.missions.get_mut(id) else {
            return;
        };
        let Some(d) = m.delegated.iter_mut().find(|d| d.task_id == task.id) else {
            return;
        };
        if !d.running {
            return; // already seen (an event and a reconcile can both report it)
        }
        d.running = false;
        m.count_spend(task);
        self.save_quietly(id, Vec::new(), Vec::new()).await;
        if let Some(reason) = self.over_budget(id)
            && self.missions[id].status == MissionStatus::Active
        {
            self.stop(id, &reason).await;
        }
    }

    async fn on_session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Idle { session_id } => {
                if let Some(id) = self.by_session.get(&session_id).cloned() {
                    let delay = self.orch.config().missions.continue_delay_ms;
                    self.schedule_check(&id, Duration::from_millis(delay));
                }
            }
            SessionEvent::Error {
                session_id,
                kind: SessionErrorKind::Aborted,
                ..
            } => {
                if let Some(id) = self.active_in(&session_id) {
                    self.pause(
                        &id,
                        "the session was interrupted (aborted); resume the mission to continue",
                    )
                    .await;
                }
            }
            SessionEvent::UserMessage { session_id, text } => {
                if !text.trim_start().starts_with(prompts::MARKER)
                    && let Some(id) = self.active_in(&session_id)
                {
                    self.pause(
                        &id,
                        "the user wrote to the session; the mission waits until it is resumed",
                    )
                    .await;
                }
            }
            SessionEvent::Resync => self.reconcile_all().await,
            _ => {}
        }
    }

    pub(super) fn active_in(&self, session_id: &str) -> Option<String> {
        let id = self.by_session.get(session_id)?;
        (self.missions.get(id)?.status == MissionStatus::Active).then(|| id.clone())
    }

    /// Looks at the mission again after `delay`; a later call replaces an earlier one.
    pub fn schedule_check(&mut self, mission_id: &str, delay: Duration) {
        let generation = self.generation.entry(mission_id.to_string()).or_default();
        *generation += 1;
        let command = Command::Check {
            mission_id: mission_id.to_string(),
            generation: *generation,
        };
        let tx = self.tx.clone();
        if delay.is_zero() {
            let _ = tx.send(command);
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(command);
            });
        }
    }

    pub fn backend(&self) -> Result<Arc<dyn SessionBackend>, OrchestratorError> {
        self.orch
            .backend()
            .map_err(|reason| OrchestratorError::BackendUnavailable(reason.to_string()))
    }

    /// Commits the mission's record, with journal entries and events, then refreshes todo.md.
    pub async fn save(
        &mut self,
        id: &str,
        journal: Vec<(String, String, Value)>,
        events: Vec<(String, Value)>,
    ) -> Result<(), OrchestratorError> {
        let Some(mission) = self.missions.get_mut(id) else {
            return Ok(());
        };
        mission.updated_at = now_ms();
        let body = serde_json::to_string(&*mission).map_err(|e| {
            OrchestratorError::ToolFailed(format!("cannot encode mission {id}: {e}"))
        })?;
        let mut ops = vec![Op::PutMission(MissionRow {
            id: mission.id.clone(),
            session_id: mission.session_id.clone(),
            status: mission.status.as_str().to_string(),
            created_at: mission.created_at,
            body,
        })];
        for (kind, text, data) in journal {
            ops.push(Op::Journal(JournalDraft {
                mission_id: id.to_string(),
                kind,
                text,
                data,
            }));
        }
        let progress = mission.plan.progress();
        for (kind, mut data) in events {
            if let Some(obj) = data.as_object_mut() {
                obj.insert("missionId".into(), id.into());
                obj.insert("sessionId".into(), mission.session_id.clone().into());
                obj.insert("status".into(), mission.status.as_str().into());
                obj.insert(
                    "progress".into(),
                    json!({"done": progress.done_or_skipped(), "total": progress.total_leaves,
                           "running": progress.running, "failed": progress.failed}),
                );
            }
            ops.push(Op::Event(EventDraft::new(kind, data)));
        }
        if let Err(e) = self.orch.ledger().commit(ops).await {
            self.restore(id).await;
            return Err(e.into());
        }
        if let Some(todo) = self.todo_text(id)
            && self.todo_written.as_ref() != Some(&todo)
        {
            // Written here, in commit order, and renamed into place: the file never shows an
            // older plan, or half of one. Most saves do not change it: those write nothing.
            let path = self.orch.workspace_root().join(TODO_FILE);
            match write_atomically(&path, &todo).await {
                Ok(()) => self.todo_written = Some(todo),
                Err(e) => tracing::warn!(path = %path.display(), "cannot write the plan file: {e}"),
            }
        }
        Ok(())
    }

    /// `.opencode/todo.md` after a change to mission `id`: the plans of the missions still
    /// open, newest first, or when none is, the newest finished one's. None when `id` has no
    /// plan (the file would not change).
    fn todo_text(&self, id: &str) -> Option<String> {
        if self.missions.get(id).is_none_or(|m| m.plan.is_empty()) {
            return None;
        }
        let with_plan = || self.missions.values().filter(|m| !m.plan.is_empty());
        let mut shown: Vec<&Mission> = with_plan().filter(|m| !m.status.is_final()).collect();
        if shown.is_empty() {
            shown.extend(with_plan().max_by_key(|m| (m.created_at, m.id.as_str())));
        }
        shown.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id.as_str())));
        let parts: Vec<String> = shown
            .iter()
            .map(|m| {
                let level = m.level.map(|l| format!("{l:?}")).unwrap_or_default();
                render::todo_markdown(&m.plan, &m.goal, &level)
            })
            .collect();
        Some(parts.join("\n---\n\n"))
    }

    /// After a failed save: the mission as last committed, so memory never runs ahead of the
    /// ledger (a change that could not be recorded did not happen). A mission never committed
    /// is left to its caller.
    async fn restore(&mut self, id: &str) {
        match self.orch.ledger().mission(id).await {
            Ok(Some(row)) => match serde_json::from_str::<Mission>(&row.body) {
                Ok(m) => {
                    self.missions.insert(id.to_string(), m);
                }
                Err(e) => tracing::error!(mission = id, "unreadable mission record: {e}"),
            },
            Ok(None) => {}
            Err(e) => tracing::error!(mission = id, "cannot read the mission back: {e}"),
        }
    }

    /// Saves, logging instead of failing: for changes nobody is waiting on.
    pub async fn save_quietly(
        &mut self,
        id: &str,
        journal: Vec<(String, String, Value)>,
        events: Vec<(String, Value)>,
    ) {
        if let Err(e) = self.save(id, journal, events).await {
            tracing::error!(mission = id, "cannot save the mission: {e}");
        }
    }
}

async fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension("md.tmp");
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, path).await
}

async fn next_session_event(
    sessions: &mut Option<broadcast::Receiver<SessionEvent>>,
) -> Option<Result<SessionEvent, broadcast::error::RecvError>> {
    match sessions {
        Some(rx) => Some(rx.recv().await),
        None => std::future::pending().await,
    }
}

/// The mission's tasks that have not ended (plan items running, an open verification).
pub(super) fn running_tasks(mission: &Mission) -> Vec<String> {
    let mut tasks: Vec<String> = mission
        .plan
        .items
        .iter()
        .filter(|i| i.status == crate::orchestrator::plan::ItemStatus::Running)
        .filter_map(|i| i.task_id.clone())
        .collect();
    if let Some(round) = mission.open_round() {
        tasks.push(round.task_id.clone());
    }
    tasks.extend(
        mission
            .delegated
            .iter()
            .filter(|d| d.running)
            .map(|d| d.task_id.clone()),
    );
    tasks
}
