//! `orchestrator/opencode/event` (client to server notification): an OpenCode bus event the
//! plugin forwards from its `event` hook, for the bridge transport.

use serde::Deserialize;
use serde_json::Value;

use crate::server::lsp::Session;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub event: Value,
}

pub async fn handle(session: &Session, params: Value) {
    let Ok(p) = serde_json::from_value::<Params>(params) else {
        tracing::warn!("ignored a malformed orchestrator/opencode/event notification");
        return;
    };
    if let Some(bridge) = session.connection().bridge.get() {
        bridge.push_event(p.event);
    }
}
