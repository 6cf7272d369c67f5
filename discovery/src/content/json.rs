//! A streaming JSON scanner for body prefixes: one pass, no DOM, tolerant of a cut end. It
//! records the shape (paths and types) and feeds values to the detectors.

use std::borrow::Cow;

use super::detect::{self, FieldContext};
use super::{ContentEvent, ContentLimits, JsonType, Outcome};

/// What the scanner expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (document start, after `:`, after `,` in an array).
    Value,
    /// A value or `]` (right after `[`).
    ValueOrClose,
    /// A key or `}` (right after `{`).
    KeyOrClose,
    /// A key (after `,` in an object).
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or the closing bracket of the current container.
    CommaOrClose,
    /// Nothing but blanks: the document is complete.
    End,
}

/// One open container whose contents are recorded.
struct Frame {
    object: bool,
    /// Path length of the container itself; members and elements extend from here.
    outer_len: usize,
    /// The container's own path was recorded (not too long).
    base_ok: bool,
    /// The current member's (or the elements') path fits the limit.
    ok: bool,
    /// Values at the current path are object identifiers ([`super::is_id_key`]), worked out
    /// once per key rather than once per value.
    id: bool,
}

/// How a scan ended, when it did not reach a complete document.
enum Stop {
    Cut,
    Malformed(usize),
}

struct Scanner<'a, 'o> {
    src: &'a [u8],
    pos: usize,
    limits: &'a ContentLimits,
    out: &'o mut Outcome,
    /// The current path, always UTF-8 (built from whole `str` segments).
    path: Vec<u8>,
    stack: Vec<Frame>,
    /// Decoded string scratch (escapes), reused for every string.
    buf: Vec<u8>,
    contexts: Contexts,
    too_deep: u32,
    /// Skim mode ([`skim`]): no detectors on values, and the shape as hashes only.
    skim: bool,
}

/// Scans `src` as JSON into `out`. Returns false, recording nothing, when the first non-blank
/// byte cannot start a JSON value (the caller then scans the body as text).
pub(crate) fn analyze(src: &[u8], limits: &ContentLimits, out: &mut Outcome) -> bool {
    scan(src, limits, out, false)
}

/// [`analyze`] without what costs most: the detectors do not run on values (keys are still
/// made into path segments exactly as [`analyze`] makes them) and the shape is kept as the
/// hashes of its `(path, type)` pairs ([`super::shape::KeySet`]) instead of strings. The same
/// paths, ids, events and cut points as [`analyze`], by construction: it is the same scanner.
pub(crate) fn skim(src: &[u8], limits: &ContentLimits, out: &mut Outcome) -> bool {
    scan(src, limits, out, true)
}

fn scan(src: &[u8], limits: &ContentLimits, out: &mut Outcome, skim: bool) -> bool {
    // A UTF-8 byte order mark is not JSON but some servers send one; offsets stay the body's.
    let bom = if src.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let first = src.iter().skip(bom).find(|b| !is_blank(**b));
    if !matches!(
        first,
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    ) {
        return false;
    }
    let mut s = Scanner {
        src,
        pos: bom,
        limits,
        out,
        path: Vec::with_capacity(128),
        stack: Vec::with_capacity(8),
        buf: Vec::new(),
        contexts: Contexts::default(),
        too_deep: 0,
        skim,
    };
    let stop = s.run();
    if s.too_deep > 0 {
        s.out.event(ContentEvent::TooDeep {
            skipped: s.too_deep,
        });
    }
    match stop {
        Ok(()) => {}
        Err(Stop::Cut) => s.out.event(ContentEvent::CutOff),
        Err(Stop::Malformed(offset)) => s.out.event(ContentEvent::Malformed { offset }),
    }
    true
}

/// JSON whitespace (RFC 8259: space, tab, line feed, carriage return).
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The path as text: it is built from whole `str` segments, so it always is.
fn path_str(path: &[u8]) -> &str {
    std::str::from_utf8(path).unwrap_or_default()
}

/// Paths whose field context was computed last, with it: the members of the elements of an
/// array repeat their paths, and a context costs more than comparing paths.
#[derive(Default)]
struct Contexts {
    recent: Vec<(Vec<u8>, FieldContext)>,
    /// The entry replaced next once [`CONTEXTS`] are held.
    next: usize,
}

/// Field contexts remembered per body.
const CONTEXTS: usize = 8;

impl Contexts {
    /// The field context of `path` for the detectors (none when it is not recorded).
    fn of(&mut self, path: &[u8], recording: bool) -> FieldContext {
        if !recording {
            return FieldContext::default();
        }
        if let Some((_, ctx)) = self.recent.iter().find(|(p, _)| p.as_slice() == path) {
            return *ctx;
        }
        let ctx = FieldContext::from_path(path_str(path));
        if self.recent.len() < CONTEXTS {
            self.recent.push((path.to_vec(), ctx));
        } else if let Some(slot) = self.recent.get_mut(self.next) {
            slot.0.clear();
            slot.0.extend_from_slice(path);
            slot.1 = ctx;
            self.next = (self.next + 1) % CONTEXTS;
        }
        ctx
    }
}

/// A JSON string as found in the source: its raw bytes between the quotes and whether they
/// hold escapes.
struct RawString {
    start: usize,
    end: usize,
    escaped: bool,
}

impl<'a> Scanner<'a, '_> {
    fn run(&mut self) -> Result<(), Stop> {
        let mut expect = Expect::Value;
        loop {
            self.skip_blanks();
            let Some(&b) = self.src.get(self.pos) else {
                return if expect == Expect::End {
                    Ok(())
                } else {
                    Err(Stop::Cut)
                };
            };
            expect = match (expect, b) {
                (Expect::End, _) => return Err(Stop::Malformed(self.pos)),
                (Expect::ValueOrClose, b']') | (Expect::CommaOrClose, b']')
                    if self.top_is(false) =>
                {
                    self.close()
                }
                (Expect::KeyOrClose, b'}') | (Expect::CommaOrClose, b'}') if self.top_is(true) => {
                    self.close()
                }
                (Expect::Value | Expect::ValueOrClose, _) => self.value(b)?,
                (Expect::KeyOrClose | Expect::Key, b'"') => {
                    self.key()?;
                    Expect::Colon
                }
                (Expect::Colon, b':') => {
                    self.pos += 1;
                    Expect::Value
                }
                (Expect::CommaOrClose, b',') => {
                    self.pos += 1;
                    if self.top_is(true) {
                        Expect::Key
                    } else {
                        Expect::Value
                    }
                }
                _ => return Err(Stop::Malformed(self.pos)),
            };
        }
    }

    fn skip_blanks(&mut self) {
        while self.src.get(self.pos).is_some_and(|b| is_blank(*b)) {
            self.pos += 1;
        }
    }

    fn top_is(&self, object: bool) -> bool {
        self.stack.last().is_some_and(|f| f.object == object)
    }

    /// What follows a complete value.
    fn after_value(&self) -> Expect {
        if self.stack.is_empty() {
            Expect::End
        } else {
            Expect::CommaOrClose
        }
    }

    fn close(&mut self) -> Expect {
        self.pos += 1;
        if let Some(frame) = self.stack.pop() {
            self.path.truncate(frame.outer_len);
        }
        self.after_value()
    }

    /// Whether values at the current path are recorded.
    fn recording(&self) -> bool {
        self.stack.last().is_none_or(|f| f.ok)
    }

    /// Whether values at the current path are collected as object identifiers.
    fn collecting_ids(&self) -> bool {
        // The root's path is empty, never an id key.
        self.limits.max_ids > 0 && self.stack.last().is_some_and(|f| f.ok && f.id)
    }

    fn record(&mut self, ty: JsonType) {
        if !self.recording() {
            self.out.shape.path_too_long();
            return;
        }
        if self.skim {
            self.out.keys.insert(&self.path, ty, self.limits.max_fields);
        } else {
            self.out
                .shape
                .insert(&self.path, ty, self.limits.max_fields);
        }
    }


    /// A value starting with `b` at `pos`.
    fn value(&mut self, b: u8) -> Result<Expect, Stop> {
        match b {
            b'{' | b'[' => {
                let object = b == b'{';
                self.record(if object {
                    JsonType::Object
                } else {
                    JsonType::Array
                });
                self.pos += 1;
                if self.stack.len() >= self.limits.max_depth {
                    self.too_deep = self.too_deep.saturating_add(1);
                    self.skip_container()?;
                    return Ok(self.after_value());
                }
                self.open(object);
                Ok(if object {
                    Expect::KeyOrClose
                } else {
                    Expect::ValueOrClose
                })
            }
            b'"' => {
                let raw = self.string();
                // A cut string is still known to be a string; its text is not scanned (the
                // token at the cut may go on).
                self.record(JsonType::String);
                self.detect_string(&raw?);
                Ok(self.after_value())
            }
            b'-' | b'0'..=b'9' => {
                let (ty, integer) = self.number()?;
                self.record(ty);
                if let Some(digits) = integer.and_then(|(start, end)| self.src.get(start..end)) {
                    if !self.skim {
                        let recording = self.recording();
                        let (path, contexts) = (&self.path, &mut self.contexts);
                        detect::scan_integer(digits, || contexts.of(path, recording), &mut self.out.tally);
                    }
                    if self.collecting_ids() {
                        super::collect_id(&mut self.out.object_ids, self.limits.max_ids, digits);
                    }
                }
                Ok(self.after_value())
            }
            b't' | b'f' | b'n' => {
                let (word, ty): (&[u8], _) = match b {
                    b't' => (b"true", JsonType::Bool),
                    b'f' => (b"false", JsonType::Bool),
                    _ => (b"null", JsonType::Null),
                };
                let rest = self.src.get(self.pos..).unwrap_or(&[]);
                if rest.starts_with(word) {
                    self.pos += word.len();
                    self.record(ty);
                    Ok(self.after_value())
                } else if word.starts_with(rest) {
                    Err(Stop::Cut)
                } else {
                    Err(Stop::Malformed(self.pos))
                }
            }
            _ => Err(Stop::Malformed(self.pos)),
        }
    }

    /// Pushes a container whose own path is the current one.
    fn open(&mut self, object: bool) {
        let outer_len = self.path.len();
        let base_ok = self.recording();
        let mut ok = base_ok;
        if !object && base_ok {
            if outer_len + 2 <= self.limits.max_path_bytes {
                self.path.extend_from_slice(b"[]");
            } else {
                ok = false;
            }
        }
        // An array's elements are ids when the array's own key names one (`AccountId[]`).
        let id = !object && ok && self.limits.max_ids > 0 && super::is_id_key(&self.path);
        self.stack.push(Frame {
            object,
            outer_len,
            base_ok,
            ok,
            id,
        });
    }

    /// Skips a container nested too deep, from just after its opening bracket to just after
    /// its close. Brackets are counted, not matched: grammar inside is not checked.
    fn skip_container(&mut self) -> Result<(), Stop> {
        let mut depth = 1usize;
        while depth > 0 {
            let Some(&b) = self.src.get(self.pos) else {
                return Err(Stop::Cut);
            };
            match b {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Reads a member's key and points the path at it.
    fn key(&mut self) -> Result<(), Stop> {
        let raw = self.string()?;
        let Some(frame) = self.stack.last() else {
            return Err(Stop::Malformed(raw.start));
        };
        let (outer_len, base_ok) = (frame.outer_len, frame.base_ok);
        self.path.truncate(outer_len);
        let mut ok = base_ok;
        if base_ok {
            let room = self
                .limits
                .max_path_bytes
                .saturating_sub(outer_len + usize::from(outer_len > 0));
            let raw_key = self.src.get(raw.start..raw.end).unwrap_or(&[]);
            // One byte more than fits is enough to know it does not.
            let key = match raw.escaped {
                false => raw_key,
                true => {
                    decode(raw_key, &mut self.buf, room.saturating_add(1));
                    &self.buf
                }
            };
            let text = key_segment(key, room, &mut self.out.tally);
            ok = text.is_some();
            if let Some(text) = text {
                if outer_len > 0 {
                    self.path.push(b'.');
                }
                self.path.extend_from_slice(&text);
            }
        }
        let id = ok && self.limits.max_ids > 0 && super::is_id_key(&self.path);
        if let Some(frame) = self.stack.last_mut() {
            frame.ok = ok;
            frame.id = id;
        }
        Ok(())
    }

    /// Runs the detectors on a complete string value, up to `max_string_bytes` of it.
    fn detect_string(&mut self, raw: &RawString) {
        let ids = self.collecting_ids();
        if self.skim && !ids {
            // Long strings only shorten the detectors' view, which a skim does not take.
            return;
        }
        let max = self.limits.max_string_bytes;
        let whole = self.src.get(raw.start..raw.end).unwrap_or(&[]);
        let (text, cut): (&[u8], bool) = if raw.escaped {
            let cut = decode(whole, &mut self.buf, max);
            (&self.buf, cut)
        } else {
            (whole.get(..max).unwrap_or(whole), whole.len() > max)
        };
        if cut {
            self.out.long_strings = self.out.long_strings.saturating_add(1);
        }
        if !self.skim {
            let recording = self.recording();
            let (path, contexts) = (&self.path, &mut self.contexts);
            detect::scan_value(text, cut, || contexts.of(path, recording), &mut self.out.tally);
        }
        if ids && !cut {
            super::collect_id(&mut self.out.object_ids, self.limits.max_ids, text);
        }
    }

    /// The string whose opening quote is at `pos`; on success `pos` is past its closing quote.
    /// Escapes are validated, not decoded.
    fn string(&mut self) -> Result<RawString, Stop> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = skip_plain(self.src, i);
            let Some(&b) = self.src.get(i) else {
                return Err(Stop::Cut);
            };
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(RawString {
                        start,
                        end: i,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match self.src.get(i + 1) {
                        None => return Err(Stop::Cut),
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            for k in i + 2..i + 6 {
                                match self.src.get(k) {
                                    None => return Err(Stop::Cut),
                                    Some(h) if h.is_ascii_hexdigit() => {}
                                    Some(_) => return Err(Stop::Malformed(k)),
                                }
                            }
                            i += 6;
                        }
                        Some(_) => return Err(Stop::Malformed(i + 1)),
                    }
                }
                0..=0x1F => return Err(Stop::Malformed(i)),
                _ => i += 1,
            }
        }
    }

    /// The number at `pos` (RFC 8259 grammar): its type, and the span of its digits when it is
    /// a non-negative integer. A number running to the end of the text is cut unless it is the
    /// whole document.
    fn number(&mut self) -> Result<(JsonType, Option<(usize, usize)>), Stop> {
        let src = self.src;
        let mut i = self.pos;
        let negative = src.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let digits = |mut i: usize| {
            while src.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let int_start = i;
        i = match src.get(i) {
            None => return Err(Stop::Cut),
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits(i),
            Some(_) => return Err(Stop::Malformed(i)),
        };
        let int_end = i;
        let mut integer = true;
        if src.get(i) == Some(&b'.') {
            integer = false;
            match src.get(i + 1) {
                None => return Err(Stop::Cut),
                Some(d) if d.is_ascii_digit() => i = digits(i + 1),
                Some(_) => return Err(Stop::Malformed(i + 1)),
            }
        }
        if matches!(src.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(src.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            match src.get(i) {
                None => return Err(Stop::Cut),
                Some(d) if d.is_ascii_digit() => i = digits(i),
                Some(_) => return Err(Stop::Malformed(i)),
            }
        }
        match src.get(i) {
            None if !self.stack.is_empty() => return Err(Stop::Cut),
            None | Some(b',' | b']' | b'}') => {}
            Some(b) if is_blank(*b) => {}
            Some(_) => return Err(Stop::Malformed(i)),
        }
        self.pos = i;
        let ty = if integer {
            JsonType::Integer
        } else {
            JsonType::Number
        };
        Ok((ty, (integer && !negative).then_some((int_start, int_end))))
    }
}

/// Past the bytes from `i` on that need no attention inside a string (not `"`, `\` or a
/// control character), eight at a time: where the first byte that does is, or where the
/// last whole word ends.
fn skip_plain(src: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Non-zero when a byte of `x` is zero; the lowest flagged byte is always a real one.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(word) = src.get(i..i + 8) {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or([0; 8]));
        let special = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Appends a key to `path` as a segment (after a `.` unless the path is empty), if it fits in
/// `room` bytes. A key that is data (digits, a UUID, a sensitive value) becomes `*`; a key in
/// which a detector fires is counted. Returns whether it fitted.
pub(crate) fn push_segment(
    path: &mut String,
    key: &[u8],
    room: usize,
    tally: &mut detect::Tally,
) -> bool {
    let Some(text) = key_segment(key, room, tally) else {
        return false;
    };
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(&String::from_utf8_lossy(&text));
    true
}

/// The segment a key makes when it fits in `room` bytes: `*` for a key that is data (digits,
/// a UUID, or a value in which a detector fires, which is counted), a key that is not UTF-8
/// with its invalid bytes replaced. The segment is always UTF-8.
fn key_segment<'k>(key: &'k [u8], room: usize, tally: &mut detect::Tally) -> Option<Cow<'k, [u8]>> {
    if key.len() > room {
        return None;
    }
    let (mut digits, mut at) = (0usize, false);
    for &b in key {
        digits += usize::from(b.is_ascii_digit());
        at |= b == b'@';
    }
    let mut data = (!key.is_empty() && digits == key.len()) || is_uuid(key);
    if !data && (digits > 0 || at) {
        let before = tally.total();
        detect::scan_value(key, false, FieldContext::default, tally);
        data = tally.total() != before;
    }
    let text = if data {
        Cow::Borrowed(b"*".as_slice())
    } else if key.is_ascii() || std::str::from_utf8(key).is_ok() {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(String::from_utf8_lossy(key).into_owned().into_bytes())
    };
    (text.len() <= room).then_some(text)
}

/// A key that is a UUID (an identifier rather than a name, as are keys of digits only).
fn is_uuid(key: &[u8]) -> bool {
    key.len() == 36
        && key.iter().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// Decodes the escapes of a validated JSON string body into `buf` (cleared first), stopping
/// after `max` bytes. Returns whether it stopped early. Lone surrogates become U+FFFD.
fn decode(raw: &[u8], buf: &mut Vec<u8>, max: usize) -> bool {
    buf.clear();
    let mut i = 0usize;
    while let Some(&b) = raw.get(i) {
        if buf.len() >= max {
            return true;
        }
        if b != b'\\' {
            buf.push(b);
            i += 1;
            continue;
        }
        let simple = match raw.get(i + 1) {
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0C),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(b'u') => None,
            Some(other) => Some(*other),
            None => return false,
        };
        if let Some(c) = simple {
            buf.push(c);
            i += 2;
            continue;
        }
        let unit = hex4(raw, i + 2);
        i += 6;
        let c = match unit {
            Some(hi @ 0xD800..=0xDBFF) => match (raw.get(i), raw.get(i + 1), hex4(raw, i + 2)) {
                (Some(b'\\'), Some(b'u'), Some(lo @ 0xDC00..=0xDFFF)) => {
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                }
                _ => None,
            },
            Some(u) => char::from_u32(u),
            None => None,
        };
        let mut utf8 = [0u8; 4];
        buf.extend_from_slice(
            c.unwrap_or(char::REPLACEMENT_CHARACTER)
                .encode_utf8(&mut utf8)
                .as_bytes(),
        );
    }
    false
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, h| Some(acc * 16 + char::from(*h).to_digit(16)?))
}

#[cfg(test)]
mod tests;
