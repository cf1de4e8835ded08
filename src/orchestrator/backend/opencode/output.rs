//! Reading a session's messages: has the turn that started with our prompt finished, and what
//! did it say?

use serde_json::Value;

use super::events::classify;
use crate::orchestrator::backend::{SessionErrorKind, SessionOutput};
use crate::orchestrator::task::{Millis, Usage};

/// Where the current turn stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    Finished(SessionOutput),
    Failed {
        kind: SessionErrorKind,
        message: String,
    },
    /// Nothing finished yet since the prompt (for example an idle that belongs to an earlier
    /// turn); carries what the turn has said so far, if anything.
    Pending(String),
}

/// Looks at the assistant messages created at or after `since` (when we sent the prompt).
pub fn turn(messages: &Value, since: Millis) -> Turn {
    let Some(all) = messages.as_array() else {
        return Turn::Pending(String::new());
    };
    let turn: Vec<&Value> = all
        .iter()
        .filter(|m| m.pointer("/info/role").and_then(Value::as_str) == Some("assistant"))
        .filter(|m| {
            m.pointer("/info/time/created")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                >= since
        })
        .collect();
    let Some(last) = turn.last() else {
        return Turn::Pending(String::new());
    };
    let info = &last["info"];
    if let Some(error) = info.get("error").filter(|e| !e.is_null()) {
        let (kind, message) = classify(error);
        return Turn::Failed { kind, message };
    }
    let completed = info
        .pointer("/time/completed")
        .and_then(Value::as_u64)
        .is_some();
    let finish = info.get("finish").and_then(Value::as_str);
    // A step that ended in tool calls is followed by another step: not the end of the turn.
    let unfinished = !completed || matches!(finish, Some("tool-calls") | Some("unknown") | None);
    let text_of = |m: &Value, kind: &str| -> String {
        m.get("parts")
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter(|p| p.get("type").and_then(Value::as_str) == Some(kind))
                    .filter(|p| p.get("synthetic").and_then(Value::as_bool) != Some(true))
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    if unfinished {
        let said: Vec<String> = turn
            .iter()
            .map(|m| text_of(m, "text"))
            .filter(|t| !t.trim().is_empty())
            .collect();
        return Turn::Pending(said.join("\n"));
    }
    let mut text = text_of(last, "text");
    if text.trim().is_empty() {
        // The last step may say nothing after its tools ran: take the last thing the turn said.
        text = turn
            .iter()
            .rev()
            .map(|m| text_of(m, "text"))
            .find(|t| !t.trim().is_empty())
            .unwrap_or_default();
    }
    let reasoning: Vec<String> = turn
        .iter()
        .map(|m| text_of(m, "reasoning"))
        .filter(|t| !t.trim().is_empty())
        .collect();
    let mut usage = Usage::default();
    for m in &turn {
        let i = &m["info"];
        let n = |p: &str| i.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        usage.input_tokens += n("/tokens/input");
        usage.output_tokens += n("/tokens/output");
        usage.reasoning_tokens += n("/tokens/reasoning");
        usage.cost += i.get("cost").and_then(Value::as_f64).unwrap_or(0.0);
    }
    Turn::Finished(SessionOutput {
        finished: true,
        text,
        reasoning: (!reasoning.is_empty()).then(|| reasoning.join("\n\n")),
        usage: Some(usage),
        failure: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(
        role: &str,
        created: u64,
        completed: Option<u64>,
        finish: Option<&str>,
        parts: Value,
    ) -> Value {
        json!({"info": {"role": role, "time": {"created": created, "completed": completed}, "finish": finish,
                        "tokens": {"input": 10, "output": 5, "reasoning": 1}, "cost": 0.5}, "parts": parts})
    }

    #[test]
    fn a_finished_turn_gives_the_last_text_and_summed_usage() {
        let messages = json!([
            msg(
                "user",
                900,
                None,
                None,
                json!([{"type": "text", "text": "old"}])
            ),
            msg(
                "assistant",
                950,
                Some(960),
                Some("stop"),
                json!([{"type": "text", "text": "earlier turn"}])
            ),
            msg(
                "user",
                1000,
                None,
                None,
                json!([{"type": "text", "text": "do it"}])
            ),
            msg(
                "assistant",
                1001,
                Some(1002),
                Some("tool-calls"),
                json!([{"type": "reasoning", "text": "think"}, {"type": "tool"}])
            ),
            msg(
                "assistant",
                1003,
                Some(1004),
                Some("stop"),
                json!([{"type": "text", "text": "done it"}])
            ),
        ]);
        let Turn::Finished(out) = turn(&messages, 1000) else {
            panic!()
        };
        assert_eq!(out.text, "done it");
        assert_eq!(out.reasoning.as_deref(), Some("think"));
        let u = out.usage.unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.reasoning_tokens),
            (20, 10, 2)
        );
        assert!((u.cost - 1.0).abs() < 1e-9);
    }

    #[test]
    fn unfinished_or_stale_turns_are_pending() {
        // Only an earlier turn: an idle from before our prompt is not our answer.
        let messages = json!([msg(
            "assistant",
            950,
            Some(960),
            Some("stop"),
            json!([{"type": "text", "text": "old"}])
        )]);
        assert_eq!(turn(&messages, 1000), Turn::Pending(String::new()));
        // A step still running, or one that ended in tool calls.
        let running = json!([msg("assistant", 1001, None, None, json!([]))]);
        assert_eq!(turn(&running, 1000), Turn::Pending(String::new()));
        let tools = json!([msg(
            "assistant",
            1001,
            Some(1002),
            Some("tool-calls"),
            json!([])
        )]);
        assert_eq!(turn(&tools, 1000), Turn::Pending(String::new()));
        assert_eq!(
            turn(&json!({"not": "an array"}), 0),
            Turn::Pending(String::new())
        );
    }

    #[test]
    fn an_unfinished_turn_carries_what_it_said_so_far() {
        let messages = json!([
            msg(
                "assistant",
                1001,
                Some(1002),
                Some("tool-calls"),
                json!([{"type": "text", "text": "step one done"}])
            ),
            msg(
                "assistant",
                1003,
                None,
                None,
                json!([{"type": "text", "text": "working on step two"}])
            ),
        ]);
        assert_eq!(
            turn(&messages, 1000),
            Turn::Pending("step one done\nworking on step two".into())
        );
    }

    #[test]
    fn an_error_on_the_last_message_fails_the_turn() {
        let mut m = msg("assistant", 1001, Some(1002), None, json!([]));
        m["info"]["error"] = json!({"name": "APIError", "data": {"message": "Too Many Requests", "statusCode": 429}});
        let Turn::Failed { kind, message } = turn(&json!([m]), 1000) else {
            panic!()
        };
        assert_eq!(kind, SessionErrorKind::RateLimit);
        assert!(message.contains("429"));
    }

    #[test]
    fn text_falls_back_to_the_last_thing_said() {
        let messages = json!([
            msg(
                "assistant",
                1001,
                Some(1002),
                Some("tool-calls"),
                json!([{"type": "text", "text": "I ran the tests: all pass"}])
            ),
            msg("assistant", 1003, Some(1004), Some("stop"), json!([])),
        ]);
        let Turn::Finished(out) = turn(&messages, 1000) else {
            panic!()
        };
        assert_eq!(out.text, "I ran the tests: all pass");
    }
}
