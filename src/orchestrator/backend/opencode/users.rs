//! User messages as OpenCode's events show them: `message.updated` with `role: "user"`, then
//! the message's text part. Each becomes one [`SessionEvent::UserMessage`], so a mission can
//! tell the user writing to its session from its own prompts.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use serde_json::Value;

use crate::orchestrator::backend::SessionEvent;

/// User messages remembered while their text is awaited.
const REMEMBERED: usize = 1024;

#[derive(Default)]
pub struct UserMessages {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// message id -> session id, for user messages whose text has not been seen.
    pending: HashMap<String, String>,
    order: VecDeque<String>,
}

impl UserMessages {
    /// The user message this event completes, if any.
    pub fn apply(&self, event: &Value) -> Option<SessionEvent> {
        let props = event.get("properties")?;
        match event.get("type")?.as_str()? {
            "message.updated" => {
                let info = props.get("info")?;
                if info.get("role")?.as_str()? != "user" {
                    return None;
                }
                let id = info.get("id")?.as_str()?.to_string();
                let session = info.get("sessionID")?.as_str()?.to_string();
                let mut inner = self.inner.lock();
                if inner.pending.insert(id.clone(), session).is_none() {
                    inner.order.push_back(id);
                    while inner.order.len() > REMEMBERED {
                        if let Some(old) = inner.order.pop_front() {
                            inner.pending.remove(&old);
                        }
                    }
                }
                None
            }
            "message.part.updated" => {
                let part = props.get("part")?;
                // Parts OpenCode adds itself (e.g. after a compaction) are not the user's.
                if part.get("type")?.as_str()? != "text"
                    || part.get("synthetic").and_then(Value::as_bool) == Some(true)
                {
                    return None;
                }
                let text = part.get("text")?.as_str()?;
                if text.trim().is_empty() {
                    return None;
                }
                let message = part.get("messageID")?.as_str()?;
                let session = self.inner.lock().pending.remove(message)?;
                Some(SessionEvent::UserMessage {
                    session_id: session,
                    text: text.to_string(),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str) -> Value {
        json!({"type": "message.updated", "properties": {"info": {"id": id, "sessionID": "ses_1", "role": "user"}}})
    }

    fn text(message: &str, text: &str, synthetic: bool) -> Value {
        json!({"type": "message.part.updated", "properties": {"part": {"id": "prt", "type": "text",
               "sessionID": "ses_1", "messageID": message, "text": text, "synthetic": synthetic}}})
    }

    #[test]
    fn a_user_message_is_reported_once_with_its_text() {
        let u = UserMessages::default();
        assert_eq!(
            u.apply(&text("msg_1", "early", false)),
            None,
            "unknown message"
        );
        assert_eq!(u.apply(&user("msg_1")), None);
        assert_eq!(
            u.apply(&text("msg_1", "use blue", false)),
            Some(SessionEvent::UserMessage {
                session_id: "ses_1".into(),
                text: "use blue".into()
            })
        );
        assert_eq!(u.apply(&text("msg_1", "use blue", false)), None, "once");
        let assistant = json!({"type": "message.updated", "properties": {"info": {"id": "msg_2", "sessionID": "ses_1", "role": "assistant"}}});
        assert_eq!(u.apply(&assistant), None);
        assert_eq!(u.apply(&text("msg_2", "answer", false)), None);
        u.apply(&user("msg_3"));
        assert_eq!(u.apply(&text("msg_3", "continue", true)), None, "synthetic");
        assert_eq!(u.apply(&text("msg_3", " ", false)), None, "blank");
    }
}
