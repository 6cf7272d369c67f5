//! The endpoint inventory: observations in, classified endpoints out.
//!
//! Every HTTP transaction becomes an [`Observation`]. Its service is the `Host` header (else
//! the server address; TLS sessions use the SNI). Its path is matched against the loaded
//! specs and the operator's templates ([`crate::specmatch`]); a match names the endpoint by the
//! documented template. Traffic no spec covers is sorted by [`scope`]: static assets, HTML
//! pages, health checks and OCSP are counted apart, API calls are templated by the service's
//! [`PathTemplater`](crate::template::PathTemplater) and become inferred endpoints. A 404 on a
//! path that belongs to no known endpoint is counted as scanner noise, not as an endpoint.
//!
//! Endpoint statistics (hits, consumers, status mix, latency, content types, auth kinds,
//! query parameter names, JSON shapes, sensitive-data tags) are bounded per endpoint; services
//! and inferred endpoints per service are bounded too, with the overflow counted.
//! [`Inventory::report`] classifies: `documented`, `shadow`, `zombie`, `orphan`.
//!
//! Each service also keeps its requests, errors and response bytes per UTC hour of packet time
//! for the last [`InventoryConfig::traffic_hours`] hours ([`Traffic`]).
//!
//! [`Inventory::snapshot`] and [`Inventory::restore`] carry the whole state across a restart
//! or a reload of the specs ([`InventorySnapshot`]; rules in docs/inventory.md,
//! "Persistence").
//!
//! GraphQL requests (on any path, found by their content: [`crate::graphql`]) are counted
//! on their HTTP endpoint as any request, and their operations in a map of their own per
//! service and path ([`GraphqlEndpoint`]), listed in the report's `graphql_operations`.
//!
//! Not supported: GraphQL operations matched against a GraphQL schema; consumers beyond a credential
//! or address digest (the behavioural layer names them); removal of endpoints that stop
//! being used (the report lists first and last seen instead).

mod changes;
mod config;
mod distinct;
mod graphql;
mod graphql_persist;
mod graphql_report;
mod observe;
mod observed;
mod openapi_out;
mod persist;
mod report;
mod resolve;
mod sampling;
mod scope;
mod service;
mod snapshot;
mod stats;
mod time;
mod traffic;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

pub use changes::{
    endpoint_key, parse_rfc3339, ChangeConfig, ChangeKind, ChangeStats, ChangeTracker, ChangeTrackerSnapshot, EndpointChange, TrackedSnapshot,
    CHANGE_SNAPSHOT_FORMAT, UPDATE_REASONS,
};
pub use config::{service_matches, Accepted, InventoryConfig, ScopeConfig, DEFAULT_HEALTH_PATHS, DEFAULT_STATIC_EXTENSIONS};
pub use distinct::{Distinct, DistinctSnapshot};
pub use graphql_persist::{GraphqlOperationSnapshot, GraphqlPathSnapshot};
pub use graphql::{
    default_internal_networks, operation_path, GraphqlEndpoint, OperationStats, GRAPHQL_METHOD, MAX_GRAPHQL_PATHS_PER_SERVICE,
    MAX_INTROSPECTION_NETWORKS,
};
pub use observe::{media_type, query_names, segments, service_name, split_target, AuthKind, Observation, TlsObservation, Visibility};
pub use report::*;
pub use scope::Category;
pub use stats::{BoundedCounts, EndpointStats, MergeLimits, Shape};
pub use observed::{Landing, Observed};
pub use openapi_out::reconstruct;
pub use persist::{RestoreReport, MAX_SNAPSHOT_OPERATIONS};
pub use sampling::{picked, BodyInput, BodySampler, PreparedBodies, Sampling, SamplingConfig, MAX_SAMPLED_MEDIA};
pub use snapshot::{
    DocumentedSnapshot, EndpointSnapshot, InferredSnapshot, InventorySnapshot, NotFoundSnapshot, OtherSnapshot, RouteId,
    ServiceSnapshot, SpecId, SpecSnapshot, SpecUseSnapshot, TargetSnapshot, MAX_SNAPSHOT_COUNT, MAX_SNAPSHOT_TEXT, SNAPSHOT_FORMAT,
};
pub use time::rfc3339;
pub use traffic::{HourTraffic, Traffic, TrafficReport, NS_PER_HOUR};

use crate::specmatch::{MatchTarget, SpecSet};
pub use service::TlsFacts;
use service::{Documented, Inferred, Service};

/// Inventory-wide counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InventoryStats {
    /// Transactions observed.
    pub transactions: u64,
    /// Transactions without a request (a response alone): not attributable to an endpoint.
    pub without_request: u64,
    /// Requests for hosts or ports outside the configured scope.
    pub out_of_scope: u64,
    /// Requests and TLS sessions not tracked because `max_services` was reached.
    pub services_overflow: u64,
    /// TLS sessions observed.
    pub tls_sessions: u64,
    /// Methods that were not a plausible token (counted as `OTHER`).
    pub odd_methods: u64,
    /// Bodies (requests and responses) given the full analysis: shape and sensitive data.
    #[serde(default)]
    pub bodies_analysed: u64,
    /// Bodies only skimmed (object ids, a check for anything new) because their endpoint's
    /// bodies were known and the transaction was not in the sample ([`SamplingConfig`]).
    #[serde(default)]
    pub bodies_sampled_out: u64,
    /// GraphQL requests found (a batch counts once), on any path.
    #[serde(default)]
    pub graphql_requests: u64,
    /// GraphQL requests longer than the extractor scans (`graphql::MAX_SCAN_BYTES`).
    #[serde(default)]
    pub graphql_body_limit: u64,
    /// GraphQL documents nested deeper than the extractor follows.
    #[serde(default)]
    pub graphql_depth_limit: u64,
    /// GraphQL operations with more top-level fields (or documents with more operations)
    /// than kept.
    #[serde(default)]
    pub graphql_field_limit: u64,
    /// GraphQL names longer than kept (left out).
    #[serde(default)]
    pub graphql_name_limit: u64,
    /// GraphQL batches longer than analysed.
    #[serde(default)]
    pub graphql_batch_limit: u64,
    /// GraphQL requests not counted on an operation because `max_graphql_operations` was
    /// reached on their path.
    #[serde(default)]
    pub graphql_operations_overflow: u64,
    /// GraphQL requests on a path past `MAX_GRAPHQL_PATHS_PER_SERVICE`.
    #[serde(default)]
    pub graphql_paths_overflow: u64,
}

/// Per-spec use of its base path, to tell whether the base path ever appears in traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpecUse {
    /// Requests that matched with the base path.
    pub with_base_path: u64,
    /// Requests that matched only with the base path left out.
    pub without_base_path: u64,
}

/// The endpoint inventory of one sensor.
pub struct Inventory {
    cfg: InventoryConfig,
    specs: SpecSet,
    services: HashMap<String, Service>,
    spec_use: HashMap<usize, SpecUse>,
    stats: InventoryStats,
    /// API endpoints held over all services (for `max_endpoints_total`).
    endpoints_total: usize,
    /// GraphQL operations held over all services (for `max_graphql_operations_total`).
    graphql_total: usize,
}

/// Longest method kept as sent; longer or odd ones count as `OTHER`.
const MAX_METHOD_LEN: usize = 16;

fn normalize_method(m: &str) -> Option<String> {
    (!m.is_empty() && m.len() <= MAX_METHOD_LEN && m.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_'))
        .then(|| m.to_ascii_uppercase())
}

/// The service named `name`, created if `max_services` allows.
fn service<'a>(
    services: &'a mut HashMap<String, Service>,
    cfg: &InventoryConfig,
    stats: &mut InventoryStats,
    name: &str,
    ts: u64,
) -> Option<&'a mut Service> {
    if !services.contains_key(name) {
        if services.len() >= cfg.max_services {
            stats.services_overflow += 1;
            return None;
        }
        services.insert(name.to_string(), Service::new(ts, cfg.templates.clone()));
    }
    services.get_mut(name)
}

fn digest<T: Hash>(v: T) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

impl Inventory {
    /// An empty inventory matching against `specs`.
    pub fn new(cfg: InventoryConfig, specs: SpecSet) -> Self {
        Inventory { cfg, specs, services: HashMap::new(), spec_use: HashMap::new(), stats: InventoryStats::default(), endpoints_total: 0, graphql_total: 0 }
    }

    /// The configuration in use.
    pub fn config(&self) -> &InventoryConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> &InventoryStats {
        &self.stats
    }

    fn merge_limits(&self) -> MergeLimits {
        MergeLimits {
            content_types: self.cfg.max_content_types,
            query_params: self.cfg.max_query_params,
            shape_fields: self.cfg.max_shape_fields,
        }
    }

    /// Adds one transaction and says where it landed. The service's hourly traffic counts
    /// the captured response body's length as its bytes (a lower bound when the capture was
    /// cut): use [`Inventory::observe_sized`] when the full length is known.
    pub fn observe(&mut self, obs: &Observation<'_>) -> Observed {
        self.observe_sized(obs, None)
    }

    /// [`Inventory::observe`] with the response body's full length as sent (`None`: the
    /// captured length), for the service's hourly traffic.
    pub fn observe_sized(&mut self, obs: &Observation<'_>, response_bytes: Option<u64>) -> Observed {
        self.observe_prepared(obs, response_bytes, None)
    }

    /// [`Inventory::observe_sized`] with the bodies' facts already computed by
    /// [`PreparedBodies::compute`] under this inventory's configuration (on another thread):
    /// the result is the same as computing them here. `None` computes them here.
    pub fn observe_prepared(&mut self, obs: &Observation<'_>, response_bytes: Option<u64>, prepared: Option<PreparedBodies>) -> Observed {
        self.stats.transactions += 1;
        let Some(raw_method) = obs.method else {
            self.stats.without_request += 1;
            return Observed::new(String::new(), String::new(), Landing::NoRequest);
        };
        let method = normalize_method(raw_method).unwrap_or_else(|| {
            self.stats.odd_methods += 1;
            "OTHER".to_string()
        });
        let name = service_name(obs.host, obs.server);
        if !scope::in_scope(&self.cfg.scope, &name, obs.server.port()) {
            self.stats.out_of_scope += 1;
            return Observed::new(name, method, Landing::OutOfScope);
        }
        let (path, query) = split_target(obs.uri.unwrap_or("/"));
        let (matched, superseded_by_path) = match self.specs.match_request(&name, &method, path) {
            Some(m) => (Some(m), None),
            None => match self.specs.match_under_superseded(&name, &method, path) {
                Some((m, spec)) => (Some(m), Some(spec)),
                None => (None, None),
            },
        };
        let limits = self.merge_limits();
        let max_path_segments = self.cfg.max_path_segments;
        let max_endpoints = self.cfg.max_endpoints_per_service;
        let max_other = self.cfg.max_other_endpoints_per_service;
        let max_not_found = self.cfg.max_not_found_paths;
        if let Some(m) = matched.as_ref().filter(|_| superseded_by_path.is_none()) {
            if let MatchTarget::Operation { spec, .. } = m.target {
                let u = self.spec_use.entry(spec).or_default();
                if m.without_base_path {
                    u.without_base_path += 1;
                } else {
                    u.with_base_path += 1;
                }
            }
        }
        let cfg = &self.cfg;
        let mut out = Observed::new(name, method.clone(), Landing::Overflow);
        let Some(svc) = service(&mut self.services, cfg, &mut self.stats, &out.service, obs.ts) else { return out };
        svc.requests += 1;
        if obs.visibility == Visibility::Decrypted {
            svc.decrypted_requests += 1;
        }
        let bytes = response_bytes.unwrap_or(u64::try_from(obs.response_body.len()).unwrap_or(u64::MAX));
        svc.traffic.add(obs.ts, obs.status, bytes, cfg.traffic_hours);
        svc.touch(obs.ts);
        svc.add_server(obs.server);
        if let Some(found) = crate::graphql::extract(query, obs.request_content_type, obs.request_body, &crate::graphql::GraphqlLimits::default()) {
            let client = digest(obs.client);
            let ctx = graphql::Context {
                max_paths: graphql::MAX_GRAPHQL_PATHS_PER_SERVICE,
                max_operations: cfg.max_graphql_operations,
                max_total: cfg.max_graphql_operations_total,
                internal_networks: &cfg.internal_networks,
                consumer: obs.consumer.unwrap_or(client),
                client,
                method: &method,
            };
            graphql::observe(&mut svc.graphql, path, &found, obs, &ctx, &mut self.graphql_total, &mut self.stats);
        }
        let total_cap = cfg.max_endpoints_total;
        let stats: &mut EndpointStats = if let Some(m) = matched {
            let key = (method, m.template.clone());
            if !svc.documented.contains_key(&key) && self.endpoints_total >= total_cap {
                svc.overflow_requests += 1;
                return out;
            }
            if !svc.documented.contains_key(&key) {
                self.endpoints_total += 1;
            }
            let d = svc.documented.entry(key).or_insert_with(|| Documented {
                target: m.target,
                under_superseded: superseded_by_path,
                without_base_path: m.without_base_path,
                stats: EndpointStats::new(obs.ts),
            });
            let seen = |spec: usize| self.spec_use.get(&spec).is_some_and(|u| u.with_base_path > 0);
            let class = report::documented_class(&self.specs, d, seen).class;
            let class = if obs.deprecation_signalled { Classification::Zombie } else { class };
            out.landing = Landing::Endpoint { class, accepted: false };
            if let MatchTarget::Operation { spec, .. } = m.target {
                out.api = self.specs.specs().get(spec).map(|b| format!("{} {}", b.spec.title, b.spec.version));
            }
            out.template = Some(m.template);
            &mut d.stats
        } else {
            let (segs, deep) = segments(path, max_path_segments);
            if deep {
                svc.deep_paths += 1;
            }
            let category = scope::categorize(&cfg.scope, &segs, obs.request_content_type, obs.response_content_type);
            if category != Category::Api {
                out.landing = Landing::Other(category);
                *svc.other_requests.entry(category).or_default() += 1;
                let key = (method, format!("/{}", segs.join("/")), category);
                if !svc.other.contains_key(&key) && svc.other.len() >= max_other {
                    return out;
                }
                let st = svc.other.entry(key).or_insert_with(|| EndpointStats::new(obs.ts));
                st.hit(obs.ts);
                if let Some(code) = obs.status {
                    *st.status.entry(code).or_default() += 1;
                }
                if obs.visibility == Visibility::Decrypted {
                    st.decrypted += 1;
                }
                return out;
            }
            if matches!(obs.status, None | Some(0) | Some(404)) {
                // Neither a 404 nor a request without a status line (none, or HTTP/0.9) shows
                // that an endpoint exists:
                // they count on an endpoint already known from answered traffic, else as
                // scanner noise.
                let t = svc.templater.template_of(&segs);
                let key = (method, t.to_string());
                match svc.inferred.get_mut(&key) {
                    Some(ep) => {
                        out.landing = inferred_landing(cfg, &out.service, &key.0, &key.1, &ep.stats, obs);
                        out.template = Some(key.1);
                        &mut ep.stats
                    }
                    None => {
                        out.landing = Landing::NotFound;
                        let nf = &mut svc.not_found;
                        if matches!(obs.status, None | Some(0)) {
                            nf.unanswered += 1;
                        }
                        nf.requests += 1;
                        let d = digest(path);
                        if nf.paths.len() < max_not_found {
                            nf.paths.insert(d);
                        } else if !nf.paths.contains(&d) {
                            nf.paths_dropped += 1;
                        }
                        return out;
                    }
                }
            } else {
                let t = svc.templater.observe(&segs);
                let before = svc.inferred.len();
                svc.refine(&limits);
                self.endpoints_total = self.endpoints_total.saturating_sub(before - svc.inferred.len());
                let t = svc.templater.refine(&t);
                let key = (method, t.to_string());
                if !svc.inferred.contains_key(&key) {
                    if svc.inferred.len() >= max_endpoints || self.endpoints_total >= total_cap {
                        svc.overflow_requests += 1;
                        svc.overflow_paths += 1;
                        return out;
                    }
                    self.endpoints_total += 1;
                }
                let ep = svc.inferred.entry(key.clone()).or_insert_with(|| Inferred { template: t, stats: EndpointStats::new(obs.ts) });
                out.landing = inferred_landing(cfg, &out.service, &key.0, &key.1, &ep.stats, obs);
                out.template = Some(key.1);
                &mut ep.stats
            }
        };
        if let Some(taken) = account(stats, obs, query, cfg, &limits, prepared, &mut self.stats) {
            out.response_sensitive = taken.sensitive;
            out.response_ids = taken.object_ids;
        }
        out
    }

    /// Adds one TLS session's hello facts: the service (SNI, else server address) appears in
    /// the inventory as not inspectable until requests are read from it. The SNI is named
    /// with the server's port unless it is 443, as the `Host` header of the requests inside
    /// names it (`api.bank.example:8443`), so that decrypted requests and their session's
    /// facts are one service.
    pub fn observe_tls(&mut self, tls: &TlsObservation<'_>) {
        self.stats.tls_sessions += 1;
        let host = tls.sni.map(|sni| format!("{sni}:{}", tls.server.port()));
        let name = service_name(host.as_deref(), tls.server);
        let max_values = self.cfg.max_tls_values;
        let Some(svc) = service(&mut self.services, &self.cfg, &mut self.stats, &name, tls.ts) else { return };
        svc.touch(tls.ts);
        svc.add_server(tls.server);
        svc.tls_hello(tls, max_values);
    }

    /// Builds the report of everything seen so far.
    pub fn report(&mut self) -> InventoryReport {
        let limits = self.merge_limits();
        for svc in self.services.values_mut() {
            let before = svc.inferred.len();
            svc.refine(&limits);
            // Endpoints merged by the refinement free their place under `max_endpoints_total`.
            self.endpoints_total = self.endpoints_total.saturating_sub(before - svc.inferred.len());
        }
        report::build(&self.cfg, &self.specs, &self.services, &self.spec_use, &self.stats)
    }
}

/// The landing of a request counted on an inferred endpoint: shadow (accepted or not), or
/// zombie when the server signals deprecation.
fn inferred_landing(cfg: &InventoryConfig, service: &str, method: &str, template: &str, stats: &EndpointStats, obs: &Observation<'_>) -> Landing {
    if obs.deprecation_signalled || stats.deprecation_signals > 0 {
        return Landing::Endpoint { class: Classification::Zombie, accepted: false };
    }
    Landing::Endpoint { class: Classification::Shadow, accepted: report::accepted_for(cfg, service, method, template).is_some() }
}

/// Counts one transaction on an endpoint; says what became of the response body when it had
/// one.
fn account(
    stats: &mut EndpointStats,
    obs: &Observation<'_>,
    query: &str,
    cfg: &InventoryConfig,
    limits: &MergeLimits,
    prepared: Option<PreparedBodies>,
    counters: &mut InventoryStats,
) -> Option<sampling::Taken> {
    let (pre_request, pre_response) = sampling::split(prepared);
    let picked = sampling::picked(&cfg.sampling, obs.ts);
    stats.hit(obs.ts);
    let client = digest(obs.client);
    stats.clients.insert(client);
    stats.consumers.insert(obs.consumer.unwrap_or(client));
    *stats.status.entry(obs.status.unwrap_or(0)).or_default() += 1;
    if let Some(ms) = obs.latency_ms {
        stats.latency_ms(ms);
    }
    if let Some(ct) = obs.request_content_type {
        stats.request_types.add(&media_type(ct), 1, limits.content_types);
    }
    if let Some(ct) = obs.response_content_type {
        stats.response_types.add(&media_type(ct), 1, limits.content_types);
    }
    *stats.auth.entry(obs.auth.name()).or_default() += 1;
    let mut seen = 0usize;
    for name in query_names(query) {
        seen += 1;
        if seen > limits.query_params * 4 {
            break;
        }
        if name.len() <= cfg.max_param_name_len {
            stats.query_params.add(name, 1, limits.query_params);
        } else {
            stats.query_params.dropped += 1;
        }
    }
    if !obs.request_body.is_empty() {
        let side = sampling::Side { shape: &mut stats.request_shape, sensitive: &mut stats.request_sensitive, sampling: &mut stats.request_sampling };
        let body = sampling::Body {
            content_type: obs.request_content_type,
            bytes: obs.request_body,
            limits: sampling::request_limits(cfg),
            picked,
            forced: false,
            prepared: pre_request,
        };
        sampling::take(cfg, side, body, counters);
    }
    let mut response = None;
    if !obs.response_body.is_empty() {
        let success = obs.status.is_some_and(|s| (200..300).contains(&s));
        let side =
            sampling::Side { shape: &mut stats.response_shape, sensitive: &mut stats.response_sensitive, sampling: &mut stats.response_sampling };
        let body = sampling::Body {
            content_type: obs.response_content_type,
            bytes: obs.response_body,
            limits: sampling::response_limits(cfg),
            picked,
            forced: sampling::forced_response(obs.auth, obs.status),
            prepared: pre_response,
        };
        let taken = sampling::take(cfg, side, body, counters);
        if success && obs.auth == AuthKind::None && taken.sensitive > 0 {
            stats.sensitive_unauthenticated += 1;
        }
        response = Some(taken);
    }
    if obs.deprecation_signalled {
        stats.deprecation_signals += 1;
    }
    if obs.visibility == Visibility::Decrypted {
        stats.decrypted += 1;
    }
    response
}
