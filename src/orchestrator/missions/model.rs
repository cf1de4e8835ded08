//! A mission's record: what it is for, how far it got, what it spent, and why it stopped.
//! Stored whole in the ledger (one JSON body per mission).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Budgets;
use crate::orchestrator::plan::Plan;
use crate::orchestrator::task::{Millis, Usage, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissionStatus {
    /// Being worked on; continued when its session goes idle.
    Active,
    /// Waiting for the user (they interrupted or wrote to the session); `mission/resume` or
    /// `/task resume` continues it.
    Paused,
    /// Stopped by a loop breaker or a budget; its state is kept and it can be resumed.
    Stopped,
    /// Every plan item done and the Inspector passed it.
    Completed,
    /// Cancelled by the user (`/stop`, `mission/cancel`).
    Cancelled,
}

impl MissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Completed and cancelled missions never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// The Commander's triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Level {
    /// Small: the Commander does it directly.
    L1,
    /// A short plan of a few items.
    L2,
    /// A deep plan (up to 3 levels), research first.
    L3,
}

/// What a finished task handed back, merged into the mission's context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// What was done and what was found, in a few sentences.
    pub summary: String,
    /// Files created, changed or deleted, relative to the workspace.
    #[serde(default)]
    pub files_changed: Vec<String>,
    /// Work left over or noticed on the way.
    #[serde(default)]
    pub follow_ups: Vec<String>,
}

/// One piece of the mission's shared context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextEntry {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub agent: String,
    pub status: String,
    /// Whether the agent reported it with task_report (else it is read from the reply).
    pub reported: bool,
    #[serde(flatten)]
    pub report: Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// One verification round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Round {
    pub round: u32,
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Plan items added to fix what failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_items: Vec<String>,
    /// Why the round ended without a verdict (the mission stopped, or its Inspector task
    /// failed or was cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned: Option<String>,
}

impl Round {
    /// Neither judged nor abandoned.
    fn is_open(&self) -> bool {
        self.verdict.is_none() && self.abandoned.is_none()
    }
}

/// A task delegated under a mission outside its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegatedTask {
    pub task_id: String,
    pub agent: String,
    pub description: String,
    /// False once its ending has been seen.
    pub running: bool,
}

/// Token and cost use, summed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spend {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost: f64,
}

impl Spend {
    pub fn add(&mut self, usage: &Usage) {
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        self.reasoning_tokens += usage.reasoning_tokens;
        self.cost += usage.cost;
    }

    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.reasoning_tokens
    }
}

/// The loop breakers' memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Breakers {
    /// Continuations since the plan last moved.
    pub stagnant: u32,
    /// What "moved" is compared against (see [`Mission::progress_mark`]).
    pub last_mark: String,
    /// Hashes of the session's last replies, newest last.
    pub replies: Vec<u64>,
    /// Hashes of the session's last orchestrator tool calls, newest last.
    pub tool_calls: Vec<u64>,
    /// The last reply counted (its hash and tokens), so a turn is counted once.
    pub counted_turn: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mission {
    pub id: String,
    /// The OpenCode session the mission runs in (the Commander's).
    pub session_id: String,
    pub goal: String,
    pub status: MissionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_reason: Option<String>,
    pub plan: Plan,
    pub budgets: Budgets,
    /// Every task the mission started, in order.
    pub task_ids: Vec<String>,
    /// Tasks delegated under the mission outside its plan (by the Commander or by one of the
    /// mission's tasks), in order: they count towards its budgets and stop with it.
    #[serde(default)]
    pub delegated: Vec<DelegatedTask>,
    /// Reports given with task_report before the task ended, by task id.
    #[serde(default)]
    pub reports: BTreeMap<String, Report>,
    /// Finished tasks' results, newest last.
    #[serde(default)]
    pub context: Vec<ContextEntry>,
    #[serde(default)]
    pub rounds: Vec<Round>,
    /// Rounds before the last resume: `missions.maxVerifyRounds` counts the rounds after it.
    #[serde(default)]
    pub verify_base: usize,
    /// Usage of the mission's own session (the Commander's turns).
    #[serde(default)]
    pub session_spend: Spend,
    /// Usage of the mission's tasks, by task id.
    #[serde(default)]
    pub task_spend: BTreeMap<String, Spend>,
    pub continuations: u32,
    /// Set by the first `plan_dispatch`: from then on ready items start as soon as they are.
    #[serde(default)]
    pub auto_dispatch: bool,
    #[serde(default)]
    pub breakers: Breakers,
    /// Why it is paused or stopped (or how it ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The Commander asked for verification (`mission_complete`) with this summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_claim: Option<String>,
    /// The final "mission complete" message still has to reach the session.
    #[serde(default)]
    pub final_message_pending: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Active time before the current run, and when the current run started.
    #[serde(default)]
    pub active_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
}

impl Mission {
    pub fn new(id: String, session_id: String, goal: String, budgets: Budgets) -> Self {
        let now = now_ms();
        Self {
            id,
            session_id,
            goal,
            status: MissionStatus::Active,
            level: None,
            triage_reason: None,
            plan: Plan::new(),
            budgets,
            task_ids: Vec::new(),
            delegated: Vec::new(),
            reports: BTreeMap::new(),
            context: Vec::new(),
            rounds: Vec::new(),
            verify_base: 0,
            session_spend: Spend::default(),
            task_spend: BTreeMap::new(),
            continuations: 0,
            auto_dispatch: false,
            breakers: Breakers::default(),
            reason: None,
            completion_claim: None,
            final_message_pending: false,
            created_at: now,
            updated_at: now,
            active_ms: 0,
            active_since: Some(now),
            finished_at: None,
        }
    }

    /// Time spent active, pauses not counted.
    pub fn active_time(&self, now: Millis) -> u64 {
        self.active_ms + self.active_since.map_or(0, |s| now.saturating_sub(s))
    }

    /// Leaves the active state (pause, stop, end): banks the active time.
    pub fn set_status(&mut self, status: MissionStatus, reason: Option<String>) {
        let now = now_ms();
        if status != MissionStatus::Active {
            self.active_ms = self.active_time(now);
            self.active_since = None;
        } else if self.active_since.is_none() {
            self.active_since = Some(now);
        }
        if status.is_final() {
            self.finished_at = Some(now);
        }
        self.status = status;
        self.reason = reason;
        self.updated_at = now;
    }

    /// Tasks counted against `maxTasks`: the plan's and verification's, and those delegated
    /// under the mission.
    pub fn tasks_started(&self) -> usize {
        self.task_ids.len() + self.delegated.len()
    }

    /// Everything spent: the session's own turns and every task.
    pub fn spend(&self) -> Spend {
        let mut total = self.session_spend.clone();
        for s in self.task_spend.values() {
            total.input_tokens += s.input_tokens;
            total.output_tokens += s.output_tokens;
            total.reasoning_tokens += s.reasoning_tokens;
            total.cost += s.cost;
        }
        total
    }

    /// What counts as progress for the stagnation breaker: plan items done, the plan's
    /// revision, the triage, and verification rounds.
    pub fn progress_mark(&self) -> String {
        let key = self.plan.progress_key();
        format!(
            "{}/{}/r{}/{:?}/v{}/{}",
            key.done_or_skipped,
            key.total_leaves,
            key.revision,
            self.level,
            self.rounds.len(),
            self.completion_claim.is_some()
        )
    }

    /// The verification round under way, if any.
    pub fn open_round(&self) -> Option<&Round> {
        self.rounds.last().filter(|r| r.is_open())
    }

    pub fn open_round_mut(&mut self) -> Option<&mut Round> {
        self.rounds.last_mut().filter(|r| r.is_open())
    }

    /// Closes the open round without a verdict; returns its number.
    pub fn abandon_round(&mut self, why: String) -> Option<u32> {
        let round = self.open_round_mut()?;
        round.abandoned = Some(why);
        Some(round.round)
    }

    /// Counts what a finished task of the mission (or delegated under it) spent.
    pub fn count_spend(&mut self, task: &crate::orchestrator::task::Task) {
        if let Some(usage) = &task.usage {
            let mut spend = Spend::default();
            spend.add(usage);
            self.task_spend.insert(task.id.clone(), spend);
        }
    }

    /// Rounds since the last resume, judged or abandoned.
    pub fn rounds_since_resume(&self) -> usize {
        self.rounds.len().saturating_sub(self.verify_base)
    }

    /// Whether the last round passed.
    pub fn passed(&self) -> bool {
        self.rounds
            .last()
            .is_some_and(|r| r.verdict == Some(Verdict::Pass))
    }
}
