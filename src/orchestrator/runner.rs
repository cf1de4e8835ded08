//! Runs one started task to its end: session, prompt, events, result, and the final commit.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Core;
use super::backend::{
    CreateSession, Prompt, SessionBackend, SessionErrorKind, SessionEvent, SessionOutput,
};
use super::events::EventDraft;
use super::ledger::Op;
use super::router::Wake;
use super::scheduler::Started;
use super::task::{Task, TaskStatus, now_ms};

/// How long an abort may take before we stop waiting for it.
const ABORT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most one progress event per task in this interval: the ledger keeps every event, and a
/// busy session can report many steps a second.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

enum Outcome {
    Completed(SessionOutput),
    Failed(String),
    Cancelled,
    TimedOut,
    /// The orchestrator is stopping: leave the task as it is in the ledger.
    Shutdown,
}

pub(super) async fn run(core: Arc<Core>, started: Started) {
    let Started { task_id, cancel } = started;
    let outcome = drive(&core, &task_id, &cancel).await;
    if !matches!(outcome, Outcome::Shutdown) {
        finish(&core, &task_id, outcome).await;
    }
    core.state.lock().release(&task_id);
    core.dispatch();
}

async fn drive(core: &Arc<Core>, task_id: &str, cancel: &CancellationToken) -> Outcome {
    let backend = match &core.backend {
        Ok(b) => b.clone(),
        Err(reason) => return Outcome::Failed(reason.clone()),
    };
    let mut task = match core.task(task_id).await {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(format!("could not load the task: {e}")),
    };
    let deadline = tokio::time::Instant::now() + core.config.task_ttl();
    let mut session: Option<String> = task.session_id.clone();
    let outcome = {
        let work = converse(core, backend.as_ref(), &mut task, &mut session);
        tokio::pin!(work);
        tokio::select! {
            biased;
            _ = core.shutdown.cancelled() => Outcome::Shutdown,
            _ = cancel.cancelled() => Outcome::Cancelled,
            _ = tokio::time::sleep_until(deadline) => Outcome::TimedOut,
            outcome = &mut work => outcome,
        }
    };
    if let Some(session_id) = &session {
        core.router.unregister(session_id);
        if matches!(outcome, Outcome::Cancelled | Outcome::TimedOut) {
            // Abort first, then record: the session must not keep working on a task we report
            // as stopped.
            match tokio::time::timeout(ABORT_TIMEOUT, backend.abort(session_id)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(task_id, session_id, "abort failed: {e}"),
                Err(_) => tracing::warn!(task_id, session_id, "abort did not answer in time"),
            }
        }
    }
    outcome
}

/// Creates (or reuses) the session, prompts it and waits for its answer.
async fn converse(
    core: &Arc<Core>,
    backend: &dyn SessionBackend,
    task: &mut Task,
    session: &mut Option<String>,
) -> Outcome {
    let session_id = match session.clone() {
        Some(id) => id,
        None => {
            let req = CreateSession {
                parent_session_id: task.parent_session_id.clone(),
                title: format!("{} ({})", task.description, task.agent),
                agent: task.agent.clone(),
                directory: core.workspace_root.clone(),
            };
            let id = match backend.create_session(req).await {
                Ok(id) => id,
                Err(e) => return Outcome::Failed(format!("could not create a session: {e}")),
            };
            *session = Some(id.clone());
            id
        }
    };
    task.status = TaskStatus::Running;
    task.started_at = Some(now_ms());
    task.session_id = Some(session_id.clone());
    let started = EventDraft::new(TaskStatus::Running.event_type(), task.summary());
    // Recorded before prompting, with the session, so a restart can find the session again.
    if let Err(e) = core
        .ledger
        .commit(vec![Op::PutTask(task.clone()), Op::Event(started)])
        .await
    {
        return Outcome::Failed(format!("could not record the start: {e}"));
    }

    let mut wakes = core.router.register(&session_id);
    let mut tools = std::collections::BTreeMap::new();
    if task.depth >= core.config.scheduler.max_depth {
        // A child at the depth limit may not delegate further.
        tools.insert("delegate_task".to_string(), false);
    }
    let prompt = Prompt {
        agent: task.agent.clone(),
        model: task.model.clone(),
        text: task.prompt.clone(),
        tools,
    };
    if let Err(e) = backend.prompt(&session_id, prompt).await {
        return Outcome::Failed(format!("the prompt was not accepted: {e}"));
    }

    let mut last_progress: Option<tokio::time::Instant> = None;
    loop {
        let Some(wake) = wakes.recv().await else {
            return Outcome::Failed("lost the agent runtime's session events".into());
        };
        match wake {
            Wake::Event(SessionEvent::Idle { .. }) | Wake::Recheck => {
                match backend.output(&session_id).await {
                    Ok(out) if out.finished => return Outcome::Completed(out),
                    // Idle without a finished answer (e.g. an idle that belongs to an earlier
                    // turn): keep waiting for the real end.
                    Ok(_) => continue,
                    Err(e) => return Outcome::Failed(format!("could not read the result: {e}")),
                }
            }
            Wake::Event(SessionEvent::Error { kind, message, .. }) => {
                let what = match kind {
                    SessionErrorKind::RateLimit => "rate limited",
                    SessionErrorKind::Overloaded => "model overloaded",
                    SessionErrorKind::Auth => "authentication failed",
                    SessionErrorKind::ContextTooLong => "context too long",
                    SessionErrorKind::Aborted => "aborted",
                    SessionErrorKind::Other => "session error",
                };
                return Outcome::Failed(format!("{what}: {message}"));
            }
            Wake::Event(SessionEvent::Deleted { .. }) => {
                return Outcome::Failed("the session was deleted before it finished".into());
            }
            Wake::Event(SessionEvent::Busy { .. }) => continue,
            Wake::Event(SessionEvent::Progress { message, .. }) => {
                let now = tokio::time::Instant::now();
                if last_progress.is_some_and(|t| now.duration_since(t) < PROGRESS_INTERVAL) {
                    continue;
                }
                last_progress = Some(now);
                let event = EventDraft::new(
                    "task.progress",
                    json!({"taskId": task.id, "sessionId": session_id, "message": message}),
                );
                if let Err(e) = core.ledger.commit(vec![Op::Event(event)]).await {
                    tracing::warn!(task_id = %task.id, "could not record progress: {e}");
                }
            }
        }
    }
}

/// Records how the task ended, with its event and (for background tasks) a notice for the
/// parent session, in one transaction.
async fn finish(core: &Arc<Core>, task_id: &str, outcome: Outcome) {
    let mut task = match core.task(task_id).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(task_id, "cannot finish a task that cannot be read: {e}");
            return;
        }
    };
    let mut ops = Vec::with_capacity(4);
    task.finished_at = Some(now_ms());
    match outcome {
        Outcome::Completed(out) => {
            task.status = TaskStatus::Completed;
            task.result = Some(out.text);
            task.reasoning = out.reasoning;
            task.usage = out.usage;
            if let Some(session_id) = &task.session_id {
                ops.push(Op::Event(EventDraft::new(
                    "session.idle",
                    json!({"sessionId": session_id, "taskId": task.id}),
                )));
            }
        }
        Outcome::Failed(error) => {
            task.status = TaskStatus::Failed;
            task.error = Some(error);
        }
        Outcome::Cancelled => {
            task.status = TaskStatus::Cancelled;
            task.error = Some("cancelled while running".into());
        }
        Outcome::TimedOut => {
            task.status = TaskStatus::TimedOut;
            task.error = Some(format!(
                "stopped after the task TTL of {} minutes (scheduler.taskTtlMinutes)",
                core.config.scheduler.task_ttl_minutes
            ));
        }
        Outcome::Shutdown => return,
    }
    ops.insert(0, Op::PutTask(task.clone()));
    ops.extend(ending_ops(&task));
    if let Err(e) = core.ledger.commit(ops).await {
        tracing::error!(task_id, "could not record the end of the task: {e}");
    }
}

/// The event announcing a finished task and, for a background task, the notice that wakes its
/// parent session: what every way of ending a task records with the task itself.
pub(super) fn ending_ops(task: &Task) -> Vec<Op> {
    let mut summary = task.summary();
    if let Some(d) = task.duration_ms() {
        summary["durationMs"] = d.into();
    }
    let mut ops = vec![Op::Event(EventDraft::new(
        task.status.event_type(),
        summary,
    ))];
    if task.background
        && let Some(parent) = &task.parent_session_id
    {
        ops.push(Op::Notice {
            parent_session_id: parent.clone(),
            task_id: task.id.clone(),
        });
    }
    ops
}
