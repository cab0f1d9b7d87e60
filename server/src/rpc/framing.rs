//! LSP base framing: `Content-Length: N` header lines, a blank line, then N bytes of body.
//!
//! [`FrameDecoder`] turns bytes into frames with bounded memory whatever it is fed: a header line
//! is kept up to [`MAX_HEADER_LINE_BYTES`] and the rest of an over-long line is dropped as it
//! arrives; a body larger than the decoder's limit is skipped as it arrives, never buffered. It is
//! a plain state machine over byte slices, so it can be driven without sockets (and fuzzed).

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame body a client may send. Real requests are far smaller (a prompt, a list of hunk
/// ids); a larger frame is answered with an error and skipped without being buffered.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Longest header line kept (headers are `Content-Length` and `Content-Type`, well under 100
/// bytes); the rest of a longer line is dropped and the frame answered with an error.
pub const MAX_HEADER_LINE_BYTES: usize = 4096;
/// How much is read from a stream at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// What decoding produced.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A frame body.
    Body(Vec<u8>),
    /// A header block (or a frame) that cannot be used; the decoder has moved past it.
    BadHeader(String),
}

/// The header block being read.
#[derive(Debug, Default)]
struct HeaderBlock {
    /// The current line so far (without what an over-long line dropped).
    line: Vec<u8>,
    /// The current line outgrew the limit; it is dropped up to its newline.
    line_too_long: bool,
    /// Non-blank lines seen in this block.
    lines: usize,
    /// The `Content-Length` value, once read.
    length: Option<usize>,
    /// A problem with this block was already reported.
    failed: bool,
}

#[derive(Debug)]
enum State {
    Header(HeaderBlock),
    Body { body: Vec<u8>, length: usize },
    Skip { remaining: usize },
}

/// An incremental decoder of LSP frames: [`feed`](Self::feed) it bytes in any pieces, then take
/// what is complete by iterating it.
#[derive(Debug)]
pub struct FrameDecoder {
    max_body: usize,
    state: State,
    ready: VecDeque<Frame>,
}

impl FrameDecoder {
    /// A decoder that accepts bodies up to `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        Self { max_body, state: State::Header(HeaderBlock::default()), ready: VecDeque::new() }
    }

    /// Consumes `input`, queueing every frame it completes.
    pub fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            input = match &mut self.state {
                State::Header(_) => {
                    let (line_end, bytes, rest) = match input.iter().position(|&byte| byte == b'\n') {
                        Some(newline) => (true, &input[..newline], &input[newline + 1..]),
                        None => (false, input, &input[input.len()..]),
                    };
                    self.take_header_bytes(line_end, bytes);
                    rest
                }
                State::Body { body, length } => {
                    let wanted = (*length - body.len()).min(input.len());
                    body.extend_from_slice(&input[..wanted]);
                    if body.len() == *length {
                        let body = std::mem::take(body);
                        self.ready.push_back(Frame::Body(body));
                        self.state = State::Header(HeaderBlock::default());
                    }
                    &input[wanted..]
                }
                State::Skip { remaining } => {
                    let skipped = (*remaining).min(input.len());
                    *remaining -= skipped;
                    if *remaining == 0 {
                        self.state = State::Header(HeaderBlock::default());
                    }
                    &input[skipped..]
                }
            };
        }
    }

    /// Adds `bytes` of a header line; `line_end` when they end the line.
    fn take_header_bytes(&mut self, line_end: bool, bytes: &[u8]) {
        let State::Header(block) = &mut self.state else { return };
        if !block.line_too_long {
            if block.line.len() + bytes.len() > MAX_HEADER_LINE_BYTES {
                block.line_too_long = true;
                block.line = Vec::new();
                let problem = format!("a header line is longer than {MAX_HEADER_LINE_BYTES} bytes");
                Self::report(&mut self.ready, block, problem);
            } else {
                block.line.extend_from_slice(bytes);
            }
        }
        if !line_end {
            return;
        }
        let too_long = std::mem::take(&mut block.line_too_long);
        let line = std::mem::take(&mut block.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.is_empty() && !too_long {
            if block.lines > 0 {
                self.end_header_block();
            }
            return;
        }
        block.lines += 1;
        if too_long {
            return;
        }
        match header_content_length(line) {
            Ok(None) => {}
            Ok(Some(length)) if block.length.is_none_or(|known| known == length) => block.length = Some(length),
            Ok(Some(_)) => Self::report(&mut self.ready, block, "conflicting Content-Length headers".into()),
            Err(problem) => Self::report(&mut self.ready, block, problem),
        }
    }

    /// Reports the first problem of a header block.
    fn report(ready: &mut VecDeque<Frame>, block: &mut HeaderBlock, problem: String) {
        if !block.failed {
            block.failed = true;
            ready.push_back(Frame::BadHeader(problem));
        }
    }

    /// The blank line after a header block: on to its body, skipped when the block was bad (and
    /// its length known) or the body is too large.
    fn end_header_block(&mut self) {
        let State::Header(block) = &mut self.state else { return };
        let (failed, length) = (block.failed, block.length);
        self.state = match length {
            None => {
                if !failed {
                    self.ready.push_back(Frame::BadHeader("missing Content-Length header".into()));
                }
                State::Header(HeaderBlock::default())
            }
            Some(length) if failed || length > self.max_body => {
                if !failed {
                    self.ready.push_back(Frame::BadHeader(format!(
                        "a frame of {length} bytes exceeds the limit of {} bytes; it was skipped",
                        self.max_body
                    )));
                }
                State::Skip { remaining: length }
            }
            Some(0) => {
                self.ready.push_back(Frame::Body(Vec::new()));
                State::Header(HeaderBlock::default())
            }
            Some(length) => State::Body { body: Vec::with_capacity(length.min(READ_CHUNK_BYTES)), length },
        };
        if matches!(self.state, State::Skip { remaining: 0 }) {
            self.state = State::Header(HeaderBlock::default());
        }
    }
}

/// The frames (and header errors) completed so far, in order.
impl Iterator for FrameDecoder {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }
}

/// The value of a `Content-Length` header line, None for any other header.
fn header_content_length(line: &[u8]) -> Result<Option<usize>, String> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Err("a header line is not valid UTF-8".into());
    };
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!("a header line without a colon: '{}'", line.escape_debug()));
    };
    if !name.trim().eq_ignore_ascii_case("content-length") {
        return Ok(None);
    }
    let value = value.trim();
    value.parse::<usize>().map(Some).map_err(|_| format!("invalid Content-Length '{}'", value.escape_debug()))
}

/// Frames read from a byte stream through a [`FrameDecoder`].
pub struct FrameReader<R> {
    reader: R,
    decoder: FrameDecoder,
    chunk: Box<[u8]>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads frames of up to `max_body` bytes from `reader`.
    pub fn new(reader: R, max_body: usize) -> Self {
        Self { reader, decoder: FrameDecoder::new(max_body), chunk: vec![0; READ_CHUNK_BYTES].into_boxed_slice() }
    }

    /// The next frame; None at the end of the stream.
    pub async fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.decoder.next() {
                return Ok(Some(frame));
            }
            let read = self.reader.read(&mut self.chunk).await?;
            if read == 0 {
                return Ok(None);
            }
            self.decoder.feed(&self.chunk[..read]);
        }
    }
}

/// A frame body rendered once and shared, such as one event sent to many clients.
pub type SharedBody = std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Appends one frame, header and body, to `buffer`.
pub fn append_frame(buffer: &mut Vec<u8>, body: &[u8]) {
    use std::io::Write;
    let _ = write!(buffer, "Content-Length: {}\r\n\r\n", body.len());
    buffer.extend_from_slice(body);
}

/// Writes one frame, in one write.
pub async fn write_frame<W: AsyncWrite + Unpin + ?Sized>(writer: &mut W, body: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(body.len() + 32);
    append_frame(&mut frame, body);
    writer.write_all(&frame).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(pieces: &[&[u8]]) -> Vec<Frame> {
        let mut decoder = FrameDecoder::new(16);
        let mut frames = Vec::new();
        for piece in pieces {
            decoder.feed(piece);
            frames.extend(&mut decoder);
        }
        frames
    }

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let stream = b"Content-Length: 2\r\n\r\n{}Content-Type: x; charset=utf-8\r\nContent-Length: 3\r\n\r\n[1]";
        let whole = decode(&[stream]);
        assert_eq!(whole, vec![Frame::Body(b"{}".to_vec()), Frame::Body(b"[1]".to_vec())]);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(&bytes), whole);
    }

    #[test]
    fn a_too_large_body_is_reported_and_skipped() {
        let frames = decode(&[b"Content-Length: 20\r\n\r\n", &[b'x'; 20], b"Content-Length: 2\r\n\r\n{}"]);
        assert!(matches!(&frames[0], Frame::BadHeader(message) if message.contains("exceeds the limit")));
        assert_eq!(frames[1], Frame::Body(b"{}".to_vec()));
    }

    #[test]
    fn bad_header_lines_are_reported_once_and_the_next_frame_decodes() {
        let long = vec![b'a'; MAX_HEADER_LINE_BYTES * 3];
        let frames = decode(&[
            &long,
            &long,
            b"\r\n\r\nContent-Length: 2\r\n\r\n{}",
            b"\xff\xfe\r\n\r\nContent-Length: 1\r\n\r\n1",
            &long,
            b"\r\nContent-Length: 2\r\n\r\n{}",
        ]);
        assert!(matches!(&frames[0], Frame::BadHeader(message) if message.contains("longer than")));
        assert_eq!(frames[1], Frame::Body(b"{}".to_vec()));
        assert!(matches!(&frames[2], Frame::BadHeader(message) if message.contains("UTF-8")));
        assert_eq!(frames[3], Frame::Body(b"1".to_vec()));
        // A body announced in a bad header block is skipped with it.
        assert!(matches!(&frames[4], Frame::BadHeader(message) if message.contains("longer than")));
        assert_eq!(frames.len(), 5);
    }
}
