//! What the report reads: `inventory.json` (as `apitap read --out` writes it, schema in
//! docs/inventory.md), the consumers list, and the previous run's `report.json`. Each is
//! parsed from text the caller has read; the file name is only used in error messages.
//!
//! The models are lenient where the layout may grow (unknown fields are ignored, missing
//! optional ones default) and strict where a wrong file would silently give a wrong report
//! (the schema version, the classification names, the report's `format` marker).

use std::collections::BTreeMap;

use apitap_discovery::content::JsonType;
use serde::Deserialize;

use super::model::Class;

/// The `inventory.json` layout version this report reads.
pub const SUPPORTED_INVENTORY_SCHEMA: u32 = 1;

/// The `report.json` layout version this report writes and reads back as `--previous`.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Marker written at the top of `report.json`, so that a wrong `--previous` file is refused.
pub const REPORT_FORMAT: &str = "apitap-report";

/// The endpoint inventory as the report needs it.
#[derive(Clone, Debug, Deserialize)]
pub struct InventoryDoc {
    /// Must be [`SUPPORTED_INVENTORY_SCHEMA`].
    pub schema_version: u32,
    /// Period and counts.
    #[serde(default)]
    pub summary: InventorySummaryDoc,
    /// Services.
    #[serde(default)]
    pub services: Vec<ServiceDoc>,
    /// API endpoints.
    #[serde(default)]
    pub endpoints: Vec<EndpointDoc>,
    /// Findings of the inventory.
    #[serde(default)]
    pub findings: Vec<FindingDoc>,
    /// GraphQL operations (absent in inventories without GraphQL).
    #[serde(default)]
    pub graphql_operations: Vec<GraphqlOperationDoc>,
}

/// One GraphQL operation of `inventory.json` (docs/graphql.md): names and counts only.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct GraphqlOperationDoc {
    /// Service.
    pub host: String,
    /// The HTTP path that carried it.
    pub path: String,
    /// `query`, `mutation`, `subscription`, `unknown`.
    pub operation_type: String,
    /// Its name.
    pub operation_name: String,
    /// Requests.
    #[serde(default)]
    pub hits: u64,
    /// Distinct consumers.
    #[serde(default)]
    pub consumers: u64,
    /// Responses with a top-level `errors` key.
    #[serde(default)]
    pub errors: u64,
    /// Introspection requests from outside the internal networks.
    #[serde(default)]
    pub external_introspection: u64,
    /// Last request (RFC 3339).
    #[serde(default)]
    pub last_seen: String,
}

/// `inventory.json` `summary`: only the period is used; counts are recomputed from the lists.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InventorySummaryDoc {
    /// First packet time seen (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
    /// Last packet time seen (RFC 3339).
    #[serde(default)]
    pub last_seen: Option<String>,
}

/// One service of `inventory.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct ServiceDoc {
    /// Host, SNI or server address.
    pub host: String,
    /// False when it was only seen encrypted.
    #[serde(default = "yes")]
    pub inspectable: bool,
    /// HTTP requests.
    #[serde(default)]
    pub requests: u64,
    /// Of those, requests read from decrypted TLS (absent from older inventories).
    #[serde(default)]
    pub decrypted_requests: u64,
    /// First activity (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
    /// Last activity (RFC 3339).
    #[serde(default)]
    pub last_seen: Option<String>,
    /// Requests per hour, oldest first; absent from inventories that do not keep it.
    #[serde(default)]
    pub traffic: Vec<TrafficPoint>,
}

fn yes() -> bool {
    true
}

/// One hour of a service's traffic.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct TrafficPoint {
    /// Start of the hour (RFC 3339).
    pub hour: String,
    /// Requests in that hour.
    #[serde(default)]
    pub requests: u64,
    /// Requests answered with an error status.
    #[serde(default)]
    pub errors: u64,
    /// Bytes of the exchanges.
    #[serde(default)]
    pub bytes: u64,
}

/// Latency percentiles (ms).
#[derive(Clone, Debug, Deserialize)]
pub struct LatencyDoc {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// The documenting operation of an endpoint.
#[derive(Clone, Debug, Deserialize)]
pub struct SpecRefDoc {
    /// Spec file.
    #[serde(default)]
    pub file: String,
    /// Spec title.
    #[serde(default)]
    pub title: String,
    /// Spec version.
    #[serde(default)]
    pub version: String,
    /// The operation's path as written in the spec.
    #[serde(default)]
    pub operation_path: String,
    /// `operationId`.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// Binding environment.
    #[serde(default)]
    pub environment: Option<String>,
}

/// Who accepted a shadow endpoint.
#[derive(Clone, Debug, Deserialize)]
pub struct AcceptedDoc {
    /// Who.
    #[serde(default)]
    pub by: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Body shape of one direction (field names and types, never values).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ShapeDoc {
    /// Bodies parsed as JSON.
    #[serde(default)]
    pub json_bodies: u64,
    /// Bodies whose scan stopped early.
    #[serde(default)]
    pub truncated_bodies: u64,
    /// Field path to the types seen.
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<JsonType>>,
    /// Fields past the bound.
    #[serde(default)]
    pub fields_dropped: u64,
}

/// One API endpoint of `inventory.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct EndpointDoc {
    /// Service.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Classification.
    pub classification: Class,
    /// Why it is a zombie.
    #[serde(default)]
    pub zombie_reasons: Vec<String>,
    /// The documenting operation.
    #[serde(default)]
    pub spec: Option<SpecRefDoc>,
    /// Accepted by the operator.
    #[serde(default)]
    pub accepted: Option<AcceptedDoc>,
    /// Requests.
    #[serde(default)]
    pub hits: u64,
    /// How its requests were read (`clear`, `decrypted`); absent from older inventories.
    #[serde(default)]
    pub visibility: Vec<String>,
    /// Requests read from decrypted TLS.
    #[serde(default)]
    pub decrypted_requests: u64,
    /// Distinct consumers.
    #[serde(default)]
    pub consumers: u64,
    /// Distinct client addresses.
    #[serde(default)]
    pub clients: u64,
    /// The two counts above are estimates.
    #[serde(default)]
    pub counts_estimated: bool,
    /// First request (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
    /// Last request (RFC 3339).
    #[serde(default)]
    pub last_seen: Option<String>,
    /// Status code to count (`"0"`: no response).
    #[serde(default)]
    pub status: BTreeMap<String, u64>,
    /// Latency percentiles.
    #[serde(default)]
    pub latency_ms: Option<LatencyDoc>,
    /// Request media types.
    #[serde(default)]
    pub request_content_types: BTreeMap<String, u64>,
    /// Response media types.
    #[serde(default)]
    pub response_content_types: BTreeMap<String, u64>,
    /// Authentication kind to count.
    #[serde(default)]
    pub auth: BTreeMap<String, u64>,
    /// Query parameter names.
    #[serde(default)]
    pub query_params: Vec<String>,
    /// Request body shape.
    #[serde(default)]
    pub request_body: ShapeDoc,
    /// Response body shape.
    #[serde(default)]
    pub response_body: ShapeDoc,
    /// Sensitive-data kind to count, in requests.
    #[serde(default)]
    pub request_sensitive: BTreeMap<String, u64>,
    /// Sensitive-data kind to count, in responses.
    #[serde(default)]
    pub response_sensitive: BTreeMap<String, u64>,
}

/// One finding of `inventory.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct FindingDoc {
    /// Kind (`sensitive_data_without_authentication`, ...).
    pub kind: String,
    /// Service.
    pub host: String,
    /// Method, for endpoint findings.
    #[serde(default)]
    pub method: Option<String>,
    /// Path template, for endpoint findings.
    #[serde(default)]
    pub path: Option<String>,
    /// Requests that show it.
    #[serde(default)]
    pub count: u64,
    /// One sentence for the analyst.
    #[serde(default)]
    pub detail: String,
}

/// One entry of `consumers.json` (layout in docs/reports.md). Ids are keyed hashes and
/// labels are the sensor's non-secret labels: the file holds no credential.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
pub struct ConsumerDoc {
    /// Consumer id (keyed hash).
    pub id: String,
    /// Non-secret label.
    #[serde(default)]
    pub label: String,
    /// Identity source (`jwt`, `client_cert`, ...).
    #[serde(default)]
    pub source: String,
    /// Requests.
    #[serde(default)]
    pub requests: u64,
    /// Requests answered with an error status.
    #[serde(default)]
    pub errors: u64,
    /// Distinct endpoints called.
    #[serde(default)]
    pub endpoints: u64,
    /// First request (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
    /// Last request (RFC 3339).
    #[serde(default)]
    pub last_seen: Option<String>,
}

/// What the report needs of the previous run's `report.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct PreviousReport {
    /// When it was generated.
    #[serde(default)]
    pub generated_at: Option<String>,
    /// Its period.
    #[serde(default)]
    pub period: PreviousPeriod,
    /// Its counts.
    #[serde(default)]
    pub summary: PreviousSummary,
    /// Its endpoints (names and classes).
    #[serde(default)]
    pub endpoints: Vec<PreviousEndpoint>,
}

/// Period of the previous report.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PreviousPeriod {
    /// Last packet time it covered.
    #[serde(default)]
    pub last_seen: Option<String>,
}

/// Counts of the previous report.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PreviousSummary {
    /// Services.
    #[serde(default)]
    pub services: u64,
    /// API endpoints.
    #[serde(default)]
    pub endpoints: u64,
    /// Shadow endpoints.
    #[serde(default)]
    pub shadow: u64,
    /// Zombie endpoints.
    #[serde(default)]
    pub zombie: u64,
    /// Orphan operations.
    #[serde(default)]
    pub orphan: u64,
    /// Endpoints with sensitive data to unauthenticated requests.
    #[serde(default)]
    pub sensitive_without_auth: u64,
    /// Open anomalies, when it had them.
    #[serde(default)]
    pub open_anomalies: Option<u64>,
}

/// An endpoint of the previous report.
#[derive(Clone, Debug, Deserialize)]
pub struct PreviousEndpoint {
    /// Service.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Its class then.
    pub classification: Class,
}

/// A JSON error as the operator needs it: where, what, and the fix.
fn json_error(file: &str, what: &str, fix: &str, e: &serde_json::Error) -> String {
    format!("{file}: line {} column {}: {e}; {fix} ({what})", e.line(), e.column())
}

/// Parses `inventory.json`. Errors name `file`, the line and the fix.
pub fn parse_inventory(file: &str, text: &str) -> Result<InventoryDoc, String> {
    let fix = "pass the inventory.json that `apitap read --out DIR` writes (layout in docs/inventory.md)";
    let doc: InventoryDoc = serde_json::from_str(text).map_err(|e| json_error(file, "inventory", fix, &e))?;
    if doc.schema_version != SUPPORTED_INVENTORY_SCHEMA {
        return Err(format!(
            "{file}: schema_version {} is not the inventory layout this apitap reads ({SUPPORTED_INVENTORY_SCHEMA}); \
             make the report with the apitap version that wrote the inventory",
            doc.schema_version
        ));
    }
    Ok(doc)
}

/// Parses `consumers.json`: a JSON array of consumers. Errors name `file`, the line and the fix.
pub fn parse_consumers(file: &str, text: &str) -> Result<Vec<ConsumerDoc>, String> {
    let fix = "the file must be a JSON array of {id, label, source, requests, errors, endpoints, first_seen, last_seen} \
               (docs/reports.md)";
    serde_json::from_str(text).map_err(|e| json_error(file, "consumers", fix, &e))
}

/// Parses the previous run's `report.json`. Errors name `file` and the fix.
pub fn parse_previous(file: &str, text: &str) -> Result<PreviousReport, String> {
    let fix = "pass the report.json that the last `apitap report` wrote, or leave --previous out";
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(file, "previous report", fix, &e))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(REPORT_FORMAT) {
        return Err(format!("{file}: not a report.json of apitap report (no \"format\": \"{REPORT_FORMAT}\"); {fix}"));
    }
    let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(REPORT_SCHEMA_VERSION)) {
        return Err(format!(
            "{file}: report schema_version {} is not the one this apitap reads ({REPORT_SCHEMA_VERSION}); {fix}",
            version.map_or_else(|| "(missing)".to_string(), |v| v.to_string())
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("{file}: {e}; {fix}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn a_wrong_schema_version_names_the_file_and_the_fix() {
        let err = parse_inventory("inv.json", r#"{"schema_version": 9}"#).unwrap_err();
        assert!(err.starts_with("inv.json: schema_version 9"), "{err}");
        assert!(err.contains("apitap version"), "{err}");
    }

    #[test]
    fn an_unknown_classification_is_refused_with_its_line() {
        let text = "{\"schema_version\": 1,\n \"endpoints\": [{\"host\": \"h\", \"method\": \"GET\", \"path\": \"/\", \"classification\": \"ghost\"}]}";
        let err = parse_inventory("inv.json", text).unwrap_err();
        assert!(err.starts_with("inv.json: line 2"), "{err}");
        assert!(err.contains("ghost"), "{err}");
    }

    #[test]
    fn services_without_traffic_read_as_empty_series() {
        let text = r#"{"schema_version": 1, "services": [{"host": "a", "requests": 3}]}"#;
        let doc = parse_inventory("inv.json", text).unwrap();
        assert_eq!(doc.services.len(), 1);
        assert!(doc.services[0].traffic.is_empty());
        assert!(doc.services[0].inspectable);
    }

    #[test]
    fn the_previous_report_must_carry_the_marker() {
        let err = parse_previous("old.json", r#"{"schema_version": 1, "endpoints": []}"#).unwrap_err();
        assert!(err.contains("old.json: not a report.json"), "{err}");
        let ok = parse_previous("old.json", r#"{"format": "apitap-report", "schema_version": 1, "endpoints": [], "summary": {"shadow": 4}}"#)
            .unwrap();
        assert_eq!(ok.summary.shadow, 4);
    }
}
