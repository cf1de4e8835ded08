//! Command-line views that read a workspace's state without a server: `missions`.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::config::Config;
use crate::orchestrator::ledger::ReadOnlyMissions;
use crate::orchestrator::missions::model::Mission;
use crate::orchestrator::missions::view;

/// `opencode-orchestrator missions [--workspace DIR] [--json] [ID]`: the workspace's missions,
/// or one in full with its journal.
pub fn missions(
    workspace: Option<PathBuf>,
    id: Option<&str>,
    as_json: bool,
) -> Result<String, String> {
    let root = match workspace {
        Some(w) => w,
        None => std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?,
    };
    let root = root
        .canonicalize()
        .map_err(|e| format!("workspace {}: {e}", root.display()))?;
    let config = Config::load(Some(&root), None).map_err(|e| e.to_string())?;
    let ledger = ReadOnlyMissions::open(&config.ledger_path(&root)).map_err(|e| e.to_string())?;
    let decode = |body: &str, id: &str| {
        serde_json::from_str::<Mission>(body)
            .map_err(|e| format!("mission {id} cannot be read (written by a newer version?): {e}"))
    };
    match id {
        Some(id) => {
            let row = ledger
                .mission(id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no mission `{id}` in {}", root.display()))?;
            let mission = decode(&row.body, id)?;
            let journal = ledger.journal(id).map_err(|e| e.to_string())?;
            if as_json {
                return Ok(json!({"mission": view::full(&mission), "journal": journal}).to_string());
            }
            let mut out = describe(&view::summary(&mission));
            out.push_str(&format!(
                "\n\n{}",
                crate::orchestrator::plan::render::todo_markdown(
                    &mission.plan,
                    &mission.goal,
                    &mission.level.map(|l| format!("{l:?}")).unwrap_or_default(),
                )
            ));
            out.push_str("\nJournal:\n");
            for entry in journal {
                out.push_str(&format!(
                    "  {} {:>9} {}\n",
                    entry.time, entry.kind, entry.text
                ));
            }
            Ok(out)
        }
        None => {
            let rows = ledger.missions(1000).map_err(|e| e.to_string())?;
            let summaries: Vec<Value> = rows
                .iter()
                .filter_map(|r| decode(&r.body, &r.id).ok())
                .map(|m| view::summary(&m))
                .collect();
            if as_json {
                return Ok(json!({"missions": summaries}).to_string());
            }
            if summaries.is_empty() {
                return Ok(format!("No missions in {}.", root.display()));
            }
            Ok(summaries
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

fn describe(m: &Value) -> String {
    let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
    let mut line = format!(
        "{} {:<9} {:<3} {:<24} {}",
        s("missionId"),
        s("status"),
        m["level"].as_str().unwrap_or("-"),
        m["progress"]["line"].as_str().unwrap_or(""),
        s("goal")
    );
    if let Some(reason) = m["reason"].as_str() {
        line.push_str(&format!("\n    {reason}"));
    }
    line
}
