//! `application/x-www-form-urlencoded` bodies: field names as shape, decoded values scanned.

use super::detect::{self, FieldContext};
use super::json::push_segment;
use super::{ContentLimits, JsonType, Outcome};

/// Scans `name=value&...`. `cut`: the text stops at a limit, so its last pair may be partial
/// (its name is dropped when no `=` was seen; its value's end is not a token boundary).
pub(crate) fn analyze(src: &[u8], cut: bool, limits: &ContentLimits, out: &mut Outcome) {
    let mut name = Vec::new();
    let mut value = Vec::new();
    let mut path = String::new();
    let mut pairs = src.split(|b| *b == b'&').peekable();
    while let Some(pair) = pairs.next() {
        let last = pairs.peek().is_none();
        let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or(&[]),
                Some(pair.get(eq + 1..).unwrap_or(&[])),
            ),
            None => (pair, None),
        };
        if raw_name.is_empty() || (last && cut && raw_value.is_none()) {
            continue;
        }
        // One byte more than fits is enough to know it does not.
        decode(raw_name, &mut name, limits.max_path_bytes.saturating_add(1));
        path.clear();
        let named = push_segment(&mut path, &name, limits.max_path_bytes, &mut out.tally);
        if named {
            out.shape.insert(&path, JsonType::String, limits.max_fields);
        } else {
            out.shape.path_too_long();
        }
        let Some(raw_value) = raw_value else { continue };
        let long = decode(raw_value, &mut value, limits.max_string_bytes);
        if long {
            out.long_strings = out.long_strings.saturating_add(1);
        }
        let key = named.then_some(path.as_str());
        detect::scan_value(
            &value,
            long || (last && cut),
            || FieldContext::from_names(key, None),
            &mut out.tally,
        );
    }
}

/// Percent-decodes into `buf` (cleared first), `+` as a space, stopping after `max` bytes.
/// Malformed escapes are kept as they are. Returns whether it stopped early.
fn decode(raw: &[u8], buf: &mut Vec<u8>, max: usize) -> bool {
    buf.clear();
    let mut i = 0usize;
    while let Some(&b) = raw.get(i) {
        if buf.len() >= max {
            return true;
        }
        let hex = |k: usize| raw.get(k).and_then(|h| char::from(*h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                buf.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                buf.push(b' ');
                i += 1;
            }
            _ => {
                buf.push(b);
                i += 1;
            }
        }
    }
    false
}
