//! todo.md and prompt renderings.

use super::*;
use crate::orchestrator::plan::render::{PROMPT_MAX_CHARS, plan_for_prompt, todo_markdown};

fn titled(id: &str, title: &str, agent: &str, parent: Option<&str>, deps: &[&str]) -> PlanEdit {
    PlanEdit::Add(AddItem {
        id: id.into(),
        title: title.into(),
        description: Some("not rendered".into()),
        agent: (!agent.is_empty()).then(|| agent.into()),
        parent: parent.map(Into::into),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
    })
}

/// api (running: schema done, routes running), docs waiting, lint failed,
/// extra skipped.
fn example() -> Plan {
    let mut plan = plan_of(vec![
        titled("api", "Build the API", "", None, &[]),
        titled("api.schema", "Write schema", "builder", Some("api"), &[]),
        titled(
            "api.routes",
            "Add routes",
            "builder",
            Some("api"),
            &["api.schema"],
        ),
        titled("docs", "Write docs", "recorder", None, &["api"]),
        titled("lint", "Run linter", "inspector", None, &[]),
        titled("extra", "Nice to have", "builder", None, &[]),
    ]);
    plan.mark_dispatched("api.schema", "t-1").unwrap();
    plan.record_task_result(
        "t-1",
        TaskOutcome::Completed {
            summary: "schema in\ndb/schema.sql".into(),
        },
    );
    plan.mark_dispatched("api.routes", "t-2").unwrap();
    plan.mark_dispatched("lint", "t-3").unwrap();
    plan.record_task_result(
        "t-3",
        TaskOutcome::Failed {
            error: "3 errors".into(),
        },
    );
    plan.apply(vec![set_status("extra", ItemStatus::Skipped)], AGENTS)
        .unwrap();
    plan
}

#[test]
fn todo_markdown_snapshot() {
    let expected = "\
# Mission: Ship the API

Level: L3 planned · Progress: 2/5 done (1 skipped), 1 running, 1 failed

- [~] **api** Build the API
  - [x] **api.schema** Write schema (builder)
    > schema in db/schema.sql
  - [~] **api.routes** Add routes (builder) — after: api.schema
- [ ] **docs** Write docs (recorder) — after: api
- [!] **lint** Run linter (inspector)
  > 3 errors
- [-] **extra** Nice to have (builder)

Legend: [x] done · [~] running · [ ] pending · [!] failed · [-] skipped or cancelled
";
    assert_eq!(
        todo_markdown(&example(), "Ship the API", "L3 planned"),
        expected
    );
}

#[test]
fn todo_markdown_empty_plan_and_no_label() {
    let expected = "\
# Mission: Fix the bug

Progress: no plan yet

_No plan items yet._

Legend: [x] done · [~] running · [ ] pending · [!] failed · [-] skipped or cancelled
";
    assert_eq!(
        todo_markdown(&Plan::new(), "  Fix\n the   bug ", ""),
        expected
    );
}

#[test]
fn plan_for_prompt_summary() {
    let expected = "\
Plan (revision 2): 2/5 done (1 skipped), 1 running, 1 failed, 0 ready, 1 waiting.
Failed or cancelled (retry, skip, or change the plan):
- lint (failed, inspector, attempt 1) Run linter — error: 3 errors
Running:
- api.routes (builder, task t-2) Add routes
Waiting for dependencies (1): docs
Done or skipped (2): api.schema, extra";
    assert_eq!(plan_for_prompt(&example()), expected);
}

#[test]
fn plan_for_prompt_ready_blocked_and_complete() {
    let mut plan = plan_of(vec![leaf("a", &[]), leaf("b", &["a"]), leaf("c", &[])]);
    fail(&mut plan, "a", "boom");
    let text = plan_for_prompt(&plan);
    assert!(
        text.contains(
            "Blocked (cannot run until those failures are resolved):\n- b Do b — waits for failed `a`"
        ),
        "{text}"
    );
    assert!(
        text.contains("Ready to dispatch:\n- c (builder) Do c"),
        "{text}"
    );

    plan.apply(
        vec![
            set_status("a", ItemStatus::Skipped),
            set_status("b", ItemStatus::Done),
            set_status("c", ItemStatus::Done),
        ],
        AGENTS,
    )
    .unwrap();
    assert_eq!(
        plan_for_prompt(&plan),
        "Plan complete (revision 2): all 3 leaves done or skipped."
    );
    assert_eq!(
        plan_for_prompt(&Plan::new()),
        "No plan yet: the plan has no items."
    );
}

#[test]
fn plan_for_prompt_is_bounded() {
    let edits = (0..200)
        .map(|k| {
            titled(
                &format!("item-{k:03}"),
                &"a rather long title ".repeat(9),
                "builder",
                None,
                &[],
            )
        })
        .collect();
    let mut plan = plan_of(edits);
    for k in 0..200 {
        fail(
            &mut plan,
            &format!("item-{k:03}"),
            &"error text ".repeat(100),
        );
    }
    let text = plan_for_prompt(&plan);
    assert!(text.chars().count() <= PROMPT_MAX_CHARS, "{}", text.len());
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("... ") && last.contains(" more lines not shown"),
        "{last}"
    );
    assert!(
        text.starts_with("Plan (revision 1): 0/200 done, 200 failed"),
        "{text}"
    );

    // Long id lists are cut inside their line.
    let mut plan = plan_of(
        (0..200)
            .map(|k| leaf(&format!("leaf-{k:03}"), &[]))
            .collect(),
    );
    plan.apply(
        (0..199)
            .map(|k| set_status(&format!("leaf-{k:03}"), ItemStatus::Done))
            .collect(),
        AGENTS,
    )
    .unwrap();
    let text = plan_for_prompt(&plan);
    let done_line = text
        .lines()
        .find(|l| l.starts_with("Done or skipped"))
        .unwrap();
    assert!(done_line.chars().count() <= 300, "{done_line}");
    assert!(
        done_line.starts_with("Done or skipped (199): leaf-000, leaf-001"),
        "{done_line}"
    );
    assert!(done_line.ends_with(" more)"), "{done_line}");
}
