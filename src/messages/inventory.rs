//! The inventory-change message: one endpoint change with the endpoint's whole current state,
//! keyed by the endpoint, so a compacted topic keeps the newest state of every endpoint.

use apitap_discovery::inventory::{rfc3339, ChangeKind, EndpointChange, EndpointReport, GraphqlOperationReport};
use serde_json::{json, Map, Value};

use super::{OutMessage, Topic};

/// Version of the inventory-change layout (`schema_version`).
pub const INVENTORY_CHANGE_SCHEMA_VERSION: u32 = 1;

/// The message for one change, keyed by [`EndpointChange::key`] (`SERVICE METHOD PATH`).
/// Request and response body shapes and operator notes stay in `inventory.json`: they are
/// large and a SIEM does not alert on them.
pub fn inventory_change(change: &EndpointChange, sensor_id: &str) -> OutMessage {
    let mut endpoint = Map::new();
    endpoint.insert("service".into(), json!(change.service));
    endpoint.insert("method".into(), json!(change.method));
    endpoint.insert("path_template".into(), json!(change.path));
    endpoint.insert("classification".into(), json!(change.classification.name()));
    endpoint.insert("findings".into(), json!(change.findings));
    if let Some(e) = &change.endpoint {
        state(e, &mut endpoint);
    }
    if let Some(g) = &change.graphql {
        graphql_state(g, &mut endpoint);
    }
    let mut msg = Map::new();
    msg.insert("schema_version".into(), json!(INVENTORY_CHANGE_SCHEMA_VERSION));
    msg.insert("sensor_id".into(), json!(sensor_id));
    msg.insert("key".into(), json!(change.key));
    msg.insert("change".into(), json!(change.kind.name()));
    msg.insert("time".into(), json!(rfc3339(change.time)));
    msg.insert("initial".into(), json!(change.initial));
    if let Some(from) = change.kind.from() {
        msg.insert("previous_classification".into(), json!(from.name()));
    }
    if let ChangeKind::Updated { changed } = &change.kind {
        msg.insert("changed".into(), json!(changed));
    }
    msg.insert("endpoint".into(), Value::Object(endpoint));
    OutMessage::json(Topic::Inventory, change.key.as_bytes(), &Value::Object(msg))
}

/// A GraphQL operation's current state: the `graphql` object (names only) and the counters
/// an endpoint has too.
fn graphql_state(g: &GraphqlOperationReport, out: &mut Map<String, Value>) {
    out.insert(
        "graphql".into(),
        json!({
            "path": g.path,
            "operation_type": g.operation_type.name(),
            "operation_name": g.operation_name,
            "fields": g.fields,
            "errors": g.errors,
            "introspection": g.introspection,
            "external_introspection": g.external_introspection,
        }),
    );
    out.insert("hits".into(), json!(g.hits));
    out.insert("consumers".into(), json!(g.consumers));
    out.insert("clients".into(), json!(g.clients));
    out.insert("counts_estimated".into(), json!(g.counts_estimated));
    out.insert("visibility".into(), json!(g.visibility));
    out.insert("first_seen".into(), json!(g.first_seen));
    out.insert("last_seen".into(), json!(g.last_seen));
    out.insert("status".into(), json!(g.status));
}

/// The endpoint's current state, from its inventory report entry.
fn state(e: &EndpointReport, out: &mut Map<String, Value>) {
    out.insert("zombie_reasons".into(), json!(e.zombie_reasons));
    if let Some(s) = &e.spec {
        let mut api = Map::new();
        api.insert("title".into(), json!(s.title));
        api.insert("version".into(), json!(s.version));
        api.insert("file".into(), json!(s.file));
        api.insert("operation_path".into(), json!(s.operation_path));
        if let Some(id) = &s.operation_id {
            api.insert("operation_id".into(), json!(id));
        }
        if let Some(env) = &s.environment {
            api.insert("environment".into(), json!(env));
        }
        out.insert("api".into(), Value::Object(api));
    }
    if let Some(t) = &e.operator_template {
        out.insert("operator_template".into(), json!(t));
    }
    if let Some(a) = &e.accepted {
        out.insert("accepted".into(), json!({ "by": a.by, "reason": a.reason }));
    }
    out.insert("hits".into(), json!(e.hits));
    out.insert("consumers".into(), json!(e.consumers));
    out.insert("clients".into(), json!(e.clients));
    out.insert("counts_estimated".into(), json!(e.counts_estimated));
    if !e.visibility.is_empty() {
        out.insert("visibility".into(), json!(e.visibility));
    }
    out.insert("decrypted_requests".into(), json!(e.decrypted_requests));
    if let Some(t) = &e.first_seen {
        out.insert("first_seen".into(), json!(t));
    }
    if let Some(t) = &e.last_seen {
        out.insert("last_seen".into(), json!(t));
    }
    out.insert("status".into(), json!(e.status));
    if let Some(l) = &e.latency_ms {
        out.insert("latency_ms".into(), json!({ "p50": l.p50, "p90": l.p90, "p99": l.p99, "max": l.max }));
    }
    out.insert("auth".into(), json!(e.auth));
    out.insert("request_sensitive".into(), json!(e.request_sensitive));
    out.insert("response_sensitive".into(), json!(e.response_sensitive));
    out.insert("request_content_types".into(), json!(e.request_content_types));
    out.insert("response_content_types".into(), json!(e.response_content_types));
    out.insert("query_params".into(), json!(e.query_params));
}
