//! A small RFC 4180 reader: fields split by `,`, quoted fields with `,`, line breaks and
//! doubled quotes inside, records ended by CRLF or LF.

/// Fields of one record; a record with more is refused (its line reported).
pub(crate) const MAX_FIELDS: usize = 256;
/// Bytes of one record; a longer one is refused.
pub(crate) const MAX_RECORD_BYTES: usize = 64 * 1024;

/// One record: its first line (from 1) and its fields, or why it is malformed.
pub(crate) struct Record {
    pub line: usize,
    pub fields: Result<Vec<String>, String>,
}

/// Records of `text`, one at a time. A malformed record (a quote not closed, text after a
/// closing quote, too many fields or bytes) is returned as an error and reading resumes at
/// the next line break outside quotes (or the end, for a quote never closed).
pub(crate) struct Reader<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Reader {
            rest: text,
            line: 1,
        }
    }
}

impl Iterator for Reader<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.rest.is_empty() {
            return None;
        }
        let first = self.line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut error: Option<String> = None;
        let mut chars = self.rest.char_indices().peekable();
        let mut quoted = false;
        let mut at_start = true;
        let mut after_quote = false;
        let mut end = self.rest.len();
        while let Some((i, ch)) = chars.next() {
            if i > MAX_RECORD_BYTES && error.is_none() {
                error = Some(format!("a record longer than {MAX_RECORD_BYTES} bytes"));
            }
            if quoted {
                match ch {
                    '"' if chars.peek().map(|p| p.1) == Some('"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        after_quote = true;
                    }
                    c => {
                        if c == '\n' {
                            self.line += 1;
                        }
                        if error.is_none() {
                            field.push(c);
                        }
                    }
                }
                continue;
            }
            match ch {
                '"' if at_start => {
                    quoted = true;
                    at_start = false;
                }
                ',' => {
                    if fields.len() >= MAX_FIELDS && error.is_none() {
                        error = Some(format!("more than {MAX_FIELDS} fields"));
                    }
                    if error.is_none() {
                        fields.push(std::mem::take(&mut field));
                    }
                    at_start = true;
                    after_quote = false;
                }
                '\n' => {
                    self.line += 1;
                    end = i + 1;
                    break;
                }
                '\r' if chars.peek().map(|p| p.1) == Some('\n') => {}
                c => {
                    if after_quote && error.is_none() {
                        error = Some("text after a closing quote (write a quote inside a quoted field as \"\")".into());
                    }
                    if error.is_none() {
                        field.push(c);
                    }
                    at_start = false;
                }
            }
        }
        if quoted && error.is_none() {
            error = Some("a quoted field is not closed".into());
        }
        self.rest = self.rest.get(end..).unwrap_or("");
        fields.push(field);
        Some(Record {
            line: first,
            fields: error.map_or(Ok(fields), Err),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: &str) -> Vec<(usize, Result<Vec<String>, String>)> {
        Reader::new(t).map(|r| (r.line, r.fields)).collect()
    }

    #[test]
    fn quotes_commas_and_line_breaks() {
        let r = read("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",x\nlast");
        assert_eq!(
            r[0],
            (1, Ok(vec!["a".into(), "b,c".into(), "say \"hi\"".into()]))
        );
        assert_eq!(r[1], (2, Ok(vec!["two\nlines".into(), "x".into()])));
        assert_eq!(r[2], (4, Ok(vec!["last".into()])));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn malformed_records_resume() {
        let r = read("\"a\"b,c\nok,1\n\"never closed,2\nx,y\n");
        assert!(r[0].1.is_err());
        assert_eq!(r[1], (2, Ok(vec!["ok".into(), "1".into()])));
        // The quote swallows the rest: one error, nothing after it.
        assert_eq!(r[2].0, 3);
        assert!(r[2].1.as_ref().unwrap_err().contains("not closed"));
        assert_eq!(r.len(), 3);
    }
}
