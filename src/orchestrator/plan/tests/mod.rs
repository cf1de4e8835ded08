//! Shared fixtures for the plan tests.

mod dispatch_tests;
mod edit_errors;
mod edit_tests;
mod ready_tests;
mod render_tests;

use super::{AddItem, ItemStatus, Plan, PlanEdit, RemoveItem, TaskOutcome, UpdateItem};

pub(super) const AGENTS: &[&str] = &[
    "architect",
    "builder",
    "inspector",
    "recorder",
    "librarian",
    "researcher",
];

/// An add edit; `agent` "" means none.
pub(super) fn add(id: &str, agent: &str, parent: Option<&str>, deps: &[&str]) -> PlanEdit {
    PlanEdit::Add(AddItem {
        id: id.to_string(),
        title: format!("Do {id}"),
        description: None,
        agent: (!agent.is_empty()).then(|| agent.to_string()),
        parent: parent.map(str::to_string),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
    })
}

pub(super) fn leaf(id: &str, deps: &[&str]) -> PlanEdit {
    add(id, "builder", None, deps)
}

pub(super) fn sub(id: &str, parent: &str, deps: &[&str]) -> PlanEdit {
    add(id, "builder", Some(parent), deps)
}

pub(super) fn task(id: &str, deps: &[&str]) -> PlanEdit {
    add(id, "", None, deps)
}

pub(super) fn update(id: &str) -> UpdateItem {
    UpdateItem {
        id: id.to_string(),
        ..UpdateItem::default()
    }
}

pub(super) fn set_status(id: &str, status: ItemStatus) -> PlanEdit {
    PlanEdit::Update(UpdateItem {
        status: Some(status),
        ..update(id)
    })
}

pub(super) fn remove(id: &str) -> PlanEdit {
    PlanEdit::Remove(RemoveItem { id: id.to_string() })
}

pub(super) fn plan_of(edits: Vec<PlanEdit>) -> Plan {
    let mut plan = Plan::new();
    if let Err(e) = plan.apply(edits, AGENTS) {
        panic!("fixture batch rejected: {e}");
    }
    plan
}

/// Runs a leaf to completion through the dispatch bookkeeping.
pub(super) fn complete(plan: &mut Plan, id: &str) {
    let task_id = format!("task-{id}");
    if let Err(e) = plan.mark_dispatched(id, &task_id) {
        panic!("dispatch {id}: {e}");
    }
    let done = plan.record_task_result(
        &task_id,
        TaskOutcome::Completed {
            summary: format!("{id} ok"),
        },
    );
    assert_eq!(done.as_deref(), Some(id));
}

pub(super) fn fail(plan: &mut Plan, id: &str, error: &str) {
    let task_id = format!("task-{id}");
    if let Err(e) = plan.mark_dispatched(id, &task_id) {
        panic!("dispatch {id}: {e}");
    }
    let failed = plan.record_task_result(
        &task_id,
        TaskOutcome::Failed {
            error: error.to_string(),
        },
    );
    assert_eq!(failed.as_deref(), Some(id));
}

pub(super) fn ids(items: &[&super::PlanItem]) -> Vec<String> {
    items.iter().map(|item| item.id.clone()).collect()
}

/// The 3-level plan with 12 leaves used by several tests. Deliberately
/// listed children-first and with forward dependencies.
///
/// ```text
/// research                     wave 0
/// setup                        wave 0
/// db (after setup)
///   db.schema                  wave 1 (inherits setup)
///   db.migrate (db.schema)     wave 2
/// api (after db)
///   api.models                 wave 3 (inherits db = schema+migrate)
///   api.routes (api.models)    wave 4
///   api.auth (api.models)      wave 4
///   api.tests (routes, auth)   wave 5
/// ui (after setup)
///   ui.shell                   wave 1
///   ui.pages (shell, routes)   wave 5
/// docs (after api, ui)         wave 6
/// review (after docs)          wave 7
/// ```
pub(super) fn twelve_leaf_plan() -> Plan {
    plan_of(vec![
        add("review", "inspector", None, &["docs"]),
        add("docs", "recorder", None, &["api", "ui"]),
        sub("db.schema", "db", &[]),
        sub("db.migrate", "db", &["db.schema"]),
        add("research", "researcher", None, &[]),
        leaf("setup", &[]),
        task("db", &["setup"]),
        task("api", &["db"]),
        sub("api.models", "api", &[]),
        sub("api.routes", "api", &["api.models"]),
        sub("api.auth", "api", &["api.models"]),
        add(
            "api.tests",
            "inspector",
            Some("api"),
            &["api.routes", "api.auth"],
        ),
        task("ui", &["setup"]),
        sub("ui.shell", "ui", &[]),
        sub("ui.pages", "ui", &["ui.shell", "api.routes"]),
    ])
}
