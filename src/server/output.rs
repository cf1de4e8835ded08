//! The write side of a connection: whole frames, one at a time, straight to the client.
//!
//! Replies, events and server-to-client requests all write through here. Writing directly
//! (under an async mutex, one frame per lock) rather than through a writer task saves a thread
//! hop on every reply. A client that stops reading blocks only the writers of its own
//! connection; the event bus drops that client's oldest events instead of waiting.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::framing::encode_frame;

/// The client is gone or the connection is closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

type Writer = Box<dyn AsyncWrite + Send + Unpin>;

pub struct Output {
    writer: Mutex<Option<Writer>>,
}

impl Output {
    pub fn new(writer: impl AsyncWrite + Send + Unpin + 'static) -> Self {
        Self {
            writer: Mutex::new(Some(Box::new(writer))),
        }
    }

    /// Writes one frame and flushes it.
    pub async fn send(&self, body: &str) -> Result<(), Closed> {
        let frame = encode_frame(body.as_bytes());
        let mut guard = self.writer.lock().await;
        let writer = guard.as_mut().ok_or(Closed)?;
        let written = async {
            writer.write_all(&frame).await?;
            writer.flush().await
        }
        .await;
        if let Err(e) = written {
            tracing::debug!("client output closed: {e}");
            *guard = None;
            return Err(Closed);
        }
        Ok(())
    }

    /// Stops all further writes. Waits for a frame being written to finish first.
    pub async fn close(&self) {
        let mut guard = self.writer.lock().await;
        if let Some(mut w) = guard.take() {
            let _ = w.flush().await;
        }
    }
}
