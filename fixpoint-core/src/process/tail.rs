//! The last lines a watched child wrote, kept in a bounded ring while it runs.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::uptime::progress::Progress;

/// The longest line kept, in bytes; the rest of a longer line is dropped (and marked `…`).
const LINE_LIMIT: usize = 4096;
/// The longest part of a line a progress note keeps, in bytes (then `…`): a note names the
/// line, the tail keeps it whole.
const NOTE_LIMIT: usize = 200;

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

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.stream.name(), self.text)
    }
}

/// The last `capacity` lines of both streams, in the order they were read; each line also
/// ticks the progress handles it was given.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    ring: Arc<Mutex<Ring>>,
    /// Ticked bare on every line: the watcher's clock of silence (`Watched::wedged_after`).
    heard: Option<Progress>,
    /// Ticked with the line as its note (`Watched::progress`).
    noted: Option<Progress>,
}

#[derive(Debug)]
struct Ring {
    lines: VecDeque<Line>,
    capacity: usize,
}

impl Tail {
    pub(crate) fn new(capacity: usize) -> Self {
        Tail {
            ring: Arc::new(Mutex::new(Ring {
                lines: VecDeque::new(),
                capacity,
            })),
            heard: None,
            noted: None,
        }
    }

    /// Each line ticks `heard` (bare) and `noted` (with the line as its note).
    pub(crate) fn ticking(mut self, heard: Option<Progress>, noted: Option<Progress>) -> Self {
        self.heard = heard;
        self.noted = noted;
        self
    }

    fn push(&self, stream: Stream, bytes: &[u8], cut: bool) {
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        if cut {
            text.push('…');
        }
        if let Some(noted) = &self.noted {
            noted.tick_with_in_place(|buffer| note(buffer, stream, &text));
        }
        if let Some(heard) = &self.heard {
            heard.tick();
        }
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.capacity == 0 {
            return;
        }
        if ring.lines.len() == ring.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(Line { stream, text });
    }

    /// The lines kept so far, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Line> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
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

/// Writes the progress note naming a line into `buffer`: `[stdout] text`, the text cut to
/// [`NOTE_LIMIT`] bytes (on a character boundary) and marked `…` when longer.
fn note(buffer: &mut String, stream: Stream, text: &str) {
    let end = text.floor_char_boundary(NOTE_LIMIT);
    buffer.push('[');
    buffer.push_str(stream.name());
    buffer.push_str("] ");
    buffer.push_str(&text[..end]);
    if end < text.len() {
        buffer.push('…');
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

    #[tokio::test]
    async fn every_line_ticks_and_notes_even_when_none_is_kept() {
        let (heard, noted) = (Progress::new(), Progress::new());
        let tail = Tail::new(0).ticking(Some(heard.clone()), Some(noted.clone()));
        let long = "é".repeat(NOTE_LIMIT);
        let input = format!("one\n{long}\n");
        tail.clone().follow(Stream::Stdout, input.as_bytes()).await;
        assert_eq!(tail.snapshot(), []);
        assert_eq!(heard.note(), None, "the silence clock takes no note");
        let last = noted.note().unwrap();
        assert_eq!(last, format!("[stdout] {}…", &long[..NOTE_LIMIT]));
        // The next note reuses the buffer of the last, whatever their lengths.
        tail.clone().follow(Stream::Stderr, &b"short"[..]).await;
        assert_eq!(noted.note().as_deref(), Some("[stderr] short"));
    }
}
