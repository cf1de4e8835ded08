//! The LSP lifecycle: initialize, initialized, shutdown, exit, end of input.

mod common;

use common::*;
use opencode_orchestrator::server::protocol::METHODS;
use serde_json::{Value, json};

#[tokio::test]
async fn initialize_advertises_the_orchestrator_protocol() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    let result = c.initialize(&ws.root(), json!({})).await;
    let orch = &result["capabilities"]["experimental"]["orchestrator"];
    assert_eq!(orch["protocolVersion"], 1);
    let methods: Vec<&str> = orch["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(methods, METHODS);
    for m in METHODS {
        // Every advertised method answers (not "method not found").
        let r = c.call(m, json!({})).await;
        if let Err(e) = r {
            assert_ne!(e.code, -32601, "{m} is advertised but not routed");
        }
    }
    assert!(
        orch["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "delegate_task")
    );
    assert_eq!(result["serverInfo"]["name"], "opencode-orchestrator");
    // The ledger lives in the workspace by default.
    assert!(ws.root().join(".opencode/orchestrator/state.db").exists());
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn requests_before_initialize_are_refused_and_the_server_goes_on() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    let e = c.err("orchestrator/stats", json!({})).await;
    assert_eq!(e.code, -32002, "ServerNotInitialized: {e:?}");
    c.initialize(&ws.root(), json!({})).await;
    c.ok("orchestrator/stats", json!({})).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn exit_without_shutdown_exits_with_1() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), json!({})).await;
    c.notify("exit", Value::Null).await;
    let ended = c.finish().await;
    assert!(ended.exit_received);
    assert_eq!(ended.exit_code, 1);
}

#[tokio::test]
async fn exit_ends_promptly_even_if_more_input_follows() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), json!({})).await;
    c.ok("shutdown", Value::Null).await;
    // exit, then more requests in the same write: they must not keep the server alive.
    let mut bytes = frame(r#"{"jsonrpc":"2.0","method":"exit"}"#);
    bytes.extend(frame(
        r#"{"jsonrpc":"2.0","id":99,"method":"orchestrator/stats","params":{}}"#,
    ));
    c.send_raw(&bytes).await;
    let ended = c.finish().await;
    assert_eq!(ended.exit_code, 0);
}

#[tokio::test]
async fn end_of_input_ends_the_connection() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), json!({})).await;
    c.close_input().await;
    let ended = c.finish().await;
    assert!(!ended.exit_received);
    assert_eq!(ended.exit_code, 1);
}

#[tokio::test]
async fn requests_after_shutdown_are_invalid() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), json!({})).await;
    c.ok("shutdown", Value::Null).await;
    let e = c.err("orchestrator/stats", json!({})).await;
    assert_eq!(e.code, -32600);
    c.notify("exit", Value::Null).await;
    assert_eq!(c.finish().await.exit_code, 0);
}

#[tokio::test]
async fn bad_initialize_options_are_clear_errors() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": "relative/dir"}}),
        )
        .await;
    assert_eq!(e.code, -32602);
    assert!(e.message.contains("absolute"), "{}", e.message);
    let e = c
        .err("initialize", json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": "/definitely/not/here"}}))
        .await;
    assert!(e.message.contains("not a directory"), "{}", e.message);
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root(), "config": {"scheduler": {"maxPerAgent": 0}}}}),
        )
        .await;
    assert!(e.message.contains("scheduler.maxPerAgent"), "{}", e.message);
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": 5}}),
        )
        .await;
    assert!(e.message.contains("workspaceRoot"), "{}", e.message);
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspace_root": ws.root()}}),
        )
        .await;
    assert!(
        e.message.contains("workspace_root"),
        "typos are errors, not silently ignored: {}",
        e.message
    );
    // A good initialize still works after all that.
    c.initialize(&ws.root(), json!({})).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_bad_workspace_config_file_is_reported_at_initialize() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.root().join(".opencode")).unwrap();
    std::fs::write(
        ws.root().join(".opencode/orchestrator.json"),
        r#"{"scheduler": {"queueCapacity": -1}}"#,
    )
    .unwrap();
    let (source, _h) = scripted();
    let mut c = connect(source);
    let e = c
        .err(
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root()}}),
        )
        .await;
    assert!(
        e.message.contains("queueCapacity") && e.message.contains("orchestrator.json"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn without_opencode_delegation_is_refused_clearly() {
    let ws = Workspace::new();
    let mut c = connect(opencode_orchestrator::server::CoreSource::OnInitialize { backend: None });
    c.initialize(&ws.root(), json!({})).await;
    let e = c
        .err(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "x", "prompt": "y"}),
        )
        .await;
    assert_eq!(e.code, -32014);
    assert!(
        e.message.contains("no agent runtime") && e.message.contains("opencodeUrl"),
        "{}",
        e.message
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn root_uri_names_the_workspace_for_older_clients() {
    let ws = Workspace::new();
    let (source, _h) = scripted();
    let mut c = connect(source);
    let uri = format!("file://{}", ws.root().display());
    c.ok("initialize", json!({"capabilities": {}, "rootUri": uri}))
        .await;
    let stats = c.ok("orchestrator/stats", json!({})).await;
    assert_eq!(stats["workspaceRoot"], ws.root().display().to_string());
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn an_opencode_url_that_does_not_answer_is_explained() {
    let ws = Workspace::new();
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = connect(opencode_orchestrator::server::CoreSource::OnInitialize { backend: None });
    c.ok(
        "initialize",
        json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root(), "opencodeUrl": format!("http://127.0.0.1:{port}")}}),
    )
    .await;
    let e = c
        .err(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "x", "prompt": "y"}),
        )
        .await;
    assert_eq!(e.code, -32014);
    assert!(e.message.contains("does not answer"), "{}", e.message);
    assert_eq!(c.shutdown().await.exit_code, 0);
}
