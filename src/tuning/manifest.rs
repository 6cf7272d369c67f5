//! What tuning a configuration holds, as the audit log records it: one short hash per
//! suppression rule, consumer group and detector override, and one for each of `[behaviour]`
//! and `[tuning]`, with a digest of them all. The tuning commands record the manifest of the
//! file they leave behind; the daemon compares the file it loads with the last manifest of
//! the log, and a difference nobody recorded (the file was edited by hand, or copied over) is
//! appended as a `config.observe` record naming what was added, removed and changed (or, when
//! the daemon may not write the log, logged with the command that records it:
//! `apitap audit observe`). `apitap audit verify --config` fails on such a difference.
//!
//! The hashes are of the TOML values (keys sorted), so comments, blank lines, key order and
//! quoting do not count as changes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::audit::{Action, NewEntry};
use crate::config_file::ConfigFile;

/// The key of a record's `details` that holds the manifest of the configuration after it.
pub const DETAILS_KEY: &str = "config_tuning";
/// Largest manifest kept with its entries; past it only the digest is recorded (the audit
/// log's records are at most 64 KiB), and a change is reported without its list.
pub const MAX_MANIFEST_BYTES: usize = 32 * 1024;
/// Hex digits of an entry's hash.
const ENTRY_HEX: usize = 12;

/// The tuning of one configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// SHA-256 (hex) over every entry: equal digests, equal tuning.
    pub digest: String,
    /// `suppress/ID`, `consumer_group/NAME`, `detector_override/ID` (or `#N` without an id),
    /// `behaviour`, `tuning`, each to a short hash of its value; absent when there were too
    /// many to record ([`MAX_MANIFEST_BYTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<BTreeMap<String, String>>,
}

/// What changed between two manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Entries only in the new one.
    pub added: Vec<String>,
    /// Entries only in the old one.
    pub removed: Vec<String>,
    /// Entries in both, with other values.
    pub changed: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TOML value as bytes with every table's keys sorted, whatever order the map types keep
/// (strings JSON-quoted, so no two values write alike).
fn canonical(v: &toml::Value) -> Vec<u8> {
    fn write(v: &toml::Value, out: &mut Vec<u8>) {
        match v {
            toml::Value::Table(t) => {
                let mut keys: Vec<&String> = t.keys().collect();
                keys.sort();
                out.push(b'{');
                for k in keys {
                    out.extend(serde_json::to_vec(k).unwrap_or_default());
                    out.push(b':');
                    if let Some(x) = t.get(k) {
                        write(x, out);
                    }
                    out.push(b',');
                }
                out.push(b'}');
            }
            toml::Value::Array(a) => {
                out.push(b'[');
                for x in a {
                    write(x, out);
                    out.push(b',');
                }
                out.push(b']');
            }
            toml::Value::String(s) => out.extend(serde_json::to_vec(s).unwrap_or_default()),
            other => out.extend(other.to_string().into_bytes()),
        }
    }
    let mut out = Vec::new();
    write(v, &mut out);
    out
}

impl Manifest {
    /// The manifest of a configuration's text (which must parse as TOML).
    pub fn of_text(text: &str) -> Result<Manifest, toml::de::Error> {
        let table: toml::Table = toml::from_str(text)?;
        let mut entries = BTreeMap::new();
        let short = |v: &toml::Value| hex(&Sha256::digest(canonical(v))).chars().take(ENTRY_HEX).collect::<String>();
        for (section, name_key) in [("suppress", "id"), ("consumer_group", "name"), ("detector_override", "id")] {
            let Some(toml::Value::Array(items)) = table.get(section) else { continue };
            for (i, item) in items.iter().enumerate() {
                let name = item.get(name_key).and_then(toml::Value::as_str).map_or_else(|| format!("#{}", i + 1), str::to_string);
                entries.insert(format!("{section}/{name}"), short(item));
            }
        }
        for section in ["behaviour", "tuning"] {
            if let Some(v) = table.get(section) {
                entries.insert(section.to_string(), short(v));
            }
        }
        let mut all = Sha256::new();
        for (k, v) in &entries {
            all.update(k.as_bytes());
            all.update(b"=");
            all.update(v.as_bytes());
            all.update(b"\n");
        }
        let digest = hex(&all.finalize());
        let size: usize = entries.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
        Ok(Manifest { digest, entries: (size <= MAX_MANIFEST_BYTES).then_some(entries) })
    }

    /// The manifest of the configuration file at `path` as it is now.
    pub fn of_file(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        Manifest::of_text(&text).with_context(|| format!("{}: not TOML", path.display()))
    }

    /// The manifest a record's `details` carries, if any.
    pub fn of_details(details: &Value) -> Option<Manifest> {
        details.get(DETAILS_KEY).and_then(|m| serde_json::from_value(m.clone()).ok())
    }

    /// Whether it records no tuning at all.
    pub fn is_empty(&self) -> bool {
        self.entries.as_ref().is_some_and(BTreeMap::is_empty)
    }

    /// What changed from `old` to `self`; `None` when either lacks its entries.
    pub fn change_from(&self, old: &Manifest) -> Option<Change> {
        let (new, old) = (self.entries.as_ref()?, old.entries.as_ref()?);
        let mut c = Change::default();
        for (k, v) in new {
            match old.get(k) {
                None => c.added.push(k.clone()),
                Some(o) if o != v => c.changed.push(k.clone()),
                Some(_) => {}
            }
        }
        c.removed = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
        Some(c)
    }
}

/// `details` with the manifest of the configuration at `path` added (an object's key, or
/// around a value that is not an object). The configuration is the one the command just
/// wrote; if it cannot be read the details stay as they are (the change is still recorded).
pub fn with_manifest(details: Value, path: &Path) -> Value {
    let Ok(m) = Manifest::of_file(path) else { return details };
    let m = serde_json::to_value(m).unwrap_or(Value::Null);
    match details {
        Value::Object(mut o) => {
            o.insert(DETAILS_KEY.into(), m);
            Value::Object(o)
        }
        Value::Null => serde_json::json!({ DETAILS_KEY: m }),
        other => serde_json::json!({ "change": other, DETAILS_KEY: m }),
    }
}

/// How a configuration's tuning stands against its audit log.
#[derive(Debug, PartialEq, Eq)]
pub enum Drift {
    /// The file's tuning is the one the log last recorded (or there is none, and none was).
    Same,
    /// The log never recorded this tuning: `first` when it recorded none before; `change`
    /// when both manifests list their entries.
    Unrecorded {
        /// The tuning now.
        now: Manifest,
        /// No manifest was recorded before.
        first: bool,
        /// What changed since the last one recorded.
        change: Option<Change>,
    },
}

impl Drift {
    /// One line for people: what changed, or that the tuning was never recorded.
    pub fn describe(&self) -> String {
        match self {
            Drift::Same => "the tuning is the one the audit log last recorded".into(),
            Drift::Unrecorded { first: true, .. } => "the tuning in force was never recorded in the audit log".into(),
            Drift::Unrecorded { change: Some(c), .. } => {
                let list = |what: &str, v: &[String]| (!v.is_empty()).then(|| format!("{what} {}", v.join(", ")));
                let parts: Vec<String> = [list("added", &c.added), list("removed", &c.removed), list("changed", &c.changed)].into_iter().flatten().collect();
                format!("the tuning changed outside apitap's commands: {}", parts.join("; "))
            }
            Drift::Unrecorded { change: None, .. } => "the tuning changed outside apitap's commands (too many entries to list)".into(),
        }
    }
}

/// Compares the tuning of the configuration `file` (read again from its path) with the last
/// manifest its audit log recorded. Reads only.
pub fn compare(file: &ConfigFile) -> Result<Drift> {
    if file.path.as_os_str().is_empty() {
        return Ok(Drift::Same);
    }
    let now = Manifest::of_file(&file.path)?;
    let log = super::triage::log_path(file);
    let last = if log.exists() {
        let records = crate::audit::read_verified(&log).with_context(|| format!("{}: cannot compare the tuning with the audit log", log.display()))?;
        records.iter().rev().find_map(|r| Manifest::of_details(&r.details))
    } else {
        None
    };
    Ok(match &last {
        Some(l) if l.digest == now.digest => Drift::Same,
        None if now.is_empty() => Drift::Same,
        Some(l) => Drift::Unrecorded { change: now.change_from(l), now, first: false },
        None => Drift::Unrecorded { now, first: true, change: None },
    })
}

/// Appends a `config.observe` record of an unrecorded tuning (see [`compare`]) to the audit
/// log of `file`, by `actor` for `reason`; returns its sequence number. `Drift::Same` appends
/// nothing (`None`).
pub fn record(file: &ConfigFile, drift: &Drift, actor: &str, reason: &str) -> Result<Option<u64>> {
    let Drift::Unrecorded { now, change, .. } = drift else { return Ok(None) };
    let mut details = serde_json::json!({ DETAILS_KEY: now });
    if let (Some(c), Some(o)) = (change, details.as_object_mut()) {
        o.insert("added".into(), serde_json::to_value(&c.added).unwrap_or(Value::Null));
        o.insert("removed".into(), serde_json::to_value(&c.removed).unwrap_or(Value::Null));
        o.insert("changed".into(), serde_json::to_value(&c.changed).unwrap_or(Value::Null));
    }
    let target = file.path.display().to_string();
    let entry = NewEntry { actor, action: Action::ConfigObserve, target: &target, reason, details };
    let rec = crate::audit::append(&super::triage::log_path(file), entry, std::time::SystemTime::now())?;
    Ok(Some(rec.seq))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const BASE: &str = "[behaviour]\ntimezone = \"Europe/London\"\n\n[[suppress]]\nid = \"pentest\"\nowner = \"soc\"\nreason = \"r\"\nexpires = \"2030-01-01\"\nnetworks = [\"198.18.0.0/29\"]\n";

    #[test]
    fn layout_and_comments_are_not_changes_but_values_are() {
        let a = Manifest::of_text(BASE).unwrap();
        let relaid = format!("# tuned by the SOC\n{}", BASE.replace("owner = \"soc\"\nreason = \"r\"", "reason = 'r'   # why\nowner = \"soc\""));
        assert_eq!(Manifest::of_text(&relaid).unwrap(), a);
        let widened = Manifest::of_text(&BASE.replace("/29", "/24")).unwrap();
        assert_ne!(widened.digest, a.digest);
        assert_eq!(widened.change_from(&a).unwrap(), Change { changed: vec!["suppress/pentest".into()], ..Change::default() });
    }

    #[test]
    fn rules_added_and_removed_are_named() {
        let a = Manifest::of_text(BASE).unwrap();
        let text = BASE.replace("id = \"pentest\"", "id = \"monitor\"")
            + "\n[[detector_override]]\nservices = [\"api.bank.test\"]\n[detector_override.settings]\nrate_factor = 50\n";
        let b = Manifest::of_text(&text).unwrap();
        let c = b.change_from(&a).unwrap();
        assert_eq!(c.added, ["detector_override/#1", "suppress/monitor"]);
        assert_eq!(c.removed, ["suppress/pentest"]);
        assert!(c.changed.is_empty());
        assert!(Manifest::of_text("[daemon]\nlog_format = \"json\"\n").unwrap().is_empty(), "other sections are not tuning");
    }

    #[test]
    fn a_huge_tuning_keeps_its_digest_only() {
        let mut text = String::new();
        for i in 0..1500 {
            text.push_str(&format!("[[suppress]]\nid = \"rule-with-a-rather-long-name-{i:05}\"\nowner = \"soc\"\n\n"));
        }
        let m = Manifest::of_text(&text).unwrap();
        assert!(m.entries.is_none());
        assert_eq!(m.digest.len(), 64);
        assert!(serde_json::to_string(&m).unwrap().len() < 200);
        assert!(m.change_from(&Manifest::of_text(BASE).unwrap()).is_none());
    }

    #[test]
    fn details_carry_the_manifest_beside_what_they_said() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apitap.toml");
        std::fs::write(&path, BASE).unwrap();
        let d = with_manifest(serde_json::json!({"id": "pentest"}), &path);
        assert_eq!(d["id"], "pentest");
        assert_eq!(Manifest::of_details(&d).unwrap(), Manifest::of_text(BASE).unwrap());
        let d = with_manifest(serde_json::json!(["x"]), &path);
        assert_eq!(d["change"][0], "x");
        assert!(Manifest::of_details(&d).is_some());
        assert_eq!(with_manifest(serde_json::json!({"a": 1}), &dir.path().join("missing.toml")), serde_json::json!({"a": 1}));
    }
}
