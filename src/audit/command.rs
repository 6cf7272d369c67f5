//! `apitap audit verify`, `apitap audit show` and `apitap audit observe`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use super::verify::{open_locked, scan, unreadable};
use super::{AuditRecord, VerifyError};

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain: exit 0 and its head when every record is intact, exit
    /// 1 naming the first line that was altered, deleted, inserted, moved or cut.
    Verify(VerifyArgs),
    /// Print the audit log's records as a table (after verifying it).
    Show(ShowArgs),
    /// Record the configuration's tuning as it is now, by whom and why: after a change made
    /// by editing the file, which `run` and `verify --config` report until it is recorded.
    Observe(ObserveArgs),
}

/// `apitap audit observe`.
#[derive(Debug, Args)]
pub struct ObserveArgs {
    /// The configuration file (its `[tuning] audit_log` is the log appended to).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Who made the change.
    #[arg(long)]
    pub by: String,
    /// Why (a change ticket).
    #[arg(long)]
    pub reason: String,
}

/// `apitap audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The audit log (default with `--config`: the configuration's `[tuning] audit_log`).
    #[arg(long, value_name = "FILE", required_unless_present = "config")]
    pub log: Option<PathBuf>,
    /// Also check that this configuration's tuning is the one the log last recorded: fails
    /// when suppressions, groups, overrides, `[behaviour]` or `[tuning]` were changed by
    /// editing the file and nobody recorded it (`apitap audit observe`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A head printed earlier (64 hex digits, kept in a ticket or the SIEM): fails unless it
    /// is the hash of one of the records, which shows a log rewritten or cut after it.
    #[arg(long, value_name = "HEX")]
    pub expect_head: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `apitap audit show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The audit log.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Print the records as JSON lines, as stored.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `audit` subcommand.
pub fn run(cmd: &AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify(args) => run_verify(args),
        AuditCommand::Show(args) => run_show(args),
        AuditCommand::Observe(args) => run_observe(args),
    }
}

/// 64 hex digits, lowercased.
fn parse_head(text: &str) -> Result<String> {
    let t = text.trim();
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--expect-head {text:?} is not a head: give the 64 hexadecimal digits `apitap audit verify` printed");
    }
    Ok(t.to_ascii_lowercase())
}

fn run_verify(args: &VerifyArgs) -> Result<ExitCode> {
    let anchor = args.expect_head.as_deref().map(parse_head).transpose()?;
    let cfg = args.config.as_deref().map(crate::config_file::load).transpose()?;
    let path = &match (&args.log, &cfg) {
        (Some(log), _) => log.clone(),
        (None, Some(c)) => crate::tuning::triage::log_path(c),
        (None, None) => bail!("give --log FILE or --config FILE"),
    };
    warn_if_writable_by_others(path);
    let mut anchor_seq = None;
    let result = open_locked(path)
        .map_err(|e| unreadable(path, &e))
        .and_then(|file| {
            scan(path, &file, |r| {
                if anchor.as_deref() == Some(r.hash.as_str()) {
                    anchor_seq = Some(r.seq);
                }
            })
        });
    let name = path.display();
    let (ok, text, value) = match (&result, &anchor, anchor_seq) {
        (Err(e), _, _) => (false, format!("{e}"), failure_json(path, e)),
        (Ok(v), Some(a), None) => (
            false,
            format!("{name}: the anchor {a} is not the hash of any of its {} records: the log was rewritten, or cut before the anchored record, since the anchor was taken", v.records),
            json!({"ok": false, "file": name.to_string(), "records": v.records, "head": v.head, "expect_head": a, "error": "anchor not found"}),
        ),
        (Ok(v), Some(a), Some(seq)) => (
            true,
            format!("{name}: {} records verify; head {}; anchor is record {seq}", v.records, v.head),
            json!({"ok": true, "file": name.to_string(), "records": v.records, "head": v.head, "expect_head": a, "anchor_seq": seq}),
        ),
        (Ok(v), None, _) => (
            true,
            format!("{name}: {} records verify; head {}", v.records, v.head),
            json!({"ok": true, "file": name.to_string(), "records": v.records, "head": v.head}),
        ),
    };
    let (ok, text, value) = match (ok, &cfg) {
        (true, Some(c)) => with_drift(c, text, value)?,
        _ => (ok, text, value),
    };
    if args.json {
        println!("{value}");
    } else if ok {
        println!("{text}");
    } else {
        eprintln!("error: {text}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A verified log's result, failed when the configuration's tuning is not the one it last
/// recorded.
fn with_drift(cfg: &crate::config_file::ConfigFile, text: String, mut value: serde_json::Value) -> Result<(bool, String, serde_json::Value)> {
    let drift = crate::tuning::manifest::compare(cfg)?;
    let same = drift == crate::tuning::manifest::Drift::Same;
    if let Some(o) = value.as_object_mut() {
        o.insert("tuning_recorded".into(), json!(same));
        o.insert("ok".into(), json!(same));
        if !same {
            o.insert("error".into(), json!(drift.describe()));
        }
    }
    if same {
        return Ok((true, format!("{text}; the tuning of {} is the one it last recorded", cfg.path.display()), value));
    }
    let fix = format!("record it with `apitap audit observe --config {} --by WHO --reason WHY`", cfg.path.display());
    Ok((false, format!("{text}, but {}: {}; {fix}", cfg.path.display(), drift.describe()), value))
}

fn run_observe(args: &ObserveArgs) -> Result<ExitCode> {
    let cfg = crate::config_file::load(&args.config)?;
    let drift = crate::tuning::manifest::compare(&cfg)?;
    match crate::tuning::manifest::record(&cfg, &drift, &args.by, &args.reason)? {
        Some(seq) => println!("{}: {}; recorded as record {seq} (by {})", args.config.display(), drift.describe(), args.by),
        None => println!("{}: {}; nothing appended", args.config.display(), drift.describe()),
    }
    Ok(ExitCode::SUCCESS)
}

fn failure_json(path: &Path, e: &VerifyError) -> serde_json::Value {
    json!({"ok": false, "file": path.display().to_string(), "line": e.line, "error": e.problem.to_string()})
}

/// A log others can write is a log anyone on the host can rewrite: say so (docs/audit.md).
fn warn_if_writable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o002 != 0 {
            eprintln!(
                "warning: {}: writable by every user (mode {:o}): chmod 640 it (docs/audit.md)",
                path.display(),
                mode & 0o7777
            );
        }
    }
}

fn run_show(args: &ShowArgs) -> Result<ExitCode> {
    let path = &args.log;
    let file = open_locked(path).map_err(|e| unreadable(path, &e))?;
    let mut records = Vec::new();
    scan(path, &file, |r| records.push(r))?;
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        json_lines(&records)?
    } else {
        table(&records)
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn json_lines(records: &[AuditRecord]) -> Result<String> {
    let mut s = String::new();
    for r in records {
        s.push_str(&r.line()?);
        s.push('\n');
    }
    Ok(s)
}

/// Control characters written as escapes, so that a reason cannot forge table rows or drive
/// the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The records as a table: seq, time, actor, os_user, action, target, reason (the reason last
/// and unpadded: it may be long).
fn table(records: &[AuditRecord]) -> String {
    const HEAD: [&str; 7] = [
        "SEQ", "TIME", "ACTOR", "OS_USER", "ACTION", "TARGET", "REASON",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            [
                r.seq.to_string(),
                r.time.clone(),
                printable(&r.actor),
                printable(&r.os_user),
                printable(&r.action),
                printable(&r.target),
                printable(&r.reason),
            ]
        })
        .collect();
    let mut widths = HEAD.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let mut push_row = |cells: [&str; 7]| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    w.saturating_sub(cell.chars().count()) + 2,
                ));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    };
    push_row(HEAD);
    for row in &rows {
        push_row(row.each_ref().map(String::as_str));
    }
    if records.is_empty() {
        s.push_str("(no records)\n");
    }
    s
}
