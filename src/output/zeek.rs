//! Zeek's ASCII http.log layout (tab-separated, `#fields` header), for tools that read it.
//! Only the columns apitap fills are written; file-analysis columns are left out.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::RecordWriter;
use crate::record::TransactionRecord;

const FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("trans_depth", "count"),
    ("method", "string"),
    ("host", "string"),
    ("uri", "string"),
    ("referrer", "string"),
    ("version", "string"),
    ("user_agent", "string"),
    ("request_body_len", "count"),
    ("response_body_len", "count"),
    ("status_code", "count"),
    ("status_msg", "string"),
    ("info_code", "count"),
    ("info_msg", "string"),
];

/// Writes a Zeek-style `http.log`.
pub struct ZeekWriter {
    out: Box<dyn Write>,
    header_written: bool,
}

impl ZeekWriter {
    /// A writer over `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        ZeekWriter { out, header_written: false }
    }

    fn header(&mut self) -> io::Result<()> {
        let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
        let types: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
        write!(
            self.out,
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n#fields\t{}\n#types\t{}\n",
            names.join("\t"),
            types.join("\t")
        )
    }
}

/// Zeek's escaping: unset is `-`, empty is `(empty)`, separators and non-printable bytes are
/// `\xHH`, and a value that would read as unset or empty is escaped too.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push('-'),
        Some("") => out.push_str("(empty)"),
        Some(v) if v == "-" || v == "(empty)" => {
            for b in v.bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        Some(v) => {
            for c in v.chars() {
                if c == '\t' || c == '\\' || c.is_control() {
                    let mut utf8 = [0u8; 4];
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                } else {
                    out.push(c);
                }
            }
        }
    }
}

impl RecordWriter for ZeekWriter {
    fn write(&mut self, r: &TransactionRecord) -> io::Result<()> {
        if !self.header_written {
            self.header()?;
            self.header_written = true;
        }
        let mut line = String::with_capacity(256);
        let num = |n: Option<u64>| n.map(|n| n.to_string());
        let cols: [Option<String>; 19] = [
            Some(format!("{:.6}", r.ts)),
            Some(r.uid.clone()),
            Some(r.orig_h.clone()),
            Some(r.orig_p.to_string()),
            Some(r.resp_h.clone()),
            Some(r.resp_p.to_string()),
            Some(r.trans_depth.to_string()),
            r.method.clone(),
            r.host.clone(),
            r.uri.clone(),
            r.referrer.clone(),
            // Zeek's version column ends up holding the response's version when there is one.
            r.response_version.clone().or_else(|| r.version.clone()),
            r.user_agent.clone(),
            Some(r.request_body_len.to_string()),
            Some(r.response_body_len.to_string()),
            num(r.status_code.map(u64::from)),
            r.status_msg.clone(),
            num(r.info_code.map(u64::from)),
            r.info_msg.clone(),
        ];
        for (i, col) in cols.iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            field(&mut line, col.as_deref());
        }
        line.push('\n');
        self.out.write_all(line.as_bytes())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn escapes_like_zeek() {
        let mut s = String::new();
        field(&mut s, Some("a\tb\\c\u{1}"));
        assert_eq!(s, "a\\x09b\\x5cc\\x01");
        s.clear();
        field(&mut s, Some(""));
        field(&mut s, None);
        field(&mut s, Some("-"));
        assert_eq!(s, "(empty)-\\x2d");
    }
}
