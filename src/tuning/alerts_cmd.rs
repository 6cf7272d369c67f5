//! `apitap alerts list|show|close|reopen|annotate`: triage from the command line. Findings are
//! read from the daemon's store (the configuration's `[store]`) or from a run's
//! `anomalies.jsonl` (`--anomalies`); every decision is appended to the audit log
//! (`[tuning] audit_log`), which `read`, `run` and the report apply: a false positive or
//! expected behaviour is absorbed into the consumer's baseline, and every later event of the
//! finding carries the decision.
// Events are read through serde_json's `Value` index, which gives `Null` for a missing key or
// a non-object and never panics (only writing through it can).
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use apitap_discovery::behaviour::Severity;
use apitap_discovery::tuning::{TriageMark, TriageState, Verdict};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::triage::{log_path, FindingFacts, Triage};
use crate::audit::{Action, NewEntry};
use crate::config_file;

/// The `alerts` subcommands.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List findings awaiting triage (or all), by severity, with their consumer and kind.
    List(ListArgs),
    /// One finding: its latest event, evidence and triage history.
    Show(OneArgs),
    /// Close a finding, with a verdict: `false-positive` and `expected` are absorbed into the
    /// consumer's baseline so the same pattern does not alert again.
    Close(CloseArgs),
    /// Reopen a closed finding (its verdict no longer absorbs anything).
    Reopen(ReasonArgs),
    /// Add a note to a finding.
    Annotate(NoteArgs),
}

/// Where the findings and the audit log are.
#[derive(Debug, Args)]
pub struct Source {
    /// The configuration file: its `[store]` holds the findings, its `[tuning] audit_log` the
    /// decisions.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Read findings from this `anomalies.jsonl` (an `apitap read --out DIR` run) instead of
    /// the store.
    #[arg(long, value_name = "FILE")]
    pub anomalies: Option<PathBuf>,
}

/// Triage state to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateFilter {
    /// Not closed by an analyst.
    Open,
    /// Closed by an analyst.
    Closed,
    /// Every finding.
    All,
}

/// `apitap alerts list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    source: Source,
    /// Which findings.
    #[arg(long, value_enum, default_value = "open")]
    state: StateFilter,
    /// Only this severity and above (informational, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    severity: Option<String>,
    /// Only this kind.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// Only this consumer (label or id).
    #[arg(long, value_name = "LABEL|ID")]
    consumer: Option<String>,
    /// Include findings opened under a suppression rule.
    #[arg(long)]
    suppressed: bool,
    /// Print each finding's evidence too.
    #[arg(long)]
    evidence: bool,
    /// Print JSON (each finding's latest event with its triage) instead of text.
    #[arg(long)]
    json: bool,
}

/// `apitap alerts show`.
#[derive(Debug, Args)]
pub struct OneArgs {
    /// The finding id (or a unique prefix of at least 8 digits).
    finding: String,
    #[command(flatten)]
    source: Source,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The verdict of a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerdictArg {
    /// A real finding, dealt with.
    Resolved,
    /// The detector was wrong: absorbed into the baseline.
    FalsePositive,
    /// Real and expected of this consumer: absorbed into the baseline.
    Expected,
}

/// `apitap alerts close`.
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The finding id (or a unique prefix of at least 8 digits).
    finding: String,
    #[command(flatten)]
    source: Source,
    /// The verdict.
    #[arg(long, value_enum, default_value = "resolved")]
    verdict: VerdictArg,
    /// Who decides.
    #[arg(long)]
    by: String,
    /// Why.
    #[arg(long)]
    reason: String,
}

/// `apitap alerts reopen`.
#[derive(Debug, Args)]
pub struct ReasonArgs {
    /// The finding id (or a unique prefix of at least 8 digits).
    finding: String,
    #[command(flatten)]
    source: Source,
    /// Who decides.
    #[arg(long)]
    by: String,
    /// Why.
    #[arg(long)]
    reason: String,
}

/// `apitap alerts annotate`.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The finding id (or a unique prefix of at least 8 digits).
    finding: String,
    #[command(flatten)]
    source: Source,
    /// Who writes it.
    #[arg(long)]
    by: String,
    /// The note.
    #[arg(long)]
    note: String,
}

/// Runs an `alerts` subcommand.
pub fn run(cmd: &AlertsCommand) -> Result<ExitCode> {
    match cmd {
        AlertsCommand::List(a) => list(a),
        AlertsCommand::Show(a) => show(a),
        AlertsCommand::Close(a) => {
            let verdict = match a.verdict {
                VerdictArg::Resolved => Verdict::Resolved,
                VerdictArg::FalsePositive => Verdict::FalsePositive,
                VerdictArg::Expected => Verdict::Expected,
            };
            let action = if verdict.absorbs() { Action::FindingFeedback } else { Action::FindingClose };
            decide(&a.source, &a.finding, action, &a.by, &a.reason, Some(verdict))
        }
        AlertsCommand::Reopen(a) => decide(&a.source, &a.finding, Action::FindingReopen, &a.by, &a.reason, None),
        AlertsCommand::Annotate(a) => decide(&a.source, &a.finding, Action::FindingAnnotate, &a.by, &a.note, None),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Most findings read from a source.
const MAX_FINDINGS_READ: usize = 1_000_000;

/// Each finding's latest event, by finding id.
fn findings(source: &Source, cfg: &config_file::ConfigFile) -> Result<BTreeMap<String, Value>> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut keep = |v: Value| {
        let Some(id) = v["unmapped"]["finding_id"].as_str().map(String::from) else { return };
        let version = v["unmapped"]["finding_version"].as_u64().unwrap_or(0);
        let newer = out.get(&id).is_none_or(|o| o["unmapped"]["finding_version"].as_u64().unwrap_or(0) <= version);
        if newer && (out.len() < MAX_FINDINGS_READ || out.contains_key(&id)) {
            out.insert(id, v);
        }
    };
    match &source.anomalies {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).with_context(|| format!("{}:{}: not a finding event (JSON)", path.display(), i + 1))?;
                keep(v);
            }
        }
        None => {
            let store = crate::store::db::Store::open_existing(&cfg.store.path).with_context(|| format!("the store of {}", source.config.display()))?;
            let rows = store.findings(&crate::store::db::FindingQuery { consumer_id: None, customer_id: None, kind: None, since: None, limit: 0 })?;
            for r in rows {
                if let Ok(v) = serde_json::from_str::<Value>(&r.data) {
                    keep(v);
                }
            }
        }
    }
    Ok(out)
}

fn load(source: &Source) -> Result<(config_file::ConfigFile, BTreeMap<String, Value>, Triage)> {
    let cfg = config_file::load(&source.config)?;
    let all = findings(source, &cfg)?;
    let log = log_path(&cfg);
    let triage = if log.exists() { Triage::fold(&crate::audit::read_verified(&log)?) } else { Triage::default() };
    Ok((cfg, all, triage))
}

/// The finding an id or unique prefix names.
fn resolve<'a>(all: &'a BTreeMap<String, Value>, wanted: &str) -> Result<(&'a String, &'a Value)> {
    let wanted = wanted.trim().to_ascii_lowercase();
    if let Some((k, v)) = all.get_key_value(&wanted) {
        return Ok((k, v));
    }
    if wanted.len() < 8 {
        bail!("no finding {wanted:?}; give the whole id or at least 8 of its first digits");
    }
    let mut hits = all.range(wanted.clone()..).take_while(|(k, _)| k.starts_with(&wanted));
    match (hits.next(), hits.next()) {
        (Some(hit), None) => Ok(hit),
        (Some(_), Some(_)) => bail!("{wanted:?} names more than one finding; give more digits"),
        (None, _) => bail!("no finding {wanted:?} in this source (the store, or --anomalies FILE for a read's output)"),
    }
}

fn severity_of(v: &Value) -> Severity {
    match v["severity_id"].as_u64() {
        Some(5) => Severity::Critical,
        Some(4) => Severity::High,
        Some(3) => Severity::Medium,
        Some(2) => Severity::Low,
        _ => Severity::Informational,
    }
}

fn facts(v: &Value, verdict: Verdict) -> FindingFacts {
    let u = &v["unmapped"];
    let text = |x: &Value| x.as_str().map(String::from);
    let e = &u["endpoint"];
    FindingFacts {
        verdict,
        kind: u["kind"].as_str().unwrap_or_default().to_string(),
        consumer_id: text(&u["consumer"]["id"]),
        consumer_label: text(&u["consumer"]["label"]),
        endpoint: match (text(&e["service"]), text(&e["method"]), text(&e["path_template"])) {
            (Some(s), Some(m), Some(p)) => Some((s, m, p)),
            _ => None,
        },
        subject: text(&u["subject"]),
        severity: severity_of(v),
        score: u8::try_from(u["score"].as_u64().unwrap_or(0)).unwrap_or(100),
    }
}

fn decide(source: &Source, finding: &str, action: Action, by: &str, reason: &str, verdict: Option<Verdict>) -> Result<()> {
    let (cfg, all, triage) = load(source)?;
    let (id, event) = resolve(&all, finding)?;
    let mark = triage.marks.get(id);
    let closed = mark.is_some_and(|m| m.state == TriageState::Closed);
    match action {
        Action::FindingClose | Action::FindingFeedback if closed => bail!("finding {id} is closed already; reopen it first"),
        Action::FindingReopen if !closed => bail!("finding {id} is not closed by an analyst; nothing to reopen"),
        _ => {}
    }
    let details = match verdict {
        Some(v) => serde_json::to_value(facts(event, v))?,
        None => json!({ "kind": event["unmapped"]["kind"], "consumer_label": event["unmapped"]["consumer"]["label"] }),
    };
    let log = log_path(&cfg);
    crate::audit::append(&log, NewEntry { actor: by, action, target: id, reason, details }, SystemTime::now())?;
    let what = match (action, verdict) {
        (Action::FindingReopen, _) => "reopened".to_string(),
        (Action::FindingAnnotate, _) => "annotated".to_string(),
        (_, Some(v)) if v.absorbs() => format!("closed as {}: its pattern is absorbed into the consumer's baseline", v.code()),
        _ => "closed as resolved".to_string(),
    };
    eprintln!("finding {id} {what} (by {by}); recorded in {}. A running daemon applies it within its poll interval.", log.display());
    Ok(())
}

/// The triage state a listing shows: `new` (no decision), `open` or `closed`.
fn state_name(mark: Option<&TriageMark>) -> &'static str {
    match mark.map(|m| m.state) {
        None => "new",
        Some(TriageState::Open) => "open",
        Some(TriageState::Closed) => "closed",
    }
}

fn with_triage(event: &Value, mark: Option<&TriageMark>) -> Value {
    let mut v = event.clone();
    if let (Some(u), Some(m)) = (v.get_mut("unmapped").and_then(Value::as_object_mut), mark) {
        u.insert("triage".into(), serde_json::to_value(m).unwrap_or(Value::Null));
    }
    v
}

fn list(a: &ListArgs) -> Result<()> {
    let (_, all, triage) = load(&a.source)?;
    let min = match a.severity.as_deref() {
        None => Severity::Informational,
        Some(s) => serde_json::from_value(Value::String(s.to_ascii_lowercase()))
            .map_err(|_| anyhow::anyhow!("--severity {s:?}: one of informational, low, medium, high, critical"))?,
    };
    let mut rows: Vec<(&String, &Value, Option<&TriageMark>)> = all
        .iter()
        .map(|(id, v)| (id, v, triage.marks.get(id)))
        .filter(|(_, v, m)| {
            let u = &v["unmapped"];
            let closed = m.is_some_and(|m| m.state == TriageState::Closed);
            let state_ok = match a.state {
                StateFilter::Open => !closed,
                StateFilter::Closed => closed,
                StateFilter::All => true,
            };
            state_ok
                && severity_of(v) >= min
                && (a.suppressed || u.get("suppressed").is_none())
                && a.kind.as_deref().is_none_or(|k| u["kind"] == k)
                && a.consumer.as_deref().is_none_or(|c| u["consumer"]["label"] == c || u["consumer"]["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(c)))
        })
        .collect();
    rows.sort_by(|x, y| severity_of(y.1).cmp(&severity_of(x.1)).then_with(|| y.1["unmapped"]["last_seen"].as_str().cmp(&x.1["unmapped"]["last_seen"].as_str())));
    if a.json {
        let out: Vec<Value> = rows.iter().map(|(_, v, m)| with_triage(v, *m)).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no findings match");
    }
    for (id, v, m) in rows {
        let u = &v["unmapped"];
        let who = u["consumer"]["label"].as_str().or(u["network"].as_str()).unwrap_or("-");
        let suppressed = u["suppressed"]["rule"].as_str().map_or(String::new(), |r| format!(" [suppressed by {r}]"));
        println!(
            "{id}  {:<13} {:<26} {:<7} {who}  {} .. {}  {}{suppressed}",
            v["severity"].as_str().unwrap_or("-"),
            u["kind"].as_str().unwrap_or("-"),
            state_name(m),
            u["first_seen"].as_str().unwrap_or("-"),
            u["last_seen"].as_str().unwrap_or("-"),
            v["message"].as_str().unwrap_or(""),
        );
        if a.evidence {
            println!("    evidence: {}", u["evidence"]);
        }
    }
    Ok(())
}

fn show(a: &OneArgs) -> Result<()> {
    let (_, all, triage) = load(&a.source)?;
    let (id, v) = resolve(&all, &a.finding)?;
    let mark = triage.marks.get(id);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&with_triage(v, mark))?);
        return Ok(());
    }
    let u = &v["unmapped"];
    println!("finding {id} ({} {}, score {}), {}", v["severity"].as_str().unwrap_or("-"), u["kind"].as_str().unwrap_or("-"), u["score"], v["message"].as_str().unwrap_or(""));
    println!("  consumer: {} ({})", u["consumer"]["label"].as_str().unwrap_or("-"), u["consumer"]["id"].as_str().unwrap_or("-"));
    if let Some(e) = u["endpoint"].as_object() {
        println!("  endpoint: {} {}{}", e["method"].as_str().unwrap_or("-"), e["service"].as_str().unwrap_or("-"), e["path_template"].as_str().unwrap_or(""));
    }
    println!("  seen: {} .. {} ({} requests), lifecycle {} (event {})", u["first_seen"].as_str().unwrap_or("-"), u["last_seen"].as_str().unwrap_or("-"), v["count"], u["lifecycle"].as_str().unwrap_or("-"), u["finding_version"]);
    if let Some(s) = u["suppressed"].as_object() {
        println!("  suppressed by {} ({}): {}", s["rule"].as_str().unwrap_or("-"), s["owner"].as_str().unwrap_or("-"), s["reason"].as_str().unwrap_or("-"));
    }
    println!("  evidence: {}", serde_json::to_string_pretty(&u["evidence"])?);
    match mark {
        None => println!("  triage: new (no decision yet)"),
        Some(m) => {
            let verdict = m.verdict.map_or(String::new(), |v| format!(" as {}", v.code()));
            println!("  triage: {}{verdict} by {} at {}: {}", state_name(Some(m)), m.by, m.time, m.reason);
            for n in &m.notes {
                println!("    note by {} at {}: {}", n.by, n.time, n.text);
            }
        }
    }
    Ok(())
}
