//! The seven agents tasks can be delegated to, and how their names are matched.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentMode {
    /// Talks to the user; runs missions.
    Primary,
    /// Runs delegated tasks in child sessions.
    Subagent,
}

#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    /// The id used in OpenCode's config and in `delegate_task`.
    pub name: &'static str,
    pub display_name: &'static str,
    pub mode: AgentMode,
    pub description: &'static str,
}

pub const AGENTS: [Agent; 7] = [
    Agent {
        name: "commander",
        display_name: "Commander",
        mode: AgentMode::Primary,
        description: "Autonomous mission control: triages, plans with the Architect, delegates and verifies until the mission is complete.",
    },
    Agent {
        name: "architect",
        display_name: "Architect",
        mode: AgentMode::Subagent,
        description: "Planner: decomposes a mission into a task hierarchy with dependencies and parallel groups.",
    },
    Agent {
        name: "builder",
        display_name: "Builder",
        mode: AgentMode::Subagent,
        description: "Developer: implements code changes across the stack.",
    },
    Agent {
        name: "inspector",
        display_name: "Inspector",
        mode: AgentMode::Subagent,
        description: "Quality: audits finished work, runs builds and tests, answers PASS or FAIL with evidence.",
    },
    Agent {
        name: "recorder",
        display_name: "Recorder",
        mode: AgentMode::Subagent,
        description: "Context: keeps the mission journal and progress summary.",
    },
    Agent {
        name: "librarian",
        display_name: "Librarian",
        mode: AgentMode::Subagent,
        description: "Research: finds documentation and API references before code is written.",
    },
    Agent {
        name: "researcher",
        display_name: "Researcher",
        mode: AgentMode::Subagent,
        description: "Investigation: analyses the codebase and the problem before a task starts.",
    },
];

/// Finds an agent by name, ignoring case ("Builder" and "builder" are the same agent).
pub fn find(name: &str) -> Option<&'static Agent> {
    let name = name.trim();
    AGENTS.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The agents a task may be delegated to.
pub fn delegable() -> impl Iterator<Item = &'static Agent> {
    AGENTS.iter().filter(|a| a.mode == AgentMode::Subagent)
}

pub fn delegable_names() -> String {
    delegable().map(|a| a.name).collect::<Vec<_>>().join(", ")
}
