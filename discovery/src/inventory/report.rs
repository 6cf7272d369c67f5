//! The inventory as a document: what `inventory.json` holds (schema in
//! `docs/inventory.md`), built from the live state by [`build`].

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::config::{service_matches, InventoryConfig};
pub use super::graphql_report::{GraphqlOperationReport, GraphqlPathReport};
use super::service::{Documented, Service};
use super::stats::{EndpointStats, Shape};
use super::time::rfc3339;
use super::observe::Visibility;
use super::traffic::{self, TrafficReport, NS_PER_HOUR};
use super::{InventoryStats, SpecUse};
use crate::content::{JsonType, SensitiveKind};
use crate::specmatch::{BoundSpec, MatchTarget, SpecSet};

/// Version of the `inventory.json` layout.
pub const INVENTORY_SCHEMA_VERSION: u32 = 1;

/// Every value of [`EndpointReport::zombie_reasons`].
pub const ZOMBIE_REASONS: [&str; 3] = ["deprecated_in_spec", "superseded_spec", "deprecation_header"];

/// Every value of [`Finding::kind`].
pub const FINDING_KINDS: [&str; 6] = [
    "sensitive_data_without_authentication",
    "zombie_in_use",
    "shadow_endpoint",
    "endpoint_overflow",
    "service_not_inspectable",
    "graphql_introspection",
];

/// Classification of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// In a spec, in traffic.
    Documented,
    /// In traffic, in no spec.
    Shadow,
    /// In traffic, deprecated: in the spec, by a superseded spec, or by the server's headers.
    Zombie,
    /// In a spec, never in traffic.
    Orphan,
}

impl Classification {
    /// The stable name, as serialised (`documented`, `shadow`, `zombie`, `orphan`).
    pub fn name(self) -> &'static str {
        match self {
            Classification::Documented => "documented",
            Classification::Shadow => "shadow",
            Classification::Zombie => "zombie",
            Classification::Orphan => "orphan",
        }
    }
}

/// The whole inventory.
#[derive(Clone, Debug, Serialize)]
pub struct InventoryReport {
    /// [`INVENTORY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Counts by classification and more.
    pub summary: Summary,
    /// The specs matched against.
    pub specs: Vec<SpecReport>,
    /// Every service seen.
    pub services: Vec<ServiceReport>,
    /// API endpoints: documented, shadow, zombie, orphan; sorted by host, path, method.
    pub endpoints: Vec<EndpointReport>,
    /// Non-API endpoints (assets, pages, health checks, OCSP), kept out of the shadow list.
    pub other_endpoints: Vec<OtherEndpointReport>,
    /// GraphQL operations, by host, path, type and name (absent when none was seen).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graphql_operations: Vec<GraphqlOperationReport>,
    /// Findings that need someone's attention.
    pub findings: Vec<Finding>,
    /// Inventory-wide counters.
    pub counters: BTreeMap<&'static str, u64>,
}

/// Counts of the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Services.
    pub services: u64,
    /// Services seen only encrypted (not inspectable).
    pub services_not_inspectable: u64,
    /// API endpoints (all classifications).
    pub endpoints: u64,
    /// Documented endpoints with traffic.
    pub documented: u64,
    /// Shadow endpoints.
    pub shadow: u64,
    /// Shadow endpoints nobody has accepted.
    pub shadow_unaccepted: u64,
    /// Zombie endpoints.
    pub zombie: u64,
    /// Orphan operations.
    pub orphan: u64,
    /// GraphQL operations (absent when none was seen).
    #[serde(skip_serializing_if = "is_zero")]
    pub graphql_operations: u64,
    /// Findings.
    pub findings: u64,
    /// First and last packet time seen (RFC 3339), when anything was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// See `first_seen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

/// One spec and how traffic used it.
#[derive(Clone, Debug, Serialize)]
pub struct SpecReport {
    /// File it was loaded from.
    pub file: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// Base paths matched against (the binding's, else the spec's `servers`).
    pub base_paths: Vec<String>,
    /// Hosts it is bound to (empty: any).
    pub hosts: Vec<String>,
    /// Environment it is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Declared superseded by the operator.
    pub superseded: bool,
    /// Operations.
    pub operations: u64,
    /// Operations with traffic.
    pub operations_used: u64,
    /// Requests matched with the base path.
    pub requests_with_base_path: u64,
    /// Requests matched only without it.
    pub requests_without_base_path: u64,
    /// Notes for the operator (e.g. that the base path never appeared in traffic).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One service.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceReport {
    /// Host, SNI or server address.
    pub host: String,
    /// Server addresses seen for it.
    pub servers: Vec<String>,
    /// False when it was only seen encrypted: its endpoints are unknown.
    pub inspectable: bool,
    /// HTTP requests.
    pub requests: u64,
    /// How its traffic was read: `clear` and `decrypted` requests, TLS sessions seen as
    /// `metadata` only (no keys); any of the three, in that order.
    pub visibility: Vec<Visibility>,
    /// Requests read from decrypted TLS (the rest of `requests` were read in clear).
    pub decrypted_requests: u64,
    /// First activity (RFC 3339).
    pub first_seen: String,
    /// Last activity (RFC 3339).
    pub last_seen: String,
    /// API endpoints with traffic.
    pub endpoints: u64,
    /// Requests not counted on an endpoint because the per-service endpoint bound was hit.
    pub overflow_requests: u64,
    /// 404 answers and unanswered requests on paths that belong to no endpoint (scanner
    /// noise), and their distinct paths.
    pub not_found_requests: u64,
    /// See `not_found_requests`.
    pub not_found_paths: u64,
    /// Requests on such paths that got no answer at all (included in `not_found_requests`).
    pub unanswered_requests: u64,
    /// Requests by non-API category.
    pub other_requests: BTreeMap<&'static str, u64>,
    /// Requests whose path had more segments than considered.
    pub deep_paths: u64,
    /// TLS facts, when seen encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsReport>,
    /// Paths that carried GraphQL, with their operation counts (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graphql: Vec<GraphqlPathReport>,
    /// Requests, errors (4xx, 5xx) and response bytes per UTC hour, oldest first, for the
    /// last `traffic_hours` hours before the inventory's newest packet; hours without traffic
    /// are absent.
    pub traffic: Vec<TrafficReport>,
}

/// TLS facts of a service.
#[derive(Clone, Debug, Serialize)]
pub struct TlsReport {
    /// Sessions seen.
    pub sessions: u64,
    /// Highest versions clients offered, with counts.
    pub client_versions: BTreeMap<String, u64>,
    /// Versions servers chose.
    pub server_versions: BTreeMap<String, u64>,
    /// ALPN protocols offered.
    pub alpn: BTreeMap<String, u64>,
    /// JA4 fingerprints.
    pub ja4: BTreeMap<String, u64>,
    /// JA4S fingerprints.
    pub ja4s: BTreeMap<String, u64>,
    /// Sessions decrypted with a key log.
    pub decrypted_sessions: u64,
    /// Sessions seen as metadata only (not decrypted).
    pub metadata_only_sessions: u64,
    /// Cipher suites servers chose.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub server_suites: BTreeMap<String, u64>,
    /// Posture findings (legacy_version, weak_cipher_suite, certificate_expired,
    /// certificate_not_yet_valid, certificate_expiring, self_signed), by sessions.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub findings: BTreeMap<String, u64>,
    /// Leaf certificates sent in the clear, by sessions.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub certificates: BTreeMap<String, u64>,
}

/// Reference to the documenting operation.
#[derive(Clone, Debug, Serialize)]
pub struct SpecRef {
    /// Spec file.
    pub file: String,
    /// Spec title and version.
    pub title: String,
    /// See `title`.
    pub version: String,
    /// The operation's path as written in the spec.
    pub operation_path: String,
    /// `operationId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Binding environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Shape of bodies in one direction.
#[derive(Clone, Debug, Serialize)]
pub struct ShapeReport {
    /// Bodies parsed as JSON.
    pub json_bodies: u64,
    /// Bodies whose scan stopped early.
    pub truncated_bodies: u64,
    /// Field path to the types seen.
    pub fields: BTreeMap<String, Vec<JsonType>>,
    /// Fields past the bound.
    pub fields_dropped: u64,
}

/// One API endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointReport {
    /// Service.
    pub host: String,
    /// Method (upper case).
    pub method: String,
    /// Path template.
    pub path: String,
    /// Classification.
    pub classification: Classification,
    /// Why it is a zombie: `deprecated_in_spec`, `superseded_spec`, `deprecation_header`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zombie_reasons: Vec<&'static str>,
    /// The documenting operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecRef>,
    /// Templated by an operator rule (the rule's template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_template: Option<String>,
    /// Accepted by the operator (shadow endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<AcceptedReport>,
    /// Requests.
    pub hits: u64,
    /// How its requests were read: `clear`, `decrypted` or both; empty for orphans.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub visibility: Vec<Visibility>,
    /// Requests read from decrypted TLS (the rest of `hits` were read in clear).
    pub decrypted_requests: u64,
    /// Distinct consumers (credential digests, else client addresses).
    pub consumers: u64,
    /// Distinct client addresses.
    pub clients: u64,
    /// The consumer/client counts are estimates (above 256).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts_estimated: bool,
    /// First request (RFC 3339); absent for orphans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Last request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Final status codes (`"0"`: no response seen).
    pub status: BTreeMap<String, u64>,
    /// Latency percentiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// Request media types.
    pub request_content_types: BTreeMap<String, u64>,
    /// Response media types.
    pub response_content_types: BTreeMap<String, u64>,
    /// Authentication kinds.
    pub auth: BTreeMap<String, u64>,
    /// Query parameter names seen (values are never kept).
    pub query_params: Vec<String>,
    /// Request body shape.
    pub request_body: ShapeReport,
    /// Response body shape.
    pub response_body: ShapeReport,
    /// Sensitive values in request bodies, by kind.
    pub request_sensitive: BTreeMap<SensitiveKind, u64>,
    /// Sensitive values in response bodies, by kind.
    pub response_sensitive: BTreeMap<SensitiveKind, u64>,
    /// Operator-facing notes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Who accepted a shadow endpoint and why.
#[derive(Clone, Debug, Serialize)]
pub struct AcceptedReport {
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// A non-API endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct OtherEndpointReport {
    /// Service.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path as requested (query removed).
    pub path: String,
    /// Category.
    pub category: &'static str,
    /// Requests.
    pub hits: u64,
    /// How its requests were read: `clear`, `decrypted` or both.
    pub visibility: Vec<Visibility>,
    /// Requests read from decrypted TLS.
    pub decrypted_requests: u64,
    /// First request.
    pub first_seen: String,
    /// Last request.
    pub last_seen: String,
    /// Final status codes.
    pub status: BTreeMap<String, u64>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Something the API owner or the SOC should look at.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `sensitive_data_without_authentication`, `zombie_in_use`, `shadow_endpoint`,
    /// `endpoint_overflow`, `service_not_inspectable`, `graphql_introspection` (method
    /// `GRAPHQL`, path `PATH TYPE NAME` of the operation).
    pub kind: &'static str,
    /// Service.
    pub host: String,
    /// Method, for endpoint findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path template, for endpoint findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How many requests show it.
    pub count: u64,
    /// One sentence for the analyst.
    pub detail: String,
}

fn status_map(s: &EndpointStats) -> BTreeMap<String, u64> {
    s.status.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn shape_report(s: &Shape) -> ShapeReport {
    ShapeReport {
        json_bodies: s.json_bodies,
        truncated_bodies: s.truncated_bodies,
        fields: s.fields.clone(),
        fields_dropped: s.dropped,
    }
}

fn endpoint_report(host: &str, method: &str, path: &str, class: Classification, s: &EndpointStats) -> EndpointReport {
    EndpointReport {
        host: host.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        classification: class,
        zombie_reasons: Vec::new(),
        spec: None,
        operator_template: None,
        accepted: None,
        hits: s.hits,
        visibility: visibility(s.hits, s.decrypted, 0),
        decrypted_requests: s.decrypted,
        consumers: s.consumers.count(),
        clients: s.clients.count(),
        counts_estimated: s.consumers.is_estimate() || s.clients.is_estimate(),
        first_seen: (s.hits > 0).then(|| rfc3339(s.first_seen)),
        last_seen: (s.hits > 0).then(|| rfc3339(s.last_seen)),
        status: status_map(s),
        latency_ms: s.latency_percentiles().map(|[p50, p90, p99, max]| Latency { p50, p90, p99, max }),
        request_content_types: s.request_types.counts.clone(),
        response_content_types: s.response_types.counts.clone(),
        auth: s.auth.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        query_params: s.query_params.counts.keys().cloned().collect(),
        request_body: shape_report(&s.request_shape),
        response_body: shape_report(&s.response_shape),
        request_sensitive: s.request_sensitive.clone(),
        response_sensitive: s.response_sensitive.clone(),
        notes: Vec::new(),
    }
}

/// The ways traffic was read, in [`Visibility`] order: `clear` when some of `requests` were
/// not decrypted, `decrypted` when some were, `metadata` when some TLS sessions were not
/// decrypted.
pub(super) fn visibility(requests: u64, decrypted: u64, metadata_sessions: u64) -> Vec<Visibility> {
    let mut out = Vec::new();
    if requests > decrypted {
        out.push(Visibility::Clear);
    }
    if decrypted > 0 {
        out.push(Visibility::Decrypted);
    }
    if metadata_sessions > 0 {
        out.push(Visibility::Metadata);
    }
    out
}

/// The reference to operation `operation` of a bound spec.
fn spec_ref(bound: &BoundSpec, operation: usize) -> Option<SpecRef> {
    let op = bound.spec.operations.get(operation)?;
    Some(SpecRef {
        file: bound.spec.source.clone(),
        title: bound.spec.title.clone(),
        version: bound.spec.version.clone(),
        operation_path: op.path.clone(),
        operation_id: op.operation_id.clone(),
        environment: bound.binding.environment.clone(),
    })
}

pub(super) fn accepted_for(cfg: &InventoryConfig, host: &str, method: &str, path: &str) -> Option<AcceptedReport> {
    cfg.accepted
        .iter()
        .find(|a| {
            service_matches(&a.host, host) && (a.method == "*" || a.method.eq_ignore_ascii_case(method)) && a.path == path
        })
        .map(|a| AcceptedReport { by: a.by.clone(), reason: a.reason.clone() })
}

fn sensitive_total(s: &EndpointStats) -> u64 {
    s.response_sensitive.values().sum()
}

/// The class of a documented (matched) endpoint and why.
pub(super) struct DocumentedClass {
    /// Documented, shadow (an operator route, or a match that only resembles an operation)
    /// or zombie.
    pub class: Classification,
    /// Why it is a zombie (empty otherwise): `deprecated_in_spec`, `superseded_spec`,
    /// `deprecation_header`.
    pub zombie_reasons: Vec<&'static str>,
    /// It matched only without its spec's base path, while that base path does appear in
    /// traffic: it resembles the operation and is undocumented.
    pub resembles_only: bool,
}

/// Classifies a documented endpoint; `base_path_seen(spec)` says whether the spec's base path
/// appears in traffic. Used by the report and, with the traffic seen so far, per request.
pub(super) fn documented_class(specs: &SpecSet, d: &Documented, base_path_seen: impl Fn(usize) -> bool) -> DocumentedClass {
    let mut class = Classification::Documented;
    let mut zombie_reasons = Vec::new();
    let mut resembles_only = false;
    match d.target {
        MatchTarget::Operation { spec, operation } => {
            if d.without_base_path && base_path_seen(spec) {
                class = Classification::Shadow;
                resembles_only = true;
            } else if let Some(bound) = specs.specs().get(spec) {
                if bound.spec.operations.get(operation).is_some_and(|o| o.deprecated) {
                    zombie_reasons.push("deprecated_in_spec");
                }
                if bound.binding.superseded {
                    zombie_reasons.push("superseded_spec");
                }
            }
        }
        MatchTarget::Route(_) => class = Classification::Shadow,
    }
    if d.under_superseded.is_some() && !zombie_reasons.contains(&"superseded_spec") {
        zombie_reasons.push("superseded_spec");
    }
    if d.stats.deprecation_signals > 0 {
        zombie_reasons.push("deprecation_header");
    }
    if !zombie_reasons.is_empty() {
        class = Classification::Zombie;
    }
    DocumentedClass { class, zombie_reasons, resembles_only }
}

/// Builds the report.
pub(super) fn build(
    cfg: &InventoryConfig,
    specs: &SpecSet,
    services: &HashMap<String, Service>,
    spec_use: &HashMap<usize, SpecUse>,
    stats: &InventoryStats,
) -> InventoryReport {
    let mut endpoints = Vec::new();
    let mut other_endpoints = Vec::new();
    let mut findings = Vec::new();
    let mut service_reports = Vec::new();
    // Operations (spec, operation) with traffic, for orphans.
    let mut used: HashMap<(usize, usize), u64> = HashMap::new();
    let base_path_seen = |spec: usize| spec_use.get(&spec).is_some_and(|u| u.with_base_path > 0);
    let (mut first, mut last) = (u64::MAX, 0u64);
    let newest_hour = services.values().map(|s| s.last_seen).max().unwrap_or(0) / NS_PER_HOUR;
    for (host, svc) in services {
        first = first.min(svc.first_seen);
        last = last.max(svc.last_seen);
        let mut api_endpoints = 0u64;
        for ((method, template), d) in &svc.documented {
            let dc = documented_class(specs, d, base_path_seen);
            let mut e = endpoint_report(host, method, template, dc.class, &d.stats);
            e.zombie_reasons = dc.zombie_reasons;
            match d.target {
                MatchTarget::Operation { spec, operation } => {
                    if dc.resembles_only {
                        e.notes.push("matches a documented operation only without the spec's base path".into());
                    } else {
                        e.spec = specs.specs().get(spec).and_then(|bound| spec_ref(bound, operation));
                        *used.entry((spec, operation)).or_default() += d.stats.hits;
                        if d.without_base_path {
                            e.notes.push("matched without the spec's base path (it never appears in traffic)".into());
                        }
                    }
                }
                MatchTarget::Route(i) => {
                    e.operator_template = specs.routes().get(i).map(|r| r.template.clone());
                }
            }
            if let Some(old) = d.under_superseded.and_then(|i| specs.specs().get(i)) {
                e.notes.push(format!(
                    "called under the base path of superseded {} {} ({}); the operation is documented only in the spec named in `spec`",
                    old.spec.title, old.spec.version, old.spec.source
                ));
            }
            endpoints.push(e);
            api_endpoints += 1;
        }
        for ((method, template), inf) in &svc.inferred {
            let mut e = endpoint_report(host, method, template, Classification::Shadow, &inf.stats);
            if inf.stats.deprecation_signals > 0 {
                e.zombie_reasons.push("deprecation_header");
                e.classification = Classification::Zombie;
            }
            endpoints.push(e);
            api_endpoints += 1;
        }
        for ((method, path, category), st) in &svc.other {
            other_endpoints.push(OtherEndpointReport {
                host: host.clone(),
                method: method.clone(),
                path: path.clone(),
                category: category.name(),
                hits: st.hits,
                visibility: visibility(st.hits, st.decrypted, 0),
                decrypted_requests: st.decrypted,
                first_seen: rfc3339(st.first_seen),
                last_seen: rfc3339(st.last_seen),
                status: status_map(st),
            });
        }
        let inspectable = svc.requests > 0;
        if !inspectable {
            findings.push(Finding {
                kind: "service_not_inspectable",
                host: host.clone(),
                method: None,
                path: None,
                count: svc.tls.as_ref().map_or(0, |t| t.sessions),
                detail: "seen only as TLS: endpoints unknown (decrypt with key logs, or place the sensor behind the TLS terminator)".into(),
            });
        }
        if svc.overflow_requests > 0 {
            findings.push(Finding {
                kind: "endpoint_overflow",
                host: host.clone(),
                method: None,
                path: None,
                count: svc.overflow_requests,
                detail: format!(
                    "more than {} undocumented endpoints: further ones were counted, not listed (a scanner, or a templating rule is needed)",
                    cfg.max_endpoints_per_service
                ),
            });
        }
        service_reports.push(ServiceReport {
            host: host.clone(),
            servers: {
                let mut servers: Vec<String> = svc.servers.iter().map(ToString::to_string).collect();
                servers.sort();
                servers
            },
            inspectable,
            requests: svc.requests,
            visibility: visibility(
                svc.requests,
                svc.decrypted_requests,
                svc.tls.as_ref().map_or(0, |t| t.sessions.saturating_sub(t.decrypted_sessions)),
            ),
            decrypted_requests: svc.decrypted_requests,
            first_seen: rfc3339(svc.first_seen),
            last_seen: rfc3339(svc.last_seen),
            endpoints: api_endpoints,
            overflow_requests: svc.overflow_requests,
            not_found_requests: svc.not_found.requests,
            not_found_paths: svc.not_found.paths.len() as u64 + svc.not_found.paths_dropped,
            unanswered_requests: svc.not_found.unanswered,
            other_requests: svc.other_requests.iter().map(|(c, n)| (c.name(), *n)).collect(),
            deep_paths: svc.deep_paths,
            tls: svc.tls.as_ref().map(|t| TlsReport {
                sessions: t.sessions,
                client_versions: t.client_versions.counts.clone(),
                server_versions: t.server_versions.counts.clone(),
                alpn: t.alpn.counts.clone(),
                ja4: t.ja4.counts.clone(),
                ja4s: t.ja4s.counts.clone(),
                decrypted_sessions: t.decrypted_sessions,
                metadata_only_sessions: t.sessions.saturating_sub(t.decrypted_sessions),
                server_suites: t.server_suites.counts.clone(),
                findings: t.findings.counts.clone(),
                certificates: t.certificates.counts.clone(),
            }),
            traffic: traffic::report(&svc.traffic, cfg.traffic_hours, newest_hour),
            graphql: Vec::new(),
        });
    }
    // Orphans: documented operations nobody called.
    let mut listed: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    for op in specs.operations() {
        // One entry per operation: the first base path names it.
        if used.contains_key(&(op.spec, op.operation)) || !listed.insert((op.spec, op.operation)) {
            continue;
        }
        let Some(bound) = specs.specs().get(op.spec) else { continue };
        if bound.binding.superseded {
            // A superseded version's unused operations are retired, as intended: not orphans.
            continue;
        }
        let host = bound.binding.hosts.first().cloned().unwrap_or_else(|| "*".to_string());
        let mut e = endpoint_report(&host, &op.method, &op.template, Classification::Orphan, &EndpointStats::new(0));
        e.spec = spec_ref(bound, op.operation);
        endpoints.push(e);
    }
    for e in &mut endpoints {
        if e.classification == Classification::Shadow {
            e.accepted = accepted_for(cfg, &e.host, &e.method, &e.path);
        }
    }
    // The trailing keys only break ties (the services are a hash map), so that the same state
    // always gives the same document.
    endpoints.sort_by(|a, b| {
        (&a.host, &a.path, &a.method, a.classification, a.hits).cmp(&(&b.host, &b.path, &b.method, b.classification, b.hits))
    });
    other_endpoints.sort_by(|a, b| (&a.host, &a.path, &a.method, a.category).cmp(&(&b.host, &b.path, &b.method, b.category)));
    service_reports.sort_by(|a, b| a.host.cmp(&b.host));
    for e in &endpoints {
        let ep = |kind: &'static str, count: u64, detail: String| Finding {
            kind,
            host: e.host.clone(),
            method: Some(e.method.clone()),
            path: Some(e.path.clone()),
            count,
            detail,
        };
        match e.classification {
            Classification::Shadow if e.accepted.is_none() => {
                findings.push(ep("shadow_endpoint", e.hits, "in traffic but in no spec".into()))
            }
            Classification::Zombie => findings.push(ep(
                "zombie_in_use",
                e.hits,
                format!("deprecated endpoint still called ({})", e.zombie_reasons.join(", ")),
            )),
            _ => {}
        }
    }
    for (host, svc) in services {
        let all = svc.documented.iter().map(|((m, t), d)| (m, t, &d.stats)).chain(svc.inferred.iter().map(|((m, t), i)| (m, t, &i.stats)));
        for (method, template, st) in all {
            if st.sensitive_unauthenticated > 0 {
                findings.push(Finding {
                    kind: "sensitive_data_without_authentication",
                    host: host.clone(),
                    method: Some(method.clone()),
                    path: Some(template.clone()),
                    count: st.sensitive_unauthenticated,
                    detail: format!(
                        "successful responses with sensitive data ({} values in the responses analysed) to requests without credentials",
                        sensitive_total(st)
                    ),
                });
            }
        }
    }
    let (graphql_operations, mut graphql_paths) = super::graphql_report::build(services, &mut findings);
    for s in &mut service_reports {
        if let Some(p) = graphql_paths.remove(&s.host) {
            s.graphql = p;
        }
    }
    findings.sort_by(|a, b| {
        (a.kind, &a.host, &a.path, &a.method, a.count, &a.detail).cmp(&(b.kind, &b.host, &b.path, &b.method, b.count, &b.detail))
    });
    let mut spec_reports = Vec::new();
    for (i, bound) in specs.specs().iter().enumerate() {
        let (sp, binding) = (&bound.spec, &bound.binding);
        let u = spec_use.get(&i).copied().unwrap_or_default();
        let base_paths = bound.base_paths.clone();
        let mut notes = Vec::new();
        if u.with_base_path == 0 && u.without_base_path > 0 {
            notes.push(format!(
                "the base path {} never appeared in traffic: operations were matched without it (bind the real base path in the config)",
                base_paths.join(", ")
            ));
        }
        spec_reports.push(SpecReport {
            file: sp.source.clone(),
            title: sp.title.clone(),
            version: sp.version.clone(),
            base_paths,
            hosts: binding.hosts.clone(),
            environment: binding.environment.clone(),
            superseded: binding.superseded,
            operations: sp.operations.len() as u64,
            operations_used: used.keys().filter(|(s, _)| *s == i).count() as u64,
            requests_with_base_path: u.with_base_path,
            requests_without_base_path: u.without_base_path,
            notes,
        });
    }
    let count = |c: Classification| endpoints.iter().filter(|e| e.classification == c).count() as u64;
    let summary = Summary {
        services: service_reports.len() as u64,
        services_not_inspectable: service_reports.iter().filter(|s| !s.inspectable).count() as u64,
        endpoints: endpoints.len() as u64,
        documented: count(Classification::Documented),
        shadow: count(Classification::Shadow),
        shadow_unaccepted: endpoints.iter().filter(|e| e.classification == Classification::Shadow && e.accepted.is_none()).count()
            as u64,
        zombie: count(Classification::Zombie),
        orphan: count(Classification::Orphan),
        graphql_operations: graphql_operations.len() as u64,
        findings: findings.len() as u64,
        first_seen: (first != u64::MAX).then(|| rfc3339(first)),
        last_seen: (last > 0).then(|| rfc3339(last)),
    };
    let counters = BTreeMap::from([
        ("transactions", stats.transactions),
        ("without_request", stats.without_request),
        ("out_of_scope", stats.out_of_scope),
        ("services_overflow", stats.services_overflow),
        ("tls_sessions", stats.tls_sessions),
        ("odd_methods", stats.odd_methods),
        ("bodies_analysed", stats.bodies_analysed),
        ("bodies_sampled_out", stats.bodies_sampled_out),
        ("graphql_requests", stats.graphql_requests),
        ("graphql_body_limit", stats.graphql_body_limit),
        ("graphql_depth_limit", stats.graphql_depth_limit),
        ("graphql_field_limit", stats.graphql_field_limit),
        ("graphql_name_limit", stats.graphql_name_limit),
        ("graphql_batch_limit", stats.graphql_batch_limit),
        ("graphql_operations_overflow", stats.graphql_operations_overflow),
        ("graphql_paths_overflow", stats.graphql_paths_overflow),
    ]);
    InventoryReport {
        schema_version: INVENTORY_SCHEMA_VERSION,
        summary,
        specs: spec_reports,
        services: service_reports,
        endpoints,
        other_endpoints,
        graphql_operations,
        findings,
        counters,
    }
}
