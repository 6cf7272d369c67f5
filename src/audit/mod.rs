//! The audit trail of alert tuning: a tamper-evident log of every tuning change and triage
//! decision (who, when, what, why), one hash-chained JSON record per line.
//!
//! - [`append`] adds a record (and is the only way records are made);
//! - [`read_verified`] gives the records of a log that verifies (to fold the triage state);
//! - [`verify`] checks a log and gives its head, the hash to keep elsewhere as an anchor.
//!
//! Each record's hash covers its content and the previous record's hash, so any edit,
//! insertion, deletion or reordering inside the log is found by [`verify`], which names the
//! line. It does not stop someone who can write the file from rewriting the whole chain: only
//! an anchor kept elsewhere (`apitap audit verify --expect-head`) shows that. Format, threat
//! model and what is not protected: docs/audit.md.

pub mod command;
mod record;
mod verify;

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

pub use record::{canonical, Action, AuditRecord, FIRST_PREV};
pub use verify::{Problem, Verified, VerifyError};

/// The longest line a record may take (without its line end), in bytes: [`append`] refuses a
/// record whose reason or details would make it longer, and [`verify`] fails on a longer line.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The largest log [`verify`] and [`read_verified`] read, and [`append`] grows, in bytes
/// (256 MiB: about 800,000 records of typical size).
pub const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;

/// Permissions of a log [`append`] creates (less what the umask removes): the owner writes,
/// the group (apitap's operators) reads, nobody else.
pub const LOG_MODE: u32 = 0o640;

/// A change to record, as the command that makes it describes it.
///
/// Callers must not put raw secrets in any field, `details` included: no token, password, API
/// key, card number, IBAN or credential value, even one an operator typed. Put ids (rule,
/// finding, consumer ids: already keyed hashes), rule text, detector names, settings and
/// reasons. The log is read by auditors and copied to tickets and SIEMs.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Who makes the change (`--by`); must not be blank.
    pub actor: &'a str,
    /// What is done.
    pub action: Action,
    /// What it is done to (a rule id, a finding id, a detector name); must not be blank.
    pub target: &'a str,
    /// Why (`--reason`); must not be blank.
    pub reason: &'a str,
    /// The change itself (the rule's text, the old and new value, ...), or `Value::Null`.
    /// Stored with every object's keys sorted.
    pub details: serde_json::Value,
}

impl NewEntry<'_> {
    /// Refuses blank fields and control characters in the one-line fields.
    fn check(&self) -> Result<()> {
        for (name, value, hint) in [
            ("actor", self.actor, "name who makes the change (--by)"),
            (
                "target",
                self.target,
                "name the rule, finding or detector changed",
            ),
            ("reason", self.reason, "say why (--reason)"),
        ] {
            if value.trim().is_empty() {
                bail!("audit record refused: the {name} is empty: {hint}");
            }
        }
        for (name, value) in [("actor", self.actor), ("target", self.target)] {
            if value.chars().any(char::is_control) {
                bail!("audit record refused: the {name} {value:?} holds a control character (a line break, a tab, ...): give it on one line");
            }
        }
        Ok(())
    }
}

/// Appends a record of `entry` to the log at `path`, made at `now`, and returns it.
///
/// Creates the log if it is missing (mode [`LOG_MODE`]). Holds an exclusive lock on the file
/// from reading to writing, so that commands appending at the same time (in this process or
/// others) take turns and never fork the chain. Verifies the whole log first and refuses to
/// append to one that does not verify (the error names the file and line). Writes the line in
/// one write and syncs it to disk before returning. Prints the new head on standard error
/// (`audit: FILE: record N appended; head HEX`), the anchor an operator can keep elsewhere.
///
/// Refused: a blank actor, target or reason, a control character in the actor or target, a
/// record longer than [`MAX_LINE_BYTES`], a log that would grow past [`MAX_LOG_BYTES`].
pub fn append(path: &Path, entry: NewEntry<'_>, now: SystemTime) -> Result<AuditRecord> {
    entry.check()?;
    let name = path.display();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(LOG_MODE)
        .open(path)
        .with_context(|| format!("{name}: cannot open the audit log for appending"))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(std::io::Error::from)
        .with_context(|| format!("{name}: cannot lock the audit log"))?;
    let mut last = None;
    let verified = verify::scan(path, &file, |r| last = Some(r)).map_err(|e| {
        anyhow::anyhow!("{e}; refusing to append to an audit log that does not verify (docs/audit.md, \"When verification fails\")")
    })?;
    let (seq, prev) = match &last {
        Some(r) => (r.seq.saturating_add(1), r.hash.clone()),
        None => (1, FIRST_PREV.to_string()),
    };
    let mut rec = AuditRecord {
        seq,
        time: rfc3339_ms(now),
        actor: entry.actor.to_string(),
        os_user: os_user(),
        action: entry.action.code().to_string(),
        target: entry.target.to_string(),
        reason: entry.reason.to_string(),
        details: canonical(entry.details),
        prev,
        hash: String::new(),
    };
    rec.hash = rec
        .content_hash()
        .context("cannot encode the audit record")?;
    let mut line = rec.line().context("cannot encode the audit record")?;
    if line.len() > MAX_LINE_BYTES {
        bail!(
            "audit record refused: it would take {} bytes, more than the limit of {MAX_LINE_BYTES} (MAX_LINE_BYTES): shorten the reason or the details",
            line.len()
        );
    }
    line.push('\n');
    let size = file
        .metadata()
        .with_context(|| format!("{name}: cannot read the audit log's size"))?
        .len();
    if size.saturating_add(line.len() as u64) > MAX_LOG_BYTES {
        bail!("{name}: the audit log would grow past {MAX_LOG_BYTES} bytes (MAX_LOG_BYTES): archive it and start a new log (docs/audit.md)");
    }
    if let Err(e) = (&file)
        .write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
    {
        // A partial line (a full disk) would make the log fail verification: take it back.
        let undone = file.set_len(size).and_then(|()| file.sync_data()).is_ok();
        let state = if undone {
            "the log is unchanged"
        } else {
            "the log may end in a partial line"
        };
        return Err(e).with_context(|| format!("{name}: cannot write the audit record ({state})"));
    }
    if verified.records == 0 {
        sync_parent(path)
            .with_context(|| format!("{name}: cannot sync the directory of the new audit log"))?;
    }
    eprintln!(
        "audit: {name}: record {} appended; head {}",
        rec.seq, rec.hash
    );
    Ok(rec)
}

/// The records of the log at `path`, after verifying the whole of it; an error (naming file
/// and line) when it does not verify. A missing file is an empty log: nothing was recorded yet.
pub fn read_verified(path: &Path) -> Result<Vec<AuditRecord>> {
    let file = match verify::open_locked(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(verify::unreadable(path, &e).into()),
    };
    let mut records = Vec::new();
    verify::scan(path, &file, |r| records.push(r))?;
    Ok(records)
}

/// Verifies the whole log at `path`: the number of records and the head, or the first
/// problem with its file and line. A missing file is an error here (a wrong path must not
/// look like a clean log).
pub fn verify(path: &Path) -> Result<Verified, VerifyError> {
    let file = verify::open_locked(path).map_err(|e| verify::unreadable(path, &e))?;
    verify::scan(path, &file, |_| {})
}

/// RFC 3339 in UTC with milliseconds.
fn rfc3339_ms(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The local account running the command (see [`AuditRecord::os_user`]).
fn os_user() -> String {
    if let Some(u) = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return u;
    }
    let uid = nix::unistd::getuid();
    if let Ok(Some(user)) = nix::unistd::User::from_uid(uid) {
        return user.name;
    }
    ["USER", "LOGNAME"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| uid.to_string())
}

/// Syncs the directory holding `path`, so that a newly created log survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}
