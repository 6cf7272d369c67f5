//! The Prometheus text exposition format, version 0.0.4: one `# HELP` and one `# TYPE` line per
//! family, then its samples; label values and help texts escaped as the format requires.
//!
//! The writer holds each family's samples together (a family is written once, whole) and caps
//! the series of every labelled family at a limit given by the caller, counting what it left
//! out so that [`Exposition::finish`] can report it as `apitap_exposition_series_dropped`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The content type of this format, for the `Content-Type` header.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest label value written, in bytes; longer values are cut at a character boundary.
/// Label values come from counter names and enum codes, so this only bounds mistakes.
pub const MAX_LABEL_VALUE_BYTES: usize = 128;

/// The family that reports how many series each capped family left out.
pub const DROPPED_FAMILY: &str = "apitap_exposition_series_dropped";

/// A family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (name ends in `_total`).
    Counter,
    /// Any value.
    Gauge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A sample value: integers are written exactly, floats in Go's `ParseFloat` syntax.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An integer count or size.
    Int(u64),
    /// A float (seconds, timestamps).
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(u64::from(v))
    }
}

fn write_value(out: &mut String, v: Value) {
    match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if f.is_infinite() => out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" }),
        // Rust's `Display` never uses an exponent and always round-trips, which Go parses.
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
    }
}

/// `value` escaped for a label value: backslash, double quote and line feed, as the format
/// requires; cut to [`MAX_LABEL_VALUE_BYTES`] first.
pub fn escape_label_value(value: &str) -> String {
    let mut end = value.len().min(MAX_LABEL_VALUE_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let cut = value.get(..end).unwrap_or("");
    let mut out = String::with_capacity(cut.len() + 2);
    for c in cut.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for a `# HELP` line: backslash and line feed.
pub fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// One family being written: add samples, then drop it (or call [`Family::done`]).
pub struct Family<'a> {
    exp: &'a mut Exposition,
    name: &'static str,
    limit: usize,
    written: usize,
    dropped: u64,
}

impl Family<'_> {
    /// One sample with `labels` (name, value); values are escaped here. Past the family's
    /// limit the sample is counted, not written.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        if self.written >= self.limit {
            self.dropped += 1;
            return;
        }
        self.written += 1;
        let out = &mut self.exp.out;
        out.push_str(self.name);
        if !labels.is_empty() {
            out.push('{');
            for (i, (name, v)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{name}=\"{}\"", escape_label_value(v));
            }
            out.push('}');
        }
        out.push(' ');
        write_value(out, value.into());
        out.push('\n');
    }

    /// Ends the family (the same as dropping it).
    pub fn done(self) {}
}

impl Drop for Family<'_> {
    fn drop(&mut self) {
        if self.limit != usize::MAX || self.dropped > 0 {
            *self.exp.dropped.entry(self.name).or_insert(0) += self.dropped;
        }
    }
}

/// An exposition being built.
#[derive(Default)]
pub struct Exposition {
    out: String,
    /// Capped families and how many series each left out.
    dropped: BTreeMap<&'static str, u64>,
    /// Families already begun, to refuse a second `# TYPE` for one name.
    begun: Vec<&'static str>,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Begins family `name` of `kind`, at most `limit` series (`usize::MAX`: unlimited, and
    /// not listed in the dropped-series family). Each name is begun once; the code calls this
    /// with fixed names, and a repeated name is a bug caught by the tests (the parser refuses
    /// it): its samples are then counted as dropped rather than written as a second family.
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &str, limit: usize) -> Family<'_> {
        let limit = if self.begun.contains(&name) {
            0
        } else {
            self.begun.push(name);
            let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
            limit
        };
        Family { exp: self, name, limit, written: 0, dropped: 0 }
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &'static str, kind: Kind, help: &str, value: impl Into<Value>) {
        self.family(name, kind, help, usize::MAX).sample(&[], value);
    }

    /// The text, ending with the dropped-series family (one series per capped family, zero
    /// when nothing was left out, so the series exist before they matter).
    pub fn finish(mut self) -> String {
        let dropped = std::mem::take(&mut self.dropped);
        let mut f = self.family(
            DROPPED_FAMILY,
            Kind::Gauge,
            "Series left out of this exposition because their family reached its label limit, by family.",
            usize::MAX,
        );
        for (family, n) in &dropped {
            f.sample(&[("family", family)], *n);
        }
        f.done();
        self.out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("line\nnext"), "line\\nnext");
        // Tabs and other characters pass through as UTF-8.
        assert_eq!(escape_label_value("tab\tü"), "tab\tü");
    }

    #[test]
    fn long_label_values_are_cut_at_a_character_boundary() {
        let v = "é".repeat(100); // 200 bytes
        let e = escape_label_value(&v);
        assert_eq!(e.len(), 128);
        assert_eq!(e.chars().count(), 64);
        let ascii = "x".repeat(127) + "é";
        assert_eq!(escape_label_value(&ascii), "x".repeat(127));
    }

    #[test]
    fn help_is_escaped() {
        assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
    }

    #[test]
    fn family_is_written_once_with_help_and_type() {
        let mut e = Exposition::new();
        let mut f = e.family("x_total", Kind::Counter, "X.", 10);
        f.sample(&[("cause", "a\"b")], 3u64);
        f.sample(&[("cause", "c"), ("kind", "d")], 4u64);
        f.done();
        e.single("y_seconds", Kind::Gauge, "Y.", 1.5);
        let text = e.finish();
        let expected = "# HELP x_total X.\n# TYPE x_total counter\nx_total{cause=\"a\\\"b\"} 3\nx_total{cause=\"c\",kind=\"d\"} 4\n\
            # HELP y_seconds Y.\n# TYPE y_seconds gauge\ny_seconds 1.5\n";
        assert!(text.starts_with(expected), "{text}");
        assert!(text.contains("apitap_exposition_series_dropped{family=\"x_total\"} 0\n"), "{text}");
    }

    #[test]
    fn cap_keeps_the_first_series_and_counts_the_rest() {
        let mut e = Exposition::new();
        let mut f = e.family("c_total", Kind::Counter, "C.", 3);
        for i in 0..10u64 {
            f.sample(&[("n", &i.to_string())], i);
        }
        f.done();
        let text = e.finish();
        let series: Vec<&str> = text.lines().filter(|l| l.starts_with("c_total{")).collect();
        assert_eq!(series, vec!["c_total{n=\"0\"} 0", "c_total{n=\"1\"} 1", "c_total{n=\"2\"} 2"]);
        assert!(text.contains("apitap_exposition_series_dropped{family=\"c_total\"} 7\n"), "{text}");
    }

    #[test]
    fn floats_use_prometheus_spellings() {
        let mut s = String::new();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.25, 1e21, 3.0] {
            write_value(&mut s, Value::Float(v));
            s.push(' ');
        }
        assert_eq!(s, "NaN +Inf -Inf 0.25 1000000000000000000000 3 ");
    }
}
