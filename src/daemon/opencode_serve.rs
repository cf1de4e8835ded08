//! An `opencode serve` the daemon runs itself, for clients that bring no OpenCode (VS Code
//! without a server URL): on a free loopback port, in its own process group, stopped with the
//! daemon. The OpenCode plugin it loads connects back to this same daemon.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::tools::background::process::{Sig, signal_group, stop_group};

/// How long OpenCode may take to listen (it installs its plugin dependencies first).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

pub struct ManagedOpencode {
    pub url: String,
    pgid: i32,
    /// Fires when the process exits (taken by whoever watches it).
    pub exited: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl ManagedOpencode {
    /// Starts `bin serve` for `workspace` and waits until it listens.
    pub async fn start(bin: &str, workspace: &Path) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--port",
                &port.to_string(),
                "--hostname",
                "127.0.0.1",
            ])
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: stopping it stops everything it started, and nothing else.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start `{bin} serve` (opencode.bin): {e}"))?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or("OpenCode exited at once")?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            // Read its output for as long as it runs, so a full pipe never stalls it.
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(target: "opencode", "{line}");
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let listening = async {
            while let Some(line) = rx.recv().await {
                if let Some(at) = line.find("listening on ") {
                    let url = line[at + "listening on ".len()..]
                        .trim()
                        .trim_end_matches('/');
                    return Some(url.to_string());
                }
            }
            None
        };
        let url = match tokio::time::timeout(LISTEN_TIMEOUT, listening).await {
            Ok(Some(url)) => url,
            Ok(None) => {
                let status = child.wait().await.ok();
                return Err(format!(
                    "`{bin} serve` exited before listening ({status:?})"
                ));
            }
            Err(_) => {
                signal_group(pgid, Sig::Kill);
                return Err(format!(
                    "`{bin} serve` did not listen within {LISTEN_TIMEOUT:?}"
                ));
            }
        };
        tracing::info!(url, "started OpenCode for this workspace");
        let (exit_tx, exited) = tokio::sync::oneshot::channel();
        let watched = url.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            tracing::info!(
                url = watched,
                "the OpenCode this daemon started exited: {status:?}"
            );
            let _ = exit_tx.send(());
        });
        Ok(Self {
            url,
            pgid,
            exited: Some(exited),
        })
    }

    /// Stops its whole process group: SIGTERM, then SIGKILL after a grace time.
    pub async fn stop(&self) {
        stop_group(
            self.pgid,
            Duration::from_secs(3),
            Duration::from_millis(500),
        )
        .await;
    }
}
