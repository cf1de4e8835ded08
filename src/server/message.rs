//! Classifies one frame body as a JSON-RPC 2.0 message.
//!
//! tower-lsp-server's deserializers are lenient in some places (a missing `method` becomes `""`)
//! and strict in others (ids must fit in an `i64`, error objects deny unknown members), and their
//! errors do not say what was wrong. So each body is checked against JSON-RPC 2.0 here first,
//! with a precise error reply per problem, and only then converted.

use serde_json::{Map, Value};
use tower_lsp_server::jsonrpc::{ErrorCode, Id, Request, Response};

use super::framing::FrameError;

const PARSE_ERROR: i64 = ErrorCode::ParseError.code();
const INVALID_REQUEST: i64 = ErrorCode::InvalidRequest.code();
const INVALID_PARAMS: i64 = ErrorCode::InvalidParams.code();

/// Longest piece of an offending value quoted in an error message.
const EXCERPT_CHARS: usize = 40;

/// A well-formed JSON-RPC message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request, or a notification when it has no id.
    Request(Request),
    /// The client's reply to a request the server sent.
    Response(Response),
}

/// A message that cannot be accepted, and the error reply to send for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The id of the offending message, or `Id::Null` when it is unknown.
    pub id: Id,
    pub code: i64,
    pub message: String,
}

impl Rejection {
    pub fn new(id: Id, code: i64, message: impl Into<String>) -> Self {
        Self {
            id,
            code,
            message: message.into(),
        }
    }
}

impl From<FrameError> for Rejection {
    /// A frame that could not be read has no id to answer to.
    fn from(error: FrameError) -> Self {
        Self::new(Id::Null, error.code(), error.message)
    }
}

/// Decides what one frame body is, or how to refuse it.
pub fn classify(body: &str) -> Result<Incoming, Rejection> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| Rejection::new(Id::Null, PARSE_ERROR, format!("Parse error: {e}")))?;
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(Rejection::new(
                Id::Null,
                INVALID_REQUEST,
                "batch requests are not supported; send one JSON-RPC message per frame",
            ));
        }
        other => {
            return Err(invalid(
                Id::Null,
                format!("expected a JSON object, got {}", excerpt(&other)),
            ));
        }
    };

    // The id comes first so that every later rejection can be addressed to it.
    let id = match object.get("id") {
        None => None,
        Some(raw) => Some(message_id(raw).ok_or_else(|| {
            invalid(
                Id::Null,
                format!(
                    "`id` must be a string, an integer or null, got {}",
                    excerpt(raw)
                ),
            )
        })?),
    };
    let reply_to = id.clone().unwrap_or(Id::Null);
    check_members(&object).map_err(|what| invalid(reply_to.clone(), what))?;

    if let Some(Value::String(method)) = object.get("method") {
        // Orchestrator methods all take named parameters; say so before their handlers fail
        // with a less direct deserialization error.
        // (Requests only: a notification is never answered, not even with an error.)
        let needs_object = method.starts_with("orchestrator/") && id.is_some();
        if needs_object && object.get("params").is_some_and(|p| !p.is_object()) {
            return Err(Rejection::new(
                reply_to,
                INVALID_PARAMS,
                "params must be an object",
            ));
        }
        return serde_json::from_value(Value::Object(object))
            .map(Incoming::Request)
            .map_err(|e| invalid(reply_to, format!("unusable request ({e})")));
    }

    let has_result = object.contains_key("result");
    let has_error = object.contains_key("error");
    if !has_result && !has_error {
        return Err(invalid(
            reply_to,
            "expected `method` (a request or notification) or `result`/`error` (a response)",
        ));
    }
    if has_result && has_error {
        return Err(invalid(
            reply_to,
            "a response must have exactly one of `result` and `error`",
        ));
    }
    if id.is_none() {
        return Err(invalid(reply_to, "a response must have an `id`"));
    }
    if has_error {
        normalize_error(&mut object).map_err(|what| invalid(reply_to.clone(), what))?;
    }
    serde_json::from_value(Value::Object(object))
        .map(Incoming::Response)
        .map_err(|e| invalid(reply_to, format!("unusable response ({e})")))
}

/// The JSON text of the JSON-RPC error response for `rejection`.
pub fn error_reply(rejection: &Rejection) -> String {
    // Written by hand rather than through a map so the members come out in the customary order.
    let id = match &rejection.id {
        Id::Number(n) => n.to_string(),
        Id::String(s) => Value::from(s.as_str()).to_string(),
        Id::Null => "null".to_owned(),
    };
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{},"message":{}}}}}"#,
        rejection.code,
        Value::from(rejection.message.as_str())
    )
}

fn invalid(id: Id, what: impl std::fmt::Display) -> Rejection {
    Rejection::new(id, INVALID_REQUEST, format!("Invalid Request: {what}"))
}

/// The id as tower-lsp-server can hold it: its numeric ids are `i64`, so fractions and
/// numbers beyond that range are refused rather than mangled.
fn message_id(raw: &Value) -> Option<Id> {
    match raw {
        Value::Null => Some(Id::Null),
        Value::String(s) => Some(Id::String(s.clone())),
        Value::Number(n) => n.as_i64().map(Id::Number),
        _ => None,
    }
}

/// The member checks common to every message kind.
fn check_members(object: &Map<String, Value>) -> Result<(), String> {
    match object.get("jsonrpc") {
        Some(Value::String(version)) if version == "2.0" => {}
        None => return Err("`jsonrpc` member is missing; it must be \"2.0\"".to_owned()),
        Some(other) => {
            return Err(format!("`jsonrpc` must be \"2.0\", got {}", excerpt(other)));
        }
    }
    match object.get("method") {
        Some(method) if !method.is_string() => {
            return Err(format!(
                "`method` must be a string, got {}",
                excerpt(method)
            ));
        }
        _ => {}
    }
    match object.get("params") {
        Some(params) if !matches!(params, Value::Object(_) | Value::Array(_) | Value::Null) => {
            return Err(format!(
                "`params` must be an object or an array, got {}",
                excerpt(params)
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Checks a response's `error` member and drops members other than `code`, `message` and
/// `data`: tower-lsp-server's error type refuses unknown members, and losing the client's
/// whole reply over one would leave the server's request unanswered.
fn normalize_error(object: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::Object(error)) = object.get_mut("error") else {
        return Err("`error` must be an object with `code` and `message`".to_owned());
    };
    if !error.get("code").is_some_and(|code| code.is_i64()) {
        return Err("`error.code` must be an integer".to_owned());
    }
    if !error.get("message").is_some_and(Value::is_string) {
        return Err("`error.message` must be a string".to_owned());
    }
    error.retain(|member, _| matches!(member.as_str(), "code" | "message" | "data"));
    Ok(())
}

/// The start of a value's JSON text, for error messages.
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::framing::FrameErrorKind;
    use super::*;

    fn rejected(body: &str) -> Rejection {
        match classify(body) {
            Ok(incoming) => panic!("{body} was accepted as {incoming:?}"),
            Err(rejection) => rejection,
        }
    }

    fn request(body: &str) -> Request {
        match classify(body) {
            Ok(Incoming::Request(request)) => request,
            other => panic!("{body} is not a request: {other:?}"),
        }
    }

    fn response(body: &str) -> Response {
        match classify(body) {
            Ok(Incoming::Response(response)) => response,
            other => panic!("{body} is not a response: {other:?}"),
        }
    }

    fn assert_invalid(body: &str, id: Id, says: &str) {
        let rejection = rejected(body);
        assert_eq!(rejection.code, -32600, "{body}");
        assert_eq!(rejection.id, id, "{body}");
        assert!(
            rejection.message.starts_with("Invalid Request: "),
            "{rejection:?}"
        );
        assert!(rejection.message.contains(says), "{rejection:?}");
    }

    #[test]
    fn requests_with_number_string_and_null_ids() {
        let r = request(r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}"#);
        assert_eq!((r.method(), r.id()), ("initialize", Some(&Id::Number(7))));
        assert_eq!(r.params(), Some(&json!({})));
        let r = request(r#"{"jsonrpc":"2.0","id":-3,"method":"m"}"#);
        assert_eq!(r.id(), Some(&Id::Number(-3)));
        let r = request(r#"{"jsonrpc":"2.0","id":"abc","method":"m","params":[1]}"#);
        assert_eq!(r.id(), Some(&Id::String("abc".to_owned())));
        assert_eq!(r.params(), Some(&json!([1])));
        // A null id is a request (discouraged, but legal), not a notification.
        let r = request(r#"{"jsonrpc":"2.0","id":null,"method":"m","params":null}"#);
        assert_eq!(r.id(), Some(&Id::Null));
        assert_eq!(r.params(), Some(&Value::Null));
    }

    #[test]
    fn notification_has_no_id() {
        let r = request(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
        assert_eq!((r.method(), r.id()), ("initialized", None));
        let r = request(r#"{"jsonrpc":"2.0","method":"exit"}"#);
        assert_eq!((r.id(), r.params()), (None, None));
    }

    #[test]
    fn responses_with_result_or_error() {
        let r = response(r#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#);
        assert_eq!(
            (r.id(), r.result()),
            (&Id::Number(1), Some(&json!({"ok":true})))
        );
        let r = response(r#"{"jsonrpc":"2.0","id":"s","result":null}"#);
        assert_eq!(
            (r.id(), r.result()),
            (&Id::String("s".to_owned()), Some(&Value::Null))
        );
        let r = response(
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"nope","data":[1]}}"#,
        );
        assert_eq!(r.id(), &Id::Null);
        let error = r
            .error()
            .map(|e| (e.code.code(), e.message.to_string(), e.data.clone()));
        assert_eq!(error, Some((-32601, "nope".to_owned(), Some(json!([1])))));
    }

    #[test]
    fn response_error_with_extra_members_is_kept() {
        let r =
            response(r#"{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"m","stack":"..."}}"#);
        assert_eq!(r.error().map(|e| e.message.as_ref()), Some("m"));
    }

    #[test]
    fn response_error_must_be_well_formed() {
        let cases = [
            (r#""boom""#, "`error` must be an object"),
            (r#"{"message":"m"}"#, "`error.code` must be an integer"),
            (
                r#"{"code":1.5,"message":"m"}"#,
                "`error.code` must be an integer",
            ),
            (r#"{"code":1}"#, "`error.message` must be a string"),
        ];
        for (error, says) in cases {
            let body = format!(r#"{{"jsonrpc":"2.0","id":4,"error":{error}}}"#);
            assert_invalid(&body, Id::Number(4), says);
        }
    }

    #[test]
    fn invalid_json_is_a_parse_error() {
        for body in ["", "{", r#"{"jsonrpc":"2.0"} trailing"#, "not json"] {
            let rejection = rejected(body);
            assert_eq!(
                (rejection.code, &rejection.id),
                (-32700, &Id::Null),
                "{body}"
            );
            assert!(
                rejection.message.starts_with("Parse error: "),
                "{rejection:?}"
            );
        }
    }

    #[test]
    fn batches_are_refused() {
        let rejection = rejected(r#"[{"jsonrpc":"2.0","id":1,"method":"m"}]"#);
        assert_eq!(
            rejection,
            Rejection::new(
                Id::Null,
                -32600,
                "batch requests are not supported; send one JSON-RPC message per frame"
            )
        );
    }

    #[test]
    fn non_objects_are_invalid() {
        for body in ["1", r#""text""#, "null", "true"] {
            assert_invalid(body, Id::Null, "expected a JSON object");
        }
    }

    #[test]
    fn jsonrpc_version_must_be_2_0() {
        assert_invalid(
            r#"{"id":1,"method":"m"}"#,
            Id::Number(1),
            "`jsonrpc` member is missing",
        );
        assert_invalid(
            r#"{"jsonrpc":"1.0","id":"x","method":"m"}"#,
            "x".into(),
            "\"1.0\"",
        );
        assert_invalid(r#"{"jsonrpc":2.0,"method":"m"}"#, Id::Null, "got 2.0");
    }

    #[test]
    fn method_must_be_a_string() {
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":5,"method":5}"#,
            Id::Number(5),
            "`method`",
        );
        assert_invalid(r#"{"jsonrpc":"2.0","method":null}"#, Id::Null, "`method`");
    }

    #[test]
    fn unusable_ids_are_invalid_and_answered_with_null() {
        for id in ["true", "1.5", "18446744073709551615", "[1]", r#"{"a":1}"#] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#);
            assert_invalid(&body, Id::Null, "`id` must be a string, an integer or null");
        }
    }

    #[test]
    fn params_must_be_structured() {
        for params in ["1", r#""p""#, "true"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":"q","method":"m","params":{params}}}"#);
            assert_invalid(&body, "q".into(), "`params` must be an object or an array");
        }
    }

    #[test]
    fn orchestrator_params_must_be_an_object() {
        for params in ["[1]", "null"] {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":9,"method":"orchestrator/x","params":{params}}}"#
            );
            assert_eq!(
                rejected(&body),
                Rejection::new(Id::Number(9), -32602, "params must be an object")
            );
        }
        // A notification is never answered: it goes on to its handler, which drops it.
        let notification = r#"{"jsonrpc":"2.0","method":"orchestrator/x","params":[]}"#;
        assert_eq!(request(notification).id(), None);
        // Still -32600 when the params are not even structured.
        let body = r#"{"jsonrpc":"2.0","id":9,"method":"orchestrator/x","params":3}"#;
        assert_eq!(rejected(body).code, -32600);
        request(r#"{"jsonrpc":"2.0","id":9,"method":"orchestrator/x","params":{"a":1}}"#);
        request(r#"{"jsonrpc":"2.0","id":9,"method":"orchestrator/x"}"#);
        // Other methods may use positional params.
        request(r#"{"jsonrpc":"2.0","id":9,"method":"other/x","params":[1]}"#);
    }

    #[test]
    fn neither_request_nor_response_is_invalid() {
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":3}"#,
            Id::Number(3),
            "expected `method`",
        );
        assert_invalid(r#"{"jsonrpc":"2.0"}"#, Id::Null, "expected `method`");
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":3,"result":1,"error":{"code":1,"message":"m"}}"#,
            Id::Number(3),
            "exactly one of `result` and `error`",
        );
        assert_invalid(
            r#"{"jsonrpc":"2.0","result":1}"#,
            Id::Null,
            "must have an `id`",
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let body = format!(r#"{{"jsonrpc":"{}","id":1,"method":"m"}}"#, "é".repeat(500));
        let rejection = rejected(&body);
        assert!(rejection.message.len() < 200, "{rejection:?}");
        assert!(rejection.message.ends_with("..."), "{rejection:?}");
    }

    #[test]
    fn error_reply_is_a_json_rpc_error_response() {
        let reply = error_reply(&Rejection::new(Id::Number(4), -32600, "bad \"thing\""));
        assert_eq!(
            reply,
            r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32600,"message":"bad \"thing\""}}"#
        );
        let reply = error_reply(&Rejection::new("a\"b".into(), -32700, "x"));
        assert_eq!(
            reply,
            r#"{"jsonrpc":"2.0","id":"a\"b","error":{"code":-32700,"message":"x"}}"#
        );
        let reply = error_reply(&Rejection::new(Id::Null, -32602, "y"));
        // The client side can read it back as a response.
        let parsed = response(&reply);
        assert_eq!(parsed.id(), &Id::Null);
        assert_eq!(parsed.error().map(|e| e.code.code()), Some(-32602));
    }

    #[test]
    fn frame_errors_become_rejections_with_null_id() {
        let error = FrameError {
            kind: FrameErrorKind::FrameTooLarge,
            message: "too big".to_owned(),
        };
        assert_eq!(
            Rejection::from(error),
            Rejection::new(Id::Null, -32600, "too big")
        );
    }
}
