//! `apitap report`: reads the inventory (and the optional inputs), builds the report and
//! writes the chosen formats. The only I/O of the report; errors name the file and the fix.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::{build, parse_consumers, parse_inventory, parse_previous, write_all, AnomalyDigest, Format, ReportInput, MAX_LINE_BYTES};
use crate::cli::ReportArgs;

/// Largest inventory, consumers list or previous report read (an inventory at its bounds,
/// 20,000 endpoints, is far smaller).
pub const MAX_INPUT_BYTES: u64 = 512 * 1024 * 1024;

fn read_text(path: &Path, what: &str) -> Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read the {what}; check the path", path.display()))?;
    if meta.len() > MAX_INPUT_BYTES {
        bail!("{}: {} bytes is more than the {MAX_INPUT_BYTES} bytes a {what} may have; is it the right file?", path.display(), meta.len());
    }
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the {what} (is it UTF-8 JSON?)", path.display()))
}

/// Reads anomalies.jsonl line by line into a digest. A last line without its line end that
/// does not parse was cut by an interrupted writer: it is skipped with a warning.
pub fn read_anomalies(path: &Path) -> Result<AnomalyDigest> {
    let file = File::open(path).with_context(|| format!("{}: cannot read the anomalies; check the path", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut digest = AnomalyDigest::new();
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("{}: cannot read the anomalies", path.display()))?;
        if n == 0 {
            break;
        }
        let line_no = digest.lines() + 1;
        let complete = buf.last() == Some(&b'\n');
        if !complete && buf.len() > MAX_LINE_BYTES {
            bail!("{}: line {line_no} is longer than {MAX_LINE_BYTES} bytes; the file must be the anomalies.jsonl apitap writes", path.display());
        }
        let text = String::from_utf8_lossy(&buf);
        if let Err(e) = digest.add_line(text.trim_end_matches(['\n', '\r'])) {
            if !complete {
                eprintln!("warning: {}: the last line is cut short ({e}); it was skipped", path.display());
                break;
            }
            bail!("{}: line {line_no}: {e}; the file must be the anomalies.jsonl that apitap writes (docs/anomalies.md)", path.display());
        }
    }
    Ok(digest)
}

/// Packet-independent wall time for the "generated" line of the page.
fn now_rfc3339() -> Option<String> {
    let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(apitap_discovery::inventory::rfc3339(u64::try_from(ns).ok()?))
}

/// Runs `apitap report`.
pub fn run(args: &ReportArgs) -> Result<()> {
    let name = |p: &Path| p.display().to_string();
    let mut input = match (&args.store, &args.inventory) {
        (Some(store), _) => {
            // A reader beside the running daemon: no lock, no schema change.
            let db = crate::store::db::Store::open_existing(store)?;
            crate::daemon::reports::input_from_store(&db, None, None)?
        }
        (None, Some(inv)) => {
            let inv_text = read_text(inv, "inventory")?;
            let inventory = parse_inventory(&name(inv), &inv_text).map_err(|e| anyhow!(e))?;
            ReportInput::new(inventory)
        }
        (None, None) => bail!("give --inventory FILE (from `apitap read --out`) or --store FILE (the daemon's store)"),
    };
    if let Some(title) = &args.title {
        if title.trim().is_empty() {
            bail!("--title is empty; give a title or leave the option out");
        }
        input.title = title.clone();
    }
    input.generated_at = now_rfc3339();
    if let Some(p) = &args.anomalies {
        input.anomalies = Some(read_anomalies(p)?);
    }
    if let (Some(log), Some(d)) = (&args.audit_log, input.anomalies.as_mut()) {
        let records = crate::audit::read_verified(log)?;
        d.apply_triage(&crate::tuning::triage::Triage::fold(&records).marks);
    }
    if let Some(p) = &args.consumers {
        input.consumers = Some(parse_consumers(&name(p), &read_text(p, "consumers list")?).map_err(|e| anyhow!(e))?);
    }
    if let Some(p) = &args.previous {
        input.previous = Some(parse_previous(&name(p), &read_text(p, "previous report")?).map_err(|e| anyhow!(e))?);
    }
    let formats: Vec<Format> = if args.formats.is_empty() { Format::ALL.to_vec() } else { dedup(&args.formats) };
    // `--previous DIR/report.json --out DIR` is the usual weekly run: the previous report was
    // read above, before this one replaces it.
    let report = build(&input);
    for path in write_all(&report, &args.out, &formats)? {
        println!("{}", path.display());
    }
    Ok(())
}

fn dedup(formats: &[Format]) -> Vec<Format> {
    let mut out: Vec<Format> = Vec::new();
    for f in formats {
        if !out.contains(f) {
            out.push(*f);
        }
    }
    out
}
