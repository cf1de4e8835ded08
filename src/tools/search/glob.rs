//! File listing by globs: the walk of the search tools with the globs as include filters
//! (`!glob` excludes), like `rg --files -g GLOB`.

use std::sync::atomic::{AtomicBool, Ordering};

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};
use parking_lot::Mutex;

use super::scope::Scope;
use super::walk::{WalkOptions, walker};
use crate::orchestrator::OrchestratorError;

pub(crate) struct GlobRequest {
    pub scope: Scope,
    pub patterns: Vec<String>,
    pub include_hidden: bool,
    pub max_results: usize,
}

pub(crate) struct GlobReport {
    /// The first `max_results` files, sorted by path.
    pub files: Vec<String>,
    /// Every file that matched.
    pub total: u64,
    pub unreadable: u64,
    pub cancelled: bool,
}

pub(crate) fn list(
    req: &GlobRequest,
    cancel: &AtomicBool,
) -> Result<GlobReport, OrchestratorError> {
    let walk = walker(
        &req.scope,
        &WalkOptions {
            include_hidden: req.include_hidden,
            globs: &req.patterns,
            glob_field: "patterns",
        },
    )?;
    let shared = Shared {
        req,
        cancel,
        done: Mutex::new(Vec::new()),
    };
    walk.visit(&mut Factory { shared: &shared });
    let mut files = Vec::new();
    let mut total = 0;
    let mut unreadable = 0;
    for part in shared.done.into_inner() {
        total += part.total;
        unreadable += part.unreadable;
        files.extend(part.files);
    }
    files.sort_unstable();
    files.truncate(req.max_results);
    Ok(GlobReport {
        files,
        total,
        unreadable,
        cancelled: cancel.load(Ordering::Relaxed),
    })
}

#[derive(Default)]
struct Partial {
    /// Sorted, at most `max_results`: the smallest paths this thread saw.
    files: Vec<String>,
    total: u64,
    unreadable: u64,
}

struct Shared<'a> {
    req: &'a GlobRequest,
    cancel: &'a AtomicBool,
    done: Mutex<Vec<Partial>>,
}

struct Factory<'a> {
    shared: &'a Shared<'a>,
}

impl<'s> ParallelVisitorBuilder<'s> for Factory<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Lister {
            shared: self.shared,
            part: Partial::default(),
        })
    }
}

struct Lister<'a> {
    shared: &'a Shared<'a>,
    part: Partial,
}

impl Lister<'_> {
    /// Keeps the list bounded: past twice the cap, sort and keep the smallest `cap`.
    fn push(&mut self, path: String) {
        let cap = self.shared.req.max_results;
        self.part.files.push(path);
        if self.part.files.len() >= cap.saturating_mul(2).max(64) {
            self.part.files.sort_unstable();
            self.part.files.truncate(cap);
        }
    }
}

impl Drop for Lister<'_> {
    fn drop(&mut self) {
        let mut part = std::mem::take(&mut self.part);
        part.files.sort_unstable();
        part.files.truncate(self.shared.req.max_results);
        self.shared.done.lock().push(part);
    }
}

impl ParallelVisitor for Lister<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        if self.shared.cancel.load(Ordering::Relaxed) {
            return WalkState::Quit;
        }
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                self.part.total += 1;
                let shown = self.shared.req.scope.display(entry.path());
                self.push(shown);
            }
            Ok(_) => {}
            Err(_) => self.part.unreadable += 1,
        }
        WalkState::Continue
    }
}
