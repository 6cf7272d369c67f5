//! The running daemon follows its configuration's audit log: when it changed (size or
//! modification time, looked at every [`AUDIT_POLL`]), the log is verified and folded again,
//! and the findings whose decisions changed are handed to the analysis.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use apitap_discovery::tuning::TriageMark;
use tracing::{error, info};

use crate::config_file::ConfigFile;
use crate::tuning::triage::{self, Triage};

/// How often the log's size and time are looked at.
pub const AUDIT_POLL: Duration = Duration::from_secs(2);

/// What the watcher last applied.
pub struct AuditWatch {
    path: Option<PathBuf>,
    seen: Option<(u64, Option<SystemTime>)>,
    marks: HashMap<String, TriageMark>,
    next: Instant,
    /// Times a changed log was applied.
    pub applied: u64,
    /// Times a changed log did not verify (it was not applied).
    pub refused: u64,
}

fn stamp(path: &PathBuf) -> Option<(u64, Option<SystemTime>)> {
    std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok()))
}

impl AuditWatch {
    /// Starts from the decisions the analysis was just built with (the log is not read again).
    pub fn new(file: &ConfigFile, marks: HashMap<String, TriageMark>) -> AuditWatch {
        let path = (!file.path.as_os_str().is_empty()).then(|| triage::log_path(file));
        let seen = path.as_ref().and_then(stamp);
        AuditWatch { path, seen, marks, next: Instant::now() + AUDIT_POLL, applied: 0, refused: 0 }
    }

    /// The decisions in force (the last log that verified).
    pub fn marks(&self) -> &HashMap<String, TriageMark> {
        &self.marks
    }

    /// A changed log, folded, with the ids of the findings whose decisions changed; `None`
    /// when nothing changed (or it is not time to look yet).
    pub fn poll(&mut self, file: &ConfigFile) -> Option<(Triage, Vec<String>)> {
        if Instant::now() < self.next {
            return None;
        }
        self.next = Instant::now() + AUDIT_POLL;
        let path = self.path.clone()?;
        let now = stamp(&path);
        if now == self.seen {
            return None;
        }
        self.seen = now;
        let t = triage::load(file);
        if let Some(e) = &t.error {
            self.refused += 1;
            error!(log = %path.display(), error = %e, "audit log changed but does not verify: its decisions are not applied");
            return None;
        }
        let mut changed: Vec<String> = t.marks.iter().filter(|(id, m)| self.marks.get(*id) != Some(*m)).map(|(id, _)| id.clone()).collect();
        changed.extend(self.marks.keys().filter(|id| !t.marks.contains_key(*id)).cloned());
        changed.sort();
        self.marks = t.marks.clone();
        self.applied += 1;
        info!(log = %path.display(), decisions = t.records, changed = changed.len(), "audit log applied");
        Some((t, changed))
    }

    /// After a reload: the decisions the new analysis was built with.
    pub fn reset(&mut self, file: &ConfigFile, marks: HashMap<String, TriageMark>) {
        *self = AuditWatch::new(file, marks);
    }
}
