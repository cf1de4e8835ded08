//! Successful edits, atomicity and the JSON shapes.

use super::*;
use crate::orchestrator::plan::{DetachedTask, EditPlanArgs, PlanError};

#[test]
fn failing_batch_leaves_plan_and_revision_unchanged() {
    let mut plan = twelve_leaf_plan();
    complete(&mut plan, "setup");
    let before = plan.clone();
    assert_eq!(before.revision, 1);
    // Valid edits first, then one bad reference: nothing may stick.
    let e = plan
        .apply(
            vec![
                leaf("new", &[]),
                set_status("research", ItemStatus::Skipped),
                remove("review"),
                leaf("broken", &["missing"]),
            ],
            AGENTS,
        )
        .unwrap_err();
    assert!(matches!(e, PlanError::UnknownDependency { .. }));
    assert_eq!(plan, before);
}

#[test]
fn batch_with_forward_references_in_any_order() {
    let plan = plan_of(vec![
        sub("p.1", "p", &["q"]),
        sub("p.2", "p", &["p.1"]),
        task("p", &[]),
        leaf("q", &[]),
    ]);
    assert_eq!(plan.revision, 1);
    assert_eq!(ids(&plan.ordered()), ["p", "p.1", "p.2", "q"]);
    assert_eq!(ids(&plan.leaves()), ["p.1", "p.2", "q"]);
    assert_eq!(plan.waves(), [vec!["q"], vec!["p.1"], vec!["p.2"]]);
}

#[test]
fn summary_and_revision() {
    let mut plan = Plan::new();
    let s = plan
        .apply(
            vec![task("t", &[]), sub("t1", "t", &[]), leaf("x", &["t"])],
            AGENTS,
        )
        .unwrap();
    assert_eq!(s.revision, 1);
    assert_eq!(s.added, ["t", "t1", "x"]);
    let s = plan
        .apply(
            vec![
                PlanEdit::Update(UpdateItem {
                    title: Some("  Renamed  ".into()),
                    description: Some("Acceptance: it works".into()),
                    depends_on: Some(vec!["t1".into(), "t1".into()]),
                    ..update("x")
                }),
                PlanEdit::Update(UpdateItem {
                    agent: Some("inspector".into()),
                    ..update("x")
                }),
            ],
            AGENTS,
        )
        .unwrap();
    assert_eq!(s.revision, 2);
    assert_eq!(s.updated, ["x"]);
    let x = plan.get("x").unwrap();
    assert_eq!(x.title, "Renamed");
    assert_eq!(x.description.as_deref(), Some("Acceptance: it works"));
    assert_eq!(x.agent.as_deref(), Some("inspector"));
    assert_eq!(x.depends_on, ["t1"], "duplicate dependencies are merged");
    // An empty description clears it.
    plan.apply(
        vec![PlanEdit::Update(UpdateItem {
            description: Some(String::new()),
            ..update("x")
        })],
        AGENTS,
    )
    .unwrap();
    assert_eq!(plan.get("x").unwrap().description, None);
    assert_eq!(plan.revision, 3);
}

#[test]
fn remove_takes_the_subtree_and_dependants_in_the_same_batch() {
    let mut plan = plan_of(vec![
        task("t", &[]),
        sub("t1", "t", &[]),
        sub("t2", "t", &["t1"]),
        leaf("x", &["t2"]),
        leaf("y", &[]),
    ]);
    let s = plan.apply(vec![remove("t"), remove("x")], AGENTS).unwrap();
    assert_eq!(s.removed, ["t", "t1", "t2", "x"]);
    assert_eq!(ids(&plan.ordered()), ["y"]);
}

#[test]
fn remove_and_re_add_replaces_an_item() {
    let mut plan = plan_of(vec![leaf("a", &[]), leaf("b", &["a"])]);
    complete(&mut plan, "a");
    plan.apply(vec![remove("a"), add("a", "inspector", None, &[])], AGENTS)
        .unwrap();
    let a = plan.get("a").unwrap();
    assert_eq!(a.status, ItemStatus::Pending);
    assert_eq!(a.agent.as_deref(), Some("inspector"));
}

#[test]
fn overriding_or_removing_running_items_detaches_their_tasks() {
    let mut plan = plan_of(vec![leaf("a", &[]), leaf("b", &[]), leaf("c", &[])]);
    plan.mark_dispatched("a", "t-a").unwrap();
    plan.mark_dispatched("b", "t-b").unwrap();
    let s = plan
        .apply(
            vec![set_status("a", ItemStatus::Skipped), remove("b")],
            AGENTS,
        )
        .unwrap();
    assert_eq!(
        s.detached_tasks,
        [
            DetachedTask {
                item_id: "a".into(),
                task_id: "t-a".into()
            },
            DetachedTask {
                item_id: "b".into(),
                task_id: "t-b".into()
            },
        ]
    );
    // The late result of the detached task is ignored.
    assert_eq!(plan.record_task_result("t-a", TaskOutcome::Cancelled), None);
    assert_eq!(plan.get("a").unwrap().status, ItemStatus::Skipped);
}

#[test]
fn a_failed_leaf_may_be_split_into_subtasks() {
    let mut plan = plan_of(vec![leaf("x", &[])]);
    fail(&mut plan, "x", "too big");
    plan.apply(vec![sub("x1", "x", &[]), sub("x2", "x", &["x1"])], AGENTS)
        .unwrap();
    assert_eq!(plan.status_of("x"), Some(ItemStatus::Pending));
    assert_eq!(ids(&plan.ready_leaves()), ["x1"]);
}

#[test]
fn plan_serde_round_trip() {
    let mut plan = twelve_leaf_plan();
    complete(&mut plan, "setup");
    fail(&mut plan, "research", "no sources");
    plan.mark_dispatched("db.schema", "t-9").unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains("\"dependsOn\":[\"setup\"]"), "{json}");
    assert!(json.contains("\"taskId\":\"t-9\""), "{json}");
    assert!(json.contains("\"status\":\"running\""), "{json}");
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    // Optional fields may be missing in stored JSON.
    let minimal: Plan =
        serde_json::from_str(r#"{"items":[{"id":"a","title":"A","agent":"builder"}]}"#).unwrap();
    assert_eq!(minimal.items[0].status, ItemStatus::Pending);
    assert_eq!(minimal.revision, 0);
}

#[test]
fn edit_batch_from_json() {
    let json = r#"{"edits": [
        {"op": "add", "id": "api", "title": "Build the API"},
        {"op": "add", "id": "api.routes", "title": "Add routes", "agent": "builder",
         "parent": "api", "dependsOn": ["api.schema"],
         "description": "REST routes; acceptance: tests pass"},
        {"op": "add", "id": "api.schema", "title": "Write schema", "agent": "builder", "parent": "api"},
        {"op": "update", "id": "api.routes", "status": "skipped", "result": "not needed"},
        {"op": "remove", "id": "api.routes"}
    ]}"#;
    let args: EditPlanArgs = serde_json::from_str(json).unwrap();
    assert_eq!(args.edits.len(), 5);
    let mut plan = Plan::new();
    let s = plan.apply(args.edits, AGENTS).unwrap();
    assert_eq!(s.removed, ["api.routes"]);
    assert_eq!(ids(&plan.ordered()), ["api", "api.schema"]);
    // Edits serialize back to the same shape.
    let edit = serde_json::to_value(leaf("x", &["y"])).unwrap();
    assert_eq!(
        edit,
        serde_json::json!({"op": "add", "id": "x", "title": "Do x", "agent": "builder", "dependsOn": ["y"]})
    );
}

#[test]
fn unknown_fields_and_ops_are_rejected() {
    for bad in [
        r#"{"op": "add", "id": "a", "title": "A", "depends_on": []}"#,
        r#"{"op": "update", "id": "a", "colour": "red"}"#,
        r#"{"op": "remove", "id": "a", "recursive": true}"#,
        r#"{"op": "rename", "id": "a"}"#,
        r#"{"op": "update", "id": "a", "status": "finished"}"#,
    ] {
        assert!(serde_json::from_str::<PlanEdit>(bad).is_err(), "{bad}");
    }
    assert!(serde_json::from_str::<EditPlanArgs>(r#"{"edits": [], "dryRun": true}"#).is_err());
}

#[test]
fn edit_schema_is_generated() {
    let schema = serde_json::to_value(schemars::schema_for!(EditPlanArgs)).unwrap();
    let text = schema.to_string();
    for needle in [
        "\"edits\"",
        "\"dependsOn\"",
        "\"add\"",
        "\"update\"",
        "\"remove\"",
        "\"skipped\"",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(text.contains("\"additionalProperties\":false"), "{text}");
}
