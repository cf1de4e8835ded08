//! The plugin bridge as the transport: under `opencode run` no server URL answers, so the
//! server asks the OpenCode plugin (its client) to make each call with its in-process SDK
//! client (`orchestrator/opencode/call`, server to client), and the plugin forwards OpenCode's
//! bus events from its `event` hook (`orchestrator/opencode/event`, client to server).

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::broadcast;

use super::api::{ApiCall, OpencodeApi};
use crate::orchestrator::backend::BackendError;

/// A failed bridge call, as the plugin reported it.
#[derive(Debug, Clone)]
pub struct BridgeFailure {
    /// The HTTP status OpenCode answered with, when there was one.
    pub status: Option<u16>,
    pub message: String,
}

/// Sends one operation to the plugin and waits for its answer.
#[async_trait]
pub trait BridgeLink: Send + Sync + 'static {
    async fn call(&self, op: &str, params: Value) -> Result<Value, BridgeFailure>;
}

pub struct BridgeApi {
    link: Box<dyn BridgeLink>,
    events: broadcast::Sender<Value>,
}

impl BridgeApi {
    pub fn new(link: impl BridgeLink) -> Self {
        let (events, _) = broadcast::channel(16_384);
        Self {
            link: Box::new(link),
            events,
        }
    }

    /// An OpenCode bus event the plugin forwarded.
    pub fn push_event(&self, event: Value) {
        let _ = self.events.send(event);
    }
}

#[async_trait]
impl OpencodeApi for BridgeApi {
    fn transport(&self) -> &'static str {
        "bridge"
    }

    async fn call(&self, call: ApiCall) -> Result<Value, BackendError> {
        let (op, params) = call.to_bridge();
        self.link
            .call(op, params)
            .await
            .map_err(|f| match f.status {
                Some(404) => BackendError::NoSuchSession(format!("{op}: {}", f.message)),
                Some(_) => BackendError::Refused(format!("{op}: {}", f.message)),
                None => BackendError::Unavailable(format!(
                    "{op} through the OpenCode plugin: {}",
                    f.message
                )),
            })
    }

    fn events(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }
}
