//! Moving a mission on without the model: a task's end recorded in the plan and the
//! context, ready items started, verification started when the plan is done.

use std::time::Duration;

use serde_json::{Value, json};

use super::engine::Engine;
use super::model::{ContextEntry, MissionStatus, Report};
use super::prompts;
use super::verify::verdict_from_text;
use crate::orchestrator::plan::TaskOutcome;
use crate::orchestrator::task::{Task, TaskStatus};
use crate::orchestrator::{DelegateRequest, OrchestratorError};

impl Engine {
    /// A mission task ended: its spend, its plan item, its report, verification.
    pub(super) async fn task_ended(&mut self, task: &Task) {
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
        mission.count_spend(task);
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
            if task.status == TaskStatus::Completed {
                let (verdict, evidence) = verdict_from_text(task);
                self.apply_verdict(&id, verdict, evidence, Vec::new()).await;
            } else {
                // An Inspector that did not finish found nothing: no fix items from that;
                // the round is over and another one starts (within maxVerifyRounds).
                let why = format!(
                    "the Inspector's task ended {}{}",
                    task.status,
                    task.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                self.abandon_round(&id, why).await;
            }
        }
        self.advance(&id).await;
    }

    /// Moves an active mission on without the model: dispatch what is ready, verify what is
    /// done, then look at it again.
    pub(super) async fn advance(&mut self, id: &str) {
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
    pub(super) async fn dispatch_ready(
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
