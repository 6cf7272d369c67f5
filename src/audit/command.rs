//! `apitap audit verify` and `apitap audit show`.

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
}

/// `apitap audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The audit log.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
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
    let path = &args.log;
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
