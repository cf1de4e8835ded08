//! What the daemon's connections share: one orchestrator for the workspace, and the slot its
//! agent runtime is plugged into by whichever client can reach OpenCode.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::opencode_serve::ManagedOpencode;

use crate::config::Config;
use crate::orchestrator::Orchestrator;
use crate::orchestrator::backend::SessionBackend;
use crate::orchestrator::backend::opencode::{BridgeApi, HttpApi, OpencodeBackend, is_healthy};
use crate::orchestrator::backend::slot::{BackendSlot, Provider};

pub struct DaemonCore {
    pub workspace_root: PathBuf,
    pub config: Config,
    pub orchestrator: Orchestrator,
    pub slot: Arc<BackendSlot>,
    /// Clients connected now.
    pub clients: AtomicUsize,
    next_client: AtomicU64,
    /// Connections that offered the OpenCode bridge, oldest first: if the one in use goes
    /// away, the next takes over.
    bridges: Mutex<Vec<(u64, Arc<BridgeApi>)>>,
    /// The OpenCode this daemon started, if any; one start at a time.
    opencode: tokio::sync::Mutex<Option<ManagedOpencode>>,
    /// Clients that are that OpenCode's own plugin: they do not keep the daemon up.
    managed_clients: Mutex<Vec<u64>>,
    /// One look for a runtime at a time (offers and departures can come together).
    filling: tokio::sync::Mutex<()>,
    /// When it started OpenCode lately (to give up on one that cannot stay up).
    starts: Mutex<Vec<std::time::Instant>>,
}

/// At most this many OpenCode starts in [`RESTART_WINDOW`].
const MAX_STARTS: usize = 3;
const RESTART_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

impl DaemonCore {
    pub fn new(
        workspace_root: PathBuf,
        config: Config,
        orchestrator: Orchestrator,
        slot: Arc<BackendSlot>,
    ) -> Self {
        Self {
            workspace_root,
            config,
            orchestrator,
            slot,
            clients: AtomicUsize::new(0),
            next_client: AtomicU64::new(1),
            bridges: Mutex::new(Vec::new()),
            opencode: tokio::sync::Mutex::new(None),
            managed_clients: Mutex::new(Vec::new()),
            filling: tokio::sync::Mutex::new(()),
            starts: Mutex::new(Vec::new()),
        }
    }

    /// Clients that keep the daemon up: everyone but the plugin of an OpenCode it started.
    pub fn active_clients(&self) -> usize {
        let managed = self.managed_clients.lock().len();
        self.clients.load(Ordering::SeqCst).saturating_sub(managed)
    }

    /// Stops the OpenCode this daemon started, if any.
    pub async fn stop_opencode(&self) {
        if let Some(oc) = self.opencode.lock().await.take() {
            tracing::info!(url = oc.url, "stopping the OpenCode this daemon started");
            oc.stop().await;
        }
    }

    /// A new client connection; returns its id.
    pub fn client_joined(&self) -> u64 {
        self.clients.fetch_add(1, Ordering::SeqCst);
        self.next_client.fetch_add(1, Ordering::SeqCst)
    }

    /// A client connection ended: its bridge (if in use) is handed to another client, or,
    /// when none is left, the runtime is looked for again (the configured URL, an OpenCode of
    /// its own) for the clients still here.
    pub fn client_left(self: &Arc<Self>, client: u64) {
        self.clients.fetch_sub(1, Ordering::SeqCst);
        self.managed_clients.lock().retain(|c| *c != client);
        self.bridges.lock().retain(|(id, _)| *id != client);
        if self.slot.clear_if(&Provider::Bridge(client)) {
            tracing::info!(client, "the client whose bridge was in use left");
            self.refill();
        }
    }

    /// A client says how it reaches OpenCode.
    pub async fn offer(
        self: &Arc<Self>,
        client: u64,
        url: Option<String>,
        bridge: Option<Arc<BridgeApi>>,
    ) {
        // A daemon on the scripted runtime (tests) needs no OpenCode.
        if self.config.backend != crate::config::BackendKind::Opencode {
            return;
        }
        if let Some(api) = &bridge {
            self.bridges.lock().push((client, api.clone()));
        }
        let managed_url = self.opencode.lock().await.as_ref().map(|o| o.url.clone());
        if let (Some(url), Some(managed)) = (&url, &managed_url)
            && same_url(url, managed)
        {
            self.managed_clients.lock().push(client);
        }
        self.fill(url, Some(client)).await;
    }

    /// Fills the slot, or refills it if what fills it has stopped answering. An HTTP server
    /// that answers is preferred (it outlives any one client): the one offered, else the
    /// configured one; then a client's bridge; then an OpenCode of its own (`autoStart`).
    async fn fill(self: &Arc<Self>, offered: Option<String>, offering: Option<u64>) {
        let _one_at_a_time = self.filling.lock().await;
        if let Some(Provider::Http(current)) = self.slot.provider() {
            if offered.as_deref().is_some_and(|u| same_url(u, &current))
                || is_healthy(&current).await
            {
                return;
            }
            tracing::warn!(
                url = current,
                "the OpenCode in use no longer answers; looking for another"
            );
            self.slot.clear_if(&Provider::Http(current.clone()));
            self.forget_managed(&current).await;
        }
        if let Some(url) = offered.or_else(|| self.config.opencode.url.clone()) {
            match HttpApi::connect(&url, &self.workspace_root.display().to_string()).await {
                Ok(api) => {
                    tracing::info!(url, "the daemon reaches OpenCode over HTTP");
                    let backend: Arc<dyn SessionBackend> =
                        Arc::new(OpencodeBackend::new(Arc::new(api)));
                    self.plug(backend, Provider::Http(url));
                    return;
                }
                Err(e) => tracing::info!(url, "OpenCode does not answer over HTTP: {e}"),
            }
        }
        if self.slot.provider().is_some() {
            return; // a bridge in use
        }
        let bridge = self.bridges.lock().first().cloned();
        if let Some((client, api)) = bridge {
            tracing::info!(
                client,
                "the daemon reaches OpenCode through a client's bridge"
            );
            let backend = Arc::new(OpencodeBackend::new(api));
            if offering == Some(client) {
                // Still inside its `initialize`: the bridge carries calls once the client
                // is `initialized`, whose handler starts the waiting work.
                self.slot.set(backend, Provider::Bridge(client));
            } else {
                self.plug(backend, Provider::Bridge(client));
            }
            return;
        }
        if self.config.opencode.auto_start {
            self.start_opencode().await;
        } else {
            tracing::info!("no client can reach OpenCode, and opencode.autoStart is off");
        }
    }

    /// Puts a runtime in the slot. Work that waited for one goes on: tasks queued without a
    /// runtime start, and those a previous daemon left running are re-attached.
    fn plug(&self, backend: Arc<dyn SessionBackend>, provider: Provider) {
        self.slot.set(backend, provider);
        self.orchestrator.start_recovery();
    }

    /// Looks for a runtime again in the background, while anyone is here to use it.
    fn refill(self: &Arc<Self>) {
        if self.clients.load(Ordering::SeqCst) == 0 && !self.orchestrator.has_work() {
            return;
        }
        let core = self.clone();
        tokio::spawn(async move { core.fill(None, None).await });
    }

    /// Drops the OpenCode this daemon started if it is the one at `url`.
    async fn forget_managed(&self, url: &str) {
        let mut managed = self.opencode.lock().await;
        if managed.as_ref().is_some_and(|m| same_url(&m.url, url))
            && let Some(oc) = managed.take()
        {
            oc.stop().await;
        }
    }

    /// Starts `opencode serve` for the workspace and uses it. Restarts are limited, so an
    /// OpenCode that cannot stay up is not started again and again.
    async fn start_opencode(self: &Arc<Self>) {
        let mut managed = self.opencode.lock().await;
        if managed.is_some() || self.slot.provider().is_some() {
            return;
        }
        {
            let mut starts = self.starts.lock();
            let now = std::time::Instant::now();
            starts.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
            if starts.len() >= MAX_STARTS {
                tracing::warn!(
                    "OpenCode was started {MAX_STARTS} times in {RESTART_WINDOW:?} and did not \
                     stay up; not starting it again (see the log above, or give opencode.url)"
                );
                return;
            }
            starts.push(now);
        }
        let mut oc =
            match ManagedOpencode::start(&self.config.opencode.bin, &self.workspace_root).await {
                Ok(oc) => oc,
                Err(e) => {
                    tracing::warn!("cannot start OpenCode for this workspace: {e}");
                    return;
                }
            };
        match HttpApi::connect(&oc.url, &self.workspace_root.display().to_string()).await {
            Ok(api) => {
                let backend: Arc<dyn SessionBackend> =
                    Arc::new(OpencodeBackend::new(Arc::new(api)));
                self.plug(backend, Provider::Http(oc.url.clone()));
                if let Some(exited) = oc.exited.take() {
                    self.watch_managed(oc.url.clone(), exited);
                }
                *managed = Some(oc);
            }
            Err(e) => {
                tracing::warn!(
                    url = oc.url,
                    "the OpenCode this daemon started does not answer: {e}"
                );
                oc.stop().await;
            }
        }
    }

    /// When the OpenCode this daemon started exits on its own, stop using it and look again.
    fn watch_managed(self: &Arc<Self>, url: String, exited: tokio::sync::oneshot::Receiver<()>) {
        let core = Arc::downgrade(self);
        tokio::spawn(async move {
            let _ = exited.await;
            let Some(core) = core.upgrade() else {
                return;
            };
            {
                let mut managed = core.opencode.lock().await;
                if !managed.as_ref().is_some_and(|m| same_url(&m.url, &url)) {
                    return; // stopped on purpose
                }
                *managed = None;
            }
            if core.slot.clear_if(&Provider::Http(url.clone())) {
                tracing::warn!(
                    url,
                    "the OpenCode this daemon started exited; looking for another"
                );
                core.refill();
            }
        });
    }
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}
