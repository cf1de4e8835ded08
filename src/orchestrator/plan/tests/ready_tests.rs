//! Readiness, dependency semantics, blocked leaves, derived status,
//! completion, progress and waves.

use super::*;
use crate::orchestrator::plan::ProgressKey;

#[test]
fn waves_of_the_twelve_leaf_plan() {
    let plan = twelve_leaf_plan();
    assert_eq!(plan.leaves().len(), 12);
    let expected: Vec<Vec<&str>> = vec![
        vec!["research", "setup"],
        vec!["db.schema", "ui.shell"],
        vec!["db.migrate"],
        vec!["api.models"],
        vec!["api.routes", "api.auth"],
        vec!["api.tests", "ui.pages"],
        vec!["docs"],
        vec!["review"],
    ];
    assert_eq!(plan.waves(), expected);
}

#[test]
fn ready_leaves_follow_completion() {
    let mut plan = twelve_leaf_plan();
    assert_eq!(ids(&plan.ready_leaves()), ["research", "setup"]);
    complete(&mut plan, "setup");
    assert_eq!(
        ids(&plan.ready_leaves()),
        ["research", "db.schema", "ui.shell"]
    );
    plan.mark_dispatched("db.schema", "t1").unwrap();
    assert_eq!(ids(&plan.ready_leaves()), ["research", "ui.shell"]);
    plan.record_task_result(
        "t1",
        TaskOutcome::Completed {
            summary: "ok".into(),
        },
    );
    assert_eq!(
        ids(&plan.ready_leaves()),
        ["research", "db.migrate", "ui.shell"]
    );
}

#[test]
fn subtasks_inherit_their_task_dependencies() {
    let mut plan = twelve_leaf_plan();
    // `db.schema` declares nothing, but `db` waits for `setup`.
    assert!(plan.get("db.schema").unwrap().depends_on.is_empty());
    assert!(!ids(&plan.ready_leaves()).contains(&"db.schema".to_string()));
    let e = plan.mark_dispatched("db.schema", "t").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot dispatch `db.schema`: it waits for `setup` (pending)"
    );
    complete(&mut plan, "setup");
    assert!(ids(&plan.ready_leaves()).contains(&"db.schema".to_string()));
}

#[test]
fn a_dependency_on_a_task_means_all_of_its_leaves() {
    let mut plan = plan_of(vec![
        task("t", &[]),
        sub("t1", "t", &[]),
        sub("t2", "t", &[]),
        leaf("after", &["t"]),
    ]);
    complete(&mut plan, "t1");
    assert_eq!(ids(&plan.ready_leaves()), ["t2"]);
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Pending));
    // Skipped counts as satisfied.
    plan.apply(vec![set_status("t2", ItemStatus::Skipped)], AGENTS)
        .unwrap();
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Done));
    assert_eq!(ids(&plan.ready_leaves()), ["after"]);
}

#[test]
fn blocked_leaves_after_a_failure() {
    let mut plan = twelve_leaf_plan();
    complete(&mut plan, "setup");
    complete(&mut plan, "db.schema");
    fail(&mut plan, "db.migrate", "migration syntax error");
    let blocked = plan.blocked_leaves();
    let blocked_ids: Vec<&str> = blocked.iter().map(|b| b.item.id.as_str()).collect();
    // Everything downstream of `db` (directly or not), but not ui.shell/research.
    assert_eq!(
        blocked_ids,
        [
            "review",
            "docs",
            "api.models",
            "api.routes",
            "api.auth",
            "api.tests",
            "ui.pages"
        ]
    );
    for b in &blocked {
        assert_eq!(b.causes, ["db.migrate"]);
        assert_eq!(b.reason, "waits for failed `db.migrate`");
    }
    assert_eq!(ids(&plan.ready_leaves()), ["research", "ui.shell"]);
    assert_eq!(plan.status_of("db"), Some(ItemStatus::Failed));
    assert_eq!(plan.status_of("api"), Some(ItemStatus::Pending));

    // A second, cancelled root cause is listed too, in plan order.
    plan.mark_dispatched("ui.shell", "t-ui").unwrap();
    plan.record_task_result("t-ui", TaskOutcome::Cancelled);
    let docs = plan
        .blocked_leaves()
        .into_iter()
        .find(|b| b.item.id == "docs")
        .unwrap();
    assert_eq!(docs.causes, ["db.migrate", "ui.shell"]);
    assert_eq!(
        docs.reason,
        "waits for failed `db.migrate`, cancelled `ui.shell`"
    );

    // Retrying unblocks.
    plan.reset_for_retry("db.migrate").unwrap();
    plan.reset_for_retry("ui.shell").unwrap();
    assert!(plan.blocked_leaves().is_empty());
}

#[test]
fn derived_status_of_tasks() {
    let mut plan = plan_of(vec![
        task("t", &[]),
        sub("t1", "t", &[]),
        sub("t2", "t", &[]),
    ]);
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Pending));
    plan.mark_dispatched("t1", "x1").unwrap();
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Running));
    plan.record_task_result("x1", TaskOutcome::Failed { error: "e".into() });
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Failed));
    plan.mark_dispatched("t2", "x2").unwrap();
    assert_eq!(
        plan.status_of("t"),
        Some(ItemStatus::Running),
        "running wins over failed"
    );
    plan.record_task_result("x2", TaskOutcome::Cancelled);
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Failed));
    plan.reset_for_retry("t1").unwrap();
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Pending));
    plan.apply(vec![set_status("t1", ItemStatus::Skipped)], AGENTS)
        .unwrap();
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Cancelled));
    plan.apply(vec![set_status("t2", ItemStatus::Done)], AGENTS)
        .unwrap();
    assert_eq!(plan.status_of("t"), Some(ItemStatus::Done));
    assert_eq!(plan.status_of("nope"), None);
}

#[test]
fn is_complete() {
    let mut plan = Plan::new();
    assert!(!plan.is_complete(), "an empty plan is not complete");
    plan = plan_of(vec![task("t", &[]), sub("t1", "t", &[]), leaf("x", &["t"])]);
    complete(&mut plan, "t1");
    assert!(!plan.is_complete());
    plan.apply(vec![set_status("x", ItemStatus::Skipped)], AGENTS)
        .unwrap();
    assert!(plan.is_complete());
}

#[test]
fn progress_counts() {
    let mut plan = twelve_leaf_plan();
    complete(&mut plan, "setup");
    fail(&mut plan, "research", "no sources");
    plan.mark_dispatched("ui.shell", "t").unwrap();
    let p = plan.progress();
    assert_eq!(p.total_leaves, 12);
    assert_eq!(
        (p.done, p.skipped, p.running, p.failed, p.cancelled),
        (1, 0, 1, 1, 0)
    );
    assert_eq!(p.pending, 9);
    assert_eq!(p.ready, 1, "db.schema");
    assert_eq!(p.blocked, 0);
}

#[test]
fn progress_key_changes_only_on_progress() {
    let mut plan = plan_of(vec![leaf("a", &[]), leaf("b", &[])]);
    let k0 = plan.progress_key();
    assert_eq!(
        k0,
        ProgressKey {
            done_or_skipped: 0,
            total_leaves: 2,
            revision: 1
        }
    );
    // Dispatching, failing and retrying are not progress.
    fail(&mut plan, "a", "boom");
    assert_eq!(plan.progress_key(), k0);
    plan.reset_for_retry("a").unwrap();
    plan.mark_dispatched("a", "t2").unwrap();
    assert_eq!(plan.progress_key(), k0);
    // Completion is.
    plan.record_task_result(
        "t2",
        TaskOutcome::Completed {
            summary: "ok".into(),
        },
    );
    let k1 = plan.progress_key();
    assert_ne!(k1, k0);
    assert_eq!(k1.done_or_skipped, 1);
    // So is an edit of the plan; a rejected edit is not.
    let _ = plan.apply(vec![leaf("a", &[])], AGENTS).unwrap_err();
    assert_eq!(plan.progress_key(), k1);
    plan.apply(vec![leaf("c", &[])], AGENTS).unwrap();
    assert_eq!(
        plan.progress_key(),
        ProgressKey {
            done_or_skipped: 1,
            total_leaves: 3,
            revision: 2
        }
    );
}

#[test]
fn corrupted_stored_plan_does_not_panic() {
    // Parent loop, dangling references, duplicate ids, dependency cycle.
    let json = r#"{"revision": 3, "items": [
        {"id": "a", "title": "A", "parent": "b", "dependsOn": ["c"]},
        {"id": "b", "title": "B", "parent": "a"},
        {"id": "c", "title": "C", "agent": "builder", "dependsOn": ["d", "ghost"]},
        {"id": "d", "title": "D", "agent": "builder", "dependsOn": ["c"]},
        {"id": "d", "title": "D again", "agent": "builder", "parent": "nowhere"}
    ]}"#;
    let mut plan: Plan = serde_json::from_str(json).unwrap();
    let _ = plan.ordered();
    let _ = plan.ready_leaves();
    let _ = plan.blocked_leaves();
    let _ = plan.waves();
    let _ = plan.progress();
    let _ = plan.status_of("a");
    let _ = plan.is_complete();
    let _ = crate::orchestrator::plan::render::todo_markdown(&plan, "m", "l");
    let _ = crate::orchestrator::plan::render::plan_for_prompt(&plan);
    assert_eq!(plan.ordered().len(), 5);
    assert!(plan.mark_dispatched("c", "t").is_err());
    // Any edit on it reports the problems instead of committing.
    assert!(plan.apply(vec![leaf("e", &[])], AGENTS).is_err());
}
