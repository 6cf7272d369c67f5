//! Splits one direction of a connection into lines the way Zeek's content-line analyzer does:
//! CRLF, a bare LF and a bare CR each end a line, and a CRLF split across two deliveries is
//! still one line end.

/// How a line ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    /// CR LF.
    CrLf,
    /// A bare LF.
    Lf,
    /// A CR not followed by LF (or followed by LF only in a later delivery, which is then
    /// swallowed and the line still counts as CRLF for the caller's purposes).
    Cr,
    /// No terminator: the direction ended (or a fixed-length region ran out) mid-line.
    None,
}

/// Result of one [`LineSplitter::scan`] call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Bytes of the input used (including a swallowed LF and the terminator).
    pub consumed: usize,
    /// A line ended; its content is [`LineSplitter::line`].
    pub line: Option<Term>,
    /// The previous line ended with a CR that turned out not to be followed by LF.
    pub bare_cr: bool,
}

/// Holds the partial line of one direction. The kept content is bounded by the limit passed to
/// [`scan`](Self::scan); bytes past it are counted, not stored.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    /// Length of the current line, stored or not.
    len: u64,
    /// The last line ended with CR: a LF arriving next belongs to it.
    swallow_lf: bool,
}

impl LineSplitter {
    /// Consumes input up to and including the end of one line. Keeps at most `keep` bytes of
    /// the line's content.
    pub fn scan(&mut self, data: &[u8], keep: usize) -> Scan {
        let mut start = 0;
        let mut bare_cr = false;
        if self.swallow_lf {
            if let Some(&first) = data.first() {
                self.swallow_lf = false;
                if first == b'\n' {
                    start = 1;
                } else {
                    bare_cr = true;
                }
            }
        }
        let rest = data.get(start..).unwrap_or_default();
        match memchr::memchr2(b'\n', b'\r', rest) {
            None => {
                self.push(rest, keep);
                Scan { consumed: data.len(), line: None, bare_cr }
            }
            Some(pos) => {
                self.push(rest.get(..pos).unwrap_or_default(), keep);
                let term_byte = rest.get(pos).copied();
                let next = rest.get(pos + 1).copied();
                let (term, used) = match (term_byte, next) {
                    (Some(b'\r'), Some(b'\n')) => (Term::CrLf, pos + 2),
                    (Some(b'\r'), _) => {
                        // A LF may still follow in the next delivery: Zeek treats CR as the
                        // end of the line and swallows that LF.
                        self.swallow_lf = true;
                        (if next.is_some() { Term::Cr } else { Term::CrLf }, pos + 1)
                    }
                    _ => (Term::Lf, pos + 1),
                };
                if term == Term::Cr {
                    // The byte after the CR is already known not to be LF.
                    self.swallow_lf = false;
                }
                Scan { consumed: start + used, line: Some(term), bare_cr }
            }
        }
    }

    /// Consumes a LF left over from a CRLF split across deliveries, before raw (body) bytes.
    /// Returns how many bytes (0 or 1) were used and whether the CR turned out to be bare.
    pub fn take_swallowed_lf(&mut self, data: &[u8]) -> (usize, bool) {
        if !self.swallow_lf {
            return (0, false);
        }
        match data.first() {
            None => (0, false),
            Some(&b) => {
                self.swallow_lf = false;
                if b == b'\n' {
                    (1, false)
                } else {
                    (0, true)
                }
            }
        }
    }

    fn push(&mut self, bytes: &[u8], keep: usize) {
        self.len = self.len.saturating_add(bytes.len() as u64);
        let room = keep.saturating_sub(self.buf.len());
        if let Some(kept) = bytes.get(..bytes.len().min(room)) {
            self.buf.extend_from_slice(kept);
        }
    }

    /// The stored content of the line just ended (or of the partial line).
    #[cfg(test)]
    pub fn line(&self) -> &[u8] {
        &self.buf
    }

    /// Full length of the current line, including bytes not stored.
    pub fn line_len(&self) -> u64 {
        self.len
    }

    /// Whether bytes of the line were dropped because of the keep limit.
    #[cfg(test)]
    pub fn truncated(&self) -> bool {
        self.len > self.buf.len() as u64
    }

    /// Whether a line has started but not ended.
    pub fn has_partial(&self) -> bool {
        self.len > 0
    }

    /// Forgets the current line (after it was handled).
    pub fn clear_line(&mut self) {
        self.buf.clear();
        self.len = 0;
    }

    /// Whether the last line ended with a CR that was the last byte of its delivery, so that
    /// whether it was bare (no LF after it) is known only from the next byte.
    pub fn cr_pending(&self) -> bool {
        self.swallow_lf
    }

    /// Forgets everything, including a pending CR (after a gap or a mode switch to raw data).
    pub fn reset(&mut self) {
        self.clear_line();
        self.swallow_lf = false;
    }

    /// The stored line content, to be taken while the line is handled and put back (cleared)
    /// afterwards, so its allocation is reused.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes currently held.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for the line buffer.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[&[u8]]) -> Vec<(Vec<u8>, Term)> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for chunk in input {
            let mut data: &[u8] = chunk;
            while !data.is_empty() {
                let scan = s.scan(data, 1000);
                data = &data[scan.consumed..];
                if let Some(t) = scan.line {
                    out.push((s.line().to_vec(), t));
                    s.clear_line();
                }
            }
        }
        out
    }

    #[test]
    fn crlf_lf_and_cr_end_lines() {
        let got = lines(&[b"a\r\nb\nc\rd\r\n"]);
        let want: Vec<(Vec<u8>, Term)> = vec![
            (b"a".to_vec(), Term::CrLf),
            (b"b".to_vec(), Term::Lf),
            (b"c".to_vec(), Term::Cr),
            (b"d".to_vec(), Term::CrLf),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn crlf_split_across_deliveries_is_one_line_end() {
        let got = lines(&[b"a\r", b"\nb\r\n"]);
        assert_eq!(got, vec![(b"a".to_vec(), Term::CrLf), (b"b".to_vec(), Term::CrLf)]);
    }

    #[test]
    fn empty_lines_are_lines() {
        let got = lines(&[b"\r\n\n"]);
        assert_eq!(got, vec![(Vec::new(), Term::CrLf), (Vec::new(), Term::Lf)]);
    }

    #[test]
    fn keep_limit_bounds_storage_but_counts_length() {
        let mut s = LineSplitter::default();
        let scan = s.scan(b"abcdefgh", 3);
        assert_eq!(scan.line, None);
        assert_eq!(s.line(), b"abc");
        assert_eq!(s.line_len(), 8);
        assert!(s.truncated());
        let scan = s.scan(b"ij\n", 3);
        assert_eq!(scan.line, Some(Term::Lf));
        assert_eq!(s.line_len(), 10);
    }

    #[test]
    fn swallowed_lf_before_raw_data() {
        let mut s = LineSplitter::default();
        let scan = s.scan(b"head\r", 100);
        assert_eq!(scan.line, Some(Term::CrLf));
        s.clear_line();
        assert_eq!(s.take_swallowed_lf(b"\nbody"), (1, false));
        assert_eq!(s.take_swallowed_lf(b"\nbody"), (0, false));
    }

    #[test]
    fn cr_then_other_byte_in_next_delivery_is_bare() {
        let mut s = LineSplitter::default();
        let _ = s.scan(b"x\r", 100);
        s.clear_line();
        let scan = s.scan(b"y\n", 100);
        assert!(scan.bare_cr);
        assert_eq!(s.line(), b"y");
    }
}
