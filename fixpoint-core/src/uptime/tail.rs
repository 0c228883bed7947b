//! The last lines a watched child wrote, kept in a bounded ring while it runs.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest line kept, in bytes; the rest of a longer line is dropped (and marked `…`).
const LINE_LIMIT: usize = 4096;

/// Which of the child's output streams a [`Line`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a watched child's output (without its newline; lossily decoded as UTF-8, at
/// most 4 KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Line {
    /// The stream it was written to.
    pub stream: Stream,
    /// Its text.
    pub text: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stream = match self.stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        write!(f, "[{stream}] {}", self.text)
    }
}

/// The last `capacity` lines of both streams, in the order they were read.
#[derive(Debug, Clone)]
pub(crate) struct Tail(Arc<Mutex<Ring>>);

#[derive(Debug)]
struct Ring {
    lines: VecDeque<Line>,
    capacity: usize,
}

impl Tail {
    pub(crate) fn new(capacity: usize) -> Self {
        Tail(Arc::new(Mutex::new(Ring {
            lines: VecDeque::new(),
            capacity,
        })))
    }

    fn push(&self, stream: Stream, bytes: &[u8], cut: bool) {
        let mut ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.capacity == 0 {
            return;
        }
        if ring.lines.len() == ring.capacity {
            ring.lines.pop_front();
        }
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        if cut {
            text.push('…');
        }
        ring.lines.push_back(Line { stream, text });
    }

    /// The lines kept so far, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Line> {
        let ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ring.lines.iter().cloned().collect()
    }

    /// Reads `source` to its end, keeping its last lines.
    pub(crate) async fn follow(self, stream: Stream, mut source: impl AsyncRead + Unpin) {
        // On the heap and never zeroed: the future stays small to spawn, and a read costs its bytes.
        let mut chunk = Vec::with_capacity(8192);
        let mut line = Vec::new();
        let mut cut = false;
        while let Ok(1..) = source.read_buf(&mut chunk).await {
            for piece in chunk.split_inclusive(|b| *b == b'\n') {
                let (body, ends) = match piece.split_last() {
                    Some((b'\n', body)) => (body, true),
                    _ => (piece, false),
                };
                let room = LINE_LIMIT.saturating_sub(line.len());
                cut |= body.len() > room;
                line.extend_from_slice(&body[..body.len().min(room)]);
                if ends {
                    self.push(stream, &line, cut);
                    line.clear();
                    cut = false;
                }
            }
            chunk.clear();
        }
        if !line.is_empty() {
            self.push(stream, &line, cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_last_lines_are_kept_and_a_long_line_is_cut() {
        let tail = Tail::new(2);
        let long = "x".repeat(LINE_LIMIT + 10);
        let input = format!("one\ntwo\n{long}\nlast, unterminated");
        tail.clone().follow(Stream::Stderr, input.as_bytes()).await;
        let lines = tail.snapshot();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, format!("{}…", &long[..LINE_LIMIT]));
        assert_eq!(lines[1].to_string(), "[stderr] last, unterminated");
    }
}
