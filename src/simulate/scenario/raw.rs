//! The scenario file as serde reads it, before validation (keys in fixtures/scenarios/README.md).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub name: String,
    pub start: String,
    pub duration_hours: u64,
    #[serde(default = "default_tz")]
    pub timezone: String,
    #[serde(default)]
    pub seed: Option<u64>,
    pub apis: Vec<RawApi>,
    #[serde(default)]
    pub auth_server: Option<RawAuthServer>,
    #[serde(default)]
    pub consumers: Vec<RawConsumer>,
    #[serde(default)]
    pub population: Vec<RawGroup>,
    #[serde(default)]
    pub injections: Vec<RawInjection>,
}

fn default_tz() -> String {
    "UTC".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub name: String,
    pub spec: String,
    pub host: String,
    pub server: String,
    #[serde(default)]
    pub base_path: Option<String>,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_country")]
    pub country: String,
    #[serde(default)]
    pub protocol: Option<String>,
}

fn default_currency() -> String {
    "GBP".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthServer {
    pub host: String,
    pub server: String,
    #[serde(default = "default_token_path")]
    pub token_path: String,
}

fn default_token_path() -> String {
    "/as/token.oauth2".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsumer {
    pub id: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    pub auth: String,
    #[serde(default)]
    pub client_id: Option<String>,
    pub network: String,
    pub user_agent: String,
    pub requests_per_hour: f64,
    #[serde(default)]
    pub attended_share: f64,
    pub apis: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default = "default_session")]
    pub requests_per_session: f64,
    #[serde(default)]
    pub client_cert: Option<RawClientCert>,
    #[serde(default)]
    pub customers: Option<u64>,
}

/// A TPP's certificate as the TLS-terminating proxy forwards it (RFC 9440 `Client-Cert`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientCert {
    pub organization: String,
    pub org_id: String,
    #[serde(default)]
    pub common_name: Option<String>,
    #[serde(default = "default_country")]
    pub country: String,
}

pub(super) fn default_country() -> String {
    "GB".to_string()
}

fn default_kind() -> String {
    "tpp".to_string()
}

fn default_session() -> f64 {
    4.0
}

/// A number or a `[low, high]` range.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum RawRange {
    Fixed(f64),
    Span(Vec<f64>),
}

/// A log-normal rate: `median`, `sigma` (of the logarithm), capped at `max`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogNormal {
    pub median: f64,
    #[serde(default)]
    pub sigma: f64,
    #[serde(default)]
    pub max: Option<f64>,
}

/// One `population:` group: `count` consumers drawn from the seed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub group: String,
    pub count: u64,
    #[serde(default = "default_kind")]
    pub kind: String,
    pub auth: BTreeMap<String, f64>,
    pub network_pool: String,
    pub network_prefix: u8,
    pub requests_per_hour: RawLogNormal,
    #[serde(default)]
    pub attended_share: Option<RawRange>,
    pub apis: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub operations_per_consumer: Option<u64>,
    #[serde(default)]
    pub client_cert_share: f64,
    #[serde(default)]
    pub org_id_prefix: Option<String>,
    #[serde(default = "default_country")]
    pub cert_country: String,
    #[serde(default)]
    pub user_agents: Vec<String>,
    #[serde(default = "default_session")]
    pub requests_per_session: f64,
    #[serde(default)]
    pub customers: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInjection {
    pub kind: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub consumer: Option<String>,
    #[serde(default)]
    pub requests_per_hour: Option<f64>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub base_path: Option<String>,
    #[serde(default)]
    pub requests_per_session: Option<u64>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub first_id: Option<u64>,
    #[serde(default)]
    pub owned_share: Option<f64>,
    #[serde(default)]
    pub source_network: Option<String>,
    #[serde(default)]
    pub sources: Option<u64>,
    #[serde(default)]
    pub success_share: Option<f64>,
    #[serde(default)]
    pub accounts: Option<u64>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub error_share: Option<f64>,
    #[serde(default)]
    pub min_body_bytes: Option<u64>,
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    #[serde(default)]
    pub unauthorized_share: Option<f64>,
    #[serde(default)]
    pub times_usual: Option<f64>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub technique: Option<String>,
    #[serde(default)]
    pub rejected_share: Option<f64>,
    #[serde(default)]
    pub hours: Option<Vec<u32>>,
    #[serde(default)]
    pub probe_paths: Vec<String>,
    #[serde(default)]
    pub interval_minutes: Option<u64>,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u64>,
    #[serde(default)]
    pub retries: Option<u64>,
}
