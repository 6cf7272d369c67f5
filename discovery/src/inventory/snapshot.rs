//! The inventory as plain data for the daemon's store: what [`super::Inventory::snapshot`]
//! writes and [`super::Inventory::restore`] reads back.
//!
//! Every type here is serde data without maps keyed by anything but strings or integers, so
//! JSON and CBOR both carry it. Documented endpoints name their operation by a stable
//! identity (the spec's file, title, version and binding; the operation's method and path as
//! written), never by an index into the loaded specs, so a snapshot survives a reload that
//! adds, removes or reorders specs.
//!
//! # Versioning
//!
//! [`InventorySnapshot::format`] is [`SNAPSHOT_FORMAT`]. A change a reader of the current
//! format could not read (a field removed or renamed, a meaning changed) bumps it, and the
//! release that bumps it keeps a reader for the previous format (converting it into the new
//! one), so an upgrade carries the inventory over. Adding an optional field (`#[serde(default)]`)
//! is not such a change.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::distinct::{Distinct, DistinctSnapshot};
use super::sampling::{BodySampler, Sampling};
use super::observe::AuthKind;
use super::service::{NotFound, TlsFacts};
use super::stats::{BoundedCounts, EndpointStats, Shape, LATENCY_MAX_MICROS, LATENCY_MIN_MICROS};
use super::traffic::HourTraffic;
use super::{InventoryStats, SpecUse};
use crate::content::SensitiveKind;
use crate::template::{Template, TemplaterSnapshot};

/// The snapshot layout this release writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The whole inventory as plain data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventorySnapshot {
    /// Layout version: [`SNAPSHOT_FORMAT`] when written by this release.
    pub format: u32,
    /// Inventory-wide counters.
    pub counters: InventoryStats,
    /// The specs loaded when the snapshot was taken, with their operations: an inferred
    /// endpoint is matched on restore only against operations added since.
    pub specs: Vec<SpecSnapshot>,
    /// The operator routes loaded then (same purpose).
    pub routes: Vec<RouteId>,
    /// Base-path use per spec.
    pub spec_use: Vec<SpecUseSnapshot>,
    /// Every service, by name.
    pub services: Vec<ServiceSnapshot>,
}

/// A spec's stable identity: a later load of the same spec, even at another position among
/// the specs, has the same one.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SpecId {
    /// The file it was loaded from.
    pub file: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// Its binding's hosts (one file can be bound twice, e.g. to sandbox and production).
    pub hosts: Vec<String>,
    /// Its binding's environment.
    pub environment: Option<String>,
}

/// A spec and its operations as loaded when the snapshot was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecSnapshot {
    /// Its identity.
    pub id: SpecId,
    /// Its operations: method (as written) and path.
    pub operations: Vec<(String, String)>,
}

/// An operator route's identity: its method, template and hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteId {
    /// Method; `None` for every method.
    pub method: Option<String>,
    /// Template.
    pub template: String,
    /// Hosts.
    pub hosts: Vec<String>,
}

/// Base-path use of one spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecUseSnapshot {
    /// The spec.
    pub spec: SpecId,
    /// Its counts.
    pub uses: SpecUse,
}

/// One service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    /// Service name (Host, SNI or server address).
    pub name: String,
    /// Requests seen.
    pub requests: u64,
    /// Of those, requests read from decrypted TLS (absent in snapshots from before
    /// decryption: 0).
    #[serde(default)]
    pub decrypted_requests: u64,
    /// Packet time (ns) of the first activity.
    pub first_seen: u64,
    /// Packet time (ns) of the last activity.
    pub last_seen: u64,
    /// Server addresses.
    pub servers: Vec<SocketAddr>,
    /// The templater of its undocumented paths.
    pub templater: TemplaterSnapshot,
    /// Templater generation the inferred endpoints were last refined at.
    pub generation: u64,
    /// Documented endpoints.
    pub documented: Vec<DocumentedSnapshot>,
    /// Inferred endpoints.
    pub inferred: Vec<InferredSnapshot>,
    /// Non-API endpoints.
    pub other: Vec<OtherSnapshot>,
    /// Requests by non-API category name.
    pub other_requests: BTreeMap<String, u64>,
    /// Requests past the endpoint bounds.
    pub overflow_requests: u64,
    /// Templates refused at the bound.
    pub overflow_paths: u64,
    /// 404-only traffic.
    pub not_found: NotFoundSnapshot,
    /// Requests with more segments than considered.
    pub deep_paths: u64,
    /// TLS facts.
    pub tls: Option<TlsFacts>,
    /// Hourly traffic, oldest first.
    pub traffic: Vec<HourTraffic>,
    /// GraphQL operations by path (absent in snapshots from before GraphQL: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graphql: Vec<super::GraphqlPathSnapshot>,
}

/// What a documented endpoint is documented by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSnapshot {
    /// A spec operation.
    Operation {
        /// The spec.
        spec: SpecId,
        /// The operation's method as written in the spec.
        method: String,
        /// The operation's path as written in the spec.
        path: String,
    },
    /// An operator route.
    Route(RouteId),
}

/// A documented (spec-matched or route-templated) endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentedSnapshot {
    /// Request method (upper case).
    pub method: String,
    /// The template it is named by.
    pub template: String,
    /// What documents it.
    pub target: TargetSnapshot,
    /// Called under the base path of this superseded spec.
    pub under_superseded: Option<SpecId>,
    /// Matched only without the spec's base path.
    pub without_base_path: bool,
    /// Its statistics.
    pub stats: EndpointSnapshot,
}

/// An inferred endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InferredSnapshot {
    /// Request method (upper case).
    pub method: String,
    /// Its template.
    pub template: Template,
    /// Its statistics.
    pub stats: EndpointSnapshot,
}

/// A non-API endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OtherSnapshot {
    /// Method.
    pub method: String,
    /// Path as requested.
    pub path: String,
    /// Category name (`static_asset`, ...).
    pub category: String,
    /// Its statistics.
    pub stats: EndpointSnapshot,
}

/// 404-only traffic of a service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotFoundSnapshot {
    /// Requests.
    pub requests: u64,
    /// Of those, unanswered.
    pub unanswered: u64,
    /// Digests of the distinct paths, ascending.
    pub paths: Vec<u64>,
    /// Distinct paths not remembered.
    pub paths_dropped: u64,
}

/// Everything counted for one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointSnapshot {
    /// Requests.
    pub hits: u64,
    /// Packet time (ns) of the first request.
    pub first_seen: u64,
    /// Packet time (ns) of the last request.
    pub last_seen: u64,
    /// Distinct consumers.
    pub consumers: DistinctSnapshot,
    /// Distinct client addresses.
    pub clients: DistinctSnapshot,
    /// Final status codes.
    pub status: BTreeMap<u16, u64>,
    /// The latency histogram's recorded buckets: (microseconds, count), ascending. `None`:
    /// no latency was ever recorded. Lossless: every percentile the report gives is the same
    /// after a restore.
    pub latency_us: Option<Vec<(u64, u64)>>,
    /// Request media types.
    pub request_types: BoundedCounts,
    /// Response media types.
    pub response_types: BoundedCounts,
    /// Authentication kinds by name.
    pub auth: BTreeMap<String, u64>,
    /// Query parameter names.
    pub query_params: BoundedCounts,
    /// Request body shape.
    pub request_shape: Shape,
    /// Response body shape.
    pub response_shape: Shape,
    /// Sensitive values in request bodies.
    pub request_sensitive: BTreeMap<SensitiveKind, u64>,
    /// Sensitive values in response bodies.
    pub response_sensitive: BTreeMap<SensitiveKind, u64>,
    /// Sensitive responses to unauthenticated requests.
    pub sensitive_unauthenticated: u64,
    /// Deprecation signals.
    pub deprecation_signals: u64,
    /// Requests read from decrypted TLS (absent in snapshots from before decryption: 0).
    #[serde(default)]
    pub decrypted: u64,
    /// Body sampling of requests (absent in snapshots from before sampling: the endpoint
    /// analyses its next bodies in full).
    #[serde(default)]
    pub request_sampler: BodySampler,
    /// Body sampling of responses (same).
    #[serde(default)]
    pub response_sampler: BodySampler,
}

/// The largest counter a snapshot may carry: far above anything a sensor counts (2^62
/// requests), low enough that adding two never overflows.
pub const MAX_SNAPSHOT_COUNT: u64 = 1 << 62;

/// The longest text (service name, template, media type, field path) a snapshot may carry.
pub const MAX_SNAPSHOT_TEXT: usize = 64 * 1024;

/// Latency buckets a histogram can have (its sub-buckets over 10 µs to 10 min at two
/// significant digits are far fewer).
const MAX_LATENCY_BUCKETS: usize = 65_536;

/// Checks a counter read from a snapshot.
pub(super) fn count(v: u64, what: &str) -> Result<u64, String> {
    if v > MAX_SNAPSHOT_COUNT {
        return Err(format!("{what} is {v}, above the largest plausible count {MAX_SNAPSHOT_COUNT}"));
    }
    Ok(v)
}

/// Checks a text read from a snapshot.
pub(super) fn text<'a>(v: &'a str, what: &str) -> Result<&'a str, String> {
    if v.len() > MAX_SNAPSHOT_TEXT {
        return Err(format!("{what} is {} bytes long, more than {MAX_SNAPSHOT_TEXT}", v.len()));
    }
    Ok(v)
}

/// The bounds the restored statistics must respect (the configuration in force).
#[derive(Clone, Copy, Debug)]
pub(super) struct StatBounds {
    pub content_types: usize,
    pub query_params: usize,
    pub param_name_len: usize,
    pub shape_fields: usize,
}

/// Checks counts and cuts them to `max` keys (the rest counted as dropped); returns how many
/// keys were cut.
pub(super) fn bounded(mut c: BoundedCounts, max: usize, max_key: usize, what: &str) -> Result<(BoundedCounts, u64), String> {
    count(c.dropped, what)?;
    let mut cut = 0u64;
    let mut kept = BTreeMap::new();
    for (k, n) in std::mem::take(&mut c.counts) {
        count(n, what)?;
        text(&k, what)?;
        if kept.len() < max && k.len() <= max_key {
            kept.insert(k, n);
        } else {
            cut += 1;
            c.dropped = c.dropped.saturating_add(n);
        }
    }
    c.counts = kept;
    Ok((c, cut))
}

fn shape(mut s: Shape, max: usize, what: &str) -> Result<(Shape, u64), String> {
    for v in [s.dropped, s.json_bodies, s.truncated_bodies] {
        count(v, what)?;
    }
    let mut cut = 0u64;
    let mut kept = BTreeMap::new();
    for (path, mut types) in std::mem::take(&mut s.fields) {
        text(&path, what)?;
        types.sort();
        types.dedup();
        if kept.len() < max {
            kept.insert(path, types);
        } else {
            cut += 1;
            s.dropped = s.dropped.saturating_add(1);
        }
    }
    s.fields = kept;
    Ok((s, cut))
}

/// Checks a body sampler read from a snapshot (its media types are cut to
/// [`super::MAX_SAMPLED_MEDIA`] by [`Sampling::restore`]).
fn sampler(s: BodySampler, what: &str) -> Result<BodySampler, String> {
    for m in &s.media {
        text(m, what)?;
    }
    Ok(s)
}

fn counts_map<K: Ord + Copy>(m: &BTreeMap<K, u64>, what: &str) -> Result<BTreeMap<K, u64>, String> {
    m.iter().map(|(k, v)| count(*v, what).map(|v| (*k, v))).collect()
}

impl EndpointStats {
    /// As plain data.
    pub fn snapshot(&self) -> EndpointSnapshot {
        EndpointSnapshot {
            hits: self.hits,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            consumers: self.consumers.snapshot(),
            clients: self.clients.snapshot(),
            status: self.status.clone(),
            latency_us: self
                .latency
                .as_ref()
                .map(|h| h.iter_recorded().map(|v| (v.value_iterated_to(), u64::from(v.count_at_value()))).collect()),
            request_types: self.request_types.clone(),
            response_types: self.response_types.clone(),
            auth: self.auth.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            query_params: self.query_params.clone(),
            request_shape: self.request_shape.clone(),
            response_shape: self.response_shape.clone(),
            request_sensitive: self.request_sensitive.clone(),
            response_sensitive: self.response_sensitive.clone(),
            sensitive_unauthenticated: self.sensitive_unauthenticated,
            deprecation_signals: self.deprecation_signals,
            decrypted: self.decrypted,
            request_sampler: self.request_sampling.state.clone(),
            response_sampler: self.response_sampling.state.clone(),
        }
    }

    /// From plain data, checked and cut to `bounds` (values beyond a bound are counted as
    /// dropped, as if the bound had applied when they arrived). Returns the statistics and
    /// how many values were cut. Errors name the field.
    pub(super) fn restore(s: EndpointSnapshot, bounds: StatBounds) -> Result<(EndpointStats, u64), String> {
        for (v, what) in [
            (s.hits, "hits"),
            (s.sensitive_unauthenticated, "sensitive_unauthenticated"),
            (s.deprecation_signals, "deprecation_signals"),
            (s.decrypted, "decrypted"),
        ] {
            count(v, what)?;
        }
        if s.decrypted > s.hits {
            return Err(format!("decrypted: {} requests, more than its {} hits", s.decrypted, s.hits));
        }
        let latency = match s.latency_us {
            None => None,
            Some(buckets) => {
                if buckets.len() > MAX_LATENCY_BUCKETS {
                    return Err(format!("latency: {} histogram buckets, more than {MAX_LATENCY_BUCKETS}", buckets.len()));
                }
                let mut h = Histogram::<u32>::new_with_bounds(LATENCY_MIN_MICROS, LATENCY_MAX_MICROS, 2)
                    .map_err(|e| format!("latency: {e}"))?;
                for (value, n) in buckets {
                    let n = u32::try_from(n).map_err(|_| format!("latency: a count of {n} at {value} µs, above 2^32"))?;
                    h.record_n(value, n).map_err(|_| format!("latency: a value of {value} µs, outside 10 µs to 10 min"))?;
                }
                Some(h)
            }
        };
        let mut auth = BTreeMap::new();
        for (name, n) in &s.auth {
            let kind = AuthKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| format!("auth: unknown kind `{name}` (known: none, basic, bearer, api_key, other)"))?;
            auth.insert(kind.name(), count(*n, "auth")?);
        }
        let (request_types, c1) = bounded(s.request_types, bounds.content_types, MAX_SNAPSHOT_TEXT, "request content types")?;
        let (response_types, c2) = bounded(s.response_types, bounds.content_types, MAX_SNAPSHOT_TEXT, "response content types")?;
        let (query_params, c3) = bounded(s.query_params, bounds.query_params, bounds.param_name_len, "query parameters")?;
        let (request_shape, c4) = shape(s.request_shape, bounds.shape_fields, "request body shape")?;
        let (response_shape, c5) = shape(s.response_shape, bounds.shape_fields, "response body shape")?;
        let stats = EndpointStats {
            hits: s.hits,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            consumers: Distinct::restore(s.consumers).map_err(|e| format!("consumers: {e}"))?,
            clients: Distinct::restore(s.clients).map_err(|e| format!("clients: {e}"))?,
            status: counts_map(&s.status, "status")?,
            latency,
            request_types,
            response_types,
            auth,
            query_params,
            request_shape,
            response_shape,
            request_sensitive: counts_map(&s.request_sensitive, "request_sensitive")?,
            response_sensitive: counts_map(&s.response_sensitive, "response_sensitive")?,
            sensitive_unauthenticated: s.sensitive_unauthenticated,
            deprecation_signals: s.deprecation_signals,
            decrypted: s.decrypted,
            request_sampling: Sampling::restore(sampler(s.request_sampler, "request_sampler")?),
            response_sampling: Sampling::restore(sampler(s.response_sampler, "response_sampler")?),
        };
        Ok((stats, c1 + c2 + c3 + c4 + c5))
    }
}

impl NotFound {
    /// As plain data.
    pub(super) fn snapshot(&self) -> NotFoundSnapshot {
        let mut paths: Vec<u64> = self.paths.iter().copied().collect();
        paths.sort_unstable();
        NotFoundSnapshot { requests: self.requests, unanswered: self.unanswered, paths, paths_dropped: self.paths_dropped }
    }

    /// From plain data, keeping at most `max_paths` digests (the rest counted as dropped).
    pub(super) fn restore(s: NotFoundSnapshot, max_paths: usize) -> Result<NotFound, String> {
        let mut nf = NotFound {
            requests: count(s.requests, "not_found.requests")?,
            unanswered: count(s.unanswered, "not_found.unanswered")?,
            paths: Default::default(),
            paths_dropped: count(s.paths_dropped, "not_found.paths_dropped")?,
        };
        for p in s.paths {
            if nf.paths.len() < max_paths {
                nf.paths.insert(p);
            } else if !nf.paths.contains(&p) {
                nf.paths_dropped = nf.paths_dropped.saturating_add(1);
            }
        }
        Ok(nf)
    }
}

/// TLS facts, checked and cut to `max_values` per list.
pub(super) fn tls(t: TlsFacts, max_values: usize) -> Result<(TlsFacts, u64), String> {
    let b = |c: BoundedCounts, what: &str| bounded(c, max_values, MAX_SNAPSHOT_TEXT, what);
    let (client_versions, a) = b(t.client_versions, "tls.client_versions")?;
    let (server_versions, c) = b(t.server_versions, "tls.server_versions")?;
    let (alpn, d) = b(t.alpn, "tls.alpn")?;
    let (ja4, e) = b(t.ja4, "tls.ja4")?;
    let (ja4s, f) = b(t.ja4s, "tls.ja4s")?;
    let (server_suites, g) = b(t.server_suites, "tls.server_suites")?;
    let (findings, h) = b(t.findings, "tls.findings")?;
    let (certificates, i) = b(t.certificates, "tls.certificates")?;
    let facts = TlsFacts {
        sessions: count(t.sessions, "tls.sessions")?,
        client_versions,
        server_versions,
        alpn,
        ja4,
        ja4s,
        decrypted_sessions: count(t.decrypted_sessions, "tls.decrypted_sessions")?,
        server_suites,
        findings,
        certificates,
    };
    Ok((facts, a + c + d + e + f + g + h + i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> StatBounds {
        StatBounds { content_types: 2, query_params: 2, param_name_len: 8, shape_fields: 1 }
    }

    #[test]
    fn latency_round_trips_losslessly() {
        let mut s = EndpointStats::new(5);
        for ms in [0.001, 0.5, 3.0, 12.0, 12.1, 250.0, 9_000.0, 700_000.0] {
            s.latency_ms(ms);
        }
        let json = serde_json::to_string(&s.snapshot()).unwrap();
        let (back, cut) = EndpointStats::restore(serde_json::from_str(&json).unwrap(), bounds()).unwrap();
        assert_eq!(cut, 0);
        let (a, b) = (s.latency.as_ref().unwrap(), back.latency.as_ref().unwrap());
        assert_eq!(a.len(), b.len());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "q {q}");
        }
        assert_eq!(a.max(), b.max());
        assert_eq!(s.latency_percentiles(), back.latency_percentiles());
    }

    #[test]
    fn garbage_is_refused_and_excess_is_cut() {
        let bad = |f: fn(&mut EndpointSnapshot)| {
            let mut s = EndpointStats::new(1).snapshot();
            f(&mut s);
            EndpointStats::restore(s, bounds()).unwrap_err()
        };
        assert!(bad(|s| s.latency_us = Some(vec![(u64::MAX, 1)])).contains("latency"));
        assert!(bad(|s| s.latency_us = Some(vec![(100, u64::from(u32::MAX) + 1)])).contains("latency"));
        assert!(bad(|s| s.hits = u64::MAX).contains("hits"));
        assert!(bad(|s| {
            s.auth.insert("kerberos".into(), 1);
        })
        .contains("kerberos"));
        assert!(bad(|s| s.consumers = DistinctSnapshot::Sketch("00".into())).contains("consumers"));
        let mut s = EndpointStats::new(1).snapshot();
        for (i, ct) in ["a/a", "b/b", "c/c"].iter().enumerate() {
            s.response_types.counts.insert((*ct).to_string(), i as u64 + 1);
        }
        s.query_params.counts.insert("averyveryverylongname".into(), 4);
        let (st, cut) = EndpointStats::restore(s, bounds()).unwrap();
        assert_eq!(st.response_types.counts.len(), 2);
        assert_eq!(st.response_types.dropped, 3);
        assert_eq!(st.query_params.dropped, 4);
        assert_eq!(cut, 2);
    }
}
