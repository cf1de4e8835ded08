//! mark_dispatched, record_task_result and reset_for_retry.

use super::*;
use crate::orchestrator::plan::{MAX_RESULT_LEN, PlanError};

fn small() -> Plan {
    plan_of(vec![
        task("t", &[]),
        sub("t1", "t", &[]),
        sub("t2", "t", &["t1"]),
    ])
}

#[test]
fn mark_dispatched_sets_running() {
    let mut plan = small();
    plan.mark_dispatched("t1", "task-7").unwrap();
    let t1 = plan.get("t1").unwrap();
    assert_eq!(t1.status, ItemStatus::Running);
    assert_eq!(t1.task_id.as_deref(), Some("task-7"));
    assert_eq!(t1.attempts, 1);
    assert_eq!(plan.revision, 1, "bookkeeping does not bump the revision");
}

#[test]
fn mark_dispatched_errors() {
    let mut plan = small();
    let before = plan.clone();
    let cases = [
        ("ghost", "x", "cannot dispatch `ghost`: no item has this id"),
        (
            "t",
            "x",
            "cannot dispatch `t`: it has subtasks; dispatch its subtasks instead",
        ),
        (
            "t2",
            "x",
            "cannot dispatch `t2`: it waits for `t1` (pending)",
        ),
        ("t1", "  ", "cannot dispatch `t1`: the task id is empty"),
    ];
    for (id, task_id, message) in cases {
        let e = plan.mark_dispatched(id, task_id).unwrap_err();
        assert!(e.to_string().starts_with(message), "{e}");
    }
    assert_eq!(plan, before);

    plan.mark_dispatched("t1", "x").unwrap();
    let e = plan.mark_dispatched("t1", "y").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot dispatch `t1`: it is running; only pending items can be dispatched"
    );
    let mut other = plan_of(vec![leaf("a", &[]), leaf("b", &[])]);
    other.mark_dispatched("a", "same").unwrap();
    let e = other.mark_dispatched("b", "same").unwrap_err();
    assert_eq!(
        e,
        PlanError::TaskIdInUse {
            id: "b".into(),
            task_id: "same".into(),
            other: "a".into()
        }
    );
}

#[test]
fn record_task_result_outcomes() {
    let mut plan = plan_of(vec![leaf("a", &[]), leaf("b", &[]), leaf("c", &[])]);
    plan.mark_dispatched("a", "ta").unwrap();
    plan.mark_dispatched("b", "tb").unwrap();
    plan.mark_dispatched("c", "tc").unwrap();

    let done = plan.record_task_result(
        "ta",
        TaskOutcome::Completed {
            summary: "  built it \n".into(),
        },
    );
    assert_eq!(done.as_deref(), Some("a"));
    let a = plan.get("a").unwrap();
    assert_eq!(
        (a.status, a.result.as_deref()),
        (ItemStatus::Done, Some("built it"))
    );

    let long_error = "x".repeat(5000);
    let failed = plan.record_task_result("tb", TaskOutcome::Failed { error: long_error });
    assert_eq!(failed.as_deref(), Some("b"));
    let b = plan.get("b").unwrap();
    assert_eq!(b.status, ItemStatus::Failed);
    assert_eq!(b.result.as_ref().unwrap().chars().count(), MAX_RESULT_LEN);

    assert_eq!(
        plan.record_task_result("tc", TaskOutcome::Cancelled)
            .as_deref(),
        Some("c")
    );
    assert_eq!(plan.get("c").unwrap().status, ItemStatus::Cancelled);

    // Unknown task, and a duplicate report of a finished one.
    assert_eq!(
        plan.record_task_result("nope", TaskOutcome::Cancelled),
        None
    );
    assert_eq!(plan.record_task_result("ta", TaskOutcome::Cancelled), None);
    assert_eq!(plan.get("a").unwrap().status, ItemStatus::Done);
}

#[test]
fn reset_for_retry_keeps_attempts() {
    let mut plan = small();
    fail(&mut plan, "t1", "flaky");
    plan.reset_for_retry("t1").unwrap();
    let t1 = plan.get("t1").unwrap();
    assert_eq!(t1.status, ItemStatus::Pending);
    assert_eq!(t1.attempts, 1);
    assert_eq!(t1.task_id, None);
    assert_eq!(
        t1.result.as_deref(),
        Some("flaky"),
        "last error kept for the retry"
    );
    fail(&mut plan, "t1", "still flaky");
    assert_eq!(plan.get("t1").unwrap().attempts, 2);

    let e = plan.reset_for_retry("t2").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot retry `t2`: it is pending; only failed or cancelled items can be retried"
    );
    let e = plan.reset_for_retry("t").unwrap_err();
    assert!(e.to_string().contains("it has subtasks"), "{e}");
    assert!(matches!(
        plan.reset_for_retry("ghost"),
        Err(PlanError::UnknownItem { op: "retry", .. })
    ));
}
