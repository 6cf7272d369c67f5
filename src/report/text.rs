//! Escaping and formatting shared by the formats. Every value that comes from traffic (hosts,
//! paths, labels, messages) passes through one of the escapers before it reaches a file.

/// Escapes text for HTML element content and quoted attribute values: `& < > " '`.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business in a label; show them as a replacement.
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a cell of a GitHub-flavoured Markdown table: every ASCII punctuation
/// character that Markdown or inline HTML could read is backslash-escaped (CommonMark allows
/// it for all of them), so `<script>` shows as text and `|` does not end the cell; line breaks
/// become spaces.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '<' | '>' | '(' | ')' | '#' | '+' | '-' | '!' | '|' | '~' | '&'
            | '"' | '\'' | '=' | '$' | '%' | '@' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break, with
/// quotes doubled. A cell a spreadsheet would run as a formula (starting with `= + - @`, a
/// tab or a carriage return) is prefixed with `'` so that it stays text.
pub fn csv(s: &str) -> String {
    let risky = matches!(s.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    let cell = if risky { format!("'{s}") } else { s.to_string() };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// An integer with thousands separators: `12,345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed change: `+3`, `−2` (a true minus sign), `±0`.
pub fn delta(n: i64) -> String {
    match n {
        0 => "±0".to_string(),
        n if n > 0 => format!("+{}", count(n.unsigned_abs())),
        n => format!("\u{2212}{}", count(n.unsigned_abs())),
    }
}

/// Milliseconds, to two significant places for small values.
pub fn millis(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// Seconds since the epoch of an RFC 3339 time.
pub fn epoch_secs(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp())
}

/// An RFC 3339 time as `2026-03-28 06:00 UTC`; text that does not parse is shown as is.
pub fn when(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(d) => d.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => t.to_string(),
    }
}

/// An RFC 3339 time as `2026-03-28 06:00` (UTC, said once where the table is).
pub fn short(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(d) => d.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => t.to_string(),
    }
}

/// An optional time in the short form, or a dash.
pub fn short_opt(t: Option<&str>) -> String {
    t.map_or_else(|| "\u{2014}".to_string(), short)
}

/// An optional time, or a dash.
pub fn when_opt(t: Option<&str>) -> String {
    t.map_or_else(|| "\u{2014}".to_string(), when)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn html_makes_markup_inert() {
        assert_eq!(html(r#"/a/<script>alert(1)</script>"#), "/a/&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(html(r#"x" onmouseover="y"#), "x&quot; onmouseover=&quot;y");
        assert_eq!(html("it's & co"), "it&#39;s &amp; co");
        assert_eq!(html("a\u{0}b"), "a\u{fffd}b");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(markdown("/a|b"), "/a\\|b");
        assert_eq!(markdown("<img src=x>"), "\\<img src\\=x\\>");
        assert_eq!(markdown("line\nbreak"), "line break");
        assert_eq!(markdown("[link](http://x)"), "\\[link\\]\\(http\\://x\\)");
        assert_eq!(markdown("plain/path"), "plain/path");
    }

    #[test]
    fn csv_follows_rfc4180() {
        assert_eq!(csv("plain"), "plain");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv(""), "");
    }

    #[test]
    fn csv_defuses_formulas() {
        assert_eq!(csv("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(csv("+1"), "'+1");
        assert_eq!(csv("-2"), "'-2");
        assert_eq!(csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv("\tx"), "'\tx");
        // Not at the start: harmless.
        assert_eq!(csv("/a=b"), "/a=b");
    }

    #[test]
    fn numbers_and_times() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(delta(3), "+3");
        assert_eq!(delta(-1200), "\u{2212}1,200");
        assert_eq!(delta(0), "±0");
        assert_eq!(when("2026-03-28T06:00:00.000Z"), "2026-03-28 06:00 UTC");
        assert_eq!(when("2026-03-28T08:30:00+02:00"), "2026-03-28 06:30 UTC");
        assert_eq!(when("garbage"), "garbage");
        assert_eq!(epoch_secs("1970-01-01T00:01:00Z"), Some(60));
    }
}
