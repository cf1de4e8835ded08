//! The texts a mission sends: the opening prompt, plan items, verification, continuations and
//! the final message. Every prompt starts with [`MARKER`], which is how a user's own message in
//! the mission's session is told apart from ours.

use super::model::{Level, Mission};
use crate::orchestrator::plan::{PlanItem, render};

pub const MARKER: &str = "[opencode-orchestrator]";

/// Longest context text pasted into a prompt; the rest is a `mission_status` call away.
const CONTEXT_CHARS: usize = 3000;

/// The first prompt of a mission the server started itself (no `/task` typed).
pub fn opening(mission: &Mission) -> String {
    format!(
        "{MARKER} Mission {id}: {goal}\n\n{how}",
        id = mission.id,
        goal = mission.goal,
        how = HOW
    )
}

/// The `/task` command's template: OpenCode puts the user's words in place of `$ARGUMENTS`.
/// The plugin starts the mission (bound to the session) before the prompt is sent.
pub fn task_command_template() -> String {
    format!("{MARKER} Mission: $ARGUMENTS\n\n{HOW}")
}

/// The `/stop` command's template; the plugin cancels the mission before it is sent.
pub const STOP_COMMAND_TEMPLATE: &str = "[opencode-orchestrator] The user stopped this session's \
mission with /stop; its running tasks were cancelled. Do not continue the mission. Acknowledge \
in one sentence and summarise where it stood.";

/// What the Commander is told at the start of every mission (also the `/task` template).
pub const HOW: &str = "You are the Commander of this mission. Work in this order:\n\
1. Triage with `mission_triage`: L1 if you can do it directly in a few steps, L2 for a short \
plan of a few items, L3 for a large change (research first, then a deep plan).\n\
2. L1: do the work yourself, then call `mission_complete` with a summary.\n\
   L2/L3: delegate the planning to the architect (`delegate_task` with agent `architect`, \
`background: false`); it writes the plan with `plan_edit`. Then call `plan_dispatch`: every \
item whose dependencies are done starts in parallel, and the server starts the next ones as \
items finish.\n\
3. When every item is done the Inspector verifies the work; a FAIL adds fix items that run \
the same way. The mission is complete only when the Inspector passes it.\n\
You are woken with the plan's state whenever work finishes or needs a decision. Use \
`plan_get` to see the plan at any time.";

/// The prompt of a delegated plan item.
pub fn item(mission: &Mission, item: &PlanItem) -> String {
    let mut out = format!(
        "{MARKER} Mission {id}: {goal}\n\nYour part, plan item `{item_id}`: {title}\n",
        id = mission.id,
        goal = mission.goal,
        item_id = item.id,
        title = item.title,
    );
    if let Some(d) = item.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str(&format!("\n{d}\n"));
    }
    // What the items it depends on produced, so it starts from their results.
    let deps: Vec<_> = mission
        .context
        .iter()
        .filter(|c| {
            c.item_id.as_deref().is_some_and(|i| {
                item.depends_on
                    .iter()
                    .any(|d| d == i || i.starts_with(&format!("{d}.")))
            })
        })
        .collect();
    if !deps.is_empty() {
        out.push_str("\nResults of the items this one depends on:\n");
        for c in deps {
            out.push_str(&format!(
                "- `{}` ({}): {}\n",
                c.item_id.as_deref().unwrap_or("?"),
                c.agent,
                c.report.summary
            ));
            if !c.report.files_changed.is_empty() {
                out.push_str(&format!("  files: {}\n", c.report.files_changed.join(", ")));
            }
        }
    }
    out.push_str(
        "\nDo this part only. When you are done, call `task_report` with a short summary, the \
files you changed and any follow-ups, then end your reply with the same summary.",
    );
    out
}

/// The Inspector's prompt for verification round `round`.
pub fn verify(mission: &Mission, round: u32) -> String {
    let mut out = format!(
        "{MARKER} Verify mission {id} (round {round}): {goal}\n\n",
        id = mission.id,
        goal = mission.goal,
    );
    if let Some(claim) = &mission.completion_claim {
        out.push_str(&format!("The Commander reports: {claim}\n\n"));
    }
    if !mission.plan.is_empty() {
        out.push_str("The plan, as carried out:\n");
        out.push_str(&render::plan_for_prompt(&mission.plan));
        out.push('\n');
    }
    out.push_str(&context(mission));
    out.push_str(
        "\nCheck the work for real: build it, run the tests, read the changed files, and check \
the goal's acceptance criteria. Then call `mission_verdict` with `pass` or `fail`, the \
evidence (commands run and what they showed), and for a fail the `fixes` needed (each a \
title, a description and an agent). End your reply with `VERDICT: PASS` or `VERDICT: FAIL`.",
    );
    out
}

/// The continuation prompt: where the mission stands and what to do next.
pub fn continuation(mission: &Mission, max: u32) -> String {
    let mut out = format!(
        "{MARKER} Mission {id} is not complete (continuation {n} of {max}): {goal}\n\n",
        id = mission.id,
        n = mission.continuations,
        goal = mission.goal,
    );
    if mission.plan.is_empty() {
        out.push_str("There is no plan yet.\n");
    } else {
        out.push_str(&render::plan_for_prompt(&mission.plan));
        out.push('\n');
    }
    if let Some(round) = mission.rounds.last()
        && let Some(evidence) = &round.evidence
    {
        out.push_str(&format!(
            "\nLast verification (round {}): {:?}: {}\n",
            round.round,
            round.verdict,
            clip(evidence, 800)
        ));
    }
    out.push_str("\nNext: ");
    out.push_str(&next_step(mission));
    out
}

fn next_step(mission: &Mission) -> String {
    let plan = &mission.plan;
    match mission.level {
        None => "triage the mission with `mission_triage`.".into(),
        Some(Level::L1) if plan.is_empty() => {
            "finish the work yourself, then call `mission_complete` with a summary.".into()
        }
        Some(_) if plan.is_empty() => "get the plan written: delegate to the architect \
(`delegate_task`, agent `architect`, `background: false`), or write it yourself with `plan_edit`."
            .into(),
        Some(_) => {
            let blocked = plan.blocked_leaves();
            let ready = plan.ready_leaves();
            if !blocked.is_empty() || plan.progress().failed > 0 {
                "some items failed. Decide for each: retry it (`plan_edit` status `pending`), \
skip it (status `skipped`) or replace it with other items; then call `plan_dispatch`."
                    .into()
            } else if !ready.is_empty() {
                "call `plan_dispatch` to start the ready items.".into()
            } else if plan.is_complete() {
                "every item is done; call `mission_complete` with a summary to have it verified."
                    .into()
            } else {
                "look at the plan with `plan_get` and fix what keeps it from moving.".into()
            }
        }
    }
}

/// The message that tells the session its mission is complete.
pub fn complete(mission: &Mission) -> String {
    let evidence = mission
        .rounds
        .last()
        .and_then(|r| r.evidence.clone())
        .unwrap_or_default();
    format!(
        "{MARKER} Mission {id} is complete: the Inspector passed it (round {round}).\n\
Goal: {goal}\nEvidence: {evidence}\n\n{context}\nTell the user, briefly, what was done and what \
changed.",
        id = mission.id,
        goal = mission.goal,
        round = mission.rounds.len(),
        evidence = clip(&evidence, 800),
        context = context(mission),
    )
}

/// The mission's shared context: each finished task's summary and files, newest last.
pub fn context(mission: &Mission) -> String {
    if mission.context.is_empty() {
        return String::new();
    }
    let mut out = String::from("What the mission's tasks reported:\n");
    for c in &mission.context {
        let line = format!(
            "- {} {} ({}, {}): {}{}\n",
            c.task_id,
            c.item_id
                .as_deref()
                .map(|i| format!("`{i}`"))
                .unwrap_or_default(),
            c.agent,
            c.status,
            c.report.summary,
            if c.report.files_changed.is_empty() {
                String::new()
            } else {
                format!(" [files: {}]", c.report.files_changed.join(", "))
            }
        );
        if out.len() + line.len() > CONTEXT_CHARS {
            out.push_str("- ... (more in `plan_get`; full results with `get_task_result`)\n");
            break;
        }
        out.push_str(&line);
    }
    out
}

/// At most `max` characters of `text`, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}
