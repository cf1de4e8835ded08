//! The event bus: every state change, announced to every client in `seq` order.
//!
//! Events get their `seq` from the ledger's writer, which publishes them here only after
//! they are committed. The bus keeps the newest events in a ring for cheap replay and fans
//! them out through a `tokio::sync::broadcast` channel: a slow receiver lags (its loss is
//! counted by the receiver) and never blocks the publisher.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::task::Millis;

/// One announced event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Strictly increasing across the whole ledger.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time: Millis,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
}

/// An event before the ledger has given it a `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub kind: String,
    pub data: serde_json::Value,
}

impl EventDraft {
    pub fn new(kind: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            data,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    ring: Mutex<VecDeque<Arc<Event>>>,
    ring_capacity: usize,
    sender: broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    /// `ring_capacity`: events kept in memory for replay; `client_queue`: how far one
    /// receiver may fall behind before it starts losing events.
    pub fn new(ring_capacity: usize, client_queue: usize) -> Self {
        let (sender, _) = broadcast::channel(client_queue.max(1));
        Self {
            inner: Arc::new(BusInner {
                ring: Mutex::new(VecDeque::with_capacity(ring_capacity)),
                ring_capacity,
                sender,
            }),
        }
    }

    /// Announce a committed event. Never blocks.
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        {
            let mut ring = self.inner.ring.lock();
            if self.inner.ring_capacity > 0 {
                if ring.len() == self.inner.ring_capacity {
                    ring.pop_front();
                }
                ring.push_back(event.clone());
            }
        }
        // No receivers is fine: nobody is listening yet.
        let _ = self.inner.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.sender.subscribe()
    }

    /// Events with `seq > after` from memory, if the ring still reaches back that far.
    /// `None` means the ring does not cover it: ask the ledger.
    pub fn replay_from_memory(&self, after: u64, limit: usize) -> Option<Vec<Event>> {
        let ring = self.inner.ring.lock();
        let oldest = ring.front()?.seq;
        if oldest > after.saturating_add(1) {
            return None; // events between `after` and the ring's start live only in SQLite
        }
        Some(
            ring.iter()
                .filter(|e| e.seq > after)
                .take(limit)
                .map(|e| (**e).clone())
                .collect(),
        )
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.inner.ring.lock().back().map(|e| e.seq)
    }

    pub fn in_memory(&self) -> usize {
        self.inner.ring.lock().len()
    }

    pub fn receivers(&self) -> usize {
        self.inner.sender.receiver_count()
    }
}
