//! One audit record: its fields, its canonical bytes and its hash.
//!
//! A record is one line of JSON, its fields in the order of [`AuditRecord`], `details` with
//! every object's keys sorted (byte order) and no white space: the form `serde_json` writes.
//! Its `hash` is the SHA-256 of that line without the `hash` field, that is of
//! `{"seq":..,"time":..,"actor":..,"os_user":..,"action":..,"target":..,"reason":..,"details":..,"prev":..}`,
//! so the hash covers `prev` and every other field, and `prev` chains each record to the one
//! before it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev` of the first record: 64 zeros (no record before it).
pub const FIRST_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a record says was done. The codes (`suppress.add`, ...) are what the log stores; they
/// never change meaning, and new actions get new codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A suppression rule was added (target: the rule's id).
    SuppressAdd,
    /// A suppression rule was removed (target: the rule's id).
    SuppressRemove,
    /// A finding was closed by an analyst (target: the finding's id).
    FindingClose,
    /// A closed finding was opened again (target: the finding's id).
    FindingReopen,
    /// A note was added to a finding (target: the finding's id).
    FindingAnnotate,
    /// A verdict on a finding: true or false positive (target: the finding's id).
    FindingFeedback,
    /// A detector's setting was changed (target: the detector's name).
    DetectorSet,
    /// The configuration's tuning differed from the last the log recorded, and nobody's
    /// command recorded the change: the daemon noticed it (target: the configuration file).
    ConfigObserve,
}

impl Action {
    /// Every action, in the order of their codes' documentation.
    pub const ALL: [Action; 8] = [
        Action::SuppressAdd,
        Action::SuppressRemove,
        Action::FindingClose,
        Action::FindingReopen,
        Action::FindingAnnotate,
        Action::FindingFeedback,
        Action::DetectorSet,
        Action::ConfigObserve,
    ];

    /// The stable code stored in the log.
    pub fn code(self) -> &'static str {
        match self {
            Action::SuppressAdd => "suppress.add",
            Action::SuppressRemove => "suppress.remove",
            Action::FindingClose => "finding.close",
            Action::FindingReopen => "finding.reopen",
            Action::FindingAnnotate => "finding.annotate",
            Action::FindingFeedback => "finding.feedback",
            Action::DetectorSet => "detector.set",
            Action::ConfigObserve => "config.observe",
        }
    }

    /// The action of a stored code; `None` for a code this version does not know (a newer
    /// version wrote it: the record still verifies).
    pub fn from_code(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One record of the audit log, as stored (one JSON object per line) and as
/// [`read_verified`](super::read_verified) returns it. Records are made only by
/// [`append`](super::append), which fills `seq`, `time`, `os_user`, `prev` and `hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the log: 1 for the first record, then one more per record.
    pub seq: u64,
    /// When it was appended: RFC 3339, UTC, milliseconds (`2026-11-22T10:33:29.123Z`), from the
    /// clock of the host that appended it (not checked to increase: clocks step back).
    pub time: String,
    /// Who made the change, as they named themselves (`--by`): not authenticated.
    pub actor: String,
    /// The local account that ran the command: `$SUDO_USER` when set (the person behind
    /// `sudo`), else the name of the real user id, else the id as a number. Informational: a
    /// user who can set environment variables can set `SUDO_USER`.
    pub os_user: String,
    /// The action's code ([`Action::code`]); [`AuditRecord::action`] reads it back.
    pub action: String,
    /// What was changed: a rule id, a finding id, a detector name.
    pub target: String,
    /// Why, in the actor's words.
    pub reason: String,
    /// The change itself (the rule's text, the old and new setting, ...); `null` when there is
    /// nothing more to say. Objects' keys are kept sorted.
    pub details: Value,
    /// `hash` of the record before this one; [`FIRST_PREV`] for the first.
    pub prev: String,
    /// Lowercase hex SHA-256 of this record's line without its `hash` field (module docs).
    pub hash: String,
}

/// The record without its hash, borrowed: the bytes the hash covers.
#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    time: &'a str,
    actor: &'a str,
    os_user: &'a str,
    action: &'a str,
    target: &'a str,
    reason: &'a str,
    details: &'a Value,
    prev: &'a str,
}

impl AuditRecord {
    /// The action, when this version knows its code.
    pub fn action(&self) -> Option<Action> {
        Action::from_code(&self.action)
    }

    /// The hash this record's content gives (what `hash` must be). `details` must already be
    /// canonical ([`canonical`]).
    pub(crate) fn content_hash(&self) -> Result<String, serde_json::Error> {
        let unsealed = Unsealed {
            seq: self.seq,
            time: &self.time,
            actor: &self.actor,
            os_user: &self.os_user,
            action: &self.action,
            target: &self.target,
            reason: &self.reason,
            details: &self.details,
            prev: &self.prev,
        };
        let bytes = serde_json::to_vec(&unsealed)?;
        Ok(hex(&Sha256::digest(&bytes)))
    }

    /// The record's line, without the line end. `details` must already be canonical.
    pub(crate) fn line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// The value with every object's keys in byte order, at every depth: the same bytes whether
/// `serde_json` keeps objects sorted (its default) or in insertion order (its `preserve_order`
/// feature, which any crate in the build can turn on).
pub fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}
