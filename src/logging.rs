//! Logging to a file (never stdout: stdout carries the protocol).

use std::path::Path;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

static RELOAD: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Starts logging to `path` at `level` (a tracing filter), unless `RUST_LOG` says otherwise.
/// Returns a guard that flushes the log when dropped.
pub fn init(
    path: &Path,
    level: &str,
) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // The default queue holds 128,000 lines and is allocated (about 4 MB) up front; a few
    // thousand lines is plenty for a log that writes a line per notable event.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(4096)
        .lossy(true)
        .finish(file);
    let filter = env_filter(level);
    let (filter, handle) = reload::Layer::new(filter);
    let _ = RELOAD.set(handle);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false),
        )
        .try_init();
    Ok(guard)
}

fn env_filter(level: &str) -> EnvFilter {
    match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => {
            EnvFilter::try_new(env).unwrap_or_else(|_| EnvFilter::new("info"))
        }
        _ => EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")),
    }
}

/// Applies the level from the workspace config (RUST_LOG still wins).
pub fn set_level(level: &str) {
    if let Some(handle) = RELOAD.get() {
        let _ = handle.modify(|f| *f = env_filter(level));
    }
}
