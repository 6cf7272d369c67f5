//! ISO 8601 dates and date-times in a path segment, checked field by field (real months,
//! days of that month, hours, minutes, seconds and offsets).

use super::SegmentKind;

/// Reads a fixed-width decimal field and the separators around it.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor {
            b: s.as_bytes(),
            i: 0,
        }
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Consumes `c` if it comes next.
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Consumes exactly `width` digits and returns their value.
    fn number(&mut self, width: usize) -> Option<u32> {
        let end = self.i.checked_add(width)?;
        let field = self.b.get(self.i..end)?;
        if !field.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i = end;
        Some(
            field
                .iter()
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0')),
        )
    }

    /// Consumes one or more digits (a fraction of a second).
    fn digits(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i > start
    }
}

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Year, month and day, extended (`YYYY-MM-DD`) or basic (`YYYYMMDD`).
fn date(c: &mut Cursor<'_>, extended: bool) -> Option<()> {
    let year = c.number(4)?;
    if extended && !c.eat(b'-') {
        return None;
    }
    let month = c.number(2)?;
    if extended && !c.eat(b'-') {
        return None;
    }
    let day = c.number(2)?;
    (day >= 1 && day <= days_in_month(year, month)).then_some(())
}

/// `hh:mm[:ss[.f+]]` (extended) or `hhmm[ss[.f+]]` (basic).
fn time(c: &mut Cursor<'_>, extended: bool) -> Option<()> {
    let hour = c.number(2)?;
    if extended && !c.eat(b':') {
        return None;
    }
    let minute = c.number(2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let has_seconds = if extended {
        c.eat(b':')
    } else {
        c.peek().is_some_and(|b| b.is_ascii_digit())
    };
    if has_seconds {
        // 60 is a leap second.
        if c.number(2)? > 60 {
            return None;
        }
        if (c.eat(b'.') || c.eat(b',')) && !c.digits() {
            return None;
        }
    }
    Some(())
}

/// `Z`, `±hh:mm`, `±hhmm` or `±hh`, then the end of the text.
fn offset_to_end(c: &mut Cursor<'_>) -> Option<()> {
    if c.done() {
        return Some(());
    }
    if c.eat(b'Z') || c.eat(b'z') {
        return c.done().then_some(());
    }
    if !(c.eat(b'+') || c.eat(b'-')) {
        return None;
    }
    if c.number(2)? > 23 {
        return None;
    }
    if c.done() {
        return Some(());
    }
    c.eat(b':');
    if c.number(2)? > 59 {
        return None;
    }
    c.done().then_some(())
}

/// The date kind of `s`, if it is an ISO 8601 date or date-time: see [`SegmentKind::Date`]
/// and [`SegmentKind::DateTime`].
pub(crate) fn date_kind(s: &str) -> Option<SegmentKind> {
    // The longest sensible date-time with a nanosecond fraction and offset is 35 bytes.
    if s.len() < 10 || s.len() > 40 {
        return None;
    }
    let extended = s.as_bytes().get(4) == Some(&b'-');
    let mut c = Cursor::new(s);
    date(&mut c, extended)?;
    if c.done() {
        // Only the extended form is a date: 8 bare digits are an integer.
        return extended.then_some(SegmentKind::Date);
    }
    if !(c.eat(b'T') || c.eat(b't') || (extended && c.eat(b' '))) {
        return None;
    }
    time(&mut c, extended)?;
    offset_to_end(&mut c)?;
    Some(SegmentKind::DateTime)
}
