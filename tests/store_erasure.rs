//! Erasure of a consumer or a customer and purge by age, through the real `apitap purge`, with
//! the real `sqlite3` CLI (`.dump` of every table) and the files' raw bytes as the independent
//! check that nothing mentioning the subject is left.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, dead_code, unused_imports)]

#[path = "../src/store/db/mod.rs"]
mod db;
mod store_common;

use std::path::Path;

use db::*;
use store_common::*;


fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02X}")).collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The daemon's side of an erasure: it forgets the subject in memory and writes its next
/// checkpoint (here, the identity section rebuilt without it).
fn daemon_applies(path: &Path, identity: &str, subject: &str) -> Vec<Erasure> {
    let mut store = Store::open_exclusive(path).unwrap();
    let pending = store.pending_erasures().unwrap();
    let ids: Vec<i64> = pending.iter().map(|e| e.id).collect();
    let st = store
        .checkpoint(&Checkpoint {
            packet_time: T0 + 60_000_000_000,
            sections: &[Section { name: "identity", format: 1, data: identity.as_bytes() }],
            applied_erasures: &ids,
            ..Checkpoint::default()
        })
        .unwrap();
    assert_eq!(st.erasures_applied, ids.len() as u64);
    assert!(store.pending_erasures().unwrap().is_empty());
    // While the daemon still has the store open: neither the store file nor its WAL keeps the
    // subject (the replaced section's old frames were checkpointed and the WAL emptied).
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    assert!(!contains(&wal, subject), "the WAL still holds the erased id");
    assert!(!contains(&std::fs::read(path).unwrap(), subject), "the store file still holds the erased id");
    pending
}

#[test]
fn purge_of_a_consumer_removes_every_row_mentioning_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    erasure_fixture(&path);
    let out = ok(&apitap(&["purge", "--store", s(&path), "--consumer", CONSUMER_A]));
    assert!(out.contains(&format!("erased consumer {CONSUMER_A}")), "{out}");
    assert!(out.contains("consumer profiles deleted  1"), "{out}");
    assert!(out.contains("customer links deleted     2"), "{out}");
    assert!(out.contains("findings deleted           1"), "{out}");
    // f2's JSON named A as related; the endpoint's top consumers named A.
    assert!(out.contains("entries rewritten          2"), "{out}");

    // Every table's text, as sqlite3 dumps it: only the pending erasure still names A.
    let dump = sqlite3(&path, ".dump");
    let lines: Vec<&str> = dump.lines().filter(|l| l.contains(CONSUMER_A)).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("INSERT INTO erasures"), "{}", lines[0]);
    // The rest is intact.
    assert_eq!(sqlite3(&path, "SELECT id FROM consumers"), CONSUMER_B);
    assert_eq!(sqlite3(&path, "SELECT consumer_id, customer_id FROM consumer_customers"), format!("{CONSUMER_B}|{CUSTOMER_Y}"));
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM findings"), "2");
    assert_eq!(
        sqlite3(&path, &format!("SELECT json_extract(data, '$.top_consumers.\"[erased]\"'), json_extract(data, '$.top_consumers.{CONSUMER_B}') FROM endpoints WHERE template = '/accounts'")),
        "3|2"
    );
    assert_eq!(
        sqlite3(&path, "SELECT json_extract(data, '$.related'), json_extract(data, '$.consumer'), json_extract(data, '$.customer') FROM findings WHERE finding_id LIKE '%2'"),
        format!("[\"[erased]\"]|{CONSUMER_B}|{CUSTOMER_Y}")
    );

    // The state sections still hold A (in hex in the dump) until the daemon applies the
    // erasure at its next checkpoint.
    assert!(dump.contains(&hex(CONSUMER_A)));
    let applied = daemon_applies(&path, &format!("links: {CONSUMER_B}->{CUSTOMER_Y}"), CONSUMER_A);
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].kind, ErasureKind::Consumer(CONSUMER_A.into()));

    let dump = sqlite3(&path, ".dump");
    assert!(!dump.contains(CONSUMER_A) && !dump.contains(&hex(CONSUMER_A)) && !dump.contains(&hex(CONSUMER_A).to_lowercase()), "{dump}");
    assert!(dump.contains(CONSUMER_B));
    // Nor in the files' bytes: secure delete overwrote the old rows, the WAL is gone.
    assert!(!path.with_extension("db-wal").exists() || std::fs::metadata(path.with_extension("db-wal")).unwrap().len() == 0);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!contains(&bytes, CONSUMER_A), "the erased id is still in the file's free space");
    assert!(contains(&bytes, CONSUMER_B));
    // The log keeps that an erasure happened, not whom it named.
    assert_eq!(sqlite3(&path, "SELECT kind, subject IS NULL, applied_at IS NOT NULL FROM erasures"), "consumer|1|1");
}

#[test]
fn purge_of_a_customer_removes_every_row_mentioning_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    erasure_fixture(&path);
    let out = ok(&apitap(&["purge", "--store", s(&path), "--customer", CUSTOMER_X]));
    assert!(out.contains("consumer profiles deleted  0"), "{out}");
    assert!(out.contains("customer links deleted     1"), "{out}");
    assert!(out.contains("findings deleted           1"), "{out}");
    assert!(out.contains("entries rewritten          1"), "{out}");
    let dump = sqlite3(&path, ".dump");
    let lines: Vec<&str> = dump.lines().filter(|l| l.contains(CUSTOMER_X)).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("INSERT INTO erasures"));
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM consumers"), "2", "consumers stay");
    assert_eq!(sqlite3(&path, "SELECT customer_id FROM consumer_customers ORDER BY consumer_id"), format!("{CUSTOMER_Y}\n{CUSTOMER_Y}"));

    daemon_applies(&path, &format!("links: {CONSUMER_B}->{CUSTOMER_Y}"), CUSTOMER_X);
    let dump = sqlite3(&path, ".dump");
    assert!(!dump.contains(CUSTOMER_X) && !dump.contains(&hex(CUSTOMER_X)), "{dump}");
    assert!(!contains(&std::fs::read(&path).unwrap(), CUSTOMER_X));
}

#[test]
fn a_checkpoint_encoded_before_the_erasure_does_not_bring_the_subject_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    erasure_fixture(&path);
    let mut daemon = Store::open_exclusive(&path).unwrap();
    // While the daemon runs, the operator erases A...
    ok(&apitap(&["purge", "--store", s(&path), "--consumer", CONSUMER_A]));
    // ...and the daemon's next checkpoint, encoded before it looked, still carries A.
    let stale = vec![consumer(CONSUMER_A, T0 + DAY, 5, b"a")];
    let links = vec![link(CONSUMER_A, CUSTOMER_Y, T0 + DAY)];
    let findings = vec![finding("f1000000000000000000000000000009", Some(CONSUMER_A), None, T0 + DAY, 1, "{}")];
    let st = daemon
        .checkpoint(&Checkpoint { packet_time: T0 + DAY, consumers: &stale, customer_links: &links, findings: &findings, ..Checkpoint::default() })
        .unwrap();
    assert_eq!(st.erased_again, 3);
    assert_eq!(sqlite3(&path, &format!("SELECT count(*) FROM consumers WHERE id = '{CONSUMER_A}'")), "0");
    assert_eq!(sqlite3(&path, &format!("SELECT count(*) FROM findings WHERE consumer_id = '{CONSUMER_A}'")), "0");
    assert_eq!(daemon.pending_erasures().unwrap().len(), 1, "still pending until the daemon says it applied it");
}

#[test]
fn erasure_ids_must_be_whole_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    erasure_fixture(&path);
    let err = fails(&apitap(&["purge", "--store", s(&path), "--consumer", "a1"]));
    assert!(err.contains("too short") && err.contains("16 hex digits"), "{err}");
    let err = fails(&apitap(&["purge", "--store", s(&path)]));
    assert!(err.contains("--consumer") && err.contains("--expired"), "{err}");
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM consumers"), "2");
}

#[test]
fn purge_by_age_follows_the_retention_of_each_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    let now = T0 + 1000 * DAY;
    let ages = [10u64, 29, 31, 89, 91, 179, 181, 399, 401];
    {
        let mut store = Store::open(&path).unwrap();
        let consumers: Vec<ConsumerRow> = ages.iter().map(|d| consumer(&format!("c{d:015}"), now - d * DAY, 1, b"p")).collect();
        // Links of a recent consumer, each as old as its number says; and a fresh link of
        // the consumer last seen 91 days ago (it goes with its consumer).
        let mut links: Vec<CustomerLink> = ages.iter().map(|d| link(&format!("c{:015}", 10), &format!("u{d:015}"), now - d * DAY)).collect();
        links.push(link(&format!("c{:015}", 91), "u999999999999999", now - DAY));
        let findings: Vec<FindingRow> = ages.iter().map(|d| finding(&format!("f{d:031}"), None, None, now - d * DAY, 1, "{}")).collect();
        store
            .checkpoint(&Checkpoint { packet_time: now, consumers: &consumers, customer_links: &links, findings: &findings, ..Checkpoint::default() })
            .unwrap();
        for d in ages {
            store.record_report(&ReportRecord { generated_at: now - d * DAY, packet_time: now - d * DAY, formats: vec![], endpoint_keys: vec![] }).unwrap();
        }
    }
    let days = |sql: &str| -> Vec<u64> {
        sqlite3(&path, sql).lines().map(|l| l.parse().unwrap()).collect()
    };
    let backup = dir.path().join("before.db");
    ok(&apitap(&["store", "backup", "--store", s(&path), "--to", s(&backup)]));

    // Defaults: profiles 90 days, links 30, findings 180, reports 400; now = last checkpoint.
    let out = ok(&apitap(&["purge", "--store", s(&path), "--expired", "--clock", "packet"]));
    assert!(out.contains("consumer profiles deleted  5"), "{out}");
    assert!(out.contains("customer links deleted     8"), "{out}");
    let age = |col: &str, table: &str| format!("SELECT ({} - {col}) / {DAY} FROM {table} ORDER BY 1", now);
    assert_eq!(days(&age("last_seen", "consumers")), vec![10, 29, 31, 89]);
    assert_eq!(days(&age("last_seen", "consumer_customers")), vec![10, 29], "links older than 30 days, and those of expired consumers, go");
    assert_eq!(days(&age("last_seen", "findings")), vec![10, 29, 31, 89, 91, 179]);
    assert_eq!(days(&age("packet_time", "reports")), vec![10, 29, 31, 89, 91, 179, 181, 399]);
    assert_eq!(sqlite3(&path, "SELECT kind, subject FROM erasures WHERE applied_at IS NULL ORDER BY id"),
        "older_than|consumer_profiles\nolder_than|customer_links\nolder_than|findings\nolder_than|reports");

    // Longer periods from the configuration file.
    let restored = dir.path().join("restored.db");
    ok(&apitap(&["store", "restore", "--from", s(&backup), "--store", s(&restored)]));
    let config = dir.path().join("apitap.toml");
    std::fs::write(&config, "[capture]\ninterface = \"eth1\"\n\n[store.retention]\nfindings = \"365d\"\nconsumer_profiles = 30\n").unwrap();
    ok(&apitap(&["purge", "--store", s(&restored), "--expired", "--clock", "packet", "--config", s(&config)]));
    let age_r = |col: &str, table: &str| -> Vec<u64> {
        sqlite3(&restored, &format!("SELECT ({now} - {col}) / {DAY} FROM {table} ORDER BY 1")).lines().map(|l| l.parse().unwrap()).collect()
    };
    assert_eq!(age_r("last_seen", "consumers"), vec![10, 29]);
    assert_eq!(age_r("last_seen", "findings"), vec![10, 29, 31, 89, 91, 179, 181]);

    // A mistake in the section names the file and the key.
    std::fs::write(&config, "[store.retention]\nfinding = \"365d\"\n").unwrap();
    let err = fails(&apitap(&["purge", "--store", s(&restored), "--expired", "--config", s(&config)]));
    assert!(err.contains("apitap.toml") && err.contains("finding") && err.contains("[store.retention]"), "{err}");
}

#[test]
fn the_daemon_expires_rows_in_its_checkpoints_without_logging_erasures() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    let now = T0 + 500 * DAY;
    let consumers = vec![consumer(CONSUMER_A, now - 91 * DAY, 1, b"old"), consumer(CONSUMER_B, now - 89 * DAY, 1, b"recent")];
    let links = vec![link(CONSUMER_B, CUSTOMER_X, now - 31 * DAY), link(CONSUMER_B, CUSTOMER_Y, now - 29 * DAY)];
    let findings = vec![finding("f1", None, None, now - 181 * DAY, 1, "{}"), finding("f2", None, None, now - 179 * DAY, 1, "{}")];
    store.checkpoint(&Checkpoint { packet_time: now - 100 * DAY, consumers: &consumers, customer_links: &links, findings: &findings, ..Checkpoint::default() }).unwrap();
    let retention = RetentionConfig::default();
    let st = store.checkpoint(&Checkpoint { packet_time: now, retention: Some(&retention), ..Checkpoint::default() }).unwrap();
    assert_eq!(st.expired, 3);
    assert_eq!(sqlite3(store.path(), "SELECT id FROM consumers"), CONSUMER_B);
    assert_eq!(sqlite3(store.path(), "SELECT customer_id FROM consumer_customers"), CUSTOMER_Y);
    assert_eq!(sqlite3(store.path(), "SELECT finding_id FROM findings"), "f2");
    assert_eq!(sqlite3(store.path(), "SELECT count(*) FROM erasures"), "0");
}

#[test]
fn purge_by_age_on_the_wall_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    let now = wall_ns();
    {
        let mut store = Store::open(&path).unwrap();
        let consumers = vec![consumer(CONSUMER_A, now - 100 * DAY, 1, b"old"), consumer(CONSUMER_B, now - 10 * DAY, 1, b"new")];
        // Packet time far in the past (a replayed capture): the wall clock decides anyway.
        store.checkpoint(&Checkpoint { packet_time: T0, consumers: &consumers, ..Checkpoint::default() }).unwrap();
    }
    let out = ok(&apitap(&["purge", "--store", s(&path), "--expired"]));
    assert!(out.contains("wall clock"), "{out}");
    assert_eq!(sqlite3(&path, "SELECT id FROM consumers"), CONSUMER_B);
}

