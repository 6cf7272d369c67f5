//! The report: what every format shows, and what `report.json` holds (layout in
//! docs/reports.md, `schema_version` [`super::input::REPORT_SCHEMA_VERSION`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::{ConsumerDoc, TrafficPoint};

/// Class of an endpoint, as `inventory.json` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// In a spec, in traffic.
    Documented,
    /// In traffic, in no spec.
    Shadow,
    /// In traffic, deprecated.
    Zombie,
    /// In a spec, never in traffic.
    Orphan,
}

impl Class {
    /// Every class, in the order the report shows them.
    pub const ALL: [Class; 4] = [Class::Shadow, Class::Zombie, Class::Orphan, Class::Documented];

    /// The stable name (`shadow`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::Documented => "documented",
            Class::Shadow => "shadow",
            Class::Zombie => "zombie",
            Class::Orphan => "orphan",
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always [`super::input::REPORT_FORMAT`]: lets `--previous` refuse another file.
    pub format: &'static str,
    /// [`super::input::REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Title shown on the page.
    pub title: String,
    /// When it was made (RFC 3339, the caller's clock), if the caller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// Packet time covered by the inventory.
    pub period: Period,
    /// What "new" is relative to.
    pub compared_with: Comparison,
    /// The counts at the top.
    pub summary: ReportSummary,
    /// Services, busiest first.
    pub services: Vec<ServiceRow>,
    /// API endpoints, in the inventory's order (host, path, method).
    pub endpoints: Vec<EndpointRow>,
    /// Endpoints of the previous report that the inventory no longer lists.
    pub no_longer_listed: Vec<EndpointKey>,
    /// Top consumers.
    pub consumers: ConsumersSection,
    /// Anomalies by kind and severity, and the open ones.
    pub anomalies: AnomaliesSection,
    /// Service-level findings of the inventory (overflow, not inspectable), and GraphQL
    /// introspection from outside (its operation named in the detail).
    pub service_findings: Vec<ServiceFinding>,
    /// GraphQL operations, in the inventory's order (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graphql_operations: Vec<super::input::GraphqlOperationDoc>,
    /// About the inputs (e.g. a truncated anomalies file).
    pub notes: Vec<String>,
    /// The reconstructed OpenAPI document (written as openapi.yaml, not in report.json).
    #[serde(skip)]
    pub openapi: serde_json::Value,
}

/// Packet time covered.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Period {
    /// First packet time (RFC 3339).
    pub first_seen: Option<String>,
    /// Last packet time (RFC 3339).
    pub last_seen: Option<String>,
}

/// What "new" is relative to.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Comparison {
    /// `previous_report`, or `sensor_start` without one.
    pub baseline: &'static str,
    /// The previous report's `generated_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_generated_at: Option<String>,
    /// The last packet time the previous report covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_last_seen: Option<String>,
}

/// The counts at the top of the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReportSummary {
    /// Services.
    pub services: u64,
    /// Services seen only encrypted.
    pub services_not_inspectable: u64,
    /// HTTP requests over all services.
    pub requests: u64,
    /// API endpoints (every class).
    pub endpoints: u64,
    /// Documented endpoints with traffic.
    pub documented: u64,
    /// Shadow endpoints.
    pub shadow: u64,
    /// Shadow endpoints nobody accepted.
    pub shadow_unaccepted: u64,
    /// Zombie endpoints.
    pub zombie: u64,
    /// Orphan operations.
    pub orphan: u64,
    /// Endpoints that answered sensitive data to requests without credentials.
    pub sensitive_without_auth: u64,
    /// Endpoints new since the baseline (absent before, or in another class).
    pub new_endpoints: u64,
    /// Of those, shadow.
    pub new_shadow: u64,
    /// Of those, zombie.
    pub new_zombie: u64,
    /// Of those, orphan.
    pub new_orphan: u64,
    /// Change of each count since the previous report; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// Open anomalies; absent without an anomalies file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_anomalies: Option<u64>,
}

/// Change of the counts since the previous report (now minus then).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Change {
    /// Services.
    pub services: i64,
    /// Endpoints.
    pub endpoints: i64,
    /// Shadow endpoints.
    pub shadow: i64,
    /// Zombie endpoints.
    pub zombie: i64,
    /// Orphan operations.
    pub orphan: i64,
    /// Endpoints with sensitive data without authentication.
    pub sensitive_without_auth: i64,
    /// Open anomalies, when both reports had them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_anomalies: Option<i64>,
}

/// Names an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EndpointKey {
    /// Service.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Class it had.
    pub classification: Class,
}

/// One service.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceRow {
    /// Host.
    pub host: String,
    /// False when seen only encrypted.
    pub inspectable: bool,
    /// Requests.
    pub requests: u64,
    /// Of those, requests read from decrypted TLS.
    pub decrypted_requests: u64,
    /// Requests with an error status, from the hourly series (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<u64>,
    /// Endpoints by class.
    pub endpoints: BTreeMap<&'static str, u64>,
    /// First activity.
    pub first_seen: Option<String>,
    /// Last activity.
    pub last_seen: Option<String>,
    /// Hourly traffic, oldest first (empty when the inventory has none).
    pub traffic: Vec<TrafficPoint>,
}

/// One API endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointRow {
    /// Service.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Class.
    pub classification: Class,
    /// New since the baseline (absent before, or in another class).
    pub new: bool,
    /// Its class in the previous report, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_classification: Option<Class>,
    /// Who accepted it (shadow endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    /// Why it is a zombie.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zombie_reasons: Vec<String>,
    /// `title version` of the documenting spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// `operationId` of the documenting operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Requests.
    pub hits: u64,
    /// Requests answered 4xx or 5xx.
    pub errors: u64,
    /// Distinct consumers.
    pub consumers: u64,
    /// The consumer count is an estimate.
    pub counts_estimated: bool,
    /// Authentication kinds seen, most used first.
    pub auth: Vec<String>,
    /// Requests without any credential.
    pub unauthenticated: u64,
    /// Sensitive-data kinds seen in requests or responses.
    pub sensitive: Vec<String>,
    /// Successful responses with sensitive data to requests without credentials.
    pub sensitive_without_auth: u64,
    /// Median latency (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    /// 99th percentile latency (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// First request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Last request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

/// Where the consumers came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerSource {
    /// A consumers list.
    ConsumersFile,
    /// The consumers named by anomalies (only those with findings).
    Anomalies,
    /// Neither was given.
    NotAvailable,
}

/// Top consumers.
#[derive(Clone, Debug, Serialize)]
pub struct ConsumersSection {
    /// Where they came from.
    pub source: ConsumerSource,
    /// Consumers known in all.
    pub total: u64,
    /// The busiest (by requests, or by open findings from anomalies), at most
    /// [`super::TOP_CONSUMERS`].
    pub top: Vec<ConsumerRow>,
}

/// One consumer.
#[derive(Clone, Debug, Serialize)]
pub struct ConsumerRow {
    /// What the consumers list says (requests and such are 0 when it came from anomalies).
    #[serde(flatten)]
    pub consumer: ConsumerDoc,
    /// Findings naming it.
    pub findings: u64,
    /// Of those, open.
    pub open_findings: u64,
}

/// Anomalies.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AnomaliesSection {
    /// An anomalies file was given.
    pub available: bool,
    /// Distinct findings.
    pub findings: u64,
    /// Open alerts: latest event not `closed`, not suppressed, not closed by an analyst.
    pub open: u64,
    /// Findings opened under a suppression rule (never counted as open alerts).
    pub suppressed: u64,
    /// Findings an analyst closed.
    pub closed_by_analysts: u64,
    /// Findings by kind: open ones by severity, and how many are open and closed; kinds
    /// with the most open findings first.
    pub by_kind: Vec<KindRow>,
    /// Open findings by severity name.
    pub open_by_severity: BTreeMap<&'static str, u64>,
    /// The open findings, most severe first, at most [`super::MAX_OPEN_LISTED`].
    pub open_findings: Vec<OpenFinding>,
    /// Events ignored past the digest's bound.
    #[serde(skip_serializing_if = "is_zero")]
    pub events_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The findings of one kind.
#[derive(Clone, Debug, Serialize)]
pub struct KindRow {
    /// Detector kind.
    pub kind: String,
    /// Severity name to open findings.
    pub open_by_severity: BTreeMap<&'static str, u64>,
    /// Open findings of the kind.
    pub open: u64,
    /// Closed findings of the kind.
    pub closed: u64,
}

/// An open finding.
#[derive(Clone, Debug, Serialize)]
pub struct OpenFinding {
    /// Finding id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Severity name.
    pub severity: &'static str,
    /// Score 0-100.
    pub score: u64,
    /// Consumer label (or id), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// `METHOD host path`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Requests in the incident.
    pub count: u64,
    /// Latest request.
    pub last_seen: String,
    /// One line for the analyst.
    pub message: String,
    /// Triage: `new`, `open by X`, `closed as V by X`.
    pub triage: String,
}

/// A service-level finding of the inventory.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceFinding {
    /// Kind.
    pub kind: String,
    /// Service.
    pub host: String,
    /// Count.
    pub count: u64,
    /// Sentence.
    pub detail: String,
}
