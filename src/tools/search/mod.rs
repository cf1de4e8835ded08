//! The engine behind grep_search, glob_search and mgrep, on ripgrep's own crates.
//!
//! - [`scope`]: which directory a search may read (the workspace, or a configured extra root),
//!   after canonicalising so `..` and symlinks cannot escape.
//! - [`walk`]: one parallel walk (`ignore::WalkParallel`) with the standard ignore rules.
//! - [`pattern`]: regexes with smart case per pattern, one combined matcher for a single pass,
//!   and errors that point at the offending position.
//! - [`grep`]: every file read once, the combined matcher run over it by `grep-searcher`, each
//!   matching line attributed to the patterns that match it; results kept sorted and capped.
//! - [`glob`]: file listing with include/exclude globs.
//! - [`render`]: the compact text for the model and the structured metadata.
//!
//! Ignore rules (the same as `rg --no-require-git`): `.gitignore` (also outside a git
//! repository: a workspace's `.gitignore` says what is noise whether or not `.git` exists),
//! `.git/info/exclude`, the global git excludes file, `.ignore`, and those of parent
//! directories; hidden files and directories are skipped unless `includeHidden`; `.git`
//! directories are always skipped; symlinks are not followed.

pub(crate) mod glob;
pub(crate) mod grep;
pub(crate) mod pattern;
pub(crate) mod render;
pub(crate) mod scope;
pub(crate) mod walk;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::orchestrator::OrchestratorError;

/// Default and largest `maxResults`.
pub(crate) const DEFAULT_MAX_RESULTS: usize = 200;
pub(crate) const MAX_RESULTS_CAP: usize = 2000;
/// Largest `contextLines`.
pub(crate) const MAX_CONTEXT: usize = 10;
/// Most patterns one mgrep call answers.
pub(crate) const MAX_PATTERNS: usize = 32;

pub(crate) fn default_max_results() -> usize {
    DEFAULT_MAX_RESULTS
}

/// Runs blocking search work on tokio's blocking pool. When the caller stops waiting (the
/// request was cancelled), the flag passed to `work` turns true and the walk stops early.
pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, OrchestratorError>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> Result<T, OrchestratorError> + Send + 'static,
{
    struct CancelOnDrop(Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let guard = CancelOnDrop(cancel.clone());
    let result = tokio::task::spawn_blocking(move || work(&cancel))
        .await
        .map_err(|e| OrchestratorError::ToolFailed(format!("the search stopped abnormally: {e}")));
    drop(guard);
    result?
}

/// The arguments grep_search and mgrep share.
pub(crate) struct GrepArgs {
    pub patterns: Vec<String>,
    /// `pattern` or `patterns`, for error messages.
    pub pattern_field: &'static str,
    pub path: Option<String>,
    pub glob: Vec<String>,
    pub case_sensitive: Option<bool>,
    pub context_lines: usize,
    pub max_results: usize,
    pub include_hidden: bool,
}

/// Checks the arguments, then searches on the blocking pool.
pub(crate) async fn grep(
    orchestrator: &crate::orchestrator::Orchestrator,
    args: GrepArgs,
) -> Result<grep::GrepReport, OrchestratorError> {
    let config = &orchestrator.config().tools;
    let patterns = pattern::compile(&args.patterns, args.case_sensitive, args.pattern_field)?;
    let scope = scope::resolve(
        orchestrator.workspace_root(),
        &config.extra_roots,
        args.path.as_deref(),
    )?;
    let request = grep::GrepRequest {
        scope,
        patterns,
        globs: args.glob,
        include_hidden: args.include_hidden,
        context: args.context_lines.min(MAX_CONTEXT),
        max_results: args.max_results.clamp(1, MAX_RESULTS_CAP),
        max_file_bytes: config.max_file_bytes,
    };
    run_blocking(move |cancel| grep::search(&request, cancel)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_dropped_search_is_told_to_stop() {
        let (tx, rx) = std::sync::mpsc::channel();
        let search = run_blocking(move |cancel| {
            let t0 = Instant::now();
            while !cancel.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(cancel.load(Ordering::Relaxed));
            Ok(())
        });
        // The caller gives up (as a cancelled request's future is dropped).
        assert!(
            tokio::time::timeout(Duration::from_millis(50), search)
                .await
                .is_err()
        );
        let stopped = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(stopped, Ok(true));
    }
}
