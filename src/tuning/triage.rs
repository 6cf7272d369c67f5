//! The analysts' decisions, folded from the audit log: each finding's triage mark (state,
//! verdict, who, why, notes) and the patterns false-positive and expected verdicts absorb.
//!
//! The audit log is the only store of these decisions: `apitap alerts` appends to it, and
//! `read`, `run` and the report read it back. A log that does not verify is not applied (the
//! sensor then alerts as if untuned, the safe side) and the reason is reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use apitap_discovery::behaviour::{AnomalyKind, Severity};
use apitap_discovery::tuning::{Absorption, Absorptions, Note, TriageMark, TriageState, Verdict, MAX_NOTES};
use serde::{Deserialize, Serialize};

use crate::audit::{Action, AuditRecord};

/// Most findings whose triage is held (the oldest decisions go first past it).
pub const MAX_TRIAGED_FINDINGS: usize = 100_000;

/// What a close or feedback record says about its finding, so that a sensor that never saw the
/// finding (another run, a restart) can still absorb its pattern. Stored in the record's
/// `details`: ids and names only, never a credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFacts {
    /// The verdict.
    pub verdict: Verdict,
    /// The finding's kind code.
    pub kind: String,
    /// Its consumer's id (16 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<String>,
    /// Its consumer's label, for people reading the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_label: Option<String>,
    /// Its endpoint: service, method, path template (for people reading the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<(String, String, String)>,
    /// Its subject (`unmapped.subject`: 16 hex digits), absent for a consumer as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Severity code (`low`, `high`, ...).
    pub severity: Severity,
    /// Score.
    pub score: u8,
}

/// The decisions of a log.
#[derive(Clone, Debug, Default)]
pub struct Triage {
    /// Finding id to its mark.
    pub marks: HashMap<String, TriageMark>,
    /// Finding id to the pattern its verdict absorbs (removed again by a reopen).
    absorbed: HashMap<String, Absorption>,
    /// Records applied.
    pub records: usize,
    /// Why the log was not applied, when it was not.
    pub error: Option<String>,
}

impl Triage {
    /// Folds verified records, in order.
    pub fn fold(records: &[AuditRecord]) -> Triage {
        let mut t = Triage::default();
        for r in records {
            t.apply(r);
        }
        t
    }

    fn apply(&mut self, r: &AuditRecord) {
        let Some(action) = r.action() else { return };
        let id = r.target.clone();
        match action {
            Action::FindingClose | Action::FindingFeedback => {
                let facts: Option<FindingFacts> = serde_json::from_value(r.details.clone()).ok();
                let verdict = facts.as_ref().map_or(Verdict::Resolved, |f| f.verdict);
                let notes = self.marks.remove(&id).map(|m| m.notes).unwrap_or_default();
                self.insert(id.clone(), TriageMark { state: TriageState::Closed, verdict: Some(verdict), by: r.actor.clone(), reason: r.reason.clone(), time: r.time.clone(), notes });
                match facts.and_then(|f| absorption(&id, f)) {
                    Some(a) if verdict.absorbs() => {
                        self.absorbed.insert(id, a);
                    }
                    _ => {
                        self.absorbed.remove(&id);
                    }
                }
            }
            Action::FindingReopen => {
                let notes = self.marks.remove(&id).map(|m| m.notes).unwrap_or_default();
                self.insert(id.clone(), TriageMark { state: TriageState::Open, verdict: None, by: r.actor.clone(), reason: r.reason.clone(), time: r.time.clone(), notes });
                self.absorbed.remove(&id);
            }
            Action::FindingAnnotate => {
                let note = Note { by: r.actor.clone(), time: r.time.clone(), text: r.reason.clone() };
                match self.marks.get_mut(&id) {
                    Some(m) => {
                        if m.notes.len() >= MAX_NOTES {
                            m.notes.remove(0);
                        }
                        m.notes.push(note);
                    }
                    None => self.insert(id, TriageMark { state: TriageState::Open, verdict: None, by: r.actor.clone(), reason: r.reason.clone(), time: r.time.clone(), notes: vec![note] }),
                }
            }
            Action::SuppressAdd | Action::SuppressRemove | Action::DetectorSet | Action::ConfigObserve => return,
        }
        self.records += 1;
    }

    fn insert(&mut self, id: String, mark: TriageMark) {
        if self.marks.len() >= MAX_TRIAGED_FINDINGS && !self.marks.contains_key(&id) {
            // The oldest decision goes (times are RFC 3339 UTC, so they order as text).
            if let Some(old) = self.marks.iter().min_by(|a, b| a.1.time.cmp(&b.1.time)).map(|(k, _)| k.clone()) {
                self.marks.remove(&old);
                self.absorbed.remove(&old);
            }
        }
        self.marks.insert(id, mark);
    }

    /// The absorbed patterns, for the finding book.
    pub fn absorptions(&self) -> Absorptions {
        let mut list: Vec<Absorption> = self.absorbed.values().cloned().collect();
        list.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
        Absorptions::new(list)
    }
}

fn absorption(finding_id: &str, f: FindingFacts) -> Option<Absorption> {
    let kind = AnomalyKind::ALL.into_iter().find(|k| k.code() == f.kind)?;
    let subject = match f.subject.as_deref() {
        None => 0,
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
    };
    Some(Absorption { finding_id: finding_id.to_string(), verdict: f.verdict, kind, consumer_id: f.consumer_id, subject, severity: f.severity, score: f.score })
}

/// The audit log of a configuration: `[tuning] audit_log`, relative to the file's directory.
pub fn log_path(cfg: &crate::config_file::ConfigFile) -> PathBuf {
    let dir = cfg.path.parent().unwrap_or(Path::new("."));
    dir.join(&cfg.tuning.audit_log)
}

/// The decisions of the configuration's audit log: empty when it does not exist yet, not
/// applied (with `error` set) when it does not verify.
pub fn load(cfg: &crate::config_file::ConfigFile) -> Triage {
    if cfg.path.as_os_str().is_empty() {
        return Triage::default();
    }
    let path = log_path(cfg);
    if !path.exists() {
        return Triage::default();
    }
    match crate::audit::read_verified(&path) {
        Ok(records) => Triage::fold(&records),
        Err(e) => Triage { error: Some(format!("{e:#}")), ..Triage::default() },
    }
}
