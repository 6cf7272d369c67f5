//! Reports from the store: the daemon's periodic ones (every `[report] every_hours` of packet
//! time, right after a checkpoint, so the store is current) and `apitap report --store` on
//! demand, built the same way from the same tables.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::report::{self, AnomalyDigest, ConsumerDoc, Format, ReportInput};
use crate::store::db::{FindingQuery, ReportRecord, Store};

/// The `state` section holding the latest inventory report (what `inventory.json` would be).
pub const INVENTORY_REPORT: &str = "inventory_report";
/// Its format: the inventory.json schema version.
pub const INVENTORY_REPORT_FORMAT: u32 = 1;

/// Consumers listed in a report's consumer table.
pub const REPORT_CONSUMERS: usize = 200;

/// Finding events read for a report (the newest first): the store keeps the latest event of
/// each finding, so this is findings, not events.
pub const REPORT_FINDINGS: usize = 100_000;

/// The report's input from what the store holds: the inventory of the last checkpoint, its
/// findings and its top consumers. `previous`: the last report's `report.json`, if any.
pub fn input_from_store(store: &Store, previous: Option<&Path>, generated_at: Option<String>) -> Result<ReportInput> {
    let section = store
        .section(INVENTORY_REPORT)
        .context("cannot read the store")?
        .ok_or_else(|| anyhow!("{}: holds no inventory yet (no checkpoint written); let the daemon run a checkpoint interval first", store.path().display()))?;
    let text = String::from_utf8_lossy(&section.data);
    let inventory = report::parse_inventory(&format!("{} (inventory)", store.path().display()), &text).map_err(|e| anyhow!(e))?;
    let mut input = ReportInput::new(inventory);
    input.generated_at = generated_at;
    let mut digest = AnomalyDigest::new();
    let findings = store.findings(&FindingQuery { limit: REPORT_FINDINGS, ..FindingQuery::default() }).context("cannot read the findings")?;
    for f in findings.iter().rev() {
        digest.add_line(&f.data).map_err(|e| anyhow!("{}: finding {}: {e}", store.path().display(), f.finding_id))?;
    }
    input.anomalies = Some(digest);
    let consumers = store.top_consumers(REPORT_CONSUMERS).context("cannot read the consumers")?;
    input.consumers = Some(
        consumers
            .into_iter()
            .map(|c| ConsumerDoc {
                id: c.id,
                label: c.label.unwrap_or_default(),
                source: c.source.unwrap_or_default(),
                requests: c.requests,
                errors: c.errors,
                endpoints: c.endpoints,
                first_seen: Some(apitap_discovery::inventory::rfc3339(c.first_seen)),
                last_seen: Some(apitap_discovery::inventory::rfc3339(c.last_seen)),
            })
            .collect(),
    );
    if let Some(p) = previous {
        let text = std::fs::read_to_string(p).with_context(|| format!("{}: cannot read the previous report", p.display()))?;
        input.previous = Some(report::parse_previous(&p.display().to_string(), &text).map_err(|e| anyhow!(e))?);
    }
    Ok(input)
}

/// The formats `[report] formats` names (checked by the configuration already; an unknown
/// name is skipped).
pub fn formats(names: &[String]) -> Vec<Format> {
    use clap::ValueEnum;
    names.iter().filter_map(|n| Format::from_str(n, true).ok()).collect()
}

/// The report folders in `dir`, oldest first (their names are UTC times, so they sort).
fn report_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with('Z') && n.len() == 16))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// `YYYYMMDDTHHMMSSZ` of a unix-ns time.
fn folder_name(ns: u64) -> String {
    let t = apitap_discovery::inventory::rfc3339(ns);
    // 2026-11-21T16:49:06.851Z -> 20261121T164906Z
    let digits: String = t.chars().take(19).filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    format!("{digits}Z")
}

/// Writes one report into a new folder of `dir` named after `wall_ns`, comparing with the
/// newest earlier one, records it in the store and removes folders beyond `keep`. Returns the
/// folder.
/// `triage`: the analysts' decisions of the audit log, shown with the findings.
pub fn write_periodic(store: &mut Store, dir: &Path, formats: &[Format], (keep, triage): (usize, &std::collections::HashMap<String, apitap_discovery::tuning::TriageMark>), packet_time: u64, wall_ns: u64) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the report folder {}", dir.display()))?;
    let earlier = report_dirs(dir);
    let previous = earlier.last().map(|d| d.join("report.json")).filter(|p| p.exists());
    let mut input = input_from_store(store, previous.as_deref(), Some(apitap_discovery::inventory::rfc3339(wall_ns)))?;
    if let Some(d) = input.anomalies.as_mut() {
        d.apply_triage(triage);
    }
    let built = report::build(&input);
    let out = dir.join(folder_name(wall_ns));
    if out.exists() {
        bail!("{}: a report folder of this second exists already", out.display());
    }
    report::write_all(&built, &out, formats)?;
    let endpoint_keys =
        input.inventory.endpoints.iter().map(|e| format!("{} {} {}", e.host, e.method, e.path)).collect();
    store
        .record_report(&ReportRecord {
            generated_at: wall_ns,
            packet_time,
            formats: formats.iter().map(|f| f.file_name().to_string()).collect(),
            endpoint_keys,
        })
        .context("cannot record the report in the store")?;
    let all = report_dirs(dir);
    for old in all.iter().take(all.len().saturating_sub(keep)) {
        if let Err(e) = std::fs::remove_dir_all(old) {
            tracing::warn!(folder = %old.display(), error = %e, "cannot remove an old report folder");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_sort_by_time() {
        let a = folder_name(1_763_743_746_851_000_000);
        let b = folder_name(1_763_743_747_000_000_000);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('Z') && a.contains('T'));
        assert!(a < b, "{a} {b}");
    }
}
