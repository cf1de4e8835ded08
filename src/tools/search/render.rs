//! What the search tools say: compact `path:line: text` lines for the model (context lines as
//! `path-line- text`, `--` between separate runs of lines) under a header with the counts, and
//! the same results as structured metadata.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Value, json};

use super::MAX_RESULTS_CAP;
use super::grep::{FileHits, GrepReport, Group, ScanStats};

/// Large files named in the text and the metadata (all are counted).
const LARGE_NAMED: usize = 20;

/// One pattern's lines, grouped by file.
pub(crate) fn lines(group: &Group, context: bool, out: &mut String) {
    for (i, file) in group.shown.iter().enumerate() {
        if context && i > 0 {
            out.push_str("--\n");
        }
        file_lines(file, context, out);
    }
}

fn file_lines(file: &FileHits, context: bool, out: &mut String) {
    // Line number to (is a match, text); a match wins over the same line as context.
    let mut rows: BTreeMap<u64, (bool, &str)> = BTreeMap::new();
    for hit in &file.hits {
        for (n, text) in hit.before.iter().chain(&hit.after) {
            rows.entry(*n).or_insert((false, text));
        }
    }
    for hit in &file.hits {
        rows.insert(hit.line, (true, &hit.text));
    }
    let mut last: Option<u64> = None;
    for (n, (is_match, text)) in rows {
        if context && last.is_some_and(|l| l + 1 != n) {
            out.push_str("--\n");
        }
        let sep = if is_match { ':' } else { '-' };
        let _ = writeln!(out, "{}{sep}{n}{sep} {text}", file.path);
        last = Some(n);
    }
    let more = file.total.saturating_sub(file.hits.len() as u64);
    if more > 0 {
        let _ = writeln!(
            out,
            "{}: … {more} more matching {} not shown",
            file.path,
            plural(more, "line")
        );
    }
}

/// "searched N files; skipped ..." for the header.
pub(crate) fn scan_summary(stats: &ScanStats, max_file_bytes: u64) -> String {
    let mut s = format!(
        "searched {} {}",
        stats.files_searched,
        plural(stats.files_searched, "file")
    );
    if stats.skipped_binary > 0 {
        let _ = write!(
            s,
            "; skipped {} binary {}",
            stats.skipped_binary,
            plural(stats.skipped_binary, "file")
        );
    }
    let large = stats.skipped_large.len() as u64;
    if large > 0 {
        let named: Vec<&str> = stats
            .skipped_large
            .iter()
            .take(5)
            .map(String::as_str)
            .collect();
        let more = if large > 5 { ", …" } else { "" };
        let _ = write!(
            s,
            "; skipped {large} {} over {max_file_bytes} bytes (tools.maxFileBytes): {}{more}",
            plural(large, "file"),
            named.join(", ")
        );
    }
    if stats.unreadable > 0 {
        let _ = write!(s, "; {} unreadable", stats.unreadable);
    }
    if stats.cancelled {
        s.push_str("; stopped early (cancelled), counts are partial");
    }
    s
}

/// "12 matches in 3 files (showing the first 5, by path then line)".
pub(crate) fn group_summary(group: &Group) -> String {
    if group.matches == 0 {
        return "no matches".into();
    }
    let mut s = format!(
        "{} {} in {} {}",
        group.matches,
        plural(group.matches, "match"),
        group.files,
        plural(group.files, "file")
    );
    if group.truncated() {
        let _ = write!(
            s,
            " (showing {} of {}, by path then line; narrow with `path` or `glob`, or raise \
             `maxResults` up to {MAX_RESULTS_CAP})",
            group.shown_count, group.matches
        );
    } else {
        let _ = write!(s, " (showing {} of {})", group.shown_count, group.matches);
    }
    s
}

pub(crate) fn plural(n: u64, word: &str) -> String {
    match (n, word) {
        (1, w) => w.to_string(),
        (_, "match") => "matches".into(),
        (_, w) => format!("{w}s"),
    }
}

/// The structured matches of one pattern.
pub(crate) fn matches_json(group: &Group, context: bool) -> Value {
    let mut out = Vec::with_capacity(group.shown_count);
    for file in &group.shown {
        for hit in &file.hits {
            let mut m = json!({
                "path": file.path,
                "line": hit.line,
                "column": hit.column,
                "text": hit.text,
            });
            if context {
                let lines = |v: &[(u64, String)]| {
                    v.iter()
                        .map(|(n, t)| json!({"line": n, "text": t}))
                        .collect::<Vec<_>>()
                };
                m["before"] = json!(lines(&hit.before));
                m["after"] = json!(lines(&hit.after));
            }
            out.push(m);
        }
    }
    Value::Array(out)
}

/// One pattern's counts.
pub(crate) fn group_totals(group: &Group) -> Value {
    json!({
        "matches": group.matches,
        "files": group.files,
        "shown": group.shown_count,
        "truncated": group.truncated(),
    })
}

/// What the walk saw, merged into `totals`.
pub(crate) fn add_scan_totals(totals: &mut Value, stats: &ScanStats) {
    totals["filesSearched"] = json!(stats.files_searched);
    totals["filesSkippedLarge"] = json!(stats.skipped_large.len());
    totals["filesSkippedBinary"] = json!(stats.skipped_binary);
    totals["filesUnreadable"] = json!(stats.unreadable);
    if stats.cancelled {
        totals["cancelled"] = json!(true);
    }
}

pub(crate) fn skipped_large_json(report: &GrepReport) -> Value {
    json!(
        report
            .stats
            .skipped_large
            .iter()
            .take(LARGE_NAMED)
            .collect::<Vec<_>>()
    )
}

/// A pattern as shown in a header: in backticks, cut when very long.
pub(crate) fn quoted(pattern: &str) -> String {
    const MAX: usize = 120;
    if pattern.len() <= MAX {
        return format!("`{pattern}`");
    }
    let mut end = MAX;
    while !pattern.is_char_boundary(end) {
        end -= 1;
    }
    format!("`{}…`", &pattern[..end])
}
