//! The report computed from its inputs: a pure function, no I/O and no clock.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::anomalies::{severity_name, FindingState};
use super::input::{ConsumerDoc, EndpointDoc, InventoryDoc, REPORT_FORMAT, REPORT_SCHEMA_VERSION};
use super::model::{
    AnomaliesSection, Change, Class, Comparison, ConsumerRow, ConsumerSource, ConsumersSection, EndpointKey, EndpointRow,
    KindRow, OpenFinding, Period, Report, ReportSummary, ServiceFinding, ServiceRow,
};
use super::{openapi, ReportInput, MAX_OPEN_LISTED, TOP_CONSUMERS};

/// The inventory finding that marks sensitive data served without credentials.
const SENSITIVE_FINDING: &str = "sensitive_data_without_authentication";

/// Severity names, most severe first.
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "informational"];

type Key = (String, String, String);

fn key(host: &str, method: &str, path: &str) -> Key {
    (host.to_string(), method.to_string(), path.to_string())
}

fn errors_of(status: &BTreeMap<String, u64>) -> u64 {
    status.iter().filter(|(code, _)| code.starts_with('4') || code.starts_with('5')).map(|(_, n)| *n).sum()
}

fn endpoint_row(e: &EndpointDoc, previous: Option<&HashMap<Key, Class>>, sensitive_findings: &HashMap<Key, u64>) -> EndpointRow {
    let k = key(&e.host, &e.method, &e.path);
    let before = previous.and_then(|p| p.get(&k).copied());
    // Without a previous report, everything the inventory lists is new since the sensor started.
    let new = previous.is_none() || before != Some(e.classification);
    let mut auth: Vec<(&String, &u64)> = e.auth.iter().filter(|(_, n)| **n > 0).collect();
    auth.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let mut sensitive: Vec<String> =
        e.request_sensitive.iter().chain(e.response_sensitive.iter()).filter(|(_, n)| **n > 0).map(|(k, _)| k.clone()).collect();
    sensitive.sort();
    sensitive.dedup();
    EndpointRow {
        host: e.host.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        classification: e.classification,
        new,
        previous_classification: before.filter(|b| *b != e.classification),
        accepted_by: e.accepted.as_ref().map(|a| a.by.clone()),
        zombie_reasons: e.zombie_reasons.clone(),
        spec: e.spec.as_ref().map(|s| format!("{} {}", s.title, s.version).trim().to_string()),
        operation_id: e.spec.as_ref().and_then(|s| s.operation_id.clone()),
        hits: e.hits,
        errors: errors_of(&e.status),
        consumers: e.consumers,
        counts_estimated: e.counts_estimated,
        auth: auth.into_iter().map(|(k, _)| k.clone()).collect(),
        unauthenticated: e.auth.get("none").copied().unwrap_or(0),
        sensitive,
        sensitive_without_auth: sensitive_findings.get(&k).copied().unwrap_or(0),
        p50_ms: e.latency_ms.as_ref().map(|l| l.p50),
        p99_ms: e.latency_ms.as_ref().map(|l| l.p99),
        first_seen: e.first_seen.clone(),
        last_seen: e.last_seen.clone(),
    }
}

fn services(inv: &InventoryDoc, rows: &[EndpointRow]) -> Vec<ServiceRow> {
    let mut by_host: HashMap<&str, BTreeMap<&'static str, u64>> = HashMap::new();
    for r in rows {
        *by_host.entry(r.host.as_str()).or_default().entry(r.classification.name()).or_default() += 1;
    }
    let mut out: Vec<ServiceRow> = inv
        .services
        .iter()
        .map(|s| ServiceRow {
            host: s.host.clone(),
            inspectable: s.inspectable,
            requests: s.requests,
            decrypted_requests: s.decrypted_requests,
            errors: (!s.traffic.is_empty()).then(|| s.traffic.iter().map(|t| t.errors).sum()),
            endpoints: by_host.get(s.host.as_str()).cloned().unwrap_or_default(),
            first_seen: s.first_seen.clone(),
            last_seen: s.last_seen.clone(),
            traffic: s.traffic.clone(),
        })
        .collect();
    out.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.host.cmp(&b.host)));
    out
}

fn anomalies_section(findings: &[&FindingState], dropped: u64) -> AnomaliesSection {
    // The open alerts: not closed, not suppressed, not closed by an analyst.
    let open: Vec<&&FindingState> = findings.iter().filter(|f| f.awaits_triage()).collect();
    let mut kinds: BTreeMap<&str, KindRow> = BTreeMap::new();
    let mut by_severity: BTreeMap<&'static str, u64> = BTreeMap::new();
    for f in findings {
        let row = kinds.entry(f.kind.as_str()).or_insert_with(|| KindRow {
            kind: f.kind.clone(),
            open_by_severity: BTreeMap::new(),
            open: 0,
            closed: 0,
        });
        if f.awaits_triage() {
            row.open += 1;
            *row.open_by_severity.entry(severity_name(f.severity_id)).or_default() += 1;
            *by_severity.entry(severity_name(f.severity_id)).or_default() += 1;
        } else {
            row.closed += 1;
        }
    }
    let mut by_kind: Vec<KindRow> = kinds.into_values().collect();
    // Most open first; among equals, the one with the most severe open findings, then the
    // most findings in all.
    let weight = |r: &KindRow| SEVERITIES.map(|s| r.open_by_severity.get(s).copied().unwrap_or(0));
    by_kind.sort_by(|a, b| {
        b.open
            .cmp(&a.open)
            .then_with(|| weight(b).cmp(&weight(a)))
            .then_with(|| (b.open + b.closed).cmp(&(a.open + a.closed)))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    let mut listed: Vec<&&FindingState> = open.clone();
    listed.sort_by(|a, b| {
        b.severity_id.cmp(&a.severity_id).then(b.score.cmp(&a.score)).then_with(|| b.last_seen.cmp(&a.last_seen)).then_with(|| a.id.cmp(&b.id))
    });
    let open_findings = listed
        .into_iter()
        .take(MAX_OPEN_LISTED)
        .map(|f| OpenFinding {
            id: f.id.clone(),
            kind: f.kind.clone(),
            severity: severity_name(f.severity_id),
            score: f.score,
            consumer: f.consumer.as_ref().map(|c| if c.label.is_empty() { c.id.clone() } else { c.label.clone() }),
            endpoint: f.endpoint.as_ref().map(|e| {
                if e.method == "*" && e.path_template == "*" {
                    e.service.clone()
                } else {
                    format!("{} {}{}", e.method, e.service, e.path_template)
                }
            }),
            count: f.count,
            last_seen: f.last_seen.clone(),
            message: f.message.clone(),
            triage: f.triage_text(),
        })
        .collect();
    AnomaliesSection {
        available: true,
        findings: findings.len() as u64,
        open: open.len() as u64,
        suppressed: findings.iter().filter(|f| f.suppressed.is_some()).count() as u64,
        closed_by_analysts: findings.iter().filter(|f| f.closed_by_analyst()).count() as u64,
        by_kind,
        open_by_severity: by_severity,
        open_findings,
        events_dropped: dropped,
    }
}

fn consumers_section(list: Option<&[ConsumerDoc]>, findings: Option<&[&FindingState]>) -> ConsumersSection {
    // Findings per consumer id: (all, open).
    let mut per: HashMap<&str, (u64, u64)> = HashMap::new();
    for f in findings.unwrap_or_default() {
        if let Some(c) = &f.consumer {
            let e = per.entry(c.id.as_str()).or_default();
            e.0 += 1;
            e.1 += u64::from(f.is_open());
        }
    }
    let counts = |id: &str| per.get(id).copied().unwrap_or_default();
    if let Some(list) = list {
        let mut top: Vec<&ConsumerDoc> = list.iter().collect();
        top.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.id.cmp(&b.id)));
        let top = top
            .into_iter()
            .take(TOP_CONSUMERS)
            .map(|c| {
                let (findings, open_findings) = counts(&c.id);
                ConsumerRow { consumer: c.clone(), findings, open_findings }
            })
            .collect();
        return ConsumersSection { source: ConsumerSource::ConsumersFile, total: list.len() as u64, top };
    }
    let Some(findings) = findings else {
        return ConsumersSection { source: ConsumerSource::NotAvailable, total: 0, top: Vec::new() };
    };
    // Only the consumers that anomalies name: ranked by open findings, then by requests in
    // their incidents.
    let mut named: HashMap<&str, (ConsumerDoc, u64, u64)> = HashMap::new();
    for f in findings {
        let Some(c) = &f.consumer else { continue };
        let entry = named.entry(c.id.as_str()).or_insert_with(|| {
            let doc = ConsumerDoc {
                id: c.id.clone(),
                label: c.label.clone(),
                source: c.source.clone(),
                requests: 0,
                errors: 0,
                endpoints: 0,
                first_seen: None,
                last_seen: None,
            };
            (doc, 0, 0)
        });
        entry.1 += 1;
        entry.2 += u64::from(f.is_open());
        entry.0.requests += f.count;
        if entry.0.first_seen.as_ref().is_none_or(|s| f.first_seen < *s) {
            entry.0.first_seen = Some(f.first_seen.clone());
        }
        if entry.0.last_seen.as_ref().is_none_or(|s| f.last_seen > *s) {
            entry.0.last_seen = Some(f.last_seen.clone());
        }
    }
    let total = named.len() as u64;
    let mut top: Vec<(ConsumerDoc, u64, u64)> = named.into_values().collect();
    top.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(b.0.requests.cmp(&a.0.requests)).then_with(|| a.0.id.cmp(&b.0.id)));
    let top = top
        .into_iter()
        .take(TOP_CONSUMERS)
        .map(|(consumer, findings, open_findings)| ConsumerRow { consumer, findings, open_findings })
        .collect();
    ConsumersSection { source: ConsumerSource::Anomalies, total, top }
}

fn diff(now: u64, then: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(i64::try_from(then).unwrap_or(i64::MAX))
}

/// The inventory finding about GraphQL introspection from outside (listed with the service
/// findings: it names an operation, not an HTTP endpoint).
const GRAPHQL_INTROSPECTION: &str = "graphql_introspection";

/// Builds the report from its inputs.
pub fn build(input: &ReportInput) -> Report {
    let inv = &input.inventory;
    let previous: Option<HashMap<Key, Class>> = input
        .previous
        .as_ref()
        .map(|p| p.endpoints.iter().map(|e| (key(&e.host, &e.method, &e.path), e.classification)).collect());
    let mut sensitive_findings: HashMap<Key, u64> = HashMap::new();
    let mut service_findings = Vec::new();
    for f in &inv.findings {
        match (&f.method, &f.path) {
            (Some(m), Some(p)) if f.kind == SENSITIVE_FINDING => {
                *sensitive_findings.entry(key(&f.host, m, p)).or_default() += f.count;
            }
            (None, None) => service_findings.push(ServiceFinding {
                kind: f.kind.clone(),
                host: f.host.clone(),
                count: f.count,
                detail: f.detail.clone(),
            }),
            (Some(_), Some(op)) if f.kind == GRAPHQL_INTROSPECTION => service_findings.push(ServiceFinding {
                kind: f.kind.clone(),
                host: f.host.clone(),
                count: f.count,
                detail: format!("{op}: {}", f.detail),
            }),
            _ => {}
        }
    }
    let endpoints: Vec<EndpointRow> =
        inv.endpoints.iter().map(|e| endpoint_row(e, previous.as_ref(), &sensitive_findings)).collect();
    let present: HashSet<Key> = endpoints.iter().map(|e| key(&e.host, &e.method, &e.path)).collect();
    let mut no_longer_listed: Vec<EndpointKey> = input
        .previous
        .iter()
        .flat_map(|p| p.endpoints.iter())
        .filter(|e| !present.contains(&key(&e.host, &e.method, &e.path)))
        .map(|e| EndpointKey { host: e.host.clone(), method: e.method.clone(), path: e.path.clone(), classification: e.classification })
        .collect();
    no_longer_listed.sort();
    no_longer_listed.dedup();
    let services = services(inv, &endpoints);
    let digest_findings: Option<Vec<&FindingState>> = input.anomalies.as_ref().map(|d| d.findings().collect());
    let anomalies = match (&digest_findings, &input.anomalies) {
        (Some(f), Some(d)) => anomalies_section(f, d.dropped),
        _ => AnomaliesSection::default(),
    };
    let consumers = consumers_section(input.consumers.as_deref(), digest_findings.as_deref());
    let count = |c: Class| endpoints.iter().filter(|e| e.classification == c).count() as u64;
    let new = |c: Class| endpoints.iter().filter(|e| e.new && e.classification == c).count() as u64;
    let mut summary = ReportSummary {
        services: services.len() as u64,
        services_not_inspectable: services.iter().filter(|s| !s.inspectable).count() as u64,
        requests: services.iter().map(|s| s.requests).sum(),
        endpoints: endpoints.len() as u64,
        documented: count(Class::Documented),
        shadow: count(Class::Shadow),
        shadow_unaccepted: endpoints.iter().filter(|e| e.classification == Class::Shadow && e.accepted_by.is_none()).count() as u64,
        zombie: count(Class::Zombie),
        orphan: count(Class::Orphan),
        sensitive_without_auth: endpoints.iter().filter(|e| e.sensitive_without_auth > 0).count() as u64,
        new_endpoints: endpoints.iter().filter(|e| e.new).count() as u64,
        new_shadow: new(Class::Shadow),
        new_zombie: new(Class::Zombie),
        new_orphan: new(Class::Orphan),
        change: None,
        open_anomalies: anomalies.available.then_some(anomalies.open),
    };
    if let Some(p) = &input.previous {
        let s = &p.summary;
        summary.change = Some(Change {
            services: diff(summary.services, s.services),
            endpoints: diff(summary.endpoints, s.endpoints),
            shadow: diff(summary.shadow, s.shadow),
            zombie: diff(summary.zombie, s.zombie),
            orphan: diff(summary.orphan, s.orphan),
            sensitive_without_auth: diff(summary.sensitive_without_auth, s.sensitive_without_auth),
            open_anomalies: match (summary.open_anomalies, s.open_anomalies) {
                (Some(now), Some(then)) => Some(diff(now, then)),
                _ => None,
            },
        });
    }
    let mut notes = Vec::new();
    if anomalies.events_dropped > 0 {
        notes.push(format!(
            "{} anomaly events of findings past the first {} were not counted",
            anomalies.events_dropped,
            super::anomalies::MAX_FINDINGS
        ));
    }
    Report {
        format: REPORT_FORMAT,
        schema_version: REPORT_SCHEMA_VERSION,
        title: input.title.clone(),
        generated_at: input.generated_at.clone(),
        period: Period { first_seen: inv.summary.first_seen.clone(), last_seen: inv.summary.last_seen.clone() },
        compared_with: match &input.previous {
            Some(p) => Comparison {
                baseline: "previous_report",
                previous_generated_at: p.generated_at.clone(),
                previous_last_seen: p.period.last_seen.clone(),
            },
            None => Comparison { baseline: "sensor_start", ..Comparison::default() },
        },
        summary,
        services,
        endpoints,
        no_longer_listed,
        consumers,
        anomalies,
        service_findings,
        graphql_operations: inv.graphql_operations.clone(),
        notes,
        openapi: openapi::reconstruct_from(inv),
    }
}
