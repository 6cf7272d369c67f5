//! `apitap override add|remove` and `apitap group add|remove`: edit the
//! `[[detector_override]]` and `[[consumer_group]]` sections of a configuration file, each
//! change checked (the file must still load, else it is put back) and appended to the audit
//! log as `detector.set`, so that every tuning change has a who, a when, a what and a why.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::overrides_cfg::{ConsumerGroupSpec, OverrideSpec};
use super::suppress_cmd::{audit_or_restore, RemoveArgs};
use crate::config_edit::{array_table, cut_section, non_empty, read_existing, replace_checked, with_section};
use crate::audit::{Action, NewEntry};
use crate::config_file;

/// The `override` subcommands.
#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// Change detector thresholds or warm-up for services or consumer groups (docs/tuning.md).
    Add(OverrideAddArgs),
    /// Remove an override (by id).
    Remove(RemoveArgs),
}

/// The `group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Define a consumer group (by labels, ids or networks) for detector overrides.
    Add(GroupAddArgs),
    /// Remove a consumer group (no override may still name it).
    Remove(RemoveArgs),
}

/// `apitap override add`.
#[derive(Debug, Args)]
pub struct OverrideAddArgs {
    /// Configuration file to update (created if missing).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The override's id (letters, digits, '.', '_', '-').
    #[arg(long)]
    pub id: String,
    /// A service it applies to (host, exact or `*.suffix`).
    #[arg(long = "service", value_name = "HOST")]
    pub services: Vec<String>,
    /// A consumer group it applies to.
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// A setting, `KEY=VALUE` as in [behaviour] (`rate.factor=8.0`, `warmup_hours=168`).
    #[arg(long = "set", value_name = "KEY=VALUE", required = true)]
    pub set: Vec<String>,
    /// Who makes the change.
    #[arg(long)]
    pub by: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
}

/// `apitap group add`.
#[derive(Debug, Args)]
pub struct GroupAddArgs {
    /// Configuration file to update (created if missing).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The group's name.
    #[arg(long)]
    pub name: String,
    /// A member by label (client id, organisation, user) or id.
    #[arg(long = "consumer", value_name = "LABEL|ID")]
    pub consumers: Vec<String>,
    /// Members by client network.
    #[arg(long = "network", value_name = "CIDR")]
    pub networks: Vec<String>,
    /// Who makes the change.
    #[arg(long)]
    pub by: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
}

/// Runs an `override` subcommand.
pub fn run_override(cmd: &OverrideCommand) -> Result<ExitCode> {
    match cmd {
        OverrideCommand::Add(a) => add_override(a),
        OverrideCommand::Remove(a) => remove(a, "detector_override", "override"),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Runs a `group` subcommand.
pub fn run_group(cmd: &GroupCommand) -> Result<ExitCode> {
    match cmd {
        GroupCommand::Add(a) => add_group(a),
        GroupCommand::Remove(a) => remove(a, "consumer_group", "group"),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// `rate.factor=8.0` into the settings table (the value as TOML, else as a string).
fn settings(pairs: &[String]) -> Result<toml::Table> {
    let mut out = toml::Table::new();
    for p in pairs {
        let Some((key, value)) = p.split_once('=') else { bail!("--set {p:?}: write KEY=VALUE, e.g. rate.factor=8.0") };
        let value = toml::from_str::<toml::Table>(&format!("v = {}", value.trim()))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.trim().to_string()));
        let mut parts: Vec<&str> = key.trim().split('.').collect();
        let Some(last) = parts.pop() else { bail!("--set {p:?}: the key is empty") };
        let mut table = &mut out;
        for part in parts {
            let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else { bail!("--set {p:?}: {part} is set as a value already") };
            table = inner;
        }
        table.insert(last.to_string(), value);
    }
    Ok(out)
}

/// Appends `section` (TOML text) to the file, checks it, and audits `details`.
fn append(config: &std::path::Path, section: &str, who: &str, target: &str, reason: &str, details: serde_json::Value) -> Result<()> {
    non_empty(&[("--by", who), ("--reason", reason)])?;
    let before = read_existing(config)?;
    let cfg = replace_checked(config, before.as_deref(), &with_section(before.as_deref(), section))?;
    audit_or_restore(&cfg, NewEntry { actor: who, action: Action::DetectorSet, target, reason, details }, config, before.as_deref())
}

fn add_override(a: &OverrideAddArgs) -> Result<()> {
    if a.id.is_empty() || !a.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        bail!("--id {:?}: use letters, digits, '.', '_' and '-'", a.id);
    }
    if let Some(text) = read_existing(&a.config)? {
        let cfg = config_file::parse(&a.config, &text)?;
        if cfg.detector_override.iter().any(|o| o.id.as_deref() == Some(a.id.as_str())) {
            bail!("{}: an override with id {:?} exists; remove it first or choose another id", a.config.display(), a.id);
        }
    }
    let spec = OverrideSpec { id: Some(a.id.clone()), services: a.services.clone(), groups: a.groups.clone(), reason: Some(a.reason.clone()), settings: settings(&a.set)? };
    let section = array_table("detector_override", &spec)?;
    let details = serde_json::json!({ "op": "override.add", "override": serde_json::to_value(&spec)? });
    append(&a.config, &section, &a.by, &format!("override:{}", a.id), &a.reason, details)?;
    eprintln!("override {:?} added by {}: {} (reload a running daemon to apply)", a.id, a.by, a.config.display());
    Ok(())
}

fn add_group(a: &GroupAddArgs) -> Result<()> {
    let spec = ConsumerGroupSpec { name: a.name.clone(), consumers: a.consumers.clone(), networks: a.networks.clone() };
    let section = array_table("consumer_group", &spec)?;
    let details = serde_json::json!({ "op": "group.add", "group": serde_json::to_value(&spec)? });
    append(&a.config, &section, &a.by, &format!("group:{}", a.name), &a.reason, details)?;
    eprintln!("consumer group {:?} added by {}: {} (reload a running daemon to apply)", a.name, a.by, a.config.display());
    Ok(())
}

/// Removes the `section` named `id` (an override's id, a group's name).
fn remove(a: &RemoveArgs, section: &str, what: &str) -> Result<()> {
    non_empty(&[("--by", &a.by), ("--reason", &a.reason)])?;
    let text = config_file::read(&a.config)?;
    let cfg = config_file::parse(&a.config, &text)?;
    let (index, removed) = match section {
        "detector_override" => {
            let i = cfg.detector_override.iter().position(|o| o.id.as_deref() == Some(a.id.as_str()));
            (i, i.and_then(|i| cfg.detector_override.get(i)).map(serde_json::to_value).transpose()?)
        }
        _ => {
            let i = cfg.consumer_group.iter().position(|g| g.name == a.id);
            (i, i.and_then(|i| cfg.consumer_group.get(i)).map(serde_json::to_value).transpose()?)
        }
    };
    let Some(index) = index else { bail!("{}: no {what} {:?}", a.config.display(), a.id) };
    let after = cut_section(&a.config, &text, section, index, &format!("{what} {:?}", a.id))?;
    let target = format!("{what}:{}", a.id);
    let details = serde_json::json!({ "op": format!("{what}.remove"), what: removed });
    audit_or_restore(&after, NewEntry { actor: &a.by, action: Action::DetectorSet, target: &target, reason: &a.reason, details }, &a.config, Some(&text))?;
    eprintln!("{what} {:?} removed by {}: {} (reload a running daemon to apply)", a.id, a.by, a.config.display());
    Ok(())
}
