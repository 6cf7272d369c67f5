//! Key logs for TLS decryption: NSS key log files (`SSLKEYLOGFILE`) named on the command
//! line or in the configuration, and a directory of them that the daemon keeps watching.
//!
//! The secrets go into one [`KeyStore`] shared by every worker thread; the decryptors look a
//! session up when its protected records arrive. Files are read as they grow: only complete
//! lines are taken, a file that shrinks is read again from the start. Secrets are never
//! logged; a bad line is reported by file and line number only.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use apitap_parsers::tls::decrypt::{KeyLog, KeyLogStats, KeySource, SessionSecrets};

/// Most bad lines reported per file read (the rest are counted).
const MAX_REPORTED_ERRORS: usize = 5;

/// Most bytes read from one key log file per poll; the rest is read at the next poll.
pub const MAX_KEYLOG_READ: usize = 64 << 20;

/// How often a watched key log is read again.
pub const KEYLOG_POLL: Duration = Duration::from_millis(200);

/// The secrets known to this sensor, shared between threads.
#[derive(Clone)]
pub struct KeyStore {
    log: Arc<RwLock<KeyLog>>,
}

impl KeyStore {
    /// An empty store keeping at most `max_sessions` sessions.
    pub fn new(max_sessions: usize) -> Self {
        KeyStore { log: Arc::new(RwLock::new(KeyLog::with_capacity(max_sessions))) }
    }

    /// Counters of the store.
    pub fn stats(&self) -> KeyLogStats {
        self.log.read().map(|l| l.stats().clone()).unwrap_or_default()
    }

    /// Sessions held.
    pub fn sessions(&self) -> usize {
        self.log.read().map(|l| l.len()).unwrap_or(0)
    }

    /// Adds the complete lines of `text` read from `path` (for messages), reporting refused
    /// lines (by number, never their content) and returning how many secrets were taken.
    fn add(&self, path: &Path, first_line: usize, text: &str, to_stderr: bool) -> u64 {
        let Ok(mut log) = self.log.write() else { return 0 };
        let before = log.stats().secrets;
        for (line, err) in log.add_text(text, MAX_REPORTED_ERRORS) {
            let line = first_line + line - 1;
            if to_stderr {
                eprintln!("warning: {}:{line}: key log line skipped: {err}", path.display());
            } else {
                tracing::warn!(file = %path.display(), line, "key log line skipped: {err}");
            }
        }
        log.stats().secrets - before
    }
}

impl KeySource for KeyStore {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<SessionSecrets> {
        self.log.read().ok()?.get(client_random).cloned()
    }
}

/// One key log file being followed.
#[derive(Default)]
struct Followed {
    /// Bytes taken so far (up to the end of the last complete line).
    offset: u64,
    /// Lines taken so far, for error messages.
    lines: usize,
}

/// Reads key log files into a store, and again as they grow.
pub struct KeyLogReader {
    store: KeyStore,
    files: Vec<PathBuf>,
    dir: Option<PathBuf>,
    followed: HashMap<PathBuf, Followed>,
    /// Report bad lines on standard error (the command line) rather than in the log (the
    /// daemon).
    to_stderr: bool,
}

impl KeyLogReader {
    /// A reader of `files` and of every regular file in `dir`, reporting bad lines in the
    /// log.
    pub fn new(store: KeyStore, files: Vec<PathBuf>, dir: Option<PathBuf>) -> Self {
        KeyLogReader { store, files, dir, followed: HashMap::new(), to_stderr: false }
    }

    /// The same reader, reporting bad lines on standard error (`read`, `capture`).
    pub fn on_stderr(mut self) -> Self {
        self.to_stderr = true;
        self
    }

    /// Reads what was added since the last call; returns the secrets taken. A file named
    /// explicitly that cannot be read is an error on the first call (a typo should stop the
    /// run), and a warning later (it may be rotated).
    pub fn poll(&mut self, first: bool) -> Result<u64> {
        let mut paths = self.files.clone();
        if let Some(dir) = &self.dir {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> =
                        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
                    found.sort();
                    paths.extend(found);
                }
                Err(e) if first => bail!("{}: cannot read the key log directory: {e}", dir.display()),
                Err(e) => tracing::warn!(dir = %dir.display(), "cannot read the key log directory: {e}"),
            }
        }
        let mut taken = 0;
        for path in paths {
            match self.read_one(&path) {
                Ok(n) => taken += n,
                Err(e) if first => return Err(e),
                Err(e) => tracing::warn!("{e:#}"),
            }
        }
        Ok(taken)
    }

    fn read_one(&mut self, path: &Path) -> Result<u64> {
        let mut file = std::fs::File::open(path).with_context(|| format!("{}: cannot open the key log", path.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let state = self.followed.entry(path.to_path_buf()).or_default();
        if len < state.offset {
            // Truncated or replaced: read it again from the start.
            *state = Followed::default();
        }
        if len == state.offset {
            return Ok(0);
        }
        file.seek(SeekFrom::Start(state.offset)).with_context(|| format!("{}: cannot read the key log", path.display()))?;
        let mut buf = Vec::new();
        file.take(MAX_KEYLOG_READ as u64)
            .read_to_end(&mut buf)
            .with_context(|| format!("{}: cannot read the key log", path.display()))?;
        // Only complete lines: a writer may be in the middle of one.
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else { return Ok(0) };
        let complete = buf.get(..=end).unwrap_or_default();
        let text = String::from_utf8_lossy(complete);
        let first_line = state.lines + 1;
        state.offset += complete.len() as u64;
        state.lines += text.lines().count();
        let taken = self.store.add(path, first_line, &text, self.to_stderr);
        // Zero what was read: it held secrets.
        buf.fill(0);
        Ok(taken)
    }
}

/// A thread that keeps reading key logs until dropped.
pub struct KeyLogWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KeyLogWatcher {
    /// Reads the files once now (failing on a file that cannot be read), then every
    /// [`KEYLOG_POLL`] on a thread of its own.
    pub fn start(mut reader: KeyLogReader) -> Result<Self> {
        let taken = reader.poll(true)?;
        tracing::info!(secrets = taken, "key logs read");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("apitap-keylog".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(KEYLOG_POLL);
                    if let Ok(n) = reader.poll(false) {
                        if n > 0 {
                            tracing::debug!(secrets = n, "key log secrets added");
                        }
                    }
                }
            })
            .context("cannot start the key log thread")?;
        Ok(KeyLogWatcher { stop, thread: Some(thread) })
    }
}

impl Drop for KeyLogWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    const CR: &str = "4d98940fb40a244b48e42eac287144b1b7393057caa131f961a78e38b0e77c1e";

    fn random(i: u8) -> [u8; 32] {
        let mut r = [0u8; 32];
        for (k, b) in r.iter_mut().enumerate() {
            *b = u8::from_str_radix(&CR[2 * k..2 * k + 2], 16).unwrap();
        }
        r[0] = i;
        r
    }

    fn line(i: u8) -> String {
        format!("CLIENT_RANDOM {:02x}{} {}\n", i, &CR[2..], "ab".repeat(48))
    }

    #[test]
    fn a_growing_file_is_read_line_by_line_and_again_after_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        let store = KeyStore::new(100);
        let mut reader = KeyLogReader::new(store.clone(), vec![path.clone()], None);
        assert!(reader.poll(true).is_err(), "a named file that does not exist stops the run");
        let mut f = std::fs::File::create(&path).unwrap();
        let second = line(2);
        write!(f, "{}{}", line(1), &second[..30]).unwrap();
        f.flush().unwrap();
        assert_eq!(reader.poll(false).unwrap(), 1, "the half-written line waits");
        assert!(store.secrets(&random(1)).is_some());
        assert!(store.secrets(&random(2)).is_none());
        write!(f, "{}", &second[30..]).unwrap();
        f.flush().unwrap();
        assert_eq!(reader.poll(false).unwrap(), 1);
        assert!(store.secrets(&random(2)).is_some());
        assert_eq!(reader.poll(false).unwrap(), 0);
        // Replaced by a shorter file: read from the start.
        std::fs::write(&path, line(3)).unwrap();
        assert_eq!(reader.poll(false).unwrap(), 1);
        assert!(store.secrets(&random(3)).is_some());
    }

    #[test]
    fn a_directory_picks_up_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(100);
        let mut reader = KeyLogReader::new(store.clone(), vec![], Some(dir.path().to_path_buf()));
        assert_eq!(reader.poll(true).unwrap(), 0);
        std::fs::write(dir.path().join("a.keys"), line(7) + "garbage\n").unwrap();
        std::fs::write(dir.path().join("b.keys"), line(8)).unwrap();
        assert_eq!(reader.poll(false).unwrap(), 2);
        assert_eq!(store.stats().malformed, 1);
        assert_eq!(store.sessions(), 2);
        assert!(KeyLogReader::new(store, vec![], Some(dir.path().join("missing"))).poll(true).is_err());
    }
}
