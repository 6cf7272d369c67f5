//! Email addresses: the dot-atom subset of RFC 5322 that real addresses use.

use super::{ends_cleanly, Scan};

/// Longest local part (RFC 5321).
pub(crate) const MAX_LOCAL: usize = 64;
/// Longest domain (RFC 1035, without the trailing dot).
const MAX_DOMAIN: usize = 253;

/// Top-level "domains" that are file extensions: `logo@2x.png`, `icon@3x.webp`.
const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"bmp", b"ico", b"css", b"js", b"json",
    b"html", b"htm", b"xml", b"pdf", b"txt", b"csv", b"yaml", b"yml", b"map", b"woff", b"woff2",
    b"ttf",
];

fn atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

/// An address whose local part starts at `start` (the caller has checked the boundary before
/// it). Returns where the domain ends.
pub(crate) fn at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    let mut i = start;
    let mut prev_dot = true; // a leading dot is as bad as a double one
    while let Some(&b) = s.get(i) {
        if b == b'@' {
            break;
        }
        let dot = b == b'.';
        if (dot && prev_dot) || !(dot || atext(b)) || i - start >= MAX_LOCAL {
            return None;
        }
        prev_dot = dot;
        i += 1;
    }
    if prev_dot || s.get(i) != Some(&b'@') {
        return None;
    }
    domain(s, i + 1, scan)
}

/// Labels of letters, digits and inner hyphens joined by dots, at least two, the last all
/// letters. A trailing dot (end of a sentence) is not part of it.
fn domain(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    let mut i = start;
    let mut label_start = start;
    let mut labels = 0usize;
    let mut end = start;
    let mut tld = (start, start);
    loop {
        while i - start <= MAX_DOMAIN
            && s.get(i)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            i += 1;
        }
        let label = s.get(label_start..i)?;
        if label.is_empty()
            || label.len() > 63
            || label.first() == Some(&b'-')
            || label.last() == Some(&b'-')
        {
            break;
        }
        labels += 1;
        end = i;
        tld = (label_start, i);
        if s.get(i) == Some(&b'.') && s.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) {
            i += 1;
            label_start = i;
            continue;
        }
        break;
    }
    let tld = s.get(tld.0..tld.1)?;
    let tld_ok = (2..=63).contains(&tld.len())
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !FILE_EXTENSIONS
            .iter()
            .any(|ext| ext.eq_ignore_ascii_case(tld));
    let next_ok = !matches!(s.get(end), Some(b'-' | b'_' | b'@'));
    (labels >= 2 && end - start <= MAX_DOMAIN && tld_ok && next_ok && ends_cleanly(s, end, scan))
        .then_some(end)
}
