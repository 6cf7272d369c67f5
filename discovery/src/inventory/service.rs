//! One service's part of the inventory: its endpoints (documented and inferred), the
//! templater for its undocumented paths, and its counters.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use super::observe::TlsObservation;
use super::scope::Category;
use super::stats::{BoundedCounts, EndpointStats, MergeLimits};
use super::traffic::Traffic;
use crate::specmatch::MatchTarget;
use crate::template::{PathTemplater, Template, TemplateConfig};

/// Server addresses listed per service.
pub const MAX_SERVERS_PER_SERVICE: usize = 8;

/// A documented (spec-matched or operator-templated) endpoint.
#[derive(Clone, Debug)]
pub struct Documented {
    /// What it matched.
    pub target: MatchTarget,
    /// Matched under the base path of this superseded spec, to an operation only another
    /// spec documents.
    pub under_superseded: Option<usize>,
    /// Matched only with the spec's base path left out.
    pub without_base_path: bool,
    /// Its statistics.
    pub stats: EndpointStats,
}

/// An endpoint inferred from traffic.
#[derive(Clone, Debug)]
pub struct Inferred {
    /// Its template as of the last refinement.
    pub template: Template,
    /// Its statistics.
    pub stats: EndpointStats,
}

/// 404 answers, and requests never answered, on paths that belong to no known endpoint
/// (scanners, typos, dead links).
#[derive(Clone, Debug, Default)]
pub struct NotFound {
    /// Such requests (404s and requests without an answer).
    pub requests: u64,
    /// Of those, requests without an answer.
    pub unanswered: u64,
    /// Digests of their distinct paths (bounded).
    pub paths: HashSet<u64>,
    /// Distinct paths not remembered because the bound was reached (an undercount of
    /// distinct paths, never of requests).
    pub paths_dropped: u64,
}

/// TLS facts of a service seen encrypted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsFacts {
    /// TLS sessions (ClientHellos) seen.
    pub sessions: u64,
    /// Client versions offered (highest), by name.
    pub client_versions: BoundedCounts,
    /// Server-chosen versions, by name.
    pub server_versions: BoundedCounts,
    /// ALPN protocols offered.
    pub alpn: BoundedCounts,
    /// JA4 fingerprints.
    pub ja4: BoundedCounts,
    /// JA4S fingerprints.
    pub ja4s: BoundedCounts,
    /// Sessions decrypted with a key log (the others were metadata only).
    #[serde(default)]
    pub decrypted_sessions: u64,
    /// Cipher suites servers chose (`0xc02f`).
    #[serde(default)]
    pub server_suites: BoundedCounts,
    /// Posture findings ([`crate::posture::Finding`] names), by sessions.
    #[serde(default)]
    pub findings: BoundedCounts,
    /// Leaf certificates servers sent in the clear, one line each (subject, issuer, end of
    /// validity), by sessions.
    #[serde(default)]
    pub certificates: BoundedCounts,
}

/// One service (a Host, an SNI, or a server address).
#[derive(Debug)]
pub struct Service {
    /// Requests seen (all categories, 404s, overflow).
    pub requests: u64,
    /// Of those, requests read from decrypted TLS.
    pub decrypted_requests: u64,
    /// Packet time of the first and last request or TLS hello.
    pub first_seen: u64,
    /// See `first_seen`.
    pub last_seen: u64,
    /// Server addresses that answered for it, at most [`MAX_SERVERS_PER_SERVICE`].
    pub servers: Vec<SocketAddr>,
    /// Templater for undocumented paths.
    pub templater: PathTemplater,
    /// Templater generation the inferred keys were last refined at.
    pub generation: u64,
    /// Documented endpoints keyed by (method, template).
    pub documented: HashMap<(String, String), Documented>,
    /// Inferred endpoints keyed by (method, template text).
    pub inferred: HashMap<(String, String), Inferred>,
    /// Non-API endpoints keyed by (method, path, category).
    pub other: HashMap<(String, String, Category), EndpointStats>,
    /// Requests by non-API category (all of them, also past the endpoint bound).
    pub other_requests: BTreeMap<Category, u64>,
    /// Requests not counted on an endpoint because `max_endpoints_per_service` was reached.
    pub overflow_requests: u64,
    /// Distinct templates refused at that bound (approximate: counted once per refusal of a
    /// new key, so repeats of one path count again).
    pub overflow_paths: u64,
    /// 404-only traffic.
    pub not_found: NotFound,
    /// Requests whose path had more segments than considered.
    pub deep_paths: u64,
    /// TLS facts, when the service was seen encrypted.
    pub tls: Option<TlsFacts>,
    /// Requests, errors and response bytes per hour.
    pub traffic: Traffic,
    /// GraphQL operations by the path that carried them, at most
    /// [`super::MAX_GRAPHQL_PATHS_PER_SERVICE`] paths.
    pub graphql: BTreeMap<String, super::GraphqlEndpoint>,
}

impl Service {
    /// A service first seen at `ts`.
    pub fn new(ts: u64, templates: TemplateConfig) -> Self {
        Service {
            requests: 0,
            decrypted_requests: 0,
            first_seen: ts,
            last_seen: ts,
            servers: Vec::new(),
            templater: PathTemplater::new(templates),
            generation: 0,
            documented: HashMap::new(),
            inferred: HashMap::new(),
            other: HashMap::new(),
            other_requests: BTreeMap::new(),
            overflow_requests: 0,
            overflow_paths: 0,
            not_found: NotFound::default(),
            deep_paths: 0,
            tls: None,
            traffic: Traffic::default(),
            graphql: BTreeMap::new(),
        }
    }

    /// Remembers a server address, up to [`MAX_SERVERS_PER_SERVICE`].
    pub fn add_server(&mut self, server: SocketAddr) {
        if self.servers.len() < MAX_SERVERS_PER_SERVICE && !self.servers.contains(&server) {
            self.servers.push(server);
        }
    }

    /// Notes activity at `ts`.
    pub fn touch(&mut self, ts: u64) {
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
    }

    /// Re-keys the inferred endpoints after positions turned into parameters, merging those
    /// that now share a template.
    pub fn refine(&mut self, limits: &MergeLimits) {
        let generation = self.templater.generation();
        if generation == self.generation {
            return;
        }
        self.generation = generation;
        let old = std::mem::take(&mut self.inferred);
        for ((method, _), ep) in old {
            let template = self.templater.refine(&ep.template);
            let key = (method, template.to_string());
            match self.inferred.get_mut(&key) {
                Some(existing) => existing.stats.merge(&ep.stats, limits),
                None => {
                    self.inferred.insert(key, Inferred { template, stats: ep.stats });
                }
            }
        }
    }

    /// Records a TLS hello.
    pub fn tls_hello(&mut self, tls: &TlsObservation<'_>, max_values: usize) {
        let facts = self.tls.get_or_insert_with(TlsFacts::default);
        facts.sessions += 1;
        facts.client_versions.add(tls.client_version, 1, max_values);
        if let Some(v) = tls.server_version {
            facts.server_versions.add(v, 1, max_values);
        }
        for a in tls.alpn.iter().take(max_values) {
            facts.alpn.add(a, 1, max_values);
        }
        facts.ja4.add(tls.ja4, 1, max_values);
        if let Some(s) = tls.ja4s {
            facts.ja4s.add(s, 1, max_values);
        }
        facts.decrypted_sessions += u64::from(tls.decrypted);
        if let Some(s) = tls.server_suite {
            facts.server_suites.add(&format!("0x{s:04x}"), 1, max_values);
        }
        for f in tls.findings {
            facts.findings.add(f.name(), 1, max_values);
        }
        if let Some(leaf) = tls.leaf {
            let until = u64::try_from(leaf.not_after).map_or_else(|_| leaf.not_after.to_string(), |s| super::rfc3339(s.saturating_mul(1_000_000_000)));
            facts.certificates.add(&format!("{} (issuer {}, valid until {until})", leaf.subject, leaf.issuer), 1, max_values);
        }
    }
}
