//! The task record: what was delegated, to whom, and what became of it.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
    Interrupted,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::TimedOut,
        TaskStatus::Interrupted,
    ];

    /// A finished task never changes status again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::TimedOut => "timed_out",
            TaskStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The event type announcing a transition into this status.
    pub fn event_type(self) -> &'static str {
        match self {
            TaskStatus::Queued => "task.queued",
            TaskStatus::Running => "task.started",
            TaskStatus::Completed => "task.completed",
            TaskStatus::Failed => "task.failed",
            TaskStatus::Cancelled => "task.cancelled",
            TaskStatus::TimedOut => "task.timed_out",
            TaskStatus::Interrupted => "task.interrupted",
        }
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Token and cost use reported by the agent runtime for one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost: f64,
}

/// One delegated piece of work. Serialized as-is in the protocol and in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub agent: String,
    pub description: String,
    pub prompt: String,
    pub status: TaskStatus,
    pub background: bool,
    pub priority: i32,
    /// 1 for a task delegated by a root session, +1 for each delegating task above it.
    pub depth: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    /// The agent runtime's session that runs this task, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The earlier task whose session this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    /// The agent of the delegating session, used when its parent is woken with the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_agent: Option<String>,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The mission this task works for (a plan item or a verification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission_id: Option<String>,
    /// The plan item it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_item: Option<String>,
}

impl Task {
    /// A compact view for events and listings: no prompt or result text.
    pub fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "taskId": self.id,
            "agent": self.agent,
            "description": self.description,
            "status": self.status,
            "background": self.background,
            "depth": self.depth,
            "createdAt": self.created_at,
        });
        let obj = v.as_object_mut().expect("json! object");
        let mut put = |k: &str, val: Option<serde_json::Value>| {
            if let Some(val) = val {
                obj.insert(k.to_string(), val);
            }
        };
        put(
            "parentSessionId",
            self.parent_session_id.clone().map(Into::into),
        );
        put("parentTaskId", self.parent_task_id.clone().map(Into::into));
        put("sessionId", self.session_id.clone().map(Into::into));
        put("model", self.model.clone().map(Into::into));
        put("startedAt", self.started_at.map(Into::into));
        put("finishedAt", self.finished_at.map(Into::into));
        put("error", self.error.clone().map(Into::into));
        put("missionId", self.mission_id.clone().map(Into::into));
        put(
            "usage",
            self.usage
                .as_ref()
                .and_then(|u| serde_json::to_value(u).ok()),
        );
        put("planItem", self.plan_item.clone().map(Into::into));
        v
    }

    pub fn duration_ms(&self) -> Option<Millis> {
        let start = self.started_at?;
        Some(
            self.finished_at
                .unwrap_or_else(now_ms)
                .saturating_sub(start),
        )
    }
}
