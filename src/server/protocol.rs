//! Protocol constants: version, method names and error codes (see docs/PROTOCOL.md).

use serde_json::{Value, json};

/// Bumped on any incompatible change to the `orchestrator/...` methods.
pub const PROTOCOL_VERSION: u32 = 1;

/// Every custom request method, as advertised in `initialize`.
pub const METHODS: &[&str] = &[
    "orchestrator/mission/start",
    "orchestrator/mission/get",
    "orchestrator/mission/list",
    "orchestrator/mission/cancel",
    "orchestrator/mission/resume",
    "orchestrator/task/delegate",
    "orchestrator/task/get",
    "orchestrator/task/list",
    "orchestrator/task/cancel",
    "orchestrator/tools/list",
    "orchestrator/tools/call",
    "orchestrator/events/replay",
    "orchestrator/stats",
    "orchestrator/agents/list",
];

/// Server-to-client notifications.
pub const EVENT_NOTIFICATION: &str = "orchestrator/event";
pub const EVENTS_DROPPED_NOTIFICATION: &str = "orchestrator/eventsDropped";

/// Application error codes (JSON-RPC reserves -32000..-32099 for servers; LSP uses -32001,
/// -32002 and -32800..-32803, which we avoid).
pub mod codes {
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const QUEUE_FULL: i64 = -32010;
    pub const DEPTH_LIMIT: i64 = -32011;
    pub const TASK_NOT_FOUND: i64 = -32012;
    pub const TASK_CONFLICT: i64 = -32013;
    pub const BACKEND_UNAVAILABLE: i64 = -32014;
    pub const SHUTTING_DOWN: i64 = -32015;
    pub const TOOL_FAILED: i64 = -32016;
    pub const MISSION_NOT_FOUND: i64 = -32017;
    pub const MISSION_CONFLICT: i64 = -32018;
}

/// The `capabilities.experimental.orchestrator` block of the `initialize` result.
pub fn capability(tools: &[&str]) -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "methods": METHODS,
        "notifications": [EVENT_NOTIFICATION, EVENTS_DROPPED_NOTIFICATION],
        "tools": tools,
    })
}

/// A JSON-RPC notification as text.
pub fn notification(method: &str, params: &impl serde::Serialize) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
}
