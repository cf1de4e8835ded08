//! What clients see of a mission (`mission/get`, `mission/list`, events).

use serde_json::{Value, json};

use super::model::Mission;
use crate::orchestrator::plan::render;
use crate::orchestrator::task::now_ms;

/// The short form: for lists and replies.
pub fn summary(m: &Mission) -> Value {
    let progress = m.plan.progress();
    let spend = m.spend();
    json!({
        "missionId": m.id,
        "sessionId": m.session_id,
        "goal": m.goal,
        "status": m.status.as_str(),
        "level": m.level,
        "reason": m.reason,
        "progress": {
            "done": progress.done_or_skipped(),
            "total": progress.total_leaves,
            "running": progress.running,
            "failed": progress.failed,
            "line": render::progress_line(&progress),
        },
        "tasks": m.task_ids.len(),
        "delegatedTasks": m.delegated.len(),
        "continuations": m.continuations,
        "verificationRounds": m.rounds.len(),
        "spend": {
            "inputTokens": spend.input_tokens,
            "outputTokens": spend.output_tokens,
            "reasoningTokens": spend.reasoning_tokens,
            "tokens": spend.tokens(),
            "cost": spend.cost,
        },
        "activeMs": m.active_time(now_ms()),
        "createdAt": m.created_at,
        "updatedAt": m.updated_at,
        "finishedAt": m.finished_at,
    })
}

/// Everything: plan, budgets, spend per task, verification, context.
pub fn full(m: &Mission) -> Value {
    let mut v = summary(m);
    // Every task that spent: the mission's own, then those delegated under it.
    let per_task: Vec<Value> = m
        .task_spend
        .iter()
        .map(|(t, s)| {
            json!({"taskId": t, "inMission": m.task_ids.contains(t),
                   "inputTokens": s.input_tokens, "outputTokens": s.output_tokens,
                   "reasoningTokens": s.reasoning_tokens, "cost": s.cost})
        })
        .collect();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("triageReason".into(), json!(m.triage_reason));
        // A task's status is its subtasks' (the stored one is not kept up to date).
        let mut plan = json!(m.plan);
        if let Some(items) = plan.get_mut("items").and_then(|i| i.as_array_mut()) {
            for item in items {
                if let Some(status) = item
                    .get("id")
                    .and_then(|i| i.as_str())
                    .and_then(|id| m.plan.status_of(id))
                {
                    item["status"] = json!(status);
                }
            }
        }
        obj.insert("plan".into(), plan);
        obj.insert("waves".into(), json!(m.plan.waves()));
        obj.insert("budgets".into(), json!(m.budgets));
        obj.insert("taskIds".into(), json!(m.task_ids));
        obj.insert("delegated".into(), json!(m.delegated));
        obj.insert(
            "sessionSpend".into(),
            json!({"inputTokens": m.session_spend.input_tokens,
                   "outputTokens": m.session_spend.output_tokens,
                   "reasoningTokens": m.session_spend.reasoning_tokens,
                   "cost": m.session_spend.cost}),
        );
        obj.insert("taskSpend".into(), json!(per_task));
        obj.insert("rounds".into(), json!(m.rounds));
        obj.insert("context".into(), json!(m.context));
        obj.insert("autoDispatch".into(), json!(m.auto_dispatch));
    }
    v
}
