//! GraphQL operations as the report lists them, and the `graphql_introspection` finding.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::graphql::{operation_path, GRAPHQL_METHOD};
use super::observe::Visibility;
use super::report::{visibility, Finding};
use super::service::Service;
use super::time::rfc3339;
use crate::graphql::OperationType;

/// One GraphQL operation of the report (`graphql_operations` in inventory.json).
#[derive(Clone, Debug, Serialize)]
pub struct GraphqlOperationReport {
    /// Service.
    pub host: String,
    /// The HTTP path that carried it.
    pub path: String,
    /// `query`, `mutation`, `subscription`, or `unknown` (a persisted query sent by hash).
    pub operation_type: OperationType,
    /// The operation's name: `operationName`, else the document's name, else `sha256:` and
    /// the persisted query's hash, else the sorted top-level fields (`{accounts,balances}`).
    pub operation_name: String,
    /// Its key in the inventory-change topic: `HOST GRAPHQL PATH TYPE NAME`.
    pub key: String,
    /// Top-level fields seen (names, never aliases or values).
    pub fields: Vec<String>,
    /// Requests (each request of a batch counts).
    pub hits: u64,
    /// How its requests were read.
    pub visibility: Vec<Visibility>,
    /// Distinct consumers.
    pub consumers: u64,
    /// Distinct client addresses.
    pub clients: u64,
    /// The consumer/client counts are estimates (above 256).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts_estimated: bool,
    /// First request (RFC 3339).
    pub first_seen: String,
    /// Last request.
    pub last_seen: String,
    /// HTTP status codes (`"0"`: no response seen).
    pub status: BTreeMap<String, u64>,
    /// Responses with a top-level `errors` key.
    pub errors: u64,
    /// HTTP methods that carried it.
    pub methods: BTreeMap<String, u64>,
    /// Requests that came in a batch.
    pub batched: u64,
    /// Requests whose document did not read whole.
    pub incomplete: u64,
    /// Introspection requests (`__schema`, `__type`).
    pub introspection: u64,
    /// Of those, from clients outside `internal_networks`.
    pub external_introspection: u64,
    /// Their client networks (/24, /48) with counts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_networks: BTreeMap<String, u64>,
}

/// One GraphQL path of a service with its overflow, for the report's services.
#[derive(Clone, Debug, Serialize)]
pub struct GraphqlPathReport {
    /// The path.
    pub path: String,
    /// GraphQL requests on it.
    pub requests: u64,
    /// Operations listed.
    pub operations: u64,
    /// Requests for operations past `max_graphql_operations`.
    pub overflow_requests: u64,
}

/// The GraphQL operations and paths of every service, and the introspection findings.
pub(super) fn build(services: &HashMap<String, Service>, findings: &mut Vec<Finding>) -> (Vec<GraphqlOperationReport>, BTreeMap<String, Vec<GraphqlPathReport>>) {
    let mut ops = Vec::new();
    let mut paths = BTreeMap::new();
    for (host, svc) in services {
        let mut listed = Vec::new();
        for (path, ep) in &svc.graphql {
            listed.push(GraphqlPathReport {
                path: path.clone(),
                requests: ep.requests,
                operations: ep.operations.len() as u64,
                overflow_requests: ep.overflow_requests,
            });
            for ((kind, name), st) in &ep.operations {
                let op_path = operation_path(path, *kind, name);
                if st.external_introspection > 0 {
                    let nets: Vec<&str> = st.external_networks.counts.keys().map(String::as_str).collect();
                    let more = if st.external_networks.dropped > 0 { " and more" } else { "" };
                    findings.push(Finding {
                        kind: "graphql_introspection",
                        host: host.clone(),
                        method: Some(GRAPHQL_METHOD.to_string()),
                        path: Some(op_path.clone()),
                        count: st.external_introspection,
                        detail: format!(
                            "GraphQL introspection ({}) from clients outside the internal networks: {}{more}; last at {}",
                            st.fields.iter().filter(|f| *f == "__schema" || *f == "__type").cloned().collect::<Vec<_>>().join(", "),
                            nets.join(", "),
                            st.last_external.map_or_else(String::new, rfc3339)
                        ),
                    });
                }
                ops.push(GraphqlOperationReport {
                    host: host.clone(),
                    path: path.clone(),
                    operation_type: *kind,
                    operation_name: name.clone(),
                    key: super::endpoint_key(host, GRAPHQL_METHOD, &op_path),
                    fields: st.fields.clone(),
                    hits: st.hits,
                    visibility: visibility(st.hits, st.decrypted, 0),
                    consumers: st.consumers.count(),
                    clients: st.clients.count(),
                    counts_estimated: st.consumers.is_estimate() || st.clients.is_estimate(),
                    first_seen: rfc3339(st.first_seen),
                    last_seen: rfc3339(st.last_seen),
                    status: st.status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    errors: st.errors,
                    methods: st.methods.counts.clone(),
                    batched: st.batched,
                    incomplete: st.incomplete,
                    introspection: st.introspection,
                    external_introspection: st.external_introspection,
                    external_networks: st.external_networks.counts.clone(),
                });
            }
        }
        if !listed.is_empty() {
            paths.insert(host.clone(), listed);
        }
    }
    ops.sort_by(|a, b| (&a.host, &a.path, a.operation_type, &a.operation_name).cmp(&(&b.host, &b.path, b.operation_type, &b.operation_name)));
    (ops, paths)
}
