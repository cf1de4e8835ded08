//! Task ids: time-ordered, unique across restarts, short enough to read aloud.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use super::task::now_ms;

static COUNTER: AtomicU64 = AtomicU64::new(0);

static SALT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// `tsk_` + milliseconds (hex) + 6 hex digits: a per-process random start plus a counter, so
/// ids made in the same millisecond by one process never collide, and two processes almost
/// never do.
pub fn task_id() -> String {
    id_with("tsk_")
}

/// `msn_` + the same scheme as task ids.
pub fn mission_id() -> String {
    id_with("msn_")
}

fn id_with(prefix: &str) -> String {
    let salt = *SALT.get_or_init(random_u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = salt.wrapping_add(n) & 0xff_ffff;
    format!("{prefix}{:011x}{:06x}", now_ms(), suffix)
}

/// FNV-1a: a hash that is the same in every build and on every platform (std's is not), for
/// names derived from paths and URLs (socket and cache file names).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
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
