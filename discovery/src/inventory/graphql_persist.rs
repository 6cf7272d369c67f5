//! GraphQL operations in the inventory snapshot, and their restore from hostile bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::distinct::{Distinct, DistinctSnapshot};
use super::graphql::{GraphqlEndpoint, OperationStats, MAX_INTROSPECTION_NETWORKS};
use super::snapshot::{bounded, count, text, MAX_SNAPSHOT_TEXT};
use super::RestoreReport;
use crate::graphql::{GraphqlLimits, OperationType};

/// The GraphQL operations of one path of a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphqlPathSnapshot {
    /// The path.
    pub path: String,
    /// GraphQL requests on it.
    pub requests: u64,
    /// Requests past `max_graphql_operations`.
    pub overflow_requests: u64,
    /// Operations refused at that bound.
    pub overflow_operations: u64,
    /// The operations, by type and name.
    pub operations: Vec<GraphqlOperationSnapshot>,
}

/// One GraphQL operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphqlOperationSnapshot {
    /// `query`, `mutation`, `subscription`, `unknown`.
    pub operation_type: String,
    /// Its name.
    pub name: String,
    /// Requests.
    pub hits: u64,
    /// Packet time (ns) of the first request.
    pub first_seen: u64,
    /// Packet time (ns) of the last request.
    pub last_seen: u64,
    /// Distinct consumers.
    pub consumers: DistinctSnapshot,
    /// Distinct clients.
    pub clients: DistinctSnapshot,
    /// Status codes.
    pub status: BTreeMap<u16, u64>,
    /// Responses with `errors`.
    pub errors: u64,
    /// Top-level fields.
    pub fields: Vec<String>,
    /// Methods.
    pub methods: super::BoundedCounts,
    /// Batched requests.
    pub batched: u64,
    /// Incomplete documents.
    pub incomplete: u64,
    /// Decrypted requests.
    pub decrypted: u64,
    /// Introspection requests.
    pub introspection: u64,
    /// From outside.
    pub external_introspection: u64,
    /// Their networks.
    pub external_networks: super::BoundedCounts,
    /// The last one from outside (ns).
    pub last_external: Option<u64>,
}

/// A name as the extractor makes them: a GraphQL name, `sha256:HEX` or `{field,...}`.
fn plausible_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"_:{},".contains(&b))
}

pub(super) fn snapshot(map: &BTreeMap<String, GraphqlEndpoint>) -> Vec<GraphqlPathSnapshot> {
    map.iter()
        .map(|(path, ep)| {
            let mut operations: Vec<GraphqlOperationSnapshot> = ep
                .operations
                .iter()
                .map(|((kind, name), st)| GraphqlOperationSnapshot {
                    operation_type: kind.name().to_string(),
                    name: name.clone(),
                    hits: st.hits,
                    first_seen: st.first_seen,
                    last_seen: st.last_seen,
                    consumers: st.consumers.snapshot(),
                    clients: st.clients.snapshot(),
                    status: st.status.clone(),
                    errors: st.errors,
                    fields: st.fields.clone(),
                    methods: st.methods.clone(),
                    batched: st.batched,
                    incomplete: st.incomplete,
                    decrypted: st.decrypted,
                    introspection: st.introspection,
                    external_introspection: st.external_introspection,
                    external_networks: st.external_networks.clone(),
                    last_external: st.last_external,
                })
                .collect();
            operations.sort_by(|a, b| (&a.operation_type, &a.name).cmp(&(&b.operation_type, &b.name)));
            GraphqlPathSnapshot {
                path: path.clone(),
                requests: ep.requests,
                overflow_requests: ep.overflow_requests,
                overflow_operations: ep.overflow_operations,
                operations,
            }
        })
        .collect()
}

fn operation(o: GraphqlOperationSnapshot, report: &mut RestoreReport) -> Result<((OperationType, String), OperationStats), String> {
    let what = format!("graphql operation `{}`", o.name.chars().take(64).collect::<String>());
    let kind = OperationType::from_name(&o.operation_type).ok_or_else(|| format!("{what}: unknown operation type (known: query, mutation, subscription, unknown)"))?;
    text(&o.name, &what)?;
    if !plausible_name(&o.name) {
        return Err(format!("{what}: not a GraphQL operation name"));
    }
    for v in [o.hits, o.errors, o.batched, o.incomplete, o.decrypted, o.introspection, o.external_introspection] {
        count(v, &what)?;
    }
    let max_fields = GraphqlLimits::default().max_fields;
    let mut fields = Vec::new();
    for f in o.fields {
        text(&f, &what)?;
        if fields.len() < max_fields && plausible_name(&f) && !fields.contains(&f) {
            fields.push(f);
        } else {
            report.values_cut += 1;
        }
    }
    fields.sort();
    let (methods, c1) = bounded(o.methods, 4, 16, &what)?;
    let (external_networks, c2) = bounded(o.external_networks, MAX_INTROSPECTION_NETWORKS, 64, &what)?;
    report.values_cut += c1 + c2;
    let mut status = BTreeMap::new();
    for (k, v) in o.status {
        status.insert(k, count(v, &what)?);
    }
    let st = OperationStats {
        hits: o.hits,
        first_seen: o.first_seen,
        last_seen: o.last_seen,
        consumers: Distinct::restore(o.consumers).map_err(|e| format!("{what}: consumers: {e}"))?,
        clients: Distinct::restore(o.clients).map_err(|e| format!("{what}: clients: {e}"))?,
        status,
        errors: o.errors,
        fields,
        methods,
        batched: o.batched,
        incomplete: o.incomplete,
        decrypted: o.decrypted,
        introspection: o.introspection,
        external_introspection: o.external_introspection,
        external_networks,
        last_external: o.last_external,
    };
    Ok(((kind, o.name), st))
}

/// The GraphQL paths of a service from a snapshot: at most `max_paths` paths and
/// `max_operations` operations per path (the busiest kept, the rest counted in
/// `RestoreReport::values_cut`). Errors name the path and operation.
pub(super) fn restore(
    paths: Vec<GraphqlPathSnapshot>,
    max_paths: usize,
    max_operations: usize,
    report: &mut RestoreReport,
) -> Result<BTreeMap<String, GraphqlEndpoint>, String> {
    let mut out = BTreeMap::new();
    for p in paths {
        text(&p.path, "a graphql path")?;
        if p.path.len() > MAX_SNAPSHOT_TEXT || out.contains_key(&p.path) {
            return Err(format!("graphql path `{}` listed twice", p.path.chars().take(256).collect::<String>()));
        }
        if out.len() >= max_paths {
            report.values_cut += 1;
            continue;
        }
        let mut ep = GraphqlEndpoint {
            requests: count(p.requests, "graphql requests")?,
            overflow_requests: count(p.overflow_requests, "graphql overflow_requests")?,
            overflow_operations: count(p.overflow_operations, "graphql overflow_operations")?,
            ..GraphqlEndpoint::default()
        };
        let mut ops = Vec::with_capacity(p.operations.len().min(max_operations));
        for o in p.operations {
            ops.push(operation(o, report)?);
        }
        ops.sort_by(|a, b| b.1.hits.cmp(&a.1.hits).then_with(|| a.0.cmp(&b.0)));
        for (key, st) in ops {
            if ep.operations.contains_key(&key) {
                return Err(format!("graphql operation `{}` listed twice under `{}`", key.1, p.path));
            }
            if ep.operations.len() < max_operations {
                ep.operations.insert(key, st);
            } else {
                ep.overflow_requests = ep.overflow_requests.saturating_add(st.hits);
                report.values_cut += 1;
            }
        }
        out.insert(p.path, ep);
    }
    Ok(out)
}
