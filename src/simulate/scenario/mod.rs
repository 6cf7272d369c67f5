//! The scenario file: hosts and the specs they serve, consumers (configured one by one or drawn
//! in `population:` groups) and what they do, injected behaviour with exact windows. Raw
//! (serde, [`raw`]) first, then validated into [`Scenario`] with every mistake named by file,
//! key and fix.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

mod kinds;
mod parse;
mod population;
mod raw;
mod tuning;

pub use parse::load;
pub use tuning::{BatchJob, PenTest, SyntheticMonitor};

/// Seed used when neither the command line nor the scenario gives one.
pub const DEFAULT_SEED: u64 = 1;
/// The largest scenario duration accepted (a year of scenario time).
pub const MAX_DURATION_HOURS: u64 = 24 * 366;
/// Customers a consumer has at least when the scenario does not say (see [`auto_customers`]).
pub const DEFAULT_CUSTOMERS: u64 = 20;
/// Most customers one consumer may have.
pub const MAX_CUSTOMERS: u64 = 100_000;
/// Most consumers a scenario may hold, configured and generated together.
pub const MAX_CONSUMERS: u64 = 100_000;
/// Unattended sessions a day per customer that [`auto_customers`] plans for on the busiest day,
/// half the four a day PSD2 allows, so normal traffic never comes near the limit.
const PLANNED_UNATTENDED_PER_CUSTOMER_DAY: f64 = 2.0;

/// Most requests one injected keep-alive connection carries (`requests_per_session`).
pub const MAX_INJECTION_SESSION: u64 = 500;
/// Most distinct source addresses a credential-stuffing injection rotates through.
pub const MAX_STUFFING_SOURCES: u64 = 1_000_000;
/// Most customer accounts a scraping or aggregator injection reads.
pub const MAX_INJECTION_ACCOUNTS: u64 = 100_000;
/// Largest response body an oversized-responses injection writes (64 MiB): a bound on the
/// generator's memory, far above the 2-20 MB of a realistic exfiltration.
pub const MAX_OVERSIZED_BODY: u64 = 64 << 20;
/// Default operation of `object_enumeration` and the account read of scraping and aggregators.
pub const DEFAULT_OBJECT_OPERATION: &str = "GET /accounts/{AccountId}";
/// Default operation of `oversized_responses`.
pub const DEFAULT_OVERSIZED_OPERATION: &str = "GET /accounts/{AccountId}/transactions";

/// How a consumer authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An OAuth bearer JWT carrying `client_id`.
    Jwt,
    /// An opaque access token from the token endpoint (client credentials grant).
    Opaque,
    /// An `x-api-key` header.
    ApiKey,
    /// HTTP Basic.
    Basic,
    /// Nothing.
    None,
}

impl AuthKind {
    /// The name used in scenario files and truth.json.
    pub fn name(self) -> &'static str {
        match self {
            AuthKind::Jwt => "jwt",
            AuthKind::Opaque => "opaque",
            AuthKind::ApiKey => "api_key",
            AuthKind::Basic => "basic",
            AuthKind::None => "none",
        }
    }
}

/// One API: a spec served on a host.
#[derive(Debug, Clone)]
pub struct Api {
    /// Name the consumers refer to.
    pub name: String,
    /// Spec file (resolved against the scenario's folder).
    pub spec: PathBuf,
    /// Host header value.
    pub host: String,
    /// Server address and port (behind the TLS terminator: cleartext).
    pub server: SocketAddrV4,
    /// Base path override; else the spec's first server path.
    pub base_path: Option<String>,
    /// ISO 4217 currency of the amounts in its bodies.
    pub currency: String,
    /// ISO 3166 country of its IBANs and addresses.
    pub country: String,
    /// How its connections speak.
    pub protocol: Protocol,
}

/// What an API's connections speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 keep-alive connections.
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge (cleartext, as behind a TLS-terminating gateway).
    Http2,
    /// gRPC over prior-knowledge HTTP/2: each operation's JSON body is one message, the
    /// outcome is `grpc-status` in trailers.
    Grpc,
}

impl Protocol {
    /// The scenario file's names.
    pub const NAMES: &'static [&'static str] = &["http1", "http2", "grpc"];

    /// The protocol of a scenario-file name.
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "http1" => Some(Protocol::Http1),
            "http2" => Some(Protocol::Http2),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }
}

/// The OAuth token endpoint the capture shows for opaque-token consumers.
#[derive(Debug, Clone)]
pub struct AuthServer {
    /// Host header value.
    pub host: String,
    /// Server address.
    pub server: SocketAddrV4,
    /// Token endpoint path.
    pub token_path: String,
}

/// One consumer (a TPP or an app).
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Identity in the scenario and the truth.
    pub id: String,
    /// "tpp" or "app".
    pub kind: String,
    /// How it authenticates.
    pub auth: AuthKind,
    /// OAuth client id (defaults to the id).
    pub client_id: String,
    /// Its client network (requests come from hosts in it).
    pub network: (Ipv4Addr, u8),
    /// User-Agent.
    pub user_agent: String,
    /// Mean requests per hour at the busiest hour of a weekday.
    pub requests_per_hour: f64,
    /// Share of sessions with the customer present (x-fapi-customer-ip-address).
    pub attended_share: f64,
    /// APIs it calls, by name.
    pub apis: Vec<String>,
    /// Operations it calls ("METHOD /path" as in the spec, or operationId); empty = all.
    pub operations: Vec<String>,
    /// Mean requests per keep-alive connection.
    pub requests_per_session: f64,
    /// The `Client-Cert` header value (RFC 9440) its requests carry, when it uses mutual TLS.
    pub client_cert: Option<String>,
    /// The certificate's PSD2 organisation identifier, for the truth.
    pub org_id: Option<String>,
    /// Customers (PSUs) behind it: each session is for one of them; JWT sessions carry the
    /// customer as `sub` (see [`psu_id`]).
    pub customers: u64,
    /// The `population:` group it was drawn from (`None` for a configured consumer).
    pub group: Option<String>,
    /// Leave the APIs' deprecated operations out of its normal traffic (generated consumers:
    /// only injections call them), unless its `operations` name them.
    pub skip_deprecated: bool,
}

/// What an injection does.
#[derive(Debug, Clone, PartialEq)]
pub enum InjectionKind {
    /// Requests to an undocumented path (and possibly a stray host).
    ShadowEndpoint {
        /// Host header.
        host: String,
        /// Method.
        method: String,
        /// Literal path.
        path: String,
    },
    /// Requests to an API's operations under an old base path (an old major version).
    ZombieVersion {
        /// API name.
        api: String,
        /// The old base path, e.g. `/open-banking/v3.1/aisp`.
        base_path: String,
    },
    /// Requests to the API's operations marked `deprecated`.
    DeprecatedOperations {
        /// API name.
        api: String,
    },
    /// One consumer walks sequential numeric ids on an `{...Id}` path; ids it does not own
    /// are answered 403 or 404.
    ObjectEnumeration {
        /// API name.
        api: String,
        /// The operation ("METHOD /path" as in the spec, or operationId) with one id parameter.
        operation: String,
        /// First id tried (else drawn from the seed).
        first_id: Option<u64>,
        /// Share of tried ids the consumer owns (answered 200).
        owned_share: f64,
    },
    /// Password guesses against a login/token endpoint from many rotating source addresses.
    CredentialStuffing {
        /// Host header.
        host: String,
        /// Login path.
        path: String,
        /// Server address.
        server: SocketAddrV4,
        /// The wide network the guesses come from.
        source_network: (Ipv4Addr, u8),
        /// Distinct source addresses rotated through.
        sources: u64,
        /// Share of guesses that succeed (200 with a token); the rest get 401.
        success_share: f64,
    },
    /// Unattended pulls of account data for many customer accounts, far above the norm.
    Scraping {
        /// API name.
        api: String,
        /// Customer accounts pulled, in turn.
        accounts: u64,
        /// Operations of one pull, in order (the first reads the account itself).
        operations: Vec<String>,
    },
    /// The consumer's credentials used at bank-local night from a network it never used.
    OffHoursToken {
        /// The new network.
        source_network: (Ipv4Addr, u8),
    },
    /// A window where one API answers mostly `status`.
    ErrorSpike {
        /// API name.
        api: String,
        /// The error status (4xx or 5xx).
        status: u16,
        /// Share of the API's responses in the window that carry it.
        error_share: f64,
    },
    /// Chunked responses many times the normal size.
    OversizedResponses {
        /// API name.
        api: String,
        /// The operation whose responses swell.
        operation: String,
        /// Smallest body.
        min_body_bytes: u64,
        /// Largest body.
        max_body_bytes: u64,
    },
    /// Benign: an aggregator reading many of its own accounts, every answer 200.
    AggregatorAccounts {
        /// API name.
        api: String,
        /// Distinct accounts it reads.
        accounts: u64,
    },
    /// Benign: a password-reset day, many 401s from the consumer's usual network.
    PasswordReset {
        /// API name.
        api: String,
        /// Share of its requests answered 401.
        unauthorized_share: f64,
    },
    /// The consumer's usual calls (its network, credentials, customers) at `times_usual` times
    /// its expected rate over the window; the injection's own `requests_per_hour` is the excess
    /// (`times_usual - 1` times the expected rate), normal traffic goes on beside it.
    RateSurge {
        /// Total rate over the window, as a multiple of the expected one.
        times_usual: f64,
    },
    /// The consumer's usual calls with a user agent it never used.
    NewUserAgent {
        /// The new User-Agent.
        user_agent: String,
    },
    /// Requests without any credential (no Authorization, API key or certificate) to an
    /// operation whose 200 answer carries customer data, answered 200 with the data.
    UnauthenticatedAccess {
        /// API name.
        api: String,
        /// The operation read (a listing of the same collection comes first when it has a path
        /// parameter, so the ids read are ids the client was given).
        operation: String,
        /// Where the requests come from (no consumer's network).
        source_network: (Ipv4Addr, u8),
        /// User-Agent of the scripted client.
        user_agent: String,
    },
    /// Requests whose head frames the body ambiguously, on the consumer's own connections.
    RequestSmuggling {
        /// API name.
        api: String,
        /// How the head is ambiguous.
        technique: Smuggling,
        /// Share of the ambiguous requests the server answers 400 (the others 200).
        rejected_share: f64,
    },
    /// Tuning: an authorised penetration test.
    PenTest(PenTest),
    /// Tuning: a synthetic monitor's checks, day and night.
    SyntheticMonitor(SyntheticMonitor),
    /// Tuning: a consumer's nightly batch job over many accounts.
    BatchJob(BatchJob),
}

/// A request-smuggling technique: what makes the request head ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smuggling {
    /// `Content-Length` and `Transfer-Encoding: chunked` together (CL.TE / TE.CL).
    ClTe,
    /// Two `Content-Length` field lines with different values.
    DuplicateCl,
    /// A `Transfer-Encoding` that one parser reads as chunked and another does not
    /// (`xchunked`, or `chunked` behind a vertical tab).
    TeObfuscated,
}

impl Smuggling {
    /// The name used in scenario files and truth.json.
    pub fn name(self) -> &'static str {
        match self {
            Smuggling::ClTe => "cl_te",
            Smuggling::DuplicateCl => "duplicate_cl",
            Smuggling::TeObfuscated => "te_obfuscated",
        }
    }
}

/// One injection with its exact window.
#[derive(Debug, Clone)]
pub struct Injection {
    /// What it does.
    pub kind: InjectionKind,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
    /// The consumer whose credentials and network it uses (empty for an
    /// `unauthenticated_access` that names none).
    pub consumer: String,
    /// Sessions (keep-alive connections) per hour inside the window are
    /// `requests_per_hour / requests_per_session`; for `scraping` one session is one pull.
    pub requests_per_hour: f64,
    /// Requests per injected connection (1 unless the scenario says otherwise).
    pub requests_per_session: u64,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Scenario clock start.
    pub start: DateTime<Utc>,
    /// Length in hours.
    pub duration_hours: u64,
    /// The bank's time zone (seasonality runs on its local time).
    pub timezone: Tz,
    /// The seed of the run: the command line's, else the file's, else [`DEFAULT_SEED`].
    pub seed: u64,
    /// APIs.
    pub apis: Vec<Api>,
    /// Token endpoint, needed by opaque-token consumers.
    pub auth_server: Option<AuthServer>,
    /// Consumers: the configured ones, then the `population:` groups' in order.
    pub consumers: Vec<Consumer>,
    /// Injections.
    pub injections: Vec<Injection>,
    /// Each `population:` group's name, APIs and `operations` pool (the consumers hold only
    /// the part they drew), for checking the pool against the specs.
    pub group_operations: Vec<(String, Vec<String>, Vec<String>)>,
}

/// The PSU id of customer `k` (from 0) of consumer `consumer`: `psu-<consumer>-<k+1>`, the
/// `sub` of the customer's JWTs.
pub fn psu_id(consumer: &str, k: u64) -> String {
    format!("psu-{consumer}-{}", k + 1)
}

/// Customers a consumer needs so that its unattended sessions stay at two a customer a day on
/// the busiest day (a month-end weekday): at least [`DEFAULT_CUSTOMERS`].
pub fn auto_customers(requests_per_hour: f64, requests_per_session: f64, attended_share: f64) -> u64 {
    let sessions = requests_per_hour / requests_per_session.max(1.0) * super::schedule::busiest_day_hours();
    let unattended = sessions * (1.0 - attended_share).clamp(0.0, 1.0);
    let need = (unattended / PLANNED_UNATTENDED_PER_CUSTOMER_DAY).ceil();
    if need.is_finite() && need > DEFAULT_CUSTOMERS as f64 {
        (need as u64).min(MAX_CUSTOMERS)
    } else {
        DEFAULT_CUSTOMERS
    }
}

pub(super) fn time(file: &Path, key: &str, value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).with_context(|| {
        format!("{}: `{key}: {value}` is not an RFC 3339 time; write it like 2026-03-27T00:00:00Z", file.display())
    })
}

pub(super) fn addr(file: &Path, key: &str, value: &str) -> Result<SocketAddrV4> {
    value.parse().with_context(|| {
        format!("{}: `{key}: {value}` is not an IPv4 address and port; write it like 10.20.0.10:8080", file.display())
    })
}

pub(super) fn cidr(file: &Path, key: &str, value: &str) -> Result<(Ipv4Addr, u8)> {
    let fix = || format!("{}: `{key}: {value}` is not an IPv4 network; write it like 198.51.100.0/24", file.display());
    let (ip, len) = value.split_once('/').ok_or_else(|| anyhow::anyhow!(fix()))?;
    let ip: Ipv4Addr = ip.parse().with_context(fix)?;
    let len: u8 = len.parse().with_context(fix)?;
    if !(8..=32).contains(&len) {
        bail!("{}; the prefix length must be 8 to 32", fix());
    }
    Ok((ip, len))
}

/// Whether two IPv4 networks share an address.
pub(super) fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(a.0) & mask == u32::from(b.0) & mask
}

/// The `Client-Cert` value for a consumer's certificate. It depends on the consumer id and
/// the certificate's names (not the seed): a TPP keeps its certificate whatever the run. Valid
/// from half a year before the scenario to two years after it.
pub(super) fn cert_header(
    id: &str,
    organization: &str,
    org_id: &str,
    common_name: &str,
    country: &str,
    start: DateTime<Utc>,
) -> String {
    let seed = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut rng = super::rng::Rng::new(seed);
    let from = start.timestamp() - 182 * 86_400;
    let der = super::creds::client_cert_der(organization, org_id, common_name, country, from, from + 912 * 86_400, &mut rng);
    super::creds::client_cert_header(&der)
}
