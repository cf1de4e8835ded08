//! The connector: what `serve` runs in front of a client. It reads the client's `initialize`
//! to learn the workspace, connects to that workspace's daemon (starting it when none
//! answers), and relays the LSP stream both ways, byte for byte.
//!
//! Its exit code is LSP's: 0 when the client sent `shutdown` then `exit`, 1 otherwise. A copy
//! of the client's bytes is read frame by frame on the side to see those two messages.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::server::framing::FrameReader;

/// How long a starting daemon may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Frames read before `initialize` are kept; a client that sends this many first is not one.
const MAX_EARLY_FRAMES: usize = 64;
/// Bytes read before `initialize` are kept, up to this many.
const MAX_EARLY_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the client ended before `initialize`")]
    NoInitialize,
    #[error(
        "the client's first messages name no workspace (initializationOptions.workspaceRoot, rootUri or workspaceFolders); use `serve --standalone`"
    )]
    NoWorkspace,
    #[error("workspace {path}: {source}")]
    Workspace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Daemon(String),
    #[error("reading the client: {0}")]
    Io(#[from] std::io::Error),
}

/// What became of a client.
pub enum Outcome<R, W> {
    /// Relayed to the daemon until the end; the exit code.
    Relayed(i32),
    /// No daemon for it (no workspace named, or none could be reached): serve it in-process,
    /// starting with the bytes already read.
    Standalone {
        why: ConnectError,
        early: Vec<u8>,
        input: R,
        output: W,
    },
}

/// Relays one client (its input and output) to its workspace's daemon.
pub async fn run<R, W>(mut input: R, mut output: W) -> Outcome<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // The bytes before and including `initialize`, as they came.
    let (early, workspace) = match read_until_initialize(&mut input).await {
        Ok(found) => found,
        Err((why, early)) => {
            return Outcome::Standalone {
                why,
                early,
                input,
                output,
            };
        }
    };
    let stream = match daemon_for(&workspace).await {
        Ok(stream) => stream,
        Err(why) => {
            return Outcome::Standalone {
                why,
                early,
                input,
                output,
            };
        }
    };
    let (mut from_daemon, mut to_daemon) = stream.into_split();
    if let Err(e) = to_daemon.write_all(&early).await {
        tracing::warn!("the daemon closed the connection at once: {e}");
        return Outcome::Relayed(1);
    }

    // Client -> daemon: raw bytes, with a copy to a watcher that notes shutdown and exit.
    let (watch_tx, watch_rx) = tokio::io::duplex(1 << 16);
    let watcher = tokio::spawn(watch(watch_rx, early));
    let upstream = tokio::spawn(async move {
        let mut watch_tx = watch_tx;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match input.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // The watcher first: once the daemon has `exit` it closes the connection and this
            // task is stopped, and the watcher must have had it by then. Best effort: never
            // let it hold the client up.
            let _ = tokio::time::timeout(Duration::from_millis(50), watch_tx.write_all(&buf[..n]))
                .await;
            if to_daemon.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_daemon.shutdown().await;
    });
    // Daemon -> client: until the daemon closes this connection.
    let _ = tokio::io::copy(&mut from_daemon, &mut output).await;
    let _ = output.flush().await;
    upstream.abort();
    let seen = watcher.await.unwrap_or_default();
    Outcome::Relayed(if seen.shutdown && seen.exit { 0 } else { 1 })
}

/// The daemon of `workspace`, started if need be.
async fn daemon_for(workspace: &Path) -> Result<UnixStream, ConnectError> {
    let workspace = workspace
        .canonicalize()
        .map_err(|source| ConnectError::Workspace {
            path: workspace.to_path_buf(),
            source,
        })?;
    let dir = super::socket::dir();
    super::socket::prepare(&dir).map_err(|e| ConnectError::Daemon(e.to_string()))?;
    let socket = super::socket::path_in(&dir, &workspace);
    connect_or_start(&workspace, &socket).await
}

#[derive(Default, Clone, Copy)]
struct Seen {
    shutdown: bool,
    exit: bool,
}

/// Reads frames until the `initialize` request; returns the raw bytes read (all of them, also
/// any read past it) and the workspace, or why not with the bytes read so far. One pass: the
/// frame reader reads through a recorder.
async fn read_until_initialize<R: AsyncRead + Unpin>(
    input: &mut R,
) -> Result<(Vec<u8>, PathBuf), (ConnectError, Vec<u8>)> {
    let recorder = Recording {
        inner: input,
        seen: Vec::new(),
    };
    let mut reader = FrameReader::new(recorder, MAX_EARLY_BYTES);
    for _ in 0..MAX_EARLY_FRAMES {
        match reader.next_frame().await {
            Some(Ok(body)) => {
                let Ok(msg) = serde_json::from_str::<Value>(&body) else {
                    continue;
                };
                if msg.get("method").and_then(Value::as_str) == Some("initialize") {
                    let raw = reader.into_inner().seen;
                    return match workspace_of(msg.get("params").unwrap_or(&Value::Null)) {
                        Some(root) => Ok((raw, root)),
                        None => Err((ConnectError::NoWorkspace, raw)),
                    };
                }
            }
            Some(Err(_)) => continue,
            None => return Err((ConnectError::NoInitialize, reader.into_inner().seen)),
        }
    }
    Err((ConnectError::NoWorkspace, reader.into_inner().seen))
}

/// Passes reads through, keeping a copy of every byte (at most [`MAX_EARLY_BYTES`]; past that
/// the read fails, and the client is served in-process with what was read).
struct Recording<'a, R> {
    inner: &'a mut R,
    seen: Vec<u8>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Recording<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.seen.len() > MAX_EARLY_BYTES {
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "too much input before `initialize`",
            )));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = std::pin::Pin::new(&mut *this.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &poll {
            this.seen.extend_from_slice(&buf.filled()[before..]);
        }
        poll
    }
}

fn workspace_of(params: &Value) -> Option<PathBuf> {
    if let Some(root) = params
        .pointer("/initializationOptions/workspaceRoot")
        .and_then(Value::as_str)
    {
        return Some(PathBuf::from(root));
    }
    let uri = params
        .pointer("/workspaceFolders/0/uri")
        .or_else(|| params.get("rootUri"))
        .and_then(Value::as_str)?;
    crate::server::uri::file_path(uri)
}

/// Daemons that may fail to start before the client is served in process instead.
const MAX_FAILED_STARTS: u32 = 3;

/// Follows the client's frames for `shutdown` and `exit`.
async fn watch(rest: tokio::io::DuplexStream, early: Vec<u8>) -> Seen {
    let mut seen = Seen::default();
    let chained = AsyncReadExt::chain(std::io::Cursor::new(early), rest);
    let mut reader = FrameReader::new(chained, usize::MAX);
    loop {
        match reader.next_frame().await {
            Some(Ok(body)) => {
                let Ok(msg) = serde_json::from_str::<Value>(&body) else {
                    continue;
                };
                match msg.get("method").and_then(Value::as_str) {
                    Some("shutdown") => seen.shutdown = true,
                    Some("exit") => {
                        seen.exit = true;
                        return seen;
                    }
                    _ => {}
                }
            }
            Some(Err(_)) => {}
            None => return seen,
        }
    }
}

/// Connects to the workspace's daemon, starting one when none answers. Racing connectors
/// may each start one: the daemon's lock lets only the first serve, and everyone connects to
/// it.
async fn connect_or_start(workspace: &Path, socket: &Path) -> Result<UnixStream, ConnectError> {
    if let Ok(stream) = UnixStream::connect(socket).await {
        return Ok(stream);
    }
    let exe = std::env::current_exe()
        .map_err(|e| ConnectError::Daemon(format!("cannot find this program: {e}")))?;
    let start = || {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(&exe)
            .arg("daemon")
            .arg("--workspace")
            .arg(workspace)
            .arg("--socket")
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the client's signals (Ctrl-C, a killed editor) are not
            // the daemon's.
            .process_group(0)
            .spawn()
            .map_err(|e| ConnectError::Daemon(format!("cannot start the daemon: {e}")))
    };
    let mut child = start()?;
    let mut failures = 0;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(stream) = UnixStream::connect(socket).await {
            // Reap it later if it ends while we live; it is detached either way.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(stream);
        }
        if tokio::time::Instant::now() >= deadline {
            // Not left to bind later next to the in-process server this client falls back to.
            let _ = child.kill();
            let _ = child.wait();
            return Err(ConnectError::Daemon(format!(
                "the daemon for {} did not answer on {} within {START_TIMEOUT:?}; see its log \
                 (`opencode-orchestrator log-path`)",
                workspace.display(),
                socket.display()
            )));
        }
        // A daemon that lost the race, or found the old one still shutting down, exits at
        // once and with success: start another until one listens. One that failed (a bad
        // config file, a ledger it cannot open) would most likely fail again: a few tries,
        // in case what failed was passing.
        if let Ok(Some(status)) = child.try_wait() {
            if !status.success() {
                failures += 1;
                if failures >= MAX_FAILED_STARTS {
                    return Err(ConnectError::Daemon(format!(
                        "the daemon for {} could not start ({status}, {failures} times); see \
                         its log (`opencode-orchestrator log-path`)",
                        workspace.display()
                    )));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if UnixStream::connect(socket).await.is_err() {
                child = start()?;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_workspace_comes_from_the_options_then_the_folders_then_the_root_uri() {
        let p = json!({"initializationOptions": {"workspaceRoot": "/w/opts"},
                       "workspaceFolders": [{"uri": "file:///w/folder", "name": "f"}]});
        assert_eq!(workspace_of(&p), Some(PathBuf::from("/w/opts")));
        let p = json!({"workspaceFolders": [{"uri": "file:///w/my%20folder", "name": "f"}],
                       "rootUri": "file:///w/root"});
        assert_eq!(workspace_of(&p), Some(PathBuf::from("/w/my folder")));
        assert_eq!(
            workspace_of(&json!({"rootUri": "file:///w/root"})),
            Some(PathBuf::from("/w/root"))
        );
        assert_eq!(workspace_of(&json!({"rootUri": "untitled:x"})), None);
        assert_eq!(workspace_of(&json!({})), None);
    }
}
