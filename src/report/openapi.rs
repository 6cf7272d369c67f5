//! The reconstructed OpenAPI document, made by the inventory's own
//! [`apitap_discovery::inventory::reconstruct`] from the endpoints read back from
//! `inventory.json`, so that openapi.yaml is the same document `apitap read` writes.

use apitap_discovery::content::SensitiveKind;
use apitap_discovery::inventory::{
    reconstruct, AcceptedReport, Classification, EndpointReport, InventoryReport, Latency, ShapeReport, SpecRef, Summary,
    INVENTORY_SCHEMA_VERSION,
};

use super::input::{EndpointDoc, InventoryDoc, ShapeDoc};
use super::model::Class;

fn classification(c: Class) -> Classification {
    match c {
        Class::Documented => Classification::Documented,
        Class::Shadow => Classification::Shadow,
        Class::Zombie => Classification::Zombie,
        Class::Orphan => Classification::Orphan,
    }
}

/// The inventory's zombie reasons are a closed set of static names; others are dropped.
fn zombie_reason(r: &str) -> Option<&'static str> {
    ["deprecated_in_spec", "superseded_spec", "deprecation_header"].into_iter().find(|k| *k == r)
}

fn shape(s: &ShapeDoc) -> ShapeReport {
    ShapeReport {
        json_bodies: s.json_bodies,
        truncated_bodies: s.truncated_bodies,
        fields: s.fields.clone(),
        fields_dropped: s.fields_dropped,
    }
}

fn sensitive(m: &std::collections::BTreeMap<String, u64>) -> std::collections::BTreeMap<SensitiveKind, u64> {
    m.iter()
        .filter_map(|(k, n)| serde_json::from_value::<SensitiveKind>(serde_json::Value::String(k.clone())).ok().map(|k| (k, *n)))
        .collect()
}

fn endpoint(e: &EndpointDoc) -> EndpointReport {
    EndpointReport {
        host: e.host.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        classification: classification(e.classification),
        zombie_reasons: e.zombie_reasons.iter().filter_map(|r| zombie_reason(r)).collect(),
        spec: e.spec.as_ref().map(|s| SpecRef {
            file: s.file.clone(),
            title: s.title.clone(),
            version: s.version.clone(),
            operation_path: s.operation_path.clone(),
            operation_id: s.operation_id.clone(),
            environment: s.environment.clone(),
        }),
        operator_template: None,
        accepted: e.accepted.as_ref().map(|a| AcceptedReport { by: a.by.clone(), reason: a.reason.clone() }),
        hits: e.hits,
        visibility: e.visibility.iter().filter_map(|v| serde_json::from_value(serde_json::Value::String(v.clone())).ok()).collect(),
        decrypted_requests: e.decrypted_requests,
        consumers: e.consumers,
        clients: e.clients,
        counts_estimated: e.counts_estimated,
        first_seen: e.first_seen.clone(),
        last_seen: e.last_seen.clone(),
        status: e.status.clone(),
        latency_ms: e.latency_ms.as_ref().map(|l| Latency { p50: l.p50, p90: l.p90, p99: l.p99, max: l.max }),
        request_content_types: e.request_content_types.clone(),
        response_content_types: e.response_content_types.clone(),
        auth: e.auth.clone(),
        query_params: e.query_params.clone(),
        request_body: shape(&e.request_body),
        response_body: shape(&e.response_body),
        request_sensitive: sensitive(&e.request_sensitive),
        response_sensitive: sensitive(&e.response_sensitive),
        notes: Vec::new(),
    }
}

/// The OpenAPI 3.1 document of the endpoints seen in traffic (orphans left out), as a JSON
/// value. Only the endpoints are carried over; the document is built from nothing else.
pub fn reconstruct_from(inv: &InventoryDoc) -> serde_json::Value {
    let report = InventoryReport {
        schema_version: INVENTORY_SCHEMA_VERSION,
        summary: Summary::default(),
        specs: Vec::new(),
        services: Vec::new(),
        endpoints: inv.endpoints.iter().map(endpoint).collect(),
        other_endpoints: Vec::new(),
        graphql_operations: Vec::new(),
        findings: Vec::new(),
        counters: std::collections::BTreeMap::new(),
    };
    reconstruct(&report)
}
