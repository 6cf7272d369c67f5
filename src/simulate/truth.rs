//! `truth.json`: what the generated capture contains, for tests and for tuning detection.
//! The layout is documented in docs/simulate.md; `schema_version` changes with it.

use std::collections::BTreeMap;

use serde::Serialize;

/// Version of the truth layout.
pub const TRUTH_SCHEMA_VERSION: u32 = 1;

/// The whole ground truth of one run.
#[derive(Debug, Serialize)]
pub struct Truth {
    /// Layout version.
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Scenario clock start (RFC 3339, UTC).
    pub start: String,
    /// Scenario clock end.
    pub end: String,
    /// The bank's time zone.
    pub timezone: String,
    /// HTTP requests in the capture, all kinds together.
    pub requests: u64,
    /// TCP connections in the capture.
    pub connections: u64,
    /// Packets in the capture.
    pub packets: u64,
    /// Every endpoint: documented ones (with or without traffic) and every undocumented one hit.
    pub endpoints: Vec<EndpointTruth>,
    /// Every consumer.
    pub consumers: Vec<ConsumerTruth>,
    /// Every injection with its exact window.
    pub injections: Vec<InjectionTruth>,
}

/// One endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointTruth {
    /// Host header.
    pub host: String,
    /// Method.
    pub method: String,
    /// Full path template (base path + spec path), e.g. `/open-banking/v4.0/aisp/accounts/{AccountId}`;
    /// for undocumented endpoints the literal path.
    pub path_template: String,
    /// `documented` (in a spec and used), `orphan` (in a spec, never used), `shadow` (used, in
    /// no spec), `zombie` (used, deprecated or an old version).
    pub class: &'static str,
    /// The spec (API name) it belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Requests to it.
    pub hits: u64,
}

/// One consumer.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerTruth {
    /// Scenario id.
    pub id: String,
    /// "tpp" or "app".
    pub kind: String,
    /// What a sensor can call it without secrets: the OAuth client id.
    pub label: String,
    /// Authentication kind.
    pub auth: &'static str,
    /// Client network.
    pub network: String,
    /// User-Agent.
    pub user_agent: String,
    /// Requests it made (normal and injected).
    pub requests: u64,
}

/// One injection.
#[derive(Debug, Clone, Serialize)]
pub struct InjectionTruth {
    /// Kind.
    pub kind: &'static str,
    /// Window start (RFC 3339).
    pub start: String,
    /// Window end.
    pub end: String,
    /// Consumer whose identity it uses.
    pub consumer: String,
    /// Requests it made.
    pub requests: u64,
    /// Endpoints it touched (host, method, path template).
    pub endpoints: Vec<String>,
}

/// Counts hits per endpoint while generating.
#[derive(Debug, Default)]
pub struct EndpointBook {
    entries: BTreeMap<(String, String, String), EndpointTruth>,
}

impl EndpointBook {
    /// Declares an endpoint (documented ones up front, so unused ones end up orphans).
    pub fn declare(&mut self, host: &str, method: &str, template: &str, class: &'static str, api: Option<&str>) {
        self.entries.entry((host.to_string(), method.to_string(), template.to_string())).or_insert(EndpointTruth {
            host: host.to_string(),
            method: method.to_string(),
            path_template: template.to_string(),
            class,
            api: api.map(str::to_string),
            hits: 0,
        });
    }

    /// Counts one request; declares the endpoint with `class` if it is new.
    pub fn hit(&mut self, host: &str, method: &str, template: &str, class: &'static str, api: Option<&str>) {
        self.declare(host, method, template, class, api);
        if let Some(e) = self.entries.get_mut(&(host.to_string(), method.to_string(), template.to_string())) {
            e.hits += 1;
        }
    }

    /// The endpoints, documented ones without traffic marked `orphan`.
    pub fn finish(self) -> Vec<EndpointTruth> {
        self.entries
            .into_values()
            .map(|mut e| {
                if e.hits == 0 && e.class == "documented" {
                    e.class = "orphan";
                }
                e
            })
            .collect()
    }
}
