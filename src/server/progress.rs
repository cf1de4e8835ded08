//! LSP work-done progress for missions: a client that says it supports it
//! (`capabilities.window.workDoneProgress`) gets `window/workDoneProgress/create` and then
//! `$/progress` begin, report and end for each mission, so an editor shows a progress bar with
//! no code of its own. The token is `mission/<missionId>`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tower_lsp_server::Client;
use tower_lsp_server::lsp_types::notification::Progress;
use tower_lsp_server::lsp_types::request::WorkDoneProgressCreate;
use tower_lsp_server::lsp_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressCreateParams, WorkDoneProgressEnd, WorkDoneProgressReport,
};

use crate::orchestrator::events::Event;
use tokio_util::sync::CancellationToken;

/// How long a client may take to accept a progress token before we go on without it.
const CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Follows mission events for one client until its connection or the bus closes.
pub fn start(
    client: Client,
    mut events: broadcast::Receiver<Arc<Event>>,
    mut initialized: watch::Receiver<bool>,
    closed: CancellationToken,
) {
    tokio::spawn(closed.run_until_cancelled_owned(async move {
        if initialized.wait_for(|ready| *ready).await.is_err() {
            return;
        }
        let mut open: HashSet<String> = HashSet::new();
        loop {
            match events.recv().await {
                Ok(event) => on_event(&client, &mut open, &event).await,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }));
}

async fn on_event(client: &Client, open: &mut HashSet<String>, event: &Event) {
    let Some(kind) = event.kind.strip_prefix("mission.") else {
        return;
    };
    let data = &event.data;
    let Some(id) = data.get("missionId").and_then(Value::as_str) else {
        return;
    };
    let token = format!("mission/{id}");
    let percentage = percentage(data);
    let message = message(kind, data);
    let ends = matches!(kind, "completed" | "stopped" | "cancelled");
    if !open.contains(&token) {
        if ends {
            return; // never begun here: nothing to end
        }
        let created = tokio::time::timeout(
            CREATE_TIMEOUT,
            client.send_request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams {
                token: NumberOrString::String(token.clone()),
            }),
        )
        .await;
        if !matches!(created, Ok(Ok(()))) {
            tracing::debug!(token, "the client did not accept a progress token");
            return;
        }
        let goal = data.get("goal").and_then(Value::as_str).unwrap_or(id);
        send(
            client,
            &token,
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title: format!(
                    "Mission: {}",
                    crate::orchestrator::missions::prompts::clip(goal, 80)
                ),
                cancellable: Some(false),
                message: Some(message.clone()),
                percentage,
            }),
        )
        .await;
        open.insert(token.clone());
        if kind == "started" {
            return;
        }
    }
    let value = if ends {
        open.remove(&token);
        WorkDoneProgress::End(WorkDoneProgressEnd {
            message: Some(message),
        })
    } else {
        WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(false),
            message: Some(message),
            percentage,
        })
    };
    send(client, &token, value).await;
}

async fn send(client: &Client, token: &str, value: WorkDoneProgress) {
    client
        .send_notification::<Progress>(ProgressParams {
            token: NumberOrString::String(token.to_string()),
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}

fn percentage(data: &Value) -> Option<u32> {
    let done = data.pointer("/progress/done")?.as_u64()?;
    let total = data.pointer("/progress/total")?.as_u64()?;
    (total > 0).then(|| ((done * 100) / total).min(100) as u32)
}

fn message(kind: &str, data: &Value) -> String {
    let done = data.pointer("/progress/done").and_then(Value::as_u64);
    let total = data.pointer("/progress/total").and_then(Value::as_u64);
    let items = match (done, total) {
        (Some(d), Some(t)) if t > 0 => format!("{d}/{t} items done"),
        _ => String::new(),
    };
    let reason = data.get("reason").and_then(Value::as_str).unwrap_or("");
    match kind {
        "started" => "started".into(),
        "triaged" => format!(
            "triaged {}",
            data.get("level").and_then(Value::as_str).unwrap_or("")
        ),
        "plan" => join("plan updated", &items),
        "dispatched" | "progress" => items,
        "verifying" => format!(
            "verifying (round {})",
            data.get("round").and_then(Value::as_u64).unwrap_or(1)
        ),
        "verdict" => "verification failed; fixing".into(),
        "continued" => join("continuing", &items),
        "paused" => format!("paused: {reason}"),
        "resumed" => "resumed".into(),
        "completed" => "complete: verified by the Inspector".into(),
        "stopped" => format!("stopped: {reason}"),
        "cancelled" => "cancelled".into(),
        other => other.to_string(),
    }
}

/// `what; items`, or `what` alone when there is nothing to count yet.
fn join(what: &str, items: &str) -> String {
    if items.is_empty() {
        what.to_string()
    } else {
        format!("{what}; {items}")
    }
}
