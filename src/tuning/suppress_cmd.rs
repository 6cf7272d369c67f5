//! `apitap suppress add|list|remove`: edits the `[[suppress]]` rules of a configuration file.
//! The file is re-read after every change and restored if it would not load, so a mistake
//! never leaves a broken configuration behind. A running daemon applies the change on its next
//! reload (SIGHUP, `systemctl reload apitap`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use apitap_discovery::tuning::SuppressionSpec;
use clap::{Args, Subcommand};

use crate::audit::{Action, NewEntry};
use crate::config_edit::{array_table, cut_section, non_empty, read_existing, replace_checked, with_section};
use crate::config_file;

/// The `suppress` subcommands.
#[derive(Debug, Subcommand)]
pub enum SuppressCommand {
    /// Add a rule: findings that open under it are kept and counted, marked suppressed, and not
    /// published as alerts. Every criterion given must hold; a criterion given twice matches
    /// either value.
    Add(AddArgs),
    /// List the rules, with whether each is still in force.
    List(ListArgs),
    /// Remove a rule (by id), saying who and why.
    Remove(RemoveArgs),
}

/// `apitap suppress add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Configuration file to update (created if missing).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The rule's unique id (letters, digits, '.', '_', '-'), e.g. pentest-2026q4.
    #[arg(long)]
    pub id: String,
    /// Who sets it (person or team).
    #[arg(long)]
    pub owner: String,
    /// Why (a ticket, the tester's name, the job).
    #[arg(long)]
    pub reason: String,
    /// Until when: a date (the whole day, bank-local) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub expires: String,
    /// Client network (CIDR or address).
    #[arg(long = "network", value_name = "CIDR")]
    pub networks: Vec<String>,
    /// Consumer, by label (client_id, organisation, user) or id.
    #[arg(long = "consumer", value_name = "LABEL|ID")]
    pub consumers: Vec<String>,
    /// Text the request's user agent contains (any case).
    #[arg(long = "user-agent", value_name = "TEXT")]
    pub user_agents: Vec<String>,
    /// TLS client fingerprint (JA4).
    #[arg(long = "fingerprint", value_name = "JA4")]
    pub fingerprints: Vec<String>,
    /// Endpoint: PATH, METHOD PATH or HOST METHOD PATH (`*` for any, `*.suffix` hosts, a
    /// trailing `*` on a path for a prefix).
    #[arg(long = "endpoint", value_name = "ENDPOINT")]
    pub endpoints: Vec<String>,
    /// Anomaly kind (bola_enumeration, off_hours, ...).
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Time window: `[DAYS] HH:MM-HH:MM` bank-local (e.g. `daily 01:00-04:00`,
    /// `Mon-Fri 22:00-06:00`) or FROM/UNTIL (dates or RFC 3339 times).
    #[arg(long = "window", value_name = "WINDOW")]
    pub windows: Vec<String>,
}

/// `apitap suppress list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `apitap suppress remove`, `apitap override remove` and `apitap group remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Configuration file to update.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The rule's or override's id, or the group's name.
    #[arg(long)]
    pub id: String,
    /// Who removes it.
    #[arg(long)]
    pub by: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
}

/// Runs a `suppress` subcommand.
pub fn run(cmd: &SuppressCommand) -> Result<ExitCode> {
    match cmd {
        SuppressCommand::Add(a) => add(a),
        SuppressCommand::List(a) => list(a),
        SuppressCommand::Remove(a) => remove(a),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Records the change in the configuration's audit log, with the manifest of the tuning it
/// leaves (so that a later change by hand is told apart); when that fails, puts the file back
/// as it was (a change nobody can audit is not made).
pub(super) fn audit_or_restore(cfg: &config_file::ConfigFile, entry: NewEntry<'_>, path: &Path, before: Option<&str>) -> Result<()> {
    let log = super::triage::log_path(cfg);
    let entry = NewEntry { details: super::manifest::with_manifest(entry.details, path), ..entry };
    if let Err(e) = crate::audit::append(&log, entry, std::time::SystemTime::now()) {
        match before {
            Some(t) => fs::write(path, t),
            None => fs::remove_file(path),
        }
        .with_context(|| format!("{}: cannot restore after the audit log refused the change", path.display()))?;
        return Err(e.context(format!("{}: the change was not made, because it could not be recorded in the audit log", path.display())));
    }
    Ok(())
}

fn spec_of(a: &AddArgs) -> SuppressionSpec {
    SuppressionSpec {
        id: a.id.clone(),
        owner: a.owner.clone(),
        reason: a.reason.clone(),
        expires: a.expires.clone(),
        networks: a.networks.clone(),
        consumers: a.consumers.clone(),
        user_agents: a.user_agents.clone(),
        fingerprints: a.fingerprints.clone(),
        endpoints: a.endpoints.clone(),
        kinds: a.kinds.clone(),
        windows: a.windows.clone(),
    }
}

fn add(a: &AddArgs) -> Result<()> {
    let spec = spec_of(a);
    let before = read_existing(&a.config)?;
    if let Some(text) = &before {
        let cfg = config_file::parse(&a.config, text)?;
        if cfg.suppress.iter().any(|s| s.id == spec.id) {
            bail!("{}: a rule with id {:?} exists; remove it first or choose another id", a.config.display(), spec.id);
        }
    }
    let text = with_section(before.as_deref(), &array_table("suppress", &spec)?);
    let cfg = replace_checked(&a.config, before.as_deref(), &text)?;
    let entry = NewEntry { actor: &spec.owner, action: Action::SuppressAdd, target: &spec.id, reason: &spec.reason, details: serde_json::to_value(&spec)? };
    audit_or_restore(&cfg, entry, &a.config, before.as_deref())?;
    eprintln!("suppression {:?} added by {} until {}: {} (reload a running daemon to apply)", spec.id, spec.owner, spec.expires, a.config.display());
    Ok(())
}

fn remove(a: &RemoveArgs) -> Result<()> {
    non_empty(&[("--by", &a.by), ("--reason", &a.reason)])?;
    let text = config_file::read(&a.config)?;
    let cfg = config_file::parse(&a.config, &text)?;
    let Some(index) = cfg.suppress.iter().position(|s| s.id == a.id) else {
        let ids: Vec<&str> = cfg.suppress.iter().map(|s| s.id.as_str()).collect();
        bail!("{}: no rule with id {:?} (rules: {})", a.config.display(), a.id, if ids.is_empty() { "none".to_string() } else { ids.join(", ") });
    };
    let after = cut_section(&a.config, &text, "suppress", index, &format!("rule {:?}", a.id))?;
    if after.suppress.iter().any(|s| s.id == a.id) || after.suppress.len() + 1 != cfg.suppress.len() {
        replace_checked(&a.config, None, &text).ok();
        bail!("{}: removing rule {:?} would change other rules; edit the file by hand", a.config.display(), a.id);
    }
    let removed = cfg.suppress.get(index).map(serde_json::to_value).transpose()?.unwrap_or_default();
    let entry = NewEntry { actor: &a.by, action: Action::SuppressRemove, target: &a.id, reason: &a.reason, details: removed };
    audit_or_restore(&after, entry, &a.config, Some(&text))?;
    eprintln!("suppression {:?} removed by {}: {} (reload a running daemon to apply)", a.id, a.by, a.config.display());
    Ok(())
}

fn list(a: &ListArgs) -> Result<()> {
    let cfg = config_file::load(&a.config)?;
    let rules = super::rules(&cfg);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    if a.json {
        let out: Vec<serde_json::Value> = rules
            .rules()
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r.spec).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("in_force".into(), serde_json::Value::Bool(now < r.expires));
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if rules.is_empty() {
        println!("no suppression rules in {}", a.config.display());
    }
    for r in rules.rules() {
        let s = &r.spec;
        let state = if now < r.expires { "in force" } else { "EXPIRED" };
        println!("{}  [{state}, until {}]  owner {}: {}", s.id, s.expires, s.owner, s.reason);
        for (name, values) in [
            ("networks", &s.networks),
            ("consumers", &s.consumers),
            ("user agents", &s.user_agents),
            ("fingerprints", &s.fingerprints),
            ("endpoints", &s.endpoints),
            ("kinds", &s.kinds),
            ("windows", &s.windows),
        ] {
            if !values.is_empty() {
                println!("    {name}: {}", values.join(", "));
            }
        }
    }
    Ok(())
}
