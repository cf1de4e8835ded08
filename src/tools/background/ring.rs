//! A job's output: the newest lines of one stream in memory (bounded by lines and bytes, each
//! line cut at a byte cap), and tails read back from its log file when memory no longer holds
//! them.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Most lines a tail may ask for, and so most lines worth keeping in memory.
pub const MAX_TAIL: usize = 1000;

/// Most bytes read from the end of a log file for one tail.
const MAX_FILE_TAIL_BYTES: u64 = 16 << 20;

/// The newest lines of one output stream.
#[derive(Debug)]
pub struct Ring {
    lines: VecDeque<String>,
    bytes: usize,
    max_bytes: usize,
    max_line_bytes: usize,
    /// The line being written (no newline yet), at most `max_line_bytes`.
    partial: Vec<u8>,
    /// Bytes of the current line past the cap.
    partial_cut: usize,
    /// Complete lines seen.
    total: u64,
    /// Complete lines no longer in memory.
    dropped: u64,
    /// Set when the log file stopped at its cap (see `mark_log_capped`).
    log_capped: bool,
}

/// The last lines of a stream.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    pub lines: Vec<String>,
    /// Lines the stream had in all, when known.
    pub total: Option<u64>,
    /// Why fewer lines than asked for are shown, when that is so.
    pub note: Option<String>,
}

impl Ring {
    pub fn new(max_bytes: usize, max_line_bytes: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            max_bytes,
            max_line_bytes: max_line_bytes.max(1),
            partial: Vec::new(),
            partial_cut: 0,
            total: 0,
            dropped: 0,
            log_capped: false,
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|b| *b == b'\n') {
            self.append(&data[..i]);
            self.end_line();
            data = &data[i + 1..];
        }
        self.append(data);
    }

    fn append(&mut self, part: &[u8]) {
        let room = self.max_line_bytes.saturating_sub(self.partial.len());
        let take = room.min(part.len());
        self.partial.extend_from_slice(&part[..take]);
        self.partial_cut += part.len() - take;
    }

    fn end_line(&mut self) {
        let mut raw = std::mem::take(&mut self.partial);
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let cut = std::mem::take(&mut self.partial_cut);
        let line = render(&raw, cut);
        self.bytes += line.len();
        self.lines.push_back(line);
        self.total += 1;
        while self.lines.len() > MAX_TAIL || (self.bytes > self.max_bytes && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    /// The log file stopped growing at `jobs.maxLogBytes`: its end is older than memory's.
    pub fn mark_log_capped(&mut self) {
        self.log_capped = true;
    }

    /// The last `n` lines (an unfinished last line counts), or `None` when memory no longer
    /// holds that many and the log file must be read instead. When the log was capped, its
    /// end is old output: then memory's lines are given, after a line saying what is missing.
    pub fn tail(&self, n: usize) -> Option<Tail> {
        let has_partial = !self.partial.is_empty() || self.partial_cut > 0;
        let total = self.total + u64::from(has_partial);
        let held = self.lines.len() + usize::from(has_partial);
        let mut wanted = n.min(usize::try_from(total).unwrap_or(usize::MAX));
        let mut note = None;
        if wanted > held {
            if !self.log_capped {
                return None;
            }
            note = Some(format!(
                "{} earlier lines are not shown: the log file reached jobs.maxLogBytes and \
                 memory holds the last {held}",
                wanted - held
            ));
            wanted = held;
        }
        let mut lines: Vec<String> = Vec::with_capacity(wanted);
        let from_lines = wanted - usize::from(has_partial && wanted > 0);
        lines.extend(
            self.lines
                .iter()
                .skip(self.lines.len() - from_lines)
                .cloned(),
        );
        if has_partial && wanted > 0 {
            lines.push(render(&self.partial, self.partial_cut));
        }
        Some(Tail {
            lines,
            total: Some(total),
            note,
        })
    }
}

fn render(raw: &[u8], cut: usize) -> String {
    let mut line = String::from_utf8_lossy(raw).into_owned();
    if cut > 0 {
        line.push_str(&format!(" [… {cut} more bytes]"));
    }
    line
}

/// The last `n` lines of a log file, each cut at `max_line_bytes`. A missing file is empty.
pub fn file_tail(path: &Path, n: usize, max_line_bytes: usize) -> std::io::Result<Tail> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tail::default()),
        Err(e) => return Err(e),
    };
    if n == 0 {
        return Ok(Tail::default());
    }
    let len = file.metadata()?.len();
    // Enough for `n` lines of the usual length; more when lines turn out longer.
    let mut budget = ((n as u64 + 1) * (max_line_bytes as u64 + 2)).min(MAX_FILE_TAIL_BYTES);
    let (buf, start) = loop {
        let take = budget.min(len);
        let start = len - take;
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity(take as usize);
        (&mut file).take(take).read_to_end(&mut buf)?;
        let newlines = buf.iter().filter(|b| **b == b'\n').count();
        if start == 0 || newlines > n || budget >= MAX_FILE_TAIL_BYTES {
            break (buf, start);
        }
        budget = (budget * 4).min(MAX_FILE_TAIL_BYTES);
    };
    let mut pieces: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
    if start > 0 && !pieces.is_empty() {
        // The first piece is the end of a line that began before what was read.
        pieces.remove(0);
    }
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let skip = pieces.len().saturating_sub(n);
    let lines = pieces[skip..]
        .iter()
        .map(|p| {
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            let keep = p.len().min(max_line_bytes);
            render(&p[..keep], p.len() - keep)
        })
        .collect();
    Ok(Tail {
        lines,
        total: (start == 0).then_some((pieces.len()) as u64),
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_long_lines_are_cut() {
        let mut r = Ring::new(1 << 20, 8);
        r.push(b"hel");
        r.push(b"lo\nwor");
        r.push(b"ld\r\n0123456789abc\npart");
        let t = r.tail(10).unwrap();
        assert_eq!(
            t.lines,
            ["hello", "world", "01234567 [… 5 more bytes]", "part"]
        );
        assert_eq!(t.total, Some(4));
        assert_eq!(
            r.tail(2).unwrap().lines,
            ["01234567 [… 5 more bytes]", "part"]
        );
        assert!(r.tail(0).unwrap().lines.is_empty());
    }

    #[test]
    fn memory_is_bounded_and_says_when_it_cannot_answer() {
        let mut r = Ring::new(100, 50);
        for i in 0..100 {
            r.push(format!("line {i:03}\n").as_bytes());
        }
        assert!(r.bytes <= 100);
        let t = r.tail(3).unwrap();
        assert_eq!(t.lines, ["line 097", "line 098", "line 099"]);
        assert_eq!(t.total, Some(100));
        assert!(r.tail(50).is_none(), "only ~12 lines fit in 100 bytes");
        // Once the log file is capped, its end is older than memory: memory's lines are given.
        r.mark_log_capped();
        let t = r.tail(50).unwrap();
        let held = t.lines.len();
        assert!(held > 0 && held < 50, "{held}");
        let note = t.note.as_deref().unwrap_or_default();
        assert!(
            note.starts_with(&format!("{} earlier lines are not shown", 50 - held)),
            "{note}"
        );
        assert_eq!(t.lines.last(), r.tail(1).unwrap().lines.last());
        assert_eq!(r.tail(3).unwrap().note, None);

        let mut r = Ring::new(1 << 30, 10);
        for _ in 0..(MAX_TAIL + 10) {
            r.push(b"x\n");
        }
        assert_eq!(r.lines.len(), MAX_TAIL);
        assert_eq!(r.tail(MAX_TAIL).unwrap().lines.len(), MAX_TAIL);
    }

    #[test]
    fn file_tails_read_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        assert!(file_tail(&path, 5, 100).unwrap().lines.is_empty());
        let text: String = (1..=500).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = file_tail(&path, 3, 100).unwrap();
        assert_eq!(t.lines, ["498", "499", "500"]);
        let t = file_tail(&path, 1000, 100).unwrap();
        assert_eq!(t.lines.len(), 500);
        assert_eq!(t.total, Some(500));
        std::fs::write(&path, "a\nbcdefghij\nno newline").unwrap();
        let t = file_tail(&path, 2, 4).unwrap();
        assert_eq!(t.lines, ["bcde [… 5 more bytes]", "no n [… 6 more bytes]"]);
    }
}
