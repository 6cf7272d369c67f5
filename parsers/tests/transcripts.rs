//! Runs the parser transcripts in `tests/transcripts/*.txt`.
//!
//! A transcript is a readable script of one or more connections:
//!
//! ```text
//! # comment
//! > GET / HTTP/1.1\r\nHost: a\r\n\r\n      client bytes (one delivery), escapes \r \n \t \\ \xHH
//! < HTTP/1.1 200 OK\r\n\r\n                  server bytes
//! gap > 10                                  10 client bytes lost (gap < N for the server)
//! eof > | eof <                             that direction ended
//! close                                     the connection is gone
//! === transaction                           the next emitted transaction must have...
//! method: GET                               ...these fields (`-` = unset, `(empty)` = "")
//! events: bare_lf missing_version           ...exactly these events, in order
//! response_body: {"a":1}\r\n                 bodies with the same escapes, `(empty)` for none
//! credential_digest: set                    `set` or `-` (the value is checked in tests/credential.rs)
//! === stats                                 counters after the connection
//! gaps: 1
//! ---                                       a new connection
//! ```
//!
//! Every transcript also runs with each delivery split into single bytes, and must give the
//! same transactions: how TCP segments the stream must not change the result.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use apitap_parsers::{Direction, HttpConfig, HttpParser, HttpTransaction};

#[derive(Debug, Clone)]
enum Action {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
    Eof(Direction),
    Close,
}

#[derive(Debug, Default)]
struct Connection {
    actions: Vec<(usize, Action)>,
    expected: Vec<(usize, BTreeMap<String, String>)>,
    stats: BTreeMap<String, u64>,
    config: BTreeMap<String, String>,
}

fn unescape(s: &str, line: usize) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'r') => out.push(b'\r'),
                Some(b'n') => out.push(b'\n'),
                Some(b't') => out.push(b'\t'),
                Some(b'0') => out.push(0),
                Some(b'\\') => out.push(b'\\'),
                Some(b'x') => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("line {line}: bad \\x escape")));
                    i += 2;
                }
                other => panic!("line {line}: unknown escape {other:?}"),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn dir_of(s: &str, line: usize) -> Direction {
    match s {
        ">" => Direction::ToServer,
        "<" => Direction::ToClient,
        _ => panic!("line {line}: direction must be > or <"),
    }
}

fn parse(text: &str) -> Vec<Connection> {
    let mut conns = vec![Connection::default()];
    #[derive(PartialEq)]
    enum Block {
        Actions,
        Txn,
        Stats,
        Config,
    }
    let mut block = Block::Actions;
    for (idx, raw) in text.lines().enumerate() {
        let n = idx + 1;
        let conn = conns.last_mut().unwrap();
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        if let Some(rest) = raw.strip_prefix("> ").or(if raw == ">" { Some("") } else { None }) {
            block = Block::Actions;
            conn.actions.push((n, Action::Data(Direction::ToServer, unescape(rest, n))));
            continue;
        }
        if let Some(rest) = raw.strip_prefix("< ").or(if raw == "<" { Some("") } else { None }) {
            block = Block::Actions;
            conn.actions.push((n, Action::Data(Direction::ToClient, unescape(rest, n))));
            continue;
        }
        let words: Vec<&str> = raw.split_whitespace().collect();
        match words.as_slice() {
            ["---"] => {
                conns.push(Connection::default());
                block = Block::Actions;
            }
            ["gap", d, len] => {
                block = Block::Actions;
                conn.actions.push((n, Action::Gap(dir_of(d, n), len.parse().unwrap())));
            }
            ["eof", d] => {
                block = Block::Actions;
                conn.actions.push((n, Action::Eof(dir_of(d, n))));
            }
            ["close"] => {
                block = Block::Actions;
                conn.actions.push((n, Action::Close));
            }
            ["===", "transaction"] => {
                block = Block::Txn;
                conn.expected.push((n, BTreeMap::new()));
            }
            ["===", "stats"] => block = Block::Stats,
            ["===", "config"] => block = Block::Config,
            _ => {
                let (key, value) = raw.split_once(':').unwrap_or_else(|| panic!("line {n}: expected `key: value`"));
                let (key, value) = (key.trim().to_owned(), value.trim().to_owned());
                match block {
                    Block::Txn => {
                        conn.expected.last_mut().unwrap().1.insert(key, value);
                    }
                    Block::Stats => {
                        conn.stats.insert(key, value.parse().unwrap());
                    }
                    Block::Config => {
                        conn.config.insert(key, value);
                    }
                    Block::Actions => panic!("line {n}: `{raw}` outside a block"),
                }
            }
        }
    }
    conns
}

fn opt(v: &Option<String>) -> String {
    match v {
        None => "-".to_owned(),
        Some(s) if s.is_empty() => "(empty)".to_owned(),
        Some(s) => s.clone(),
    }
}

/// Body bytes written with the escapes the `>`/`<` lines use, `(empty)` for none.
fn body(b: &[u8]) -> String {
    if b.is_empty() {
        return "(empty)".to_owned();
    }
    let mut out = String::new();
    for &c in b {
        match c {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out
}

fn opt_num<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".to_owned(), |x| x.to_string())
}

fn field(t: &HttpTransaction, key: &str) -> String {
    match key {
        "trans_depth" => t.trans_depth.to_string(),
        "ts" => t.ts.to_string(),
        "method" => opt(&t.method),
        "uri" => opt(&t.uri),
        "version" => opt(&t.version),
        "host" => opt(&t.host),
        "user_agent" => opt(&t.user_agent),
        "referrer" => opt(&t.referrer),
        "origin" => opt(&t.origin),
        "status" => opt_num(t.status_code),
        "status_msg" => opt(&t.status_msg),
        "response_version" => opt(&t.response_version),
        "info_code" => opt_num(t.info_code),
        "info_msg" => opt(&t.info_msg),
        "request_body_len" => t.request_body_len.to_string(),
        "request_body" => body(&t.request_body),
        "response_body" => body(&t.response_body),
        "request_body_truncated" => t.request_body_truncated.to_string(),
        "response_body_truncated" => t.response_body_truncated.to_string(),
        "api_key_header" => opt(&t.api_key_header),
        "credential_digest" => if t.credential_digest.is_some() { "set" } else { "-" }.to_owned(),
        "response_body_len" => t.response_body_len.to_string(),
        "request_body_wire_len" => t.request_body_wire_len.to_string(),
        "response_body_wire_len" => t.response_body_wire_len.to_string(),
        "request_content_type" => opt(&t.request_content_type),
        "response_content_type" => opt(&t.response_content_type),
        "response_content_encoding" => opt(&t.response_content_encoding),
        "request_start" => opt_num(t.request_start),
        "request_end" => opt_num(t.request_end),
        "response_start" => opt_num(t.response_start),
        "response_end" => opt_num(t.response_end),
        "auth_scheme" => opt(&t.auth_scheme),
        "request_gap" => t.request_gap.to_string(),
        "response_gap" => t.response_gap.to_string(),
        "tunnel" => opt(&t.tunnel),
        "uri_redacted" => t.uri_redacted.to_string(),
        "request_headers" => t.request_header_names.join(" "),
        "response_headers" => t.response_header_names.join(" "),
        "events" => t.events.iter().map(|e| e.name()).collect::<Vec<_>>().join(" "),
        other => panic!("unknown transaction key `{other}`"),
    }
}

fn config(c: &BTreeMap<String, String>) -> HttpConfig {
    let mut cfg = HttpConfig::default();
    for (k, v) in c {
        match k.as_str() {
            "max_header_bytes" => cfg.max_header_bytes = v.parse().unwrap(),
            "max_headers" => cfg.max_headers = v.parse().unwrap(),
            "max_pending_requests" => cfg.max_pending_requests = v.parse().unwrap(),
            "max_uri_len" => cfg.max_uri_len = v.parse().unwrap(),
            "max_header_names" => cfg.max_header_names = v.parse().unwrap(),
            "max_ready_transactions" => cfg.max_ready_transactions = v.parse().unwrap(),
            "max_decoded_body" => cfg.max_decoded_body = v.parse().unwrap(),
            "max_decode_ratio" => cfg.max_decode_ratio = v.parse().unwrap(),
            "max_body_capture" => cfg.max_body_capture = v.parse().unwrap(),
            "redact_query_params" => cfg.redact_query_params = v.split_whitespace().map(str::to_owned).collect(),
            other => panic!("unknown config key `{other}`"),
        }
    }
    cfg
}

/// Runs a connection; `split` feeds every delivery one byte at a time.
fn run(conn: &Connection, split: bool) -> (Vec<HttpTransaction>, HttpParser) {
    let mut p = HttpParser::new(Arc::new(config(&conn.config)));
    let mut out = Vec::new();
    for (i, (_, action)) in conn.actions.iter().enumerate() {
        let ts = (i as u64 + 1) * 1000;
        match action {
            Action::Data(d, bytes) => {
                if split {
                    for b in bytes {
                        let pr = p.handle_data(ts, *d, std::slice::from_ref(b));
                        assert_eq!(pr.consumed + pr.ignored, 1);
                    }
                } else {
                    let pr = p.handle_data(ts, *d, bytes);
                    assert_eq!(pr.consumed + pr.ignored, bytes.len());
                }
            }
            Action::Gap(d, len) => p.handle_gap(ts, *d, *len),
            Action::Eof(d) => p.handle_eof(ts, *d),
            Action::Close => p.handle_close(ts),
        }
        while let Some(t) = p.poll_transaction() {
            out.push(t);
        }
    }
    (out, p)
}

fn check(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut errors = Vec::new();
    for (ci, conn) in parse(&text).iter().enumerate() {
        let (got, parser) = run(conn, false);
        if got.len() != conn.expected.len() {
            errors.push(format!(
                "{name} connection {}: {} transactions, expected {}: {:#?}",
                ci + 1,
                got.len(),
                conn.expected.len(),
                got
            ));
            continue;
        }
        for ((line, want), t) in conn.expected.iter().zip(&got) {
            for (key, value) in want {
                let actual = field(t, key);
                if &actual != value {
                    errors.push(format!("{name}:{line}: {key} is `{actual}`, expected `{value}`"));
                }
            }
        }
        let counters: BTreeMap<&str, u64> = parser.stats().counters().into_iter().collect();
        for (key, value) in &conn.stats {
            let Some(actual) = counters.get(key.as_str()) else {
                errors.push(format!("{name} connection {}: unknown counter {key}", ci + 1));
                continue;
            };
            if actual != value {
                errors.push(format!("{name} connection {}: counter {key} is {actual}, expected {value}", ci + 1));
            }
        }
        let (split, _) = run(conn, true);
        if split != got {
            errors.push(format!(
                "{name} connection {}: byte-by-byte delivery changed the result:\n{split:#?}\nvs\n{got:#?}",
                ci + 1
            ));
        }
    }
    errors
}

#[test]
fn transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    assert!(files.len() >= 10, "transcripts missing in {}", dir.display());
    let errors: Vec<String> = files.iter().flat_map(|f| check(f)).collect();
    assert!(errors.is_empty(), "{} transcript failures:\n{}", errors.len(), errors.join("\n"));
}
