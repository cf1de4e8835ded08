//! The transport loop of one client connection.
//!
//! We drive tower-lsp's `LspService` ourselves instead of its stock `Server`: our frame reader
//! survives malformed input, handlers run concurrently up to a configurable level, `exit` ends
//! the connection at once, and events reach the client through a bounded queue that never
//! blocks the scheduler.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, broadcast};
use tower::Service;
use tower_lsp_server::jsonrpc::{Id, Response};

use super::framing::FrameReader;
use super::lsp::{Connection, CoreSource, build_service};
use super::message::{Incoming, Rejection, classify, error_reply};
use super::output::Output;
use super::protocol::{EVENT_NOTIFICATION, EVENTS_DROPPED_NOTIFICATION, notification};
use crate::orchestrator::events::Event;
use crate::tools::ToolRegistry;

/// Transport settings for one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionOptions {
    pub max_frame_bytes: usize,
    /// Requests handled at once (notifications are never held back by this).
    pub concurrency: usize,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        let t = crate::config::TransportConfig::default();
        Self {
            max_frame_bytes: t.max_frame_bytes,
            concurrency: t.concurrency,
        }
    }
}

/// How the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// The process exit code LSP asks for: 0 after `shutdown` then `exit`, 1 otherwise.
    pub exit_code: i32,
    /// True when the client sent `exit`; false when its input ended.
    pub exit_received: bool,
}

/// Serves one client until it sends `exit` or its input ends.
pub async fn serve_connection<R, W>(
    input: R,
    output: W,
    options: ConnectionOptions,
    source: CoreSource,
) -> Ended
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let out = Arc::new(Output::new(output));
    let conn = Arc::new(Connection::new(
        source,
        Arc::new(ToolRegistry::builtin()),
        out.clone(),
    ));
    let (mut service, socket) = build_service(conn.clone());
    let (mut server_requests, mut client_responses) = socket.split();

    // Server-to-client requests and notifications that tower-lsp's `Client` produces.
    let loopback_out = out.clone();
    let loopback = tokio::spawn(async move {
        while let Some(req) = server_requests.next().await {
            let Ok(text) = serde_json::to_string(&req) else {
                continue;
            };
            if loopback_out.send(&text).await.is_err() {
                break;
            }
        }
    });

    let mut concurrency = options.concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    // Requests waiting on the side for a slot.
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut reader = FrameReader::new(input, options.max_frame_bytes);
    let mut exit_received = false;

    while let Some(frame) = reader.next_frame().await {
        if let Some(t) = conn.transport_update.lock().take() {
            reader.set_max_frame_bytes(t.max_frame_bytes);
            concurrency = resize(&slots, concurrency, t.concurrency.max(1));
        }
        let body = match frame {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!("bad frame: {e}");
                let reply = error_reply(&Rejection::from(e));
                if out.send(&reply).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let request = match classify(&body) {
            Ok(Incoming::Request(req)) => req,
            Ok(Incoming::Response(res)) => {
                // A reply to a request we sent the client.
                let _ = client_responses.send(res).await;
                continue;
            }
            Err(rejection) => {
                reader.mark_previous_failed();
                tracing::warn!(
                    code = rejection.code,
                    "rejected message: {}",
                    rejection.message
                );
                if out.send(&error_reply(&rejection)).await.is_err() {
                    break;
                }
                continue;
            }
        };
        if request.method() == "exit" {
            exit_received = true;
            break;
        }
        // The lifecycle requests are answered before anything after them is read: a client
        // that pipelines `initialize` and its first requests, or `shutdown` and `exit`, gets
        // them in order.
        let in_order = matches!(request.method(), "initialize" | "shutdown");
        // Requests take a slot (`transport.concurrency`); notifications are quick and must
        // never wait behind long requests (e.g. a `$/cancelRequest` for one of them).
        let needs_slot = request.id().is_some();
        let permit = if !needs_slot {
            None
        } else {
            match slots.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                // All slots taken. Up to as many requests again wait for one on the side,
                // so that the replies and notifications behind them are still read (a
                // bridge reply or a session's idle may be what ends the requests holding
                // the slots); past that, reading waits too.
                Err(_) if !in_order && waiting.load(Ordering::SeqCst) < concurrency => None,
                Err(_) => match slots.clone().acquire_owned().await {
                    Ok(p) => Some(p),
                    Err(_) => break,
                },
            }
        };
        let waits_for_slot = needs_slot && permit.is_none();
        if futures::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .is_err()
        {
            break;
        }
        let id = request.id().cloned();
        let mut fut = service.call(request);
        if waits_for_slot {
            // Not polled (so not started) until it has its slot.
            let (slots, out, waiting) = (slots.clone(), out.clone(), waiting.clone());
            waiting.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let permit = slots.acquire_owned().await;
                waiting.fetch_sub(1, Ordering::SeqCst);
                let Ok(_permit) = permit else {
                    return;
                };
                if let Some(text) = reply_text(fut.await, id) {
                    let _ = out.send(&text).await;
                }
            });
            continue;
        }
        // Most other requests finish without waiting on anything: answer those right here
        // instead of paying for a spawned task.
        let ready = if in_order {
            Some((&mut fut).await)
        } else {
            futures::FutureExt::now_or_never(&mut fut)
        };
        match ready {
            Some(result) => {
                drop(permit);
                if let Some(text) = reply_text(result, id)
                    && out.send(&text).await.is_err()
                {
                    break;
                }
            }
            None => {
                let out = out.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Some(text) = reply_text(fut.await, id) {
                        let _ = out.send(&text).await;
                    }
                });
            }
        }
    }

    conn.closed.cancel();
    let exit_code = if exit_received && conn.shutdown_requested.load(Ordering::SeqCst) {
        0
    } else {
        1
    };
    loopback.abort();
    // Stop writing even if handlers are still running; a frame being written may finish, but a
    // client that stopped reading cannot hold us here.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), out.close()).await;
    if conn.owns_orchestrator.load(Ordering::SeqCst)
        && let Some(orch) = conn.orchestrator.get()
    {
        orch.shutdown().await;
    }
    Ended {
        exit_code,
        exit_received,
    }
}

/// The frame to send for what the service made of request `id`. tower-lsp answers a request
/// for a `$/` method it does not know with nothing (it treats `$/` methods as
/// notifications); JSON-RPC wants every request answered: method not found.
fn reply_text<E>(result: Result<Option<Response>, E>, id: Option<Id>) -> Option<String> {
    let response = match (result, id) {
        (Ok(Some(response)), _) => response,
        (Ok(None), Some(id)) => {
            Response::from_error(id, tower_lsp_server::jsonrpc::Error::method_not_found())
        }
        _ => return None,
    };
    serde_json::to_string(&response).ok()
}

/// Grows or shrinks the request slots; shrinking takes effect as running requests finish.
fn resize(slots: &Arc<Semaphore>, from: usize, to: usize) -> usize {
    if to > from {
        slots.add_permits(to - from);
    } else if to < from {
        let slots = slots.clone();
        let n = (from - to) as u32;
        tokio::spawn(async move {
            if let Ok(p) = slots.acquire_many(n).await {
                p.forget();
            }
        });
    }
    to
}

/// Forwards bus events to the client once it is initialized. A client that does not read
/// only fills its own queue: the bus drops its oldest events for it and we tell it how many,
/// so it can catch up with `orchestrator/events/replay`.
pub(super) fn start_event_forwarding(
    conn: Arc<Connection>,
    mut events: broadcast::Receiver<Arc<Event>>,
) {
    let mut initialized = conn.initialized.subscribe();
    let closed = conn.closed.clone();
    tokio::spawn(closed.run_until_cancelled_owned(async move {
        if initialized.wait_for(|ready| *ready).await.is_err() {
            return;
        }
        drop(initialized);
        let mut last_seq = 0u64;
        loop {
            let text = match events.recv().await {
                Ok(event) => {
                    last_seq = event.seq;
                    notification(EVENT_NOTIFICATION, &*event)
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    conn.dropped_events.fetch_add(n, Ordering::Relaxed);
                    notification(
                        EVENTS_DROPPED_NOTIFICATION,
                        &serde_json::json!({"dropped": n, "afterSeq": last_seq}),
                    )
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if conn.out.send(&text).await.is_err() {
                break;
            }
        }
    }));
}
