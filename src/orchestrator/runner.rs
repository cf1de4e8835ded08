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

/// How long a re-attached session may show no sign of work before it is taken as stopped.
const REATTACH_GRACE: Duration = Duration::from_secs(20);

/// At most one progress event per task in this interval: the ledger keeps every event, and a
/// busy session can report many steps a second.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

enum Outcome {
    Completed(SessionOutput),
    Failed(String),
    /// The task was running when the orchestrator stopped and could not be picked up again:
    /// why, and what its session had said by then.
    Interrupted(String, Option<String>),
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
    // A task already `running` was left by a previous process: follow its session again.
    let reattaching = task.status == TaskStatus::Running;
    let ttl = core.config.task_ttl();
    let deadline = match (reattaching, task.started_at) {
        (true, Some(started)) => {
            let ran = Duration::from_millis(now_ms().saturating_sub(started));
            tokio::time::Instant::now() + ttl.saturating_sub(ran)
        }
        _ => tokio::time::Instant::now() + ttl,
    };
    let mut session: Option<String> = task.session_id.clone();
    let outcome = {
        let work = async {
            if reattaching {
                reattach(core, backend.as_ref(), &task).await
            } else {
                converse(core, backend.as_ref(), &mut task, &mut session).await
            }
        };
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
    let prompt = prompt_for(core, task);
    if let Err(e) = backend.prompt(&session_id, prompt.clone()).await {
        return Outcome::Failed(format!("the prompt was not accepted: {e}"));
    }
    follow(core, backend, task, &session_id, &prompt, &mut wakes, None).await
}

/// Picks up a task whose session was running when the previous process stopped.
async fn reattach(core: &Arc<Core>, backend: &dyn SessionBackend, task: &Task) -> Outcome {
    const LOST: &str = "the orchestrator stopped while this task was running";
    let Some(session_id) = task.session_id.as_deref() else {
        return Outcome::Interrupted(format!("{LOST}, before it had a session"), None);
    };
    match backend.exists(session_id).await {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::Interrupted(format!("{LOST}, and its session no longer exists"), None);
        }
        Err(e) => {
            return Outcome::Interrupted(
                format!("{LOST}, and its session could not be looked up: {e}"),
                None,
            );
        }
    }
    if let Some(started) = task.started_at {
        backend.track_turn(session_id, started);
    }
    let mut wakes = core.router.register(session_id);
    // It may have finished, or stopped, while nobody was listening.
    match backend.output(session_id).await {
        Ok(out) if out.finished => return Outcome::Completed(out),
        // Not finished; whether it still works is decided in `follow`, which gives an idle
        // session a grace period before calling it stopped (a prompt can take a moment to
        // show as busy, e.g. while OpenCode loads its plugins).
        Ok(_) => {}
        Err(e) => return Outcome::Interrupted(format!("{LOST}: {e}"), None),
    }
    tracing::info!(task_id = %task.id, session_id, "re-attached to a running task");
    let event = EventDraft::new(
        "task.reattached",
        json!({"taskId": task.id, "sessionId": session_id}),
    );
    if let Err(e) = core.ledger.commit(vec![Op::Event(event)]).await {
        tracing::warn!(task_id = %task.id, "could not record the re-attach: {e}");
    }
    let prompt = prompt_for(core, task);
    // Look once more right away: the answer may have come between the check and the register.
    let _ = core.router.recheck(session_id);
    let stall = Some(tokio::time::Instant::now() + REATTACH_GRACE);
    follow(core, backend, task, session_id, &prompt, &mut wakes, stall).await
}

/// The prompt a task sends (and re-sends on retry).
fn prompt_for(core: &Core, task: &Task) -> Prompt {
    let mut tools = std::collections::BTreeMap::new();
    if task.depth >= core.config.scheduler.max_depth {
        // A child at the depth limit may not delegate further.
        tools.insert("delegate_task".to_string(), false);
    }
    Prompt {
        agent: task.agent.clone(),
        model: task.model.clone(),
        text: task.prompt.clone(),
        tools,
    }
}

/// Waits for the session's answer to `prompt`, retrying passing errors with backoff.
async fn follow(
    core: &Arc<Core>,
    backend: &dyn SessionBackend,
    task: &Task,
    session_id: &str,
    prompt: &Prompt,
    wakes: &mut tokio::sync::mpsc::UnboundedReceiver<Wake>,
    mut stall: Option<tokio::time::Instant>,
) -> Outcome {
    let recovery = &core.config.recovery;
    let mut attempts = 0u32;
    let mut last_progress: Option<tokio::time::Instant> = None;
    loop {
        let wake = match stall {
            None => wakes.recv().await,
            Some(at) => tokio::select! {
                wake = wakes.recv() => wake,
                _ = tokio::time::sleep_until(at) => {
                    // A re-attached session that showed no sign of life: is it working?
                    match backend.is_busy(session_id).await {
                        Ok(true) => {
                            stall = None;
                            continue;
                        }
                        Ok(false) => {
                            let partial = match backend.output(session_id).await {
                                Ok(out) if out.finished => return Outcome::Completed(out),
                                Ok(out) => Some(out.text).filter(|t| !t.trim().is_empty()),
                                Err(_) => None,
                            };
                            return Outcome::Interrupted(
                                "the session stopped without an answer while the orchestrator \
                                 was not following it (a restart, or a new link to OpenCode)"
                                    .into(),
                                partial,
                            );
                        }
                        Err(e) => return Outcome::Interrupted(format!(
                            "the orchestrator stopped while this task was running: {e}"
                        ), None),
                    }
                }
            },
        };
        let Some(wake) = wake else {
            return Outcome::Failed("lost the agent runtime's session events".into());
        };
        if matches!(
            wake,
            Wake::Event(SessionEvent::Busy { .. } | SessionEvent::Progress { .. })
        ) {
            stall = None; // it is alive
        }
        match wake {
            // An error is read from the session itself, like an idle: OpenCode records it on
            // the turn's last message, and reading it there handles each failure once.
            Wake::Event(SessionEvent::Idle { .. }) | Wake::Event(SessionEvent::Error { .. }) => {}
            // Events may have been missed (a reconnect, or another runtime plugged in): if
            // the session shows no sign of life for a while, ask whether it still works,
            // as after a restart, instead of waiting for the TTL.
            Wake::Event(SessionEvent::Resync) | Wake::Recheck => {
                stall = stall.or(Some(tokio::time::Instant::now() + REATTACH_GRACE));
            }
            Wake::Event(SessionEvent::Deleted { .. }) => {
                return Outcome::Failed("the session was deleted before it finished".into());
            }
            Wake::Event(SessionEvent::Busy { .. } | SessionEvent::UserMessage { .. }) => continue,
            Wake::Event(SessionEvent::Retrying {
                attempt, message, ..
            }) => {
                // The runtime's own retry: announce it like ours.
                let event = EventDraft::new(
                    "task.retry",
                    json!({"taskId": task.id, "sessionId": session_id, "attempt": attempt,
                           "error": message, "by": "runtime"}),
                );
                if let Err(e) = core.ledger.commit(vec![Op::Event(event)]).await {
                    tracing::warn!(task_id = %task.id, "could not record the retry: {e}");
                }
                continue;
            }
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
                continue;
            }
        }
        let out = match backend.output(session_id).await {
            Ok(out) => out,
            Err(e) => return Outcome::Failed(format!("could not read the result: {e}")),
        };
        if out.finished {
            return Outcome::Completed(out);
        }
        // Neither finished nor failed (an idle from an earlier turn, or a turn still going):
        // keep waiting for the real end.
        let Some(failure) = out.failure else {
            continue;
        };
        if !retryable(recovery, failure.kind, &failure.message) || attempts >= recovery.max_retries
        {
            let what = match failure.kind {
                SessionErrorKind::RateLimit => "rate limited",
                SessionErrorKind::Overloaded => "model overloaded",
                SessionErrorKind::Auth => "authentication failed",
                SessionErrorKind::ContextTooLong => "context too long",
                SessionErrorKind::Aborted => "aborted",
                SessionErrorKind::Other => "session error",
            };
            let tries = if attempts > 0 {
                format!(" (after {attempts} retries)")
            } else {
                String::new()
            };
            return Outcome::Failed(format!("{what}: {}{tries}", failure.message));
        }
        attempts += 1;
        let delay = backoff(recovery, attempts);
        let event = EventDraft::new(
            "task.retry",
            json!({"taskId": task.id, "sessionId": session_id, "attempt": attempts,
                   "maxRetries": recovery.max_retries, "delayMs": delay.as_millis() as u64,
                   "error": failure.message, "by": "orchestrator"}),
        );
        if let Err(e) = core.ledger.commit(vec![Op::Event(event)]).await {
            tracing::warn!(task_id = %task.id, "could not record the retry: {e}");
        }
        tokio::time::sleep(delay).await;
        let again = backend.retry_prompt(prompt, &failure.message);
        if let Err(e) = backend.prompt(session_id, again).await {
            return Outcome::Failed(format!("the retry was not accepted: {e}"));
        }
        stall = None; // a fresh turn: a check armed before it is void
    }
}

/// Rate limits and overload always retry; other errors when their text matches
/// `recovery.retryOn`.
fn retryable(
    recovery: &crate::config::RecoveryConfig,
    kind: SessionErrorKind,
    message: &str,
) -> bool {
    match kind {
        SessionErrorKind::RateLimit | SessionErrorKind::Overloaded => true,
        SessionErrorKind::Aborted | SessionErrorKind::Auth | SessionErrorKind::ContextTooLong => {
            false
        }
        SessionErrorKind::Other => {
            let lower = message.to_ascii_lowercase();
            recovery
                .retry_on
                .iter()
                .any(|p| !p.is_empty() && lower.contains(&p.to_ascii_lowercase()))
        }
    }
}

/// Exponential backoff with equal jitter: half the step fixed, half random.
fn backoff(recovery: &crate::config::RecoveryConfig, attempt: u32) -> Duration {
    let step = recovery
        .base_delay_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
        .min(recovery.max_delay_ms);
    let half = step / 2;
    Duration::from_millis(half + super::ids::random_u64() % (half + 1))
}

/// Pauses between tries to record the end of a task: from 0.1 s, doubling, up to 5 s.
const FINISH_FIRST_PAUSE: Duration = Duration::from_millis(100);
const FINISH_MAX_PAUSE: Duration = Duration::from_secs(5);

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
        Outcome::Interrupted(reason, partial) => {
            task.status = TaskStatus::Interrupted;
            task.error = Some(reason);
            // Whatever the session had said by then is kept as the (partial) result.
            task.result = partial;
        }
        Outcome::Shutdown => return,
    }
    ops.insert(0, Op::PutTask(task.clone()));
    ops.extend(ending_ops(&task));
    // The one write that must land (a busy, full or briefly failing disk): else the task would
    // stay `running` with nothing left to end it. Tried until it lands, or the server stops
    // (then the next start finds it `running` and interrupts it).
    let mut pause = FINISH_FIRST_PAUSE;
    for attempt in 1u32.. {
        match core.ledger.commit(ops.clone()).await {
            Ok(_) => {
                core.notice_committed(&task);
                if attempt > 1 {
                    tracing::info!(task_id, attempt, "recorded the end of the task");
                }
                break;
            }
            Err(e) => {
                // Every failure at first, then about once a minute.
                if attempt <= 6 || attempt % 12 == 0 {
                    tracing::warn!(
                        task_id,
                        attempt,
                        "could not record the end of the task: {e}; trying again"
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = core.shutdown.cancelled() => return,
                }
                pause = (pause * 2).min(FINISH_MAX_PAUSE);
            }
        }
    }
    if let Some(session_id) = task.session_id.clone() {
        schedule_cleanup(core, session_id);
    }
}

/// Deletes a finished task's child session after `opencode.retentionMinutes` (0 keeps it),
/// never while it is busy or another task is using it (a resumed task shares its session).
fn schedule_cleanup(core: &Arc<Core>, session_id: String) {
    let minutes = core.config.opencode.retention_minutes;
    let Ok(backend) = core.backend.clone() else {
        return;
    };
    if minutes == 0 {
        return;
    }
    let retention = Duration::from_secs(minutes * 60);
    let core = core.clone();
    tokio::spawn(async move {
        let mut wait = retention;
        loop {
            tokio::select! {
                _ = core.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let in_use = core
                .state
                .lock()
                .hot()
                .by_session(&session_id)
                .is_some_and(|t| !t.status.is_terminal());
            let busy = backend.is_busy(&session_id).await.unwrap_or(true);
            if in_use || busy {
                wait = retention.min(Duration::from_secs(60));
                continue;
            }
            match backend.delete(&session_id).await {
                Ok(()) => tracing::debug!(session_id, "deleted a finished child session"),
                Err(e) => {
                    tracing::debug!(session_id, "could not delete a finished child session: {e}")
                }
            }
            return;
        }
    });
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
        && task.mission_id.is_none()
        && let Some(parent) = &task.parent_session_id
    {
        ops.push(Op::Notice {
            parent_session_id: parent.clone(),
            task_id: task.id.clone(),
        });
    }
    ops
}
