//! The continuation check: when the mission's session is idle and nothing of it runs,
//! finish, verify, dispatch, stop on a loop breaker, or prompt the Commander.

use serde_json::json;

use super::engine::{Engine, running_tasks};
use super::model::MissionStatus;
use super::prompts;
use crate::orchestrator::backend::{Prompt, SessionBackend};
use crate::orchestrator::task::TaskStatus;

impl Engine {
    /// The continuation check: when the mission's session is idle and nothing of the mission
    /// runs, either finish, verify, dispatch, stop on a breaker, or prompt the Commander.
    pub(super) async fn check(&mut self, id: &str) {
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
            let _ = self.dispatch_ready(id).await;
            // Dispatching may have started work (which wakes the mission when it ends) or
            // stopped the mission (a budget): either way there is nothing to say now.
            let Some(mission) = self.missions.get(id) else {
                return;
            };
            if mission.status != MissionStatus::Active || !running_tasks(mission).is_empty() {
                return;
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
    pub(super) async fn session_waits(&self, session: &str) -> bool {
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
    pub(super) async fn account_turn(&mut self, id: &str, backend: &dyn SessionBackend) {
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

    pub(super) async fn tool_called(&mut self, session_id: &str, signature: u64) {
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
