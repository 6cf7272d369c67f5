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
}

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
}

/// What an injection does.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl InjectionKind {
    /// The name used in scenario files and truth.json.
    pub fn name(&self) -> &'static str {
        match self {
            InjectionKind::ShadowEndpoint { .. } => "shadow_endpoint",
            InjectionKind::ZombieVersion { .. } => "zombie_version",
            InjectionKind::DeprecatedOperations { .. } => "deprecated_operations",
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
    /// Requests per hour inside the window.
    pub requests_per_hour: f64,
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
        if !(0.0..=1.0).contains(&c.attended_share) || c.requests_per_hour < 0.0 || c.requests_per_session < 1.0 {
            bail!(
                "{}: consumer `{}`: attended_share must be 0 to 1, requests_per_hour at least 0, requests_per_session at least 1",
                path.display(),
                c.id
            );
        }
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
        });
    }
    let mut injections = Vec::new();
    for (i, j) in raw.injections.into_iter().enumerate() {
        let key = format!("injections[{i}]");
        let need = |v: Option<String>, what: &str| {
            v.ok_or_else(|| anyhow::anyhow!("{}: {key} ({}) needs `{what}`", path.display(), j.kind))
        };
        let kind = match j.kind.as_str() {
            "shadow_endpoint" => InjectionKind::ShadowEndpoint {
                host: need(j.host.clone(), "host")?,
                method: need(j.method.clone(), "method")?.to_ascii_uppercase(),
                path: need(j.path.clone(), "path")?,
            },
            "zombie_version" => InjectionKind::ZombieVersion {
                api: need(j.api.clone(), "api")?,
                base_path: need(j.base_path.clone(), "base_path")?,
            },
            "deprecated_operations" => InjectionKind::DeprecatedOperations { api: need(j.api.clone(), "api")? },
            other => bail!(
                "{}: {key}: `kind: {other}` is not known yet; use shadow_endpoint, zombie_version or deprecated_operations",
                path.display()
            ),
        };
        if !consumers.iter().any(|c| c.id == j.consumer) {
            bail!("{}: {key} uses consumer `{}`, which is not under `consumers`", path.display(), j.consumer);
        }
        let start = time(path, &format!("{key}.start"), &j.start)?;
        let end = time(path, &format!("{key}.end"), &j.end)?;
        if end <= start {
            bail!("{}: {key}: `end` must be after `start`", path.display());
        }
        injections.push(Injection { kind, start, end, consumer: j.consumer, requests_per_hour: j.requests_per_hour });
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
