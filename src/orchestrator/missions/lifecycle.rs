//! Leaving the active state: stop (breakers, budgets), pause (the user), end (cancel,
//! complete), and the budgets that decide it.

use serde_json::json;

use super::engine::{Engine, running_tasks};
use super::model::MissionStatus;
use crate::orchestrator::plan::TaskOutcome;
use crate::orchestrator::task::now_ms;

impl Engine {
    /// Stops the mission (breaker or budget) with a reason; running tasks are cancelled.
    pub(super) async fn stop(&mut self, id: &str, reason: &str) {
        self.end(id, MissionStatus::Stopped, reason, "mission.stopped")
            .await;
    }

    pub(super) async fn pause(&mut self, id: &str, reason: &str) {
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
    pub(super) async fn end(&mut self, id: &str, status: MissionStatus, reason: &str, event: &str) {
        self.end_with(id, status, reason, event, true).await;
    }

    pub(super) async fn end_with(
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
        let mut journal = vec![(status.as_str().into(), reason.to_string(), json!({}))];
        let running = if cancel_running {
            // What is cancelled is settled now, not when each cancel lands: a resume may come
            // first, and must find these items to run again and no round waiting on them.
            let running = running_tasks(mission);
            for task in &running {
                mission
                    .plan
                    .record_task_result(task, TaskOutcome::Cancelled);
            }
            let why = format!("the mission was {}: {reason}", status.as_str());
            if let Some(round) = mission.abandon_round(why.clone()) {
                journal.push(super::verify::abandoned_entry(round, &why));
            }
            running
        } else {
            Vec::new()
        };
        let saved = self
            .save(id, journal, vec![(event.into(), json!({"reason": reason}))])
            .await;
        if let Err(e) = saved {
            // The mission is as last recorded, its tasks still its own: nothing is cancelled.
            tracing::error!(mission = id, "cannot record the end of the mission: {e}");
            return;
        }
        self.cancel_in_background(running);
    }

    /// Cancels tasks one after the other on a task of their own: each cancel waits for its
    /// session to stop, not on the engine's time.
    pub(super) fn cancel_in_background(&self, tasks: Vec<String>) {
        if tasks.is_empty() {
            return;
        }
        let orch = self.orch.clone();
        tokio::spawn(async move {
            for task in tasks {
                if let Err(e) = orch.cancel(&task).await {
                    tracing::warn!(task, "cannot cancel a mission task: {e}");
                }
            }
        });
    }

    /// Why the mission may not start another task (`maxTasks`), if so.
    pub(super) fn no_task_left(&self, id: &str) -> Option<String> {
        let mission = self.missions.get(id)?;
        let max = mission.budgets.max_tasks?;
        (mission.tasks_started() >= max as usize)
            .then(|| format!("budget: the mission has started {max} tasks (maxTasks)"))
    }

    /// Why a task already delegated under the mission is one too many (`maxTasks`), if so.
    pub(super) fn over_task_budget(&self, id: &str) -> Option<String> {
        let mission = self.missions.get(id)?;
        let max = mission.budgets.max_tasks?;
        (mission.tasks_started() > max as usize).then(|| {
            format!(
                "budget: a task delegated under the mission would be task {} of {max} (maxTasks); it was cancelled",
                mission.tasks_started()
            )
        })
    }

    /// Stops a mission that needs a task its `maxTasks` does not allow. The tasks it already
    /// started are within the budget: they finish, and their results are kept.
    pub(super) async fn stop_for_tasks(&mut self, id: &str, reason: &str) {
        self.end_with(id, MissionStatus::Stopped, reason, "mission.stopped", false)
            .await;
    }

    /// The spending budget (time, tokens, cost) the mission has gone over, if any.
    pub(super) fn over_budget(&self, id: &str) -> Option<String> {
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
}
