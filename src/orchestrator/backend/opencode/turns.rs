//! The current turn of each prompted session, as OpenCode's events describe it, so that an idle
//! session's answer is known without asking OpenCode for its messages.
//!
//! OpenCode announces an assistant message's end (`message.updated` with `time.completed` and
//! `finish`) and its final text (`message.part.updated`) before the session's `session.idle`,
//! and the events are applied here in order before the idle reaches the task. When the tracked
//! state shows no finished answer, the caller asks OpenCode over its API instead, so a missed
//! event costs a request, never a wrong result.

use std::collections::{BTreeMap, HashMap, VecDeque};

use parking_lot::Mutex;
use serde_json::{Value, json};

#[derive(Default)]
struct Message {
    info: Value,
    parts: BTreeMap<String, Value>,
}

/// Sessions whose turn is followed at most. A turn pushed out is read from OpenCode's API when
/// its answer is wanted: a long-lived daemon does not keep every task's last turn (tool
/// outputs included) in memory.
const MAX_TRACKED: usize = 512;

#[derive(Default)]
pub struct TurnTracker {
    inner: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    sessions: HashMap<String, BTreeMap<String, Message>>,
    /// Sessions by when their turn started, oldest first.
    order: VecDeque<String>,
}

impl TurnTracker {
    /// A new turn starts: forget what was seen of the last one.
    pub fn start(&self, session_id: &str) {
        let mut t = self.inner.lock();
        t.order.retain(|s| s != session_id);
        t.order.push_back(session_id.to_string());
        t.sessions.insert(session_id.to_string(), BTreeMap::new());
        while t.order.len() > MAX_TRACKED {
            if let Some(oldest) = t.order.pop_front() {
                t.sessions.remove(&oldest);
            }
        }
    }

    pub fn forget(&self, session_id: &str) {
        let mut t = self.inner.lock();
        t.order.retain(|s| s != session_id);
        t.sessions.remove(session_id);
    }

    /// Events may have been missed: nothing tracked can be trusted any more.
    pub fn clear(&self) {
        for messages in self.inner.lock().sessions.values_mut() {
            messages.clear();
        }
    }

    /// Applies one OpenCode event.
    pub fn apply(&self, event: &Value) {
        let props = event.get("properties").unwrap_or(&Value::Null);
        match event.get("type").and_then(Value::as_str) {
            Some("message.updated") => {
                let info = props.get("info").unwrap_or(&Value::Null);
                let (Some(session), Some(id)) = (
                    info.get("sessionID").and_then(Value::as_str),
                    info.get("id").and_then(Value::as_str),
                ) else {
                    return;
                };
                if let Some(messages) = self.inner.lock().sessions.get_mut(session) {
                    messages.entry(id.to_string()).or_default().info = info.clone();
                }
            }
            Some("message.part.updated") => {
                let part = props.get("part").unwrap_or(&Value::Null);
                let (Some(session), Some(message), Some(id)) = (
                    part.get("sessionID").and_then(Value::as_str),
                    part.get("messageID").and_then(Value::as_str),
                    part.get("id").and_then(Value::as_str),
                ) else {
                    return;
                };
                if let Some(messages) = self.inner.lock().sessions.get_mut(session) {
                    messages
                        .entry(message.to_string())
                        .or_default()
                        .parts
                        .insert(id.to_string(), part.clone());
                }
            }
            _ => {}
        }
    }

    /// The tracked messages of a session in OpenCode's `[{info, parts}]` shape, oldest first.
    pub fn messages(&self, session_id: &str) -> Option<Value> {
        let tracked = self.inner.lock();
        let messages = tracked.sessions.get(session_id)?;
        let mut list: Vec<&Message> = messages.values().filter(|m| !m.info.is_null()).collect();
        // OpenCode's message ids sort by creation; order by creation time to be sure.
        list.sort_by_key(|m| {
            m.info
                .pointer("/time/created")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        });
        Some(Value::Array(
            list.into_iter()
                .map(|m| json!({"info": m.info, "parts": m.parts.values().collect::<Vec<_>>()}))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_turn_from_events() {
        let t = TurnTracker::default();
        let part = json!({"type": "message.part.updated", "properties": {"part": {"id": "prt_1", "sessionID": "ses_1", "messageID": "msg_2", "type": "text", "text": "hello"}}});
        t.apply(&part); // not tracked yet: ignored
        assert!(t.messages("ses_1").is_none());
        t.start("ses_1");
        t.apply(&json!({"type": "message.updated", "properties": {"info": {"id": "msg_2", "sessionID": "ses_1", "role": "assistant", "time": {"created": 5, "completed": 9}, "finish": "stop"}}}));
        t.apply(&part);
        t.apply(&json!({"type": "message.updated", "properties": {"info": {"id": "msg_9", "sessionID": "ses_other", "role": "assistant"}}}));
        let m = t.messages("ses_1").unwrap();
        assert_eq!(m.as_array().unwrap().len(), 1);
        assert_eq!(m[0]["parts"][0]["text"], "hello");
        assert_eq!(m[0]["info"]["finish"], "stop");
        t.clear();
        assert_eq!(t.messages("ses_1").unwrap(), json!([]));
        t.forget("ses_1");
        assert!(t.messages("ses_1").is_none());
    }

    #[test]
    fn only_the_newest_turns_are_kept() {
        let t = TurnTracker::default();
        for i in 0..MAX_TRACKED + 10 {
            t.start(&format!("ses_{i}"));
        }
        t.start("ses_3"); // started again: newest now
        assert!(t.messages("ses_0").is_none(), "pushed out");
        assert!(t.messages("ses_3").is_some());
        assert!(t.messages(&format!("ses_{}", MAX_TRACKED + 9)).is_some());
        let t = t.inner.lock();
        assert_eq!(t.sessions.len(), MAX_TRACKED);
        assert_eq!(t.order.len(), MAX_TRACKED);
    }
}
