//! The readable tables: findings (every anomaly event, latest version kept), the latest
//! inventory's endpoints, and what each report listed.

use std::path::Path;

use rusqlite::{params, OptionalExtension, Transaction};

use super::error::{Result, SqlContext, StoreError};
use super::files::{from_sql, to_sql};
use super::{Store, StoreLimits};

/// One finding (anomaly incident) at its latest event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    /// Stable finding id.
    pub finding_id: String,
    /// What was found (the anomaly kind's name).
    pub kind: String,
    /// How bad (the severity's name).
    pub severity: String,
    /// The consumer, when known.
    pub consumer_id: Option<String>,
    /// The customer, when a request named one.
    pub customer_id: Option<String>,
    /// Packet time of the incident's first request (unix ns).
    pub first_seen: u64,
    /// Packet time of its latest request (unix ns); retention counts from it.
    pub last_seen: u64,
    /// new, updated or closed.
    pub lifecycle: String,
    /// The event's number within the finding; a lower one never replaces a higher.
    pub version: u32,
    /// The latest event as JSON (the anomaly message, secrets already hashed or masked).
    pub data: String,
}

/// One endpoint of the latest inventory report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    /// Host (service) as the inventory names it.
    pub service: String,
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub template: String,
    /// Classification (documented, shadow, zombie, orphan, ...).
    pub class: String,
    /// Packet time of its first request (unix ns), when seen.
    pub first_seen: Option<u64>,
    /// Packet time of its latest request (unix ns), when seen.
    pub last_seen: Option<u64>,
    /// Requests counted.
    pub requests: u64,
    /// The endpoint's whole entry as JSON.
    pub data: String,
}

/// What a report listed, so the next one can say what is new since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    /// Wall-clock time the report was written (unix ns).
    pub generated_at: u64,
    /// Packet time it covers up to (unix ns); retention counts from it.
    pub packet_time: u64,
    /// Formats written (html, md, json, csv, openapi).
    pub formats: Vec<String>,
    /// The endpoints it listed, as keys the report module chooses ("service method template").
    pub endpoint_keys: Vec<String>,
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// Its row id (increasing).
    pub id: i64,
    /// What it listed.
    pub record: ReportRecord,
}

/// Which findings [`Store::findings`] returns, newest `last_seen` first.
#[derive(Debug, Clone, Default)]
pub struct FindingQuery<'a> {
    /// Only this consumer's.
    pub consumer_id: Option<&'a str>,
    /// Only this customer's.
    pub customer_id: Option<&'a str>,
    /// Only this kind.
    pub kind: Option<&'a str>,
    /// Only those seen at or after this packet time (unix ns).
    pub since: Option<u64>,
    /// At most this many (0: [`StoreLimits::max_query_rows`]; never more than it).
    pub limit: usize,
}

pub(super) fn upsert_findings(tx: &Transaction<'_>, p: &Path, findings: &[FindingRow]) -> Result<u64> {
    let mut put = tx
        .prepare_cached(
            "INSERT INTO findings (finding_id, kind, severity, consumer_id, customer_id, first_seen, last_seen, lifecycle, version, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(finding_id) DO UPDATE SET kind = excluded.kind, severity = excluded.severity,
                consumer_id = excluded.consumer_id, customer_id = excluded.customer_id,
                first_seen = min(first_seen, excluded.first_seen), last_seen = excluded.last_seen,
                lifecycle = excluded.lifecycle, version = excluded.version, data = excluded.data
             WHERE excluded.version >= findings.version",
        )
        .sql(p, "prepare the findings update")?;
    let mut n = 0;
    for f in findings {
        n += put
            .execute(params![
                f.finding_id,
                f.kind,
                f.severity,
                f.consumer_id,
                f.customer_id,
                to_sql(f.first_seen),
                to_sql(f.last_seen),
                f.lifecycle,
                f.version,
                f.data
            ])
            .sql(p, &format!("write finding {}", f.finding_id))? as u64;
    }
    Ok(n)
}

pub(super) fn replace_endpoints(tx: &Transaction<'_>, p: &Path, endpoints: &[EndpointRow]) -> Result<u64> {
    tx.execute("DELETE FROM endpoints", []).sql(p, "clear the endpoints")?;
    let mut put = tx
        .prepare_cached(
            "INSERT INTO endpoints (service, method, template, class, first_seen, last_seen, requests, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(service, method, template) DO UPDATE SET class = excluded.class, first_seen = excluded.first_seen,
                last_seen = excluded.last_seen, requests = excluded.requests, data = excluded.data",
        )
        .sql(p, "prepare the endpoints update")?;
    let mut n = 0;
    for e in endpoints {
        n += put
            .execute(params![
                e.service,
                e.method,
                e.template,
                e.class,
                e.first_seen.map(to_sql),
                e.last_seen.map(to_sql),
                to_sql(e.requests),
                e.data
            ])
            .sql(p, &format!("write endpoint {} {} {}", e.service, e.method, e.template))? as u64;
    }
    Ok(n)
}

/// Deletes the oldest findings and reports past the limits; returns the findings deleted.
pub(super) fn enforce_limits(tx: &Transaction<'_>, p: &Path, limits: &StoreLimits) -> Result<u64> {
    let findings = tx
        .execute(
            "DELETE FROM findings WHERE finding_id IN (
                SELECT finding_id FROM findings ORDER BY last_seen DESC, finding_id LIMIT -1 OFFSET ?1)",
            [to_sql(limits.max_findings)],
        )
        .sql(p, "bound the findings table")?;
    tx.execute(
        "DELETE FROM reports WHERE id IN (SELECT id FROM reports ORDER BY id DESC LIMIT -1 OFFSET ?1)",
        [to_sql(limits.max_reports)],
    )
    .sql(p, "bound the reports table")?;
    Ok(findings as u64)
}

fn finding(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
    Ok(FindingRow {
        finding_id: r.get(0)?,
        kind: r.get(1)?,
        severity: r.get(2)?,
        consumer_id: r.get(3)?,
        customer_id: r.get(4)?,
        first_seen: from_sql(r.get(5)?),
        last_seen: from_sql(r.get(6)?),
        lifecycle: r.get(7)?,
        version: r.get(8)?,
        data: r.get(9)?,
    })
}

fn json_list(p: &Path, id: i64, column: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        path: p.to_path_buf(),
        what: format!("reports row {id}: column {column} is not a JSON list of strings ({e})"),
    })
}

impl Store {
    /// Writes finding events outside a checkpoint (each finding keeps its highest version).
    pub fn record_findings(&mut self, findings: &[FindingRow]) -> Result<u64> {
        let p = self.path.clone();
        let tx = self.conn.transaction().sql(&p, "start writing findings")?;
        let n = upsert_findings(&tx, &p, findings)?;
        tx.commit().sql(&p, "commit the findings")?;
        Ok(n)
    }

    /// The finding `id`'s latest stored event, if the store holds it.
    pub fn finding(&self, id: &str) -> Result<Option<FindingRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT finding_id, kind, severity, consumer_id, customer_id, first_seen, last_seen, lifecycle, version, data
                 FROM findings WHERE finding_id = ?1",
            )
            .sql(&self.path, "look up a finding")?;
        let mut rows = stmt.query_map(params![id], finding).sql(&self.path, "look up a finding")?;
        rows.next().transpose().sql(&self.path, "read a finding")
    }

    /// Findings matching `q`, newest `last_seen` first.
    pub fn findings(&self, q: &FindingQuery<'_>) -> Result<Vec<FindingRow>> {
        let limit = if q.limit == 0 { self.limits.max_query_rows } else { q.limit.min(self.limits.max_query_rows) };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT finding_id, kind, severity, consumer_id, customer_id, first_seen, last_seen, lifecycle, version, data
                 FROM findings
                 WHERE (?1 IS NULL OR consumer_id = ?1) AND (?2 IS NULL OR customer_id = ?2)
                   AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR last_seen >= ?4)
                 ORDER BY last_seen DESC, finding_id LIMIT ?5",
            )
            .sql(&self.path, "query the findings")?;
        let rows = stmt
            .query_map(
                params![q.consumer_id, q.customer_id, q.kind, q.since.map(to_sql), i64::try_from(limit).unwrap_or(i64::MAX)],
                finding,
            )
            .sql(&self.path, "query the findings")?;
        rows.collect::<rusqlite::Result<Vec<_>>>().sql(&self.path, "read a finding")
    }

    /// The consumers with the most requests (readable columns only, no profile), at most
    /// `limit` (capped at `max_query_rows`).
    pub fn top_consumers(&self, limit: usize) -> Result<Vec<super::ConsumerRow>> {
        let limit = limit.min(self.limits.max_query_rows);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, label, source, first_seen, last_seen, requests, format, errors, endpoints FROM consumers
                 ORDER BY requests DESC, id LIMIT ?1",
            )
            .sql(&self.path, "read the consumers")?;
        let rows = stmt
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(super::ConsumerRow {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    source: r.get(2)?,
                    first_seen: from_sql(r.get(3)?),
                    last_seen: from_sql(r.get(4)?),
                    requests: from_sql(r.get(5)?),
                    format: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                    profile: None,
                    errors: from_sql(r.get(7)?),
                    endpoints: from_sql(r.get(8)?),
                })
            })
            .sql(&self.path, "read the consumers")?;
        rows.collect::<rusqlite::Result<Vec<_>>>().sql(&self.path, "read a consumer")
    }

    /// The latest inventory's endpoints, by service, method and template.
    pub fn endpoints(&self) -> Result<Vec<EndpointRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT service, method, template, class, first_seen, last_seen, requests, data
                 FROM endpoints ORDER BY service, method, template",
            )
            .sql(&self.path, "read the endpoints")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EndpointRow {
                    service: r.get(0)?,
                    method: r.get(1)?,
                    template: r.get(2)?,
                    class: r.get(3)?,
                    first_seen: r.get::<_, Option<i64>>(4)?.map(from_sql),
                    last_seen: r.get::<_, Option<i64>>(5)?.map(from_sql),
                    requests: from_sql(r.get(6)?),
                    data: r.get(7)?,
                })
            })
            .sql(&self.path, "read the endpoints")?;
        rows.collect::<rusqlite::Result<Vec<_>>>().sql(&self.path, "read an endpoint")
    }

    /// Records a report; returns its id.
    pub fn record_report(&mut self, r: &ReportRecord) -> Result<i64> {
        let formats = serde_json::to_string(&r.formats).unwrap_or_else(|_| "[]".into());
        let keys = serde_json::to_string(&r.endpoint_keys).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "INSERT INTO reports (generated_at, packet_time, formats, endpoint_keys) VALUES (?1, ?2, ?3, ?4)",
                params![to_sql(r.generated_at), to_sql(r.packet_time), formats, keys],
            )
            .sql(&self.path, "record the report")?;
        let id = self.conn.last_insert_rowid();
        let tx = self.conn.transaction().sql(&self.path, "bound the reports table")?;
        enforce_limits(&tx, &self.path, &self.limits)?;
        tx.commit().sql(&self.path, "bound the reports table")?;
        Ok(id)
    }

    /// The most recent report, `None` before the first.
    pub fn last_report(&self) -> Result<Option<StoredReport>> {
        let row = self
            .conn
            .query_row(
                "SELECT id, generated_at, packet_time, formats, endpoint_keys FROM reports ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?)),
            )
            .optional()
            .sql(&self.path, "read the last report")?;
        let Some((id, generated_at, packet_time, formats, keys)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredReport {
            id,
            record: ReportRecord {
                generated_at: from_sql(generated_at),
                packet_time: from_sql(packet_time),
                formats: json_list(&self.path, id, "formats", &formats)?,
                endpoint_keys: json_list(&self.path, id, "endpoint_keys", &keys)?,
            },
        }))
    }
}
