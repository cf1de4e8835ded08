//! The daemon: one orchestrator for a workspace, serving every client that connects to its
//! socket, each as its own LSP session. It exits after `daemon.idleSeconds` with no client and
//! no queued or running work, or on SIGTERM/SIGINT.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};

use super::DaemonCore;
use crate::config::{BackendKind, Config};
use crate::orchestrator::backend::SessionBackend;
use crate::orchestrator::backend::scripted::ScriptedBackend;
use crate::orchestrator::backend::slot::BackendSlot;
use crate::orchestrator::{OpenParams, Orchestrator};
use crate::server::{ConnectionOptions, CoreSource, serve_connection};

/// How often the idle timer looks.
const IDLE_TICK: Duration = Duration::from_millis(500);

/// The lock a daemon holds for its whole life: one daemon per socket.
pub fn lock_path(socket: &Path) -> PathBuf {
    socket.with_extension("lock")
}

/// Runs the daemon of `workspace` on `socket` until it is idle or told to stop. Returns
/// `Ok(false)` when another daemon already serves the socket.
pub async fn run(workspace: PathBuf, socket: PathBuf) -> Result<bool, String> {
    let dir = socket
        .parent()
        .ok_or_else(|| format!("{} has no directory", socket.display()))?;
    super::socket::prepare(dir).map_err(|e| format!("socket directory: {e}"))?;
    let lock = File::create(lock_path(&socket))
        .map_err(|e| format!("cannot create {}: {e}", lock_path(&socket).display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", lock_path(&socket).display()));
        }
    }
    let config = Config::load(Some(&workspace), None).map_err(|e| e.to_string())?;
    let slot = Arc::new(BackendSlot::default());
    let backend: Arc<dyn SessionBackend> = match config.backend {
        BackendKind::Scripted => Arc::new(ScriptedBackend::new().0),
        BackendKind::Opencode => slot.clone(),
    };
    let orchestrator = Orchestrator::open(OpenParams {
        workspace_root: workspace.clone(),
        config: config.clone(),
        backend: Ok(backend),
    })
    .await
    .map_err(|e| format!("cannot open the orchestrator: {e}"))?;
    if config.backend == BackendKind::Scripted {
        orchestrator.start_recovery();
    }
    // The lock is ours: a socket file left here is a dead daemon's.
    match std::fs::remove_file(&socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove the old {}: {e}", socket.display())),
    }
    let listener = UnixListener::bind(&socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", socket.display()))?;
    tracing::info!(socket = %socket.display(), workspace = %workspace.display(), "daemon listening");

    let idle = Duration::from_secs(config.daemon.idle_seconds);
    let options = ConnectionOptions {
        max_frame_bytes: config.transport.max_frame_bytes,
        concurrency: config.transport.concurrency,
    };
    let core = Arc::new(DaemonCore::new(
        workspace,
        config,
        orchestrator.clone(),
        slot,
    ));
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut idle_since = Some(tokio::time::Instant::now());
    let mut tick = tokio::time::interval(IDLE_TICK);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let client = core.client_joined();
                    idle_since = None;
                    let core = core.clone();
                    tokio::spawn(async move {
                        let (read, write) = stream.into_split();
                        let source = CoreSource::Daemon { core: core.clone(), client };
                        let ended = serve_connection(read, write, options, source).await;
                        tracing::info!(client, exit_code = ended.exit_code, "client left");
                        core.client_left(client);
                    });
                }
                Err(e) => tracing::warn!("accept failed: {e}"),
            },
            _ = tick.tick() => {
                let quiet = core.active_clients() == 0 && !orchestrator.has_work();
                match (quiet, idle_since) {
                    (false, _) => idle_since = None,
                    (true, None) => idle_since = Some(tokio::time::Instant::now()),
                    (true, Some(since)) if since.elapsed() >= idle => {
                        tracing::info!("idle: no client and no work for {idle:?}");
                        break;
                    }
                    (true, Some(_)) => {}
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    // Stop taking clients first, so a connector starts a new daemon rather than reach this one.
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    orchestrator.shutdown().await;
    core.stop_opencode().await;
    drop(lock);
    Ok(true)
}
