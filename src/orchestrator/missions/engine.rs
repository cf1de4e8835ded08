//! The task that owns every mission: its state, the loop that feeds it, persistence, task
//! endings, dispatching ready plan items, verification, and the continuation check.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::model::{ContextEntry, Mission, MissionStatus, Report, Round, Spend, Verdict};
use super::{Command, Fix, prompts};
use crate::orchestrator::backend::{Prompt, SessionBackend, SessionErrorKind, SessionEvent};
use crate::orchestrator::events::{Event, EventDraft};
use crate::orchestrator::ledger::{JournalDraft, MissionRow, Op};
use crate::orchestrator::plan::{AddItem, PlanEdit, TaskOutcome, render};
use crate::orchestrator::task::{Task, TaskStatus, now_ms};
use crate::orchestrator::{DelegateRequest, Orchestrator, OrchestratorError, agents};

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
        self.by_session
            .insert(mission.session_id.clone(), mission.id.clone());
        for task in &mission.task_ids {
            self.by_task.insert(task.clone(), mission.id.clone());
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
                    self.task_ended(&task).await;
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
            self.other_task_event(event, task_id).await;
            return;
        }
        match self.orch.get(task_id).await {
            Ok(task) if task.status.is_terminal() => self.task_ended(&task).await,
            Ok(_) => {}
            Err(e) => tracing::warn!(task_id, "cannot read a mission task: {e}"),
        }
    }

    /// A task outside the plan: if it works under a mission (delegated by its session or by
    /// one of its tasks), remember that, and count its spend when it ends.
    async fn other_task_event(&mut self, event: &Event, task_id: &str) {
        let mission = match self.under.get(task_id) {
            Some(id) => Some(id.clone()),
            None => {
                let data = &event.data;
                let by_parent_task = data
                    .get("parentTaskId")
                    .and_then(Value::as_str)
                    .and_then(|t| self.by_task.get(t).or_else(|| self.under.get(t)));
                let by_session = data
                    .get("parentSessionId")
                    .and_then(Value::as_str)
                    .and_then(|s| self.by_session.get(s));
                by_parent_task.or(by_session).cloned()
            }
        };
        let Some(mission) = mission else {
            return;
        };
        self.under.insert(task_id.to_string(), mission.clone());
        if !matches!(
            event.kind.as_str(),
            "task.completed"
                | "task.failed"
                | "task.cancelled"
                | "task.timed_out"
                | "task.interrupted"
        ) {
            return;
        }
        let Ok(task) = self.orch.get(task_id).await else {
            return;
        };
        if let (Some(usage), Some(m)) = (&task.usage, self.missions.get_mut(&mission)) {
            let mut spend = Spend::default();
            spend.add(usage);
            m.task_spend.insert(task.id.clone(), spend);
            self.save_quietly(&mission, Vec::new(), Vec::new()).await;
            if let Some(reason) = self.over_budget(&mission)
                && self.missions[&mission].status == MissionStatus::Active
            {
                self.stop(&mission, &reason).await;
            }
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

    fn active_in(&self, session_id: &str) -> Option<String> {
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
        let todo = (!mission.plan.is_empty()).then(|| {
            let level = mission.level.map(|l| format!("{l:?}")).unwrap_or_default();
            render::todo_markdown(&mission.plan, &mission.goal, &level)
        });
        self.orch.ledger().commit(ops).await?;
        if let Some(todo) = todo {
            // Written here, in commit order, and renamed into place: the file never shows an
            // older plan, or half of one.
            let path = self.orch.workspace_root().join(TODO_FILE);
            if let Err(e) = write_atomically(&path, &todo).await {
                tracing::warn!(path = %path.display(), "cannot write the plan file: {e}");
            }
        }
        Ok(())
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

    /// A mission task ended: its spend, its plan item, its report, verification.
    pub async fn task_ended(&mut self, task: &Task) {
        let Some(id) = self.by_task.get(&task.id).cloned() else {
            return;
        };
        let retries = self.orch.config().missions.item_retries;
        let Some(mission) = self.missions.get_mut(&id) else {
            return;
        };
        if mission.context.iter().any(|c| c.task_id == task.id) {
            return; // already handled (an event and a reconcile can both report it)
        }
        let mut journal = Vec::new();
        if let Some(usage) = &task.usage {
            let mut spend = Spend::default();
            spend.add(usage);
            mission.task_spend.insert(task.id.clone(), spend);
        }
        let reported = mission.reports.remove(&task.id);
        let report = reported.clone().unwrap_or_else(|| report_from_text(task));
        mission.context.push(ContextEntry {
            task_id: task.id.clone(),
            item_id: task.plan_item.clone(),
            agent: task.agent.clone(),
            status: task.status.to_string(),
            reported: reported.is_some(),
            report: report.clone(),
        });
        let is_round = mission.open_round().is_some_and(|r| r.task_id == task.id);
        if task.plan_item.is_some() {
            let outcome = match task.status {
                TaskStatus::Completed => TaskOutcome::Completed {
                    summary: report.summary.clone(),
                },
                TaskStatus::Cancelled => TaskOutcome::Cancelled,
                _ => TaskOutcome::Failed {
                    error: task
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("the task ended {}", task.status)),
                },
            };
            if let Some(item_id) = mission.plan.record_task_result(&task.id, outcome) {
                journal.push((
                    "item".to_string(),
                    format!(
                        "item `{item_id}` {}: {}",
                        task.status,
                        prompts::clip(&report.summary, 200)
                    ),
                    json!({"itemId": item_id, "taskId": task.id, "status": task.status}),
                ));
                // A failure that is not the user's doing gets another go on its own.
                let item = mission.plan.get(&item_id);
                if mission.status == MissionStatus::Active
                    && matches!(
                        task.status,
                        TaskStatus::Failed | TaskStatus::Interrupted | TaskStatus::TimedOut
                    )
                    && item.is_some_and(|i| i.attempts <= retries)
                    && mission.plan.reset_for_retry(&item_id).is_ok()
                {
                    journal.push((
                        "retry".to_string(),
                        format!("item `{item_id}` will run again"),
                        json!({"itemId": item_id}),
                    ));
                }
            }
        }
        self.save_quietly(
            &id,
            journal,
            vec![(
                "mission.progress".into(),
                json!({"taskId": task.id, "taskStatus": task.status}),
            )],
        )
        .await;
        if is_round {
            let verdict = self
                .missions
                .get(&id)
                .and_then(|m| m.open_round())
                .and_then(|r| r.verdict);
            if verdict.is_none() {
                let (verdict, evidence) = verdict_from_text(task);
                self.apply_verdict(&id, verdict, evidence, Vec::new()).await;
            }
        }
        self.advance(&id).await;
    }

    /// Moves an active mission on without the model: dispatch what is ready, verify what is
    /// done, then look at it again.
    pub async fn advance(&mut self, id: &str) {
        let Some(mission) = self.missions.get(id) else {
            return;
        };
        if mission.status == MissionStatus::Active {
            if let Some(reason) = self.over_budget(id) {
                self.stop(id, &reason).await;
                return;
            }
            if mission.auto_dispatch && !mission.plan.ready_leaves().is_empty() {
                let _ = self.dispatch_ready(id).await;
            }
            let mission = &self.missions[id];
            if !mission.plan.is_empty()
                && mission.plan.is_complete()
                && mission.open_round().is_none()
                && !mission.passed()
            {
                self.start_verification(id).await;
            }
        }
        self.schedule_check(id, Duration::ZERO);
    }

    /// Starts every ready plan item as a task. Returns (item, task) of what started.
    pub async fn dispatch_ready(
        &mut self,
        id: &str,
    ) -> Result<Vec<(String, String)>, OrchestratorError> {
        let mut started = Vec::new();
        while let Some(item) = self
            .missions
            .get(id)
            .filter(|m| m.status == MissionStatus::Active)
            .and_then(|m| m.plan.ready_leaves().first().map(|i| (*i).clone()))
        {
            if let Some(reason) = self.over_budget(id) {
                self.stop(id, &reason).await;
                break;
            }
            if let Some(reason) = self.no_task_left(id) {
                self.stop_for_tasks(id, &reason).await;
                break;
            }
            let mission = &self.missions[id];
            let agent = item.agent.clone().unwrap_or_else(|| "builder".into());
            let request = DelegateRequest {
                agent,
                description: prompts::clip(&format!("{}: {}", item.id, item.title), 190),
                prompt: prompts::item(mission, &item),
                background: true,
                priority: 0,
                model: None,
                parent_session_id: Some(mission.session_id.clone()),
                resume: None,
                parent_agent: Some("commander".into()),
                mission_id: Some(id.to_string()),
                plan_item: Some(item.id.clone()),
            };
            let task = match self.orch.delegate(request).await {
                Ok(task) => task,
                Err(e) => {
                    if started.is_empty() {
                        return Err(e);
                    }
                    tracing::warn!(mission = id, "dispatch stopped: {e}");
                    break;
                }
            };
            let mission = self.missions.get_mut(id).expect("checked above");
            if let Err(e) = mission.plan.mark_dispatched(&item.id, &task.id) {
                tracing::error!(mission = id, "plan refused a dispatched item: {e}");
            }
            mission.task_ids.push(task.id.clone());
            self.by_task.insert(task.id.clone(), id.to_string());
            started.push((item.id.clone(), task.id.clone()));
        }
        if !started.is_empty() {
            let items: Vec<Value> = started
                .iter()
                .map(|(i, t)| json!({"itemId": i, "taskId": t}))
                .collect();
            self.save(
                id,
                vec![(
                    "dispatch".into(),
                    format!(
                        "started {}",
                        started
                            .iter()
                            .map(|(i, t)| format!("`{i}` ({t})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    json!({"items": items}),
                )],
                vec![("mission.dispatched".into(), json!({"items": items}))],
            )
            .await?;
        }
        Ok(started)
    }

    /// Hands the finished work to the Inspector.
    pub async fn start_verification(&mut self, id: &str) {
        let max_rounds = self.orch.config().missions.max_verify_rounds;
        let Some(mission) = self.missions.get(id) else {
            return;
        };
        let round = mission.rounds.len() as u32 + 1;
        if round > max_rounds {
            let evidence = mission
                .rounds
                .last()
                .and_then(|r| r.evidence.clone())
                .unwrap_or_default();
            let reason = format!(
                "verification failed {max_rounds} times (missions.maxVerifyRounds); last \
                 finding: {}",
                prompts::clip(&evidence, 300)
            );
            self.stop(id, &reason).await;
            return;
        }
        if let Some(reason) = self.over_budget(id) {
            self.stop(id, &reason).await;
            return;
        }
        if let Some(reason) = self.no_task_left(id) {
            self.stop_for_tasks(id, &reason).await;
            return;
        }
        let request = DelegateRequest {
            agent: "inspector".into(),
            description: prompts::clip(&format!("Verify: {}", mission.goal), 190),
            prompt: prompts::verify(mission, round),
            background: true,
            parent_session_id: Some(mission.session_id.clone()),
            parent_agent: Some("commander".into()),
            mission_id: Some(id.to_string()),
            ..Default::default()
        };
        let task = match self.orch.delegate(request).await {
            Ok(task) => task,
            Err(e) => {
                self.stop(id, &format!("the verification could not start: {e}"))
                    .await;
                return;
            }
        };
        let mission = self.missions.get_mut(id).expect("checked above");
        mission.rounds.push(Round {
            round,
            task_id: task.id.clone(),
            verdict: None,
            evidence: None,
            fix_items: Vec::new(),
        });
        mission.task_ids.push(task.id.clone());
        self.by_task.insert(task.id.clone(), id.to_string());
        self.save_quietly(
            id,
            vec![(
                "verify".into(),
                format!("verification round {round} started ({})", task.id),
                json!({"round": round, "taskId": task.id}),
            )],
            vec![(
                "mission.verifying".into(),
                json!({"round": round, "taskId": task.id}),
            )],
        )
        .await;
    }

    /// The Inspector's verdict on the open round: completion, or fix items.
    pub async fn apply_verdict(
        &mut self,
        id: &str,
        verdict: Verdict,
        evidence: String,
        fixes: Vec<Fix>,
    ) {
        let Some(mission) = self.missions.get_mut(id) else {
            return;
        };
        let Some(round) = mission.rounds.last_mut().filter(|r| r.verdict.is_none()) else {
            return;
        };
        round.verdict = Some(verdict);
        round.evidence = Some(evidence.clone());
        let number = round.round;
        match verdict {
            Verdict::Pass => {
                mission.set_status(
                    MissionStatus::Completed,
                    Some(format!("verified by the Inspector in round {number}")),
                );
                mission.final_message_pending = true;
                self.save_quietly(
                    id,
                    vec![(
                        "verdict".into(),
                        format!("round {number}: PASS — {}", prompts::clip(&evidence, 300)),
                        json!({"round": number, "verdict": "pass"}),
                    )],
                    vec![(
                        "mission.completed".into(),
                        json!({"round": number, "evidence": prompts::clip(&evidence, 500)}),
                    )],
                )
                .await;
            }
            Verdict::Fail => {
                let fixes = if fixes.is_empty() {
                    vec![Fix {
                        title: "Fix what the Inspector found".into(),
                        description: Some(evidence.clone()),
                        agent: None,
                    }]
                } else {
                    fixes
                };
                let group = format!("fix-{number}");
                let mut edits = vec![PlanEdit::Add(AddItem {
                    id: group.clone(),
                    title: format!("Fixes from verification round {number}"),
                    ..Default::default()
                })];
                let mut ids = Vec::new();
                for (i, fix) in fixes.iter().enumerate() {
                    let item = format!("{group}.{}", i + 1);
                    ids.push(item.clone());
                    edits.push(PlanEdit::Add(AddItem {
                        id: item,
                        title: prompts::clip(&fix.title, 190),
                        description: Some(format!(
                            "{}\n\nThe Inspector's findings: {}",
                            fix.description.clone().unwrap_or_default(),
                            prompts::clip(&evidence, 1500)
                        )),
                        agent: Some(fix.agent.clone().unwrap_or_else(|| "builder".into())),
                        parent: Some(group.clone()),
                        depends_on: Vec::new(),
                    }));
                }
                let names: Vec<&str> = agents::delegable().map(|a| a.name).collect();
                let applied = mission.plan.apply(edits, &names);
                if let Some(round) = mission.rounds.last_mut() {
                    round.fix_items = ids.clone();
                }
                mission.completion_claim = None;
                mission.auto_dispatch = true;
                self.save_quietly(
                    id,
                    vec![(
                        "verdict".into(),
                        format!(
                            "round {number}: FAIL — {}; fix items: {}",
                            prompts::clip(&evidence, 300),
                            ids.join(", ")
                        ),
                        json!({"round": number, "verdict": "fail", "fixItems": ids}),
                    )],
                    vec![(
                        "mission.verdict".into(),
                        json!({"round": number, "verdict": "fail", "fixItems": ids}),
                    )],
                )
                .await;
                if let Err(e) = applied {
                    self.stop(
                        id,
                        &format!("the fix items could not be added to the plan: {e}"),
                    )
                    .await;
                    return;
                }
                if let Err(e) = self.dispatch_ready(id).await {
                    tracing::warn!(mission = id, "fix items could not start yet: {e}");
                }
            }
        }
    }

    /// Stops the mission (breaker or budget) with a reason; running tasks are cancelled.
    pub async fn stop(&mut self, id: &str, reason: &str) {
        self.end(id, MissionStatus::Stopped, reason, "mission.stopped")
            .await;
    }

    pub async fn pause(&mut self, id: &str, reason: &str) {
        let Some(mission) = self.missions.get_mut(id) else {
            return;
        };
        mission.set_status(MissionStatus::Paused, Some(reason.to_string()));
        self.save_quietly(
            id,
            vec![("paused".into(), reason.to_string(), json!({}))],
            vec![("mission.paused".into(), json!({"reason": reason}))],
        )
        .await;
    }

    /// Leaves the active state for good or until resumed, cancelling what still runs.
    pub async fn end(&mut self, id: &str, status: MissionStatus, reason: &str, event: &str) {
        self.end_with(id, status, reason, event, true).await;
    }

    async fn end_with(
        &mut self,
        id: &str,
        status: MissionStatus,
        reason: &str,
        event: &str,
        cancel_running: bool,
    ) {
        let Some(mission) = self.missions.get_mut(id) else {
            return;
        };
        mission.set_status(status, Some(reason.to_string()));
        let running = if cancel_running {
            running_tasks(mission)
        } else {
            Vec::new()
        };
        self.save_quietly(
            id,
            vec![(status.as_str().into(), reason.to_string(), json!({}))],
            vec![(event.into(), json!({"reason": reason}))],
        )
        .await;
        // Cancelling waits for each session to stop: not on this task's time.
        let orch = self.orch.clone();
        tokio::spawn(async move {
            for task in running {
                if let Err(e) = orch.cancel(&task).await {
                    tracing::warn!(task, "cannot cancel a mission task: {e}");
                }
            }
        });
    }

    /// Why the mission may not start another task (`maxTasks`), if so.
    pub fn no_task_left(&self, id: &str) -> Option<String> {
        let mission = self.missions.get(id)?;
        let max = mission.budgets.max_tasks?;
        (mission.task_ids.len() >= max as usize)
            .then(|| format!("budget: the mission has started {max} tasks (maxTasks)"))
    }

    /// Stops a mission that needs a task its `maxTasks` does not allow. The tasks it already
    /// started are within the budget: they finish, and their results are kept.
    async fn stop_for_tasks(&mut self, id: &str, reason: &str) {
        self.end_with(id, MissionStatus::Stopped, reason, "mission.stopped", false)
            .await;
    }

    /// The spending budget (time, tokens, cost) the mission has gone over, if any.
    pub fn over_budget(&self, id: &str) -> Option<String> {
        let mission = self.missions.get(id)?;
        let b = &mission.budgets;
        let now = now_ms();
        if let Some(max) = b.max_minutes
            && mission.active_time(now) >= max * 60_000
        {
            return Some(format!(
                "budget: the mission has been active {max} minutes (maxMinutes)"
            ));
        }
        let spend = mission.spend();
        if let Some(max) = b.max_tokens
            && spend.tokens() >= max
        {
            return Some(format!(
                "budget: the mission has used {} tokens, its limit is {max} (maxTokens)",
                spend.tokens()
            ));
        }
        if let Some(max) = b.max_cost
            && spend.cost >= max
        {
            return Some(format!(
                "budget: the mission has cost {:.4}, its limit is {max} (maxCost)",
                spend.cost
            ));
        }
        None
    }

    /// The continuation check: when the mission's session is idle and nothing of the mission
    /// runs, either finish, verify, dispatch, stop on a breaker, or prompt the Commander.
    pub async fn check(&mut self, id: &str) {
        let Some(mission) = self.missions.get(id) else {
            return;
        };
        let wanted = mission.status == MissionStatus::Active || mission.final_message_pending;
        if !wanted || !running_tasks(mission).is_empty() {
            return; // finished work wakes it again
        }
        let session = mission.session_id.clone();
        let Ok(backend) = self.backend() else {
            return;
        };
        match backend.is_busy(&session).await {
            Ok(false) => {}
            Ok(true) => return, // its idle brings us back
            Err(e) => {
                tracing::warn!(mission = id, "cannot tell whether the session is busy: {e}");
                return;
            }
        }
        // Work the Commander delegated itself (outside the plan) wakes it when it ends, and
        // so do notices still waiting for it: neither is a reason to continue it now.
        if self.session_waits(&session).await {
            return;
        }
        // The session's last turn: its spend, and its reply for the repeat breaker.
        self.account_turn(id, &*backend).await;
        let Some(mission) = self.missions.get(id) else {
            return;
        };
        if mission.final_message_pending {
            let text = prompts::complete(mission);
            let prompt = Prompt {
                agent: "commander".into(),
                model: None,
                text,
                tools: Default::default(),
            };
            match backend.prompt(&session, prompt).await {
                Ok(()) => {
                    if let Some(m) = self.missions.get_mut(id) {
                        m.final_message_pending = false;
                    }
                    self.save_quietly(id, Vec::new(), Vec::new()).await;
                }
                Err(e) => tracing::warn!(mission = id, "cannot tell the session it is done: {e}"),
            }
            return;
        }
        if mission.status != MissionStatus::Active {
            return;
        }
        let cfg = self.orch.config().missions.clone();
        if let Some(reason) = self.over_budget(id) {
            self.stop(id, &reason).await;
            return;
        }
        // Work the server can do itself comes before asking the model.
        let mission = &self.missions[id];
        if !mission.plan.is_empty()
            && mission.plan.is_complete()
            && mission.open_round().is_none()
            && !mission.passed()
        {
            self.start_verification(id).await;
            return;
        }
        if mission.completion_claim.is_some()
            && mission.plan.is_empty()
            && mission.open_round().is_none()
        {
            self.start_verification(id).await;
            return;
        }
        if mission.auto_dispatch && !mission.plan.ready_leaves().is_empty() {
            match self.dispatch_ready(id).await {
                Ok(started) if !started.is_empty() => return,
                _ => {}
            }
        }
        // Loop breakers.
        let mission = self.missions.get_mut(id).expect("checked above");
        let mark = mission.progress_mark();
        if mark == mission.breakers.last_mark {
            mission.breakers.stagnant += 1;
        } else {
            mission.breakers.stagnant = 0;
            mission.breakers.last_mark = mark;
        }
        let repeated = |list: &[u64]| {
            list.len() >= cfg.repeat_limit as usize
                && list
                    .iter()
                    .rev()
                    .take(cfg.repeat_limit as usize)
                    .all(|h| Some(h) == list.last())
        };
        let breaker = if mission.continuations >= cfg.max_continuations {
            Some(format!(
                "loop breaker: {} continuations without finishing (missions.maxContinuations)",
                mission.continuations
            ))
        } else if mission.breakers.stagnant >= cfg.stagnation_limit {
            Some(format!(
                "loop breaker: no progress in the last {} continuations (missions.stagnationLimit)",
                mission.breakers.stagnant
            ))
        } else if repeated(&mission.breakers.replies) {
            Some(format!(
                "loop breaker: the same reply {} times in a row (missions.repeatLimit)",
                cfg.repeat_limit
            ))
        } else {
            None
        };
        if let Some(reason) = breaker {
            self.stop(id, &reason).await;
            return;
        }
        mission.continuations += 1;
        let text = prompts::continuation(mission, cfg.max_continuations);
        let n = mission.continuations;
        let prompt = Prompt {
            agent: "commander".into(),
            model: None,
            text,
            tools: Default::default(),
        };
        if let Err(e) = backend.prompt(&session, prompt).await {
            tracing::warn!(mission = id, "cannot continue the mission: {e}");
            if let Some(m) = self.missions.get_mut(id) {
                m.continuations -= 1;
            }
            return;
        }
        self.save_quietly(
            id,
            vec![(
                "continue".into(),
                format!("continuation {n}"),
                json!({"continuation": n}),
            )],
            vec![("mission.continued".into(), json!({"continuation": n}))],
        )
        .await;
    }

    /// Whether the session has delegated tasks still queued or running, or undelivered notices.
    async fn session_waits(&self, session: &str) -> bool {
        let filter = crate::orchestrator::ledger::TaskFilter {
            parent_session_id: Some(session.to_string()),
            statuses: vec![TaskStatus::Queued, TaskStatus::Running],
            limit: 1,
            ..Default::default()
        };
        let running = match self.orch.list(filter).await {
            Ok(page) => !page.tasks.is_empty(),
            Err(e) => {
                tracing::warn!(session, "cannot list the session's tasks: {e}");
                false
            }
        };
        running
            || self
                .orch
                .ledger()
                .pending_notices(session)
                .await
                .is_ok_and(|n| !n.is_empty())
    }

    /// Counts the session's last turn once: its usage, and its reply for the repeat breaker.
    async fn account_turn(&mut self, id: &str, backend: &dyn SessionBackend) {
        let Some(mission) = self.missions.get(id) else {
            return;
        };
        let Ok(output) = backend.output(&mission.session_id).await else {
            return;
        };
        if !output.finished {
            return;
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        output.text.trim().hash(&mut h);
        let reply = h.finish();
        let turn = {
            let mut t = std::collections::hash_map::DefaultHasher::new();
            reply.hash(&mut t);
            mission.continuations.hash(&mut t);
            t.finish()
        };
        let mission = self.missions.get_mut(id).expect("checked above");
        if mission.breakers.counted_turn == Some(turn) {
            return;
        }
        mission.breakers.counted_turn = Some(turn);
        if let Some(usage) = &output.usage {
            mission.session_spend.add(usage);
        }
        mission.breakers.replies.push(reply);
        let keep = 20;
        if mission.breakers.replies.len() > keep {
            mission.breakers.replies.remove(0);
        }
    }

    pub async fn tool_called(&mut self, session_id: &str, signature: u64) {
        let Some(id) = self.active_in(session_id) else {
            return;
        };
        let limit = self.orch.config().missions.repeat_limit as usize;
        let mission = self.missions.get_mut(&id).expect("active_in checked");
        let calls = &mut mission.breakers.tool_calls;
        calls.push(signature);
        if calls.len() > 20 {
            calls.remove(0);
        }
        let repeated =
            calls.len() >= limit && calls.iter().rev().take(limit).all(|s| *s == signature);
        if repeated {
            self.stop(
                &id,
                &format!(
                    "loop breaker: the same tool call {limit} times in a row (missions.repeatLimit)"
                ),
            )
            .await;
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
    tasks
}

/// A report for a task that gave none: the start of its reply, and the files it names.
fn report_from_text(task: &Task) -> Report {
    let text = match task.status {
        TaskStatus::Completed => task.result.clone().unwrap_or_default(),
        _ => task.error.clone().unwrap_or_default(),
    };
    let files_changed = text
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches(['-', '*']).trim();
            let rest = l
                .strip_prefix("Files changed:")
                .or_else(|| l.strip_prefix("files changed:"))?;
            Some(
                rest.split(',')
                    .map(|f| f.trim().trim_matches('`').to_string())
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    Report {
        summary: prompts::clip(&text, 600),
        files_changed,
        follow_ups: Vec::new(),
    }
}

/// The verdict in an Inspector's reply that did not call `mission_verdict`.
fn verdict_from_text(task: &Task) -> (Verdict, String) {
    if task.status != TaskStatus::Completed {
        return (
            Verdict::Fail,
            format!(
                "the verification task ended {}: {}",
                task.status,
                task.error.clone().unwrap_or_default()
            ),
        );
    }
    let text = task.result.clone().unwrap_or_default();
    let upper = text.to_uppercase();
    let pass = upper.rfind("VERDICT: PASS");
    let fail = upper.rfind("VERDICT: FAIL");
    match (pass, fail) {
        (Some(p), Some(f)) if p > f => (Verdict::Pass, prompts::clip(&text, 1500)),
        (Some(_), None) => (Verdict::Pass, prompts::clip(&text, 1500)),
        (_, Some(_)) => (Verdict::Fail, prompts::clip(&text, 1500)),
        (None, None) => (
            Verdict::Fail,
            format!(
                "the Inspector gave no verdict (no mission_verdict call, no `VERDICT:` line): {}",
                prompts::clip(&text, 1000)
            ),
        ),
    }
}
