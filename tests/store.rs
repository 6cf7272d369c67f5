//! The persistent store: checkpoints and loads through the store's own code (compiled in from
//! src/store/db), the commands through the real `apitap` binary, and every claim of
//! readability checked with the real `sqlite3` CLI as an independent reader.
//!
//! Crash safety is tested with real processes: a writer (this test binary re-run as a child)
//! checkpoints in a loop and is killed with SIGKILL, mid-checkpoint; the store must then hold
//! one complete checkpoint. Erasure and retention: tests/store_erasure.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, dead_code, unused_imports)]

#[path = "../src/store/db/mod.rs"]
mod db;
mod store_common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use db::*;
use store_common::*;

#[test]
fn checkpoint_then_load_returns_the_same_data_and_sqlite3_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    let inventory: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let behaviour = b"behaviour state v1".to_vec();
    let consumers = vec![consumer(CONSUMER_A, T0, 10, b"profile-a"), consumer(CONSUMER_B, T0 - DAY, 3, b"profile-b")];
    let links = vec![link(CONSUMER_A, CUSTOMER_X, T0)];
    let findings = vec![finding("f0000000000000000000000000000001", Some(CONSUMER_A), Some(CUSTOMER_X), T0, 1, "{\"n\":1}")];
    let endpoints = vec![
        endpoint("api.bank.example", "GET", "/accounts/{id}", "documented", 100, "{}"),
        endpoint("api.bank.example", "POST", "/internal/debug", "shadow", 7, "{\"auth\":false}"),
    ];
    {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.migrated_from(), Some(0), "a new store is created at the latest version");
        assert_eq!(store.load().unwrap(), None, "no checkpoint yet");
        let st = store
            .checkpoint(&Checkpoint {
                packet_time: T0,
                sections: &[
                    Section { name: "inventory", format: 3, data: &inventory },
                    Section { name: "behaviour", format: 1, data: &behaviour },
                ],
                consumers: &consumers,
                customer_links: &links,
                findings: &findings,
                endpoints: Some(&endpoints),
                meta: &[("sensor_id", "sensor-7")],
                ..Checkpoint::default()
            })
            .unwrap();
        assert_eq!((st.sections, st.consumers, st.customer_links, st.findings, st.endpoints), (2, 2, 1, 1, 2));
        assert_eq!(st.blob_bytes, 70_000 + 18 + 9 + 9);
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.migrated_from(), None);
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.packet_time, T0);
    assert_eq!(loaded.sections.len(), 2);
    assert_eq!(loaded.sections["inventory"], StoredSection { format: 3, updated: T0, data: inventory.clone() });
    assert_eq!(loaded.sections["behaviour"].data, behaviour);
    let mut want = consumers.clone();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(loaded.consumers, want);
    assert_eq!(loaded.customer_links, links);
    assert_eq!(store.meta("sensor_id").unwrap().as_deref(), Some("sensor-7"));

    // A second checkpoint: one consumer changes, one is forgotten, the finding moves on, the
    // endpoints are kept (None), one section is replaced.
    let changed = vec![consumer(CONSUMER_A, T0 + DAY, 25, b"profile-a2")];
    let f2 = vec![finding("f0000000000000000000000000000001", Some(CONSUMER_A), Some(CUSTOMER_X), T0 + DAY, 2, "{\"n\":2}")];
    store
        .checkpoint(&Checkpoint {
            packet_time: T0 + DAY,
            sections: &[Section { name: "behaviour", format: 2, data: b"behaviour state v2" }],
            consumers: &changed,
            removed_consumers: &[CONSUMER_B.to_string()],
            findings: &f2,
            ..Checkpoint::default()
        })
        .unwrap();
    // An older event of the same finding arriving late does not replace the newer one.
    store.record_findings(&findings).unwrap();
    drop(store);

    // The sqlite3 CLI, knowing nothing of our code, reads the same.
    assert_eq!(sqlite3(&path, "SELECT id, requests, label FROM consumers ORDER BY id"), format!("{CONSUMER_A}|25|client a1b2"));
    assert_eq!(sqlite3(&path, "SELECT section, format, bytes, updated FROM state_v ORDER BY section"),
        "behaviour|2|18|2024-05-02T12:00:00.000Z\ninventory|3|70000|2024-05-01T12:00:00.000Z");
    assert_eq!(sqlite3(&path, "SELECT version, lifecycle, data, last_seen FROM findings_v"), "2|updated|{\"n\":2}|2024-05-02T12:00:00.000Z");
    assert_eq!(sqlite3(&path, "SELECT method, template FROM endpoints WHERE class = 'shadow'"), "POST|/internal/debug");
    assert_eq!(sqlite3(&path, "SELECT first_seen, last_seen FROM consumers_v"), "2024-04-26T12:00:00.000Z|2024-05-02T12:00:00.000Z");
    assert_eq!(sqlite3(&path, "SELECT value FROM meta WHERE key = 'last_checkpoint_iso'"), "2024-05-02T12:00:00.000Z");
    assert_eq!(sqlite3(&path, "PRAGMA journal_mode"), "wal");
    assert_eq!(sqlite3(&path, "PRAGMA user_version"), LATEST.to_string());

    let store = Store::open(&path).unwrap();
    let f = store.findings(&FindingQuery { consumer_id: Some(CONSUMER_A), ..FindingQuery::default() }).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].version, f[0].first_seen, f[0].data.as_str()), (2, T0 - DAY, "{\"n\":2}"));
    assert!(store.findings(&FindingQuery { customer_id: Some(CUSTOMER_Y), ..FindingQuery::default() }).unwrap().is_empty());
    assert_eq!(store.endpoints().unwrap(), {
        let mut e = endpoints.clone();
        e.sort_by(|a, b| (&a.service, &a.method, &a.template).cmp(&(&b.service, &b.method, &b.template)));
        e
    });
}

#[test]
fn reports_are_recorded_and_the_last_one_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    assert_eq!(store.last_report().unwrap(), None);
    let r1 = ReportRecord { generated_at: T0, packet_time: T0 - 10, formats: vec!["html".into()], endpoint_keys: vec!["a GET /x".into()] };
    let r2 = ReportRecord {
        generated_at: T0 + DAY,
        packet_time: T0 + DAY - 10,
        formats: vec!["html".into(), "json".into()],
        endpoint_keys: vec!["a GET /x".into(), "a POST /y".into()],
    };
    let id1 = store.record_report(&r1).unwrap();
    let id2 = store.record_report(&r2).unwrap();
    assert!(id2 > id1);
    assert_eq!(store.last_report().unwrap(), Some(StoredReport { id: id2, record: r2 }));
    assert_eq!(sqlite3(store.path(), "SELECT id, endpoints, generated_at FROM reports_v ORDER BY id"),
        format!("{id1}|1|2024-05-01T12:00:00.000Z\n{id2}|2|2024-05-02T12:00:00.000Z"));
}

#[test]
fn findings_keep_their_highest_version_and_the_table_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StoreLimits { max_findings: 3, ..StoreLimits::default() };
    let mut store = Store::open(&dir.path().join("s.db")).unwrap().with_limits(limits);
    let rows: Vec<FindingRow> = (0..5u64).map(|i| finding(&format!("f{i:031}"), None, None, T0 + i * DAY, 1, "{}")).collect();
    let st = store.checkpoint(&Checkpoint { packet_time: T0, findings: &rows, ..Checkpoint::default() }).unwrap();
    assert_eq!(st.findings_dropped, 2);
    // The two oldest by last_seen went.
    assert_eq!(sqlite3(store.path(), "SELECT finding_id FROM findings ORDER BY finding_id"),
        format!("f{:031}\nf{:031}\nf{:031}", 2, 3, 4));
}

#[test]
fn the_key_fingerprint_is_recorded_and_a_changed_key_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    let k1 = key_fingerprint(&[1; 16]);
    let k2 = key_fingerprint(&[2; 16]);
    assert_ne!(k1, k2);
    assert_eq!(k1.len(), 32);
    assert_eq!(store.check_key(&k1).unwrap(), KeyCheck::Recorded);
    assert_eq!(store.check_key(&k1).unwrap(), KeyCheck::Same);
    assert_eq!(store.check_key(&k2).unwrap(), KeyCheck::Changed { stored: k1.clone() });
    store.accept_key(&k2).unwrap();
    assert_eq!(store.check_key(&k2).unwrap(), KeyCheck::Same);
    assert_eq!(sqlite3(store.path(), "SELECT value FROM meta WHERE key = 'key_fingerprint'"), k2);
}

// ---------------------------------------------------------------------------------------------
// A writer process, killed with SIGKILL.

/// Rows and bytes of one generation: every row and section carries the generation number, so
/// a mix of two checkpoints is visible.
const GEN_CONSUMERS: u64 = 1500;
const GEN_ENDPOINTS: u64 = 300;

fn generation_checkpoint(store: &mut Store, g: u64) {
    generation_checkpoint_then(store, g, || {});
}

/// Builds generation `g`, calls `before` just before the checkpoint's transaction, writes it.
fn generation_checkpoint_then(store: &mut Store, g: u64, before: impl FnOnce()) {
    let mut inventory = g.to_le_bytes().to_vec();
    inventory.resize(512 * 1024, (g % 251) as u8);
    let mut behaviour = g.to_le_bytes().to_vec();
    behaviour.resize(128 * 1024, (g % 241) as u8);
    let profile = vec![(g % 239) as u8; 2048];
    let consumers: Vec<ConsumerRow> =
        (0..GEN_CONSUMERS).map(|i| consumer(&format!("{i:016x}"), T0 + g, g, &profile)).collect();
    let endpoints: Vec<EndpointRow> =
        (0..GEN_ENDPOINTS).map(|i| endpoint("svc", "GET", &format!("/p/{i}"), "shadow", g, "{}")).collect();
    let findings = vec![finding("f0000000000000000000000000000009", None, None, T0 + g, u32::try_from(g).unwrap(), "{}")];
    let gs = g.to_string();
    before();
    store
        .checkpoint(&Checkpoint {
            packet_time: T0 + g,
            sections: &[Section { name: "inventory", format: 1, data: &inventory }, Section { name: "behaviour", format: 1, data: &behaviour }],
            consumers: &consumers,
            findings: &findings,
            endpoints: Some(&endpoints),
            meta: &[("generation", &gs)],
            ..Checkpoint::default()
        })
        .unwrap();
}

/// The generation a store holds, after checking that every part of it is of that generation.
fn consistent_generation(path: &Path) -> u64 {
    assert_eq!(sqlite3(path, "PRAGMA integrity_check"), "ok");
    let g: u64 = sqlite3(path, "SELECT value FROM meta WHERE key = 'generation'").parse().unwrap();
    assert_eq!(sqlite3(path, "SELECT count(*), min(requests), max(requests) FROM consumers"), format!("{GEN_CONSUMERS}|{g}|{g}"));
    assert_eq!(sqlite3(path, "SELECT count(*), min(requests), max(requests) FROM endpoints"), format!("{GEN_ENDPOINTS}|{g}|{g}"));
    assert_eq!(sqlite3(path, "SELECT version FROM findings"), g.to_string());
    assert_eq!(sqlite3(path, "SELECT value FROM meta WHERE key = 'last_checkpoint'"), (T0 + g).to_string());
    let mut store = Store::open(path).unwrap();
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.packet_time, T0 + g);
    for (name, len) in [("inventory", 512 * 1024), ("behaviour", 128 * 1024)] {
        let data = &loaded.sections[name].data;
        assert_eq!(data.len(), len, "{name}");
        assert_eq!(u64::from_le_bytes(data[..8].try_into().unwrap()), g, "{name} is of generation {g}");
    }
    assert!(loaded.consumers.iter().all(|c| c.requests == g && c.profile.as_deref().is_some_and(|p| p[0] == (g % 239) as u8)));
    g
}

/// Not a test on its own: the child process of the crash tests. Opens the store exclusively
/// (as the daemon does) and checkpoints generation after generation, saying "begin N" before
/// and "done N" after each.
#[test]
#[ignore = "run as a child process by the crash and backup tests"]
fn writer_child() {
    let Ok(path) = std::env::var("APITAP_STORE_WRITER") else { return };
    let mut store = Store::open_exclusive(Path::new(&path)).unwrap();
    let mut g: u64 = store.meta("generation").unwrap().map_or(0, |v| v.parse().unwrap());
    let out = std::io::stdout();
    loop {
        g += 1;
        generation_checkpoint_then(&mut store, g, || writeln!(out.lock(), "begin {g}").unwrap());
        writeln!(out.lock(), "done {g}").unwrap();
    }
}

struct Writer {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Writer {
    fn start(path: &Path) -> Writer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["writer_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("APITAP_STORE_WRITER", path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if line.starts_with("begin ") || line.starts_with("done ") {
                    let _ = tx.send(line);
                }
            }
        });
        Writer { child, lines: rx }
    }

    /// Waits for a line starting with `prefix`; returns its number.
    fn wait_for(&self, prefix: &str) -> u64 {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(60)).expect("the writer stopped writing");
            if let Some(n) = line.strip_prefix(prefix) {
                return n.trim().parse().unwrap();
            }
        }
    }

    /// SIGKILL; returns the last generation begun and the last one done.
    fn kill(mut self, mut begun: u64, mut done: u64) -> (u64, u64) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            if let Some(n) = line.strip_prefix("begin ") {
                begun = n.parse().unwrap();
            } else if let Some(n) = line.strip_prefix("done ") {
                done = n.parse().unwrap();
            }
        }
        (begun, done)
    }
}

#[test]
fn kill_9_during_checkpoints_leaves_a_complete_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    let mut mid_checkpoint_kills = 0;
    let mut previous = 0;
    for round in 0..16u64 {
        let w = Writer::start(&path);
        // Time two checkpoints, then kill somewhere inside the third.
        let first = w.wait_for("done ");
        let t = Instant::now();
        let second = w.wait_for("done ");
        let took = t.elapsed();
        assert_eq!(second, first + 1);
        let begun = w.wait_for("begin ");
        let nanos = u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()) ^ (round * 7919);
        let delay = took.mul_f64(0.1 + 0.8 * (nanos % 1000) as f64 / 1000.0);
        std::thread::sleep(delay);
        let (begun, done) = w.kill(begun, second);
        let g = consistent_generation(&path);
        assert!(g >= previous, "a committed checkpoint was lost: had {previous}, now {g}");
        if begun > done {
            assert!(g == done || g == begun, "killed during {begun} after {done} was done: the store holds {g}");
            if g == done {
                mid_checkpoint_kills += 1;
            }
        } else {
            assert_eq!(g, done);
        }
        previous = g;
        if mid_checkpoint_kills >= 3 {
            break;
        }
    }
    eprintln!("kills inside a checkpoint: {mid_checkpoint_kills}");
    assert!(mid_checkpoint_kills >= 1, "no kill landed inside a checkpoint; the test proved nothing");
}

#[test]
fn backup_while_another_process_writes_is_one_consistent_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    let w = Writer::start(&path);
    w.wait_for("done ");
    let mut seen = Vec::new();
    for i in 0..3 {
        w.wait_for("begin ");
        let backup = dir.path().join(format!("backup-{i}.db"));
        let out = ok(&apitap(&["store", "backup", "--store", s(&path), "--to", s(&backup)]));
        assert!(out.contains("backed up"), "{out}");
        assert_eq!(mode(&backup), 0o600);
        assert!(!dir.path().join(format!("backup-{i}.db-wal")).exists(), "a backup is a single file");
        assert_eq!(sqlite3(&backup, "PRAGMA journal_mode"), "delete");
        seen.push(consistent_generation(&backup));
        // consistent_generation opened the backup as a store, which leaves it in WAL mode; it
        // is still a valid store.
    }
    w.kill(0, 0);
    assert!(seen.windows(2).all(|p| p[0] <= p[1]), "{seen:?}");
    // Backups never overwrite.
    let again = fails(&apitap(&["store", "backup", "--store", s(&path), "--to", s(&dir.path().join("backup-0.db"))]));
    assert!(again.contains("already exists"), "{again}");
}

#[test]
fn restore_brings_a_backup_back_and_is_refused_while_a_daemon_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    let backup = dir.path().join("b.db");
    {
        let mut store = Store::open(&path).unwrap();
        generation_checkpoint(&mut store, 5);
    }
    ok(&apitap(&["store", "backup", "--store", s(&path), "--to", s(&backup)]));
    {
        let mut store = Store::open(&path).unwrap();
        generation_checkpoint(&mut store, 6);
    }
    assert_eq!(consistent_generation(&path), 6);

    {
        let _daemon = Store::open_exclusive(&path).unwrap();
        let err = fails(&apitap(&["store", "restore", "--from", s(&backup), "--store", s(&path)]));
        assert!(err.contains("in use by a running apitap daemon") && err.contains(&format!("process {}", std::process::id())), "{err}");
        assert!(err.contains("stop the daemon"), "{err}");
        // A second daemon is refused too.
        let second = Store::open_exclusive(&path).unwrap_err();
        assert!(matches!(second, StoreError::Locked { .. }), "{second}");
    }
    assert_eq!(consistent_generation(&path), 6, "the refused restore changed nothing");

    let out = ok(&apitap(&["store", "restore", "--from", s(&backup), "--store", s(&path)]));
    assert!(out.contains("restored") && out.contains("2024-05-01T12:00:00.000Z"), "{out}");
    assert_eq!(consistent_generation(&path), 5);
    assert_eq!(mode(&path), 0o600);

    // Into a new file.
    let fresh = dir.path().join("new.db");
    ok(&apitap(&["store", "restore", "--from", s(&backup), "--store", s(&fresh)]));
    assert_eq!(consistent_generation(&fresh), 5);
    assert_eq!(mode(&fresh), 0o600);

    // Not from something that is not a store, not over something that is not ours.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, but long enough to have a header of sorts......................................................").unwrap();
    let err = fails(&apitap(&["store", "restore", "--from", s(&text), "--store", s(&fresh)]));
    assert!(err.contains("not an apitap store"), "{err}");
    let foreign = dir.path().join("other.db");
    sqlite3(&foreign, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    let err = fails(&apitap(&["store", "restore", "--from", s(&backup), "--store", s(&foreign)]));
    assert!(err.contains("not an apitap store") && err.contains("move it away"), "{err}");
    assert_eq!(sqlite3(&foreign, "SELECT x FROM t"), "1");
    let err = fails(&apitap(&["store", "restore", "--from", s(&dir.path().join("missing.db")), "--store", s(&fresh)]));
    assert!(err.contains("missing.db: no such store"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Schema versions.

/// The version 1 schema, written out by hand as a store of that version holds it.
const V1_BY_HAND: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE state (section TEXT PRIMARY KEY, format INTEGER NOT NULL, updated INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE consumers (id TEXT PRIMARY KEY, label TEXT, source TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, format INTEGER NOT NULL DEFAULT 0, profile BLOB);
CREATE INDEX consumers_last_seen ON consumers(last_seen);
CREATE TABLE consumer_customers (consumer_id TEXT NOT NULL, customer_id TEXT NOT NULL, last_seen INTEGER NOT NULL,
    PRIMARY KEY (consumer_id, customer_id)) WITHOUT ROWID;
CREATE INDEX consumer_customers_customer ON consumer_customers(customer_id);
CREATE INDEX consumer_customers_last_seen ON consumer_customers(last_seen);
CREATE TABLE findings (finding_id TEXT PRIMARY KEY, kind TEXT NOT NULL, severity TEXT NOT NULL, consumer_id TEXT, customer_id TEXT,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, lifecycle TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX findings_consumer ON findings(consumer_id);
CREATE INDEX findings_customer ON findings(customer_id);
CREATE INDEX findings_last_seen ON findings(last_seen);
CREATE TABLE endpoints (service TEXT NOT NULL, method TEXT NOT NULL, template TEXT NOT NULL, class TEXT NOT NULL,
    first_seen INTEGER, last_seen INTEGER, requests INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL, PRIMARY KEY (service, method, template));
CREATE INDEX endpoints_class ON endpoints(class);
CREATE TABLE reports (id INTEGER PRIMARY KEY AUTOINCREMENT, generated_at INTEGER NOT NULL, packet_time INTEGER NOT NULL,
    formats TEXT NOT NULL, endpoint_keys TEXT NOT NULL);
CREATE TABLE erasures (id INTEGER PRIMARY KEY AUTOINCREMENT, requested_at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('consumer', 'customer', 'older_than')), subject TEXT, cutoff INTEGER, applied_at TEXT);
INSERT INTO migrations VALUES (1, '2024-01-01T00:00:00.000Z', 'tables');
INSERT INTO meta VALUES ('created', '2024-01-01T00:00:00.000Z'), ('last_checkpoint', '1714564800000000000');
INSERT INTO state VALUES ('inventory', 1, 1714564800000000000, X'0102030405');
INSERT INTO consumers VALUES ('a1b2c3d4e5f60718', 'tpp one', 'certificate', 1714478400000000000, 1714564800000000000, 42, 1, X'AABB');
INSERT INTO findings VALUES ('f0', 'bola', 'critical', 'a1b2c3d4e5f60718', NULL, 1714564800000000000, 1714564800000000000, 'new', 1, '{}');
PRAGMA application_id = 1634756980;
PRAGMA user_version = 1;
";

#[test]
fn a_version_1_store_made_by_hand_is_upgraded_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    assert_eq!(APPLICATION_ID, 1_634_756_980, "the fixture's application_id");
    sqlite3(&path, V1_BY_HAND);
    let info = ok(&apitap(&["store", "info", "--store", s(&path)]));
    assert!(info.contains("schema version:   1 (this apitap: 3)"), "{info}");

    // Refused while a daemon holds the store: it would change the schema beneath it.
    {
        let _lock = StoreLock::acquire(&path, "test").unwrap();
        let err = fails(&apitap(&["store", "migrate", "--store", s(&path)]));
        assert!(err.contains("cannot upgrade the schema of") && err.contains("stop the daemon"), "{err}");
        assert_eq!(sqlite3(&path, "PRAGMA user_version"), "1");
    }

    let out = ok(&apitap(&["store", "migrate", "--store", s(&path)]));
    assert!(out.contains("from schema version 1 to 3"), "{out}");
    assert_eq!(sqlite3(&path, "PRAGMA user_version"), "3");
    assert_eq!(sqlite3(&path, "SELECT version FROM migrations ORDER BY version"), "1\n2\n3");
    assert_eq!(sqlite3(&path, "SELECT id, label, requests, errors, endpoints, first_seen, last_seen, profile_bytes FROM consumers_v"),
        "a1b2c3d4e5f60718|tpp one|42|0|0|2024-04-30T12:00:00.000Z|2024-05-01T12:00:00.000Z|2",
        "the counts a version 1 row never had are 0 until the daemon writes the row again");
    assert_eq!(sqlite3(&path, "SELECT kind, severity, first_seen FROM findings_v"), "bola|critical|2024-05-01T12:00:00.000Z");
    let mut store = Store::open(&path).unwrap();
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.sections["inventory"].data, vec![1, 2, 3, 4, 5]);
    assert_eq!(loaded.consumers[0].profile.as_deref(), Some(&[0xAA, 0xBB][..]));
    drop(store);
    let again = ok(&apitap(&["store", "migrate", "--store", s(&path)]));
    assert!(again.contains("already at schema version 3"), "{again}");
}

#[test]
fn an_empty_file_becomes_a_store_at_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let out = ok(&apitap(&["store", "migrate", "--store", s(&path)]));
    assert!(out.contains("from schema version 0 to 3"), "{out}");
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM migrations"), "3");
    assert_eq!(sqlite3(&path, "PRAGMA application_id"), "1634756980");
}

#[test]
fn newer_schemas_and_other_files_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.db");
    sqlite3(&newer, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); PRAGMA application_id = 1634756980; PRAGMA user_version = 99;");
    for args in [vec!["store", "info", "--store", s(&newer)], vec!["store", "migrate", "--store", s(&newer)], vec!["purge", "--store", s(&newer), "--expired"]] {
        let err = fails(&apitap(&args));
        assert!(err.contains("schema version 99") && err.contains("knows versions up to 3"), "{err}");
        assert!(err.contains("upgrade apitap") && err.contains("restore a backup"), "{err}");
    }
    let e = Store::open(&newer).unwrap_err();
    assert!(matches!(e, StoreError::NewerSchema { found: 99, supported: 3, .. }), "{e}");
    assert_eq!(sqlite3(&newer, "PRAGMA user_version"), "99", "left as it was");

    let foreign = dir.path().join("foreign.db");
    sqlite3(&foreign, "CREATE TABLE customers (id, name);");
    let err = fails(&apitap(&["store", "info", "--store", s(&foreign)]));
    assert!(err.contains("foreign.db: not an apitap store") && err.contains("another application"), "{err}");
    assert!(matches!(Store::open(&foreign).unwrap_err(), StoreError::NotAStore { .. }));

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not SQLite at all, and it is long enough to look like a header....................................").unwrap();
    let err = fails(&apitap(&["purge", "--store", s(&text), "--consumer", CONSUMER_A]));
    assert!(err.contains("notes.txt: not an apitap store (not a SQLite database)"), "{err}");

    let missing = dir.path().join("missing.db");
    let err = fails(&apitap(&["store", "info", "--store", s(&missing)]));
    assert!(err.contains("missing.db: no such store"), "{err}");
    assert!(!missing.exists(), "info does not create a store");
}

#[test]
fn store_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    // Make the test meaningful: show the umask would give others read access.
    let probe = dir.path().join("probe");
    std::fs::File::create(&probe).unwrap();
    let loose = mode(&probe) & 0o077 != 0;
    let path = dir.path().join("apitap.db");
    let mut store = Store::open_exclusive(&path).unwrap();
    generation_checkpoint(&mut store, 1);
    for p in [path.clone(), dir.path().join("apitap.db-wal"), dir.path().join("apitap.db-shm"), dir.path().join("apitap.db.lock")] {
        assert!(p.exists(), "{}", p.display());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    let backup = dir.path().join("b.db");
    store.backup(&backup).unwrap();
    assert_eq!(mode(&backup), 0o600);
    drop(store);
    // A store copied in with a loose mode is tightened when opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
    // Through the binary under a loose umask.
    let restored = dir.path().join("r.db");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 022; exec '{}' store restore --from '{}' --store '{}'", env!("CARGO_BIN_EXE_apitap"), s(&backup), s(&restored)))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&restored), 0o600);
    assert_eq!(mode(&dir.path().join("r.db.lock")), 0o600);
    eprintln!("umask leaves files readable by others: {loose}");
}

#[test]
fn info_shows_versions_counts_and_the_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apitap.db");
    erasure_fixture(&path);
    let daemon = Store::open_exclusive(&path).unwrap();
    let out = ok(&apitap(&["store", "info", "--store", s(&path)]));
    assert!(out.contains(&format!("by a running daemon (process {})", std::process::id())), "{out}");
    assert!(out.contains("last checkpoint:  2024-05-01T12:00:00.000Z"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&ok(&apitap(&["store", "info", "--store", s(&path), "--json"]))).unwrap();
    assert_eq!(json["rows"]["consumers"], 2);
    assert_eq!(json["rows"]["consumer_customers"], 3);
    assert_eq!(json["rows"]["findings"], 3);
    assert_eq!(json["schema_version"], 3);
    assert_eq!(json["sections"]["identity"], "links: a1b2c3d4e5f60718->c0ffee00deadbeef; 0f1e2d3c4b5a6978->feedface01234567".len());
    drop(daemon);
    let out = ok(&apitap(&["store", "info", "--store", s(&path)]));
    assert!(out.contains("no daemon holds it"), "{out}");
}
