//! Byte-level decoding (base64, percent-encoding) and the shaping of labels. Every function
//! is bounded by an output limit and returns `None` rather than panicking on any input.

/// The value of a base64 symbol in either alphabet (standard `+/`, URL-safe `-_`).
fn sextet(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes base64 (RFC 4648) in the standard or URL-safe alphabet, with or without padding.
/// With `skip_space`, ASCII whitespace anywhere is ignored (PEM lines, folded values). `None`
/// for any other byte, symbols after padding, a single dangling symbol, or more than `max`
/// output bytes.
pub(crate) fn base64_decode(input: &[u8], skip_space: bool, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity((input.len() / 4 * 3).min(max));
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut symbols = 0usize;
    let mut padded = false;
    for &b in input {
        if skip_space && b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padded = true;
            continue;
        }
        if padded {
            return None;
        }
        acc = (acc << 6) | sextet(b)?;
        bits += 6;
        symbols += 1;
        if bits >= 8 {
            bits -= 8;
            if out.len() >= max {
                return None;
            }
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // One symbol of a group carries six bits, less than a byte: the input was cut.
    if symbols % 4 == 1 {
        return None;
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Percent-decodes (`%41` to `A`); with `plus_space`, `+` is a space as in form bodies.
/// Malformed escapes are kept as they are. `None` past `max` output bytes.
pub(crate) fn percent_decode(input: &[u8], plus_space: bool, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len().min(max));
    let mut i = 0usize;
    while let Some(&b) = input.get(i) {
        if out.len() >= max {
            return None;
        }
        let escaped =
            match (b, input.get(i + 1).copied().and_then(hex_value), input.get(i + 2).copied().and_then(hex_value)) {
                (b'%', Some(h), Some(l)) => Some((h << 4) | l),
                _ => None,
            };
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(if plus_space && b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    Some(out)
}

/// Characters of a label or claim value kept for output; longer ones are cut (the hash that
/// makes the id is taken over the whole value).
pub(crate) const MAX_LABEL_CHARS: usize = 128;

/// Text fit for a label: invalid UTF-8 replaced, control characters as `?`, cut to
/// [`MAX_LABEL_CHARS`] characters.
pub(crate) fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(MAX_LABEL_CHARS).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// A user-like label: cleaned, and an email address masked to its first character and domain
/// (`jane@example.com` reads `j***@example.com`), since a full address is more personal data
/// than an analyst needs to tell users apart.
pub(crate) fn user_label(bytes: &[u8]) -> String {
    let s = clean(bytes);
    match s.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => s,
    }
}

/// ASCII whitespace trimmed at both ends.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_alphabets_padding_optional() {
        assert_eq!(base64_decode(b"aGVsbG8=", false, 100).unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8", false, 100).unwrap(), b"hello");
        assert_eq!(base64_decode(b"-_-_", false, 100).unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(base64_decode(b"+/+/", false, 100).unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(base64_decode(b"aGVs\n bG8=", true, 100).unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVs bG8=", false, 100), None);
        assert_eq!(base64_decode(b"aGVsbG8=x", false, 100), None, "symbol after padding");
        assert_eq!(base64_decode(b"aGVsb", false, 100), None, "dangling symbol");
        assert_eq!(base64_decode(b"a*Vs", false, 100), None);
        assert_eq!(base64_decode(b"aGVsbG8=", false, 4), None, "over the limit");
        assert_eq!(base64_decode(b"", false, 4).unwrap(), b"");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%20b+c%2", false, 100).unwrap(), b"a b+c%2");
        assert_eq!(percent_decode(b"a%20b+c", true, 100).unwrap(), b"a b c");
        assert_eq!(percent_decode(b"%zz%4a", false, 100).unwrap(), b"%zzJ");
        assert_eq!(percent_decode(b"abcdef", false, 3), None);
    }

    #[test]
    fn labels() {
        assert_eq!(user_label(b"jane.doe@example.com"), "j***@example.com");
        assert_eq!(user_label(b"alice"), "alice");
        assert_eq!(user_label(b"@handle"), "@handle");
        assert_eq!(user_label(b"a@localhost"), "a@localhost");
        assert_eq!(clean(b"a\nb\xffc"), "a?b\u{fffd}c");
        assert_eq!(clean("é".repeat(200).as_bytes()).chars().count(), MAX_LABEL_CHARS);
    }
}
