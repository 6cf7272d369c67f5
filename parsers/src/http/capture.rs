//! The bounded prefix of a decoded body kept for the transaction
//! ([`HttpConfig::max_body_capture`](super::HttpConfig::max_body_capture)).
//!
//! The bytes are personal data (account numbers, names, addresses): this type never prints
//! them in its `Debug` output, and nothing here writes them anywhere.

use std::fmt;

/// The first `limit` bytes of one message's entity, after transfer and content decoding.
///
/// The buffer grows by doubling but never asks for more than `limit`, so the memory a body can
/// pin is bounded by the limit (and counted by
/// [`HttpParser::buffered_bytes`](super::HttpParser::buffered_bytes)).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Capture {
    buf: Vec<u8>,
    limit: usize,
    /// Bytes of the entity are missing from `buf`.
    truncated: bool,
    /// No more bytes are kept (limit reached, gap, decoding stopped, body not decodable).
    stopped: bool,
    /// The size limit cut the body and nobody has reported it yet.
    limit_hit_unreported: bool,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("len", &self.buf.len())
            .field("limit", &self.limit)
            .field("truncated", &self.truncated)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

/// First capacity reserved for a body, so small bodies do not pay for many reallocations.
const FIRST_RESERVE: usize = 1024;

impl Capture {
    /// A capture of at most `limit` bytes; 0 keeps nothing and never reports truncation.
    pub fn new(limit: usize) -> Self {
        Capture { limit, ..Capture::default() }
    }

    /// Whether this capture keeps anything at all.
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Bytes that may still be kept.
    pub fn room(&self) -> usize {
        if self.stopped {
            0
        } else {
            self.limit.saturating_sub(self.buf.len())
        }
    }

    /// Appends decoded entity bytes, as many as fit.
    pub fn push(&mut self, data: &[u8]) {
        if !self.enabled() || data.is_empty() {
            return;
        }
        if self.stopped {
            self.truncated = true;
            return;
        }
        let room = self.limit.saturating_sub(self.buf.len());
        let kept = data.get(..room.min(data.len())).unwrap_or_default();
        self.reserve(kept.len());
        self.buf.extend_from_slice(kept);
        if kept.len() < data.len() {
            self.truncated = true;
            self.stopped = true;
            self.limit_hit_unreported = true;
        }
    }

    /// Entity bytes existed that were not delivered to [`push`](Self::push) because the caller
    /// only held [`room`](Self::room) of them: a size-limit cut when the capture is full,
    /// otherwise a hole that ends the capture.
    pub fn overflow(&mut self) {
        if !self.enabled() {
            return;
        }
        if self.room() == 0 && !self.stopped {
            self.truncated = true;
            self.stopped = true;
            self.limit_hit_unreported = true;
        } else {
            self.cut();
        }
    }

    /// The body can no longer be followed (gap, decoding stopped, message cut short): keep
    /// what was captured and mark it truncated.
    pub fn cut(&mut self) {
        if self.enabled() {
            self.truncated = true;
            self.stopped = true;
        }
    }

    /// The body will not be kept (its coding is not decoded); any byte that arrives marks the
    /// capture truncated.
    pub fn refuse(&mut self) {
        self.stopped = true;
    }

    /// Whether the size limit cut the body since the last call (reported once per body).
    pub fn take_limit_hit(&mut self) -> bool {
        std::mem::take(&mut self.limit_hit_unreported)
    }

    /// Heap bytes held.
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// The captured bytes and whether any of the entity is missing from them.
    pub fn finish(self) -> (Vec<u8>, bool) {
        (self.buf, self.truncated)
    }

    /// Grows capacity for `more` bytes: doubling, never past `limit`.
    fn reserve(&mut self, more: usize) {
        let need = self.buf.len().saturating_add(more);
        let cap = self.buf.capacity();
        if need <= cap {
            return;
        }
        let target = need.max(cap.saturating_mul(2)).max(FIRST_RESERVE).min(self.limit);
        self.buf.reserve_exact(target.saturating_sub(self.buf.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_prefix_and_flags_the_rest() {
        let mut c = Capture::new(5);
        c.push(b"abc");
        assert_eq!(c.room(), 2);
        c.push(b"defg");
        assert!(c.take_limit_hit());
        assert!(!c.take_limit_hit(), "reported once");
        c.push(b"h");
        assert_eq!(c.finish(), (b"abcde".to_vec(), true));
    }

    #[test]
    fn exactly_full_is_not_truncated_until_more_comes() {
        let mut c = Capture::new(3);
        c.push(b"abc");
        assert_eq!(c.clone().finish(), (b"abc".to_vec(), false));
        c.push(b"d");
        assert!(c.take_limit_hit());
        assert_eq!(c.finish(), (b"abc".to_vec(), true));
    }

    #[test]
    fn capacity_never_exceeds_the_limit() {
        let mut c = Capture::new(3000);
        for _ in 0..100 {
            c.push(&[7u8; 97]);
            assert!(c.held_bytes() <= 3000, "{}", c.held_bytes());
        }
        let (body, truncated) = c.finish();
        assert_eq!((body.len(), truncated), (3000, true));
    }

    #[test]
    fn off_keeps_nothing_and_reports_nothing() {
        let mut c = Capture::new(0);
        c.push(b"abc");
        c.cut();
        c.overflow();
        assert!(!c.take_limit_hit());
        assert_eq!(c.held_bytes(), 0);
        assert_eq!(c.finish(), (Vec::new(), false));
    }

    #[test]
    fn cut_and_refuse_keep_what_was_there() {
        let mut c = Capture::new(10);
        c.push(b"ab");
        c.cut();
        c.push(b"cd");
        assert!(!c.take_limit_hit(), "a cut is not a size-limit hit");
        assert_eq!(c.finish(), (b"ab".to_vec(), true));

        let mut c = Capture::new(10);
        c.refuse();
        assert_eq!(c.clone().finish(), (Vec::new(), false), "an empty refused body is complete");
        c.push(b"x");
        assert_eq!(c.finish(), (Vec::new(), true));
    }

    #[test]
    fn overflow_when_full_is_a_limit_hit_otherwise_a_cut() {
        let mut c = Capture::new(2);
        c.push(b"ab");
        c.overflow();
        assert!(c.take_limit_hit());
        let mut c = Capture::new(8);
        c.push(b"ab");
        c.overflow();
        assert!(!c.take_limit_hit());
        assert_eq!(c.finish(), (b"ab".to_vec(), true));
    }

    #[test]
    fn debug_does_not_print_the_bytes() {
        let mut c = Capture::new(64);
        c.push(b"Qx7KpWm4Zt");
        let s = format!("{c:?}");
        assert!(!s.contains("Qx7K") && !s.contains("81, 120"), "{s}");
        assert!(s.contains("len: 10"), "{s}");
    }
}
