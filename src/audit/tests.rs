#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::*;

fn at(secs: u64, ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
}

fn entry<'a>(actor: &'a str, target: &'a str, reason: &'a str, details: Value) -> NewEntry<'a> {
    NewEntry {
        actor,
        action: Action::FindingClose,
        target,
        reason,
        details,
    }
}

#[test]
fn action_codes_are_the_documented_ones_and_read_back() {
    let codes: Vec<&str> = Action::ALL.iter().map(|a| a.code()).collect();
    // The table of docs/audit.md, in its order.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md")).unwrap();
    let table = doc.split("Action codes").nth(1).unwrap();
    let documented: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    assert_eq!(codes, documented);
    for a in Action::ALL {
        assert_eq!(Action::from_code(a.code()), Some(a));
    }
    assert_eq!(Action::from_code("finding.delete"), None);
}

#[test]
fn time_is_rfc3339_utc_with_milliseconds() {
    // 1,700,000,000 s after the epoch is 2023-11-14 22:13:20 UTC.
    assert_eq!(
        rfc3339_ms(at(1_700_000_000, 123)),
        "2023-11-14T22:13:20.123Z"
    );
    assert_eq!(rfc3339_ms(at(1_700_000_000, 0)), "2023-11-14T22:13:20.000Z");
}

#[test]
fn details_keys_are_sorted_at_every_depth_whatever_order_they_came_in() {
    // Parsed from text, so the order is the text's when serde_json keeps insertion order (its
    // `preserve_order` feature). Without that feature, as this workspace builds today, objects
    // are sorted maps already and this test guards the other build; the line check
    // (tests/audit.rs, keys reordered by hand) holds in both.
    let v: Value =
        serde_json::from_str(r#"{"zeta":1,"alpha":{"y":[{"b":2,"a":1}],"x":true},"mid":null}"#)
            .unwrap();
    let text = serde_json::to_string(&canonical(v)).unwrap();
    assert_eq!(
        text,
        r#"{"alpha":{"x":true,"y":[{"a":1,"b":2}]},"mid":null,"zeta":1}"#
    );
}

#[test]
fn the_first_record_links_to_zeros_and_the_next_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let a = append(
        &log,
        entry("alice", "f-1", "false positive", json!({"b": 1, "a": 2})),
        at(1_700_000_000, 5),
    )
    .unwrap();
    let b = append(
        &log,
        entry("bob", "f-2", "duplicate", Value::Null),
        at(1_700_000_001, 0),
    )
    .unwrap();
    assert_eq!((a.seq, a.prev.as_str()), (1, FIRST_PREV));
    assert_eq!((b.seq, b.prev.as_str()), (2, a.hash.as_str()));
    assert_ne!(a.hash, b.hash);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with(
            r#"{"seq":1,"time":"2023-11-14T22:13:20.005Z","actor":"alice","os_user":""#
        ),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(r#","action":"finding.close","target":"f-1","reason":"false positive","details":{"a":2,"b":1},"prev":"0000"#), "{}", lines[0]);
    assert_eq!(read_verified(&log).unwrap(), vec![a, b.clone()]);
    assert_eq!(
        verify(&log).unwrap(),
        Verified {
            records: 2,
            head: b.hash
        }
    );
}

#[test]
fn blank_fields_and_control_characters_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    for (e, says) in [
        (entry("", "f-1", "why", Value::Null), "actor is empty"),
        (entry("alice", " ", "why", Value::Null), "target is empty"),
        (entry("alice", "f-1", "\n", Value::Null), "reason is empty"),
        (
            entry("alice\nbob", "f-1", "why", Value::Null),
            "control character",
        ),
    ] {
        let err = append(&log, e, at(1, 0)).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    assert!(!log.exists());
}

#[test]
fn a_record_longer_than_the_line_limit_is_refused_and_the_log_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    append(&log, entry("alice", "f-1", "ok", Value::Null), at(1, 0)).unwrap();
    let before = std::fs::read(&log).unwrap();
    let long = "x".repeat(MAX_LINE_BYTES);
    let err = append(&log, entry("alice", "f-1", &long, Value::Null), at(2, 0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("MAX_LINE_BYTES"), "{err}");
    let err = append(
        &log,
        entry("alice", "f-1", "ok", json!({ "rule": long })),
        at(2, 0),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("MAX_LINE_BYTES"), "{err}");
    assert_eq!(std::fs::read(&log).unwrap(), before);
    // Just under the limit is accepted.
    let fits = "y".repeat(MAX_LINE_BYTES - 400);
    append(&log, entry("alice", "f-1", &fits, Value::Null), at(3, 0)).unwrap();
    assert_eq!(verify(&log).unwrap().records, 2);
}

#[test]
fn a_missing_log_reads_as_empty_but_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("none.jsonl");
    assert!(read_verified(&log).unwrap().is_empty());
    let err = verify(&log).unwrap_err();
    assert!(matches!(err.problem, Problem::Unreadable(_)), "{err}");
}

#[test]
fn an_empty_log_verifies_with_the_zero_head() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    assert_eq!(
        verify(&log).unwrap(),
        Verified {
            records: 0,
            head: FIRST_PREV.to_string()
        }
    );
}

/// Writes three records and returns the log's lines.
fn three(log: &std::path::Path) -> Vec<String> {
    for (i, who) in ["alice", "bob", "carol"].into_iter().enumerate() {
        append(
            log,
            entry(
                who,
                &format!("f-{i}"),
                &format!("reason {i}"),
                json!({"n": i}),
            ),
            at(1_700_000_000 + i as u64, 0),
        )
        .unwrap();
    }
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(log: &std::path::Path, lines: &[String]) {
    std::fs::write(
        log,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn problem_at(log: &std::path::Path) -> (Option<u64>, Problem) {
    let e = verify(log).unwrap_err();
    (e.line, e.problem)
}

#[test]
fn each_kind_of_damage_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let good = three(&log);

    let mut l = good.clone();
    l[1] = l[1].replace("reason 1", "reason X");
    write_lines(&log, &l);
    assert_eq!(problem_at(&log), (Some(2), Problem::Altered));

    let mut l = good.clone();
    l[1] = l[1].replacen(r#""details":{"n":1}"#, r#""details":{ "n":1}"#, 1);
    write_lines(&log, &l);
    assert_eq!(problem_at(&log), (Some(2), Problem::NotCanonical));

    write_lines(&log, &[good[0].clone(), good[2].clone()]);
    assert_eq!(
        problem_at(&log),
        (
            Some(2),
            Problem::SeqNotConsecutive {
                expected: 2,
                found: 3
            }
        )
    );

    write_lines(&log, &[good[1].clone(), good[0].clone(), good[2].clone()]);
    assert_eq!(
        problem_at(&log),
        (
            Some(1),
            Problem::SeqNotConsecutive {
                expected: 1,
                found: 2
            }
        )
    );

    // The first record replaced by another with a fresh, consistent hash: the second no
    // longer links to it.
    let other = tempfile::tempdir().unwrap();
    let forged = other.path().join("audit.jsonl");
    append(
        &forged,
        entry("mallory", "f-0", "reason 0", json!({"n": 0})),
        at(1_700_000_000, 0),
    )
    .unwrap();
    let forged_first = std::fs::read_to_string(&forged)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    write_lines(&log, &[forged_first, good[1].clone(), good[2].clone()]);
    assert_eq!(problem_at(&log), (Some(2), Problem::PrevMismatch));

    std::fs::write(
        &log,
        format!(
            "{}\n{}\n{}",
            good[0],
            good[1],
            &good[2][..good[2].len() - 5]
        ),
    )
    .unwrap();
    assert_eq!(problem_at(&log), (Some(3), Problem::Truncated));
    // Without its line end only: still a cut file.
    std::fs::write(&log, format!("{}\n{}\n{}", good[0], good[1], good[2])).unwrap();
    assert_eq!(problem_at(&log), (Some(3), Problem::Truncated));

    write_lines(&log, &[good[0].clone(), String::new(), good[1].clone()]);
    assert_eq!(problem_at(&log), (Some(2), Problem::EmptyLine));

    write_lines(&log, &[good[0].clone(), "not json".to_string()]);
    assert!(matches!(problem_at(&log), (Some(2), Problem::NotJson(_))));

    write_lines(&log, &[good[0].replace(r#""reason":"reason 0","#, "")]);
    let (line, p) = problem_at(&log);
    assert_eq!(line, Some(1));
    assert!(
        matches!(&p, Problem::BadField(m) if m.contains("reason")),
        "{p:?}"
    );

    write_lines(&log, &[good[0].replacen('{', r#"{"extra":1,"#, 1)]);
    assert!(matches!(problem_at(&log), (Some(1), Problem::BadField(_))));

    std::fs::write(&log, [good[0].as_bytes(), b"\n\xff\xfe\n"].concat()).unwrap();
    assert_eq!(problem_at(&log), (Some(2), Problem::NotUtf8));

    std::fs::write(
        &log,
        format!("{}\n{}\n", good[0], "x".repeat(MAX_LINE_BYTES + 1)),
    )
    .unwrap();
    assert_eq!(problem_at(&log), (Some(2), Problem::LineTooLong));

    // The message says file, line and what.
    write_lines(
        &log,
        &[good[0].clone(), good[1].replace("reason 1", "reason X")],
    );
    let msg = verify(&log).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: line 2: record altered: its hash does not match its content",
            log.display()
        )
    );
}

#[test]
fn appending_to_a_log_that_does_not_verify_is_refused_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let mut l = three(&log);
    l[2] = l[2].replace("carol", "carlo");
    write_lines(&log, &l);
    let before = std::fs::read(&log).unwrap();
    let err = append(
        &log,
        entry("dave", "f-9", "why", Value::Null),
        at(1_800_000_000, 0),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("{}: line 3: record altered", log.display())),
        "{err}"
    );
    assert!(err.contains("refusing to append"), "{err}");
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn threads_appending_with_their_own_handles_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::thread::scope(|s| {
        for who in ["t1", "t2"] {
            let log = &log;
            s.spawn(move || {
                for i in 0..50u64 {
                    append(
                        log,
                        entry(who, &format!("f-{i}"), "load", Value::Null),
                        at(1_700_000_000 + i, 0),
                    )
                    .unwrap();
                }
            });
        }
    });
    let records = read_verified(&log).unwrap();
    assert_eq!(records.len(), 100);
    for who in ["t1", "t2"] {
        assert_eq!(records.iter().filter(|r| r.actor == who).count(), 50);
    }
}

#[test]
fn a_log_larger_than_the_read_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    // Sparse: no 256 MiB written.
    std::fs::File::create(&log)
        .unwrap()
        .set_len(MAX_LOG_BYTES + 1)
        .unwrap();
    let err = verify(&log).unwrap_err();
    assert_eq!(
        (err.line, err.problem),
        (
            None,
            Problem::TooLarge {
                bytes: MAX_LOG_BYTES + 1
            }
        )
    );
    let err = append(&log, entry("alice", "f-1", "why", Value::Null), at(1, 0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MAX_LOG_BYTES") && err.contains("refusing to append"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&log).unwrap().len(), MAX_LOG_BYTES + 1);
}
