//! Reading JSON Lines from files people hand in: one line at a time, never more than a bound in
//! memory, each problem named with its line number.
//!
//! Invariants:
//! - At most `max_line` bytes of a line are ever held; a longer line is read to its end without
//!   being kept and comes back as [`LineProblem::TooLong`] (so a 300 MB line costs no memory).
//! - A UTF-8 byte order mark at the very start of the input is not data and is dropped; one
//!   anywhere else is a problem of its line. Bytes that are not UTF-8 are a problem of their line,
//!   naming the byte offset inside it. Either way the reader goes on with the next line.
//! - Line endings `\n` and `\r\n` are accepted; the line numbers count `\n`s, as editors do.

use std::io::BufRead;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a line could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    /// The line is longer than the limit (at least `bytes` long).
    TooLong { bytes: u64, limit: usize },
    /// The line is not UTF-8 at this byte offset (0-based, within the line).
    NotUtf8 { offset: usize },
    /// A byte order mark inside the file (only one at its very start is allowed).
    ByteOrderMark,
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineProblem::TooLong { bytes, limit } => {
                write!(f, "the line is at least {bytes} bytes long; at most {limit} are accepted")
            }
            LineProblem::NotUtf8 { offset } => write!(f, "the line is not UTF-8 text (bad byte at offset {offset})"),
            LineProblem::ByteOrderMark => {
                write!(f, "a byte order mark (U+FEFF) inside the file; save it as plain UTF-8")
            }
        }
    }
}

/// One line: its number (1-based) and its text, or why it has none.
pub type Line = (usize, Result<String, LineProblem>);

/// Bounded line reader over any buffered input.
#[derive(Debug)]
pub struct Lines<R> {
    input: R,
    max_line: usize,
    line_no: usize,
    at_start: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(input: R, max_line: usize) -> Self {
        Self { input, max_line, line_no: 0, at_start: true, buf: Vec::new() }
    }

    /// The next line, or `None` at the end of the input.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        self.buf.clear();
        let mut seen: u64 = 0;
        let mut any = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            seen += take as u64;
            let room = (self.max_line + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.input.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
            seen -= 1;
        }
        let mut text: &[u8] = &self.buf;
        if std::mem::take(&mut self.at_start) {
            text = text.strip_prefix(BOM).unwrap_or(text);
        }
        if seen > self.max_line as u64 {
            return Ok(Some((self.line_no, Err(LineProblem::TooLong { bytes: seen, limit: self.max_line }))));
        }
        if text.starts_with(BOM) {
            return Ok(Some((self.line_no, Err(LineProblem::ByteOrderMark))));
        }
        Ok(Some((
            self.line_no,
            std::str::from_utf8(text).map(str::to_string).map_err(|e| LineProblem::NotUtf8 { offset: e.valid_up_to() }),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<Line> {
        // A tiny buffer, so lines cross refills.
        let mut r = Lines::new(std::io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn lines_are_numbered_and_endings_dropped() {
        let got = all(b"a\r\nbb\n\nccc", 10);
        let want: Vec<Line> =
            vec![(1, Ok("a".into())), (2, Ok("bb".into())), (3, Ok(String::new())), (4, Ok("ccc".into()))];
        assert_eq!(got, want);
        assert!(all(b"", 10).is_empty());
    }

    #[test]
    fn a_long_line_is_named_and_the_next_one_read() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nok\n");
        let got = all(&input, 10);
        assert_eq!(got[0], (1, Err(LineProblem::TooLong { bytes: 100, limit: 10 })));
        assert_eq!(got[1], (2, Ok("ok".into())));
        // Exactly the limit is fine.
        assert_eq!(all(b"0123456789\n", 10)[0], (1, Ok("0123456789".into())));
    }

    #[test]
    fn bad_utf8_and_inner_byte_order_marks_are_problems_of_their_line() {
        let got = all(b"\xEF\xBB\xBF{}\n\xEF\xBB\xBF{}\nab\xFFc\nok", 100);
        assert_eq!(got[0], (1, Ok("{}".into())), "a leading BOM is dropped");
        assert_eq!(got[1], (2, Err(LineProblem::ByteOrderMark)));
        assert_eq!(got[2], (3, Err(LineProblem::NotUtf8 { offset: 2 })));
        assert_eq!(got[3], (4, Ok("ok".into())));
    }
}
