//! Text renderings of a plan: the human-readable `.opencode/todo.md` and the
//! compact state summary for the Commander's continuation prompt. Both are
//! deterministic functions of the plan.

use super::index::Index;
use super::model::{ItemStatus, Plan, PlanItem, Progress, short_text};
use super::ready::{blocked_causes, blocked_reason, derived_status, readiness};

/// Upper bound, in characters, of `plan_for_prompt`'s output.
pub const PROMPT_MAX_CHARS: usize = 4000;
/// Longest single line of `plan_for_prompt`, in characters.
const PROMPT_LINE_MAX: usize = 300;
/// Longest result summary shown in `todo.md`, in characters.
const TODO_RESULT_MAX: usize = 300;

/// The checklist file: a header with the mission title, the level label
/// (omitted when empty) and progress, then the nested checklist in plan
/// order, then a legend.
pub fn todo_markdown(plan: &Plan, mission_title: &str, level_label: &str) -> String {
    let title = one_line(mission_title);
    let title = if title.is_empty() { "Mission" } else { &title };
    let mut out = format!("# Mission: {title}\n\n");

    let label = one_line(level_label);
    let progress = if plan.is_empty() {
        "no plan yet".to_string()
    } else {
        progress_line(&plan.progress())
    };
    if label.is_empty() {
        out.push_str(&format!("Progress: {progress}\n\n"));
    } else {
        out.push_str(&format!("Level: {label} · Progress: {progress}\n\n"));
    }

    let index = Index::new(&plan.items);
    if plan.is_empty() {
        out.push_str("_No plan items yet._\n");
    }
    for &i in index.order() {
        let item = index.item(i);
        let indent = "  ".repeat(index.ancestors(i).len());
        let mark = checkbox(derived_status(&index, i));
        out.push_str(&format!(
            "{indent}- [{mark}] **{}** {}",
            item.id,
            one_line(&item.title)
        ));
        // The agent of an item with subtasks is ignored, so not shown.
        if let Some(agent) = item.agent.as_deref().filter(|_| index.is_leaf(i)) {
            out.push_str(&format!(" ({agent})"));
        }
        if !item.depends_on.is_empty() {
            out.push_str(&format!(" — after: {}", item.depends_on.join(", ")));
        }
        out.push('\n');
        if let Some(result) = item.result.as_deref().filter(|_| index.is_leaf(i)) {
            // A quote at the item's content column stays inside the item.
            out.push_str(&format!(
                "{indent}  > {}\n",
                clip_chars(&one_line(result), TODO_RESULT_MAX)
            ));
        }
    }
    out.push_str(
        "\nLegend: [x] done · [~] running · [ ] pending · [!] failed · [-] skipped or cancelled\n",
    );
    out
}

/// E.g. `3/10 done (1 skipped), 2 running, 1 failed`; zero counts omitted.
pub fn progress_line(p: &Progress) -> String {
    let mut line = format!("{}/{} done", p.done_or_skipped(), p.total_leaves);
    if p.skipped > 0 {
        line.push_str(&format!(" ({} skipped)", p.skipped));
    }
    for (count, what) in [
        (p.running, "running"),
        (p.failed, "failed"),
        (p.cancelled, "cancelled"),
        (p.blocked, "blocked"),
    ] {
        if count > 0 {
            line.push_str(&format!(", {count} {what}"));
        }
    }
    line
}

/// Compact plain-text plan state for the Commander: counts, then failed,
/// blocked, running, ready and waiting leaves, then done ids. At most
/// [`PROMPT_MAX_CHARS`] characters; what does not fit is replaced by a
/// "... N more lines not shown" marker.
pub fn plan_for_prompt(plan: &Plan) -> String {
    if plan.is_empty() {
        return "No plan yet: the plan has no items.".to_string();
    }
    let p = plan.progress();
    if plan.is_complete() {
        return format!(
            "Plan complete (revision {}): all {} leaves done or skipped.",
            plan.revision, p.total_leaves
        );
    }

    let index = Index::new(&plan.items);
    let blocked = blocked_causes(&index);
    let mut failed = Vec::new();
    let mut blocked_lines = Vec::new();
    let mut running = Vec::new();
    let mut ready = Vec::new();
    let mut waiting = Vec::new();
    let mut done = Vec::new();
    for i in index.leaves() {
        let item = index.item(i);
        match item.status {
            ItemStatus::Failed | ItemStatus::Cancelled => {
                let mut line = format!(
                    "- {} ({}{}, attempt {}) {}",
                    item.id,
                    item.status,
                    agent_suffix(item),
                    item.attempts,
                    one_line(&item.title)
                );
                if let Some(result) = &item.result {
                    line.push_str(&format!(" — error: {}", one_line(result)));
                }
                failed.push(line);
            }
            ItemStatus::Running => running.push(format!(
                "- {} ({}task {}) {}",
                item.id,
                item.agent
                    .as_deref()
                    .map_or(String::new(), |a| format!("{a}, ")),
                item.task_id.as_deref().unwrap_or("?"),
                one_line(&item.title)
            )),
            ItemStatus::Pending => match &blocked[i] {
                Some(causes) => blocked_lines.push(format!(
                    "- {} {} — {}",
                    item.id,
                    one_line(&item.title),
                    blocked_reason(&index, causes)
                )),
                None if readiness(&index, i).is_ok() => ready.push(format!(
                    "- {} ({}) {}",
                    item.id,
                    item.agent.as_deref().unwrap_or("no agent"),
                    one_line(&item.title)
                )),
                None => waiting.push(item.id.clone()),
            },
            ItemStatus::Done | ItemStatus::Skipped => done.push(item.id.clone()),
        }
    }

    let mut lines = vec![format!(
        "Plan (revision {}): {}, {} ready, {} waiting.",
        plan.revision,
        progress_line(&p),
        p.ready,
        waiting.len()
    )];
    section(
        &mut lines,
        "Failed or cancelled (retry, skip, or change the plan):",
        failed,
    );
    section(
        &mut lines,
        "Blocked (cannot run until those failures are resolved):",
        blocked_lines,
    );
    section(&mut lines, "Running:", running);
    section(&mut lines, "Ready to dispatch:", ready);
    if !waiting.is_empty() {
        lines.push(id_list("Waiting for dependencies", &waiting));
    }
    if !done.is_empty() {
        lines.push(id_list("Done or skipped", &done));
    }
    fit_lines(lines, PROMPT_MAX_CHARS)
}

fn section(lines: &mut Vec<String>, header: &str, body: Vec<String>) {
    if !body.is_empty() {
        lines.push(header.to_string());
        lines.extend(body);
    }
}

fn agent_suffix(item: &PlanItem) -> String {
    item.agent
        .as_deref()
        .map_or(String::new(), |a| format!(", {a}"))
}

/// `Label (n): a, b, c, … (+k more)` within one prompt line.
fn id_list(label: &str, ids: &[String]) -> String {
    let mut line = format!("{label} ({}): ", ids.len());
    for (n, id) in ids.iter().enumerate() {
        let rest = ids.len() - n;
        let sep = if n == 0 { "" } else { ", " };
        let tail = format!(", … (+{rest} more)");
        let fits = line.chars().count() + sep.len() + id.chars().count() + tail.chars().count()
            <= PROMPT_LINE_MAX;
        if !fits {
            line.push_str(if n == 0 { "…" } else { ", …" });
            line.push_str(&format!(" (+{rest} more)"));
            return line;
        }
        line.push_str(sep);
        line.push_str(id);
    }
    line
}

/// Joins lines (each cut to `PROMPT_LINE_MAX`) while they fit in `max`
/// characters, ending with a marker for those that do not.
fn fit_lines(lines: Vec<String>, max: usize) -> String {
    const MARKER_RESERVE: usize = 96;
    let total = lines.len();
    let mut out = String::new();
    let mut used = 0;
    for (n, line) in lines.into_iter().enumerate() {
        let line = clip_chars(&line, PROMPT_LINE_MAX);
        let len = line.chars().count() + usize::from(n > 0);
        if used + len > max.saturating_sub(MARKER_RESERVE) {
            out.push_str(&format!(
                "\n... {} more lines not shown (the plan is too long to list in full)",
                total - n
            ));
            return out;
        }
        if n > 0 {
            out.push('\n');
        }
        out.push_str(&line);
        used += len;
    }
    out
}

fn checkbox(status: ItemStatus) -> char {
    match status {
        ItemStatus::Done => 'x',
        ItemStatus::Pending => ' ',
        ItemStatus::Running => '~',
        ItemStatus::Failed => '!',
        ItemStatus::Skipped | ItemStatus::Cancelled => '-',
    }
}

/// Collapses all whitespace (newlines included) to single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn clip_chars(text: &str, max: usize) -> String {
    short_text(text, max).unwrap_or_default()
}
