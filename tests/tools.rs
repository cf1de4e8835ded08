//! The tool registry over the protocol: schemas, validation, and each task tool.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn tools_list_serves_schemas() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let r = c.ok("orchestrator/tools/list", json!({})).await;
    let tools = r["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for n in [
        "cancel_task",
        "delegate_task",
        "get_task_result",
        "list_tasks",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    let delegate = tools.iter().find(|t| t["name"] == "delegate_task").unwrap();
    let schema = &delegate["inputSchema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["agent", "description", "prompt"]);
    assert_eq!(schema["properties"]["background"]["type"], "boolean");
    assert_eq!(
        schema["properties"]["resume"]["type"], "string",
        "optional fields are plain, not nullable"
    );
    assert!(delegate["description"].as_str().unwrap().len() > 20);
    let e = c.err("orchestrator/tools/list", json!({"x": 1})).await;
    assert_eq!(e.code, -32602);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn tool_calls_run_with_the_calling_session() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let ctx = json!({"sessionId": "ses_parent", "messageId": "msg_1", "agent": "commander"});
    let r = c
        .ok("orchestrator/tools/call", json!({"name": "delegate_task", "arguments": {"agent": "librarian", "description": "find docs", "prompt": "look up serde"}, "context": ctx}))
        .await;
    let id = r["metadata"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(r["output"].as_str().unwrap().contains(&id));
    assert_eq!(r["metadata"]["task"]["parentSessionId"], "ses_parent");

    let r = c
        .ok("orchestrator/tools/call", json!({"name": "get_task_result", "arguments": {"taskId": id, "waitMs": 10000}, "context": ctx}))
        .await;
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains("done: look up serde"),
        "{r}"
    );
    assert_eq!(r["metadata"]["task"]["status"], "completed");

    // Sync delegation returns the result itself.
    let r = c
        .ok("orchestrator/tools/call", json!({"name": "delegate_task", "arguments": {"agent": "builder", "description": "sync", "prompt": "now", "background": false}, "context": ctx}))
        .await;
    assert!(r["output"].as_str().unwrap().contains("done: now"), "{r}");

    let r = c
        .ok(
            "orchestrator/tools/call",
            json!({"name": "list_tasks", "arguments": {}, "context": ctx}),
        )
        .await;
    assert_eq!(r["metadata"]["total"], 2);
    let r = c
        .ok(
            "orchestrator/tools/call",
            json!({"name": "list_tasks", "arguments": {}, "context": {"sessionId": "ses_other"}}),
        )
        .await;
    assert_eq!(r["metadata"]["total"], 0);
    let r = c.ok("orchestrator/tools/call", json!({"name": "list_tasks", "arguments": {"all": true}, "context": {"sessionId": "ses_other"}})).await;
    assert_eq!(r["metadata"]["total"], 2);

    let r = c
        .ok(
            "orchestrator/tools/call",
            json!({"name": "cancel_task", "arguments": {"taskId": id}}),
        )
        .await;
    assert_eq!(r["metadata"]["cancelled"], false);
    assert!(r["output"].as_str().unwrap().contains("already completed"));
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn bad_tool_calls_name_the_field() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let cases = [
        (
            json!({"name": "nope", "arguments": {}}),
            "nope",
            "unknown_tool",
        ),
        (
            json!({"name": "delegate_task", "arguments": {"agent": "builder", "prompt": "p"}}),
            "description",
            "invalid_arguments",
        ),
        (
            json!({"name": "delegate_task", "arguments": {"agent": "builder", "description": "d", "prompt": "p", "background": "yes"}}),
            "background",
            "invalid_arguments",
        ),
        (
            json!({"name": "delegate_task", "arguments": {"agent": "builder", "description": "d", "prompt": "p", "extra": 1}}),
            "extra",
            "invalid_arguments",
        ),
        (
            json!({"name": "get_task_result", "arguments": {"taskId": 7}}),
            "taskId",
            "invalid_arguments",
        ),
        (
            json!({"name": "list_tasks", "arguments": {"limit": 1000}}),
            "limit",
            "invalid_arguments",
        ),
        (
            json!({"name": "list_tasks", "arguments": {"status": ["napping"]}}),
            "status",
            "invalid_arguments",
        ),
        (
            json!({"name": "get_task_result", "arguments": "taskId"}),
            "object",
            "invalid_arguments",
        ),
        (
            json!({"name": "delegate_task", "arguments": {"agent": "ghost", "description": "d", "prompt": "p"}}),
            "ghost",
            "unknown_agent",
        ),
        (
            json!({"name": "get_task_result", "arguments": {"taskId": "tsk_missing"}}),
            "tsk_missing",
            "task_not_found",
        ),
    ];
    for (params, needle, kind) in cases {
        let e = c.err("orchestrator/tools/call", params.clone()).await;
        assert!(e.message.contains(needle), "{params}: {}", e.message);
        assert_eq!(e.data.as_ref().unwrap()["kind"], kind, "{params}: {e:?}");
    }
    let e = c
        .err("orchestrator/tools/call", json!({"arguments": {}}))
        .await;
    assert!(e.message.contains("name"), "{}", e.message);
    assert_eq!(c.shutdown().await.exit_code, 0);
}
