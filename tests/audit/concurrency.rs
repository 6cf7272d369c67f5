//! Appends that overlap: a writer holding the lock, two processes appending at once, and a
//! long log built from the documented format.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use apitap::audit::{append, read_verified, Action, NewEntry};
use serde_json::{json, Value};

use super::{apitap, at, log_of, text};

/// The environment variables that make [`child_appender`] append (see there).
const CHILD_LOG: &str = "APITAP_AUDIT_TEST_CHILD_LOG";
const CHILD_ACTOR: &str = "APITAP_AUDIT_TEST_CHILD_ACTOR";

#[test]
fn append_and_verify_wait_for_a_writer_holding_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of(dir.path(), 2);
    let before = std::fs::read(&log).unwrap();
    // Another writer (its own open file, as another process has) in the middle of an append.
    let holder = std::fs::File::open(&log).unwrap();
    rustix::fs::flock(&holder, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let appender = std::thread::spawn({
        let log = log.clone();
        move || {
            let e = NewEntry {
                actor: "a",
                action: Action::DetectorSet,
                target: "rate_surge",
                reason: "b",
                details: Value::Null,
            };
            append(&log, e, at(3)).map(|r| r.seq)
        }
    });
    let mut verifier = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["audit", "verify", "--log"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!appender.is_finished(), "append did not wait for the lock");
    assert!(
        verifier.try_wait().unwrap().is_none(),
        "verify did not wait for the lock"
    );
    assert_eq!(std::fs::read(&log).unwrap(), before);
    drop(holder);
    assert_eq!(appender.join().unwrap().unwrap(), 3);
    let out = verifier.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(read_verified(&log).unwrap().len(), 3);
}

/// Not a test: the body of each process of
/// [`two_processes_appending_at_once_keep_one_chain`], which runs this test binary again with
/// this one test selected and the log and actor in the environment.
#[test]
#[ignore = "run by two_processes_appending_at_once_keep_one_chain"]
fn child_appender() {
    let log = PathBuf::from(std::env::var(CHILD_LOG).expect("run by the parent test"));
    let actor = std::env::var(CHILD_ACTOR).unwrap();
    // Both processes start appending at the same moment: each says it is ready and waits for
    // the other (process start-up alone takes longer than 50 appends).
    let dir = log.parent().unwrap();
    std::fs::write(dir.join(format!("ready-{actor}")), "").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("ready-")
        })
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the other process never got ready"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    for i in 0..50 {
        let target = format!("finding-{i}");
        let e = NewEntry {
            actor: &actor,
            action: Action::FindingAnnotate,
            target: &target,
            reason: "load",
            details: json!({"i": i}),
        };
        append(&log, e, SystemTime::now()).unwrap();
    }
}

/// Writes a log of `n` records built here from the format docs/audit.md describes (the line
/// without its hash, SHA-256, the hash added as the last field), not by the code under test.
fn prefill(log: &Path, n: u64) {
    use sha2::{Digest, Sha256};
    let mut prev = "0".repeat(64);
    let mut text = String::new();
    for seq in 1..=n {
        let unsealed = format!(
            r#"{{"seq":{seq},"time":"2023-11-14T22:13:20.000Z","actor":"seed","os_user":"seed","action":"finding.annotate","target":"finding-{seq}","reason":"prefill","details":{{"a":[1,"x"],"b":null}},"prev":"{prev}"}}"#
        );
        let hash: String = Sha256::digest(unsealed.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        text.push_str(&format!(
            r#"{},"hash":"{hash}"}}"#,
            &unsealed[..unsealed.len() - 1]
        ));
        text.push('\n');
        prev = hash;
    }
    std::fs::write(log, text).unwrap();
}

#[test]
fn a_chain_built_from_the_documented_format_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    prefill(&log, 3);
    let out = apitap(&["verify"], &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": 3 records verify; head "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn two_processes_appending_at_once_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    // A log long enough that reading and checking it before each append takes longer than
    // writing and syncing a line: without the lock, the two processes' appends would overlap.
    prefill(&log, 3000);
    let me = std::env::current_exe().unwrap();
    let spawn = |actor: &str, sudo_user: Option<&str>| {
        let mut cmd = Command::new(&me);
        cmd.args([
            "concurrency::child_appender",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_LOG, &log)
        .env(CHILD_ACTOR, actor)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        match sudo_user {
            Some(u) => cmd.env("SUDO_USER", u),
            None => cmd.env_remove("SUDO_USER"),
        };
        cmd.spawn().unwrap()
    };
    let children = [
        spawn("proc-one", Some("auditor-one")),
        spawn("proc-two", None),
    ];
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("1 passed"),
            "the child ran its appends: {}",
            text(&out.stdout)
        );
    }
    let out = apitap(&["verify"], &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": 3100 records verify; head "),
        "{}",
        text(&out.stdout)
    );

    let records = read_verified(&log).unwrap();
    let id = Command::new("id").arg("-un").output().unwrap();
    let me_name = text(&id.stdout).trim().to_string();
    for (actor, os_user) in [("proc-one", "auditor-one"), ("proc-two", me_name.as_str())] {
        let mine: Vec<_> = records.iter().filter(|r| r.actor == actor).collect();
        assert_eq!(mine.len(), 50, "{actor}");
        assert!(
            mine.iter().all(|r| r.os_user == os_user),
            "{actor}: {:?}",
            mine.first().map(|r| &r.os_user)
        );
        // Each process's own records are in its order.
        let order: Vec<u64> = mine
            .iter()
            .map(|r| r.details["i"].as_u64().unwrap())
            .collect();
        assert_eq!(order, (0..50).collect::<Vec<u64>>(), "{actor}");
    }
}
