//! Raw values of a few request headers, kept inside the sensor for consumer identification.
//!
//! Everything else the parser stores about a credential is a keyed digest; identifying the
//! consumer (decoding a JWT's claims, parsing a forwarded client certificate, linking an opaque
//! token to the client it was issued to) needs the value itself. Only the header names the
//! deployment lists in [`HttpConfig::retain_headers`](super::HttpConfig::retain_headers) are
//! kept, each value whole or not at all: a cut token or certificate is useless, so a value over
//! a limit is dropped, never shortened.

use std::fmt;

use super::head::Field;
use super::{HttpConfig, HttpEvent, HttpStats};

/// Request header values kept for identification: (name, value) pairs in header order, for
/// the names in [`HttpConfig::retain_headers`](super::HttpConfig::retain_headers) only, each
/// at most [`HttpConfig::max_retained_header_bytes`](super::HttpConfig::max_retained_header_bytes)
/// and together at most
/// [`HttpConfig::max_retained_bytes_total`](super::HttpConfig::max_retained_bytes_total).
///
/// **The values are secrets** (bearer tokens, API keys, Basic passwords, session cookies):
/// they exist to be read in memory and must never be written out. The type is deliberately not
/// serialisable, and its `Debug` output shows each name with the length of its value only.
/// Names are stored in lower case; a repeated header is kept once per occurrence.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RetainedHeaders {
    entries: Vec<(Box<str>, Box<[u8]>)>,
}

impl RetainedHeaders {
    /// The value of the first retained header called `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &**v)
    }

    /// Every retained (lower-case name, value) pair, in header order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.entries.iter().map(|(n, v)| (&**n, &**v))
    }

    /// Number of retained values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was retained.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes held (names, values and the list itself).
    pub fn heap_bytes(&self) -> usize {
        let list = self.entries.capacity() * std::mem::size_of::<(Box<str>, Box<[u8]>)>();
        list + self.entries.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()
    }
}

/// Names and lengths only: `Debug` output reaches logs, and the values are secrets.
impl fmt::Debug for RetainedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|(n, v)| NameLen(n, v.len()))).finish()
    }
}

struct NameLen<'a>(&'a str, usize);

impl fmt::Debug for NameLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: <{} bytes>", self.0, self.1)
    }
}

/// Picks the configured headers out of a request head. Values over a limit are dropped with
/// [`HttpEvent::RetainLimit`] in `events` and a count in `retain_limit_hits`.
pub(crate) fn collect(
    fields: &[Field<'_>],
    cfg: &HttpConfig,
    stats: &mut HttpStats,
    events: &mut Vec<HttpEvent>,
) -> RetainedHeaders {
    let mut out = RetainedHeaders::default();
    if cfg.retain_headers.is_empty() {
        return out;
    }
    let mut total = 0usize;
    for f in fields {
        let Some(index) = cfg.retain_headers.iter().position(|n| f.name.eq_ignore_ascii_case(n.as_bytes())) else {
            continue;
        };
        let len = f.value.len();
        let fits = len <= cfg.max_retained_header_bytes
            && total.checked_add(len).is_some_and(|t| t <= cfg.max_retained_bytes_total);
        if !fits {
            stats.retain_limit_hits += 1;
            events.push(HttpEvent::RetainLimit { index, len });
            continue;
        }
        total += len;
        let name = String::from_utf8_lossy(f.name).to_ascii_lowercase().into_boxed_str();
        out.entries.push((name, f.value.into()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(list: &[(&'a str, &'a str)]) -> Vec<Field<'a>> {
        list.iter().map(|(n, v)| Field { name: n.as_bytes(), value: v.as_bytes() }).collect()
    }

    fn cfg(names: &[&str], per_value: usize, total: usize) -> HttpConfig {
        HttpConfig {
            retain_headers: names.iter().map(|s| s.to_string()).collect(),
            max_retained_header_bytes: per_value,
            max_retained_bytes_total: total,
            ..HttpConfig::default()
        }
    }

    #[test]
    fn configured_names_in_header_order_case_insensitive() {
        let cfg = cfg(&["authorization", "X-Forwarded-For"], 100, 1000);
        let mut st = HttpStats::default();
        let mut ev = Vec::new();
        let f = fields(&[
            ("X-FORWARDED-FOR", "198.51.100.7"),
            ("Host", "bank"),
            ("Authorization", "Bearer abc"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        let r = collect(&f, &cfg, &mut st, &mut ev);
        let got: Vec<(&str, &[u8])> = r.iter().collect();
        assert_eq!(
            got,
            vec![
                ("x-forwarded-for", &b"198.51.100.7"[..]),
                ("authorization", &b"Bearer abc"[..]),
                ("x-forwarded-for", &b"10.0.0.1"[..])
            ]
        );
        assert_eq!(r.get("X-Forwarded-For"), Some(&b"198.51.100.7"[..]));
        assert_eq!(r.get("host"), None);
        assert!(ev.is_empty());
        assert_eq!(st.retain_limit_hits, 0);
    }

    #[test]
    fn over_limit_values_are_dropped_whole_and_reported() {
        let cfg = cfg(&["a", "b"], 5, 8);
        let mut st = HttpStats::default();
        let mut ev = Vec::new();
        // "123456" is over the per-value limit; "abcde" fits; "xyz" would make 8 (fits);
        // "q" would make 9, over the total.
        let f = fields(&[("a", "123456"), ("b", "abcde"), ("a", "xyz"), ("b", "q")]);
        let r = collect(&f, &cfg, &mut st, &mut ev);
        let got: Vec<(&str, &[u8])> = r.iter().collect();
        assert_eq!(got, vec![("b", &b"abcde"[..]), ("a", &b"xyz"[..])]);
        assert_eq!(ev, vec![HttpEvent::RetainLimit { index: 0, len: 6 }, HttpEvent::RetainLimit { index: 1, len: 1 }]);
        assert_eq!(st.retain_limit_hits, 2);
    }

    #[test]
    fn debug_shows_names_and_lengths_only() {
        let cfg = cfg(&["authorization"], 100, 100);
        let r = collect(
            &fields(&[("Authorization", "Basic UXg3S3A6V200WnQ=")]),
            &cfg,
            &mut HttpStats::default(),
            &mut Vec::new(),
        );
        let s = format!("{r:?}");
        assert_eq!(s, "[authorization: <22 bytes>]");
    }
}
