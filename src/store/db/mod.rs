//! The persistent store: one SQLite file in WAL mode holding what the daemon must not lose on
//! a restart (inventory, baselines, identity links, alert state as encoded blobs), plus
//! readable tables for analysts (consumers, findings, endpoints, reports) and the erasure log.
//!
//! The store is generic over what it keeps: the daemon encodes its state into [`Section`]
//! blobs and rows, and decodes them from [`Loaded`]; the store never interprets a blob.
//!
//! Guarantees: a [`Store::checkpoint`] is one SQLite transaction, so a `kill -9` at any moment
//! leaves the previous or the new checkpoint, never a mix. With `synchronous=NORMAL` a
//! committed checkpoint survives the process being killed; an operating-system crash or power
//! loss may lose the last checkpoints that were not yet written back from the WAL (never the
//! store's consistency). The file, its `-wal` and `-shm` and the lock file are created mode
//! 0600.
//!
//! Not supported: two writers (two daemons) on one store (the lock refuses the second), a
//! store on a network file system (SQLite's WAL needs shared memory on one host), stores
//! larger than SQLite's limits (281 TB, blobs of 1 GB).

mod backup;
mod checkpoint;
mod error;
mod files;
mod purge;
mod records;
mod retention;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use backup::{BackupStats, RestoreStats, StoreInfo, TableRows};
pub use checkpoint::{Checkpoint, CheckpointStats, ConsumerRow, CustomerLink, Loaded, Section, StoredSection};
pub use error::{Result, StoreError};
pub use files::{iso, wall_ns, StoreLock, FILE_MODE};
pub use purge::{Erasure, ErasureKind, Purge, PurgeStats};
pub use records::{EndpointRow, FindingQuery, FindingRow, ReportRecord, StoredReport};
pub use retention::{DataKind, Retention, RetentionConfig};
pub use schema::{Migration, APPLICATION_ID, LATEST, MIGRATIONS};

use error::SqlContext;

/// How long a statement waits for another connection's write lock before failing (a purge or
/// backup command while the daemon checkpoints).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Well-known keys of the `meta` table.
pub mod meta {
    /// The sensor's id (`apitap run` sets it).
    pub const SENSOR_ID: &str = "sensor_id";
    /// When the store was created (ISO-8601, wall clock).
    pub const CREATED: &str = "created";
    /// A keyed digest of the hashing key ([`super::key_fingerprint`]), never the key.
    pub const KEY_FINGERPRINT: &str = "key_fingerprint";
    /// Packet time of the last checkpoint (unix ns, decimal).
    pub const LAST_CHECKPOINT: &str = "last_checkpoint";
    /// The same as ISO-8601, for people.
    pub const LAST_CHECKPOINT_ISO: &str = "last_checkpoint_iso";
    /// Wall-clock time the last checkpoint was written (ISO-8601).
    pub const LAST_CHECKPOINT_WRITTEN: &str = "last_checkpoint_written";
    /// The apitap version that wrote the last checkpoint.
    pub const WRITER_VERSION: &str = "writer_version";
}

/// Bounds on what the store keeps beyond retention, so a flood of findings cannot fill the
/// disk between two purges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Rows in `findings`; past it, each checkpoint deletes the oldest by `last_seen`
    /// (counted in [`CheckpointStats::findings_dropped`]). Default 1,000,000 (about 1 GB at
    /// 1 KB of JSON each).
    pub max_findings: u64,
    /// Rows in `reports`; past it the oldest go. Default 20,000 (two years of hourly reports).
    pub max_reports: u64,
    /// Rows a [`FindingQuery`] returns at most. Default 100,000.
    pub max_query_rows: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self { max_findings: 1_000_000, max_reports: 20_000, max_query_rows: 100_000 }
    }
}

/// What [`Store::check_key`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The store had no key fingerprint; this one is now recorded.
    Recorded,
    /// The same key as when the store was written.
    Same,
    /// A different key: ids in the store (consumers, customers, findings) were made with the
    /// old one. The stored fingerprint is left as it was; [`Store::accept_key`] replaces it.
    Changed {
        /// The fingerprint in the store.
        stored: String,
    },
}

/// A keyed digest of the deployment's hashing key: lets a restarted daemon notice that the key
/// changed without the store holding the key. SipHash-1-3 with 128-bit output is a PRF keyed
/// by the key, so the digest reveals nothing about it.
pub fn key_fingerprint(key: &[u8; 16]) -> String {
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::hash::Hasher;
    let mut h = SipHasher13::new_with_key(key);
    h.write(b"apitap store key fingerprint v1");
    format!("{:032x}", h.finish128().as_u128())
}

/// An open store. One writer at a time: the daemon opens it with [`Store::open_exclusive`];
/// commands that run beside the daemon (purge, backup, info) use their own connection and
/// wait up to [`BUSY_TIMEOUT`] for its write lock.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    lock: Option<StoreLock>,
    migrated_from: Option<u32>,
    limits: StoreLimits,
}

impl Store {
    /// Opens the store at `path`, creating it (mode 0600) or upgrading its schema as needed.
    /// Refuses a file that is not an apitap store and a schema newer than [`LATEST`]. An
    /// upgrade takes the lock file for its duration and is refused while a daemon holds it.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_with(path, true, false)
    }

    /// Like [`Store::open`], and holds `<path>.lock` until the store is dropped: a second
    /// daemon, a restore and a schema upgrade are refused meanwhile. The daemon opens its store
    /// this way.
    pub fn open_exclusive(path: &Path) -> Result<Store> {
        Self::open_with(path, true, true)
    }

    /// Like [`Store::open`] but never creates: a missing file is [`StoreError::NoSuchStore`].
    /// For commands given a `--store` path.
    pub fn open_existing(path: &Path) -> Result<Store> {
        Self::open_with(path, false, false)
    }

    fn open_with(path: &Path, create: bool, exclusive: bool) -> Result<Store> {
        if !path.exists() {
            if !create {
                return Err(StoreError::NoSuchStore { path: path.to_path_buf() });
            }
            files::create_private(path)?;
        }
        let lock = if exclusive { Some(StoreLock::acquire(path, "open")?) } else { None };
        Self::open_inner(path, lock)
    }

    /// Opens a store whose lock the caller already holds (restore), keeping it.
    fn open_locked(path: &Path, lock: StoreLock) -> Result<Store> {
        Self::open_inner(path, Some(lock))
    }

    fn open_inner(path: &Path, lock: Option<StoreLock>) -> Result<Store> {
        files::tighten(path);
        let mut conn = connect(path)?;
        let current = match schema::identify(&conn, path)? {
            schema::Found::Fresh => 0,
            schema::Found::Version(v) => v,
        };
        // Upgrading under a running daemon of the old version would change the schema beneath
        // it: an upgrade holds the lock (the daemon's own, or one taken for it).
        let _guard = if current < LATEST && lock.is_none() { Some(StoreLock::acquire(path, "upgrade the schema of")?) } else { None };
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .sql(path, "switch the store to WAL mode")?;
        let migrated_from = if current < LATEST { Some(schema::migrate(&mut conn, path)?) } else { None };
        files::tighten(path);
        Ok(Store { conn, path: path.to_path_buf(), lock, migrated_from, limits: StoreLimits::default() })
    }

    /// Replaces the default [`StoreLimits`].
    pub fn with_limits(mut self, limits: StoreLimits) -> Store {
        self.limits = limits;
        self
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the store had before this open upgraded it (0: created now);
    /// `None` when it was already at [`LATEST`].
    pub fn migrated_from(&self) -> Option<u32> {
        self.migrated_from
    }

    /// True when this store holds the lock file ([`Store::open_exclusive`]).
    pub fn is_exclusive(&self) -> bool {
        self.lock.is_some()
    }

    /// A `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .sql(&self.path, &format!("read meta key {key}"))
    }

    /// Sets a `meta` value (the daemon's sensor id, ...).
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        set_meta(&self.conn, key, value).sql(&self.path, &format!("write meta key {key}"))
    }

    /// Compares the hashing key's fingerprint with the one recorded; records it when there is
    /// none.
    pub fn check_key(&mut self, fingerprint: &str) -> Result<KeyCheck> {
        match self.meta(meta::KEY_FINGERPRINT)? {
            None => {
                self.set_meta(meta::KEY_FINGERPRINT, fingerprint)?;
                Ok(KeyCheck::Recorded)
            }
            Some(s) if s == fingerprint => Ok(KeyCheck::Same),
            Some(stored) => Ok(KeyCheck::Changed { stored }),
        }
    }

    /// Records a new key fingerprint (after a documented key rotation).
    pub fn accept_key(&mut self, fingerprint: &str) -> Result<()> {
        self.set_meta(meta::KEY_FINGERPRINT, fingerprint)
    }

    /// Packet time of the last checkpoint, `None` before the first.
    pub fn last_checkpoint(&self) -> Result<Option<u64>> {
        last_checkpoint(&self.conn, &self.path)
    }
}

/// Opens a connection with the store's settings: a busy timeout, foreign keys, secure delete
/// (erased personal data is overwritten, not left in free pages) and `synchronous=NORMAL`
/// (with WAL: durable against a process kill, not against power loss; see docs/store.md).
fn connect(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).sql(path, "open the store")?;
    conn.busy_timeout(BUSY_TIMEOUT).sql(path, "set the busy timeout")?;
    conn.pragma_update(None, "foreign_keys", true).sql(path, "enable foreign keys")?;
    conn.pragma_update(None, "secure_delete", true).sql(path, "enable secure delete")?;
    conn.pragma_update(None, "synchronous", "NORMAL").sql(path, "set synchronous=NORMAL")?;
    Ok(conn)
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .map(|_| ())
}

fn last_checkpoint(conn: &Connection, path: &Path) -> Result<Option<u64>> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [meta::LAST_CHECKPOINT], |r| r.get(0))
        .optional()
        .sql(path, "read the last checkpoint time")?;
    match v {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| StoreError::Corrupt {
            path: path.to_path_buf(),
            what: format!("meta key {} is {s:?}, not a number of nanoseconds", meta::LAST_CHECKPOINT),
        }),
    }
}
