//! The subset of STIX 2.1 patterning apitap matches: equality comparisons joined by `OR`.
//!
//! `[a = 'x' OR b = 'y'] OR [c = 'z']` gives three alternatives; parentheses are allowed
//! (with `OR` alone, grouping does not change the meaning). `AND`, `FOLLOWEDBY`, `NOT`, the
//! qualifiers (`WITHIN`, `REPEATS`, `START`/`STOP`) and every operator but `=` make the pattern
//! unsupported. An alternative on an object path apitap does not match is reported and left
//! out (the others still match exactly when the pattern does).

use super::IndicatorKind;

/// Bytes of a pattern read; a longer one is refused.
pub(crate) const MAX_PATTERN_BYTES: usize = 64 * 1024;
/// Alternatives of one pattern; a pattern with more is refused.
pub(crate) const MAX_ALTERNATIVES: usize = 1000;

/// The custom observable for JA4 fingerprints (docs/intel.md).
pub const JA4_PATH: &str = "x-ja4-fingerprint:value";

/// One `path = 'literal'` of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alternative {
    /// `None` when the path is not one apitap matches.
    pub kind: Option<IndicatorKind>,
    /// The object path as written.
    pub path: String,
    /// The literal, escapes resolved.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    LParen,
    RParen,
    Str(String),
    Op(String),
    Word(String),
}

fn tokens(p: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = p.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '[' => out.push(Tok::Open),
            ']' => out.push(Tok::Close),
            '(' => out.push(Tok::LParen),
            ')' => out.push(Tok::RParen),
            '\'' => out.push(Tok::Str(literal(&mut chars)?)),
            '=' | '!' | '<' | '>' => {
                let mut op = c.to_string();
                if let Some((_, '=')) = chars.peek() {
                    op.push('=');
                    chars.next();
                }
                out.push(Tok::Op(op));
            }
            _ => {
                let mut w = c.to_string();
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_whitespace() || "[]()=!<>".contains(n) {
                        break;
                    }
                    chars.next();
                    if n == '\'' {
                        // A quoted path component: `extensions.'http-request-ext'`.
                        w.push('\'');
                        w.push_str(&literal(&mut chars)?);
                        w.push('\'');
                    } else {
                        w.push(n);
                    }
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

/// A string literal after its opening quote: `\'` and `\\` are the only escapes.
fn literal(chars: &mut impl Iterator<Item = (usize, char)>) -> Result<String, String> {
    let mut s = String::new();
    loop {
        match chars.next() {
            None => return Err("a string literal is not closed".to_string()),
            Some((_, '\'')) => return Ok(s),
            Some((_, '\\')) => match chars.next() {
                Some((_, c @ ('\'' | '\\'))) => s.push(c),
                Some((_, c)) => {
                    return Err(format!(
                        "invalid escape \\{} in a string literal",
                        c.escape_debug()
                    ))
                }
                None => return Err("a string literal is not closed".to_string()),
            },
            Some((_, c)) => s.push(c),
        }
    }
}

/// The object paths apitap matches, and their kinds.
fn kind_of(path: &str) -> Option<IndicatorKind> {
    let (ty, prop) = path.split_once(':')?;
    match (ty, prop) {
        ("ipv4-addr" | "ipv6-addr", "value") => Some(IndicatorKind::Network),
        ("domain-name", "value") => Some(IndicatorKind::Domain),
        ("url", "value") => Some(IndicatorKind::Url),
        ("network-traffic", p)
            if p.eq_ignore_ascii_case(
                "extensions.'http-request-ext'.request_header.'User-Agent'",
            ) =>
        {
            Some(IndicatorKind::UserAgent)
        }
        _ if path == JA4_PATH => Some(IndicatorKind::Ja4),
        _ => None,
    }
}

const UNSUPPORTED_WORDS: [&str; 11] = [
    "AND",
    "FOLLOWEDBY",
    "NOT",
    "WITHIN",
    "REPEATS",
    "START",
    "STOP",
    "MATCHES",
    "LIKE",
    "IN",
    "ISSUBSET",
];

/// The alternatives of `pattern`, or why it is not supported.
pub(crate) fn parse(pattern: &str) -> Result<Vec<Alternative>, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "the pattern is longer than {MAX_PATTERN_BYTES} bytes"
        ));
    }
    let toks = tokens(pattern)?;
    let mut alts = Vec::new();
    let mut depth_bracket = 0usize;
    let mut depth_paren = 0usize;
    // What may come next: an operand (comparison or observation) or a joining OR.
    let mut want_operand = true;
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        match t {
            Tok::Word(w) if w == "OR" => {
                if want_operand {
                    return Err("OR without an operand before it".to_string());
                }
                want_operand = true;
            }
            Tok::Word(w) if UNSUPPORTED_WORDS.contains(&w.as_str()) || w == "ISSUPERSET" => {
                return Err(format!(
                    "{w} is not supported (only = comparisons joined by OR)"
                ));
            }
            Tok::Open => {
                if !want_operand || depth_bracket > 0 {
                    return Err("'[' where it cannot be".to_string());
                }
                depth_bracket += 1;
            }
            Tok::Close => {
                if want_operand || depth_bracket == 0 {
                    return Err("']' where it cannot be".to_string());
                }
                depth_bracket -= 1;
            }
            Tok::LParen => {
                if !want_operand {
                    return Err("'(' where it cannot be".to_string());
                }
                depth_paren += 1;
            }
            Tok::RParen => {
                if want_operand || depth_paren == 0 {
                    return Err("')' where it cannot be".to_string());
                }
                depth_paren -= 1;
            }
            Tok::Word(path) if want_operand && depth_bracket > 0 => {
                let op = toks.get(i + 1);
                let lit = toks.get(i + 2);
                match (op, lit) {
                    (Some(Tok::Op(o)), Some(Tok::Str(v))) if o == "=" => {
                        if alts.len() >= MAX_ALTERNATIVES {
                            return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
                        }
                        alts.push(Alternative {
                            kind: kind_of(path),
                            path: path.clone(),
                            value: v.clone(),
                        });
                    }
                    (Some(Tok::Op(o)), _) if o != "=" => {
                        return Err(format!("the operator {o} is not supported (only =)"))
                    }
                    (Some(Tok::Word(w)), _) => {
                        return Err(format!("the operator {w} is not supported (only =)"))
                    }
                    (Some(Tok::Op(_)), _) => {
                        return Err(format!("{path} is not compared with a string literal"))
                    }
                    _ => return Err(format!("{path} is not followed by = and a string literal")),
                }
                i += 3;
                want_operand = false;
                continue;
            }
            Tok::Word(w) => return Err(format!("unexpected {}", super::quote_cut(w))),
            Tok::Str(_) | Tok::Op(_) => return Err("a comparison outside '[' ']'".to_string()),
        }
        i += 1;
    }
    if want_operand || depth_bracket > 0 || depth_paren > 0 {
        return Err("the pattern ends before it is complete".to_string());
    }
    Ok(alts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(p: &str) -> Vec<(Option<IndicatorKind>, String)> {
        parse(p)
            .unwrap()
            .into_iter()
            .map(|a| (a.kind, a.value))
            .collect()
    }

    #[test]
    fn escapes_and_quoted_paths() {
        assert_eq!(
            values(
                r"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'it\'s \\ ok']"
            ),
            vec![(Some(IndicatorKind::UserAgent), r"it's \ ok".to_string())]
        );
        // A bracket or OR inside a literal is text, not syntax.
        assert_eq!(
            values("[url:value = 'http://a/[x] OR y'] OR [domain-name:value = 'a.b']"),
            vec![
                (Some(IndicatorKind::Url), "http://a/[x] OR y".to_string()),
                (Some(IndicatorKind::Domain), "a.b".to_string())
            ]
        );
    }

    #[test]
    fn refused() {
        for p in [
            "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']",
            "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']",
            "[ipv4-addr:value = '1.2.3.4'] WITHIN 300 SECONDS",
            "[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES",
            "[ipv4-addr:value = '1.2.3.4'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[ipv4-addr:value != '1.2.3.4']",
            "[url:value MATCHES '^http']",
            "[url:value LIKE 'http%']",
            "[ipv4-addr:value IN ('1.2.3.4', '1.2.3.5')]",
            "[ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = '1.2.3.4]",
            r"[ipv4-addr:value = '1.2.3.4\n']",
            "[ipv4-addr:value = 5]",
            "ipv4-addr:value = '1.2.3.4'",
            "[] OR",
            "[ipv4-addr:value = '1.2.3.4'] OR",
            "",
        ] {
            assert!(parse(p).is_err(), "{p}");
        }
    }
}
