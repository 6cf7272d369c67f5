//! The audit trail end to end: records appended with the library, `apitap audit verify` and
//! `apitap audit show` run as the real binary, the log damaged by plain text edits (a changed
//! byte, a deleted, swapped or cut line, a wholesale rewrite caught by an anchor), two
//! processes appending at once, and the hashes recomputed by coreutils' `sha256sum`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "audit/concurrency.rs"]
mod concurrency;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apitap::audit::{append, Action, NewEntry};
use serde_json::{json, Value};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn apitap(args: &[&str], log: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("audit")
        .args(args)
        .arg("--log")
        .arg(log)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A log of `n` records: actor `analyst-I`, target `finding-I`, reason `reason number I`.
fn log_of(dir: &Path, n: u64) -> PathBuf {
    let log = dir.join("audit.jsonl");
    for i in 1..=n {
        let (actor, target, reason) = (
            format!("analyst-{i}"),
            format!("finding-{i}"),
            format!("reason number {i}"),
        );
        let entry = NewEntry {
            actor: &actor,
            action: Action::FindingClose,
            target: &target,
            reason: &reason,
            details: json!({"verdict": "false_positive", "i": i}),
        };
        append(&log, entry, at(i)).unwrap();
    }
    log
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(log: &Path, lines: &[String]) {
    std::fs::write(
        log,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

/// SHA-256 of `bytes` by coreutils, not by the code under test.
fn sha256sum(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Runs `audit verify` and expects it to fail: exit 1 and the error on standard error.
fn verify_fails(log: &Path, extra: &[&str]) -> String {
    let mut args = vec!["verify"];
    args.extend_from_slice(extra);
    let out = apitap(&args, log);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout {} stderr {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn each_hash_is_the_sha256_of_its_line_without_it_and_links_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 4);
    let mut prev = "0".repeat(64);
    for line in lines(&log) {
        let v: Value = serde_json::from_str(&line).unwrap();
        let hash = v["hash"].as_str().unwrap();
        let suffix = format!(r#","hash":"{hash}"}}"#);
        assert!(
            line.ends_with(&suffix),
            "the hash is the last field: {line}"
        );
        let unsealed = format!("{}}}", &line[..line.len() - suffix.len()]);
        assert_eq!(sha256sum(unsealed.as_bytes()), hash, "{line}");
        assert_eq!(v["prev"], prev.as_str());
        prev = hash.to_string();
    }
}

#[test]
fn an_intact_log_verifies_with_its_count_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 5);
    let last: Value = serde_json::from_str(lines(&log).last().unwrap()).unwrap();
    let head = last["hash"].as_str().unwrap();
    let out = apitap(&["verify"], &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}: 5 records verify; head {head}\n", log.display())
    );

    let out = apitap(&["verify", "--json"], &log);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"ok": true, "file": log.display().to_string(), "records": 5, "head": head})
    );
}

#[test]
fn one_altered_byte_in_a_middle_records_reason_fails_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 5);
    let mut bytes = std::fs::read(&log).unwrap();
    let digit = text(&bytes).find("reason number 3").unwrap() + "reason number ".len();
    bytes[digit] = b'8';
    std::fs::write(&log, &bytes).unwrap();
    let err = verify_fails(&log, &[]);
    assert!(
        err.contains(&format!("{}: line 3: record altered", log.display())),
        "{err}"
    );

    let out = apitap(&["verify", "--json"], &log);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["line"].as_u64()),
        (Some(false), Some(3)),
        "{v}"
    );

    // And no command can append to it any more.
    let e = NewEntry {
        actor: "a",
        action: Action::FindingReopen,
        target: "finding-3",
        reason: "b",
        details: Value::Null,
    };
    let err = append(&log, e, at(9)).unwrap_err().to_string();
    assert!(err.contains("line 3: record altered"), "{err}");
}

#[test]
fn details_keys_reordered_by_hand_fail_as_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 3);
    let mut l = lines(&log);
    let sorted = r#""details":{"i":2,"verdict":"false_positive"}"#;
    assert!(
        l[1].contains(sorted),
        "details are written with sorted keys: {}",
        l[1]
    );
    l[1] = l[1].replace(sorted, r#""details":{"verdict":"false_positive","i":2}"#);
    write_lines(&log, &l);
    let err = verify_fails(&log, &[]);
    assert!(err.contains("line 2: record edited"), "{err}");
}

#[test]
fn a_deleted_record_fails() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 5);
    let mut l = lines(&log);
    l.remove(2);
    write_lines(&log, &l);
    let err = verify_fails(&log, &[]);
    assert!(err.contains("line 3: seq is 4, expected 3"), "{err}");
}

#[test]
fn two_swapped_records_fail() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 5);
    let mut l = lines(&log);
    l.swap(1, 2);
    write_lines(&log, &l);
    let err = verify_fails(&log, &[]);
    assert!(err.contains("line 2: seq is 3, expected 2"), "{err}");
}

#[test]
fn a_truncated_last_line_fails() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 5);
    let bytes = std::fs::read(&log).unwrap();
    std::fs::write(&log, &bytes[..bytes.len() - 30]).unwrap();
    let err = verify_fails(&log, &[]);
    assert!(
        err.contains("line 5: the last line has no line end: truncated"),
        "{err}"
    );
}

#[test]
fn an_anchor_catches_a_wholesale_rewrite_and_a_cut_that_the_chain_alone_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 5);
    let anchor = serde_json::from_str::<Value>(&lines(&log)[2]).unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let out = apitap(&["verify", "--expect-head", &anchor.to_uppercase()], &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("; anchor is record 3\n"),
        "{}",
        text(&out.stdout)
    );

    // Rewritten from record 3 on, with a fresh chain: it verifies on its own.
    let forged_dir = tempfile::tempdir().unwrap();
    let forged = log_of(forged_dir.path(), 2);
    for i in 3..=5u64 {
        let target = format!("finding-{i}");
        let e = NewEntry {
            actor: "analyst",
            action: Action::FindingClose,
            target: &target,
            reason: "rewritten",
            details: Value::Null,
        };
        append(&forged, e, at(i)).unwrap();
    }
    std::fs::copy(&forged, &log).unwrap();
    let out = apitap(&["verify"], &log);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a rewritten chain verifies without an anchor: {}",
        text(&out.stderr)
    );
    let err = verify_fails(&log, &["--expect-head", &anchor]);
    assert!(
        err.contains("is not the hash of any of its 5 records"),
        "{err}"
    );

    // Cut before the anchored record: the rest verifies, the anchor does not.
    let cut_dir = tempfile::tempdir().unwrap();
    let cut = log_of(cut_dir.path(), 2);
    assert_eq!(apitap(&["verify"], &cut).status.code(), Some(0));
    verify_fails(&cut, &["--expect-head", &anchor]);

    // A log that grew after the anchor still holds it.
    let grown_dir = tempfile::tempdir().unwrap();
    let grown = log_of(grown_dir.path(), 7);
    let out = apitap(&["verify", "--expect-head", &anchor, "--json"], &grown);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["records"].as_u64(), v["anchor_seq"].as_u64()),
        (Some(7), Some(3)),
        "{v}"
    );
}

#[test]
fn a_malformed_anchor_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 1);
    let out = apitap(&["verify", "--expect-head", "abc123"], &log);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("64 hexadecimal digits"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_log_fails_to_verify() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify_fails(&dir.path().join("nope.jsonl"), &[]);
    assert!(
        err.contains("nope.jsonl: cannot read the audit log"),
        "{err}"
    );
}

#[test]
fn the_log_is_created_readable_by_owner_and_group_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 1);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|u| u32::from_str_radix(u.trim(), 8).unwrap())
        .unwrap();
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640 & !umask, "mode {mode:o}, umask {umask:o}");
}

#[test]
fn show_prints_a_table_of_the_records_with_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 2);
    let e = NewEntry {
        actor: "analyst-3",
        action: Action::SuppressAdd,
        target: "rule-7",
        reason: "line one\nSEQ FORGED ROW\u{1b}[2J",
        details: json!({"rule": "consumer = x"}),
    };
    append(&log, e, at(3)).unwrap();
    let out = apitap(&["show"], &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    let header: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["SEQ", "TIME", "ACTOR", "OS_USER", "ACTION", "TARGET", "REASON"]
    );
    let row: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(row[..3], ["1", "2023-11-14T22:13:21.000Z", "analyst-1"]);
    assert_eq!(
        row[4..],
        ["finding.close", "finding-1", "reason", "number", "1"]
    );
    assert!(
        rows[3].contains("suppress.add") && rows[3].ends_with(r"line one\nSEQ FORGED ROW\u{1b}[2J"),
        "{}",
        rows[3]
    );

    let out = apitap(&["show", "--json"], &log);
    assert_eq!(text(&out.stdout), std::fs::read_to_string(&log).unwrap());

    // A log that does not verify is not shown.
    let mut l = lines(&log);
    l[0] = l[0].replace("analyst-1", "analyst-X");
    write_lines(&log, &l);
    let out = apitap(&["show"], &log);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 1: record altered"),
        "{}",
        text(&out.stderr)
    );
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn a_tuning_change_made_by_editing_the_file_fails_verify_until_someone_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("apitap.toml");
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&cfg, "[behaviour]\ntimezone = \"Europe/London\"\n").unwrap();
    let c = cfg.to_str().unwrap();
    let verify = || bin(&["audit", "verify", "--config", c]);
    // Tuning nobody recorded yet: the log does not even exist.
    let o = verify();
    assert!(!o.status.success());
    let o = bin(&["suppress", "add", "--config", c, "--id", "pentest", "--owner", "soc@bank.example", "--reason", "CHG-1", "--expires", "2099-12-31", "--network", "198.18.0.0/29"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = verify();
    assert!(o.status.success(), "a command records the tuning it leaves: {}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("is the one it last recorded"), "{}", text(&o.stdout));

    // Comments and layout are not changes; a wider network and a new rule are.
    let original = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("# reviewed\n{original}\n")).unwrap();
    assert!(verify().status.success(), "a comment is not a tuning change");
    let edited = original.replace("198.18.0.0/29", "198.18.0.0/16")
        + "\n[[suppress]]\nid = \"quiet\"\nowner = \"nobody\"\nreason = \"shh\"\nexpires = \"2099-12-31\"\nkinds = [\"off_hours\"]\n";
    std::fs::write(&cfg, &edited).unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("added suppress/quiet") && err.contains("changed suppress/pentest") && err.contains("apitap audit observe"), "{err}");
    let o = bin(&["audit", "verify", "--config", c, "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["ok"].as_bool(), v["tuning_recorded"].as_bool()), (Some(false), Some(false)), "{v}");

    // Recorded after the fact, with who and why: verify passes, the record names the change.
    let o = bin(&["audit", "observe", "--config", c, "--by", "ops@bank.example", "--reason", "CHG-2 emergency edit"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(verify().status.success());
    let o = bin(&["audit", "observe", "--config", c, "--by", "ops@bank.example", "--reason", "again"]);
    assert!(text(&o.stdout).contains("nothing appended"), "{}", text(&o.stdout));
    let last: Value = serde_json::from_str(lines(&log).last().unwrap()).unwrap();
    assert_eq!(last["action"], "config.observe");
    assert_eq!(last["actor"], "ops@bank.example");
    assert_eq!(last["details"]["added"], json!(["suppress/quiet"]));
    assert_eq!(last["details"]["changed"], json!(["suppress/pentest"]));
    assert_eq!(last["details"]["removed"], json!([]));
    assert!(apitap(&["verify"], &log).status.success());
}
