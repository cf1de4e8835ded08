//! Several clients on one orchestrator: shared tasks and events, and a client that never
//! reads stalls nobody.

mod common;

use std::sync::Arc;

use common::*;
use opencode_orchestrator::config::{BackendKind, Config};
use opencode_orchestrator::orchestrator::backend::scripted::ScriptedBackend;
use opencode_orchestrator::orchestrator::{OpenParams, Orchestrator};
use opencode_orchestrator::server::CoreSource;
use serde_json::json;
use tokio::io::AsyncWriteExt;

async fn shared(ws: &Workspace, config: Config) -> Orchestrator {
    let (backend, _h) = ScriptedBackend::new();
    Orchestrator::open(OpenParams {
        workspace_root: ws.root(),
        config,
        backend: Ok(Arc::new(backend)),
    })
    .await
    .expect("open orchestrator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_see_each_others_tasks_and_events() {
    let ws = Workspace::new();
    let orch = shared(
        &ws,
        Config {
            backend: BackendKind::Scripted,
            ..Config::default()
        },
    )
    .await;
    let mut a = connect(CoreSource::Shared(orch.clone()));
    let mut b = connect(CoreSource::Shared(orch.clone()));
    a.initialize(&ws.root(), json!({})).await;
    b.initialize(&ws.root(), json!({})).await;
    let id = a.delegate("builder", "from a").await;
    let e = b.wait_event("task.completed", &id).await;
    assert_eq!(e["data"]["agent"], "builder");
    assert_eq!(b.get(&id, 0).await["result"], "done: from a");
    let listed = b.ok("orchestrator/task/list", json!({})).await;
    assert_eq!(listed["total"], 1);
    // A client ending does not end the shared orchestrator.
    assert_eq!(a.shutdown().await.exit_code, 0);
    let id2 = b.delegate("builder", "after a left").await;
    assert_eq!(b.get(&id2, 10_000).await["status"], "completed");
    assert_eq!(b.shutdown().await.exit_code, 0);
    orch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_stall_another() {
    let ws = Workspace::new();
    let mut config = Config {
        backend: BackendKind::Scripted,
        ..Config::default()
    };
    config.events.client_queue = 64;
    config.scheduler.max_per_agent = 50;
    let orch = shared(&ws, config).await;

    // The deaf client initializes, then never reads a byte: its pipe (4 KiB) fills at once.
    let (mut deaf_w, _deaf_r, deaf_server) = connect_deaf(CoreSource::Shared(orch.clone()), 4096);
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{},"initializationOptions":{"workspaceRoot": ws.root()}}});
    deaf_w.write_all(&frame(&init.to_string())).await.unwrap();
    deaf_w
        .write_all(&frame(
            r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        ))
        .await
        .unwrap();

    let mut live = connect(CoreSource::Shared(orch.clone()));
    live.initialize(&ws.root(), json!({})).await;
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(live.delegate("builder", &format!("t{i}")).await);
    }
    let mut completed = std::collections::HashSet::new();
    while completed.len() < ids.len() {
        let e = live
            .events_until(|e| e["type"] == "task.completed")
            .await
            .pop()
            .unwrap();
        completed.insert(e["data"]["taskId"].as_str().unwrap().to_string());
    }
    // The live client saw every event, in order, with no loss.
    let stats = live.ok("orchestrator/stats", json!({})).await;
    assert_eq!(stats["client"]["droppedEvents"], 0);

    // The deaf client catches up later: it lost events but can replay them all.
    deaf_w.shutdown().await.unwrap();
    let ended = tokio::time::timeout(TIMEOUT, deaf_server)
        .await
        .expect("a stuck client's connection still ends")
        .unwrap();
    assert!(!ended.exit_received);
    let replay = live
        .ok(
            "orchestrator/events/replay",
            json!({"afterSeq": 0, "limit": 10000}),
        )
        .await;
    assert_eq!(
        replay["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "task.completed")
            .count(),
        300
    );
    assert_eq!(live.shutdown().await.exit_code, 0);
    orch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_client_is_told_how_many_events_it_lost() {
    let ws = Workspace::new();
    let mut config = Config {
        backend: BackendKind::Scripted,
        ..Config::default()
    };
    config.events.client_queue = 16;
    config.scheduler.max_per_agent = 50;
    let orch = shared(&ws, config).await;
    // A small pipe and a reader that starts late.
    let mut slow = connect_with(CoreSource::Shared(orch.clone()), Default::default(), 256);
    slow.initialize(&ws.root(), json!({})).await;
    // Generate events directly through the core while the slow client's pipe is full.
    for i in 0..200 {
        orch.delegate(opencode_orchestrator::orchestrator::DelegateRequest {
            agent: "builder".into(),
            description: "x".into(),
            prompt: format!("t{i}"),
            background: true,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut dropped = 0u64;
    let mut last_seq = 0u64;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        let Ok(Some(msg)) =
            tokio::time::timeout(std::time::Duration::from_millis(500), slow.inbox.recv()).await
        else {
            break;
        };
        if msg["method"] == "orchestrator/eventsDropped" {
            dropped += msg["params"]["dropped"].as_u64().unwrap();
        } else if msg["method"] == "orchestrator/event" {
            let seq = msg["params"]["seq"].as_u64().unwrap();
            assert!(seq > last_seq, "seq must strictly increase per client");
            last_seq = seq;
        }
    }
    let stats = slow.ok("orchestrator/stats", json!({})).await;
    assert_eq!(stats["client"]["droppedEvents"].as_u64().unwrap(), dropped);
    assert_eq!(slow.shutdown().await.exit_code, 0);
    orch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_orchestrator_refuses_new_tasks_clearly() {
    let ws = Workspace::new();
    let orch = shared(
        &ws,
        Config {
            backend: BackendKind::Scripted,
            ..Config::default()
        },
    )
    .await;
    let mut c = connect(CoreSource::Shared(orch.clone()));
    c.initialize(&ws.root(), json!({})).await;
    orch.shutdown().await;
    let e = c
        .err(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "late", "prompt": "x"}),
        )
        .await;
    assert_eq!(e.code, -32015);
    assert!(e.message.contains("shutting down"), "{}", e.message);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_orchestrator_reattaches_to_sessions_that_still_run() {
    let ws = Workspace::new();
    // The agent runtime outlives the orchestrator, as OpenCode does.
    let (backend, handle) = ScriptedBackend::new();
    let backend: Arc<dyn opencode_orchestrator::orchestrator::backend::SessionBackend> =
        Arc::new(backend);
    let config = Config {
        backend: BackendKind::Scripted,
        ..Config::default()
    };
    let open = |backend: Arc<dyn opencode_orchestrator::orchestrator::backend::SessionBackend>| {
        let config = config.clone();
        let root = ws.root();
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
    let first = open(backend.clone()).await;
    let task = first
        .delegate(opencode_orchestrator::orchestrator::DelegateRequest {
            agent: "builder".into(),
            description: "long job".into(),
            prompt: script(json!({"gate": "later", "reply": "finished after the restart"})),
            background: true,
            ..Default::default()
        })
        .await
        .unwrap();
    // Wait until it runs in its session, then stop the orchestrator under it.
    // Bounded by TIMEOUT, not a loop count: under a loaded machine the session can take a while.
    tokio::time::timeout(TIMEOUT, async {
        while first.get(&task.id).await.unwrap().session_id.is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the task never got a session");
    first.shutdown().await;

    let second = open(backend.clone()).await;
    let mut events = second.bus().subscribe();
    second.start_recovery();
    let reattached = loop {
        let e = tokio::time::timeout(TIMEOUT, events.recv())
            .await
            .unwrap()
            .unwrap();
        if e.kind == "task.reattached" {
            break e;
        }
    };
    assert_eq!(reattached.data["taskId"], task.id.as_str());
    handle.open_gate("later");
    let done = second
        .wait(&task.id, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        done.status,
        opencode_orchestrator::orchestrator::task::TaskStatus::Completed
    );
    assert_eq!(done.result.as_deref(), Some("finished after the restart"));
    second.shutdown().await;
}
