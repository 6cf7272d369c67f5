//! Alert tuning in the shell: the `[[suppress]]` rules of the configuration file (checked with
//! file and line, compiled in the bank's time zone) and the `apitap suppress` command that
//! edits them. The rules themselves live in the sans-IO core (`apitap_discovery::tuning`).

pub mod alerts_cmd;
pub mod manifest;
pub mod override_cmd;
pub mod overrides_cfg;
pub mod suppress_cmd;
pub mod triage;

use std::path::Path;

use anyhow::{bail, Result};
use apitap_discovery::sketch::BankClock;
use apitap_discovery::tuning::Suppressions;

use crate::config_file::ConfigFile;

/// `[tuning]`: where the decisions of analysts are kept (docs/tuning.md).
#[derive(Clone, Debug, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TuningSection {
    /// The audit log: every suppression change and triage decision, hash-chained
    /// (docs/audit.md). Relative to the configuration file's directory. Default `audit.jsonl`.
    pub audit_log: std::path::PathBuf,
}

impl Default for TuningSection {
    fn default() -> Self {
        TuningSection { audit_log: "audit.jsonl".into() }
    }
}

/// The bank's clock of a configuration (UTC when its zone does not parse: `parse` refuses
/// such a file before this is asked).
fn clock(cfg: &ConfigFile) -> BankClock {
    cfg.behaviour.validate().map_or_else(|_| BankClock::utc(), BankClock::new)
}

/// The line (from 1) in `[[suppress]]` number `index` where `key` is written, else the
/// section's header line.
fn rule_line(text: &str, index: usize, key: &str) -> usize {
    section_key_line(text, "suppress", index, key)
}

/// The line (from 1) in `[[section]]` number `index` where `key` is written (or a sub-table
/// `[section.key]` starts), else the section's header line.
pub fn section_key_line(text: &str, section: &str, index: usize, key: &str) -> usize {
    let header = format!("[[{section}]]");
    let sub = format!("[{section}.{key}]");
    let mut seen = 0usize;
    let mut start = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if start.is_some() && l.starts_with(&sub) {
            return i + 1;
        }
        if l.starts_with(&header) {
            if seen == index {
                start = Some(i);
            } else if start.is_some() {
                break;
            }
            seen += 1;
            continue;
        }
        if start.is_some() && l.starts_with('[') {
            break;
        }
        if start.is_some() && l.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return i + 1;
        }
    }
    start.map_or(0, |s| s + 1)
}

/// Checks every rule; the error names the file, the line of the offending key and the fix.
pub fn check(path: &Path, text: &str, cfg: &ConfigFile) -> Result<()> {
    if let Err((i, e)) = Suppressions::compile(&cfg.suppress, clock(cfg)) {
        let key: String = e.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        bail!("{}:{}: [[suppress]] {e} (docs/tuning.md)", path.display(), rule_line(text, i, &key));
    }
    Ok(())
}

/// The compiled rules of a checked configuration.
pub fn rules(cfg: &ConfigFile) -> Suppressions {
    Suppressions::compile(&cfg.suppress, clock(cfg)).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mistakes_point_at_the_key_of_the_right_rule() {
        let text = "[[suppress]]\nid = \"a\"\nowner = \"soc\"\nreason = \"r\"\nexpires = \"2030-01-01\"\nkinds = [\"off_hours\"]\n\n\
                    [[suppress]]\nid = \"b\"\nowner = \"soc\"\nreason = \"r\"\nexpires = \"2030-01-01\"\nnetworks = [\"10.0.0.0/40\"]\n";
        let err = crate::config_file::parse(Path::new("c.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("c.toml:13: [[suppress]] networks:"), "{err}");
        let text = text.replace("10.0.0.0/40", "10.0.0.0/8").replace("id = \"b\"", "id = \"a\"");
        let err = crate::config_file::parse(Path::new("c.toml"), &text).unwrap_err().to_string();
        assert!(err.starts_with("c.toml:9: [[suppress]] id \"a\" is used by an earlier rule"), "{err}");
        let text = text.replace("id = \"a\"\nowner = \"soc\"\nreason = \"r\"\nexpires = \"2030-01-01\"\nnetworks", "id = \"b\"\nowner = \"soc\"\nreason = \"r\"\nexpires = \"2030-01-01\"\nnetworks");
        assert!(crate::config_file::parse(Path::new("c.toml"), &text).is_ok());
    }
}
