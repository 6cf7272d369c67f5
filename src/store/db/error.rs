//! What can go wrong with a store, each case naming the file and the fix.

use std::fmt;
use std::path::PathBuf;

/// A store operation that failed. Every variant names the file it concerns; the message says
/// what to do about it.
#[derive(Debug)]
pub enum StoreError {
    /// The store file does not exist and the operation does not create one.
    NoSuchStore {
        /// The missing file.
        path: PathBuf,
    },
    /// The file exists but is not an apitap store (another SQLite database, not SQLite at all,
    /// or damaged).
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// The store was written by a newer apitap with a schema this binary does not know.
    NewerSchema {
        /// The store.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version this binary knows.
        supported: u32,
    },
    /// Another process (a running daemon) holds the store's lock file.
    Locked {
        /// The store.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What was refused ("restore over", "upgrade the schema of", ...).
        action: &'static str,
        /// The holder's process id, when it wrote one into the lock file.
        holder: Option<u32>,
    },
    /// The destination of a backup already exists; backups never overwrite.
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// SQLite refused an operation.
    Sqlite {
        /// The store (or backup) file.
        path: PathBuf,
        /// What was being done.
        doing: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A file system operation failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        doing: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An argument the store refuses (an id too short to erase safely, ...).
    Invalid {
        /// The store.
        path: PathBuf,
        /// What is wrong and what to give instead.
        what: String,
    },
    /// A row read back from the store is not what this binary wrote (edited by hand?).
    Corrupt {
        /// The store.
        path: PathBuf,
        /// Which table and row, and what is wrong.
        what: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchStore { path } => write!(
                f,
                "{}: no such store (check the path; the daemon creates its store when it first starts)",
                path.display()
            ),
            Self::NotAStore { path, why } => write!(
                f,
                "{}: not an apitap store ({why}); check the path, or restore a backup with `apitap store restore --from BACKUP --store FILE` after moving this file away",
                path.display()
            ),
            Self::NewerSchema { path, found, supported } => write!(
                f,
                "{}: the store has schema version {found}, written by a newer apitap; this apitap {} knows versions up to {supported}: upgrade apitap, or restore a backup made by this version (`apitap store restore --from BACKUP --store FILE`)",
                path.display(),
                env!("CARGO_PKG_VERSION")
            ),
            Self::Locked { path, lock, action, holder } => {
                let who = holder.map_or_else(|| "another process".to_string(), |pid| format!("process {pid}"));
                write!(
                    f,
                    "cannot {action} {}: it is in use by a running apitap daemon ({who} holds {}); stop the daemon first (e.g. `systemctl stop apitap`) and run the command again",
                    path.display(),
                    lock.display()
                )
            }
            Self::Exists { path } => write!(
                f,
                "{}: already exists; backups never overwrite a file: choose a new name or remove the old backup first",
                path.display()
            ),
            Self::Sqlite { path, doing, source } => {
                write!(f, "{}: cannot {doing}: {source}", path.display())?;
                if matches!(source.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)) {
                    write!(f, " (another process kept the store busy for too long; run the command again)")?;
                }
                if matches!(source.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull)) {
                    write!(f, " (free disk space, or purge expired data with `apitap purge --expired`)")?;
                }
                Ok(())
            }
            Self::Io { path, doing, source } => write!(f, "{}: cannot {doing}: {source}", path.display()),
            Self::Invalid { path, what } => write!(f, "{}: {what}", path.display()),
            Self::Corrupt { path, what } => write!(
                f,
                "{}: {what}; the store was changed by something other than apitap: restore a backup (`apitap store restore`)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Shorthand for the store's results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Wraps SQLite errors with the file and the action.
pub(crate) trait SqlContext<T> {
    /// Names the file and what was being done.
    fn sql(self, path: &std::path::Path, doing: &str) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn sql(self, path: &std::path::Path, doing: &str) -> Result<T> {
        self.map_err(|source| classify(path, doing, source))
    }
}

/// SQLite's "not a database" becomes [`StoreError::NotAStore`]; the rest stays SQLite's.
fn classify(path: &std::path::Path, doing: &str, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            StoreError::NotAStore { path: path.to_path_buf(), why: "not a SQLite database".into() }
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            StoreError::NotAStore { path: path.to_path_buf(), why: format!("damaged SQLite file: {source}") }
        }
        _ => StoreError::Sqlite { path: path.to_path_buf(), doing: doing.to_string(), source },
    }
}

/// Wraps I/O errors with the file and the action.
pub(crate) fn io_err(path: &std::path::Path, doing: &str) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    let doing = doing.to_string();
    move |source| StoreError::Io { path, doing, source }
}
