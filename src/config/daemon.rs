//! The per-workspace daemon that `serve` connects clients to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Seconds the daemon stays up with no client and no queued or running work (1-86400).
    pub idle_seconds: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self { idle_seconds: 300 }
    }
}
