//! `truth.json`: what the generated capture contains, for tests and for tuning detection.
//! The layout is documented in docs/simulate.md; `schema_version` changes with it.

use std::collections::BTreeMap;

use serde::Serialize;

/// Version of the truth layout.
pub const TRUTH_SCHEMA_VERSION: u32 = 2;

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
    /// PSD2 organisation identifier of its client certificate (sent in `Client-Cert`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The `population:` group it was drawn from (absent for a configured consumer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Mean requests per hour at the weekday peak (drawn, for a generated consumer).
    pub requests_per_hour: f64,
    /// Share of its sessions with the customer present.
    pub attended_share: f64,
    /// Customers (PSUs) behind it; the JWT `sub` of customer n is `psu-<id>-<n>`.
    pub customers: u64,
    /// Customers that had at least one session.
    pub customers_seen: u64,
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
    /// A confounder: odd-looking traffic that must not alert.
    pub benign: bool,
    /// A tuning kind: legitimate traffic that does alert an untuned sensor and that a SOC
    /// silences by tuning (penetration test, synthetic monitor, batch job).
    pub tuning: bool,
    /// What a detector should find, per kind (absent fields do not apply to the kind).
    #[serde(flatten)]
    pub facts: InjectionFacts,
}

/// Kind-specific facts of an injection, counted from what was written to the capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InjectionFacts {
    /// API name (kinds that target one API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Time of the first and the last request it made (RFC 3339); a connection opened just
    /// before `end` may finish a few seconds after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_request: Option<String>,
    /// See `first_request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_request: Option<String>,
    /// Times of its first 100 requests in time order (RFC 3339 with nanoseconds), for
    /// time-to-detect in requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_request_times: Option<Vec<String>>,
    /// `object_enumeration`: `fast` (60 or more per hour) or `low_and_slow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pace: Option<&'static str>,
    /// `object_enumeration`, `aggregator_accounts`: distinct object ids requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_ids: Option<u64>,
    /// `object_enumeration`: lowest and highest id tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_id: Option<u64>,
    /// See `first_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_id: Option<u64>,
    /// `credential_stuffing`, `off_hours_token`: the network the requests came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_network: Option<String>,
    /// `credential_stuffing`, `off_hours_token`: distinct client addresses used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_source_ips: Option<u64>,
    /// `credential_stuffing`: guesses answered 200 with a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successful_logins: Option<u64>,
    /// `scraping`: pulls (one connection reading one account's data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulls: Option<u64>,
    /// `scraping`: the customer accounts pulled (their `AccountId`s); `batch_job`: the
    /// accounts read each night; `synthetic_monitor`: its test account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_ids: Option<Vec<String>>,
    /// `scraping`: the most unattended pulls of one account in one bank-local day (PSD2
    /// allows four).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unattended_pulls_per_account_per_day: Option<u64>,
    /// `scraping`: (account, bank-local day) pairs above four unattended pulls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_days_over_psd2_limit: Option<u64>,
    /// `off_hours_token`, `rate_surge`: the consumer's usual requests per hour over the same
    /// hours, and the injection's rate (rate surge: the consumer's whole rate) over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usual_requests_per_hour: Option<f64>,
    /// See `usual_requests_per_hour`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times_usual: Option<f64>,
    /// `rate_surge`: every request of the consumer from its own network inside the window
    /// (normal and injected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_requests: Option<u64>,
    /// `new_user_agent`, `unauthenticated_access`: the User-Agent its requests carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `request_smuggling`: `cl_te`, `duplicate_cl` or `te_obfuscated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub technique: Option<&'static str>,
    /// `request_smuggling`: requests with an ambiguous head (one per connection, its last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smuggling_requests: Option<u64>,
    /// `request_smuggling`: those answered 400 (the others 200 or the operation's success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_requests: Option<u64>,
    /// `error_spike`: the status; `password_reset`: 401.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `error_spike`: requests to the API on connections opened in the window (every
    /// consumer's), and how many of them got `status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// See `api_requests`; for `password_reset` the 401s it caused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_responses: Option<u64>,
    /// `oversized_responses`: the configured smallest body (every swollen body is at least
    /// this long), the body bytes written, and the largest body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_body_bytes: Option<u64>,
    /// See `min_body_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// See `min_body_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// `pen_test`: requests of its enumeration, probe and credential-less connections (its
    /// ambiguous-framing connections are `smuggling_requests` and the call before each).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enumeration_requests: Option<u64>,
    /// See `enumeration_requests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_requests: Option<u64>,
    /// See `enumeration_requests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unauthenticated_requests: Option<u64>,
    /// `synthetic_monitor`: minutes between checks, checks made, and checks that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_minutes: Option<u64>,
    /// See `interval_minutes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<u64>,
    /// See `interval_minutes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_checks: Option<u64>,
    /// `synthetic_monitor`: when each failing check began (its first request; the first
    /// 1000), RFC 3339 with nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_check_times: Option<Vec<String>>,
    /// `batch_job`: bank-local nights it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nights: Option<u64>,
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
