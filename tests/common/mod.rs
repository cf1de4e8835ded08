//! A test client that talks to the server over an in-memory duplex, the way an editor talks to
//! it over stdio. Frames are parsed here independently of the server's own reader.

#![allow(dead_code)]

mod ledger_fault;
// Each test binary compiles this module; not all of them use everything in it.
#[allow(unused_imports)]
pub use ledger_fault::LedgerFault;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use opencode_orchestrator::orchestrator::backend::SessionBackend;
use opencode_orchestrator::orchestrator::backend::scripted::{ScriptedBackend, ScriptedHandle};
use opencode_orchestrator::server::{ConnectionOptions, CoreSource, Ended, serve_connection};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

pub struct Client {
    writer: WriteHalf<DuplexStream>,
    pending: Pending,
    /// Notifications and id-less replies, in arrival order.
    pub inbox: mpsc::UnboundedReceiver<Value>,
    next_id: i64,
    pub server: Option<JoinHandle<Ended>>,
    reader_task: JoinHandle<()>,
}

/// Starts a server on one end of a duplex pipe and returns a client on the other.
pub fn connect(source: CoreSource) -> Client {
    connect_with(source, ConnectionOptions::default(), 1 << 20)
}

pub fn connect_with(source: CoreSource, options: ConnectionOptions, pipe: usize) -> Client {
    let (client_io, server_io) = tokio::io::duplex(pipe);
    let (server_read, server_write) = tokio::io::split(server_io);
    let server = tokio::spawn(serve_connection(server_read, server_write, options, source));
    let (read, writer) = tokio::io::split(client_io);
    let pending: Pending = Arc::default();
    let (tx, inbox) = mpsc::unbounded_channel();
    let reader_task = tokio::spawn(read_loop(read, pending.clone(), tx));
    Client {
        writer,
        pending,
        inbox,
        next_id: 0,
        server: Some(server),
        reader_task,
    }
}

/// Connects a client that never reads what the server writes.
pub fn connect_deaf(
    source: CoreSource,
    pipe: usize,
) -> (
    WriteHalf<DuplexStream>,
    ReadHalf<DuplexStream>,
    JoinHandle<Ended>,
) {
    let (client_io, server_io) = tokio::io::duplex(pipe);
    let (server_read, server_write) = tokio::io::split(server_io);
    let server = tokio::spawn(serve_connection(
        server_read,
        server_write,
        ConnectionOptions::default(),
        source,
    ));
    let (read, writer) = tokio::io::split(client_io);
    (writer, read, server)
}

async fn read_loop(
    mut read: ReadHalf<DuplexStream>,
    pending: Pending,
    inbox: mpsc::UnboundedSender<Value>,
) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    loop {
        // Parse every complete frame in the buffer.
        while let Some((body, used)) = parse_frame(&buf) {
            buf.drain(..used);
            let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
                panic!(
                    "server wrote invalid JSON: {}",
                    String::from_utf8_lossy(&body)
                );
            };
            let key = msg
                .get("id")
                .filter(|_| msg.get("method").is_none())
                .map(|id| id.to_string());
            match key.and_then(|k| pending.lock().remove(&k)) {
                Some(tx) => {
                    let _ = tx.send(msg);
                }
                None => {
                    let _ = inbox.send(msg);
                }
            }
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_frame(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let header = std::str::from_utf8(&buf[..end]).ok()?;
    let len: usize = header
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("server frame without Content-Length");
    let start = end + 4;
    if buf.len() < start + len {
        return None;
    }
    Some((buf[start..start + len].to_vec(), start + len))
}

pub fn frame(body: &str) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body.as_bytes());
    v
}

impl Client {
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("write to server");
        self.writer.flush().await.expect("flush");
    }

    /// Ends our input to the server (like closing its stdin).
    pub async fn close_input(&mut self) {
        self.writer.shutdown().await.expect("shutdown write half");
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.send_raw(&frame(&msg.to_string())).await;
    }

    /// Sends a request and returns its id and a receiver for the reply.
    pub async fn send_request(
        &mut self,
        method: &str,
        params: Value,
    ) -> (i64, oneshot::Receiver<Value>) {
        self.next_id += 1;
        let id = self.next_id;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id.to_string(), tx);
        let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            msg["params"] = params;
        }
        self.send_raw(&frame(&msg.to_string())).await;
        (id, rx)
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (_, rx) = self.send_request(method, params).await;
        let reply = tokio::time::timeout(TIMEOUT, rx)
            .await
            .unwrap_or_else(|_| panic!("no reply to {method} within {TIMEOUT:?}"))
            .expect("reader gone");
        into_result(reply)
    }

    /// A call that must succeed.
    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        match self.call(method, params.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{method} {params} failed: {e:?}"),
        }
    }

    /// A call that must fail; returns the error.
    pub async fn err(&mut self, method: &str, params: Value) -> RpcError {
        match self.call(method, params.clone()).await {
            Ok(v) => panic!("{method} {params} should have failed, got {v}"),
            Err(e) => e,
        }
    }

    pub async fn initialize(&mut self, root: &Path, config: Value) -> Value {
        let result = self
            .ok(
                "initialize",
                json!({
                    "capabilities": {},
                    "initializationOptions": {"workspaceRoot": root, "clientName": "test", "config": config}
                }),
            )
            .await;
        self.notify("initialized", json!({})).await;
        result
    }

    /// The next message the server sent that was not a reply to one of our requests.
    pub async fn next_message(&mut self) -> Value {
        tokio::time::timeout(TIMEOUT, self.inbox.recv())
            .await
            .expect("no message from the server in time")
            .expect("server closed")
    }

    /// Reads events until one matches; returns everything read, the match last.
    pub async fn events_until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let msg = self.next_message().await;
            if msg["method"] == "orchestrator/event" {
                let done = pred(&msg["params"]);
                seen.push(msg["params"].clone());
                if done {
                    return seen;
                }
            }
        }
    }

    /// Waits for the event of `kind` about `task_id`.
    pub async fn wait_event(&mut self, kind: &str, task_id: &str) -> Value {
        self.events_until(|e| e["type"] == kind && e["data"]["taskId"] == task_id)
            .await
            .pop()
            .expect("at least one")
    }

    pub async fn delegate(&mut self, agent: &str, prompt: &str) -> String {
        let r = self
            .ok(
                "orchestrator/task/delegate",
                json!({"agent": agent, "description": "test task", "prompt": prompt}),
            )
            .await;
        r["task"]["id"].as_str().expect("task id").to_string()
    }

    pub async fn get(&mut self, task_id: &str, wait_ms: u64) -> Value {
        self.ok(
            "orchestrator/task/get",
            json!({"taskId": task_id, "waitMs": wait_ms}),
        )
        .await["task"]
            .clone()
    }

    /// Sends shutdown and exit; returns how the server ended.
    /// Calls a tool through `orchestrator/tools/call` and returns its result.
    pub async fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.ok(
            "orchestrator/tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }

    /// Calls a tool that must fail, and returns the error.
    pub async fn tool_err(&mut self, name: &str, arguments: Value) -> RpcError {
        self.err(
            "orchestrator/tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }

    pub async fn shutdown(mut self) -> Ended {
        self.ok("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
        self.finish().await
    }

    pub async fn finish(mut self) -> Ended {
        let server = self.server.take().expect("server handle");
        let ended = tokio::time::timeout(TIMEOUT, server)
            .await
            .expect("server did not end in time")
            .expect("server task panicked");
        self.reader_task.abort();
        ended
    }
}

pub fn into_result(reply: Value) -> Result<Value, RpcError> {
    if let Some(err) = reply.get("error") {
        return Err(RpcError {
            code: err["code"].as_i64().unwrap_or(0),
            message: err["message"].as_str().unwrap_or_default().to_string(),
            data: err.get("data").cloned(),
        });
    }
    Ok(reply.get("result").cloned().unwrap_or(Value::Null))
}

/// A script for the scripted runtime, as prompt text.
pub fn script(s: Value) -> String {
    json!({ "script": s }).to_string()
}

/// A scripted runtime plus a source that opens a fresh orchestrator on it at `initialize`.
pub fn scripted() -> (CoreSource, ScriptedHandle) {
    let (backend, handle) = ScriptedBackend::new();
    let backend: Arc<dyn SessionBackend> = Arc::new(backend);
    (
        CoreSource::OnInitialize {
            backend: Some(backend),
        },
        handle,
    )
}

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// Starts a client on a fresh workspace with a scripted runtime and the given config.
pub async fn start(config: Value) -> (Client, ScriptedHandle, Workspace) {
    let ws = Workspace::new();
    let (source, handle) = scripted();
    let mut client = connect(source);
    client.initialize(&ws.root(), config).await;
    (client, handle, ws)
}
