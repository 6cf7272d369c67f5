//! GraphQL operations in the inventory: per service, per path that carried GraphQL
//! (`/graphql`, `/api/graphql`, any path whose requests hold GraphQL), a bounded map of
//! operations with their own statistics. The HTTP endpoint that carried them (`POST
//! /graphql`) is counted as before; the operations say what was asked of it. Nothing here
//! goes through the path templater.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::distinct::Distinct;
use super::observe::{Observation, Visibility};
use super::stats::BoundedCounts;
use super::InventoryStats;
use crate::graphql::{Extracted, OperationType};
use crate::identity::Prefix;

/// GraphQL paths kept per service; requests on further paths are counted in
/// `graphql_paths_overflow` only.
pub const MAX_GRAPHQL_PATHS_PER_SERVICE: usize = 16;

/// Client networks kept per operation as evidence of introspection from outside.
pub const MAX_INTROSPECTION_NETWORKS: usize = 8;

/// The method under which GraphQL operations are keyed (`SERVICE GRAPHQL PATH TYPE NAME`):
/// no HTTP request can have it, so the keys never meet an HTTP endpoint's.
pub const GRAPHQL_METHOD: &str = "GRAPHQL";

/// The name a GraphQL operation is listed and keyed under, after [`GRAPHQL_METHOD`]: the
/// path of its HTTP endpoint, its type and its name, single spaces
/// (`/graphql query GetAccounts`).
pub fn operation_path(path: &str, kind: OperationType, name: &str) -> String {
    format!("{path} {} {name}", kind.name())
}

/// Statistics of one operation.
#[derive(Clone, Debug)]
pub struct OperationStats {
    /// Requests (each request of a batch counts).
    pub hits: u64,
    /// Packet time (ns) of the first request.
    pub first_seen: u64,
    /// Packet time (ns) of the last request.
    pub last_seen: u64,
    /// Distinct consumers (keyed digests, else client addresses).
    pub consumers: Distinct,
    /// Distinct client addresses (digests).
    pub clients: Distinct,
    /// HTTP status codes; `0` counts requests without a response.
    pub status: BTreeMap<u16, u64>,
    /// Responses whose JSON body has a top-level `errors` key (GraphQL answers errors with
    /// HTTP 200).
    pub errors: u64,
    /// Top-level fields seen, sorted (bounded by the extractor's `max_fields`).
    pub fields: Vec<String>,
    /// HTTP methods that carried it.
    pub methods: BoundedCounts,
    /// Requests that were part of a batch.
    pub batched: u64,
    /// Requests whose document did not read whole.
    pub incomplete: u64,
    /// Requests read from decrypted TLS.
    pub decrypted: u64,
    /// Introspection requests (all clients).
    pub introspection: u64,
    /// Introspection requests from clients outside `internal_networks`.
    pub external_introspection: u64,
    /// Their client networks (/24, /48), at most [`MAX_INTROSPECTION_NETWORKS`].
    pub external_networks: BoundedCounts,
    /// Packet time (ns) of the last introspection request from outside.
    pub last_external: Option<u64>,
}

impl OperationStats {
    pub(super) fn new(ts: u64) -> Self {
        OperationStats {
            hits: 0,
            first_seen: ts,
            last_seen: ts,
            consumers: Distinct::default(),
            clients: Distinct::default(),
            status: BTreeMap::new(),
            errors: 0,
            fields: Vec::new(),
            methods: BoundedCounts::default(),
            batched: 0,
            incomplete: 0,
            decrypted: 0,
            introspection: 0,
            external_introspection: 0,
            external_networks: BoundedCounts::default(),
            last_external: None,
        }
    }
}

/// The GraphQL operations seen on one path of a service.
#[derive(Clone, Debug, Default)]
pub struct GraphqlEndpoint {
    /// GraphQL requests (each request of a batch counts).
    pub requests: u64,
    /// Operations by (type, name).
    pub operations: HashMap<(OperationType, String), OperationStats>,
    /// Requests for operations not listed because `max_graphql_operations` was reached.
    pub overflow_requests: u64,
    /// Distinct operations refused at that bound (counted once per refused request).
    pub overflow_operations: u64,
}

/// Responses of a batch (or the single response) that carry a top-level `errors` key.
/// A body that does not parse (cut by the capture) is looked at for a leading `"errors"`.
pub(super) fn response_errors(body: &[u8]) -> Vec<bool> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        errors: Option<IgnoredAny>,
    }
    let body = body.get(..crate::graphql::MAX_SCAN_BYTES).unwrap_or(body);
    let first = body.iter().position(|b| !b.is_ascii_whitespace());
    match first.and_then(|i| body.get(i)) {
        Some(b'{') => match serde_json::from_slice::<Answer>(body) {
            Ok(a) => vec![a.errors.is_some()],
            Err(_) => {
                let rest = first.and_then(|i| body.get(i + 1..)).unwrap_or(&[]);
                let rest = rest.get(rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0)..).unwrap_or(&[]);
                vec![rest.starts_with(b"\"errors\"")]
            }
        },
        Some(b'[') => serde_json::from_slice::<Vec<Answer>>(body).map(|v| v.into_iter().map(|a| a.errors.is_some()).collect()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Whether `ip` is inside the configured internal networks.
pub(super) fn internal(networks: &[Prefix], ip: IpAddr) -> bool {
    networks.iter().any(|p| p.contains(ip))
}

/// The networks taken as internal when the configuration names none: RFC 1918, loopback,
/// link-local, IPv6 unique-local.
pub fn default_internal_networks() -> Vec<Prefix> {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"]
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// What [`observe`] needs besides the observation.
pub(super) struct Context<'a> {
    pub max_paths: usize,
    pub max_operations: usize,
    pub max_total: usize,
    pub internal_networks: &'a [Prefix],
    pub consumer: u64,
    pub client: u64,
    pub method: &'a str,
}

/// Counts one request's operations on the service's GraphQL path `path`.
pub(super) fn observe(
    map: &mut BTreeMap<String, GraphqlEndpoint>,
    path: &str,
    found: &Extracted,
    obs: &Observation<'_>,
    ctx: &Context<'_>,
    total: &mut usize,
    stats: &mut InventoryStats,
) {
    stats.graphql_requests += 1;
    let h = found.hits;
    for (hit, counter) in [
        (h.body, &mut stats.graphql_body_limit),
        (h.depth, &mut stats.graphql_depth_limit),
        (h.fields, &mut stats.graphql_field_limit),
        (h.name, &mut stats.graphql_name_limit),
        (h.batch, &mut stats.graphql_batch_limit),
    ] {
        *counter += u64::from(hit);
    }
    if !map.contains_key(path) && map.len() >= ctx.max_paths {
        stats.graphql_paths_overflow += 1;
        return;
    }
    let ep = map.entry(path.to_string()).or_default();
    let errors = response_errors(obs.response_body);
    let external = !internal(ctx.internal_networks, obs.client);
    for (i, op) in found.operations.iter().enumerate() {
        ep.requests += 1;
        let key = (op.kind, op.name.clone());
        if !ep.operations.contains_key(&key) {
            if ep.operations.len() >= ctx.max_operations || *total >= ctx.max_total {
                ep.overflow_requests += 1;
                ep.overflow_operations += 1;
                stats.graphql_operations_overflow += 1;
                continue;
            }
            *total += 1;
        }
        let st = ep.operations.entry(key).or_insert_with(|| OperationStats::new(obs.ts));
        st.hits += 1;
        st.first_seen = st.first_seen.min(obs.ts);
        st.last_seen = st.last_seen.max(obs.ts);
        st.consumers.insert(ctx.consumer);
        st.clients.insert(ctx.client);
        *st.status.entry(obs.status.unwrap_or(0)).or_default() += 1;
        if errors.get(i).copied().unwrap_or(false) {
            st.errors += 1;
        }
        for f in &op.fields {
            if !st.fields.contains(f) && st.fields.len() < crate::graphql::GraphqlLimits::default().max_fields {
                st.fields.push(f.clone());
            }
        }
        st.fields.sort();
        st.methods.add(ctx.method, 1, 4);
        st.batched += u64::from(found.batch_size > 1);
        st.incomplete += u64::from(op.incomplete);
        st.decrypted += u64::from(obs.visibility == Visibility::Decrypted);
        if op.introspection {
            st.introspection += 1;
            if external {
                st.external_introspection += 1;
                st.last_external = Some(st.last_external.unwrap_or(obs.ts).max(obs.ts));
                let net = Prefix::of(obs.client, 24, 48).to_string();
                st.external_networks.add(&net, 1, MAX_INTROSPECTION_NETWORKS);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_a_top_level_key() {
        assert_eq!(response_errors(br#"{"data":null,"errors":[{"message":"x"}]}"#), [true]);
        assert_eq!(response_errors(br#"{"data":{"errors":1}}"#), [false]);
        assert_eq!(response_errors(br#"{"data":{},"errors":null}"#), [false]);
        assert_eq!(response_errors(br#" { "errors": [{"message":"cut"#), [true]);
        assert_eq!(response_errors(br#"[{"data":{}},{"errors":[]}]"#), [false, true]);
        assert!(response_errors(b"<html>").is_empty());
    }

    #[test]
    fn internal_networks_default_to_private_and_loopback() {
        let nets = default_internal_networks();
        for ip in ["10.1.2.3", "172.31.0.1", "192.168.9.9", "127.0.0.1", "::1", "fd00::5", "::ffff:10.0.0.1"] {
            assert!(internal(&nets, ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "100.64.0.1"] {
            assert!(!internal(&nets, ip.parse().unwrap()), "{ip}");
        }
    }
}
