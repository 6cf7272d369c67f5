//! Online backup, restore and the summary `apitap store info` prints.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;
use serde::Serialize;

use super::error::{io_err, Result, SqlContext, StoreError};
use super::files::{self, iso, sibling, StoreLock};
use super::schema::{self, Found, LATEST};
use super::{connect, last_checkpoint, meta, Store};

/// How many times a backup step that found the source busy is retried (50 ms apart) before
/// giving up: 10 minutes.
const MAX_BUSY_RETRIES: u32 = 12_000;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupStats {
    /// The backup file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its schema version.
    pub schema_version: u32,
    /// Packet time of the last checkpoint it holds (unix ns).
    pub last_checkpoint: Option<u64>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreStats {
    /// The store written.
    pub path: PathBuf,
    /// The backup's schema version.
    pub from_version: u32,
    /// The store's version after the restore (the backup upgraded when older).
    pub schema_version: u32,
    /// Packet time of the restored last checkpoint (unix ns).
    pub last_checkpoint: Option<u64>,
}

/// Row counts per table.
pub type TableRows = BTreeMap<String, u64>;

/// The store at a glance (`apitap store info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreInfo {
    /// The store file.
    pub path: PathBuf,
    /// Its schema version.
    pub schema_version: u32,
    /// The newest version this binary knows.
    pub supported_version: u32,
    /// The bundled SQLite's version.
    pub sqlite_version: String,
    /// Size of the store file (bytes).
    pub file_bytes: u64,
    /// Size of its write-ahead log (bytes).
    pub wal_bytes: u64,
    /// Unused pages (bytes) a `VACUUM` would give back.
    pub free_bytes: u64,
    /// Row count of each table.
    pub rows: TableRows,
    /// Bytes of each state section.
    pub sections: BTreeMap<String, u64>,
    /// Packet time of the last checkpoint (unix ns).
    pub last_checkpoint: Option<u64>,
    /// The `meta` table (sensor id, created, key fingerprint, ...).
    pub meta: BTreeMap<String, String>,
    /// Erasures not yet applied by a daemon.
    pub pending_erasures: u64,
    /// Process id of the daemon holding the store, when one does.
    pub locked_by: Option<u32>,
}

const TABLES: [&str; 9] =
    ["meta", "migrations", "state", "consumers", "consumer_customers", "findings", "endpoints", "reports", "erasures"];

/// Opens an existing store (or backup) without changing it: no schema upgrade, no journal
/// mode change. Refuses what is not an apitap store and newer schemas.
fn inspect(path: &Path) -> Result<(Connection, u32)> {
    if !path.exists() {
        return Err(StoreError::NoSuchStore { path: path.to_path_buf() });
    }
    let conn = connect(path)?;
    match schema::identify(&conn, path)? {
        Found::Version(v) => Ok((conn, v)),
        Found::Fresh => Err(StoreError::NotAStore { path: path.to_path_buf(), why: "an empty file".into() }),
    }
}

fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let result: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).sql(path, "check the file")?;
    if result != "ok" {
        return Err(StoreError::NotAStore { path: path.to_path_buf(), why: format!("damaged: SQLite's check says {result}") });
    }
    Ok(())
}

/// Copies all of `from` into `to` with SQLite's online backup: the copy is one consistent
/// snapshot even while another connection writes (in WAL mode writers are not blocked).
fn copy(from: &Connection, from_path: &Path, to: &mut Connection, to_path: &Path) -> Result<()> {
    let b = Backup::new(from, to).sql(to_path, &format!("start copying {}", from_path.display()))?;
    let mut busy = 0;
    loop {
        match b.step(-1).sql(to_path, &format!("copy {}", from_path.display()))? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => {
                busy += 1;
                if busy > MAX_BUSY_RETRIES {
                    return Err(StoreError::Sqlite {
                        path: from_path.to_path_buf(),
                        doing: "copy the store".into(),
                        source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {}
        }
    }
}

/// Backs `conn`'s store up into `dest` (which must not exist): written to `<dest>.partial`,
/// checked, switched to a single self-contained file (no `-wal` beside it), flushed, then
/// renamed into place, so a crash never leaves a half backup under the final name.
fn backup_into(conn: &Connection, store: &Path, dest: &Path) -> Result<BackupStats> {
    if dest.exists() {
        return Err(StoreError::Exists { path: dest.to_path_buf() });
    }
    let partial = sibling(dest, ".partial");
    match std::fs::remove_file(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&partial, "remove an earlier partial backup")(e)),
    }
    files::create_private(&partial)?;
    let result = (|| {
        let mut out = Connection::open(&partial).sql(&partial, "open the backup file")?;
        copy(conn, store, &mut out, &partial)?;
        out.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
            .sql(&partial, "make the backup a single file")?;
        quick_check(&out, &partial)?;
        let version: u32 = out.pragma_query_value(None, "user_version", |r| r.get(0)).sql(&partial, "read the backup's version")?;
        let last = last_checkpoint(&out, &partial)?;
        drop(out);
        std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io_err(&partial, "flush the backup to disk"))?;
        Ok((version, last))
    })();
    let (schema_version, last_checkpoint) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    if dest.exists() {
        let _ = std::fs::remove_file(&partial);
        return Err(StoreError::Exists { path: dest.to_path_buf() });
    }
    std::fs::rename(&partial, dest).map_err(io_err(dest, "move the backup into place"))?;
    files::sync_dir(dest)?;
    Ok(BackupStats { path: dest.to_path_buf(), bytes: files::size(dest), schema_version, last_checkpoint })
}

fn info_of(conn: &Connection, path: &Path, version: u32) -> Result<StoreInfo> {
    let mut rows = TableRows::new();
    for t in TABLES {
        // A table added by a later schema version is absent from an older store.
        let exists: bool = conn
            .query_row("SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1", [t], |r| r.get(0))
            .sql(path, "list the tables")?;
        if !exists {
            continue;
        }
        let n: u64 = conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)).sql(path, &format!("count the rows of {t}"))?;
        rows.insert(t.to_string(), n);
    }
    let mut sections = BTreeMap::new();
    {
        let mut q = conn.prepare("SELECT section, length(data) FROM state ORDER BY section").sql(path, "read the state")?;
        let it = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))).sql(path, "read the state")?;
        for row in it {
            let (name, bytes) = row.sql(path, "read the state")?;
            sections.insert(name, bytes);
        }
    }
    let mut meta_rows = BTreeMap::new();
    {
        let mut q = conn.prepare("SELECT key, value FROM meta ORDER BY key").sql(path, "read meta")?;
        let it = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).sql(path, "read meta")?;
        for row in it {
            let (k, v) = row.sql(path, "read meta")?;
            meta_rows.insert(k, v);
        }
    }
    let page_size: u64 = conn.pragma_query_value(None, "page_size", |r| r.get(0)).sql(path, "read the page size")?;
    let free: u64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0)).sql(path, "read the free pages")?;
    let pending: u64 = conn
        .query_row("SELECT count(*) FROM erasures WHERE applied_at IS NULL", [], |r| r.get(0))
        .sql(path, "count the pending erasures")?;
    let locked_by = StoreLock::holder(path).map(|pid| pid.unwrap_or(0));
    Ok(StoreInfo {
        path: path.to_path_buf(),
        schema_version: version,
        supported_version: LATEST,
        sqlite_version: rusqlite::version().to_string(),
        file_bytes: files::size(path),
        wal_bytes: files::size(&sibling(path, "-wal")),
        free_bytes: free * page_size,
        rows,
        sections,
        last_checkpoint: last_checkpoint(conn, path)?,
        meta: meta_rows,
        pending_erasures: pending,
        locked_by,
    })
}

impl Store {
    /// Backs this store up into `dest` (must not exist) while it stays in use.
    pub fn backup(&self, dest: &Path) -> Result<BackupStats> {
        backup_into(&self.conn, &self.path, dest)
    }

    /// Backs up the store at `store` (which may be in use by a running daemon) into `dest`,
    /// without upgrading or otherwise changing it.
    pub fn backup_file(store: &Path, dest: &Path) -> Result<BackupStats> {
        let (conn, _) = inspect(store)?;
        backup_into(&conn, store, dest)
    }

    /// Replaces the store at `dest` with the backup at `backup`. Checks first that the backup
    /// is an undamaged apitap store of a version this binary knows; refuses while a daemon
    /// holds `dest` ([`StoreError::Locked`]) and when `dest` exists but is not an apitap store
    /// (it is not ours to overwrite). The copy goes through SQLite's backup API into `dest`, so
    /// it is atomic; an older backup is then upgraded to [`LATEST`].
    pub fn restore(backup: &Path, dest: &Path) -> Result<RestoreStats> {
        let (src, from_version) = inspect(backup)?;
        quick_check(&src, backup)?;
        let lock = StoreLock::acquire(dest, "restore over")?;
        if dest.exists() && files::size(dest) > 0 {
            let (existing, _) = inspect(dest).map_err(|e| {
                let why = match e {
                    StoreError::NotAStore { why, .. } => why,
                    StoreError::NewerSchema { found, .. } => format!("schema version {found}, newer than this apitap"),
                    other => return other,
                };
                StoreError::NotAStore {
                    path: dest.to_path_buf(),
                    why: format!("{why}; restore does not overwrite it: move it away (mv) and run the restore again"),
                }
            })?;
            drop(existing);
        }
        files::create_private(dest)?;
        files::tighten(dest);
        {
            let mut out = connect(dest)?;
            copy(&src, backup, &mut out, dest)?;
        }
        drop(src);
        // Opened with the lock already held: upgrading needs it, and nobody else may take it
        // between the copy and the upgrade.
        let store = Store::open_locked(dest, lock)?;
        Ok(RestoreStats {
            path: dest.to_path_buf(),
            from_version,
            schema_version: LATEST,
            last_checkpoint: store.last_checkpoint()?,
        })
    }

    /// The store at `path` at a glance, without changing it (works beside a running daemon).
    pub fn info_file(path: &Path) -> Result<StoreInfo> {
        let (conn, version) = inspect(path)?;
        info_of(&conn, path, version)
    }

    /// This store at a glance.
    pub fn info(&self) -> Result<StoreInfo> {
        info_of(&self.conn, &self.path, LATEST)
    }
}

impl fmt::Display for StoreInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kib = |b: u64| b.div_ceil(1024);
        writeln!(f, "store:            {}", self.path.display())?;
        let upgrade = if self.schema_version < self.supported_version { " (upgraded when the daemon next opens it, or with `apitap store migrate`)" } else { "" };
        writeln!(f, "schema version:   {} (this apitap: {}){upgrade}", self.schema_version, self.supported_version)?;
        writeln!(f, "size:             {} KiB, write-ahead log {} KiB, free {} KiB", kib(self.file_bytes), kib(self.wal_bytes), kib(self.free_bytes))?;
        match self.last_checkpoint {
            Some(t) => writeln!(f, "last checkpoint:  {} (packet time)", iso(t))?,
            None => writeln!(f, "last checkpoint:  none yet")?,
        }
        for (label, key) in [("sensor id", meta::SENSOR_ID), ("created", meta::CREATED), ("key fingerprint", meta::KEY_FINGERPRINT)] {
            if let Some(v) = self.meta.get(key) {
                writeln!(f, "{:<17} {v}", format!("{label}:"))?;
            }
        }
        match self.locked_by {
            Some(0) => writeln!(f, "in use:           by a running daemon")?,
            Some(pid) => writeln!(f, "in use:           by a running daemon (process {pid})")?,
            None => writeln!(f, "in use:           no daemon holds it")?,
        }
        writeln!(f, "pending erasures: {}", self.pending_erasures)?;
        writeln!(f, "rows:")?;
        for (t, n) in &self.rows {
            writeln!(f, "  {t:<20} {n}")?;
        }
        if !self.sections.is_empty() {
            writeln!(f, "state sections:")?;
            for (s, b) in &self.sections {
                writeln!(f, "  {s:<20} {} KiB", kib(*b))?;
            }
        }
        Ok(())
    }
}
