//! OpenCode's HTTP server as the transport: requests with reqwest, events from `/event` (SSE),
//! followed for the life of the backend with reconnect and backoff.

use std::time::Duration;

use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::api::{ApiCall, OpencodeApi};
use crate::orchestrator::backend::BackendError;

/// How long one API request may take (prompts are asynchronous, so all calls are short).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// OpenCode sends `server.heartbeat` on `/event` every 10 s: this long without any event,
/// the stream is taken for dead.
const EVENT_SILENCE: Duration = Duration::from_secs(35);

pub struct HttpApi {
    client: Client,
    base: String,
    directory: String,
    events: broadcast::Sender<Value>,
    stop: CancellationToken,
}

impl HttpApi {
    /// Connects to OpenCode at `base` for the project in `directory`: checks
    /// `/global/health` and starts following `/event`. Fails when nothing healthy answers.
    pub async fn connect(base: &str, directory: &str) -> Result<HttpApi, BackendError> {
        Self::connect_with(base, directory, EVENT_SILENCE).await
    }

    /// `connect`, taking the stream for dead after `silence` without an event.
    async fn connect_with(
        base: &str,
        directory: &str,
        silence: Duration,
    ) -> Result<HttpApi, BackendError> {
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| BackendError::Unavailable(format!("cannot build an HTTP client: {e}")))?;
        let base = base.trim_end_matches('/').to_string();
        check_health(&client, &base).await?;
        let (events, _) = broadcast::channel(16_384);
        let api = HttpApi {
            client,
            base,
            directory: directory.to_string(),
            events,
            stop: CancellationToken::new(),
        };
        api.follow_events(silence);
        Ok(api)
    }

    fn follow_events(&self, silence: Duration) {
        let client = self.client.clone();
        let url = format!("{}/event", self.base);
        let directory = self.directory.clone();
        let events = self.events.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let stream = client
                    .get(&url)
                    .query(&[("directory", &directory)])
                    .header("accept", "text/event-stream")
                    .send()
                    .await;
                match stream {
                    Ok(resp) if resp.status().is_success() => {
                        // A (re)connection may have missed events: say so, so waiting tasks
                        // look at their sessions again.
                        let _ = events.send(serde_json::json!({"type": "orchestrator.resync"}));
                        backoff = Duration::from_millis(100);
                        let mut sse = resp.bytes_stream().eventsource();
                        loop {
                            tokio::select! {
                                _ = stop.cancelled() => return,
                                next = tokio::time::timeout(silence, sse.next()) => match next {
                                    Ok(Some(Ok(ev))) => {
                                        if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                                            let _ = events.send(v);
                                        }
                                    }
                                    Ok(Some(Err(e))) => {
                                        tracing::warn!("OpenCode event stream broke: {e}");
                                        break;
                                    }
                                    Ok(None) => break,
                                    Err(_) => {
                                        // Not even a heartbeat: a half-open connection (a
                                        // dropped NAT entry, a stopped process). Reconnect.
                                        tracing::warn!(
                                            "OpenCode's event stream was silent for {silence:?}; reconnecting"
                                        );
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Ok(resp) => {
                        tracing::warn!(status = %resp.status(), "OpenCode refused the event stream")
                    }
                    Err(e) => tracing::warn!("cannot reach OpenCode's event stream: {e}"),
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, BackendError> {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .query(&[("directory", &self.directory)])
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| BackendError::Unavailable(format!("{method} {path}: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| {
            BackendError::Unavailable(format!("{method} {path}: reading the answer: {e}"))
        })?;
        if status == StatusCode::NOT_FOUND {
            return Err(BackendError::NoSuchSession(format!(
                "{method} {path}: {text}"
            )));
        }
        if !status.is_success() {
            return Err(BackendError::Refused(format!(
                "{method} {path} answered {status}: {text}"
            )));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            BackendError::Refused(format!("{method} {path}: the answer is not JSON: {e}"))
        })
    }
}

/// Whether OpenCode at `base` answers `/global/health` as healthy.
pub async fn is_healthy(base: &str) -> bool {
    let Ok(client) = Client::builder().connect_timeout(CONNECT_TIMEOUT).build() else {
        return false;
    };
    check_health(&client, base.trim_end_matches('/'))
        .await
        .is_ok()
}

async fn check_health(client: &Client, base: &str) -> Result<(), BackendError> {
    let health = client
        .get(format!("{base}/global/health"))
        .timeout(CONNECT_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            BackendError::Unavailable(format!("OpenCode at {base} does not answer: {e}"))
        })?;
    let body: Value = health.json().await.unwrap_or_default();
    if body.get("healthy") != Some(&Value::Bool(true)) {
        return Err(BackendError::Unavailable(format!(
            "OpenCode at {base} is not healthy: {body}"
        )));
    }
    Ok(())
}

impl Drop for HttpApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[async_trait]
impl OpencodeApi for HttpApi {
    fn transport(&self) -> &'static str {
        "http"
    }

    async fn call(&self, call: ApiCall) -> Result<Value, BackendError> {
        match &call {
            ApiCall::CreateSession { body } => {
                self.request(Method::POST, "/session", Some(body)).await
            }
            ApiCall::PromptAsync { session_id, body } => {
                self.request(
                    Method::POST,
                    &format!("/session/{session_id}/prompt_async"),
                    Some(body),
                )
                .await
            }
            ApiCall::Abort { session_id } => {
                self.request(Method::POST, &format!("/session/{session_id}/abort"), None)
                    .await
            }
            ApiCall::Messages { session_id } => {
                self.request(Method::GET, &format!("/session/{session_id}/message"), None)
                    .await
            }
            ApiCall::GetSession { session_id } => {
                self.request(Method::GET, &format!("/session/{session_id}"), None)
                    .await
            }
            ApiCall::DeleteSession { session_id } => {
                self.request(Method::DELETE, &format!("/session/{session_id}"), None)
                    .await
            }
            ApiCall::Status => self.request(Method::GET, "/session/status", None).await,
        }
    }

    fn events(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// OpenCode's two endpoints the follower uses: `/global/health`, and an `/event` stream that
    /// sends one event and then nothing, its connection left open (a half-open stream).
    async fn silent_opencode() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let streams = Arc::new(AtomicUsize::new(0));
        let counted = streams.clone();
        tokio::spawn(async move {
            let mut held: Vec<TcpStream> = Vec::new();
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                if head.starts_with("GET /event") {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n\
                              data: {\"type\":\"server.connected\"}\n\n",
                        )
                        .await;
                    held.push(sock);
                } else {
                    let body = r#"{"healthy":true}"#;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                }
            }
        });
        (base, streams)
    }

    #[tokio::test]
    async fn a_silent_event_stream_is_taken_for_dead_and_followed_again() {
        let (base, streams) = silent_opencode().await;
        let api = HttpApi::connect_with(&base, "/work", Duration::from_millis(200))
            .await
            .unwrap();
        let mut events = api.events();
        // Only the silence can end the first stream: its connection stays open.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while streams.load(Ordering::SeqCst) < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "reconnected {} times",
                streams.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Each reconnection says events may have been missed, then streams again.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let e = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("an event")
                .expect("the channel is open");
            seen.push(e["type"].as_str().unwrap_or_default().to_string());
        }
        assert!(seen.iter().any(|t| t == "orchestrator.resync"), "{seen:?}");
        assert!(seen.iter().any(|t| t == "server.connected"), "{seen:?}");
    }
}
