//! `orchestrator/agents/list`: the seven agents, each in the shape of OpenCode's
//! `cfg.agent[name]` (plus its `name` and `displayName`), and the commands that go with them
//! (`/task`, `/stop`), in the shape of `cfg.command[name]` (plus its `name`).

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::orchestrator::agents::AGENTS;
use crate::orchestrator::missions::prompts;
use crate::server::errors::parse_params;
use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub async fn handle(_session: &Session, params: Value) -> Result<Value> {
    let _: Params = parse_params(params)?;
    Ok(json!({
        "agents": AGENTS,
        "commands": [
            {
                "name": "task",
                "description": "Run a mission with the Commander (`/task resume` resumes a paused or stopped one)",
                "agent": "commander",
                "template": prompts::task_command_template(),
            },
            {
                "name": "stop",
                "description": "Stop this session's mission and cancel its running tasks",
                "agent": "commander",
                "template": prompts::STOP_COMMAND_TEMPLATE,
            },
        ],
    }))
}
