//! Every validation error of `Plan::apply`, with its message.

use super::*;
use crate::orchestrator::plan::{MAX_ITEMS, PlanError};

/// Applies `edits` to a clone of `plan`, expecting failure, and checks the
/// plan was left untouched.
fn reject(plan: &Plan, edits: Vec<PlanEdit>) -> PlanError {
    let mut copy = plan.clone();
    match copy.apply(edits, AGENTS) {
        Ok(summary) => panic!("batch unexpectedly accepted: {summary:?}"),
        Err(e) => {
            assert_eq!(&copy, plan, "a failed batch must leave the plan unchanged");
            e
        }
    }
}

fn base() -> Plan {
    plan_of(vec![
        task("a", &[]),
        sub("a1", "a", &[]),
        sub("a2", "a", &["a1"]),
        leaf("b", &["a"]),
    ])
}

#[test]
fn empty_batch() {
    let e = reject(&Plan::new(), vec![]);
    assert_eq!(e, PlanError::EmptyBatch);
    assert_eq!(
        e.to_string(),
        "the edit batch is empty: send at least one add, update or remove edit"
    );
}

#[test]
fn invalid_ids() {
    let too_long = "x".repeat(65);
    for bad in ["", "has space", "ümlaut", "a/b", too_long.as_str()] {
        let e = reject(&Plan::new(), vec![leaf(bad, &[])]);
        assert_eq!(
            e,
            PlanError::InvalidId {
                id: bad.to_string()
            }
        );
    }
    let e = reject(&Plan::new(), vec![leaf("a b", &[])]);
    assert_eq!(
        e.to_string(),
        "invalid item id `a b`: an id is 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-' \
         (e.g. `api.routes`); choose another id"
    );
    // Exactly 64 characters of every allowed kind is fine.
    let ok = format!("{}Az09._-", "x".repeat(57));
    assert_eq!(ok.len(), 64);
    plan_of(vec![leaf(&ok, &[])]);
}

#[test]
fn huge_invalid_id_is_clipped_in_the_message() {
    let huge = "?".repeat(10_000);
    let e = reject(&Plan::new(), vec![leaf(&huge, &[])]);
    assert!(e.to_string().chars().count() < 300, "{e}");
}

#[test]
fn duplicate_id_existing_and_within_batch() {
    let e = reject(&base(), vec![leaf("b", &[])]);
    assert_eq!(e, PlanError::DuplicateId { id: "b".into() });
    assert!(
        e.to_string()
            .starts_with("duplicate id `b`: an item with this id already exists")
    );
    let e = reject(&Plan::new(), vec![leaf("x", &[]), leaf("x", &[])]);
    assert_eq!(e, PlanError::DuplicateId { id: "x".into() });
}

#[test]
fn unknown_id_in_update_and_remove() {
    let e = reject(&base(), vec![PlanEdit::Update(update("nope"))]);
    assert_eq!(
        e,
        PlanError::UnknownItem {
            op: "update",
            id: "nope".into()
        }
    );
    assert!(
        e.to_string()
            .starts_with("cannot update `nope`: no item has this id")
    );
    let e = reject(&base(), vec![remove("nope")]);
    assert!(
        e.to_string()
            .starts_with("cannot remove `nope`: no item has this id")
    );
    // An update of an item removed earlier in the batch is unknown too.
    let e = reject(&base(), vec![remove("b"), PlanEdit::Update(update("b"))]);
    assert!(matches!(e, PlanError::UnknownItem { op: "update", .. }));
}

#[test]
fn unknown_parent() {
    let e = reject(&base(), vec![sub("c1", "c", &[])]);
    assert_eq!(
        e.to_string(),
        "`c1` has unknown parent `c`: add `c` (in this batch or before), or omit parent to \
         make `c1` a top-level task"
    );
}

#[test]
fn self_parent() {
    let e = reject(&Plan::new(), vec![sub("c", "c", &[])]);
    assert_eq!(e, PlanError::SelfParent { id: "c".into() });
}

#[test]
fn unknown_dependency() {
    let e = reject(&base(), vec![leaf("c", &["zzz"])]);
    assert_eq!(
        e.to_string(),
        "`c` depends on unknown item `zzz`: fix the id or add `zzz` (dependencies may name \
         items added later in the same batch)"
    );
}

#[test]
fn self_dependency() {
    let e = reject(&base(), vec![leaf("c", &["c"])]);
    assert_eq!(
        e.to_string(),
        "`c` depends on itself: remove `c` from its dependsOn"
    );
}

#[test]
fn dependency_cycle_reports_the_path() {
    let e = reject(
        &Plan::new(),
        vec![leaf("a", &["b"]), leaf("b", &["c"]), leaf("c", &["a"])],
    );
    assert_eq!(
        e,
        PlanError::DependencyCycle {
            path: vec!["a".into(), "b".into(), "c".into(), "a".into()]
        }
    );
    assert!(
        e.to_string()
            .starts_with("dependency cycle: a -> b -> c -> a (an arrow means \"waits for\";"),
        "{e}"
    );
}

#[test]
fn long_dependency_cycle() {
    let n = 150;
    let ids: Vec<String> = (0..n).map(|k| format!("n{k}")).collect();
    let edits = (0..n)
        .map(|k| leaf(&ids[k], &[ids[(k + 1) % n].as_str()]))
        .collect();
    let e = reject(&Plan::new(), edits);
    let PlanError::DependencyCycle { path } = e else {
        panic!("expected a cycle, got {e}");
    };
    assert_eq!(path.len(), n + 1);
    assert_eq!(path.first(), path.last());
    assert_eq!(&path[..3], &["n0", "n1", "n2"]);
}

#[test]
fn cycle_through_the_hierarchy() {
    // `b` waits for task `a`, i.e. for `a1`; `a1` waits for `b`.
    let e = reject(
        &Plan::new(),
        vec![task("a", &[]), sub("a1", "a", &["b"]), leaf("b", &["a"])],
    );
    let PlanError::DependencyCycle { path } = e else {
        panic!("expected a cycle, got {e}");
    };
    assert_eq!(path, ["a", "a1", "b", "a"]);
    // Inherited: subtask `t1` waits for its task's dependency `x`, which waits for `t1`.
    let e = reject(
        &Plan::new(),
        vec![task("t", &["x"]), sub("t1", "t", &[]), leaf("x", &["t1"])],
    );
    assert!(matches!(e, PlanError::DependencyCycle { .. }), "{e}");
}

#[test]
fn depending_on_ancestor_or_descendant() {
    let e = reject(
        &base(),
        vec![PlanEdit::Update(UpdateItem {
            depends_on: Some(vec!["a".into()]),
            ..update("a1")
        })],
    );
    assert_eq!(
        e,
        PlanError::DependsOnAncestor {
            id: "a1".into(),
            dep: "a".into()
        }
    );
    assert!(e.to_string().contains("its own parent task"), "{e}");
    let e = reject(
        &base(),
        vec![PlanEdit::Update(UpdateItem {
            depends_on: Some(vec!["a2".into()]),
            ..update("a")
        })],
    );
    assert_eq!(
        e.to_string(),
        "`a` depends on `a2`, one of its own subtasks, which is meaningless: a task is \
         complete when all its subtasks are; remove `a2` from the dependsOn of `a`"
    );
}

#[test]
fn fourth_level() {
    let e = reject(&base(), vec![sub("deep", "a1", &[])]);
    assert_eq!(
        e.to_string(),
        "`deep` would be a 4th level: its parent `a1` is already a subtask of `a`, and a plan \
         has only 3 levels (mission > task > subtask); flatten it: make `deep` a sibling of \
         `a1` (parent `a`) or split `a1` into several subtasks of `a`"
    );
}

#[test]
fn empty_and_long_titles() {
    let mut edit = AddItem {
        id: "t".into(),
        title: "   ".into(),
        agent: Some("builder".into()),
        ..AddItem::default()
    };
    let e = reject(&Plan::new(), vec![PlanEdit::Add(edit.clone())]);
    assert_eq!(
        e.to_string(),
        "`t` has an empty title: give it a short imperative title"
    );
    edit.title = "é".repeat(201);
    let e = reject(&Plan::new(), vec![PlanEdit::Add(edit.clone())]);
    assert_eq!(
        e,
        PlanError::TitleTooLong {
            id: "t".into(),
            len: 201
        }
    );
    assert!(e.to_string().contains("201 characters long"), "{e}");
    edit.title = "é".repeat(200);
    plan_of(vec![PlanEdit::Add(edit)]);
    let e = reject(
        &base(),
        vec![PlanEdit::Update(UpdateItem {
            title: Some(String::new()),
            ..update("b")
        })],
    );
    assert_eq!(e, PlanError::EmptyTitle { id: "b".into() });
}

#[test]
fn unknown_agent_lists_the_allowed_ones() {
    let e = reject(&Plan::new(), vec![add("x", "wizard", None, &[])]);
    assert_eq!(
        e.to_string(),
        "unknown agent `wizard` for `x`: use one of architect, builder, inspector, recorder, \
         librarian, researcher"
    );
}

#[test]
fn leaf_needs_an_agent_but_a_task_with_subtasks_does_not() {
    let e = reject(&Plan::new(), vec![task("x", &[])]);
    assert!(matches!(e, PlanError::MissingAgent { ref id, .. } if id == "x"));
    assert!(e.to_string().starts_with("`x` has no agent:"), "{e}");
    // A task with subtasks may have an agent (ignored) or none.
    plan_of(vec![
        add("t", "builder", None, &[]),
        sub("t1", "t", &[]),
        task("u", &[]),
        sub("u1", "u", &[]),
    ]);
    // Removing the last subtask turns an agent-less task into a bad leaf.
    let e = reject(&base(), vec![remove("a1"), remove("a2")]);
    assert!(matches!(e, PlanError::MissingAgent { ref id, .. } if id == "a"));
}

#[test]
fn status_on_non_leaf_and_running_by_edit() {
    let e = reject(&base(), vec![set_status("a", ItemStatus::Done)]);
    assert_eq!(
        e.to_string(),
        "cannot set the status of `a`: it has subtasks, so its status is derived from theirs; \
         set the status of its subtasks instead"
    );
    let e = reject(&base(), vec![set_status("b", ItemStatus::Running)]);
    assert_eq!(e, PlanError::RunningByEdit { id: "b".into() });
    assert!(
        e.to_string()
            .contains("use pending, done, failed, skipped or cancelled")
    );
    // A status set on a leaf that gains subtasks in the same batch is refused.
    let e = reject(
        &base(),
        vec![set_status("b", ItemStatus::Skipped), sub("b1", "b", &[])],
    );
    assert_eq!(e, PlanError::StatusOnNonLeaf { id: "b".into() });
}

#[test]
fn subtask_under_a_running_leaf() {
    let mut plan = plan_of(vec![leaf("x", &[])]);
    plan.mark_dispatched("x", "t-1").unwrap();
    let e = reject(&plan, vec![sub("x1", "x", &[])]);
    assert_eq!(
        e.to_string(),
        "cannot add subtask `x1` under `x`: `x` is running as task `t-1`; wait until it \
         finishes, or add `x1` as a separate task that depends on `x`"
    );
}

#[test]
fn removing_a_dependency_names_the_dependants() {
    let plan = plan_of(vec![
        leaf("a", &[]),
        leaf("b", &["a"]),
        leaf("c", &["a"]),
        task("t", &[]),
        sub("t1", "t", &[]),
        leaf("d", &["t1"]),
    ]);
    let e = reject(&plan, vec![remove("a")]);
    assert_eq!(
        e.to_string(),
        "cannot remove `a`: `b`, `c` depend on it; remove them in the same batch, or update \
         them to drop `a` from dependsOn first"
    );
    let e = reject(&plan, vec![remove("t")]);
    assert_eq!(
        e.to_string(),
        "cannot remove `t1` (removed together with `t`): `d` depends on it; remove it in the \
         same batch, or update it to drop `t1` from dependsOn first"
    );
}

#[test]
fn too_many_items() {
    let fill = |n: usize| {
        (0..n)
            .map(|k| leaf(&format!("i{k}"), &[]))
            .collect::<Vec<_>>()
    };
    let full = plan_of(fill(MAX_ITEMS));
    assert_eq!(full.items.len(), 200);
    let e = reject(&full, vec![leaf("one-more", &[])]);
    assert_eq!(
        e.to_string(),
        "the plan would have 201 items, but at most 200 are allowed; merge small items into \
         one, or remove items that are no longer needed"
    );
    // Replacing within the same batch stays under the cap.
    let mut plan = full.clone();
    plan.apply(vec![remove("i0"), leaf("one-more", &[])], AGENTS)
        .unwrap();
    // A runaway batch is cut off early instead of being processed in full.
    let e = reject(&Plan::new(), fill(100_000));
    assert!(matches!(e, PlanError::TooManyItems { max: 200, .. }), "{e}");
}

#[test]
fn several_problems_are_reported_together() {
    let e = reject(
        &base(),
        vec![
            leaf("bad id", &[]),
            add("x", "wizard", None, &[]),
            PlanEdit::Update(update("ghost")),
        ],
    );
    assert_eq!(e.problems().len(), 3);
    let text = e.to_string();
    assert!(
        text.starts_with(
            "3 problems in this edit batch, nothing was applied:\n1. invalid item id `bad id`"
        ),
        "{text}"
    );
    assert!(text.contains("\n2. unknown agent `wizard`"), "{text}");
    assert!(text.contains("\n3. cannot update `ghost`"), "{text}");
}
