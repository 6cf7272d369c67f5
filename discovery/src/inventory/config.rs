//! What the inventory is told by the operator: scope, limits, accepted shadow endpoints.

use super::SamplingConfig;
use crate::content::ContentLimits;
use crate::template::TemplateConfig;

/// Every limit of the inventory, with the scope and the operator's decisions.
#[derive(Clone, Debug)]
pub struct InventoryConfig {
    /// Which traffic is API traffic.
    pub scope: ScopeConfig,
    /// Limits of path templating, per service.
    pub templates: TemplateConfig,
    /// Limits of body analysis.
    pub content: ContentLimits,
    /// Which bodies get the full analysis once an endpoint's bodies are known (see
    /// `SamplingConfig` for the defaults and what sampling keeps).
    pub sampling: SamplingConfig,
    /// Services (hosts) tracked; requests for further services are counted in
    /// `services_overflow` only. The Host header is chosen by the client, so a scanner sending
    /// random hosts must not grow the inventory. Default 2,000.
    pub max_services: usize,
    /// Inferred (undocumented) endpoints per service; past it requests are counted in the
    /// service's `overflow_requests`. Documented endpoints are bounded by the specs and do not
    /// count. Default 2,000.
    pub max_endpoints_per_service: usize,
    /// API endpoints (documented and inferred) over all services; past it requests for new
    /// endpoints are counted in their service's `overflow_requests`. Each endpoint holds up to
    /// about 16 KiB (latency histogram, shapes, counters), so the default bounds the
    /// inventory near 320 MiB under a scanner that gets answers. Default 20,000.
    pub max_endpoints_total: usize,
    /// Unmatched non-API endpoints (static assets, pages, health checks, OCSP) per service;
    /// past it only their category counters grow. Default 200.
    pub max_other_endpoints_per_service: usize,
    /// Object identifiers taken from each response body for [`Observed::response_ids`]
    /// (`crate::inventory::Observed`): 0, the default, takes none. The behavioural layer sets
    /// it to learn which objects each consumer was given.
    pub max_object_ids: usize,
    /// Distinct 404-only paths remembered per service for the scanner count (hashes only).
    /// Default 10,000.
    pub max_not_found_paths: usize,
    /// Query parameter names kept per endpoint. Default 64.
    pub max_query_params: usize,
    /// Longest query parameter name kept, in bytes; longer names are counted, not kept.
    /// Default 64.
    pub max_param_name_len: usize,
    /// Path segments considered per request; deeper paths are cut and counted. Default 32.
    pub max_path_segments: usize,
    /// JSON field paths kept per endpoint and direction. Default 256.
    pub max_shape_fields: usize,
    /// Distinct content types kept per endpoint and direction. Default 16.
    pub max_content_types: usize,
    /// JA4 fingerprints, ALPN values and versions kept per TLS service. Default 32.
    pub max_tls_values: usize,
    /// Hours of per-service traffic kept for the report's charts (requests, errors and
    /// response bytes per UTC hour of packet time). Each hour with traffic costs 32 bytes per
    /// service: 23 KiB per service at the default, 45 MiB at the default `max_services`.
    /// 0 keeps none. Default 720 (30 days).
    pub traffic_hours: usize,
    /// GraphQL operations kept per service and GraphQL path; requests for further
    /// operations are counted in the path's `overflow_requests`. An operation holds about
    /// 3 KiB (two distinct-count sets, fields, counters). Default 500.
    pub max_graphql_operations: usize,
    /// GraphQL operations over all services and paths. Default 20,000 (about 60 MiB).
    pub max_graphql_operations_total: usize,
    /// Client networks taken as internal: an introspection query from any other client is a
    /// finding (`graphql_introspection`). Default RFC 1918, loopback, link-local and IPv6
    /// unique-local ([`super::default_internal_networks`]).
    pub internal_networks: Vec<crate::identity::Prefix>,
    /// Shadow endpoints the operator has accepted: still listed, no longer reported as new.
    pub accepted: Vec<Accepted>,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            scope: ScopeConfig::default(),
            templates: TemplateConfig::default(),
            content: ContentLimits::default(),
            sampling: SamplingConfig::default(),
            max_object_ids: 0,
            max_services: 2_000,
            max_endpoints_per_service: 2_000,
            max_endpoints_total: 20_000,
            max_other_endpoints_per_service: 200,
            max_not_found_paths: 10_000,
            max_query_params: 64,
            max_param_name_len: 64,
            max_path_segments: 32,
            max_shape_fields: 256,
            max_content_types: 16,
            max_tls_values: 32,
            traffic_hours: 24 * 30,
            max_graphql_operations: 500,
            max_graphql_operations_total: 20_000,
            internal_networks: super::default_internal_networks(),
            accepted: Vec::new(),
        }
    }
}

/// Which hosts, ports and content types are APIs, and what is kept out of the shadow list.
#[derive(Clone, Debug)]
pub struct ScopeConfig {
    /// Host patterns that are APIs (exact, case-insensitive, or `*.suffix`). Empty: every host.
    pub api_hosts: Vec<String>,
    /// Host patterns never treated as APIs (checked first).
    pub exclude_hosts: Vec<String>,
    /// Server ports that carry APIs. Empty: every port.
    pub api_ports: Vec<u16>,
    /// Content types (request or response) that make a request an API call: exact media
    /// types, `type/*`, or `*+json` style suffixes. Empty: every content type that is not a
    /// page, an asset or OCSP.
    pub api_content_types: Vec<String>,
    /// Last path segments that are health checks (compared case-insensitively).
    pub health_paths: Vec<String>,
    /// File extensions of static web assets.
    pub static_extensions: Vec<String>,
}

impl Default for ScopeConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        ScopeConfig {
            api_hosts: Vec::new(),
            exclude_hosts: Vec::new(),
            api_ports: Vec::new(),
            api_content_types: Vec::new(),
            health_paths: s(DEFAULT_HEALTH_PATHS),
            static_extensions: s(DEFAULT_STATIC_EXTENSIONS),
        }
    }
}

/// Last path segments taken as health checks by default.
pub const DEFAULT_HEALTH_PATHS: &[&str] =
    &["health", "healthz", "healthcheck", "health-check", "livez", "readyz", "liveness", "readiness", "ping", "heartbeat"];

/// File extensions taken as static web assets by default.
pub const DEFAULT_STATIC_EXTENSIONS: &[&str] = &[
    "js", "mjs", "css", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif", "woff", "woff2", "ttf", "otf",
    "eot", "html", "htm", "txt", "xml.gz", "mp4", "webm", "mp3",
];

/// A shadow endpoint the operator knows about, with who accepted it and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Host (service) as the inventory names it.
    pub host: String,
    /// Method, upper case; `*` for any.
    pub method: String,
    /// Path template as the inventory names it (e.g. `/internal/export/{int}`).
    pub path: String,
    /// Who accepted it.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// Whether an accepted entry's `host` names the service `host`: exact service names
/// (case-insensitive, a non-default port is part of the name) or `*.suffix` for any
/// subdomain. Stricter than spec bindings' [`crate::specmatch::host_matches`] on purpose: an
/// acceptance covers the service it was given for, not the same name on other ports.
pub fn service_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.get(host.len() - suffix.len()..).is_some_and(|s| s.eq_ignore_ascii_case(suffix))
                && host.as_bytes().get(host.len() - suffix.len() - 1) == Some(&b'.')
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        assert!(service_matches("api.bank.example", "API.bank.example"));
        assert!(service_matches("*.bank.example", "api.bank.example"));
        assert!(!service_matches("*.bank.example", "bank.example"));
        assert!(!service_matches("*.bank.example", "evilbank.example"));
        assert!(!service_matches("api.bank.example", "api.bank.example.evil"));
    }
}
