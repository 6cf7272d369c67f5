//! A lenient GraphQL lexer over hostile bytes: names and punctuation come out, everything a
//! query carries as a value (strings, block strings, numbers) is skipped without being kept.
//!
//! It never allocates and never fails: bytes that are no GraphQL token are skipped as
//! `Other`, an unterminated string ends the input. Commas, white space, the byte order mark
//! and `#` comments are ignored, as the GraphQL grammar says.

/// One token. Names borrow the input; values are never returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// A name: `[_A-Za-z][_0-9A-Za-z]*`.
    Name(&'a str),
    /// One punctuator: `{ } ( ) [ ] : @ $ = ! | &`.
    Punct(u8),
    /// `...`.
    Spread,
    /// A string, block string or number (its text is not kept).
    Value,
    /// A string or block string that the input ended inside.
    Unterminated,
    /// A byte that starts no token.
    Other,
}

/// Tokens of one document, in order.
pub(super) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

fn name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn name_continue(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a [u8]) -> Self {
        Lexer { src, pos: 0 }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    fn skip_ignored(&mut self) {
        while let Some(b) = self.at(self.pos) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.at(self.pos) {
                        if c == b'\n' || c == b'\r' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                0xEF if self.src.get(self.pos..self.pos + 3) == Some(&[0xEF, 0xBB, 0xBF]) => self.pos += 3,
                _ => return,
            }
        }
    }

    /// Skips a `"..."` string whose opening quote is at `self.pos`; false when unterminated.
    fn skip_string(&mut self) -> bool {
        self.pos += 1;
        while let Some(b) = self.at(self.pos) {
            match b {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return true;
                }
                // A line terminator ends a (malformed) single-line string.
                b'\n' | b'\r' => return true,
                _ => self.pos += 1,
            }
        }
        self.pos = self.src.len();
        false
    }

    /// Skips a `"""..."""` block string whose opening quotes are at `self.pos`.
    fn skip_block_string(&mut self) -> bool {
        self.pos += 3;
        while self.pos < self.src.len() {
            match self.src.get(self.pos..self.pos + 4) {
                Some(b"\\\"\"\"") => self.pos += 4,
                _ if self.src.get(self.pos..self.pos + 3) == Some(b"\"\"\"") => {
                    self.pos += 3;
                    return true;
                }
                _ => self.pos += 1,
            }
        }
        self.pos = self.src.len();
        false
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        self.skip_ignored();
        let b = self.at(self.pos)?;
        let start = self.pos;
        if name_start(b) {
            while self.at(self.pos).is_some_and(name_continue) {
                self.pos += 1;
            }
            // Names are ASCII, so the slice is valid UTF-8.
            return Some(self.src.get(start..self.pos).and_then(|s| std::str::from_utf8(s).ok()).map_or(Token::Other, Token::Name));
        }
        if b == b'"' {
            let closed = if self.src.get(self.pos..self.pos + 3) == Some(b"\"\"\"") { self.skip_block_string() } else { self.skip_string() };
            return Some(if closed { Token::Value } else { Token::Unterminated });
        }
        if b == b'-' || b.is_ascii_digit() {
            self.pos += 1;
            while self.at(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'+' || c == b'-') {
                self.pos += 1;
            }
            return Some(Token::Value);
        }
        if self.src.get(self.pos..self.pos + 3) == Some(b"...") {
            self.pos += 3;
            return Some(Token::Spread);
        }
        self.pos += 1;
        Some(match b {
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'@' | b'$' | b'=' | b'!' | b'|' | b'&' => Token::Punct(b),
            _ => Token::Other,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<Token<'_>> {
        Lexer::new(s.as_bytes()).collect()
    }

    #[test]
    fn values_are_skipped_and_names_kept() {
        use Token::*;
        assert_eq!(
            tokens("query Q($a: Int = -1.5e3) { a(x: \"s}\\\"{\") # c { }\n ...F }"),
            [
                Name("query"),
                Name("Q"),
                Punct(b'('),
                Punct(b'$'),
                Name("a"),
                Punct(b':'),
                Name("Int"),
                Punct(b'='),
                Value,
                Punct(b')'),
                Punct(b'{'),
                Name("a"),
                Punct(b'('),
                Name("x"),
                Punct(b':'),
                Value,
                Punct(b')'),
                Spread,
                Name("F"),
                Punct(b'}'),
            ]
        );
    }

    #[test]
    fn block_strings_and_unterminated_strings() {
        use Token::*;
        assert_eq!(tokens(r#"a(d: """x "} \""" y""") b"#), [Name("a"), Punct(b'('), Name("d"), Punct(b':'), Value, Punct(b')'), Name("b")]);
        assert_eq!(tokens("a(d: \"never closed"), [Name("a"), Punct(b'('), Name("d"), Punct(b':'), Unterminated]);
        assert_eq!(tokens("a(d: \"\"\"never closed \""), [Name("a"), Punct(b'('), Name("d"), Punct(b':'), Unterminated]);
        assert_eq!(tokens("\u{feff}é{"), [Other, Other, Punct(b'{')]);
        assert_eq!(tokens("\"\\"), [Unterminated]);
    }
}
