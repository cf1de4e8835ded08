//! Bad input on the wire: each case gets a JSON-RPC error and the next good request is answered.

mod common;

use common::*;
use serde_json::{Value, json};

/// Sends `bad`, then a good request; returns the error replies that came before the good reply.
async fn survive(bad: &[u8]) -> Vec<Value> {
    let (mut c, _h, _ws) = start(json!({"transport": {"maxFrameBytes": 4096}})).await;
    // Start from a known point: nothing pending.
    c.send_raw(bad).await;
    let (id, rx) = c.send_request("orchestrator/stats", json!({})).await;
    let reply = tokio::time::timeout(TIMEOUT, rx)
        .await
        .expect("good request after bad input was not answered")
        .unwrap();
    assert_eq!(reply["id"], id);
    assert!(reply.get("result").is_some(), "{reply}");
    let mut errors = Vec::new();
    while let Ok(msg) = c.inbox.try_recv() {
        if msg.get("error").is_some() {
            errors.push(msg);
        }
    }
    assert_eq!(c.shutdown().await.exit_code, 0);
    errors
}

fn one_error(errors: &[Value], code: i64, id: Value) -> &Value {
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error reply, got {errors:?}"
    );
    assert_eq!(errors[0]["error"]["code"], code, "{:?}", errors[0]);
    assert_eq!(errors[0]["id"], id, "{:?}", errors[0]);
    &errors[0]
}

#[tokio::test]
async fn invalid_json() {
    let e = survive(&frame("{not json")).await;
    one_error(&e, -32700, Value::Null);
}

#[tokio::test]
async fn not_a_jsonrpc_message() {
    let e = survive(&frame(r#"{"hello": "world"}"#)).await;
    one_error(&e, -32600, Value::Null);
    let e = survive(&frame(r#"{"jsonrpc": "1.0", "id": 7, "method": "x"}"#)).await;
    one_error(&e, -32600, json!(7));
    let e = survive(&frame("42")).await;
    one_error(&e, -32600, Value::Null);
}

#[tokio::test]
async fn batch_array() {
    let e = survive(&frame(
        r#"[{"jsonrpc":"2.0","id":1,"method":"orchestrator/stats","params":{}}]"#,
    ))
    .await;
    let err = one_error(&e, -32600, Value::Null);
    assert!(err["error"]["message"].as_str().unwrap().contains("batch"));
}

#[tokio::test]
async fn content_length_missing() {
    let e = survive(
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{\"jsonrpc\":\"2.0\"}",
    )
    .await;
    let err = one_error(&e, -32700, Value::Null);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Length")
    );
}

#[tokio::test]
async fn content_length_not_a_number() {
    let e = survive(b"Content-Length: twelve\r\n\r\n{\"a\":1}").await;
    one_error(&e, -32700, Value::Null);
}

#[tokio::test]
async fn content_length_negative() {
    let e = survive(b"Content-Length: -5\r\n\r\n{\"a\":1}").await;
    one_error(&e, -32700, Value::Null);
}

#[tokio::test]
async fn content_length_too_small() {
    let body = r#"{"jsonrpc":"2.0","id":5,"method":"orchestrator/stats","params":{}}"#;
    let mut bad = b"Content-Length: 10\r\n\r\n".to_vec();
    bad.extend_from_slice(body.as_bytes());
    let e = survive(&bad).await;
    one_error(&e, -32700, Value::Null);
}

#[tokio::test]
async fn lowercase_headers_are_accepted() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let body = r#"{"jsonrpc":"2.0","id":"low","method":"orchestrator/stats","params":{}}"#;
    c.send_raw(format!("content-length: {}\r\ncontent-type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{body}", body.len()).as_bytes())
        .await;
    let msg = c.next_message().await;
    // Replies to raw requests land in the inbox (the client did not register the id).
    assert_eq!(msg["id"], "low");
    assert!(msg.get("result").is_some(), "{msg}");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn unknown_headers_are_ignored() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let body = r#"{"jsonrpc":"2.0","id":"x","method":"orchestrator/stats","params":{}}"#;
    c.send_raw(
        format!(
            "X-Custom: 1\r\nContent-Length: {}\r\nX-Other: yes\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    let msg = c.next_message().await;
    assert_eq!(msg["id"], "x");
    assert!(msg.get("result").is_some(), "{msg}");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn non_utf8_body() {
    let mut bad = b"Content-Length: 4\r\n\r\n".to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xfd, 0x80]);
    let e = survive(&bad).await;
    one_error(&e, -32700, Value::Null);
}

#[tokio::test]
async fn oversized_frame_is_refused_unread() {
    // maxFrameBytes is 4096 in `survive`'s config; send 100 KB.
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"pad":"{}"}}}}"#,
        "a".repeat(100_000)
    );
    let e = survive(&frame(&body)).await;
    let err = one_error(&e, -32600, Value::Null);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds"),
        "{err}"
    );
}

#[tokio::test]
async fn params_that_are_not_an_object() {
    let e = survive(&frame(
        r#"{"jsonrpc":"2.0","id":3,"method":"orchestrator/stats","params":[1,2]}"#,
    ))
    .await;
    one_error(&e, -32602, json!(3));
}

#[tokio::test]
async fn a_notification_is_never_answered_even_when_bad() {
    let e = survive(&frame(
        r#"{"jsonrpc":"2.0","method":"orchestrator/opencode/event","params":[1,2]}"#,
    ))
    .await;
    assert!(e.is_empty(), "{e:?}");
}

#[tokio::test]
async fn an_unknown_dollar_request_is_answered_method_not_found() {
    let e = survive(&frame(
        r#"{"jsonrpc":"2.0","id":8,"method":"$/somethingNew","params":{}}"#,
    ))
    .await;
    one_error(&e, -32601, json!(8));
}

#[tokio::test]
async fn unknown_method_and_missing_params() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let e = c.err("orchestrator/nope", json!({})).await;
    assert_eq!(e.code, -32601);
    let e = c.err("orchestrator/task/get", Value::Null).await;
    assert_eq!(e.code, -32602);
    c.ok("orchestrator/stats", json!({})).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn one_byte_at_a_time() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let body = r#"{"jsonrpc":"2.0","id":"slow","method":"orchestrator/stats","params":{}}"#;
    for b in frame(body) {
        c.send_raw(&[b]).await;
    }
    let msg = c.next_message().await;
    assert_eq!(msg["id"], "slow");
    assert_eq!(c.shutdown().await.exit_code, 0);
}
