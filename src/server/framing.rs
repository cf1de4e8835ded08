//! LSP base-protocol framing: `Content-Length: N\r\n\r\n` followed by N bytes of body.
//!
//! tower-lsp's stock codec ends the whole session on the first malformed frame. This reader
//! instead reports one error per bad frame and resynchronises on the next `Content-Length`
//! header, so one buggy or truncated message costs one error reply, not the connection.
//!
//! [`FrameReader::next_frame`] is cancel-safe: input is only consumed once what to do with it
//! is decided, so dropping its future (in `tokio::select!`, say) loses nothing.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame body accepted unless configured otherwise (`transport.maxFrameBytes`).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// How much room to offer the OS per read.
const READ_CHUNK: usize = 64 * 1024;
/// Longest header block (header lines plus the empty line) accepted.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The header every frame needs; also what resynchronisation looks for (case-insensitively).
const CONTENT_LENGTH: &[u8] = b"content-length";
/// An emptied buffer bigger than this hands its memory back, so one huge frame does not pin it.
const SHRINK_ABOVE: usize = 1024 * 1024;
/// Longest piece of offending input quoted in an error message.
const EXCERPT_BYTES: usize = 40;

/// A frame that could not be read; answer it with a JSON-RPC error whose id is null.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FrameError {
    pub kind: FrameErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// A header block without `Content-Length`.
    MissingContentLength,
    /// `Content-Length` that is not a non-negative integer (or several that disagree).
    InvalidContentLength,
    /// A header line that is not `Name: value`.
    MalformedHeader,
    /// No empty line within the first 8 KiB of a header block.
    HeaderTooLong,
    /// `Content-Length` above the configured maximum; the body was skipped unread.
    FrameTooLarge,
    /// A body that is not UTF-8.
    InvalidUtf8,
    /// Bytes between frames that do not start a header block.
    Garbage,
}

impl FrameError {
    fn new(kind: FrameErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The JSON-RPC error code to reply with.
    pub fn code(&self) -> i64 {
        match self.kind {
            // The frame itself was well formed, the server just refuses its size.
            FrameErrorKind::FrameTooLarge => -32600,
            _ => -32700,
        }
    }
}

/// Serialize one frame: `Content-Length: N\r\n\r\n` followed by the body.
pub fn encode_frame(body: &[u8]) -> Vec<u8> {
    let header = format!("Content-Length: {}\r\n\r\n", body.len());
    let mut frame = Vec::with_capacity(header.len() + body.len());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(body);
    frame
}

/// Write one frame and flush it, so the peer sees it without waiting for more output.
pub async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, body: &[u8]) -> io::Result<()> {
    writer.write_all(&encode_frame(body)).await?;
    writer.flush().await
}

/// Reads LSP frames from a byte stream, surviving malformed input.
pub struct FrameReader<R> {
    reader: R,
    max_frame_bytes: usize,
    /// Input read but not yet consumed is `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Body bytes of a refused oversized frame still to be thrown away.
    discard: u64,
    /// After a header error the stream position is unknown, so input is dropped up to the
    /// next `content-length`.
    resync: bool,
    /// Whether the last thing handed out was an error or a body the caller rejected. Stray
    /// bytes right after it are most likely its leftovers, already covered by that error.
    previous_failed: bool,
}

/// What the input at the read position turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// Not the start of a header block.
    Garbage,
    /// An unusable header block, `len` bytes long (or the part of it that was looked at).
    Bad { len: usize, error: FrameError },
    /// A usable header block, `len` bytes long, announcing a body of `content_length` bytes.
    Good { len: usize, content_length: u64 },
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(reader: R, max_frame_bytes: usize) -> Self {
        Self {
            reader,
            max_frame_bytes,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            discard: 0,
            resync: false,
            previous_failed: false,
        }
    }

    /// The underlying reader (bytes it read ahead and buffered are not given back).
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Tell the reader that the body it returned last was rejected (say, it was not JSON), so
    /// stray bytes that follow are taken as its leftovers and dropped without another error.
    /// Changes the frame size limit (the workspace config is only known after `initialize`).
    pub fn set_max_frame_bytes(&mut self, max_frame_bytes: usize) {
        self.max_frame_bytes = max_frame_bytes;
    }

    pub fn mark_previous_failed(&mut self) {
        self.previous_failed = true;
    }

    /// Next frame body, or a framing error to answer with a JSON-RPC error (id null).
    /// None at end of input (clean EOF, or EOF in the middle of a frame: log nothing, just end).
    pub async fn next_frame(&mut self) -> Option<Result<String, FrameError>> {
        loop {
            if !self.discard_oversized_body().await {
                return None;
            }
            if self.resync {
                if !self.skip_to_content_length().await {
                    return None;
                }
                self.resync = false;
            }
            match self.read_header().await? {
                Header::Garbage => {
                    let message = format!(
                        "discarding input that is not an LSP frame header (it starts with `{}`); \
                         expected `Content-Length: <bytes>`",
                        excerpt(self.unread())
                    );
                    // Step past at least one byte so the search cannot land here again.
                    self.pos = (self.pos + 1).min(self.buf.len());
                    self.resync = true;
                    if !self.previous_failed {
                        self.previous_failed = true;
                        return Some(Err(FrameError::new(FrameErrorKind::Garbage, message)));
                    }
                }
                Header::Bad { len, error } => {
                    self.pos = (self.pos + len).min(self.buf.len());
                    self.resync = true;
                    self.previous_failed = true;
                    return Some(Err(error));
                }
                Header::Good {
                    len,
                    content_length,
                } => return self.read_body(len, content_length).await,
            }
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more input into the buffer; false at end of input.
    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        self.compact();
        self.buf.reserve(READ_CHUNK);
        loop {
            match self.reader.read_buf(&mut self.buf).await {
                Ok(0) => break,
                Ok(_) => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The transport is gone; there is nobody left to send an error to.
                    tracing::warn!(error = %e, "reading LSP input failed; treating it as end of input");
                    break;
                }
            }
        }
        self.eof = true;
        false
    }

    /// Moves the unread bytes to the front, so the buffer only ever holds one frame's worth.
    fn compact(&mut self) {
        if self.pos == 0 {
            return;
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        if self.buf.capacity() > SHRINK_ABOVE && self.buf.len() < READ_CHUNK {
            self.buf.shrink_to(2 * READ_CHUNK);
        }
    }

    /// Throws away the body of a refused frame, a buffer at a time; false at end of input.
    async fn discard_oversized_body(&mut self) -> bool {
        while self.discard > 0 {
            let available = self.unread().len();
            if available == 0 {
                if !self.fill().await {
                    return false;
                }
                continue;
            }
            let take = usize::try_from(self.discard).map_or(available, |d| d.min(available));
            self.pos += take;
            self.discard -= take as u64;
        }
        true
    }

    /// Drops input up to the next `content-length`; false at end of input.
    async fn skip_to_content_length(&mut self) -> bool {
        loop {
            let unread = self.unread();
            if let Some(at) = find_content_length(unread) {
                self.pos += at;
                return true;
            }
            // Keep what could be the start of a match cut off by the end of the buffer.
            self.pos += unread.len().saturating_sub(CONTENT_LENGTH.len() - 1);
            if !self.fill().await {
                return false;
            }
        }
    }

    /// Examines the header block at the read position without consuming it; None at end of
    /// input.
    async fn read_header(&mut self) -> Option<Header> {
        let mut scan = HeaderScan::default();
        loop {
            if scan.at_start() {
                // Tolerate blank lines between frames: some writers end a body with a newline.
                let blank = self
                    .unread()
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                self.pos += blank;
            }
            if let Some(header) = scan.advance(self.unread()) {
                return Some(header);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn read_body(
        &mut self,
        header_len: usize,
        content_length: u64,
    ) -> Option<Result<String, FrameError>> {
        let body_len = match usize::try_from(content_length) {
            Ok(len) if len <= self.max_frame_bytes => len,
            _ => {
                // Refuse it unread; the body is skipped at the start of the next call.
                self.pos += header_len;
                self.discard = content_length;
                self.previous_failed = true;
                return Some(Err(FrameError::new(
                    FrameErrorKind::FrameTooLarge,
                    format!(
                        "frame of {content_length} bytes exceeds the maximum of {} bytes \
                         (set transport.maxFrameBytes to raise it)",
                        self.max_frame_bytes
                    ),
                )));
            }
        };
        let frame_len = header_len.saturating_add(body_len);
        while self.unread().len() < frame_len {
            if !self.fill().await {
                return None;
            }
        }
        let body = &self.unread()[header_len..frame_len];
        let result = match std::str::from_utf8(body) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(FrameError::new(
                FrameErrorKind::InvalidUtf8,
                format!(
                    "frame body of {body_len} bytes is not valid UTF-8 (bad byte at offset {})",
                    e.valid_up_to()
                ),
            )),
        };
        self.pos += frame_len;
        self.previous_failed = result.is_err();
        Some(result)
    }
}

/// Incremental parser of one header block. It is fed the unread input from the block start
/// each time, longer after every read, and resumes where it stopped, so no byte is scanned
/// twice however the input is split.
#[derive(Default)]
struct HeaderScan {
    /// Start of the current line, relative to the block start.
    line_start: usize,
    /// Bytes before this offset have been scanned already.
    cursor: usize,
    /// Whether the first line is known to start with `Name:`.
    first_line_ok: bool,
    content_length: Option<u64>,
    /// The first problem in the block. It is reported once the whole block has been read, so
    /// the resynchronisation starts after the block rather than inside it.
    problem: Option<FrameError>,
}

impl HeaderScan {
    fn at_start(&self) -> bool {
        self.cursor == 0
    }

    /// Some once `block` holds enough to decide, None if more input is needed.
    fn advance(&mut self, block: &[u8]) -> Option<Header> {
        if !self.first_line_ok {
            // Whether this is a header block at all is decided by the first line's name, as
            // soon as it ends, rather than after a whole line that may never come.
            while let Some(&byte) = block.get(self.cursor) {
                if byte == b':' {
                    let name = &block[..self.cursor];
                    if name.is_empty() || glued_to_content_length(name) {
                        return Some(Header::Garbage);
                    }
                    self.first_line_ok = true;
                    break;
                }
                if !is_token_byte(byte) {
                    return Some(Header::Garbage);
                }
                self.cursor += 1;
            }
            if !self.first_line_ok {
                return self.too_long_if(block.len());
            }
        }
        loop {
            let Some(offset) = block[self.cursor..].iter().position(|&b| b == b'\n') else {
                self.cursor = block.len();
                return self.too_long_if(block.len());
            };
            let newline = self.cursor + offset;
            let line = &block[self.line_start..newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return Some(self.finish(newline + 1));
            }
            if newline >= MAX_HEADER_BYTES {
                return self.too_long_if(newline);
            }
            if self.problem.is_none() {
                self.read_line(line);
            }
            self.line_start = newline + 1;
            self.cursor = newline + 1;
        }
    }

    /// HeaderTooLong once `scanned` bytes reach the limit without the empty line.
    fn too_long_if(&mut self, scanned: usize) -> Option<Header> {
        if scanned < MAX_HEADER_BYTES {
            return None;
        }
        let error = self.problem.take().unwrap_or_else(|| {
            FrameError::new(
                FrameErrorKind::HeaderTooLong,
                format!(
                    "LSP frame header is longer than {MAX_HEADER_BYTES} bytes without the empty \
                     line that ends it"
                ),
            )
        });
        // Consume the complete lines only: the rest is searched for the next header.
        let len = self.line_start.max(1);
        Some(Header::Bad { len, error })
    }

    fn finish(&mut self, len: usize) -> Header {
        if let Some(error) = self.problem.take() {
            return Header::Bad { len, error };
        }
        match self.content_length {
            Some(content_length) => Header::Good {
                len,
                content_length,
            },
            None => Header::Bad {
                len,
                error: FrameError::new(
                    FrameErrorKind::MissingContentLength,
                    "Content-Length header missing in LSP frame header; \
                     expected `Content-Length: <bytes>`",
                ),
            },
        }
    }

    fn read_line(&mut self, line: &[u8]) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            self.problem = Some(malformed(line, "has no colon"));
            return;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            self.problem = Some(malformed(line, "does not start with a header name"));
            return;
        }
        // Content-Type and unknown headers carry nothing this server needs.
        if !name.eq_ignore_ascii_case(CONTENT_LENGTH) {
            return;
        }
        let value = line[colon + 1..].trim_ascii();
        match (parse_content_length(value), self.content_length) {
            (Err(error), _) => self.problem = Some(error),
            (Ok(length), Some(earlier)) if length != earlier => {
                self.problem = Some(FrameError::new(
                    FrameErrorKind::InvalidContentLength,
                    format!("conflicting Content-Length headers ({earlier} and {length})"),
                ));
            }
            (Ok(length), _) => self.content_length = Some(length),
        }
    }
}

fn parse_content_length(value: &[u8]) -> Result<u64, FrameError> {
    let invalid = |why: &str| {
        FrameError::new(
            FrameErrorKind::InvalidContentLength,
            format!(
                "invalid Content-Length `{}`: {why}; expected `Content-Length: <bytes>`",
                excerpt(value)
            ),
        )
    };
    if value.is_empty() {
        return Err(FrameError::new(
            FrameErrorKind::InvalidContentLength,
            "Content-Length header has no value; expected `Content-Length: <bytes>`",
        ));
    }
    // Only plain digits: `str::parse` would also take a leading `+`.
    if !value.iter().all(u8::is_ascii_digit) {
        return Err(invalid("not a non-negative integer"));
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| invalid("the number is too large"))
}

fn malformed(line: &[u8], what: &str) -> FrameError {
    FrameError::new(
        FrameErrorKind::MalformedHeader,
        format!(
            "malformed LSP header line `{}`: it {what}; expected `Name: value`",
            excerpt(line)
        ),
    )
}

/// A header name such as `}Content-Length` or `loContent-Length` is the tail of a cut-short
/// body run into the next frame's header; treating it as garbage lets the search find the
/// real header inside it.
fn glued_to_content_length(name: &[u8]) -> bool {
    name.len() > CONTENT_LENGTH.len()
        && name[name.len() - CONTENT_LENGTH.len()..].eq_ignore_ascii_case(CONTENT_LENGTH)
}

/// Bytes allowed in a header name (an HTTP token).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn find_content_length(haystack: &[u8]) -> Option<usize> {
    haystack
        .windows(CONTENT_LENGTH.len())
        .position(|window| window.eq_ignore_ascii_case(CONTENT_LENGTH))
}

/// The start of `bytes`, printable, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text = shown.escape_ascii().to_string();
    if bytes.len() > EXCERPT_BYTES {
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_test::io::Builder;

    const MAX: usize = 1024;

    fn frame(body: &str) -> Vec<u8> {
        encode_frame(body.as_bytes())
    }

    fn join(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// Every item the reader yields for `input`, the input given as one read.
    async fn read_all(input: &[u8]) -> Vec<Result<String, FrameErrorKind>> {
        let mock = Builder::new().read(input).build();
        drain(FrameReader::new(mock, MAX)).await
    }

    /// The same, the input given one byte per read.
    async fn read_all_bytewise(input: &[u8]) -> Vec<Result<String, FrameErrorKind>> {
        let mut builder = Builder::new();
        for byte in input {
            builder.read(std::slice::from_ref(byte));
        }
        drain(FrameReader::new(builder.build(), MAX)).await
    }

    async fn drain<R: AsyncRead + Unpin>(
        mut reader: FrameReader<R>,
    ) -> Vec<Result<String, FrameErrorKind>> {
        let mut out = Vec::new();
        while let Some(item) = reader.next_frame().await {
            out.push(item.map_err(|e| e.kind));
        }
        out
    }

    /// Checks `input` yields `expected` both in one read and one byte at a time.
    async fn check(input: &[u8], expected: &[Result<&str, FrameErrorKind>]) {
        let expected: Vec<_> = expected.iter().map(|r| r.map(str::to_owned)).collect();
        assert_eq!(read_all(input).await, expected, "one read");
        assert_eq!(read_all_bytewise(input).await, expected, "byte-wise reads");
    }

    #[tokio::test]
    async fn reads_one_frame() {
        check(&frame(r#"{"a":1}"#), &[Ok(r#"{"a":1}"#)]).await;
    }

    #[tokio::test]
    async fn reads_many_frames_from_one_read() {
        let input = join(&[&frame("one"), &frame("two"), &frame(""), &frame("three")]);
        check(&input, &[Ok("one"), Ok("two"), Ok(""), Ok("three")]).await;
    }

    #[tokio::test]
    async fn accepts_bare_newlines() {
        let input = join(&[b"Content-Length: 3\n\nabc", &frame("next")]);
        check(&input, &[Ok("abc"), Ok("next")]).await;
    }

    #[tokio::test]
    async fn header_names_are_case_insensitive_and_others_ignored() {
        let input = join(&[
            b"content-type: application/vscode-jsonrpc; charset=utf-8\r\n",
            b"X-Unknown: whatever\r\n",
            b"CONTENT-LENGTH: \t 3  \r\n\r\nabc",
            &frame("next"),
        ]);
        check(&input, &[Ok("abc"), Ok("next")]).await;
    }

    #[tokio::test]
    async fn tolerates_blank_lines_between_frames() {
        let input = join(&[&frame("one"), b"\r\n\n", &frame("two")]);
        check(&input, &[Ok("one"), Ok("two")]).await;
    }

    #[tokio::test]
    async fn missing_content_length_skips_to_next_frame() {
        let input = join(&[b"Content-Type: x\r\n\r\n{\"lost\":true}", &frame("next")]);
        check(
            &input,
            &[Err(FrameErrorKind::MissingContentLength), Ok("next")],
        )
        .await;
    }

    #[tokio::test]
    async fn missing_content_length_message_is_helpful() {
        let mut reader = FrameReader::new(&b"Content-Type: x\r\n\r\n"[..], MAX);
        let error = reader.next_frame().await.and_then(Result::err);
        assert_eq!(
            error.map(|e| e.message),
            Some(
                "Content-Length header missing in LSP frame header; \
                 expected `Content-Length: <bytes>`"
                    .to_owned()
            )
        );
    }

    #[tokio::test]
    async fn invalid_content_length_skips_to_next_frame() {
        for value in ["abc", "-5", "", "+5", "1.5", "99999999999999999999999"] {
            let bad = format!("Content-Length: {value}\r\n\r\n{{}}");
            let input = join(&[bad.as_bytes(), &frame("next")]);
            check(
                &input,
                &[Err(FrameErrorKind::InvalidContentLength), Ok("next")],
            )
            .await;
        }
    }

    #[tokio::test]
    async fn conflicting_content_lengths_are_invalid() {
        let input = join(&[
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            &frame("next"),
        ]);
        check(
            &input,
            &[Err(FrameErrorKind::InvalidContentLength), Ok("next")],
        )
        .await;
    }

    #[tokio::test]
    async fn short_content_length_returns_cut_body_then_drops_tail_silently() {
        // The cut body is handed out; the caller finds it is not JSON and says so.
        let input = join(&[b"Content-Length: 5\r\n\r\n{\"a\":1}", &frame("next")]);
        for mock in [
            Builder::new().read(&input).build(),
            input
                .iter()
                .fold(&mut Builder::new(), |b, byte| b.read(&[*byte]))
                .build(),
        ] {
            let mut reader = FrameReader::new(mock, MAX);
            assert_eq!(reader.next_frame().await, Some(Ok("{\"a\":".to_owned())));
            reader.mark_previous_failed();
            assert_eq!(reader.next_frame().await, Some(Ok("next".to_owned())));
            assert_eq!(reader.next_frame().await, None);
        }
    }

    #[tokio::test]
    async fn short_content_length_tail_of_token_bytes_is_dropped_too() {
        // "lo" runs into the next header as `loContent-Length`.
        let input = join(&[b"Content-Length: 3\r\n\r\nhello", &frame("next")]);
        let mut reader = FrameReader::new(&input[..], MAX);
        assert_eq!(reader.next_frame().await, Some(Ok("hel".to_owned())));
        reader.mark_previous_failed();
        assert_eq!(reader.next_frame().await, Some(Ok("next".to_owned())));
        assert_eq!(reader.next_frame().await, None);
    }

    #[tokio::test]
    async fn leftover_after_an_accepted_body_is_garbage() {
        // Without mark_previous_failed the leftover is reported, once.
        let input = join(&[b"Content-Length: 7\r\n\r\n{\"a\":1}}}\r\n", &frame("next")]);
        check(
            &input,
            &[Ok("{\"a\":1}"), Err(FrameErrorKind::Garbage), Ok("next")],
        )
        .await;
    }

    #[tokio::test]
    async fn garbage_between_frames_is_one_error_per_run() {
        let junk = "Starting server... done\r\nsome: more junk: here\r\n\r\n".repeat(400);
        let input = join(&[
            &frame("one"),
            junk.as_bytes(),
            &frame("two"),
            b"}",
            &frame("three"),
        ]);
        check(
            &input,
            &[
                Ok("one"),
                Err(FrameErrorKind::Garbage),
                Ok("two"),
                Err(FrameErrorKind::Garbage),
                Ok("three"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn garbage_mentioning_content_length_is_still_one_error() {
        // The search lands on the quoted word first; it is not a header, so it is passed over.
        let input = join(&[br#"{"note":"content-length mismatch"}"#, &frame("next")]);
        check(&input, &[Err(FrameErrorKind::Garbage), Ok("next")]).await;
    }

    #[tokio::test]
    async fn line_without_colon_is_malformed() {
        let input = join(&[b"Content-Length: 2\r\nbogus line\r\n\r\n{}", &frame("next")]);
        check(&input, &[Err(FrameErrorKind::MalformedHeader), Ok("next")]).await;
    }

    #[tokio::test]
    async fn bad_header_name_is_malformed() {
        let input = join(&[
            b"Content-Length: 2\r\nBad Name: x\r\n\r\n{}",
            &frame("next"),
        ]);
        check(&input, &[Err(FrameErrorKind::MalformedHeader), Ok("next")]).await;
    }

    #[tokio::test]
    async fn header_without_end_is_too_long() {
        let long = format!("Content-Length: 2\r\nX-Padding: {}\r\n", "x".repeat(9000));
        let input = join(&[long.as_bytes(), b"\r\n{}", &frame("next")]);
        check(&input, &[Err(FrameErrorKind::HeaderTooLong), Ok("next")]).await;
        let endless_line = format!("X-Padding: {}", "y".repeat(20_000));
        let input = join(&[endless_line.as_bytes(), &frame("next")]);
        check(&input, &[Err(FrameErrorKind::HeaderTooLong), Ok("next")]).await;
    }

    #[tokio::test]
    async fn oversized_frame_is_skipped_unread() {
        let body = "z".repeat(MAX + 1);
        let input = join(&[&frame(&body), &frame("next")]);
        check(&input, &[Err(FrameErrorKind::FrameTooLarge), Ok("next")]).await;
    }

    #[tokio::test]
    async fn oversized_frame_message_names_both_numbers() {
        let mut reader = FrameReader::new(&b"Content-Length: 104857600\r\n\r\n"[..], 67_108_864);
        let error = reader.next_frame().await.and_then(Result::err);
        assert_eq!(
            error,
            Some(FrameError {
                kind: FrameErrorKind::FrameTooLarge,
                message: "frame of 104857600 bytes exceeds the maximum of 67108864 bytes \
                          (set transport.maxFrameBytes to raise it)"
                    .to_owned(),
            })
        );
        assert_eq!(error.map(|e| e.code()), Some(-32600));
    }

    #[tokio::test]
    async fn oversized_body_is_never_buffered_whole() {
        let big = 8 * 1024 * 1024;
        let (mut client, server) = tokio::io::duplex(READ_CHUNK);
        let writer = tokio::spawn(async move {
            client
                .write_all(format!("Content-Length: {big}\r\n\r\n").as_bytes())
                .await?;
            let chunk = vec![b'z'; READ_CHUNK];
            for _ in 0..big / READ_CHUNK {
                client.write_all(&chunk).await?;
            }
            client.write_all(&frame("next")).await
        });
        let mut reader = FrameReader::new(server, MAX);
        let first = reader.next_frame().await.map(|r| r.map_err(|e| e.kind));
        assert_eq!(first, Some(Err(FrameErrorKind::FrameTooLarge)));
        assert_eq!(reader.next_frame().await, Some(Ok("next".to_owned())));
        assert!(
            reader.buf.capacity() <= 4 * READ_CHUNK,
            "{}",
            reader.buf.capacity()
        );
        assert!(matches!(writer.await, Ok(Ok(()))));
    }

    #[tokio::test]
    async fn invalid_utf8_body_is_reported_and_next_frame_follows() {
        let input = join(&[b"Content-Length: 3\r\n\r\na\xffb", &frame("next")]);
        check(&input, &[Err(FrameErrorKind::InvalidUtf8), Ok("next")]).await;
    }

    #[tokio::test]
    async fn end_of_input_anywhere_is_none() {
        check(b"", &[]).await;
        check(b"Content-Len", &[]).await;
        check(b"Content-Length: 10\r\n", &[]).await;
        check(b"Content-Length: 10\r\n\r\n{\"a\"", &[]).await;
        check(
            b"Content-Length: 5000\r\n\r\n",
            &[Err(FrameErrorKind::FrameTooLarge)],
        )
        .await;
        check(b"{\"no\":\"header\"}", &[Err(FrameErrorKind::Garbage)]).await;
        let input = join(&[&frame("one"), b"Content-Length: 3\r\n"]);
        check(&input, &[Ok("one")]).await;
    }

    #[tokio::test]
    async fn mixed_errors_in_one_stream() {
        let input = join(&[
            &frame("a"),
            b"Content-Length: x\r\n\r\n{}",
            &frame("b"),
            b"\x00\x01garbage",
            &frame("c"),
            b"Content-Length: 1\r\n\r\n\xff",
            &frame("d"),
            &frame(&"z".repeat(MAX * 3)),
            &frame("e"),
        ]);
        check(
            &input,
            &[
                Ok("a"),
                Err(FrameErrorKind::InvalidContentLength),
                Ok("b"),
                Err(FrameErrorKind::Garbage),
                Ok("c"),
                Err(FrameErrorKind::InvalidUtf8),
                Ok("d"),
                Err(FrameErrorKind::FrameTooLarge),
                Ok("e"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn cancelled_read_loses_nothing() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut reader = FrameReader::new(server, MAX);
        let input = frame("hello");
        let (head, tail) = input.split_at(10);
        assert!(client.write_all(head).await.is_ok());
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), reader.next_frame()).await;
        assert!(pending.is_err(), "no frame can be complete yet");
        assert!(client.write_all(tail).await.is_ok());
        assert_eq!(reader.next_frame().await, Some(Ok("hello".to_owned())));
    }

    #[tokio::test]
    async fn write_frame_round_trips() {
        let mut out = Vec::new();
        assert!(write_frame(&mut out, "héllo".as_bytes()).await.is_ok());
        assert_eq!(out, b"Content-Length: 6\r\n\r\nh\xc3\xa9llo");
        let mut reader = FrameReader::new(&out[..], MAX);
        assert_eq!(reader.next_frame().await, Some(Ok("héllo".to_owned())));
    }

    #[test]
    fn error_codes() {
        let code = |kind| FrameError::new(kind, "").code();
        assert_eq!(code(FrameErrorKind::FrameTooLarge), -32600);
        for kind in [
            FrameErrorKind::MissingContentLength,
            FrameErrorKind::InvalidContentLength,
            FrameErrorKind::MalformedHeader,
            FrameErrorKind::HeaderTooLong,
            FrameErrorKind::InvalidUtf8,
            FrameErrorKind::Garbage,
        ] {
            assert_eq!(code(kind), -32700);
        }
    }
}
