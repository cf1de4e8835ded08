//! Verification: the Inspector's round, and what its verdict does to the mission.

use serde_json::json;

use super::engine::Engine;
use super::model::{MissionStatus, Round, Verdict};
use super::{Fix, prompts};
use crate::orchestrator::plan::{AddItem, PlanEdit};
use crate::orchestrator::task::Task;
use crate::orchestrator::{DelegateRequest, agents};

impl Engine {
    /// Hands the finished work to the Inspector.
    pub(super) async fn start_verification(&mut self, id: &str) {
        let max_rounds = self.orch.config().missions.max_verify_rounds;
        let Some(mission) = self.missions.get(id) else {
            return;
        };
        let round = mission.rounds.len() as u32 + 1;
        if mission.rounds_since_resume() >= max_rounds as usize {
            let evidence = mission
                .rounds
                .last()
                .and_then(|r| r.evidence.clone().or_else(|| r.abandoned.clone()))
                .unwrap_or_default();
            let reason = format!(
                "verification did not pass in {max_rounds} rounds (missions.maxVerifyRounds); \
                 last finding: {}",
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
            abandoned: None,
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

    /// Closes the open round without a verdict.
    pub(super) async fn abandon_round(&mut self, id: &str, why: String) {
        let Some(round) = self
            .missions
            .get_mut(id)
            .and_then(|m| m.abandon_round(why.clone()))
        else {
            return;
        };
        self.save_quietly(id, vec![abandoned_entry(round, &why)], Vec::new())
            .await;
    }

    /// The Inspector's verdict on the open round: completion, or fix items.
    pub(super) async fn apply_verdict(
        &mut self,
        id: &str,
        verdict: Verdict,
        evidence: String,
        fixes: Vec<Fix>,
    ) {
        let Some(mission) = self.missions.get_mut(id) else {
            return;
        };
        if mission.status.is_final() {
            return; // a verdict arriving after the end changes nothing
        }
        let Some(round) = mission.open_round_mut() else {
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
}

/// The journal entry of a round closed without a verdict.
pub(super) fn abandoned_entry(round: u32, why: &str) -> (String, String, serde_json::Value) {
    (
        "verify".into(),
        format!("verification round {round} ended without a verdict: {why}"),
        json!({"round": round, "abandoned": why}),
    )
}

/// The verdict in a completed Inspector's reply that did not call `mission_verdict`.
pub(super) fn verdict_from_text(task: &Task) -> (Verdict, String) {
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
