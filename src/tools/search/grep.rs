//! One pass over the tree for any number of patterns.
//!
//! Each walker thread reads a file once (skipping it, and counting it, when it is over the size
//! cap or holds a NUL byte) and runs every pattern's matcher over its bytes with
//! `grep-searcher`. Results are kept per pattern in path order, pruned as they come so that
//! only what can still be among the first `maxResults` is held, while every match is counted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use grep_regex::RegexMatcher;
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkMatch};
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};
use parking_lot::Mutex;

use super::pattern::{Patterns, first_match};
use super::scope::Scope;
use super::walk::{WalkOptions, walker};
use crate::orchestrator::OrchestratorError;

/// Longest line text kept for a match or context line, in bytes.
pub(crate) const MAX_LINE_BYTES: usize = 300;

pub(crate) struct GrepRequest {
    pub scope: Scope,
    pub patterns: Patterns,
    pub globs: Vec<String>,
    pub include_hidden: bool,
    pub context: usize,
    /// Per pattern.
    pub max_results: usize,
    pub max_file_bytes: u64,
}

/// One matching line.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub line: u64,
    /// 1-based byte column of the first match on the line.
    pub column: u64,
    pub text: String,
    pub before: Vec<(u64, String)>,
    pub after: Vec<(u64, String)>,
}

/// The first matching lines of one file, and how many it has in all.
#[derive(Debug, Clone)]
pub(crate) struct FileHits {
    pub path: String,
    pub total: u64,
    pub hits: Vec<Hit>,
}

/// One pattern's answer.
#[derive(Debug)]
pub(crate) struct Group {
    pub pattern: String,
    /// Matching lines in all files.
    pub matches: u64,
    /// Files with at least one matching line.
    pub files: u64,
    /// The first `maxResults` matching lines, by path then line, grouped by file.
    pub shown: Vec<FileHits>,
    pub shown_count: usize,
}

impl Group {
    pub fn truncated(&self) -> bool {
        self.matches > self.shown_count as u64
    }
}

/// What the walk saw.
#[derive(Debug, Default)]
pub(crate) struct ScanStats {
    pub files_searched: u64,
    pub skipped_binary: u64,
    /// Paths of the files over the size cap, sorted.
    pub skipped_large: Vec<String>,
    /// Files or directories that could not be read.
    pub unreadable: u64,
    /// True when the search was stopped before the end (its caller went away).
    pub cancelled: bool,
}

pub(crate) struct GrepReport {
    pub groups: Vec<Group>,
    pub stats: ScanStats,
}

/// Runs the search on the calling thread (plus the walker's threads).
pub(crate) fn search(
    req: &GrepRequest,
    cancel: &AtomicBool,
) -> Result<GrepReport, OrchestratorError> {
    let walk = walker(
        &req.scope,
        &WalkOptions {
            include_hidden: req.include_hidden,
            globs: &req.globs,
            glob_field: "glob",
        },
    )?;
    let shared = Shared {
        req,
        cancel,
        done: Mutex::new(Vec::new()),
    };
    walk.visit(&mut VisitorFactory { shared: &shared });
    let partials = shared.done.into_inner();

    let mut stats = ScanStats {
        cancelled: cancel.load(Ordering::Relaxed),
        ..ScanStats::default()
    };
    let mut tops: Vec<Top> = (0..req.patterns.len())
        .map(|_| Top::new(req.max_results))
        .collect();
    for part in partials {
        stats.files_searched += part.files_searched;
        stats.skipped_binary += part.skipped_binary;
        stats.unreadable += part.unreadable;
        stats.skipped_large.extend(part.skipped_large);
        for (top, theirs) in tops.iter_mut().zip(part.tops) {
            top.matches += theirs.matches;
            top.files += theirs.files;
            for (_, file) in theirs.kept {
                top.keep(file);
            }
        }
    }
    stats.skipped_large.sort();
    let groups = tops
        .into_iter()
        .zip(&req.patterns.sources)
        .map(|(top, pattern)| top.into_group(pattern.clone()))
        .collect();
    Ok(GrepReport { groups, stats })
}

/// One pattern's results so far: every match counted, and the files whose matches may still be
/// among the first `max` in path order. Invariant: the files before the last one kept hold
/// fewer than `max` hits, so nothing after the last one can be needed once `max` are held.
struct Top {
    max: usize,
    kept: BTreeMap<String, FileHits>,
    held: usize,
    matches: u64,
    files: u64,
}

impl Top {
    fn new(max: usize) -> Self {
        Self {
            max,
            kept: BTreeMap::new(),
            held: 0,
            matches: 0,
            files: 0,
        }
    }

    /// Could hits of a file at `path` be among the first `max`?
    fn wants(&self, path: &str) -> bool {
        self.held < self.max
            || self
                .kept
                .last_key_value()
                .is_none_or(|(last, _)| path < last.as_str())
    }

    /// Holds a file's hits (at most `max` of them) if they may be needed.
    fn keep(&mut self, file: FileHits) {
        if !self.wants(&file.path) {
            return;
        }
        self.held += file.hits.len();
        self.kept.insert(file.path.clone(), file);
        while let Some((_, last)) = self.kept.last_key_value() {
            let n = last.hits.len();
            if self.held - n >= self.max {
                self.held -= n;
                self.kept.pop_last();
            } else {
                break;
            }
        }
    }

    fn into_group(self, pattern: String) -> Group {
        let mut shown = Vec::new();
        let mut shown_count = 0;
        for (_, mut file) in self.kept {
            if shown_count >= self.max {
                break;
            }
            file.hits.truncate(self.max - shown_count);
            shown_count += file.hits.len();
            shown.push(file);
        }
        Group {
            pattern,
            matches: self.matches,
            files: self.files,
            shown,
            shown_count,
        }
    }
}

/// What one walker thread found.
struct Partial {
    tops: Vec<Top>,
    files_searched: u64,
    skipped_binary: u64,
    skipped_large: Vec<String>,
    unreadable: u64,
}

struct Shared<'a> {
    req: &'a GrepRequest,
    cancel: &'a AtomicBool,
    done: Mutex<Vec<Partial>>,
}

struct VisitorFactory<'a> {
    shared: &'a Shared<'a>,
}

impl<'s> ParallelVisitorBuilder<'s> for VisitorFactory<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        let req = self.shared.req;
        Box::new(FileSearcher {
            shared: self.shared,
            searcher: SearcherBuilder::new()
                .line_number(true)
                // Binary files are found (and skipped) before the search; UTF-16 files are
                // not transcoded (their NUL bytes make them binary here).
                .binary_detection(BinaryDetection::none())
                .bom_sniffing(false)
                .build(),
            each: req.patterns.each.clone(),
            buf: Vec::new(),
            lines: Vec::new(),
            part: Partial {
                tops: (0..req.patterns.len())
                    .map(|_| Top::new(req.max_results))
                    .collect(),
                files_searched: 0,
                skipped_binary: 0,
                skipped_large: Vec::new(),
                unreadable: 0,
            },
        })
    }
}

/// A walker thread's searcher; hands its results over when the walk drops it.
struct FileSearcher<'a> {
    shared: &'a Shared<'a>,
    searcher: Searcher,
    each: Vec<RegexMatcher>,
    buf: Vec<u8>,
    /// Matching lines of the current file: (line number, start, end) in `buf`.
    lines: Vec<(u64, usize, usize)>,
    part: Partial,
}

impl Drop for FileSearcher<'_> {
    fn drop(&mut self) {
        let part = std::mem::replace(
            &mut self.part,
            Partial {
                tops: Vec::new(),
                files_searched: 0,
                skipped_binary: 0,
                skipped_large: Vec::new(),
                unreadable: 0,
            },
        );
        self.shared.done.lock().push(part);
    }
}

impl ParallelVisitor for FileSearcher<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        if self.shared.cancel.load(Ordering::Relaxed) {
            return WalkState::Quit;
        }
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                if self.search_file(entry.path()).is_err() {
                    self.part.unreadable += 1;
                }
            }
            Ok(_) => {}
            Err(_) => self.part.unreadable += 1,
        }
        WalkState::Continue
    }
}

/// Collects matching lines; never fails.
struct Collect<'a> {
    lines: &'a mut Vec<(u64, usize, usize)>,
}

impl Sink for Collect<'_> {
    type Error = io::Error;

    fn matched(&mut self, _: &Searcher, mat: &SinkMatch<'_>) -> Result<bool, io::Error> {
        let mut start = mat.absolute_byte_offset() as usize;
        for (number, line) in (mat.line_number().unwrap_or(0)..).zip(mat.lines()) {
            self.lines.push((number, start, start + line.len()));
            start += line.len();
        }
        Ok(true)
    }
}

impl FileSearcher<'_> {
    fn search_file(&mut self, path: &Path) -> io::Result<()> {
        let req = self.shared.req;
        let cap = req.max_file_bytes;
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len > cap {
            self.part.skipped_large.push(req.scope.display(path));
            return Ok(());
        }
        self.buf.clear();
        // Room for the whole file and the read that sees its end.
        self.buf.reserve(len as usize + 1);
        // A file that grew since its size was read is still held to the cap.
        file.take(cap + 1).read_to_end(&mut self.buf)?;
        if self.buf.len() as u64 > cap {
            self.part.skipped_large.push(req.scope.display(path));
            return Ok(());
        }
        if memchr::memchr(0, &self.buf).is_some() {
            self.part.skipped_binary += 1;
            return Ok(());
        }
        self.part.files_searched += 1;
        let mut shown: Option<String> = None;
        for (i, matcher) in self.each.iter().enumerate() {
            self.lines.clear();
            self.searcher.search_slice(
                matcher,
                &self.buf,
                Collect {
                    lines: &mut self.lines,
                },
            )?;
            if self.lines.is_empty() {
                continue;
            }
            let shown = shown.get_or_insert_with(|| req.scope.display(path));
            let top = &mut self.part.tops[i];
            // Every line counts; only those that can be shown are looked at further.
            let total = self.lines.len() as u64;
            top.matches += total;
            top.files += 1;
            if !top.wants(shown) {
                continue;
            }
            let mut hits = Vec::new();
            for &(number, start, end) in self.lines.iter().take(req.max_results) {
                let line = &self.buf[start..end];
                let column = first_match(matcher, line).unwrap_or(0);
                hits.push(Hit {
                    line: number,
                    column: column as u64 + 1,
                    text: line_text(line, column),
                    before: before(&self.buf, start, number, req.context),
                    after: after(&self.buf, end, number, req.context),
                });
            }
            top.keep(FileHits {
                path: shown.clone(),
                total,
                hits,
            });
        }
        Ok(())
    }
}

/// Up to `n` lines before the line starting at `start` (numbered `number`), oldest first.
fn before(buf: &[u8], start: usize, number: u64, n: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut end = start; // exclusive end of the previous line, including its '\n'
    while out.len() < n && end > 0 {
        let line_start = memchr::memrchr(b'\n', &buf[..end - 1]).map_or(0, |i| i + 1);
        out.push((
            number - 1 - out.len() as u64,
            line_text(&buf[line_start..end], 0),
        ));
        end = line_start;
    }
    out.reverse();
    out
}

/// Up to `n` lines after the line ending at `end` (exclusive, numbered `number`).
fn after(buf: &[u8], end: usize, number: u64, n: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut start = end;
    while out.len() < n && start < buf.len() {
        let line_end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |i| start + i + 1);
        out.push((
            number + 1 + out.len() as u64,
            line_text(&buf[start..line_end], 0),
        ));
        start = line_end;
    }
    out
}

/// The text of a line without its line break, cut to [`MAX_LINE_BYTES`] around `focus` (the
/// byte offset of the match) with `…` where something was cut.
pub(crate) fn line_text(line: &[u8], focus: usize) -> String {
    let mut line = line;
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    if line.len() <= MAX_LINE_BYTES {
        return String::from_utf8_lossy(line).into_owned();
    }
    // Show some text before the match, and the match itself.
    let lead = MAX_LINE_BYTES / 4;
    let mut start = if focus < MAX_LINE_BYTES - lead {
        0
    } else {
        (focus - lead).min(line.len() - MAX_LINE_BYTES)
    };
    let mut end = (start + MAX_LINE_BYTES).min(line.len());
    // Keep UTF-8 sequences whole.
    while start > 0 && start < line.len() && (line[start] & 0xC0) == 0x80 {
        start += 1;
    }
    while end < line.len() && end > start && (line[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let mut text = String::new();
    if start > 0 {
        text.push('…');
    }
    text.push_str(&String::from_utf8_lossy(&line[start..end]));
    if end < line.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_lines_stop_at_the_file_edges() {
        let buf = b"a\nb\nc\nd\n";
        // The match is line 2 ("b\n", bytes 2..4).
        assert_eq!(before(buf, 2, 2, 3), vec![(1, "a".to_string())]);
        assert_eq!(after(buf, 4, 2, 5), vec![(3, "c".into()), (4, "d".into())]);
        assert_eq!(after(b"a\nb", 2, 1, 2), vec![(2, "b".into())]);
        assert!(before(buf, 0, 1, 2).is_empty());
    }

    #[test]
    fn long_lines_are_cut_around_the_match() {
        let mut line = "x".repeat(1000);
        line.replace_range(700..703, "HIT");
        let text = line_text(line.as_bytes(), 700);
        assert!(text.contains("HIT"), "{text}");
        assert!(text.starts_with('…') && text.ends_with('…'));
        assert!(text.len() <= MAX_LINE_BYTES + 6);
        let text = line_text(line.as_bytes(), 10);
        assert!(!text.starts_with('…') && text.ends_with('…'));
        let text = line_text(line.as_bytes(), 999);
        assert!(text.starts_with('…') && !text.ends_with('…'), "{text}");
        let wide = "é".repeat(400);
        let text = line_text(wide.as_bytes(), 401);
        assert!(text.chars().all(|c| c == 'é' || c == '…'));
        assert_eq!(line_text(b"abc\r\n", 0), "abc");
    }

    #[test]
    fn top_keeps_only_what_can_be_shown() {
        let file = |p: &str, n: usize| FileHits {
            path: p.into(),
            total: n as u64,
            hits: (0..n)
                .map(|i| Hit {
                    line: i as u64 + 1,
                    column: 1,
                    text: String::new(),
                    before: vec![],
                    after: vec![],
                })
                .collect(),
        };
        let mut top = Top::new(3);
        top.keep(file("d", 2));
        top.keep(file("c", 2));
        assert_eq!(top.kept.len(), 2);
        top.keep(file("e", 1));
        assert_eq!(top.kept.len(), 2, "e comes after 4 held hits");
        top.keep(file("a", 3));
        assert_eq!(top.kept.keys().collect::<Vec<_>>(), ["a"]);
        top.keep(file("b", 1));
        let g = top.into_group("p".into());
        assert_eq!(g.shown_count, 3);
        assert_eq!(g.shown[0].path, "a");
    }
}
