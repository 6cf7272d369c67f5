//! The store's files: created owner-only (they hold personal data), the lock a running daemon
//! holds, and the sibling paths SQLite uses.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::{io_err, Result, StoreError};

/// Mode of every file the store creates: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// `<path><suffix>`: SQLite's `-wal` and `-shm`, our `.lock`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates `path` empty with [`FILE_MODE`] when it does not exist. SQLite gives its `-wal` and
/// `-shm` files the mode of the database file, so creating this one first is what keeps all
/// three private whatever the process umask.
pub fn create_private(path: &Path) -> Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(path, "create the store file")(e)),
    }
}

/// Takes group and other permissions away from the store and its SQLite siblings (a store
/// copied in with a loose mode). Best effort: a file owned by another user keeps its mode, and
/// SQLite then reports what it cannot open.
pub fn tighten(path: &Path) {
    for p in [path.to_path_buf(), sibling(path, "-wal"), sibling(path, "-shm")] {
        if let Ok(meta) = fs::metadata(&p) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(mode & 0o700));
            }
        }
    }
}

/// Size of a file, 0 when absent.
pub fn size(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Flushes a directory entry (a rename or a new file) to disk.
pub fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "flush the directory to disk"))
}

/// An exclusive `flock` on `<store>.lock`, held for as long as this value lives. The daemon
/// holds it for its whole run; restore and schema upgrades take it briefly and refuse when
/// they cannot. The lock file holds the holder's process id, for the error message; it is
/// left in place when released (removing it would race with the next holder).
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock without waiting. `action` words the refusal ("restore over").
    pub fn acquire(store: &Path, action: &'static str) -> Result<StoreLock> {
        let path = sibling(store, ".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(io_err(&path, "open the lock file"))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(StoreError::Locked {
                    path: store.to_path_buf(),
                    lock: path,
                    action,
                    holder: text.trim().parse().ok(),
                });
            }
            Err(e) => return Err(io_err(&path, "lock the lock file")(e.into())),
        }
        let pid = std::process::id();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{pid}"))
            .map_err(io_err(&path, "write the lock file"))?;
        Ok(StoreLock { file, path })
    }

    /// Whether a process holds the store's lock, and its process id when it wrote one:
    /// `None` when nobody holds it. Probes with a shared lock released at once, without
    /// creating or writing the lock file.
    pub fn holder(store: &Path) -> Option<Option<u32>> {
        let path = sibling(store, ".lock");
        let mut file = File::open(path).ok()?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => None,
            Err(_) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Some(text.trim().parse().ok())
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the flock; the pid is cleared so that a stale file
        // names nobody.
        let _ = self.file.set_len(0);
    }
}

/// The wall clock in unix nanoseconds (0 before 1970). Used only for administrative times
/// (when a store was created, an erasure requested); data times are packet times passed in.
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Unix nanoseconds as SQLite's signed integer; times after 2262 are stored as the largest.
pub fn to_sql(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// Back from SQLite's signed integer; negative values (edited by hand) read as 0.
pub fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Unix nanoseconds as ISO-8601 UTC with milliseconds (`2024-05-01T12:00:00.000Z`).
pub fn iso(ns: u64) -> String {
    chrono::DateTime::from_timestamp_nanos(to_sql(ns)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
