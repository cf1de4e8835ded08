//! Task ids: time-ordered, unique across restarts, short enough to read aloud.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use super::task::now_ms;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `tsk_` + milliseconds (hex) + 6 hex digits of per-process randomness and a counter.
pub fn task_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded per process from the OS; hashing the counter gives a cheap,
    // non-repeating suffix without another dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    let suffix = (h.finish() ^ n) & 0xff_ffff;
    format!("tsk_{:011x}{:06x}", now_ms(), suffix)
}

/// A random number from the OS-seeded hasher (jitter, not cryptography).
pub fn random_u64() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_prefixed() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| super::task_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| i.starts_with("tsk_") && i.len() == 21));
    }
}
