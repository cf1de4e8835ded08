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
use crate::orchestrator::backend::opencode::{BridgeApi, HttpApi, OpencodeBackend};
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
}

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

    /// A client connection ended: its bridge (if in use) is handed to another client.
    pub fn client_left(&self, client: u64) {
        self.clients.fetch_sub(1, Ordering::SeqCst);
        self.managed_clients.lock().retain(|c| *c != client);
        let next = {
            let mut bridges = self.bridges.lock();
            bridges.retain(|(id, _)| *id != client);
            bridges.first().cloned()
        };
        if self.slot.clear_if(&Provider::Bridge(client)) {
            match next {
                Some((id, api)) => {
                    tracing::info!(client = id, "the OpenCode bridge moves to another client");
                    self.slot
                        .set(Arc::new(OpencodeBackend::new(api)), Provider::Bridge(id));
                }
                None => tracing::info!("no client can reach OpenCode any more"),
            }
        }
    }

    /// A client says how it reaches OpenCode. An HTTP server that answers is preferred (it
    /// outlives any one client); a bridge is used while none is known.
    pub async fn offer(&self, client: u64, url: Option<String>, bridge: Option<Arc<BridgeApi>>) {
        // A daemon on the scripted runtime (tests) needs no OpenCode.
        if self.config.backend != crate::config::BackendKind::Opencode {
            return;
        }
        if let Some(api) = &bridge {
            self.bridges.lock().push((client, api.clone()));
        }
        let managed_url = self.opencode.lock().await.as_ref().map(|o| o.url.clone());
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if let (Some(url), Some(managed)) = (&url, &managed_url)
            && same(url, managed)
        {
            self.managed_clients.lock().push(client);
        }
        if matches!(self.slot.provider(), Some(Provider::Http(_))) {
            return;
        }
        let url = url.or_else(|| self.config.opencode.url.clone());
        if let Some(url) = url {
            match HttpApi::connect(&url, &self.workspace_root.display().to_string()).await {
                Ok(api) => {
                    tracing::info!(url, "the daemon reaches OpenCode over HTTP");
                    let backend: Arc<dyn SessionBackend> =
                        Arc::new(OpencodeBackend::new(Arc::new(api)));
                    self.slot.set(backend, Provider::Http(url));
                    return;
                }
                Err(e) => tracing::info!(url, "OpenCode does not answer over HTTP: {e}"),
            }
        }
        if self.slot.provider().is_none()
            && let Some(api) = bridge
        {
            tracing::info!(
                client,
                "the daemon reaches OpenCode through a client's bridge"
            );
            self.slot.set(
                Arc::new(OpencodeBackend::new(api)),
                Provider::Bridge(client),
            );
            return;
        }
        if self.slot.provider().is_none() && self.config.opencode.auto_start {
            self.start_opencode().await;
        }
    }

    /// Starts `opencode serve` for the workspace and uses it, unless one is running already.
    async fn start_opencode(&self) {
        let mut managed = self.opencode.lock().await;
        if managed.is_some() || self.slot.provider().is_some() {
            return;
        }
        let oc = match ManagedOpencode::start(&self.config.opencode.bin, &self.workspace_root).await
        {
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
                self.slot.set(backend, Provider::Http(oc.url.clone()));
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
}
