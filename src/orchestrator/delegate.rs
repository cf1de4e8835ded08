//! Delegation: turning a request into a committed, queued task.

use super::agents;
use super::events::EventDraft;
use super::ids;
use super::ledger::Op;
use super::scheduler::Refusal;
use super::task::{Task, TaskStatus, now_ms};
use super::{Orchestrator, OrchestratorError};

/// What a client asks for when it delegates.
#[derive(Debug, Clone, Default)]
pub struct DelegateRequest {
    pub agent: String,
    pub description: String,
    pub prompt: String,
    pub background: bool,
    pub priority: i32,
    /// "provider/model".
    pub model: Option<String>,
    /// The session that delegates (the caller's session).
    pub parent_session_id: Option<String>,
    /// Continue the session of this earlier task instead of starting a new one.
    pub resume: Option<String>,
    /// The agent of the delegating session: the parent is woken with it.
    pub parent_agent: Option<String>,
    /// Set by missions: the mission and plan item the task runs. A mission's tasks do not
    /// leave notices: the mission wakes its session itself, once a wave is over.
    pub mission_id: Option<String>,
    pub plan_item: Option<String>,
}

const MAX_DESCRIPTION: usize = 200;

impl Orchestrator {
    /// Validates, commits and queues a task; returns its record as committed.
    pub async fn delegate(&self, req: DelegateRequest) -> Result<Task, OrchestratorError> {
        let core = &self.core;
        match &core.backend {
            Err(reason) => return Err(OrchestratorError::BackendUnavailable(reason.clone())),
            Ok(backend) => backend
                .available()
                .map_err(OrchestratorError::BackendUnavailable)?,
        }
        let agent = agents::find(&req.agent).ok_or_else(|| OrchestratorError::UnknownAgent {
            name: req.agent.clone(),
            known: agents::delegable_names(),
        })?;
        if agent.mode != agents::AgentMode::Subagent {
            return Err(OrchestratorError::NotDelegable {
                name: agent.name.to_string(),
                known: agents::delegable_names(),
            });
        }
        let description = req.description.trim();
        if description.is_empty() {
            return Err(invalid("description", "must not be empty"));
        }
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(invalid(
                "description",
                &format!("must be at most {MAX_DESCRIPTION} characters; put details in `prompt`"),
            ));
        }
        if req.prompt.trim().is_empty() {
            return Err(invalid("prompt", "must not be empty"));
        }
        if let Some(model) = &req.model
            && !model
                .split_once('/')
                .is_some_and(|(p, m)| !p.is_empty() && !m.is_empty())
        {
            return Err(invalid("model", "must look like `provider/model`"));
        }

        let (depth, parent_task_id) = self
            .depth_of_child(req.parent_session_id.as_deref())
            .await?;
        let max = core.config.scheduler.max_depth;
        if depth > max {
            return Err(OrchestratorError::DepthLimit { depth, max });
        }

        let resumed = match &req.resume {
            Some(id) => {
                let earlier = core.task(id).await?;
                if !earlier.status.is_terminal() {
                    return Err(OrchestratorError::TaskBusy {
                        id: id.clone(),
                        status: earlier.status.to_string(),
                    });
                }
                let session = earlier
                    .session_id
                    .clone()
                    .ok_or_else(|| OrchestratorError::NoSessionToResume { id: id.clone() })?;
                Some((earlier.id, session))
            }
            None => None,
        };

        let task = Task {
            id: ids::task_id(),
            agent: agent.name.to_string(),
            description: description.to_string(),
            prompt: req.prompt,
            status: TaskStatus::Queued,
            background: req.background,
            priority: req.priority,
            depth,
            model: req.model,
            parent_session_id: req.parent_session_id,
            parent_task_id,
            session_id: resumed.as_ref().map(|(_, s)| s.clone()),
            resumed_from: resumed.map(|(id, _)| id),
            parent_agent: req.parent_agent,
            created_at: now_ms(),
            started_at: None,
            finished_at: None,
            result: None,
            reasoning: None,
            error: None,
            usage: None,
            mission_id: req.mission_id,
            plan_item: req.plan_item,
        };

        let reserved = {
            let mut st = core.state.lock();
            match &task.session_id {
                Some(session) => st.reserve_resuming(&task.id, session),
                None => st.reserve().map_err(|r| (r, None)),
            }
        };
        let reservation = reserved.map_err(|(refusal, holder)| match refusal {
            Refusal::QueueFull => OrchestratorError::QueueFull {
                capacity: core.config.scheduler.queue_capacity,
            },
            Refusal::ShuttingDown => OrchestratorError::ShuttingDown,
            Refusal::SessionBusy => OrchestratorError::TaskBusy {
                id: holder.unwrap_or_default(),
                status: "working in that session".into(),
            },
        })?;
        // Committed and queued on a task of its own: a cancelled request (`$/cancelRequest`
        // drops this future) must not leave a task recorded `queued` that no queue holds.
        let admit = {
            let core = core.clone();
            let task = task.clone();
            tokio::spawn(async move {
                let queued = EventDraft::new(TaskStatus::Queued.event_type(), task.summary());
                if let Err(e) = core
                    .ledger
                    .commit(vec![Op::PutTask(task.clone()), Op::Event(queued)])
                    .await
                {
                    core.state.lock().unreserve(reservation);
                    return Err(OrchestratorError::from(e));
                }
                core.state.lock().enqueue(reservation, &task);
                core.dispatch();
                Ok(())
            })
        };
        admit.await.map_err(|e| {
            OrchestratorError::ToolFailed(format!("queueing the task failed: {e}"))
        })??;
        Ok(task)
    }

    /// The depth a task delegated by `parent_session` gets, and the task that session runs.
    async fn depth_of_child(
        &self,
        parent_session: Option<&str>,
    ) -> Result<(u32, Option<String>), OrchestratorError> {
        let Some(parent_session) = parent_session else {
            return Ok((1, None));
        };
        let hot = self
            .core
            .state
            .lock()
            .hot()
            .by_session(parent_session)
            .map(|t| (t.depth, t.id.clone()));
        let parent = match hot {
            Some(p) => Some(p),
            None => self
                .core
                .ledger
                .task_by_session(parent_session)
                .await?
                .map(|t| (t.depth, t.id)),
        };
        Ok(match parent {
            Some((depth, id)) => (depth + 1, Some(id)),
            None => (1, None),
        })
    }
}

fn invalid(field: &'static str, message: &str) -> OrchestratorError {
    OrchestratorError::InvalidArgument {
        field,
        message: message.to_string(),
    }
}
