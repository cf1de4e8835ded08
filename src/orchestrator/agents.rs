//! The seven agents: their roles, prompts, OpenCode permissions and tools, and how their names
//! are matched.
//!
//! Prompts are markdown files under `agents/prompts/`, embedded at build time. The serialized
//! form of an [`Agent`] is what `orchestrator/agents/list` returns: every field but `name` and
//! `displayName` goes straight into OpenCode's `cfg.agent[name]` (docs/AGENTS.md).

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentMode {
    /// Talks to the user; runs missions.
    Primary,
    /// Runs delegated tasks in child sessions.
    Subagent,
}

/// One OpenCode permission outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Ask,
    Deny,
}

/// A permission rule: one action for every use, or actions per pattern (for `bash`, the
/// command). OpenCode applies the last matching pattern, so the catch-all `*` comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Always(Action),
    Patterns(&'static [(&'static str, Action)]),
}

impl Rule {
    /// The action for a use no specific pattern matches.
    pub fn default_action(&self) -> Action {
        match self {
            Rule::Always(a) => *a,
            Rule::Patterns(p) => p
                .iter()
                .rev()
                .find(|(pat, _)| *pat == "*")
                .map_or(Action::Ask, |(_, a)| *a),
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rule::Always(a) => a.serialize(s),
            Rule::Patterns(p) => {
                let mut map = s.serialize_map(Some(p.len()))?;
                for (pattern, action) in p.iter() {
                    map.serialize_entry(pattern, action)?;
                }
                map.end()
            }
        }
    }
}

/// An agent's permissions, in the shape of OpenCode's `agent.<name>.permission` config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// Every file change: OpenCode's edit, write and patch tools.
    pub edit: Rule,
    /// Shell commands, matched by command pattern.
    pub bash: Rule,
    /// OpenCode's webfetch tool.
    pub webfetch: Action,
    /// OpenCode's websearch tool (when the OpenCode setup provides one).
    pub websearch: Action,
    /// OpenCode's own `task` tool, which starts subagents outside the orchestrator.
    pub task: Action,
    /// Tool calls that touch paths outside the workspace.
    pub external_directory: Action,
    /// The same tool call repeated three times with the same input.
    pub doom_loop: Action,
}

/// The orchestrator's task tools, as named in the tool registry.
pub const TASK_TOOLS: [&str; 4] = [
    "delegate_task",
    "get_task_result",
    "list_tasks",
    "cancel_task",
];

/// For agents that read other tasks' results but hand no work on.
const READ_TASKS: &[&str] = &["get_task_result", "list_tasks"];
const NO_TOOLS: &[&str] = &[];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    /// The id used in OpenCode's config and in `delegate_task`.
    pub name: &'static str,
    pub display_name: &'static str,
    pub mode: AgentMode,
    /// Hidden agents are left out of OpenCode's `@` menu; they run delegated tasks.
    pub hidden: bool,
    /// One line: what the agent is for and when to delegate to it.
    pub description: &'static str,
    /// The system prompt (markdown).
    pub prompt: &'static str,
    pub permission: Permission,
    /// `provider/model`; `None` uses OpenCode's default model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'static str>,
    /// The orchestrator tools this agent may call; serialized as OpenCode's `tools` map
    /// (`{name: bool}` over every task tool).
    #[serde(serialize_with = "tools_map")]
    pub tools: &'static [&'static str],
}

fn tools_map<S: Serializer>(tools: &&'static [&'static str], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(TASK_TOOLS.len()))?;
    for name in TASK_TOOLS {
        map.serialize_entry(name, &tools.contains(&name))?;
    }
    map.end()
}

impl Agent {
    /// Whether the agent may change files.
    pub fn can_edit(&self) -> bool {
        self.permission.edit.default_action() != Action::Deny
    }

    /// Whether the agent runs shell commands without asking (patterns aside).
    pub fn runs_commands(&self) -> bool {
        self.permission.bash.default_action() == Action::Allow
    }

    /// Whether the agent may call this orchestrator tool.
    pub fn may_use(&self, tool: &str) -> bool {
        self.tools.contains(&tool)
    }
}

/// Version-control commands that move or discard the shared working tree. Several subagents
/// work in one tree at once, so these are left to the user and the Commander.
const UNATTENDED_BASH: &[(&str, Action)] = &[
    ("*", Action::Allow),
    ("git checkout*", Action::Deny),
    ("git clean*", Action::Deny),
    ("git commit*", Action::Deny),
    ("git push*", Action::Deny),
    ("git rebase*", Action::Deny),
    ("git reset*", Action::Deny),
    ("git restore*", Action::Deny),
    ("git stash*", Action::Deny),
    ("git switch*", Action::Deny),
];

/// The Commander asks before any command except ones that only read the repository's state.
const COMMANDER_BASH: &[(&str, Action)] = &[
    ("*", Action::Ask),
    ("git diff*", Action::Allow),
    ("git log*", Action::Allow),
    ("git show*", Action::Allow),
    ("git status*", Action::Allow),
];

/// Subagents run unattended in background child sessions, where an `ask` would stall the task
/// until its TTL: every subagent permission is `allow` or `deny`.
const READ_ONLY: Permission = Permission {
    edit: Rule::Always(Action::Deny),
    bash: Rule::Always(Action::Deny),
    webfetch: Action::Allow,
    websearch: Action::Allow,
    task: Action::Deny,
    external_directory: Action::Deny,
    doom_loop: Action::Deny,
};

pub static AGENTS: [Agent; 7] = [
    Agent {
        name: "commander",
        display_name: "Commander",
        mode: AgentMode::Primary,
        hidden: false,
        description: "Mission control: triages a mission, does small ones itself, has the Architect plan larger ones, starts the plan in parallel and decides on failures until the Inspector passes the work.",
        prompt: include_str!("agents/prompts/commander.md"),
        permission: Permission {
            edit: Rule::Always(Action::Allow),
            bash: Rule::Patterns(COMMANDER_BASH),
            webfetch: Action::Allow,
            websearch: Action::Allow,
            task: Action::Deny,
            external_directory: Action::Ask,
            doom_loop: Action::Ask,
        },
        model: None,
        tools: &TASK_TOOLS,
    },
    Agent {
        name: "architect",
        display_name: "Architect",
        mode: AgentMode::Subagent,
        hidden: true,
        description: "Planner: writes the mission plan with plan_edit: right-sized items with owners, dependencies that let independent items run in parallel, and acceptance criteria. Delegate to it before large or unclear work; it does not change files.",
        prompt: include_str!("agents/prompts/architect.md"),
        permission: READ_ONLY,
        model: None,
        tools: &TASK_TOOLS,
    },
    Agent {
        name: "builder",
        display_name: "Builder",
        mode: AgentMode::Subagent,
        hidden: true,
        description: "Developer: implements one well-defined code change (edits files, runs the build and the relevant tests) and reports what it changed. Delegate every implementation piece to it.",
        prompt: include_str!("agents/prompts/builder.md"),
        permission: Permission {
            edit: Rule::Always(Action::Allow),
            bash: Rule::Patterns(UNATTENDED_BASH),
            ..READ_ONLY
        },
        model: None,
        tools: &TASK_TOOLS,
    },
    Agent {
        name: "inspector",
        display_name: "Inspector",
        mode: AgentMode::Subagent,
        hidden: true,
        description: "Quality gate: reviews finished work against its requirements, runs builds, linters and tests, and answers PASS or FAIL with evidence. Delegate to it before calling any change done; it does not edit files.",
        prompt: include_str!("agents/prompts/inspector.md"),
        permission: Permission {
            bash: Rule::Patterns(UNATTENDED_BASH),
            ..READ_ONLY
        },
        model: None,
        tools: READ_TASKS,
    },
    Agent {
        name: "recorder",
        display_name: "Recorder",
        mode: AgentMode::Subagent,
        hidden: true,
        description: "Record keeper: condenses task results and the mission's state into a progress summary (done, in progress, open questions, next steps). Delegate to it when a long mission needs its state written down.",
        prompt: include_str!("agents/prompts/recorder.md"),
        permission: Permission {
            webfetch: Action::Deny,
            websearch: Action::Deny,
            ..READ_ONLY
        },
        model: None,
        tools: READ_TASKS,
    },
    Agent {
        name: "librarian",
        display_name: "Librarian",
        mode: AgentMode::Subagent,
        hidden: true,
        description: "Documentation research: finds the official docs, API references and versions for a library or tool before code is written, and returns cited facts. Delegate to it whenever an API is unfamiliar or version-sensitive.",
        prompt: include_str!("agents/prompts/librarian.md"),
        permission: READ_ONLY,
        model: None,
        tools: NO_TOOLS,
    },
    Agent {
        name: "researcher",
        display_name: "Researcher",
        mode: AgentMode::Subagent,
        hidden: true,
        description: "Investigation: studies the codebase and the problem before work starts (where things live, how they connect, likely causes, risks) and reports findings with file references. Delegate to it before changing unfamiliar code or chasing a bug.",
        prompt: include_str!("agents/prompts/researcher.md"),
        permission: READ_ONLY,
        model: None,
        tools: &TASK_TOOLS,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_ignores_case_and_spaces() {
        for name in ["builder", "Builder", "BUILDER", " bUiLdEr\n"] {
            assert_eq!(find(name).map(|a| a.name), Some("builder"), "{name:?}");
        }
        assert_eq!(find("Commander").unwrap().mode, AgentMode::Primary);
        assert!(find("build").is_none());
        assert!(find("").is_none());
    }

    #[test]
    fn delegable_is_the_six_subagents() {
        assert_eq!(
            delegable_names(),
            "architect, builder, inspector, recorder, librarian, researcher"
        );
        assert!(delegable().all(|a| a.hidden));
    }

    #[test]
    fn names_are_lowercase_ids() {
        for a in &AGENTS {
            assert!(
                a.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_'),
                "{}",
                a.name
            );
            assert!(a.display_name.eq_ignore_ascii_case(a.name));
            assert!(!a.description.contains('\n'), "{}: one line", a.name);
        }
    }

    /// Every file in `agents/prompts/` is some agent's prompt, and every agent has one.
    #[test]
    fn every_prompt_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/orchestrator/agents/prompts");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("prompts folder") {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let agent =
                find(&stem).unwrap_or_else(|| panic!("{} belongs to no agent", path.display()));
            assert_eq!(
                agent.prompt,
                text,
                "{} is not the embedded prompt",
                path.display()
            );
            files += 1;
        }
        assert_eq!(files, AGENTS.len());
    }

    #[test]
    fn prompts_are_real_prompts() {
        for a in &AGENTS {
            let lines = a.prompt.lines().count();
            assert!((25..=80).contains(&lines), "{}: {lines} lines", a.name);
            assert!(
                a.prompt.starts_with(&format!("# {}", a.display_name)),
                "{}",
                a.name
            );
            for tool in a.tools {
                assert!(
                    a.prompt.contains(tool),
                    "{} prompt does not explain {tool}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn permissions_follow_the_policy() {
        for a in &AGENTS {
            let read_only = matches!(
                a.name,
                "architect" | "inspector" | "recorder" | "librarian" | "researcher"
            );
            assert_eq!(a.can_edit(), !read_only, "{}", a.name);
            let runs = matches!(a.name, "builder" | "inspector");
            assert_eq!(a.runs_commands(), runs, "{}", a.name);
            assert_eq!(a.permission.task, Action::Deny, "{}", a.name);
            if a.mode == AgentMode::Subagent {
                // Nobody answers a permission question in a background child session.
                let json = serde_json::to_string(&a.permission).unwrap();
                assert!(!json.contains("\"ask\""), "{}: {json}", a.name);
            }
        }
    }

    #[test]
    fn serializes_in_opencode_shape() {
        let v = serde_json::to_value(find("builder").unwrap()).unwrap();
        assert_eq!(v["displayName"], "Builder");
        assert_eq!(v["mode"], "subagent");
        assert_eq!(v["hidden"], true);
        assert_eq!(v["permission"]["edit"], "allow");
        assert_eq!(v["permission"]["bash"]["*"], "allow");
        assert_eq!(v["permission"]["bash"]["git push*"], "deny");
        assert!(v.get("model").is_none());
        assert_eq!(v["tools"]["delegate_task"], true);
        let text = serde_json::to_string(&find("commander").unwrap().permission).unwrap();
        assert!(
            text.contains(r#""bash":{"*":"ask","#),
            "catch-all first: {text}"
        );
        let v = serde_json::to_value(find("librarian").unwrap()).unwrap();
        assert_eq!(v["tools"]["delegate_task"], false);
        assert_eq!(v["permission"]["bash"], "deny");
    }
}
