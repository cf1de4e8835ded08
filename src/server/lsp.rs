//! One client's LSP session: the lifecycle (`initialize`, `initialized`, `shutdown`) and the
//! routing of `orchestrator/...` methods to their handlers in `methods/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Deserialize;
use tokio::sync::{OnceCell, watch};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::lsp_types::{
    InitializeParams, InitializeResult, InitializedParams, ServerCapabilities, ServerInfo,
};
use tower_lsp_server::{LanguageServer, LspService, LspServiceBuilder};

use super::bridge::ClientLink;
use super::errors::invalid_params;
use super::{methods, protocol};
use crate::config::{BackendKind, Config};
use crate::orchestrator::backend::SessionBackend;
use crate::orchestrator::backend::opencode::{BridgeApi, HttpApi, OpencodeBackend};
use crate::orchestrator::backend::scripted::ScriptedBackend;
use crate::orchestrator::{OpenParams, Orchestrator};
use crate::tools::ToolRegistry;

/// Where a connection gets its orchestrator from.
#[derive(Clone)]
pub enum CoreSource {
    /// Open one at `initialize` for the workspace the client names, and shut it down when the
    /// connection ends. `backend` replaces the runtime the config would choose (tests).
    OnInitialize {
        backend: Option<Arc<dyn SessionBackend>>,
    },
    /// Share an orchestrator that is already open: several clients, one scheduler.
    Shared(Orchestrator),
    /// A client of the workspace's daemon (`client` is its connection id): the daemon's
    /// orchestrator, whose agent runtime this client may provide.
    Daemon {
        core: Arc<crate::daemon::DaemonCore>,
        client: u64,
    },
}

/// `initializationOptions` of `initialize`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InitOptions {
    workspace_root: Option<PathBuf>,
    opencode_url: Option<String>,
    client_name: Option<String>,
    config: Option<serde_json::Value>,
    /// The client can carry OpenCode calls (`orchestrator/opencode/call`) and forwards
    /// OpenCode's events (`orchestrator/opencode/event`): the OpenCode plugin does.
    bridge: Option<bool>,
}

/// State of one connection, shared by its handlers and its transport loop.
pub struct Connection {
    pub(super) source: CoreSource,
    pub(super) orchestrator: OnceCell<Orchestrator>,
    pub(super) tools: Arc<ToolRegistry>,
    pub(super) shutdown_requested: AtomicBool,
    /// Set once the client said `initialized`: events flow from then on.
    pub(super) initialized: watch::Sender<bool>,
    pub(super) dropped_events: AtomicU64,
    pub(super) client_name: parking_lot::Mutex<Option<String>>,
    pub(super) opencode_url: parking_lot::Mutex<Option<String>>,
    /// Frames to write to this client.
    pub(super) out: Arc<super::output::Output>,
    /// Whether this connection opened its orchestrator (and so must close it).
    pub(super) owns_orchestrator: AtomicBool,
    /// The OpenCode bridge through this client, when the orchestrator uses it.
    pub(super) bridge: OnceCell<Arc<BridgeApi>>,
    /// Transport settings from the workspace config, for the transport loop to apply.
    pub(super) transport_update: parking_lot::Mutex<Option<crate::config::TransportConfig>>,
    /// Cancelled when the connection ends: its background tasks stop with it.
    pub(super) closed: tokio_util::sync::CancellationToken,
}

impl Connection {
    pub fn new(
        source: CoreSource,
        tools: Arc<ToolRegistry>,
        out: Arc<super::output::Output>,
    ) -> Self {
        Self {
            source,
            orchestrator: OnceCell::new(),
            tools,
            shutdown_requested: AtomicBool::new(false),
            initialized: watch::channel(false).0,
            dropped_events: AtomicU64::new(0),
            client_name: parking_lot::Mutex::new(None),
            opencode_url: parking_lot::Mutex::new(None),
            out,
            owns_orchestrator: AtomicBool::new(false),
            transport_update: parking_lot::Mutex::new(None),
            bridge: OnceCell::new(),
            closed: tokio_util::sync::CancellationToken::new(),
        }
    }
}

/// The tower-lsp server object for one connection.
pub struct Session {
    pub(super) conn: Arc<Connection>,
    /// Server-to-client requests (the OpenCode bridge).
    client: tower_lsp_server::Client,
}

impl Session {
    /// The orchestrator; tower-lsp only routes custom methods after a successful `initialize`.
    pub(super) fn orchestrator(&self) -> Result<&Orchestrator> {
        self.conn
            .orchestrator
            .get()
            .ok_or_else(Error::invalid_request)
    }

    pub(super) fn connection(&self) -> &Connection {
        &self.conn
    }

    async fn open_orchestrator(&self, opts: &InitOptions, root: PathBuf) -> Result<Orchestrator> {
        match &self.conn.source {
            CoreSource::Shared(orch) => {
                if opts.config.is_some() {
                    tracing::warn!(
                        "initializationOptions.config ignored: this orchestrator is shared and already configured"
                    );
                }
                Ok(orch.clone())
            }
            CoreSource::Daemon { core, client } => {
                let same = root.canonicalize().ok() == core.workspace_root.canonicalize().ok();
                if !same {
                    return Err(invalid_params(format!(
                        "this daemon serves {}, not {}; connect through `opencode-orchestrator serve`",
                        core.workspace_root.display(),
                        root.display()
                    )));
                }
                if opts.config.is_some() {
                    tracing::warn!(
                        "initializationOptions.config ignored: the workspace's daemon is shared; \
                         set it in .opencode/orchestrator.json"
                    );
                }
                let bridge = (opts.bridge == Some(true)).then(|| self.bridge());
                core.offer(*client, opts.opencode_url.clone(), bridge).await;
                Ok(core.orchestrator.clone())
            }
            CoreSource::OnInitialize { backend } => {
                let config = Config::load(Some(&root), opts.config.clone())
                    .map_err(|e| invalid_params(e.to_string()))?;
                crate::logging::set_level(&config.log.level);
                *self.conn.transport_update.lock() = Some(config.transport.clone());
                let backend: std::result::Result<Arc<dyn SessionBackend>, String> = match backend {
                    Some(b) => Ok(b.clone()),
                    None => match config.backend {
                        BackendKind::Scripted => Ok(Arc::new(ScriptedBackend::new().0)),
                        BackendKind::Opencode => self.opencode_backend(opts, &config, &root).await,
                    },
                };
                let orch = Orchestrator::open(OpenParams {
                    workspace_root: root,
                    config,
                    backend,
                })
                .await
                .map_err(|e| Error {
                    code: tower_lsp_server::jsonrpc::ErrorCode::InternalError,
                    message: format!("cannot open the orchestrator: {e}").into(),
                    data: None,
                })?;
                self.conn.owns_orchestrator.store(true, Ordering::SeqCst);
                Ok(orch)
            }
        }
    }
}

impl Session {
    /// This connection's bridge to OpenCode through its client (the plugin), made once.
    fn bridge(&self) -> Arc<BridgeApi> {
        if let Some(api) = self.conn.bridge.get() {
            return api.clone();
        }
        let api = Arc::new(BridgeApi::new(ClientLink {
            client: self.client.clone(),
        }));
        // `initialize` runs once at a time per connection: nothing else sets it meanwhile.
        let _ = self.conn.bridge.set(api.clone());
        api
    }

    /// OpenCode over HTTP when its server answers, else over the plugin bridge when the client
    /// offers one.
    async fn opencode_backend(
        &self,
        opts: &InitOptions,
        config: &Config,
        root: &std::path::Path,
    ) -> std::result::Result<Arc<dyn SessionBackend>, String> {
        let url = opts
            .opencode_url
            .clone()
            .or_else(|| config.opencode.url.clone());
        let mut why = String::from("no OpenCode server URL was given");
        if let Some(url) = &url {
            match HttpApi::connect(url, &root.display().to_string()).await {
                Ok(api) => {
                    tracing::info!(url, "using OpenCode over HTTP");
                    return Ok(Arc::new(OpencodeBackend::new(Arc::new(api))));
                }
                Err(e) => why = e.to_string(),
            }
        }
        if opts.bridge == Some(true) {
            tracing::info!(reason = %why, "using OpenCode through the plugin bridge");
            // One bridge per connection, also when `initialize` is tried again: the plugin's
            // events feed the one stored here.
            let api = self.bridge();
            return Ok(Arc::new(OpencodeBackend::new(api)));
        }
        Err(format!(
            "no agent runtime: {why}, and this client offers no bridge to OpenCode; \
start the orchestrator from the OpenCode plugin, or give `opencodeUrl` of a running `opencode serve`"
        ))
    }
}

fn workspace_root(opts: &InitOptions, params: &InitializeParams) -> Result<PathBuf> {
    let root = if let Some(root) = &opts.workspace_root {
        root.clone()
    } else if let Some(folder) = params.workspace_folders.as_ref().and_then(|f| f.first()) {
        uri_to_path(folder.uri.as_str())?
    } else if let Some(uri) = root_uri(params) {
        uri_to_path(&uri)?
    } else {
        std::env::current_dir().map_err(|e| {
            invalid_params(format!(
                "no workspaceRoot given and the current directory is unreadable: {e}"
            ))
        })?
    };
    if !root.is_absolute() {
        return Err(invalid_params(format!(
            "initializationOptions.workspaceRoot must be an absolute path, got `{}`",
            root.display()
        )));
    }
    if !root.is_dir() {
        return Err(invalid_params(format!(
            "workspace root `{}` is not a directory",
            root.display()
        )));
    }
    Ok(root)
}

/// The deprecated `rootUri` / `rootPath` fields, which older clients still send.
#[allow(deprecated)]
fn root_uri(params: &InitializeParams) -> Option<String> {
    if let Some(uri) = &params.root_uri {
        return Some(uri.as_str().to_string());
    }
    params.root_path.as_ref().map(|p| format!("file://{p}"))
}

fn uri_to_path(uri: &str) -> Result<PathBuf> {
    super::uri::file_path(uri)
        .ok_or_else(|| invalid_params(format!("workspace folder `{uri}` is not a file:// URI")))
}

impl LanguageServer for Session {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let opts: InitOptions = match params.initialization_options.clone() {
            None | Some(serde_json::Value::Null) => InitOptions::default(),
            Some(v) => super::errors::parse_params::<InitOptions>(v).map_err(|mut e| {
                e.message = format!("initializationOptions: {}", e.message).into();
                e
            })?,
        };
        let root = workspace_root(&opts, &params)?;
        let orchestrator = self.open_orchestrator(&opts, root).await?;
        let client = opts
            .client_name
            .clone()
            .or_else(|| params.client_info.as_ref().map(|c| c.name.clone()));
        tracing::info!(client = ?client, root = %orchestrator.workspace_root().display(), "initialize");
        *self.conn.client_name.lock() = client;
        *self.conn.opencode_url.lock() = opts.opencode_url.clone();
        // Subscribe now so nothing published between here and `initialized` is missed.
        super::connection::start_event_forwarding(
            self.conn.clone(),
            orchestrator.bus().subscribe(),
        );
        let work_done_progress = params
            .capabilities
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false);
        if work_done_progress {
            super::progress::start(
                self.client.clone(),
                orchestrator.bus().subscribe(),
                self.conn.initialized.subscribe(),
                self.conn.closed.clone(),
            );
        }
        let _ = self.conn.orchestrator.set(orchestrator);

        let tools: Vec<&str> = self.conn.tools.list().iter().map(|t| t.name).collect();
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                experimental: Some(serde_json::json!({
                    "orchestrator": protocol::capability(&tools),
                })),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "opencode-orchestrator".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let _ = self.conn.initialized.send(true);
        let runtime_ready = match &self.conn.source {
            CoreSource::Daemon { core, .. } => core.slot.provider().is_some(),
            _ => self.conn.owns_orchestrator.load(Ordering::SeqCst),
        };
        if runtime_ready && let Some(orch) = self.conn.orchestrator.get() {
            orch.start_recovery();
        }
    }

    async fn shutdown(&self) -> Result<()> {
        self.conn.shutdown_requested.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// The tower-lsp service for one connection, with every `orchestrator/...` method.
pub fn build_service(
    conn: Arc<Connection>,
) -> (LspService<Session>, tower_lsp_server::ClientSocket) {
    let builder: LspServiceBuilder<Session> =
        LspService::build(move |client| Session { conn, client });
    builder
        .custom_method("orchestrator/mission/start", methods::mission_start::handle)
        .custom_method("orchestrator/mission/get", methods::mission_get::handle)
        .custom_method("orchestrator/mission/list", methods::mission_list::handle)
        .custom_method(
            "orchestrator/mission/cancel",
            methods::mission_cancel::handle,
        )
        .custom_method(
            "orchestrator/mission/resume",
            methods::mission_resume::handle,
        )
        .custom_method("orchestrator/task/delegate", methods::task_delegate::handle)
        .custom_method("orchestrator/task/get", methods::task_get::handle)
        .custom_method("orchestrator/task/list", methods::task_list::handle)
        .custom_method("orchestrator/task/cancel", methods::task_cancel::handle)
        .custom_method("orchestrator/tools/list", methods::tools_list::handle)
        .custom_method("orchestrator/tools/call", methods::tools_call::handle)
        .custom_method("orchestrator/events/replay", methods::events_replay::handle)
        .custom_method("orchestrator/stats", methods::stats::handle)
        .custom_method("orchestrator/agents/list", methods::agents_list::handle)
        .custom_method(
            "orchestrator/opencode/event",
            methods::opencode_event::handle,
        )
        .finish()
}
