//! How the daemon finds OpenCode for its clients, and finds it again: an OpenCode that stops
//! answering is replaced by the next one offered, the configured URL takes over when the
//! bridge in use leaves, and an OpenCode the daemon started is started again when it exits.
//! OpenCode is played by tiny servers on 127.0.0.1.

mod fake_http;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fake_http::{FakeServer, Request, Response};
use opencode_orchestrator::config::{BackendKind, Config};
use opencode_orchestrator::daemon::DaemonCore;
use opencode_orchestrator::orchestrator::backend::SessionBackend;
use opencode_orchestrator::orchestrator::backend::opencode::bridge::BridgeFailure;
use opencode_orchestrator::orchestrator::backend::opencode::{BridgeApi, BridgeLink};
use opencode_orchestrator::orchestrator::backend::slot::{BackendSlot, Provider};
use opencode_orchestrator::orchestrator::{OpenParams, Orchestrator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn opencode(req: &Request) -> Response {
    match req.path() {
        "/global/health" => Response::json(json!({"healthy": true, "version": "fake"})),
        _ => Response::new(404, "text/plain", "not here"),
    }
}

async fn core(ws: &Path, config: impl FnOnce(&mut Config)) -> Arc<DaemonCore> {
    let mut c = Config {
        backend: BackendKind::Opencode,
        ..Config::default()
    };
    c.opencode.auto_start = false;
    config(&mut c);
    let slot = Arc::new(BackendSlot::default());
    let backend: Arc<dyn SessionBackend> = slot.clone();
    let orchestrator = Orchestrator::open(OpenParams {
        workspace_root: ws.to_path_buf(),
        config: c.clone(),
        backend: Ok(backend),
    })
    .await
    .expect("open");
    Arc::new(DaemonCore::new(ws.to_path_buf(), c, orchestrator, slot))
}

fn http(url: &str) -> Option<Provider> {
    Some(Provider::Http(url.trim_end_matches('/').to_string()))
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_opencode_that_stops_answering_is_replaced_by_the_next_one_offered() {
    let ws = tempfile::tempdir().unwrap();
    let core = core(ws.path(), |_| {}).await;
    let first = FakeServer::start(opencode).await;
    let second = FakeServer::start(opencode).await;
    let (first_url, second_url) = (first.url(""), second.url(""));

    core.offer(1, Some(first_url.clone()), None).await;
    assert_eq!(core.slot.provider(), http(&first_url));
    // Another OpenCode comes along while the first still answers: the first stays.
    core.offer(2, Some(second_url.clone()), None).await;
    assert_eq!(core.slot.provider(), http(&first_url));

    // The first one goes away (the user restarted OpenCode on another port).
    drop(first);
    core.offer(3, Some(second_url.clone()), None).await;
    assert_eq!(core.slot.provider(), http(&second_url));
    // A client that brings nothing keeps what answers.
    core.offer(4, None, None).await;
    assert_eq!(core.slot.provider(), http(&second_url));
}

struct SilentPlugin;

#[async_trait]
impl BridgeLink for SilentPlugin {
    async fn call(&self, op: &str, _params: Value) -> Result<Value, BridgeFailure> {
        Err(BridgeFailure {
            status: None,
            message: format!("{op}: not in this test"),
        })
    }
}

#[tokio::test]
async fn when_the_bridge_in_use_leaves_the_configured_url_takes_over() {
    let ws = tempfile::tempdir().unwrap();
    // The configured OpenCode is down at first: the plugin's bridge is used.
    let down = FakeServer::start(opencode).await;
    let url = down.url("");
    drop(down);
    let core = core(ws.path(), |c| c.opencode.url = Some(url.clone())).await;
    let a = core.client_joined();
    core.offer(a, None, Some(Arc::new(BridgeApi::new(SilentPlugin))))
        .await;
    assert_eq!(core.slot.provider(), Some(Provider::Bridge(a)));
    let b = core.client_joined();
    core.offer(b, None, None).await; // VS Code: no URL, no bridge
    assert_eq!(core.slot.provider(), Some(Provider::Bridge(a)));

    // The configured OpenCode comes up on that port; then the plugin's OpenCode closes.
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let _up = FakeServer::start_on(port, opencode).await;
    core.client_left(a);
    until("the configured URL is used", || {
        core.slot.provider() == http(&url)
    })
    .await;
}

/// An `opencode` stand-in for `opencode.bin`: a Node server that says where it listens,
/// answers `/global/health`, and writes its pid to `pids` (one line per start).
fn fake_opencode_bin(dir: &Path) -> (String, std::path::PathBuf) {
    let pids = dir.join("pids");
    let bin = dir.join("fake-opencode");
    let script = format!(
        r#"#!/usr/bin/env node
const http = require("http");
const fs = require("fs");
fs.appendFileSync({pids:?}, process.pid + "\n");
const server = http.createServer((req, res) => {{
  if (req.url === "/global/health") {{
    res.writeHead(200, {{"content-type": "application/json"}});
    res.end(JSON.stringify({{healthy: true, version: "fake"}}));
  }} else {{ res.writeHead(404); res.end(); }}
}});
server.listen(0, "127.0.0.1", () => {{
  console.log("opencode server listening on http://127.0.0.1:" + server.address().port);
}});
"#,
        pids = pids.display().to_string()
    );
    std::fs::write(&bin, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin.display().to_string(), pids)
}

fn started(pids: &Path) -> Vec<i32> {
    std::fs::read_to_string(pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[tokio::test]
async fn the_opencode_the_daemon_started_is_started_again_when_it_exits() {
    let ws = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let (bin, pids) = fake_opencode_bin(tools.path());
    let core = core(ws.path(), |c| {
        c.opencode.auto_start = true;
        c.opencode.bin = bin;
    })
    .await;
    let client = core.client_joined();
    core.offer(client, None, None).await;
    let Some(Provider::Http(first)) = core.slot.provider() else {
        panic!("not started: {:?}", core.slot.provider());
    };
    let first_pid = started(&pids)[0];

    // It dies under the daemon: a new one is started and used.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(first_pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    until(
        "a second OpenCode is used",
        || matches!(core.slot.provider(), Some(Provider::Http(u)) if u != first),
    )
    .await;
    assert_eq!(started(&pids).len(), 2);
    core.stop_opencode().await;
}

#[tokio::test]
async fn queued_tasks_wait_for_a_runtime_instead_of_failing() {
    use opencode_orchestrator::orchestrator::DelegateRequest;
    use opencode_orchestrator::orchestrator::backend::scripted::ScriptedBackend;
    use opencode_orchestrator::orchestrator::task::TaskStatus;

    let ws = tempfile::tempdir().unwrap();
    let mut config = Config {
        backend: BackendKind::Scripted,
        ..Config::default()
    };
    config.scheduler.max_per_agent = 1;
    let open = |backend: Arc<dyn SessionBackend>, config: Config| {
        let root = ws.path().to_path_buf();
        async move {
            Orchestrator::open(OpenParams {
                workspace_root: root,
                config,
                backend: Ok(backend),
            })
            .await
            .expect("open")
        }
    };
    // A run that ends with one task running and one queued behind it.
    let (scripted, _h) = ScriptedBackend::new();
    let first = open(Arc::new(scripted), config.clone()).await;
    first.start_recovery();
    let delegate = |prompt: &str| DelegateRequest {
        agent: "builder".into(),
        description: "work".into(),
        prompt: prompt.into(),
        background: true,
        ..Default::default()
    };
    let running = first
        .delegate(delegate(&json!({"script": {"hang": true}}).to_string()))
        .await
        .unwrap();
    let queued = first.delegate(delegate("later")).await.unwrap();
    until_async("the first task runs", || async {
        first.get(&running.id).await.unwrap().status == TaskStatus::Running
    })
    .await;
    first.shutdown().await;

    // The next run has no runtime yet (a daemon before any client brought OpenCode).
    let slot = Arc::new(BackendSlot::default());
    let second = open(slot.clone(), config).await;
    second.start_recovery();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        second.get(&queued.id).await.unwrap().status,
        TaskStatus::Queued,
        "no runtime: it waits"
    );
    // A runtime is plugged in: the queued task runs.
    let (scripted, _h) = ScriptedBackend::new();
    slot.set(
        Arc::new(scripted),
        Provider::Http("http://127.0.0.1:1".into()),
    );
    second.start_recovery();
    let done = second.wait(&queued.id, WAIT).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.result.as_deref(), Some("done: later"));
    second.shutdown().await;
}

async fn until_async<F: std::future::Future<Output = bool>>(
    what: &str,
    mut cond: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_task_whose_session_died_with_the_old_runtime_is_interrupted_not_left_to_its_ttl() {
    use opencode_orchestrator::orchestrator::DelegateRequest;
    use opencode_orchestrator::orchestrator::backend::scripted::ScriptedBackend;
    use opencode_orchestrator::orchestrator::task::TaskStatus;

    let ws = tempfile::tempdir().unwrap();
    let config = Config {
        backend: BackendKind::Scripted,
        ..Config::default()
    };
    let slot = Arc::new(BackendSlot::default());
    let backend: Arc<dyn SessionBackend> = slot.clone();
    let orch = Orchestrator::open(OpenParams {
        workspace_root: ws.path().to_path_buf(),
        config,
        backend: Ok(backend),
    })
    .await
    .expect("open");
    let (first, _h1) = ScriptedBackend::new();
    slot.set(Arc::new(first), Provider::Bridge(1));
    orch.start_recovery();
    let task = orch
        .delegate(DelegateRequest {
            agent: "builder".into(),
            description: "long".into(),
            prompt: json!({"script": {"hang": true}}).to_string(),
            background: true,
            ..Default::default()
        })
        .await
        .unwrap();
    until_async("it runs", || async {
        orch.get(&task.id).await.unwrap().status == TaskStatus::Running
    })
    .await;
    // Another runtime takes over (OpenCode restarted): the session is there, its turn is not.
    let session = orch.get(&task.id).await.unwrap().session_id.unwrap();
    let (second, h2) = ScriptedBackend::new();
    h2.add_session(&session);
    slot.set(Arc::new(second), Provider::Bridge(2));
    // Jump the clock past the grace instead of waiting it out (each jump also covers a
    // timer set after the last one).
    for _ in 0..200 {
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(21)).await;
        tokio::time::resume();
        tokio::time::sleep(Duration::from_millis(10)).await;
        if orch.get(&task.id).await.unwrap().status.is_terminal() {
            break;
        }
    }
    let t = orch.get(&task.id).await.unwrap();
    assert_eq!(t.status, TaskStatus::Interrupted, "{t:?}");
    assert!(
        t.error
            .unwrap_or_default()
            .contains("stopped without an answer")
    );
    orch.shutdown().await;
}
