//! Replays every Zeek test trace in `../shared/pcaps/zeek-oracle/` through `apitap read` and
//! compares our transactions with the http.log Zeek wrote for the same trace, row by row.
//!
//! Every difference must be listed, with the reason, in `tests/oracle/expected_differences.tsv`;
//! the test fails on a difference that is not listed, on a listed one that no longer occurs,
//! and when overall row agreement drops below 98%.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The columns compared, by Zeek's name and ours.
const COMPARED: &[(&str, &str)] = &[
    ("id.orig_h", "orig_h"),
    ("id.orig_p", "orig_p"),
    ("id.resp_h", "resp_h"),
    ("id.resp_p", "resp_p"),
    ("trans_depth", "trans_depth"),
    ("method", "method"),
    ("host", "host"),
    ("uri", "uri"),
    ("status_code", "status_code"),
    ("request_body_len", "request_body_len"),
    ("response_body_len", "response_body_len"),
];

/// Required share of rows that agree on every compared column.
const MIN_AGREEMENT: f64 = 0.98;

type Row = BTreeMap<String, Option<String>>;

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps/zeek-oracle")
}

/// Undoes Zeek's ASCII escaping: `\xHH` bytes, `-` for unset and `(empty)` for empty.
fn zeek_value(raw: &str) -> Option<String> {
    match raw {
        "-" => None,
        "(empty)" => Some(String::new()),
        _ => Some(unescape_hex(raw)),
    }
}

/// Turns `\xHH` escapes back into bytes (both Zeek and apitap write bytes that are not valid
/// UTF-8 that way), so both sides compare as the bytes on the wire.
fn unescape_hex(raw: &str) -> String {
    let mut bytes = Vec::new();
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b.get(i + 1) == Some(&b'x') {
            if let Ok(v) = u8::from_str_radix(&raw[i + 2..i + 4], 16) {
                bytes.push(v);
                i += 4;
                continue;
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads a Zeek http.log in either of its shapes (full ASCII log or zeek-cut output).
fn parse_zeek_log(path: &Path) -> (Vec<String>, Vec<Row>) {
    let text = fs::read_to_string(path).unwrap();
    let mut fields: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = Some(f.split('\t').map(str::to_string).collect());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(names) = &fields else {
            // zeek-cut output: the first line names the columns.
            fields = Some(cols.iter().map(|c| c.to_string()).collect());
            continue;
        };
        let row: Row = names.iter().zip(cols).map(|(n, v)| (n.clone(), zeek_value(v))).collect();
        rows.push(row);
    }
    (fields.unwrap_or_default(), rows)
}

fn ours_value(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(unescape_hex(s)),
        other => Some(other.to_string()),
    }
}

fn run_apitap(case: &Path, out: &Path) -> Vec<Row> {
    let mut captures: Vec<PathBuf> = fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "trace" | "gz")))
        .collect();
    captures.sort();
    assert!(!captures.is_empty(), "no capture in {}", case.display());
    // A case with a key log is one Zeek decrypts with it (its test passes the same secrets).
    let keylog = case.join("keylog.txt");
    let keylog_args: Vec<&std::ffi::OsStr> =
        if keylog.exists() { vec!["--tls-keylog".as_ref(), keylog.as_os_str()] } else { vec![] };
    let output = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .args(&captures)
        .args(&keylog_args)
        .arg("--out")
        .arg(out)
        .arg("--no-progress")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "apitap read failed on {}: {}",
        case.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let mut row: Row =
                COMPARED.iter().map(|(zeek, ours)| (zeek.to_string(), ours_value(v.get(*ours)))).collect();
            row.insert("uid".to_string(), ours_value(v.get("uid")));
            // Every transaction of a case with a key log came out of TLS; of the others, none.
            let want = if keylog.exists() { "decrypted" } else { "clear" };
            assert_eq!(v["visibility"], want, "{}: {l}", case.display());
            row
        })
        .collect()
}

/// True when two targets are the same, or differ only where ours has `name=REDACTED` and
/// Zeek's has `name=<value>` at the same position: redacting credentials is deliberate, so it
/// is not counted as a parsing difference. Everything else (every name, every other value, the
/// path) must still match byte for byte.
fn same_up_to_redaction(zeek: &str, ours: &str) -> bool {
    if zeek == ours {
        return true;
    }
    if !ours.contains("REDACTED") {
        return false;
    }
    let split = |s: &str| -> Vec<String> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        for c in s.chars() {
            if matches!(c, '?' | '&' | ';' | '#') {
                parts.push(std::mem::take(&mut cur));
                parts.push(c.to_string());
            } else {
                cur.push(c);
            }
        }
        parts.push(cur);
        parts
    };
    let (z, o) = (split(zeek), split(ours));
    z.len() == o.len()
        && z.iter().zip(&o).all(|(zp, op)| {
            zp == op
                || op.strip_suffix("=REDACTED").is_some_and(|name| {
                    zp.strip_prefix(name).is_some_and(|rest| rest.starts_with('='))
                })
        })
}

/// One observed difference, in the layout of the expected-differences file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Difference {
    case: String,
    row: String,
    field: String,
    zeek: String,
    ours: String,
}

fn show(v: &Option<String>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s.is_empty() => "(empty)".into(),
        Some(s) => s.escape_default().to_string(),
    }
}

fn conn_key(row: &Row) -> String {
    let g = |f: &str| show(row.get(f).unwrap_or(&None));
    format!("{}:{}>{}:{}#{}", g("id.orig_h"), g("id.orig_p"), g("id.resp_h"), g("id.resp_p"), g("trans_depth"))
}

/// Compares one case; returns (rows compared, rows agreeing, differences).
fn compare_case(name: &str, fields: &[String], zeek: &[Row], ours: &[Row]) -> (usize, usize, Vec<Difference>) {
    let compared: Vec<&str> = COMPARED.iter().map(|c| c.0).filter(|f| fields.iter().any(|x| x == f)).collect();
    let keyed = compared.contains(&"id.orig_p") && compared.contains(&"trans_depth");
    // zeek-cut logs of one connection keep uid and trans_depth: pair by depth then.
    let one_conn = |rows: &[Row], f: &str| rows.iter().map(|r| r.get(f).cloned().flatten()).collect::<BTreeSet<_>>().len() == 1;
    let by_depth = !keyed
        && compared.contains(&"trans_depth")
        && fields.iter().any(|f| f == "uid")
        && one_conn(zeek, "uid")
        && ours.iter().all(|r| r.get("uid").is_some())
        && one_conn(ours, "uid");
    // Pair rows: by connection and depth when the log has them, else in order.
    let mut pairs: Vec<(String, Option<&Row>, Option<&Row>)> = Vec::new();
    if keyed {
        let mut by_key: HashMap<String, Vec<&Row>> = HashMap::new();
        for r in ours {
            by_key.entry(conn_key(r)).or_default().push(r);
        }
        for v in by_key.values_mut() {
            v.reverse();
        }
        for (i, z) in zeek.iter().enumerate() {
            let o = by_key.get_mut(&conn_key(z)).and_then(|v| v.pop());
            pairs.push((format!("zeek-row:{}", i + 1), Some(z), o));
        }
        let mut extra: Vec<&Row> = by_key.into_values().flatten().collect();
        extra.sort_by_key(|r| conn_key(r));
        for o in extra {
            pairs.push((format!("ours:{}", conn_key(o)), None, Some(o)));
        }
    } else if by_depth {
        let depth = |r: &Row| r.get("trans_depth").cloned().flatten();
        let mut rest: Vec<&Row> = ours.iter().collect();
        for (i, z) in zeek.iter().enumerate() {
            let o = rest.iter().position(|o| depth(o) == depth(z)).map(|p| rest.remove(p));
            pairs.push((format!("zeek-row:{}", i + 1), Some(z), o));
        }
        for o in rest {
            pairs.push((format!("ours:#{}", show(&depth(o))), None, Some(o)));
        }
    } else {
        for i in 0..zeek.len().max(ours.len()) {
            let row = if i < zeek.len() { format!("zeek-row:{}", i + 1) } else { format!("ours-row:{}", i + 1) };
            pairs.push((row, zeek.get(i), ours.get(i)));
        }
    }
    let mut diffs = Vec::new();
    let mut agree = 0;
    for (row, z, o) in &pairs {
        let d = |field: &str, zeek: String, ours: String| Difference {
            case: name.to_string(),
            row: row.clone(),
            field: field.to_string(),
            zeek,
            ours,
        };
        match (z, o) {
            (Some(_), None) => diffs.push(d("row", "present".into(), "missing".into())),
            (None, Some(_)) => diffs.push(d("row", "missing".into(), "present".into())),
            (Some(z), Some(o)) => {
                let before = diffs.len();
                for f in &compared {
                    let zv = z.get(*f).cloned().flatten();
                    let ov = o.get(*f).cloned().flatten();
                    let agree = match (&zv, &ov) {
                        (Some(zs), Some(os)) if *f == "uri" => same_up_to_redaction(zs, os),
                        _ => zv == ov,
                    };
                    if !agree {
                        diffs.push(d(f, show(&zv), show(&ov)));
                    }
                }
                if diffs.len() == before {
                    agree += 1;
                }
            }
            (None, None) => unreachable!(),
        }
    }
    (pairs.len(), agree, diffs)
}

fn load_expected(path: &Path) -> BTreeMap<(String, String, String), (String, String, String)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 6, "{}:{}: want 6 tab-separated columns (case, row, field, zeek, ours, why)", path.display(), n + 1);
        assert!(!cols[5].trim().is_empty(), "{}:{}: every expected difference needs a reason", path.display(), n + 1);
        let prev = map.insert(
            (cols[0].to_string(), cols[1].to_string(), cols[2].to_string()),
            (cols[3].to_string(), cols[4].to_string(), cols[5].to_string()),
        );
        assert!(prev.is_none(), "{}:{}: listed twice", path.display(), n + 1);
    }
    map
}

#[test]
fn agrees_with_zeek_on_its_own_traces() {
    let root = oracle_dir();
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e} (the shared reference data must sit beside the repository)", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("http.log").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "expected the 42 Zeek cases, found {}", cases.len());
    let tmp = tempfile::tempdir().unwrap();
    let (mut total, mut agree) = (0, 0);
    let mut all = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let (fields, zeek) = parse_zeek_log(&case.join("http.log"));
        let ours = run_apitap(case, &tmp.path().join(&name));
        let (t, a, diffs) = compare_case(&name, &fields, &zeek, &ours);
        eprintln!("{name}\t{a}/{t}");
        total += t;
        agree += a;
        all.extend(diffs);
    }
    let expected_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/expected_differences.tsv");
    let expected = load_expected(&expected_path);
    let mut unexpected = Vec::new();
    let mut seen = BTreeSet::new();
    for d in &all {
        let key = (d.case.clone(), d.row.clone(), d.field.clone());
        match expected.get(&key) {
            Some((z, o, _)) if *z == d.zeek && *o == d.ours => {
                seen.insert(key);
            }
            _ => unexpected.push(d),
        }
    }
    let stale: Vec<_> = expected.keys().filter(|k| !seen.contains(*k)).collect();
    let rate = agree as f64 / total.max(1) as f64;
    eprintln!("zeek oracle: {agree}/{total} rows agree ({:.2}%), {} differences", rate * 100.0, all.len());
    for d in &unexpected {
        eprintln!("UNEXPECTED\t{}\t{}\t{}\t{}\t{}\t<why>", d.case, d.row, d.field, d.zeek, d.ours);
    }
    for k in &stale {
        eprintln!("NO LONGER OCCURS\t{}\t{}\t{}", k.0, k.1, k.2);
    }
    assert!(unexpected.is_empty(), "{} differences from Zeek are not in {}", unexpected.len(), expected_path.display());
    assert!(stale.is_empty(), "{} listed differences no longer occur; remove them", stale.len());
    assert!(rate >= MIN_AGREEMENT, "agreement {:.2}% is below {:.0}%", rate * 100.0, MIN_AGREEMENT * 100.0);
}

#[test]
fn redacted_values_agree_but_nothing_else_does() {
    assert!(same_up_to_redaction("/a?key=yt1&x=2", "/a?key=REDACTED&x=2"));
    assert!(same_up_to_redaction("/a#token=abc", "/a#token=REDACTED"));
    assert!(!same_up_to_redaction("/a?key=yt1&x=2", "/a?key=REDACTED&x=3"));
    assert!(!same_up_to_redaction("/a?key=yt1", "/b?key=REDACTED"));
    assert!(!same_up_to_redaction("/a?key=yt1", "/a?kez=REDACTED"));
    assert!(!same_up_to_redaction("/a?key=yt1&y", "/a?key=REDACTED"));
}

#[test]
fn zeek_escapes_are_undone() {
    assert_eq!(zeek_value("-"), None);
    assert_eq!(zeek_value("(empty)"), Some(String::new()));
    assert_eq!(zeek_value("/a\\x20b\\x09"), Some("/a b\t".to_string()));
}
