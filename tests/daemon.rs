//! The per-workspace daemon through the real binary: `serve` connects clients to one
//! orchestrator per workspace, starting it when none runs; it is shared, survives a client's
//! crash, is started once however many clients race, and leaves when idle.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_opencode-orchestrator");
const WAIT: Duration = Duration::from_secs(20);

/// A workspace with the scripted runtime and a short idle time, and its own runtime dir.
struct Env {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    run: PathBuf,
    home: PathBuf,
}

impl Env {
    fn new(idle_seconds: u64) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let run = tmp.path().join("run");
        let home = tmp.path().join("home");
        for d in [&ws, &run, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir_all(ws.join(".opencode")).unwrap();
        std::fs::write(
            ws.join(".opencode/orchestrator.json"),
            json!({"backend": "scripted", "daemon": {"idleSeconds": idle_seconds},
                   "log": {"path": tmp.path().join("daemon.log")}})
            .to_string(),
        )
        .unwrap();
        let ws = ws.canonicalize().unwrap();
        Self {
            _tmp: tmp,
            ws,
            run,
            home,
        }
    }

    fn socket_dir(&self) -> PathBuf {
        self.run.join("opencode-orchestrator")
    }

    fn client(&self) -> Client {
        let mut child = Command::new(BIN)
            .arg("serve")
            .current_dir(&self.ws)
            .env("XDG_RUNTIME_DIR", &self.run)
            .env("XDG_CONFIG_HOME", &self.home)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse().unwrap();
                    }
                }
                let mut body = vec![0u8; len];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                if tx
                    .send(serde_json::from_slice::<Value>(&body).unwrap())
                    .is_err()
                {
                    return;
                }
            }
        });
        Client {
            child,
            stdin: Some(stdin),
            rx,
            next_id: 1,
            events: Vec::new(),
        }
    }

    /// Daemon processes serving this workspace.
    fn daemons(&self) -> usize {
        let out = Command::new("pgrep")
            .args([
                "-f",
                &format!("{BIN} daemon --workspace {}", self.ws.display()),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args([
                "-f",
                &format!("{BIN} daemon --workspace {}", self.ws.display()),
            ])
            .status();
    }
}

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: mpsc::Receiver<Value>,
    next_id: u64,
    events: Vec<Value>,
}

impl Client {
    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let msg = self.request(method, params);
        assert!(msg.get("error").is_none(), "{method}: {msg}");
        msg["result"].clone()
    }

    /// The whole reply: a result or an error.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + WAIT;
        loop {
            let msg = self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no reply to {method}"));
            if msg["id"] == json!(id) && msg.get("method").is_none() {
                return msg;
            }
            if msg["method"] == "orchestrator/event" {
                self.events.push(msg["params"].clone());
            }
        }
    }

    fn initialize(&mut self, ws: &Path) -> Value {
        let r = self.call(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws}}),
        );
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        r
    }

    fn wait_event(&mut self, kind: &str, task_id: &str) -> Value {
        let hit = |e: &Value| e["type"] == kind && e["data"]["taskId"] == task_id;
        if let Some(e) = self.events.iter().find(|e| hit(e)) {
            return e.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let msg = self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no {kind} for {task_id}"));
            if msg["method"] == "orchestrator/event" {
                let e = msg["params"].clone();
                self.events.push(e.clone());
                if hit(&e) {
                    return e;
                }
            }
        }
    }

    fn delegate(&mut self, script: Value) -> String {
        let r = self.call(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "work", "prompt": json!({"script": script}).to_string()}),
        );
        r["task"]["id"].as_str().unwrap().to_string()
    }

    /// `shutdown` + `exit`; the connector's exit code.
    fn finish(mut self) -> Option<i32> {
        self.call("shutdown", Value::Null);
        self.send(json!({"jsonrpc": "2.0", "method": "exit"}));
        wait(&mut self.child)
    }
}

fn wait(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    None
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_clients_share_one_orchestrator_and_see_each_others_tasks_and_events() {
    let env = Env::new(60);
    let mut a = env.client();
    a.initialize(&env.ws);
    let mut b = env.client();
    b.initialize(&env.ws);
    assert_eq!(env.daemons(), 1);

    let task = a.delegate(json!({"delayMs": 200, "reply": "from a"}));
    // B hears of A's task, and can read it.
    b.wait_event("task.completed", &task);
    let got = b.call("orchestrator/task/get", json!({"taskId": task}));
    assert_eq!(got["task"]["result"], "from a");
    let stats_a = a.call("orchestrator/stats", json!({}));
    let stats_b = b.call("orchestrator/stats", json!({}));
    assert_eq!(stats_a["ledgerPath"], stats_b["ledgerPath"]);
    assert!(
        stats_a["eventSubscribers"].as_u64().unwrap() >= 2,
        "{stats_a}"
    );

    // The socket is the user's alone.
    let dir = env.socket_dir();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let socket = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sock"))
        .unwrap();
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );

    assert_eq!(a.finish(), Some(0));
    assert_eq!(b.finish(), Some(0));
}

#[test]
fn a_client_that_crashes_leaves_the_others_tasks_running() {
    let env = Env::new(60);
    let mut a = env.client();
    a.initialize(&env.ws);
    let mut b = env.client();
    b.initialize(&env.ws);
    let task = a.delegate(json!({"delayMs": 800, "reply": "finished anyway"}));
    a.wait_event("task.started", &task);
    a.child.kill().unwrap();
    let _ = a.child.wait();
    let done = b.wait_event("task.completed", &task);
    assert_eq!(done["data"]["status"], "completed");
    let got = b.call("orchestrator/task/get", json!({"taskId": task}));
    assert_eq!(got["task"]["result"], "finished anyway");
    assert_eq!(b.finish(), Some(0));
}

#[test]
fn clients_racing_to_start_the_daemon_end_with_exactly_one() {
    let env = Env::new(60);
    let mut clients: Vec<Client> = (0..4).map(|_| env.client()).collect();
    // All four start before any has a daemon to talk to.
    let threads: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            let ws = env.ws.clone();
            std::thread::spawn(move || {
                c.initialize(&ws);
                c
            })
        })
        .collect();
    let mut clients: Vec<Client> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(env.daemons(), 1);
    let task = clients[0].delegate(json!({"reply": "one"}));
    for c in clients.iter_mut().skip(1) {
        c.wait_event("task.completed", &task);
    }
    for c in clients {
        assert_eq!(c.finish(), Some(0));
    }
}

#[test]
fn the_daemon_leaves_when_idle_and_a_new_one_starts_on_demand() {
    let env = Env::new(1);
    let mut a = env.client();
    a.initialize(&env.ws);
    let task = a.delegate(json!({"delayMs": 1500, "reply": "slow"}));
    // Without `shutdown` first, the exit code is 1, as LSP says.
    drop(a.stdin.take());
    assert_eq!(wait(&mut a.child), Some(1));
    // Running work keeps it up past its idle time.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(env.daemons(), 1, "busy with a task");
    wait_until("the idle daemon to leave", || env.daemons() == 0);
    let sockets = std::fs::read_dir(env.socket_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sock")
        })
        .count();
    assert_eq!(sockets, 0, "the socket goes with it");

    // The next client starts a new one, on the same ledger.
    let mut b = env.client();
    b.initialize(&env.ws);
    let got = b.call("orchestrator/task/get", json!({"taskId": task}));
    assert_eq!(got["task"]["status"], "completed");
    assert_eq!(b.finish(), Some(0));
}

#[test]
fn a_client_naming_no_workspace_is_served_in_process() {
    let env = Env::new(60);
    let mut c = env.client();
    // No initializationOptions, no rootUri: nothing to key a daemon on.
    let r = c.call("initialize", json!({"capabilities": {}}));
    assert_eq!(r["serverInfo"]["name"], "opencode-orchestrator");
    assert_eq!(c.finish(), Some(0));
    assert_eq!(env.daemons(), 0);
}

#[test]
fn a_daemon_that_cannot_start_is_not_restarted_and_the_client_hears_why() {
    let env = Env::new(60);
    // A config the daemon refuses: it would fail the same way however often it is started.
    std::fs::write(
        env.ws.join(".opencode/orchestrator.json"),
        json!({"backend": "scripted", "daemon": {"idleSeconds": "soon"}}).to_string(),
    )
    .unwrap();
    let mut c = env.client();
    let r = c.request(
        "initialize",
        json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": env.ws}}),
    );
    // Served in process instead, where the same config error reaches the client.
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("idleSeconds"), "{r}");
    assert_eq!(env.daemons(), 0);
}
