//! The schema and its migrations: an ordered list of SQL steps, applied forward in one
//! transaction when a store is opened. The version lives in `PRAGMA user_version`; the
//! `migrations` table says when each step ran. A new schema version is one more entry at the
//! end of [`MIGRATIONS`]; entries are never edited once released.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::{Result, SqlContext, StoreError};
use super::files;

/// `PRAGMA application_id` of an apitap store ("apit"): tells our file from any other SQLite
/// database, so a wrong `--store` path is refused instead of being written into.
pub const APPLICATION_ID: i32 = 0x6170_6974;

/// One schema step.
#[derive(Debug)]
pub struct Migration {
    /// The schema version this step produces (1, 2, ...; consecutive).
    pub version: u32,
    /// What it does, recorded in the `migrations` table.
    pub description: &'static str,
    /// The SQL, run as one batch inside the upgrade's transaction.
    pub sql: &'static str,
}

/// Every schema step in order. The last entry's version is [`LATEST`].
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, description: "tables: meta, state, consumers, customer links, findings, endpoints, reports, erasures", sql: V1 },
    Migration { version: 2, description: "views with readable times (*_v) for analysts", sql: V2 },
    Migration { version: 3, description: "consumers: errors and distinct endpoints for the reports' consumer table", sql: V3 },
];

/// The schema version this binary writes.
pub const LATEST: u32 = 3;

const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE state (
    section TEXT PRIMARY KEY,
    format  INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    data    BLOB NOT NULL
);
CREATE TABLE consumers (
    id         TEXT PRIMARY KEY,
    label      TEXT,
    source     TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    requests   INTEGER NOT NULL DEFAULT 0,
    format     INTEGER NOT NULL DEFAULT 0,
    profile    BLOB
);
CREATE INDEX consumers_last_seen ON consumers(last_seen);
CREATE TABLE consumer_customers (
    consumer_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (consumer_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX consumer_customers_customer ON consumer_customers(customer_id);
CREATE INDEX consumer_customers_last_seen ON consumer_customers(last_seen);
CREATE TABLE findings (
    finding_id  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    consumer_id TEXT,
    customer_id TEXT,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    lifecycle   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX findings_consumer ON findings(consumer_id);
CREATE INDEX findings_customer ON findings(customer_id);
CREATE INDEX findings_last_seen ON findings(last_seen);
CREATE TABLE endpoints (
    service    TEXT NOT NULL,
    method     TEXT NOT NULL,
    template   TEXT NOT NULL,
    class      TEXT NOT NULL,
    first_seen INTEGER,
    last_seen  INTEGER,
    requests   INTEGER NOT NULL DEFAULT 0,
    data       TEXT NOT NULL,
    PRIMARY KEY (service, method, template)
);
CREATE INDEX endpoints_class ON endpoints(class);
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    generated_at  INTEGER NOT NULL,
    packet_time   INTEGER NOT NULL,
    formats       TEXT NOT NULL,
    endpoint_keys TEXT NOT NULL
);
CREATE TABLE erasures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_at TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('consumer', 'customer', 'older_than')),
    subject      TEXT,
    cutoff       INTEGER,
    applied_at   TEXT
);
";

/// Packet times are integer unix nanoseconds (exact, and compared by retention); these views
/// show them as ISO-8601 UTC to the millisecond.
const V2: &str = "
CREATE VIEW state_v AS
    SELECT section, format, strftime('%Y-%m-%dT%H:%M:%fZ', updated / 1e9, 'unixepoch') AS updated,
           length(data) AS bytes
    FROM state;
CREATE VIEW consumers_v AS
    SELECT id, label, source,
           strftime('%Y-%m-%dT%H:%M:%fZ', first_seen / 1e9, 'unixepoch') AS first_seen,
           strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch') AS last_seen,
           requests, length(profile) AS profile_bytes
    FROM consumers;
CREATE VIEW consumer_customers_v AS
    SELECT consumer_id, customer_id, strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch') AS last_seen
    FROM consumer_customers;
CREATE VIEW findings_v AS
    SELECT finding_id, kind, severity, consumer_id, customer_id,
           strftime('%Y-%m-%dT%H:%M:%fZ', first_seen / 1e9, 'unixepoch') AS first_seen,
           strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch') AS last_seen,
           lifecycle, version, data
    FROM findings;
CREATE VIEW endpoints_v AS
    SELECT service, method, template, class,
           strftime('%Y-%m-%dT%H:%M:%fZ', first_seen / 1e9, 'unixepoch') AS first_seen,
           strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch') AS last_seen,
           requests, data
    FROM endpoints;
CREATE VIEW reports_v AS
    SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', generated_at / 1e9, 'unixepoch') AS generated_at,
           strftime('%Y-%m-%dT%H:%M:%fZ', packet_time / 1e9, 'unixepoch') AS packet_time,
           formats, json_array_length(endpoint_keys) AS endpoints
    FROM reports;
";

/// The consumer table's counts of errors and distinct endpoints (0 in rows written before
/// them, until the daemon's next checkpoint of that consumer).
const V3: &str = "
ALTER TABLE consumers ADD COLUMN errors INTEGER NOT NULL DEFAULT 0;
ALTER TABLE consumers ADD COLUMN endpoints INTEGER NOT NULL DEFAULT 0;
DROP VIEW consumers_v;
CREATE VIEW consumers_v AS
    SELECT id, label, source,
           strftime('%Y-%m-%dT%H:%M:%fZ', first_seen / 1e9, 'unixepoch') AS first_seen,
           strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch') AS last_seen,
           requests, errors, endpoints, length(profile) AS profile_bytes
    FROM consumers;
";

/// What the file at hand is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// An empty SQLite file (or one of size 0): a new store.
    Fresh,
    /// An apitap store at this schema version.
    Version(u32),
}

/// Looks at the file's header: refuses other applications' databases and newer schemas.
pub fn identify(conn: &Connection, path: &Path) -> Result<Found> {
    let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).sql(path, "read the store header")?;
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).sql(path, "read the schema version")?;
    let objects: u64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .sql(path, "list the store's tables")?;
    let found = match app {
        APPLICATION_ID => Found::Version(version),
        0 if objects == 0 && version == 0 => Found::Fresh,
        0 => {
            return Err(StoreError::NotAStore {
                path: path.to_path_buf(),
                why: format!("a SQLite database of another application: {objects} tables and views, no apitap application id"),
            })
        }
        other => {
            return Err(StoreError::NotAStore {
                path: path.to_path_buf(),
                why: format!("a SQLite database of another application (application_id {other:#x})"),
            })
        }
    };
    if let Found::Version(v) = found {
        if v > LATEST {
            return Err(StoreError::NewerSchema { path: path.to_path_buf(), found: v, supported: LATEST });
        }
    }
    Ok(found)
}

/// Applies every step after the store's version in one transaction: a failure or a kill
/// leaves the store at its old version. Returns the version it started from.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).sql(path, "start the schema upgrade")?;
    // Read again under the write lock: another process may have upgraded meanwhile.
    let from = match identify(&tx, path)? {
        Found::Fresh => 0,
        Found::Version(v) => v,
    };
    let now = files::iso(files::wall_ns());
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        tx.execute_batch(m.sql).sql(path, &format!("upgrade the schema to version {}", m.version))?;
        tx.execute(
            "INSERT INTO migrations (version, applied_at, description) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, now, m.description],
        )
        .sql(path, "record the schema upgrade")?;
    }
    if from == 0 {
        tx.execute("INSERT INTO meta (key, value) VALUES ('created', ?1)", [&now]).sql(path, "record the store's creation")?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID).sql(path, "mark the file as an apitap store")?;
    tx.pragma_update(None, "user_version", LATEST).sql(path, "record the schema version")?;
    tx.commit().sql(path, "commit the schema upgrade")?;
    Ok(from)
}
