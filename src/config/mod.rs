//! Configuration: defaults, then the user config file, then the workspace file, then the
//! client's `initializationOptions.config`. Every layer is a partial JSON object merged key by
//! key; the result is validated once, and a bad value is an error naming its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod daemon;
mod missions;
mod web;
pub use daemon::DaemonConfig;
pub use missions::{Budgets, MissionsConfig};
pub use web::{CodeSearchConfig, SearchProvider, WebConfig, WebSearchConfig};

/// The workspace config file, relative to the workspace root.
pub const WORKSPACE_CONFIG: &str = ".opencode/orchestrator.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[schemars(title = "opencode-orchestrator configuration")]
pub struct Config {
    pub scheduler: SchedulerConfig,
    pub ledger: LedgerConfig,
    pub events: EventsConfig,
    pub transport: TransportConfig,
    pub log: LogConfig,
    pub recovery: RecoveryConfig,
    pub opencode: OpencodeConfig,
    /// The search tools (grep_search, glob_search, mgrep).
    pub tools: ToolsConfig,
    /// Background jobs (`run_background` and friends).
    pub jobs: JobsConfig,
    /// The web tools (webfetch, cache_docs, websearch, codesearch).
    pub web: WebConfig,
    /// Missions (`/task`): loop breakers, budgets, verification.
    pub missions: MissionsConfig,
    /// The per-workspace daemon.
    pub daemon: DaemonConfig,
    /// Which agent runtime runs delegated tasks. `scripted` is the in-process runtime used by
    /// tests and benchmarks: it answers each prompt from a script carried in the prompt itself.
    pub backend: BackendKind,
}

/// Retrying a task whose session failed with a passing error (rate limits, overload, 5xx).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// Retries per task after a retryable error (0-20).
    pub max_retries: u32,
    /// First backoff; doubled each retry, with up to 50% random jitter (1-600000).
    pub base_delay_ms: u64,
    /// Longest backoff (1-3600000).
    pub max_delay_ms: u64,
    /// Case-insensitive fragments of an error message that make it retryable, on top of the
    /// rate-limit and overload errors that always are.
    pub retry_on: Vec<String>,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay_ms: 2_000,
            max_delay_ms: 60_000,
            retry_on: [
                "429",
                "rate limit",
                "overloaded",
                "500",
                "502",
                "503",
                "504",
                "timeout",
                "timed out",
                "econnreset",
                "socket hang up",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }
}

/// Background jobs: shell commands run by `run_background`, each in its own process group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Timeout of a job that names none, in milliseconds; capped at `maxTimeoutMs`
    /// (100-604800000).
    pub default_timeout_ms: u64,
    /// Longest `timeoutMs` a job may ask for (100-604800000, i.e. 7 days).
    pub max_timeout_ms: u64,
    /// Jobs running at once; one more is refused (1-256).
    pub max_running: usize,
    /// Milliseconds between SIGTERM and SIGKILL when a job's process group is stopped (0-60000).
    pub kill_grace_ms: u64,
    /// Longest output line kept in memory, in bytes; longer lines are cut there (the log file
    /// keeps them whole) (80-1048576).
    pub max_line_bytes: usize,
    /// Output kept in memory per stream of a job, in bytes; older lines are then read from the
    /// log file (4096-67108864).
    pub memory_bytes: usize,
    /// Largest log file per stream of a job, in bytes; later output is not saved (1024-17179869184).
    pub max_log_bytes: u64,
    /// Finished jobs whose records and logs are kept; older ones are deleted (1-10000).
    pub keep_finished: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            default_timeout_ms: 30 * 60 * 1000,
            max_timeout_ms: 24 * 60 * 60 * 1000,
            max_running: 16,
            kill_grace_ms: 2_000,
            max_line_bytes: 4096,
            memory_bytes: 1 << 20,
            max_log_bytes: 64 << 20,
            keep_finished: 100,
        }
    }
}

impl JobsConfig {
    /// The range checks, as (key, message) of the first failure.
    fn check(&self) -> Result<(), (String, String)> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err((
                    format!("jobs.{key}"),
                    format!("must be between {lo} and {hi}, got {v}"),
                ))
            } else {
                Ok(())
            }
        };
        range("maxTimeoutMs", self.max_timeout_ms, 100, 604_800_000)?;
        range(
            "defaultTimeoutMs",
            self.default_timeout_ms,
            100,
            604_800_000,
        )?;
        range("maxRunning", self.max_running as u64, 1, 256)?;
        range("killGraceMs", self.kill_grace_ms, 0, 60_000)?;
        range("maxLineBytes", self.max_line_bytes as u64, 80, 1 << 20)?;
        range("memoryBytes", self.memory_bytes as u64, 4096, 64 << 20)?;
        range("maxLogBytes", self.max_log_bytes, 1024, 16 << 30)?;
        range("keepFinished", self.keep_finished as u64, 1, 10_000)
    }
}

/// The OpenCode side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OpencodeConfig {
    /// OpenCode's server URL when the client does not give one (`initializationOptions.opencodeUrl` wins).
    pub url: Option<String>,
    /// Minutes a finished child session is kept before it is deleted; 0 keeps them (0-10080).
    pub retention_minutes: u64,
    /// The workspace's daemon starts `opencode serve` itself when a client (VS Code) connects
    /// and no OpenCode can be reached otherwise; it stops it when the daemon leaves.
    pub auto_start: bool,
    /// The OpenCode program the daemon starts.
    pub bin: String,
}

impl Default for OpencodeConfig {
    fn default() -> Self {
        Self {
            url: None,
            retention_minutes: 0,
            auto_start: true,
            bin: "opencode".into(),
        }
    }
}

/// Limits of the tools agents call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Directories outside the workspace that the search tools (grep_search, glob_search,
    /// mgrep) may read; absolute paths. Everything else outside the workspace is refused.
    pub extra_roots: Vec<PathBuf>,
    /// Files larger than this many bytes are skipped (and counted) by grep_search and mgrep
    /// (1-1073741824).
    pub max_file_bytes: u64,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            extra_roots: Vec::new(),
            max_file_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum BackendKind {
    /// OpenCode: its HTTP server when a URL answers, else the bridge through the OpenCode plugin.
    #[default]
    Opencode,
    /// The scripted in-process runtime (tests, benchmarks).
    Scripted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Tasks running at once, across all agents (1-500).
    pub max_concurrent: usize,
    /// Tasks running at once for one agent (1-500).
    pub max_per_agent: usize,
    /// Optional caps per model id ("provider/model"), each 1-500.
    pub max_per_model: BTreeMap<String, usize>,
    /// Tasks that may wait for a slot; one more is refused (1-100000).
    pub queue_capacity: usize,
    /// Longest parent chain: a task of depth `maxDepth` may not delegate further (1-10).
    pub max_depth: u32,
    /// Minutes a task may run before it is stopped as `timed_out` (1-1440).
    pub task_ttl_minutes: u64,
    /// Upper bound for `waitMs` on requests that wait for a task (0-60000).
    pub max_wait_ms: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 50,
            max_per_agent: 10,
            max_per_model: BTreeMap::new(),
            queue_capacity: 1000,
            max_depth: 3,
            task_ttl_minutes: 60,
            max_wait_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// The SQLite file; relative paths are taken from the workspace root.
    /// Default: `.opencode/orchestrator/state.db`.
    pub path: Option<PathBuf>,
    /// Tasks kept in memory; older finished ones are read back from SQLite (10-1000000).
    pub hot_tasks: usize,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            path: None,
            hot_tasks: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Newest events kept in memory for replay; all are in SQLite (0-100000).
    pub memory: usize,
    /// Events one client may fall behind before it loses some and must replay (16-1000000).
    pub client_queue: usize,
    /// Undelivered notices kept per parent session; the oldest is evicted first (1-10000).
    pub notices_per_parent: usize,
    /// Milliseconds to wait for more results before waking a parent, so results that finish
    /// together arrive in one message (0-10000).
    pub notice_batch_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            memory: 100,
            client_queue: 4096,
            notices_per_parent: 100,
            notice_batch_ms: 150,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TransportConfig {
    /// Largest accepted frame body in bytes; larger frames are refused unread (1024-1073741824).
    pub max_frame_bytes: usize,
    /// Requests and notifications handled at once per connection (1-10000).
    pub concurrency: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024 * 1024,
            concurrency: 128,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `opencode_orchestrator=debug`. `RUST_LOG` wins.
    pub level: String,
    /// The log file. Default: `<system temp dir>/opencode-orchestrator.log`.
    pub path: Option<PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            path: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {origin} is not valid JSON: {source}")]
    Json {
        origin: String,
        source: serde_json::Error,
    },
    #[error("config {origin} must be a JSON object")]
    NotAnObject { origin: String },
    #[error("config error at `{key}`: {message} (from {origin})")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

/// Where one layer of configuration came from, for error messages.
#[derive(Debug, Clone)]
pub struct Layer {
    pub origin: String,
    pub value: serde_json::Value,
}

impl Config {
    /// The user-wide config file: `<config dir>/opencode-orchestrator/config.json`.
    pub fn user_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("opencode-orchestrator").join("config.json"))
    }

    /// Reads one config file as a layer; a missing file is no layer.
    pub fn read_layer(path: &Path) -> Result<Option<Layer>, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let origin = path.display().to_string();
        let value = serde_json::from_str(&text).map_err(|source| ConfigError::Json {
            origin: origin.clone(),
            source,
        })?;
        Ok(Some(Layer { origin, value }))
    }

    /// Loads user file, workspace file and the given overrides, in that order of precedence.
    pub fn load(
        workspace_root: Option<&Path>,
        overrides: Option<serde_json::Value>,
    ) -> Result<Config, ConfigError> {
        let mut layers = Vec::new();
        if let Some(path) = Self::user_path() {
            layers.extend(Self::read_layer(&path)?);
        }
        if let Some(root) = workspace_root {
            layers.extend(Self::read_layer(&root.join(WORKSPACE_CONFIG))?);
        }
        if let Some(value) = overrides {
            layers.push(Layer {
                origin: "initializationOptions.config".into(),
                value,
            });
        }
        Self::from_layers(&layers)
    }

    /// Merges layers over the defaults and validates the result.
    pub fn from_layers(layers: &[Layer]) -> Result<Config, ConfigError> {
        let mut merged =
            serde_json::to_value(Config::default()).map_err(|source| ConfigError::Json {
                origin: "defaults".into(),
                source,
            })?;
        for layer in layers {
            if !layer.value.is_object() {
                return Err(ConfigError::NotAnObject {
                    origin: layer.origin.clone(),
                });
            }
            // Check each layer on its own so the error names the file that is wrong.
            let alone = merge(
                serde_json::to_value(Config::default()).unwrap_or_default(),
                &layer.value,
            );
            parse(&alone, &layer.origin)?.validate(&layer.origin)?;
            merged = merge(merged, &layer.value);
        }
        let config = parse(&merged, "merged configuration")?;
        config.validate("merged configuration")?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            key: key.to_string(),
            message,
        };
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err(bad(key, format!("must be between {lo} and {hi}, got {v}")))
            } else {
                Ok(())
            }
        };
        let s = &self.scheduler;
        range("scheduler.maxConcurrent", s.max_concurrent as u64, 1, 500)?;
        range("scheduler.maxPerAgent", s.max_per_agent as u64, 1, 500)?;
        for (model, cap) in &s.max_per_model {
            if model.trim().is_empty() {
                return Err(bad(
                    "scheduler.maxPerModel",
                    "model ids must not be empty".into(),
                ));
            }
            range(
                &format!("scheduler.maxPerModel.{model}"),
                *cap as u64,
                1,
                500,
            )?;
        }
        range(
            "scheduler.queueCapacity",
            s.queue_capacity as u64,
            1,
            100_000,
        )?;
        range("scheduler.maxDepth", u64::from(s.max_depth), 1, 10)?;
        range("scheduler.taskTtlMinutes", s.task_ttl_minutes, 1, 1440)?;
        range("scheduler.maxWaitMs", s.max_wait_ms, 0, 60_000)?;
        range(
            "ledger.hotTasks",
            self.ledger.hot_tasks as u64,
            10,
            1_000_000,
        )?;
        range("events.memory", self.events.memory as u64, 0, 100_000)?;
        range(
            "events.clientQueue",
            self.events.client_queue as u64,
            16,
            1_000_000,
        )?;
        range(
            "events.noticesPerParent",
            self.events.notices_per_parent as u64,
            1,
            10_000,
        )?;
        range(
            "transport.maxFrameBytes",
            self.transport.max_frame_bytes as u64,
            1024,
            1 << 30,
        )?;
        range(
            "transport.concurrency",
            self.transport.concurrency as u64,
            1,
            10_000,
        )?;
        range(
            "recovery.maxRetries",
            u64::from(self.recovery.max_retries),
            0,
            20,
        )?;
        range(
            "recovery.baseDelayMs",
            self.recovery.base_delay_ms,
            1,
            600_000,
        )?;
        range(
            "recovery.maxDelayMs",
            self.recovery.max_delay_ms,
            1,
            3_600_000,
        )?;
        range(
            "opencode.retentionMinutes",
            self.opencode.retention_minutes,
            0,
            10_080,
        )?;
        if let Err((key, message)) = self.jobs.check() {
            return Err(bad(&key, message));
        }
        range("daemon.idleSeconds", self.daemon.idle_seconds, 1, 86_400)?;
        if let Err((key, message)) = self.missions.check() {
            return Err(bad(&key, message));
        }
        if let Err((key, message)) = self.web.check() {
            return Err(bad(&key, message));
        }
        range("tools.maxFileBytes", self.tools.max_file_bytes, 1, 1 << 30)?;
        if let Some(root) = self.tools.extra_roots.iter().find(|r| !r.is_absolute()) {
            return Err(bad(
                "tools.extraRoots",
                format!("must be absolute paths, got `{}`", root.display()),
            ));
        }
        if let Some(url) = &self.opencode.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(bad(
                "opencode.url",
                format!("must be an http(s) URL, got `{url}`"),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(bad("log.level", format!("not a valid log filter: {e}")));
        }
        Ok(())
    }

    /// The ledger file for a workspace.
    pub fn ledger_path(&self, workspace_root: &Path) -> PathBuf {
        match &self.ledger.path {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => workspace_root.join(p),
            None => workspace_root
                .join(".opencode")
                .join("orchestrator")
                .join("state.db"),
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.log.path.clone().unwrap_or_else(default_log_path)
    }

    pub fn task_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.scheduler.task_ttl_minutes * 60)
    }

    /// The JSON Schema of the config file, as shipped in `docs/config.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
    }
}

pub fn default_log_path() -> PathBuf {
    std::env::temp_dir().join("opencode-orchestrator.log")
}

/// Objects merge key by key; anything else replaces.
fn merge(mut base: serde_json::Value, over: &serde_json::Value) -> serde_json::Value {
    match (&mut base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                let merged = match b.remove(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                b.insert(k.clone(), merged);
            }
            base
        }
        _ => over.clone(),
    }
}

fn parse(value: &serde_json::Value, origin: &str) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Invalid {
        origin: origin.to_string(),
        key: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layer(v: serde_json::Value) -> Layer {
        Layer {
            origin: "test".into(),
            value: v,
        }
    }

    #[test]
    fn defaults_match_the_documented_limits() {
        let c = Config::from_layers(&[]).unwrap();
        assert_eq!(c.scheduler.max_concurrent, 50);
        assert_eq!(c.scheduler.max_per_agent, 10);
        assert_eq!(c.scheduler.queue_capacity, 1000);
        assert_eq!(c.scheduler.max_depth, 3);
        assert_eq!(c.scheduler.task_ttl_minutes, 60);
        assert_eq!(c.ledger.hot_tasks, 1000);
        assert_eq!(c.events.memory, 100);
        assert_eq!(c.events.notices_per_parent, 100);
        assert!(c.transport.concurrency >= 64);
    }

    #[test]
    fn later_layers_win_key_by_key() {
        let c = Config::from_layers(&[
            layer(json!({"scheduler": {"maxConcurrent": 20, "maxPerAgent": 4}})),
            layer(json!({"scheduler": {"maxPerAgent": 5}})),
        ])
        .unwrap();
        assert_eq!(c.scheduler.max_concurrent, 20);
        assert_eq!(c.scheduler.max_per_agent, 5);
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Config::from_layers(&[layer(json!({"scheduler": {"maxPerAgent": 0}}))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("scheduler.maxPerAgent"), "{err}");
        let err = Config::from_layers(&[layer(json!({"scheduler": {"maxPerAgnt": 3}}))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("maxPerAgnt"), "{err}");
        let err = Config::from_layers(&[layer(json!({"ledger": {"hotTasks": "many"}}))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ledger.hotTasks"), "{err}");
        let err = Config::from_layers(&[layer(json!([1]))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be a JSON object"), "{err}");
        let err = Config::from_layers(&[layer(json!({"log": {"level": "=[=="}}))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.level"), "{err}");
    }

    #[test]
    fn files_are_read_and_missing_ones_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Config::read_layer(&dir.path().join("nope.json"))
                .unwrap()
                .is_none()
        );
        let p = dir.path().join("c.json");
        std::fs::write(&p, "{not json").unwrap();
        let err = Config::read_layer(&p).unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn shipped_schema_is_current() {
        let shipped = include_str!("../../docs/config.schema.json");
        let shipped: serde_json::Value = serde_json::from_str(shipped).unwrap();
        assert_eq!(
            shipped,
            Config::json_schema(),
            "docs/config.schema.json is stale: run `cargo run -- config-schema > docs/config.schema.json`"
        );
    }
}
