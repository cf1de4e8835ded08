//! The engine's answers to requests and tool calls.

use std::time::Duration;

use serde_json::{Value, json};

use super::engine::{Engine, running_tasks};
use super::model::{Level, Mission, MissionStatus};
use super::{Command, StartMission, Target, ToolReply, ToolRequest, prompts, view};
use crate::orchestrator::backend::{CreateSession, Prompt};
use crate::orchestrator::plan::render;
use crate::orchestrator::{OrchestratorError, agents, ids};

const MAX_GOAL: usize = 4000;

impl Engine {
    pub(super) async fn handle(&mut self, command: Command) {
        match command {
            Command::Start(req, reply) => {
                let _ = reply.send(self.start(req).await);
            }
            Command::Get {
                target,
                journal_after,
                journal_limit,
                reply,
            } => {
                let _ = reply.send(self.get(target, journal_after, journal_limit).await);
            }
            Command::List {
                statuses,
                limit,
                reply,
            } => {
                let _ = reply.send(self.list(statuses, limit).await);
            }
            Command::Cancel(target, reply) => {
                let _ = reply.send(self.cancel(target).await);
            }
            Command::Resume {
                target,
                budgets,
                reply,
            } => {
                let _ = reply.send(self.resume(target, budgets).await);
            }
            Command::Tool {
                session_id,
                mission_id,
                request,
                reply,
            } => {
                let result = match self
                    .resolve_for_tool(session_id.as_deref(), mission_id)
                    .await
                {
                    Ok(id) => self.tool(&id, session_id.as_deref(), request).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Command::ToolCalled {
                session_id,
                signature,
            } => self.tool_called(&session_id, signature).await,
            Command::Check {
                mission_id,
                generation,
            } => {
                if self.generation.get(&mission_id) == Some(&generation) {
                    self.check(&mission_id).await;
                }
            }
        }
    }

    async fn start(&mut self, req: StartMission) -> Result<Value, OrchestratorError> {
        let goal = req.goal.trim().to_string();
        if goal.is_empty() {
            return Err(invalid(
                "goal",
                "must not be empty: say what the mission is for",
            ));
        }
        if goal.chars().count() > MAX_GOAL {
            return Err(invalid(
                "goal",
                &format!(
                    "must be at most {MAX_GOAL} characters; put details in files or follow-up messages"
                ),
            ));
        }
        let budgets = match req.budgets {
            Some(b) => {
                b.check("budgets.").map_err(|(key, message)| {
                    OrchestratorError::InvalidArgument {
                        field: "budgets",
                        message: format!("{key}: {message}"),
                    }
                })?;
                b
            }
            None => self.orch.config().missions.budgets.clone(),
        };
        let backend = self.backend()?;
        backend
            .available()
            .map_err(OrchestratorError::BackendUnavailable)?;
        let (session_id, prompt) = match req.session_id {
            Some(session) => {
                if session.trim().is_empty() {
                    return Err(invalid("sessionId", "must not be empty"));
                }
                if let Some(existing) = self.by_session.get(&session)
                    && let Some(m) = self.missions.get(existing)
                    && matches!(m.status, MissionStatus::Active)
                {
                    return Err(OrchestratorError::MissionConflict(format!(
                        "session {session} already runs mission {} ({}); cancel it (/stop) \
                         before starting another",
                        m.id,
                        prompts::clip(&m.goal, 80)
                    )));
                }
                (session, req.prompt)
            }
            None => {
                let session = backend
                    .create_session(CreateSession {
                        parent_session_id: None,
                        title: prompts::clip(&format!("Mission: {goal}"), 80),
                        agent: "commander".into(),
                        directory: self.orch.workspace_root().to_path_buf(),
                    })
                    .await?;
                (session, true)
            }
        };
        let mission = Mission::new(ids::mission_id(), session_id.clone(), goal, budgets);
        let id = mission.id.clone();
        let before = self.by_session.get(&session_id).cloned();
        self.insert(mission);
        let saved = self
            .save(
                &id,
                vec![(
                    "started".into(),
                    format!("mission started: {}", self.missions[&id].goal),
                    json!({}),
                )],
                vec![(
                    "mission.started".into(),
                    json!({"goal": self.missions[&id].goal}),
                )],
            )
            .await;
        if let Err(e) = saved {
            // Not recorded, so not started: nothing of it stays behind.
            self.missions.remove(&id);
            match before {
                Some(earlier) => self.by_session.insert(session_id, earlier),
                None => self.by_session.remove(&session_id),
            };
            return Err(e);
        }
        if prompt {
            let text = prompts::opening(&self.missions[&id]);
            let sent = backend
                .prompt(
                    &session_id,
                    Prompt {
                        agent: "commander".into(),
                        model: None,
                        text,
                        tools: Default::default(),
                    },
                )
                .await;
            if let Err(e) = sent {
                // No turn, so no idle would ever move it: stopped, with the reason, to resume.
                let reason = format!("its first prompt could not be sent: {e}");
                self.stop(&id, &reason).await;
                return Err(OrchestratorError::BackendUnavailable(format!(
                    "mission {id} was created but {reason}; it is stopped: resume it \
                     (mission/resume, or /task resume in its session) once OpenCode answers"
                )));
            }
        }
        Ok(json!({ "mission": view::summary(&self.missions[&id]) }))
    }

    fn find(&self, target: &Target) -> Option<&Mission> {
        match target {
            Target::Id(id) => self.missions.get(id),
            Target::Session(s) => self.by_session.get(s).and_then(|id| self.missions.get(id)),
        }
    }

    fn not_found(target: &Target) -> OrchestratorError {
        OrchestratorError::MissionNotFound(match target {
            Target::Id(id) => format!("no mission with id `{id}`; mission/list shows them"),
            Target::Session(s) => format!("session {s} runs no mission; /task starts one"),
        })
    }

    async fn get(
        &mut self,
        target: Target,
        journal_after: i64,
        journal_limit: usize,
    ) -> Result<Value, OrchestratorError> {
        let mission = match self.find(&target) {
            Some(m) => m.clone(),
            None => match &target {
                Target::Id(id) => self
                    .orch
                    .ledger()
                    .mission(id)
                    .await?
                    .and_then(|row| serde_json::from_str::<Mission>(&row.body).ok())
                    .ok_or_else(|| Self::not_found(&target))?,
                Target::Session(_) => return Err(Self::not_found(&target)),
            },
        };
        let journal = self
            .orch
            .ledger()
            .journal(&mission.id, journal_after, journal_limit.clamp(1, 1000))
            .await?;
        Ok(json!({ "mission": view::full(&mission), "journal": journal }))
    }

    async fn list(
        &mut self,
        statuses: Vec<String>,
        limit: usize,
    ) -> Result<Value, OrchestratorError> {
        const KNOWN: [&str; 5] = ["active", "paused", "stopped", "completed", "cancelled"];
        if let Some(bad) = statuses.iter().find(|s| !KNOWN.contains(&s.as_str())) {
            return Err(invalid(
                "status",
                &format!("unknown status `{bad}`; use one of {}", KNOWN.join(", ")),
            ));
        }
        let rows = self
            .orch
            .ledger()
            .missions(statuses, limit.clamp(1, 1000))
            .await?;
        let missions: Vec<Value> = rows
            .iter()
            .filter_map(|row| {
                self.missions
                    .get(&row.id)
                    .cloned()
                    .or_else(|| serde_json::from_str::<Mission>(&row.body).ok())
            })
            .map(|m| view::summary(&m))
            .collect();
        Ok(json!({ "missions": missions }))
    }

    async fn cancel(&mut self, target: Target) -> Result<Value, OrchestratorError> {
        let mission = self.find(&target).ok_or_else(|| Self::not_found(&target))?;
        let id = mission.id.clone();
        if mission.status.is_final() {
            return Ok(json!({"mission": view::summary(mission), "cancelled": false}));
        }
        let running = running_tasks(mission);
        self.end(
            &id,
            MissionStatus::Cancelled,
            "cancelled by the user",
            "mission.cancelled",
        )
        .await;
        if self.missions[&id].status != MissionStatus::Cancelled {
            // The save failed and the mission is as it was recorded.
            return Err(OrchestratorError::ToolFailed(format!(
                "mission {id} could not be cancelled: its record could not be saved (see the \
                 server's log); try again"
            )));
        }
        Ok(json!({
            "mission": view::summary(&self.missions[&id]),
            "cancelled": true,
            "cancelledTasks": running,
        }))
    }

    async fn resume(
        &mut self,
        target: Target,
        budgets: Option<Value>,
    ) -> Result<Value, OrchestratorError> {
        let mission = self.find(&target).ok_or_else(|| Self::not_found(&target))?;
        let id = mission.id.clone();
        match mission.status {
            MissionStatus::Paused | MissionStatus::Stopped => {}
            MissionStatus::Active => {
                return Err(OrchestratorError::MissionConflict(format!(
                    "mission {id} is already active"
                )));
            }
            status => {
                return Err(OrchestratorError::MissionConflict(format!(
                    "mission {id} is {} and cannot be resumed; start a new one",
                    status.as_str()
                )));
            }
        }
        let session = &self.missions[&id].session_id;
        if let Some(other) = self.active_in(session).filter(|other| *other != id) {
            return Err(OrchestratorError::MissionConflict(format!(
                "session {session} runs mission {other} now; cancel it (/stop) before resuming {id}"
            )));
        }
        let budgets =
            match budgets {
                Some(over) => Some(self.missions[&id].budgets.overlay(over).map_err(
                    |message| OrchestratorError::InvalidArgument {
                        field: "budgets",
                        message,
                    },
                )?),
                None => None,
            };
        let mission = self.missions.get_mut(&id).expect("found above");
        let was = mission.reason.clone().unwrap_or_default();
        if let Some(b) = budgets {
            mission.budgets = b;
        }
        mission.set_status(MissionStatus::Active, None);
        let session = mission.session_id.clone();
        mission.continuations = 0;
        mission.breakers = Default::default();
        // Items cancelled when the mission stopped run again.
        let cancelled: Vec<String> = mission
            .plan
            .leaves()
            .iter()
            .filter(|l| l.status == crate::orchestrator::plan::ItemStatus::Cancelled)
            .map(|l| l.id.clone())
            .collect();
        for item in cancelled {
            let _ = mission.plan.reset_for_retry(&item);
        }
        // The breakers start over, the verification rounds' too.
        mission.verify_base = mission.rounds.len();
        // The session's events are this mission's again (a newer one may have ended there).
        self.by_session.insert(session, id.clone());
        self.save(
            &id,
            vec![("resumed".into(), format!("resumed (was: {was})"), json!({}))],
            vec![("mission.resumed".into(), json!({"was": was}))],
        )
        .await?;
        self.advance(&id).await;
        self.schedule_check(&id, Duration::ZERO);
        Ok(json!({ "mission": view::summary(&self.missions[&id]) }))
    }

    /// The mission a tool call is about: named, or found from the calling session: the
    /// mission's own session, or any session of a task under it.
    async fn resolve_for_tool(
        &self,
        session: Option<&str>,
        mission_id: Option<String>,
    ) -> Result<String, OrchestratorError> {
        if let Some(id) = mission_id {
            return if self.missions.contains_key(&id) {
                Ok(id)
            } else {
                Err(Self::not_found(&Target::Id(id)))
            };
        }
        let Some(mut session) = session.map(str::to_string) else {
            return Err(OrchestratorError::MissionNotFound(
                "this call names no mission and comes from no session; pass `missionId`".into(),
            ));
        };
        let first = session.clone();
        for _ in 0..12 {
            if let Some(id) = self.by_session.get(&session) {
                return Ok(id.clone());
            }
            let Some(task) = self.orch.ledger().task_by_session(&session).await? else {
                break;
            };
            if let Some(id) = task.mission_id.filter(|id| self.missions.contains_key(id)) {
                return Ok(id);
            }
            match task.parent_session_id {
                Some(parent) => session = parent,
                None => break,
            }
        }
        Err(OrchestratorError::MissionNotFound(format!(
            "session {first} is not part of a mission; /task starts one"
        )))
    }

    async fn tool(
        &mut self,
        id: &str,
        session: Option<&str>,
        request: ToolRequest,
    ) -> Result<ToolReply, OrchestratorError> {
        let mission = &self.missions[id];
        let writes = !matches!(request, ToolRequest::PlanGet | ToolRequest::Report(_));
        if writes && mission.status.is_final() {
            return Err(OrchestratorError::MissionConflict(format!(
                "mission {id} is {}; nothing more can be done in it",
                mission.status.as_str()
            )));
        }
        match request {
            ToolRequest::Triage { level, reason } => {
                let mission = self.missions.get_mut(id).expect("resolved");
                mission.level = Some(level);
                mission.triage_reason = Some(reason.clone());
                self.save(
                    id,
                    vec![(
                        "triage".into(),
                        format!("triaged {level:?}: {reason}"),
                        json!({"level": level}),
                    )],
                    vec![("mission.triaged".into(), json!({"level": level}))],
                )
                .await?;
                let next = match level {
                    Level::L1 => "Do the work yourself, then call `mission_complete`.",
                    _ => {
                        "Have the architect write the plan (`delegate_task` with agent \
                          `architect`, background false), then call `plan_dispatch`."
                    }
                };
                Ok(reply(
                    format!("mission {id}: {level:?}"),
                    format!("Recorded: {level:?}. {next}"),
                    json!({"missionId": id, "level": level}),
                ))
            }
            ToolRequest::EditPlan(args) => {
                let names: Vec<&str> = agents::delegable().map(|a| a.name).collect();
                let mission = self.missions.get_mut(id).expect("resolved");
                let summary = mission.plan.apply(args.edits, &names).map_err(|e| {
                    OrchestratorError::InvalidArgument {
                        field: "edits",
                        message: e.to_string(),
                    }
                })?;
                let text = render::plan_for_prompt(&mission.plan);
                let detached: Vec<String> = summary
                    .detached_tasks
                    .iter()
                    .map(|d| d.task_id.clone())
                    .collect();
                self.save(
                    id,
                    vec![(
                        "plan".into(),
                        format!(
                            "plan revision {}: added {}, updated {}, removed {}",
                            summary.revision,
                            summary.added.len(),
                            summary.updated.len(),
                            summary.removed.len()
                        ),
                        json!({"revision": summary.revision, "added": summary.added,
                               "updated": summary.updated, "removed": summary.removed}),
                    )],
                    vec![("mission.plan".into(), json!({"revision": summary.revision}))],
                )
                .await?;
                self.cancel_in_background(detached);
                self.advance(id).await;
                Ok(reply(
                    format!("plan revision {}", summary.revision),
                    format!("Plan updated (revision {}).\n\n{text}", summary.revision),
                    json!({"missionId": id, "revision": summary.revision,
                           "added": summary.added, "updated": summary.updated,
                           "removed": summary.removed}),
                ))
            }
            ToolRequest::PlanGet => {
                let m = &self.missions[id];
                let text = if m.plan.is_empty() {
                    format!("Mission {id} has no plan yet ({}).", m.status.as_str())
                } else {
                    format!(
                        "Mission {id} ({}): {}\n\n{}\n\n{}",
                        m.status.as_str(),
                        m.goal,
                        render::plan_for_prompt(&m.plan),
                        prompts::context(m)
                    )
                };
                Ok(reply(
                    format!("plan of {id}"),
                    text,
                    json!({"missionId": id, "plan": m.plan, "waves": m.plan.waves()}),
                ))
            }
            ToolRequest::Dispatch => {
                let m = &self.missions[id];
                if m.status != MissionStatus::Active {
                    return Err(OrchestratorError::MissionConflict(format!(
                        "mission {id} is {} ({}); resume it first",
                        m.status.as_str(),
                        m.reason.clone().unwrap_or_default()
                    )));
                }
                if m.plan.is_empty() {
                    return Err(invalid(
                        "plan",
                        "the mission has no plan yet; write it with plan_edit (or have the \
                         architect write it) first",
                    ));
                }
                self.missions.get_mut(id).expect("resolved").auto_dispatch = true;
                let started = self.dispatch_ready(id).await?;
                self.advance(id).await;
                let m = &self.missions[id];
                let text = if started.is_empty() {
                    format!(
                        "Nothing new to start.\n\n{}",
                        render::plan_for_prompt(&m.plan)
                    )
                } else {
                    format!(
                        "Started {} item(s): {}. Items whose dependencies finish start on their \
                         own; you will be woken when the work is done or needs you.\n\n{}",
                        started.len(),
                        started
                            .iter()
                            .map(|(i, t)| format!("`{i}` ({t})"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        render::plan_for_prompt(&m.plan)
                    )
                };
                Ok(reply(
                    format!("started {} items", started.len()),
                    text,
                    json!({"missionId": id, "started": started.iter().map(|(i, t)| json!({"itemId": i, "taskId": t})).collect::<Vec<_>>()}),
                ))
            }
            ToolRequest::Report(report) => {
                let task = match session {
                    Some(s) => self.orch.ledger().task_by_session(s).await?,
                    None => None,
                };
                let Some(task) = task.filter(|t| t.mission_id.as_deref() == Some(id)) else {
                    return Err(OrchestratorError::MissionConflict(
                        "task_report is for agents working on a mission's task; this session \
                         runs none"
                            .into(),
                    ));
                };
                if report.summary.trim().is_empty() {
                    return Err(invalid("summary", "must say what was done"));
                }
                let mission = self.missions.get_mut(id).expect("resolved");
                mission.reports.insert(task.id.clone(), report.clone());
                self.save(id, Vec::new(), Vec::new()).await?;
                Ok(reply(
                    "report recorded".into(),
                    "Recorded. Finish your reply with the same summary.".into(),
                    json!({"missionId": id, "taskId": task.id}),
                ))
            }
            ToolRequest::Complete { summary } => {
                let m = &self.missions[id];
                if m.status != MissionStatus::Active {
                    return Err(OrchestratorError::MissionConflict(format!(
                        "mission {id} is {}; resume it first",
                        m.status.as_str()
                    )));
                }
                if let Some(round) = m.open_round() {
                    return Err(OrchestratorError::MissionConflict(format!(
                        "verification round {} is already running ({}); wait for its verdict",
                        round.round, round.task_id
                    )));
                }
                if !m.plan.is_empty() && !m.plan.is_complete() {
                    let open: Vec<String> = m
                        .plan
                        .leaves()
                        .iter()
                        .filter(|l| !l.status.is_complete())
                        .map(|l| format!("`{}` ({})", l.id, l.status))
                        .collect();
                    return Err(invalid(
                        "summary",
                        &format!(
                            "the plan is not done: {}; finish, skip or remove those items first",
                            open.join(", ")
                        ),
                    ));
                }
                let mission = self.missions.get_mut(id).expect("resolved");
                mission.completion_claim = Some(summary.clone());
                self.save(
                    id,
                    vec![(
                        "claim".into(),
                        format!(
                            "the Commander reports completion: {}",
                            prompts::clip(&summary, 300)
                        ),
                        json!({}),
                    )],
                    Vec::new(),
                )
                .await?;
                self.start_verification(id).await;
                let m = &self.missions[id];
                let task = m.open_round().map(|r| r.task_id.clone());
                Ok(reply(
                    "verification started".into(),
                    match &task {
                        Some(t) => format!(
                            "The Inspector is verifying the work ({t}). You will be told the \
                             verdict; end your turn now."
                        ),
                        None => format!(
                            "Verification could not start: {}",
                            m.reason.clone().unwrap_or_default()
                        ),
                    },
                    json!({"missionId": id, "taskId": task}),
                ))
            }
            ToolRequest::Verdict {
                verdict,
                evidence,
                fixes,
            } => {
                let round_task = self.missions[id].open_round().map(|r| r.task_id.clone());
                let task = match session {
                    Some(s) => self.orch.ledger().task_by_session(s).await?,
                    None => None,
                };
                if round_task.is_none() || task.as_ref().map(|t| &t.id) != round_task.as_ref() {
                    return Err(OrchestratorError::MissionConflict(
                        "mission_verdict is for the Inspector running the mission's \
                         verification; this session is not that task"
                            .into(),
                    ));
                }
                if evidence.trim().is_empty() {
                    return Err(invalid(
                        "evidence",
                        "must say what was checked and what it showed",
                    ));
                }
                let names: Vec<&str> = agents::delegable().map(|a| a.name).collect();
                if let Some(bad) = fixes
                    .iter()
                    .filter_map(|f| f.agent.as_deref())
                    .find(|a| !names.contains(&a.to_ascii_lowercase().as_str()))
                {
                    return Err(invalid(
                        "fixes",
                        &format!("unknown agent `{bad}`; use one of {}", names.join(", ")),
                    ));
                }
                let fixes = fixes
                    .into_iter()
                    .map(|mut f| {
                        f.agent = f.agent.map(|a| a.to_ascii_lowercase());
                        f
                    })
                    .collect();
                self.apply_verdict(id, verdict, evidence, fixes).await;
                Ok(reply(
                    format!("verdict: {verdict:?}"),
                    "Recorded. End your reply with the verdict line.".into(),
                    json!({"missionId": id, "verdict": verdict}),
                ))
            }
        }
    }
}

fn reply(title: String, output: String, metadata: Value) -> ToolReply {
    ToolReply {
        title,
        output,
        metadata,
    }
}

fn invalid(field: &'static str, message: &str) -> OrchestratorError {
    OrchestratorError::InvalidArgument {
        field,
        message: message.to_string(),
    }
}
