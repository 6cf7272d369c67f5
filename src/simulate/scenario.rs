//! The scenario file: hosts and the specs they serve, consumers and what they do, injected
//! behaviour with exact windows. Raw (serde) first, then validated into [`Scenario`] with every
//! mistake named by file, key and fix.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// The largest scenario duration accepted (a year of scenario time).
pub const MAX_DURATION_HOURS: u64 = 24 * 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    start: String,
    duration_hours: u64,
    #[serde(default = "default_tz")]
    timezone: String,
    #[serde(default)]
    seed: Option<u64>,
    apis: Vec<RawApi>,
    #[serde(default)]
    auth_server: Option<RawAuthServer>,
    consumers: Vec<RawConsumer>,
    #[serde(default)]
    injections: Vec<RawInjection>,
}

fn default_tz() -> String {
    "UTC".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    name: String,
    spec: String,
    host: String,
    server: String,
    #[serde(default)]
    base_path: Option<String>,
    #[serde(default = "default_currency")]
    currency: String,
    #[serde(default = "default_country")]
    country: String,
}

fn default_currency() -> String {
    "GBP".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthServer {
    host: String,
    server: String,
    #[serde(default = "default_token_path")]
    token_path: String,
}

fn default_token_path() -> String {
    "/as/token.oauth2".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsumer {
    id: String,
    #[serde(default = "default_kind")]
    kind: String,
    auth: String,
    #[serde(default)]
    client_id: Option<String>,
    network: String,
    user_agent: String,
    requests_per_hour: f64,
    #[serde(default)]
    attended_share: f64,
    apis: Vec<String>,
    #[serde(default)]
    operations: Vec<String>,
    #[serde(default = "default_session")]
    requests_per_session: f64,
    #[serde(default)]
    client_cert: Option<RawClientCert>,
}

/// A TPP's certificate as the TLS-terminating proxy forwards it (RFC 9440 `Client-Cert`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientCert {
    organization: String,
    org_id: String,
    #[serde(default)]
    common_name: Option<String>,
    #[serde(default = "default_country")]
    country: String,
}

fn default_country() -> String {
    "GB".to_string()
}

fn default_kind() -> String {
    "tpp".to_string()
}

fn default_session() -> f64 {
    4.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInjection {
    kind: String,
    start: String,
    end: String,
    consumer: String,
    requests_per_hour: f64,
    #[serde(default)]
    api: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    base_path: Option<String>,
    #[serde(default)]
    requests_per_session: Option<u64>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    operations: Vec<String>,
    #[serde(default)]
    first_id: Option<u64>,
    #[serde(default)]
    owned_share: Option<f64>,
    #[serde(default)]
    source_network: Option<String>,
    #[serde(default)]
    sources: Option<u64>,
    #[serde(default)]
    success_share: Option<f64>,
    #[serde(default)]
    accounts: Option<u64>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    error_share: Option<f64>,
    #[serde(default)]
    min_body_bytes: Option<u64>,
    #[serde(default)]
    max_body_bytes: Option<u64>,
    #[serde(default)]
    unauthorized_share: Option<f64>,
}

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
}

impl InjectionKind {
    /// The name used in scenario files and truth.json.
    pub fn name(&self) -> &'static str {
        match self {
            InjectionKind::ShadowEndpoint { .. } => "shadow_endpoint",
            InjectionKind::ZombieVersion { .. } => "zombie_version",
            InjectionKind::DeprecatedOperations { .. } => "deprecated_operations",
            InjectionKind::ObjectEnumeration { .. } => "object_enumeration",
            InjectionKind::CredentialStuffing { .. } => "credential_stuffing",
            InjectionKind::Scraping { .. } => "scraping",
            InjectionKind::OffHoursToken { .. } => "off_hours_token",
            InjectionKind::ErrorSpike { .. } => "error_spike",
            InjectionKind::OversizedResponses { .. } => "oversized_responses",
            InjectionKind::AggregatorAccounts { .. } => "aggregator_accounts",
            InjectionKind::PasswordReset { .. } => "password_reset",
        }
    }

    /// True for the confounders: traffic that looks odd but must not alert.
    pub fn benign(&self) -> bool {
        matches!(self, InjectionKind::AggregatorAccounts { .. } | InjectionKind::PasswordReset { .. })
    }

    /// The API it uses, when it names one.
    pub fn api(&self) -> Option<&str> {
        match self {
            InjectionKind::ZombieVersion { api, .. }
            | InjectionKind::DeprecatedOperations { api }
            | InjectionKind::ObjectEnumeration { api, .. }
            | InjectionKind::Scraping { api, .. }
            | InjectionKind::ErrorSpike { api, .. }
            | InjectionKind::OversizedResponses { api, .. }
            | InjectionKind::AggregatorAccounts { api, .. }
            | InjectionKind::PasswordReset { api, .. } => Some(api),
            _ => None,
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
    /// The consumer whose credentials and network it uses.
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
    /// Seed from the file (the command line wins).
    pub seed: Option<u64>,
    /// APIs.
    pub apis: Vec<Api>,
    /// Token endpoint, needed by opaque-token consumers.
    pub auth_server: Option<AuthServer>,
    /// Consumers.
    pub consumers: Vec<Consumer>,
    /// Injections.
    pub injections: Vec<Injection>,
}

fn time(file: &Path, key: &str, value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).with_context(|| {
        format!("{}: `{key}: {value}` is not an RFC 3339 time; write it like 2026-03-27T00:00:00Z", file.display())
    })
}

fn addr(file: &Path, key: &str, value: &str) -> Result<SocketAddrV4> {
    value.parse().with_context(|| {
        format!("{}: `{key}: {value}` is not an IPv4 address and port; write it like 10.20.0.10:8080", file.display())
    })
}

fn cidr(file: &Path, key: &str, value: &str) -> Result<(Ipv4Addr, u8)> {
    let fix = || format!("{}: `{key}: {value}` is not an IPv4 network; write it like 198.51.100.0/24", file.display());
    let (ip, len) = value.split_once('/').ok_or_else(|| anyhow::anyhow!(fix()))?;
    let ip: Ipv4Addr = ip.parse().with_context(fix)?;
    let len: u8 = len.parse().with_context(fix)?;
    if !(8..=32).contains(&len) {
        bail!("{}; the prefix length must be 8 to 32", fix());
    }
    Ok((ip, len))
}

/// The `Client-Cert` value for a consumer's certificate. It depends on the consumer (not the
/// seed): a TPP keeps its certificate whatever the run. Valid from half a year before the
/// scenario to two years after it.
fn cert_header(id: &str, cc: &RawClientCert, start: DateTime<Utc>) -> String {
    let seed = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut rng = super::rng::Rng::new(seed);
    let cn = cc.common_name.clone().unwrap_or_else(|| format!("{} client", cc.organization));
    let from = start.timestamp() - 182 * 86_400;
    let der = super::creds::client_cert_der(&cc.organization, &cc.org_id, &cn, &cc.country, from, from + 912 * 86_400, &mut rng);
    super::creds::client_cert_header(&der)
}

/// Reads and validates a scenario file. Relative spec paths are taken from the file's folder.
pub fn load(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read scenario {}", path.display()))?;
    parse(path, &text)
}

/// Validates scenario text read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Scenario> {
    let raw: RawScenario = serde_norway::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        anyhow::anyhow!("{}{at}: {e}; see fixtures/scenarios/README.md for the keys", path.display())
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let start = time(path, "start", &raw.start)?;
    let scenario_start = start;
    if raw.duration_hours == 0 || raw.duration_hours > MAX_DURATION_HOURS {
        bail!("{}: `duration_hours: {}` must be 1 to {MAX_DURATION_HOURS}", path.display(), raw.duration_hours);
    }
    let timezone: Tz = raw.timezone.parse().map_err(|_| {
        anyhow::anyhow!("{}: `timezone: {}` is not an IANA time zone; write it like Europe/London", path.display(), raw.timezone)
    })?;
    if raw.apis.is_empty() {
        bail!("{}: `apis` is empty; name at least one spec and the host that serves it", path.display());
    }
    let mut apis = Vec::new();
    for a in raw.apis {
        if apis.iter().any(|x: &Api| x.name == a.name) {
            bail!("{}: api name `{}` is used twice; names must be unique", path.display(), a.name);
        }
        apis.push(Api {
            spec: dir.join(&a.spec),
            server: addr(path, "apis[].server", &a.server)?,
            name: a.name,
            host: a.host,
            base_path: a.base_path,
            currency: a.currency,
            country: a.country,
        });
    }
    let auth_server = match raw.auth_server {
        Some(a) => Some(AuthServer {
            server: addr(path, "auth_server.server", &a.server)?,
            host: a.host,
            token_path: a.token_path,
        }),
        None => None,
    };
    let mut consumers = Vec::new();
    for c in raw.consumers {
        let auth = match c.auth.as_str() {
            "jwt" => AuthKind::Jwt,
            "opaque" => AuthKind::Opaque,
            "api_key" => AuthKind::ApiKey,
            "basic" => AuthKind::Basic,
            "none" => AuthKind::None,
            other => bail!(
                "{}: consumer `{}`: `auth: {other}` is unknown; use jwt, opaque, api_key, basic or none",
                path.display(),
                c.id
            ),
        };
        if auth == AuthKind::Opaque && auth_server.is_none() {
            bail!("{}: consumer `{}` uses opaque tokens but there is no `auth_server`; add one", path.display(), c.id);
        }
        for a in &c.apis {
            if !apis.iter().any(|x| &x.name == a) {
                bail!("{}: consumer `{}` calls api `{a}`, which is not under `apis`", path.display(), c.id);
            }
        }
        if !(0.0..=1.0).contains(&c.attended_share) {
            bail!("{}: consumer `{}`: `attended_share: {}` must be 0 to 1 (the share of sessions with the customer present)", path.display(), c.id, c.attended_share);
        }
        if !(c.requests_per_hour >= 0.0 && c.requests_per_hour.is_finite()) {
            bail!("{}: consumer `{}`: `requests_per_hour: {}` must be 0 or more", path.display(), c.id, c.requests_per_hour);
        }
        if !(c.requests_per_session >= 1.0 && c.requests_per_session.is_finite()) {
            bail!("{}: consumer `{}`: `requests_per_session: {}` must be 1 or more", path.display(), c.id, c.requests_per_session);
        }
        let id = c.id.clone();
        consumers.push(Consumer {
            network: cidr(path, "consumers[].network", &c.network)?,
            client_id: c.client_id.unwrap_or_else(|| c.id.clone()),
            id: c.id,
            kind: c.kind,
            auth,
            user_agent: c.user_agent,
            requests_per_hour: c.requests_per_hour,
            attended_share: c.attended_share,
            apis: c.apis,
            operations: c.operations,
            requests_per_session: c.requests_per_session,
            org_id: c.client_cert.as_ref().map(|cc| cc.org_id.clone()),
            client_cert: c.client_cert.as_ref().map(|cc| cert_header(&id, cc, start)),
        });
    }
    let mut injections = Vec::new();
    for (i, j) in raw.injections.into_iter().enumerate() {
        let key = format!("injections[{i}]");
        let start = time(path, &format!("{key}.start"), &j.start)?;
        let end = time(path, &format!("{key}.end"), &j.end)?;
        if end <= start {
            bail!("{}: {key}: `end` must be after `start`", path.display());
        }
        let scenario_end = scenario_start + chrono::Duration::hours(i64::try_from(raw.duration_hours).unwrap_or(0));
        if start < scenario_start || end > scenario_end {
            bail!(
                "{}: {key}: the window {} to {} is not inside the scenario ({} to {}); move it inside, the truth records windows exactly",
                path.display(),
                start.to_rfc3339(),
                end.to_rfc3339(),
                scenario_start.to_rfc3339(),
                scenario_end.to_rfc3339()
            );
        }
        let Some(consumer) = consumers.iter().find(|c| c.id == j.consumer) else {
            bail!("{}: {key} uses consumer `{}`, which is not under `consumers`", path.display(), j.consumer);
        };
        let kind = injection_kind(path, &key, &j, &apis, auth_server.as_ref(), &consumers, consumer, timezone, (start, end))?;
        if !j.requests_per_hour.is_finite() || j.requests_per_hour < 0.0 {
            bail!("{}: {key}: `requests_per_hour` must be a number at least 0", path.display());
        }
        let requests_per_session = j.requests_per_session.unwrap_or(1);
        if !(1..=MAX_INJECTION_SESSION).contains(&requests_per_session) {
            bail!("{}: {key}: `requests_per_session` must be 1 to {MAX_INJECTION_SESSION}", path.display());
        }
        injections.push(Injection {
            kind,
            start,
            end,
            consumer: j.consumer,
            requests_per_hour: j.requests_per_hour,
            requests_per_session,
        });
    }
    Ok(Scenario {
        name: raw.name,
        start,
        duration_hours: raw.duration_hours,
        timezone,
        seed: raw.seed,
        apis,
        auth_server,
        consumers,
        injections,
    })
}

/// The kind-specific keys of `injections[i]`, checked.
#[allow(clippy::too_many_arguments)]
fn injection_kind(
    path: &Path,
    key: &str,
    j: &RawInjection,
    apis: &[Api],
    auth_server: Option<&AuthServer>,
    consumers: &[Consumer],
    consumer: &Consumer,
    tz: Tz,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Result<InjectionKind> {
    let file = path.display();
    let need = |v: Option<String>, what: &str| v.ok_or_else(|| anyhow::anyhow!("{file}: {key} ({}) needs `{what}`", j.kind));
    let api = || -> Result<String> {
        let api = need(j.api.clone(), "api")?;
        if !apis.iter().any(|a| a.name == api) {
            bail!("{file}: {key}: `api: {api}` is not under `apis`; name one of them");
        }
        Ok(api)
    };
    let share = |v: Option<f64>, name: &str, default: f64| -> Result<f64> {
        let v = v.unwrap_or(default);
        if !(0.0..=1.0).contains(&v) {
            bail!("{file}: {key}: `{name}: {v}` must be 0 to 1");
        }
        Ok(v)
    };
    let accounts = || -> Result<u64> {
        let n = j.accounts.unwrap_or(50);
        if !(1..=MAX_INJECTION_ACCOUNTS).contains(&n) {
            bail!("{file}: {key}: `accounts: {n}` must be 1 to {MAX_INJECTION_ACCOUNTS}");
        }
        Ok(n)
    };
    let network = |what: &str| -> Result<(Ipv4Addr, u8)> {
        let text = need(j.source_network.clone(), "source_network")?;
        let net = cidr(path, &format!("{key}.source_network"), &text)?;
        if let Some(c) = consumers.iter().find(|c| overlaps(c.network, net)) {
            bail!("{file}: {key}: `source_network: {text}` overlaps consumer `{}`'s network; {what} must come from elsewhere", c.id);
        }
        Ok(net)
    };
    Ok(match j.kind.as_str() {
        "shadow_endpoint" => InjectionKind::ShadowEndpoint {
            host: need(j.host.clone(), "host")?,
            method: need(j.method.clone(), "method")?.to_ascii_uppercase(),
            path: need(j.path.clone(), "path")?,
        },
        "zombie_version" => InjectionKind::ZombieVersion { api: api()?, base_path: need(j.base_path.clone(), "base_path")? },
        "deprecated_operations" => InjectionKind::DeprecatedOperations { api: api()? },
        "object_enumeration" => InjectionKind::ObjectEnumeration {
            api: api()?,
            operation: j.operation.clone().unwrap_or_else(|| DEFAULT_OBJECT_OPERATION.to_string()),
            first_id: j.first_id,
            owned_share: share(j.owned_share, "owned_share", 0.03)?,
        },
        "credential_stuffing" => {
            let (host, server, login) = match (&j.host, &j.path, auth_server) {
                (Some(h), Some(p), _) => {
                    let server = apis.iter().find(|a| &a.host == h).map(|a| a.server).or(auth_server.filter(|a| &a.host == h).map(|a| a.server));
                    let Some(server) = server else {
                        bail!("{file}: {key}: `host: {h}` is served by no api and is not the auth_server; use one of their hosts");
                    };
                    (h.clone(), server, p.clone())
                }
                (None, None, Some(a)) => (a.host.clone(), a.server, a.token_path.clone()),
                _ => bail!("{file}: {key} (credential_stuffing) needs `host` and `path`, or an `auth_server` whose token endpoint it targets"),
            };
            let source_network = network("the guesses")?;
            let size = 1u64 << (32 - u32::from(source_network.1));
            let sources = j.sources.unwrap_or(1000);
            if sources == 0 || sources > MAX_STUFFING_SOURCES || sources > size.saturating_sub(2) {
                bail!("{file}: {key}: `sources: {sources}` must be 1 to {MAX_STUFFING_SOURCES} and fit in the source network (widen it)");
            }
            InjectionKind::CredentialStuffing {
                host,
                path: login,
                server,
                source_network,
                sources,
                success_share: share(j.success_share, "success_share", 0.01)?,
            }
        }
        "scraping" => InjectionKind::Scraping {
            api: api()?,
            accounts: accounts()?,
            operations: if j.operations.is_empty() {
                vec![
                    DEFAULT_OBJECT_OPERATION.to_string(),
                    "GET /accounts/{AccountId}/balances".to_string(),
                    DEFAULT_OVERSIZED_OPERATION.to_string(),
                ]
            } else {
                j.operations.clone()
            },
        },
        "off_hours_token" => {
            let (start, end) = window;
            let night = |t: DateTime<Utc>| {
                let h = chrono::Timelike::hour(&t.with_timezone(&tz));
                !(6..22).contains(&h)
            };
            let last = end - chrono::Duration::nanoseconds(1);
            if !night(start) || !night(last) || end - start > chrono::Duration::hours(8) {
                bail!("{file}: {key}: off_hours_token must lie within one bank-local night (22:00 to 06:00 {}); move `start`/`end`", tz.name());
            }
            if consumer.auth == AuthKind::None {
                bail!("{file}: {key}: consumer `{}` has no credentials to misuse; pick one with auth other than none", consumer.id);
            }
            InjectionKind::OffHoursToken { source_network: network("the misused token")? }
        }
        "error_spike" => {
            let status = j.status.unwrap_or(503);
            if !(400..=599).contains(&status) {
                bail!("{file}: {key}: `status: {status}` must be a 4xx or 5xx code");
            }
            InjectionKind::ErrorSpike { api: api()?, status, error_share: share(j.error_share, "error_share", 0.8)? }
        }
        "oversized_responses" => {
            let min = j.min_body_bytes.unwrap_or(2_000_000);
            let max = j.max_body_bytes.unwrap_or(20_000_000);
            if min == 0 || min > max || max > MAX_OVERSIZED_BODY {
                bail!("{file}: {key}: need 0 < min_body_bytes <= max_body_bytes <= {MAX_OVERSIZED_BODY}");
            }
            InjectionKind::OversizedResponses {
                api: api()?,
                operation: j.operation.clone().unwrap_or_else(|| DEFAULT_OVERSIZED_OPERATION.to_string()),
                min_body_bytes: min,
                max_body_bytes: max,
            }
        }
        "aggregator_accounts" => InjectionKind::AggregatorAccounts { api: api()?, accounts: accounts()? },
        "password_reset" => {
            InjectionKind::PasswordReset { api: api()?, unauthorized_share: share(j.unauthorized_share, "unauthorized_share", 0.5)? }
        }
        other => bail!(
            "{file}: {key}: `kind: {other}` is unknown; use shadow_endpoint, zombie_version, deprecated_operations, \
             object_enumeration, credential_stuffing, scraping, off_hours_token, error_spike, oversized_responses, \
             aggregator_accounts or password_reset"
        ),
    })
}

/// Whether two IPv4 networks share an address.
fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(a.0) & mask == u32::from(b.0) & mask
}
