//! Turning wire bytes into stored strings: URI unescaping (Zeek's rules), lossless-ish UTF-8
//! conversion and truncation.

/// What replaces a redacted credential (a parameter value, a userinfo password).
pub const REDACTED: &str = "REDACTED";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` (and the non-standard `%uXXXX`) escapes the way Zeek builds the `uri` it
/// logs: malformed escapes are kept as they are, `%%` drops the first `%`.
pub(crate) fn unescape_uri(uri: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(uri.len());
    let mut i = 0;
    while let Some(&c) = uri.get(i) {
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let a = uri.get(i + 1).copied();
        let b = uri.get(i + 2).copied();
        match (a, b) {
            (None, _) => {
                out.push(b'%');
                break;
            }
            (Some(a), None) => {
                out.extend_from_slice(&[b'%', a]);
                break;
            }
            (Some(b'%'), Some(_)) => {
                // "%%": the first '%' is dropped and the second starts a new escape.
                i += 1;
            }
            (Some(a), Some(b)) => {
                if let (Some(h), Some(l)) = (hex_val(a), hex_val(b)) {
                    out.push(h << 4 | l);
                    i += 3;
                } else if a == b'u' {
                    let quad = uri.get(i + 2..i + 6).map(|q| q.iter().map(|&d| hex_val(d)).collect::<Vec<_>>());
                    match quad.as_deref() {
                        Some([Some(h1), Some(l1), Some(h2), Some(l2)]) => {
                            if !(*h1 == 0 && *l1 == 0) {
                                out.push(h1 << 4 | l1);
                            }
                            out.push(h2 << 4 | l2);
                            i += 6;
                        }
                        _ => {
                            out.extend_from_slice(&[b'%', a]);
                            i += 2;
                        }
                    }
                } else {
                    out.extend_from_slice(&[b'%', a]);
                    i += 2;
                }
            }
        }
    }
    out
}

/// Converts wire bytes to a string: valid UTF-8 is kept, every byte that is not part of valid
/// UTF-8 becomes the four characters `\xHH` (the form Zeek's log uses for them). At most
/// `limit` bytes of output are kept (cut on a character boundary); the flag says whether
/// anything was cut.
pub(crate) fn wire_string(bytes: &[u8], limit: usize) -> (String, bool) {
    let mut out = String::with_capacity(bytes.len().min(limit));
    let mut truncated = false;
    for chunk in bytes.utf8_chunks() {
        if !push_bounded(&mut out, chunk.valid(), limit) {
            truncated = true;
            break;
        }
        // Each escape is kept whole or not at all.
        for b in chunk.invalid() {
            if out.len() + 4 > limit {
                return (out, true);
            }
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    (out, truncated)
}

/// Appends as much of `s` as fits in `limit`; false when something did not fit.
fn push_bounded(out: &mut String, s: &str, limit: usize) -> bool {
    let room = limit.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        return true;
    }
    let mut cut = room;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(s.get(..cut).unwrap_or_default());
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_follows_zeek() {
        assert_eq!(unescape_uri(b"/a%20b"), b"/a b");
        assert_eq!(unescape_uri(b"/%"), b"/%");
        assert_eq!(unescape_uri(b"/%5"), b"/%5");
        assert_eq!(unescape_uri(b"/%zz"), b"/%zz");
        assert_eq!(unescape_uri(b"/%%41"), b"/A");
        assert_eq!(unescape_uri(b"/%u0041%u00e9"), b"/A\xe9");
        assert_eq!(unescape_uri(b"/%u2603"), b"/\x26\x03");
        assert_eq!(unescape_uri(b"/%FC"), b"/\xfc");
    }

    #[test]
    fn wire_string_escapes_only_invalid_bytes() {
        assert_eq!(wire_string(b"caf\xc3\xa9", 100), ("caf\u{e9}".to_owned(), false));
        assert_eq!(wire_string(b"r\xfcchma", 100), ("r\\xfcchma".to_owned(), false));
    }

    #[test]
    fn wire_string_truncates_on_char_boundary() {
        let (s, cut) = wire_string("ab\u{e9}".as_bytes(), 3);
        assert_eq!(s, "ab");
        assert!(cut);
        let (s, cut) = wire_string(b"a\xff", 3);
        assert_eq!(s, "a");
        assert!(cut);
    }
}
