//! Background jobs through `orchestrator/tools/call`: output, exit codes, tails, timeouts and
//! kills of whole process groups (no orphans), shutdown, restarts, the completion event, and
//! bad input.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const SESSION: &str = "ses_jobs";

/// Short grace so stopping a group that ignores SIGTERM stays fast.
fn config() -> Value {
    json!({"jobs": {"killGraceMs": 300}})
}

async fn tool(c: &mut Client, name: &str, args: Value) -> Value {
    c.ok(
        "orchestrator/tools/call",
        json!({"name": name, "arguments": args, "context": {"sessionId": SESSION}}),
    )
    .await
}

async fn tool_err(c: &mut Client, name: &str, args: Value) -> RpcError {
    c.err(
        "orchestrator/tools/call",
        json!({"name": name, "arguments": args, "context": {"sessionId": SESSION}}),
    )
    .await
}

/// Starts a job; returns its id.
async fn run(c: &mut Client, args: Value) -> String {
    let r = tool(c, "run_background", args).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "running", "{r}");
    job["jobId"].as_str().expect("job id").to_string()
}

async fn check(c: &mut Client, id: &str, extra: Value) -> Value {
    let mut args = json!({"jobId": id});
    if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    tool(c, "check_background", args).await
}

/// Waits for a job to finish and returns check_background's result.
async fn finished(c: &mut Client, id: &str) -> Value {
    let r = check(c, id, json!({"waitMs": 10000})).await;
    assert_ne!(r["metadata"]["job"]["status"], "running", "{r}");
    r
}

fn lines(r: &Value, stream: &str) -> Vec<String> {
    r["metadata"][stream]["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no {stream} in {r}"))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// Polls a running job until its stdout has `n` lines; returns them.
async fn stdout_lines(c: &mut Client, id: &str, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let r = check(c, id, json!({})).await;
        let got = lines(&r, "stdout");
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "job never printed {n} lines: {r}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pids(lines: &[String]) -> Vec<u32> {
    lines.iter().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Whether a process runs (a zombie does not: nothing reaps orphans in some containers).
fn alive(pid: u32) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                let state = stat[stat.rfind(')').unwrap() + 1..].trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            }
            Err(_) => false,
        };
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn assert_all_gone(pids: &[u32]) {
    let start = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still running: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn job_pid(r: &Value) -> u32 {
    r["metadata"]["job"]["pid"].as_u64().expect("pid") as u32
}

/// A job that starts two children and waits for them; they print their pids.
const TREE: &str = "sleep 300 & echo $!; sleep 300 & echo $!; wait";

#[tokio::test]
async fn a_quick_job_reports_its_exit_code_and_output() {
    let (mut c, _h, ws) = start(config()).await;
    let id = run(
        &mut c,
        json!({"command": "echo hello; echo world", "label": "greet"}),
    )
    .await;
    assert!(id.starts_with("job_"), "{id}");
    let r = finished(&mut c, &id).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "exited", "{r}");
    assert_eq!(job["exitCode"], 0);
    assert_eq!(job["label"], "greet");
    assert_eq!(job["cwd"], ".");
    assert_eq!(job["startedBy"], SESSION);
    assert!(job["durationMs"].as_u64().unwrap() < 5000);
    assert_eq!(lines(&r, "stdout"), ["hello", "world"]);
    assert!(lines(&r, "stderr").is_empty());
    let out = r["output"].as_str().unwrap();
    assert!(
        out.contains("exited with code 0") && out.contains("hello\nworld"),
        "{out}"
    );

    // The output and the record are kept under the state dir.
    let dir = ws.root().join(".opencode/orchestrator/jobs");
    let log = Path::new(job["stdoutLog"].as_str().unwrap());
    assert!(log.starts_with(&dir), "{}", log.display());
    assert_eq!(std::fs::read_to_string(log).unwrap(), "hello\nworld\n");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).unwrap()).unwrap();
    assert_eq!(saved["status"], "exited");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn jobs_run_in_their_directory_with_their_environment() {
    let (mut c, _h, ws) = start(config()).await;
    std::fs::create_dir_all(ws.root().join("sub/dir")).unwrap();
    let id = run(
        &mut c,
        json!({"command": "pwd; echo \"$GREETING\"", "cwd": "sub/dir", "env": {"GREETING": "hi there"}}),
    )
    .await;
    let r = finished(&mut c, &id).await;
    let out = lines(&r, "stdout");
    let real = std::fs::canonicalize(ws.root().join("sub/dir")).unwrap();
    assert_eq!(out, [real.display().to_string(), "hi there".to_string()]);
    assert_eq!(r["metadata"]["job"]["cwd"], "sub/dir");
    assert_eq!(r["metadata"]["job"]["envKeys"], json!(["GREETING"]));
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn stderr_is_captured_separately() {
    let (mut c, _h, _ws) = start(config()).await;
    let id = run(
        &mut c,
        json!({"command": "echo out; echo oops >&2; echo more >&2"}),
    )
    .await;
    let r = finished(&mut c, &id).await;
    assert_eq!(lines(&r, "stdout"), ["out"]);
    assert_eq!(lines(&r, "stderr"), ["oops", "more"]);
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains("stderr (last 2 of 2 lines):\noops\nmore")
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_failing_job_reports_its_exit_code() {
    let (mut c, _h, _ws) = start(config()).await;
    let id = run(&mut c, json!({"command": "echo bad input >&2; exit 3"})).await;
    let r = finished(&mut c, &id).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "failed", "{r}");
    assert_eq!(job["exitCode"], 3);
    assert_eq!(lines(&r, "stderr"), ["bad input"]);
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains("failed with exit code 3")
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn tails_are_limited() {
    let (mut c, _h, _ws) = start(config()).await;
    let id = run(&mut c, json!({"command": "seq 1 1200"})).await;
    let r = check(&mut c, &id, json!({"waitMs": 10000, "tailLines": 5})).await;
    assert_eq!(
        lines(&r, "stdout"),
        ["1196", "1197", "1198", "1199", "1200"]
    );
    assert_eq!(r["metadata"]["stdout"]["total"], 1200);
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains("stdout (last 5 of 1200 lines)")
    );
    // Default 50; at most 1000; 0 shows none.
    let r = check(&mut c, &id, json!({})).await;
    assert_eq!(lines(&r, "stdout").len(), 50);
    assert_eq!(lines(&r, "stdout")[0], "1151");
    let r = check(&mut c, &id, json!({"tailLines": 100000})).await;
    assert_eq!(lines(&r, "stdout").len(), 1000);
    assert_eq!(lines(&r, "stdout")[0], "201");
    let r = check(&mut c, &id, json!({"tailLines": 0})).await;
    assert!(lines(&r, "stdout").is_empty());
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_timeout_stops_the_whole_group() {
    let (mut c, _h, _ws) = start(config()).await;
    let id = run(&mut c, json!({"command": TREE, "timeoutMs": 700})).await;
    let r = finished(&mut c, &id).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "timed_out", "{r}");
    let took = job["durationMs"].as_u64().unwrap();
    assert!((700..3000).contains(&took), "{took}");
    assert!(job["note"].as_str().unwrap().contains("timeout"), "{r}");
    let mut all = pids(&lines(&r, "stdout"));
    assert_eq!(all.len(), 2, "{r}");
    all.push(job_pid(&r));
    assert_all_gone(&all).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn kill_background_stops_the_whole_group() {
    let (mut c, _h, _ws) = start(config()).await;
    let id = run(&mut c, json!({"command": TREE})).await;
    let mut all = pids(&stdout_lines(&mut c, &id, 2).await);
    let r = tool(&mut c, "kill_background", json!({"jobId": id})).await;
    assert_eq!(r["metadata"]["killed"], true, "{r}");
    assert_eq!(r["metadata"]["job"]["status"], "killed");
    assert!(r["output"].as_str().unwrap().contains("Stopped job"));
    all.push(job_pid(&r));
    assert_all_gone(&all).await;

    let r = tool(&mut c, "kill_background", json!({"jobId": id})).await;
    assert_eq!(r["metadata"]["killed"], false);
    assert!(
        r["output"].as_str().unwrap().contains("already ended"),
        "{r}"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_group_ignoring_sigterm_is_sigkilled_after_the_grace() {
    let (mut c, _h, _ws) = start(config()).await;
    // Ignored signals stay ignored in the children too.
    let id = run(
        &mut c,
        json!({"command": "trap '' TERM; sleep 300 & echo $!; wait"}),
    )
    .await;
    let mut all = pids(&stdout_lines(&mut c, &id, 1).await);
    let r = tool(&mut c, "kill_background", json!({"jobId": id})).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "killed", "{r}");
    assert_eq!(job["signal"], "SIGKILL", "{r}");
    all.push(job_pid(&r));
    assert_all_gone(&all).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn what_a_finished_shell_leaves_running_is_stopped() {
    let (mut c, _h, _ws) = start(config()).await;
    let id = run(&mut c, json!({"command": "sleep 300 & echo $!"})).await;
    let r = finished(&mut c, &id).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "exited", "{r}");
    assert!(
        job["note"].as_str().unwrap().contains("left running"),
        "{r}"
    );
    assert_all_gone(&pids(&lines(&r, "stdout"))).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn shutting_down_stops_running_jobs() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config()).await;
    let id = run(&mut c, json!({"command": TREE})).await;
    let mut all = pids(&stdout_lines(&mut c, &id, 2).await);
    let r = check(&mut c, &id, json!({})).await;
    all.push(job_pid(&r));
    assert_eq!(c.shutdown().await.exit_code, 0);
    assert_all_gone(&all).await;

    // Recorded as killed, not lost: the orchestrator knew what it did.
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config()).await;
    let r = check(&mut c, &id, json!({})).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "killed", "{r}");
    assert!(job["note"].as_str().unwrap().contains("shut down"), "{r}");
    assert_eq!(
        lines(&r, "stdout").len(),
        2,
        "output is read back from the log"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn completion_is_announced_with_the_calling_session() {
    let (mut c, _h, _ws) = start(config()).await;
    let r = c
        .ok(
            "orchestrator/tools/call",
            json!({"name": "run_background", "arguments": {"command": "exit 4", "label": "four"},
                   "context": {"sessionId": "ses_caller"}}),
        )
        .await;
    let id = r["metadata"]["job"]["jobId"].as_str().unwrap().to_string();
    let event = c
        .events_until(|e| e["type"] == "background.completed" && e["data"]["jobId"] == id)
        .await
        .pop()
        .unwrap();
    let data = &event["data"];
    assert_eq!(data["startedBy"], "ses_caller");
    assert_eq!(data["label"], "four");
    assert_eq!(data["status"], "failed");
    assert_eq!(data["exitCode"], 4);
    assert!(data["durationMs"].is_u64(), "{event}");
    // Committed: replay serves it too.
    let replay = c
        .ok("orchestrator/events/replay", json!({"afterSeq": 0}))
        .await;
    assert!(
        replay["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "background.completed" && e["data"]["jobId"] == id)
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn listings_are_newest_first() {
    let (mut c, _h, _ws) = start(config()).await;
    let mut ids = Vec::new();
    for label in ["first", "second", "third"] {
        ids.push(run(&mut c, json!({"command": "true", "label": label})).await);
    }
    let running = run(&mut c, json!({"command": "sleep 300", "label": "fourth"})).await;
    for id in &ids {
        finished(&mut c, id).await;
    }
    let r = tool(&mut c, "list_background", json!({})).await;
    let labels: Vec<&str> = r["metadata"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["fourth", "third", "second", "first"]);
    assert_eq!(r["metadata"]["total"], 4);
    assert!(r["output"].as_str().unwrap().contains("running for"), "{r}");

    let r = tool(&mut c, "list_background", json!({"limit": 2})).await;
    assert_eq!(r["metadata"]["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(r["metadata"]["total"], 4);
    let r = tool(&mut c, "list_background", json!({"status": ["running"]})).await;
    assert_eq!(r["metadata"]["total"], 1);
    assert_eq!(r["metadata"]["jobs"][0]["jobId"], running.as_str());
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn old_finished_jobs_are_pruned() {
    let (mut c, _h, ws) = start(json!({"jobs": {"keepFinished": 2}})).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let id = run(&mut c, json!({"command": "echo x"})).await;
        finished(&mut c, &id).await;
        ids.push(id);
    }
    let r = tool(&mut c, "list_background", json!({})).await;
    assert_eq!(r["metadata"]["total"], 2, "{r}");
    let dir = ws.root().join(".opencode/orchestrator/jobs");
    assert!(!dir.join(format!("{}.json", ids[0])).exists());
    assert!(!dir.join(format!("{}.stdout.log", ids[0])).exists());
    assert!(dir.join(format!("{}.json", ids[3])).exists());
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn running_jobs_are_limited() {
    let (mut c, _h, _ws) = start(json!({"jobs": {"maxRunning": 1, "killGraceMs": 300}})).await;
    let id = run(&mut c, json!({"command": "sleep 300"})).await;
    let e = tool_err(&mut c, "run_background", json!({"command": "true"})).await;
    assert_eq!(e.code, -32016, "{e:?}");
    assert!(e.message.contains("jobs.maxRunning"), "{e:?}");
    tool(&mut c, "kill_background", json!({"jobId": id})).await;
    let id = run(&mut c, json!({"command": "true"})).await;
    assert_eq!(
        finished(&mut c, &id).await["metadata"]["job"]["status"],
        "exited"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let (mut c, _h, ws) = start(json!({"jobs": {"maxTimeoutMs": 60000}})).await;
    std::fs::write(ws.root().join("file.txt"), "x").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.root().join("link")).unwrap();

    // (tool, arguments, kind, field, words in the message)
    let cases = [
        (
            "run_background",
            json!({}),
            "invalid_arguments",
            "/command",
            "command",
        ),
        (
            "run_background",
            json!({"command": ""}),
            "invalid_arguments",
            "/command",
            "command",
        ),
        (
            "run_background",
            json!({"command": "  \n "}),
            "invalid_argument",
            "command",
            "must not be empty",
        ),
        (
            "run_background",
            json!({"command": "true", "cwd": "../"}),
            "invalid_argument",
            "cwd",
            "outside the workspace",
        ),
        (
            "run_background",
            json!({"command": "true", "cwd": "/"}),
            "invalid_argument",
            "cwd",
            "outside the workspace",
        ),
        (
            "run_background",
            json!({"command": "true", "cwd": "../../nowhere/at/all"}),
            "invalid_argument",
            "cwd",
            "outside the workspace",
        ),
        (
            "run_background",
            json!({"command": "true", "cwd": "link"}),
            "invalid_argument",
            "cwd",
            "outside the workspace",
        ),
        (
            "run_background",
            json!({"command": "true", "cwd": "missing/dir"}),
            "invalid_argument",
            "cwd",
            "does not exist",
        ),
        (
            "run_background",
            json!({"command": "true", "cwd": "file.txt"}),
            "invalid_argument",
            "cwd",
            "not a directory",
        ),
        (
            "run_background",
            json!({"command": "true", "timeoutMs": 0}),
            "invalid_arguments",
            "/timeoutMs",
            "timeoutMs",
        ),
        (
            "run_background",
            json!({"command": "true", "timeoutMs": -5}),
            "invalid_arguments",
            "/timeoutMs",
            "timeoutMs",
        ),
        (
            "run_background",
            json!({"command": "true", "timeoutMs": 999_999_999_999u64}),
            "invalid_arguments",
            "/timeoutMs",
            "timeoutMs",
        ),
        (
            "run_background",
            json!({"command": "true", "timeoutMs": 120000}),
            "invalid_argument",
            "timeoutMs",
            "jobs.maxTimeoutMs",
        ),
        (
            "run_background",
            json!({"command": "true", "env": {"A=B": "x"}}),
            "invalid_argument",
            "env",
            "not a valid variable name",
        ),
        (
            "run_background",
            json!({"command": "true", "shell": "bash"}),
            "invalid_arguments",
            "",
            "shell",
        ),
        (
            "check_background",
            json!({"jobId": "job_nope"}),
            "invalid_argument",
            "jobId",
            "no background job",
        ),
        (
            "check_background",
            json!({}),
            "invalid_arguments",
            "/jobId",
            "jobId",
        ),
        (
            "kill_background",
            json!({"jobId": "job_nope"}),
            "invalid_argument",
            "jobId",
            "no background job",
        ),
        (
            "list_background",
            json!({"status": ["sleeping"]}),
            "invalid_arguments",
            "/status/0",
            "sleeping",
        ),
    ];
    for (name, args, kind, field, words) in cases {
        let e = tool_err(&mut c, name, args.clone()).await;
        assert_eq!(e.code, -32602, "{name} {args}: {e:?}");
        let data = e.data.as_ref().unwrap();
        assert_eq!(data["kind"], kind, "{name} {args}: {e:?}");
        assert_eq!(data["field"], field, "{name} {args}: {e:?}");
        assert_eq!(data["tool"], name, "{name} {args}: {e:?}");
        assert!(e.message.contains(words), "{name} {args}: {e:?}");
    }
    // Nothing was started, and the server goes on.
    let r = tool(&mut c, "list_background", json!({})).await;
    assert_eq!(r["metadata"]["total"], 0);
    let id = run(&mut c, json!({"command": "true", "cwd": "."})).await;
    assert_eq!(
        finished(&mut c, &id).await["metadata"]["job"]["status"],
        "exited"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn bad_jobs_config_is_refused_with_its_key() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root(), "config": {"jobs": {"maxRunning": 0}}}}),
        )
        .await;
    assert_eq!(e.code, -32602);
    assert!(e.message.contains("jobs.maxRunning"), "{e:?}");
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root(), "config": {"jobs": {"killGraceMs": 70000}}}}),
        )
        .await;
    assert!(e.message.contains("jobs.killGraceMs"), "{e:?}");
}

/// The real server over pipes, to be killed without warning.
struct Server {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    inbox: std::sync::mpsc::Receiver<Value>,
    next_id: i64,
}

impl Server {
    fn spawn(home: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_opencode-orchestrator"))
            .args(["serve", "--standalone"])
            .arg("--log-file")
            .arg(home.join("server.log"))
            .env("XDG_CONFIG_HOME", home)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, inbox) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let header = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len: usize = header
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap();
                    if buf.len() < end + 4 + len {
                        break;
                    }
                    let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
                    if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                        return;
                    }
                }
                match stdout.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        Server {
            child,
            stdin,
            inbox,
            next_id: 0,
        }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.inbox.recv_timeout(left).expect("no reply in time");
            if msg["id"] == id && msg.get("method").is_none() {
                assert!(msg.get("error").is_none(), "{method} failed: {msg}");
                return msg["result"].clone();
            }
        }
    }
}

#[tokio::test]
async fn after_a_crash_running_jobs_are_lost_with_their_output_and_their_processes_stopped() {
    let ws = Workspace::new();
    let home = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(home.path());
    server.request(
        "initialize",
        json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root(), "clientName": "doomed", "config": {"backend": "scripted"}}}),
    );
    server.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    let call = |name: &str, args: Value| json!({"name": name, "arguments": args, "context": {"sessionId": "ses_crash"}});
    let r = server.request(
        "orchestrator/tools/call",
        call(
            "run_background",
            json!({"command": "sleep 300 & echo $!; echo started; echo warned >&2; wait", "label": "doomed"}),
        ),
    );
    let id = r["metadata"]["job"]["jobId"].as_str().unwrap().to_string();
    let shell = job_pid(&r);
    let start = Instant::now();
    let out = loop {
        let r = server.request(
            "orchestrator/tools/call",
            call("check_background", json!({"jobId": id})),
        );
        if lines(&r, "stdout").len() == 2 && lines(&r, "stderr").len() == 1 {
            break lines(&r, "stdout");
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{r}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let child = pids(&out)[0];

    // SIGKILL: no shutdown, nothing recorded; the job's processes outlive the server.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(alive(shell) && alive(child));

    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config()).await;
    let r = tool(&mut c, "list_background", json!({})).await;
    assert_eq!(r["metadata"]["jobs"][0]["jobId"], id.as_str(), "{r}");
    assert_eq!(r["metadata"]["jobs"][0]["status"], "lost", "{r}");
    let r = check(&mut c, &id, json!({})).await;
    assert_eq!(lines(&r, "stdout"), out, "saved output: {r}");
    assert_eq!(lines(&r, "stderr"), ["warned"]);
    let note = r["metadata"]["job"]["note"].as_str().unwrap();
    assert!(
        note.contains("stopped while this job was running"),
        "{note}"
    );
    assert!(
        note.contains("still running and have been stopped"),
        "{note}"
    );
    assert!(r["output"].as_str().unwrap().contains(": lost"), "{r}");
    assert_all_gone(&[shell, child]).await;

    // The loss is announced (for the session that started it), once.
    let start = Instant::now();
    loop {
        let replay = c
            .ok("orchestrator/events/replay", json!({"afterSeq": 0}))
            .await;
        let found: Vec<&Value> = replay["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "background.completed" && e["data"]["jobId"] == id)
            .collect();
        if let Some(e) = found.first() {
            assert_eq!(found.len(), 1);
            assert_eq!(e["data"]["status"], "lost");
            assert_eq!(e["data"]["startedBy"], "ses_crash");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{replay}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.shutdown().await.exit_code, 0);

    // A second restart finds it lost still, and announces nothing new.
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config()).await;
    let r = check(&mut c, &id, json!({})).await;
    assert_eq!(r["metadata"]["job"]["status"], "lost");
    let replay = c
        .ok("orchestrator/events/replay", json!({"afterSeq": 0}))
        .await;
    let n = replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "background.completed")
        .count();
    assert_eq!(n, 1);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[test]
fn jobs_die_with_the_runtime_even_without_a_shutdown() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ws = Workspace::new();
    // The client stays alive, so the connection never ends and nothing shuts down: only the
    // last-resort kill on drop can stop the job.
    let (client, id, all) = rt.block_on(async {
        let (source, _h) = scripted();
        let mut c = connect(source);
        c.initialize(&ws.root(), config()).await;
        let id = run(&mut c, json!({"command": TREE})).await;
        let mut all = pids(&stdout_lines(&mut c, &id, 2).await);
        let r = check(&mut c, &id, json!({})).await;
        all.push(job_pid(&r));
        (c, id, all)
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    let start = Instant::now();
    while all.iter().any(|p| alive(*p)) {
        assert!(start.elapsed() < Duration::from_secs(3), "orphans: {all:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(client);
    let record: Value = serde_json::from_slice(
        &std::fs::read(
            ws.root()
                .join(format!(".opencode/orchestrator/jobs/{id}.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record["status"], "killed", "{record}");
    assert!(
        record["note"]
            .as_str()
            .unwrap()
            .contains("without shutting down"),
        "{record}"
    );
}

#[tokio::test]
async fn running_jobs_of_another_live_server_are_not_taken_for_lost() {
    let ws = Workspace::new();
    let dir = ws.root().join(".opencode/orchestrator/jobs");
    std::fs::create_dir_all(&dir).unwrap();
    // Stands in for a second orchestrator process serving the same workspace.
    let mut owner = Command::new("sleep").arg("30").spawn().unwrap();
    let mut record = json!({
        "jobId": "job_elsewhere", "label": "theirs", "command": "make", "cwd": ".",
        "status": "running", "startedAt": 1, "timeoutMs": 60000, "ownerPid": owner.id(),
        "stdoutLog": dir.join("job_elsewhere.stdout.log"),
        "stderrLog": dir.join("job_elsewhere.stderr.log"),
    });
    let path = dir.join("job_elsewhere.json");
    std::fs::write(&path, record.to_string()).unwrap();
    std::fs::write(dir.join("job_elsewhere.stdout.log"), "building\n").unwrap();

    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config()).await;
    let r = check(&mut c, "job_elsewhere", json!({})).await;
    assert_eq!(r["metadata"]["job"]["status"], "running", "{r}");
    assert_eq!(lines(&r, "stdout"), ["building"]);
    let e = tool_err(&mut c, "kill_background", json!({"jobId": "job_elsewhere"})).await;
    assert_eq!(e.code, -32016, "{e:?}");
    assert!(e.message.contains("another orchestrator process"), "{e:?}");

    // Its owner records the end; this server reads it.
    record["status"] = json!("exited");
    record["exitCode"] = json!(0);
    std::fs::write(&path, record.to_string()).unwrap();
    let r = tool(&mut c, "list_background", json!({})).await;
    assert_eq!(r["metadata"]["jobs"][0]["status"], "exited", "{r}");
    owner.kill().unwrap();
    owner.wait().unwrap();
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_capped_log_does_not_hide_the_newest_lines() {
    let (mut c, _h, _ws) = start(json!({"jobs": {"maxLogBytes": 1024, "memoryBytes": 4096}})).await;
    let id = run(
        &mut c,
        json!({"command": "for i in $(seq 1 2000); do echo \"line $i\"; done"}),
    )
    .await;
    let r = check(&mut c, &id, json!({"waitMs": 10000, "tailLines": 1000})).await;
    let got = lines(&r, "stdout");
    assert_eq!(got.last().map(String::as_str), Some("line 2000"), "{r}");
    assert!(got.len() < 1000, "memory holds fewer than asked");
    let first: u32 = got[0].trim_start_matches("line ").parse().unwrap();
    assert_eq!(
        first as usize,
        2001 - got.len(),
        "the newest lines, in order"
    );
    let note = r["metadata"]["stdout"]["note"].as_str().unwrap();
    assert!(
        note.starts_with(&format!("{} earlier lines are not shown", 1000 - got.len())),
        "{note}"
    );
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains(&format!("[… {note}]"))
    );
    assert_eq!(r["metadata"]["stdout"]["total"], 2000);
    // What memory can answer has no note.
    let r = check(&mut c, &id, json!({"tailLines": 3})).await;
    assert_eq!(lines(&r, "stdout"), ["line 1998", "line 1999", "line 2000"]);
    assert!(r["metadata"]["stdout"]["note"].is_null());
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_kill_after_the_shell_exited_on_its_own_does_not_relabel_it() {
    let (mut c, _h, _ws) = start(json!({"jobs": {"killGraceMs": 2000}})).await;
    // The shell exits at once; the sleep it leaves ignores SIGTERM, so stopping it takes the
    // whole grace: the kill lands in that window.
    let id = run(
        &mut c,
        json!({"command": "(trap '' TERM; exec sleep 30) & echo hi; exit 0"}),
    )
    .await;
    let r = check(&mut c, &id, json!({})).await;
    let shell = r["metadata"]["job"]["pid"]
        .as_u64()
        .expect("the shell's pid");
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{shell}")).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the shell never exited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let k = tool(&mut c, "kill_background", json!({"jobId": id})).await;
    assert_eq!(k["metadata"]["killed"], false, "{k}");
    let r = finished(&mut c, &id).await;
    let job = &r["metadata"]["job"];
    assert_eq!(job["status"], "exited", "{r}");
    assert_eq!(job["exitCode"], 0);
    assert!(
        job["durationMs"].as_u64().unwrap() < 1000,
        "timed from the shell's exit: {job}"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}
