//! The real binary: subcommands, logging, and the stdio lifecycle through real pipes.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_opencode-orchestrator");

fn frame(body: &str) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body.as_bytes());
    v
}

/// A command with an isolated config dir, so the machine's user config cannot interfere.
fn cmd(config_home: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("XDG_CONFIG_HOME", config_home).env_remove("RUST_LOG");
    c
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    None
}

#[test]
fn version_log_path_and_config_schema() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path()).arg("version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));

    let out = cmd(home.path()).arg("log-path").output().unwrap();
    let path = String::from_utf8_lossy(&out.stdout);
    assert!(path.trim().ends_with("opencode-orchestrator.log"), "{path}");

    let out = cmd(home.path()).arg("config-schema").output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shipped: serde_json::Value =
        serde_json::from_str(include_str!("../docs/config.schema.json")).unwrap();
    assert_eq!(schema, shipped);
}

#[test]
fn a_bad_user_config_stops_serve_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("opencode-orchestrator");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"scheduler": {"maxConcurrent": 0}}"#,
    )
    .unwrap();
    let out = cmd(home.path())
        .args(["serve", "--standalone"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scheduler.maxConcurrent") && err.contains("config.json"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing but protocol frames may go to stdout"
    );
}

/// Runs `serve` with `input` on stdin, keeping stdin open afterwards; returns exit code and stdout.
fn serve(
    input: &[u8],
    close_stdin: bool,
) -> (Option<i32>, String, std::path::PathBuf, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("server.log");
    let mut child = cmd(home.path())
        .args(["serve", "--standalone", "--log-file"])
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    stdin.flush().unwrap();
    let keep_open = if close_stdin {
        drop(stdin);
        None
    } else {
        Some(stdin)
    };
    let code = wait_with_timeout(&mut child, Duration::from_secs(10));
    drop(keep_open);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (code, out, log, home)
}

fn init(root: &std::path::Path) -> String {
    serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{},"initializationOptions":{"workspaceRoot": root}}}).to_string()
}

#[test]
fn exit_after_shutdown_ends_the_process_with_0_while_stdin_stays_open() {
    let ws = tempfile::tempdir().unwrap();
    let mut input = frame(&init(ws.path()));
    input.extend(frame(r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#));
    input.extend(frame(r#"{"jsonrpc":"2.0","method":"exit"}"#));
    input.extend(frame(
        r#"{"jsonrpc":"2.0","id":3,"method":"orchestrator/stats","params":{}}"#,
    ));
    let (code, out, log, _home) = serve(&input, false);
    assert_eq!(code, Some(0), "stdout: {out}");
    assert!(
        out.contains(r#""id":1"#) && out.contains(r#""id":2"#),
        "{out}"
    );
    assert!(
        !out.contains(r#""id":3"#),
        "nothing is answered after exit: {out}"
    );
    // Logs went to the log file, never to stdout.
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("initialize"), "{log}");
    assert!(out.starts_with("Content-Length:"));
}

#[test]
fn exit_without_shutdown_is_1_and_end_of_input_ends_the_process() {
    let ws = tempfile::tempdir().unwrap();
    let mut input = frame(&init(ws.path()));
    input.extend(frame(r#"{"jsonrpc":"2.0","method":"exit"}"#));
    let (code, _, _, _home) = serve(&input, false);
    assert_eq!(code, Some(1));

    let (code, out, _, _home) = serve(&frame(&init(ws.path())), true);
    assert_eq!(code, Some(1), "{out}");
}
