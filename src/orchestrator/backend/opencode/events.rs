//! OpenCode's bus events and errors, read as session events.

use serde_json::Value;

use crate::orchestrator::backend::{SessionErrorKind, SessionEvent};

/// Maps one OpenCode event (`{type, properties}`) to what the scheduler cares about.
pub fn session_event(event: &Value) -> Option<SessionEvent> {
    let props = event.get("properties").unwrap_or(&Value::Null);
    let session = || {
        props
            .get("sessionID")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match event.get("type")?.as_str()? {
        "session.idle" => Some(SessionEvent::Idle {
            session_id: session()?,
        }),
        "session.status" => {
            match props.pointer("/status/type").and_then(Value::as_str)? {
                "busy" => Some(SessionEvent::Busy {
                    session_id: session()?,
                }),
                // OpenCode retries a failed model call itself (rate limits, 5xx) and says so.
                "retry" => Some(SessionEvent::Retrying {
                    session_id: session()?,
                    attempt: props
                        .pointer("/status/attempt")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                    message: props
                        .pointer("/status/message")
                        .and_then(Value::as_str)
                        .unwrap_or("model call failed")
                        .to_string(),
                }),
                _ => None, // idle is also announced as session.idle
            }
        }
        "session.error" => {
            let (kind, message) = classify(props.get("error").unwrap_or(&Value::Null));
            Some(SessionEvent::Error {
                session_id: session()?,
                kind,
                message,
            })
        }
        "session.deleted" => Some(SessionEvent::Deleted {
            session_id: props.pointer("/info/id")?.as_str()?.to_string(),
        }),
        "message.part.updated" => {
            let part = props.get("part")?;
            if part.get("type")?.as_str()? != "tool"
                || part.pointer("/state/status").and_then(Value::as_str) != Some("running")
            {
                return None;
            }
            let tool = part.get("tool").and_then(Value::as_str).unwrap_or("a tool");
            let title = part.pointer("/state/title").and_then(Value::as_str);
            Some(SessionEvent::Progress {
                session_id: part.get("sessionID")?.as_str()?.to_string(),
                message: match title {
                    Some(t) if !t.is_empty() => format!("{tool}: {t}"),
                    _ => format!("running {tool}"),
                },
            })
        }
        "orchestrator.resync" => Some(SessionEvent::Resync),
        _ => None,
    }
}

/// Reads an OpenCode error object (`{name, data: {message, statusCode?, ...}}`).
pub fn classify(error: &Value) -> (SessionErrorKind, String) {
    let name = error
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("UnknownError");
    let message = error
        .pointer("/data/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            if error.is_null() {
                "unknown error".to_string()
            } else {
                error.to_string()
            }
        });
    let status = error.pointer("/data/statusCode").and_then(Value::as_u64);
    let lower = message.to_ascii_lowercase();
    let kind = match name {
        "MessageAbortedError" => SessionErrorKind::Aborted,
        "ProviderAuthError" => SessionErrorKind::Auth,
        _ if status == Some(429)
            || lower.contains("rate limit")
            || lower.contains("too many requests") =>
        {
            SessionErrorKind::RateLimit
        }
        _ if status == Some(529) || status == Some(503) || lower.contains("overloaded") => {
            SessionErrorKind::Overloaded
        }
        _ if status == Some(401) || status == Some(403) => SessionErrorKind::Auth,
        _ if lower.contains("context length")
            || lower.contains("context window")
            || lower.contains("maximum context")
            || lower.contains("prompt is too long") =>
        {
            SessionErrorKind::ContextTooLong
        }
        _ => SessionErrorKind::Other,
    };
    let text = match status {
        Some(code) => format!("{name} ({code}): {message}"),
        None => format!("{name}: {message}"),
    };
    (kind, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_the_events_that_matter() {
        let idle = json!({"type": "session.idle", "properties": {"sessionID": "ses_1"}});
        assert_eq!(
            session_event(&idle),
            Some(SessionEvent::Idle {
                session_id: "ses_1".into()
            })
        );
        let busy = json!({"type": "session.status", "properties": {"sessionID": "ses_1", "status": {"type": "busy"}}});
        assert_eq!(
            session_event(&busy),
            Some(SessionEvent::Busy {
                session_id: "ses_1".into()
            })
        );
        let retry = json!({"type": "session.status", "properties": {"sessionID": "ses_1", "status": {"type": "retry", "attempt": 2, "message": "Rate limit reached", "next": 1}}});
        assert_eq!(
            session_event(&retry),
            Some(SessionEvent::Retrying {
                session_id: "ses_1".into(),
                attempt: 2,
                message: "Rate limit reached".into()
            })
        );
        let deleted = json!({"type": "session.deleted", "properties": {"info": {"id": "ses_2"}}});
        assert_eq!(
            session_event(&deleted),
            Some(SessionEvent::Deleted {
                session_id: "ses_2".into()
            })
        );
        let tool = json!({"type": "message.part.updated", "properties": {"part": {"type": "tool", "tool": "bash", "sessionID": "ses_3", "state": {"status": "running", "title": "cargo test"}}}});
        assert_eq!(
            session_event(&tool),
            Some(SessionEvent::Progress {
                session_id: "ses_3".into(),
                message: "bash: cargo test".into()
            })
        );
        let text = json!({"type": "message.part.updated", "properties": {"part": {"type": "text", "sessionID": "ses_3"}}});
        assert_eq!(session_event(&text), None);
        assert_eq!(
            session_event(&json!({"type": "server.heartbeat", "properties": {}})),
            None
        );
        assert_eq!(session_event(&json!({"nonsense": true})), None);
        let no_session =
            json!({"type": "session.error", "properties": {"error": {"name": "UnknownError"}}});
        assert_eq!(session_event(&no_session), None);
    }

    #[test]
    fn classifies_errors() {
        let cases = [
            (
                json!({"name": "MessageAbortedError", "data": {"message": "Aborted"}}),
                SessionErrorKind::Aborted,
            ),
            (
                json!({"name": "ProviderAuthError", "data": {"message": "bad key"}}),
                SessionErrorKind::Auth,
            ),
            (
                json!({"name": "APIError", "data": {"message": "x", "statusCode": 429}}),
                SessionErrorKind::RateLimit,
            ),
            (
                json!({"name": "APIError", "data": {"message": "Rate limit reached"}}),
                SessionErrorKind::RateLimit,
            ),
            (
                json!({"name": "APIError", "data": {"message": "Overloaded", "statusCode": 529}}),
                SessionErrorKind::Overloaded,
            ),
            (
                json!({"name": "APIError", "data": {"message": "prompt is too long: 250000 tokens"}}),
                SessionErrorKind::ContextTooLong,
            ),
            (
                json!({"name": "APIError", "data": {"message": "boom", "statusCode": 500}}),
                SessionErrorKind::Other,
            ),
            (json!(null), SessionErrorKind::Other),
        ];
        for (error, kind) in cases {
            assert_eq!(classify(&error).0, kind, "{error}");
        }
        assert_eq!(
            classify(&json!({"name": "APIError", "data": {"message": "boom", "statusCode": 500}}))
                .1,
            "APIError (500): boom"
        );
    }
}
