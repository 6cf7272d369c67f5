//! Validation of a whole scenario file: the top-level keys, APIs, configured consumers, the
//! `population:` groups (population.rs) and the injections (kinds.rs).

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono_tz::Tz;

use super::raw::{RawConsumer, RawScenario};
use super::{
    addr, auto_customers, cert_header, cidr, kinds, population, time, Api, AuthKind, AuthServer, Consumer, Injection, Protocol,
    Scenario,
    DEFAULT_SEED, MAX_CONSUMERS, MAX_CUSTOMERS, MAX_DURATION_HOURS, MAX_INJECTION_SESSION,
};

/// Reads and validates a scenario file. Relative spec paths are taken from the file's folder.
/// `seed` (the command line's) wins over the file's.
pub fn load(path: &Path, seed: Option<u64>) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read scenario {}", path.display()))?;
    parse(path, &text, seed)
}

/// Validates scenario text read from `path`; `seed` (the command line's) wins over the file's.
/// The population is drawn from the resulting seed.
pub fn parse(path: &Path, text: &str, seed: Option<u64>) -> Result<Scenario> {
    let raw: RawScenario = serde_norway::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        anyhow::anyhow!("{}{at}: {e}; see fixtures/scenarios/README.md for the keys", path.display())
    })?;
    let seed = seed.or(raw.seed).unwrap_or(DEFAULT_SEED);
    let dir = path.parent().unwrap_or(Path::new("."));
    let start = time(path, "start", &raw.start)?;
    if raw.duration_hours == 0 || raw.duration_hours > MAX_DURATION_HOURS {
        bail!("{}: `duration_hours: {}` must be 1 to {MAX_DURATION_HOURS}", path.display(), raw.duration_hours);
    }
    let end = start + chrono::Duration::hours(i64::try_from(raw.duration_hours).unwrap_or(0));
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
        let protocol = match a.protocol.as_deref() {
            None => Protocol::Http1,
            Some(name) => Protocol::parse(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: api `{}`: `protocol: {name}` is not known; write one of {}",
                    path.display(),
                    a.name,
                    Protocol::NAMES.join(", ")
                )
            })?,
        };
        apis.push(Api {
            protocol,
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
        Some(a) => {
            Some(AuthServer { server: addr(path, "auth_server.server", &a.server)?, host: a.host, token_path: a.token_path })
        }
        None => None,
    };
    let mut consumers = Vec::new();
    for c in raw.consumers {
        if consumers.iter().any(|x: &Consumer| x.id == c.id) {
            bail!("{}: consumer id `{}` is used twice; ids must be unique", path.display(), c.id);
        }
        consumers.push(consumer(path, c, &apis, auth_server.as_ref(), start)?);
    }
    let group_operations = raw.population.iter().map(|g| (g.group.clone(), g.apis.clone(), g.operations.clone())).collect();
    let generated = population::expand(path, raw.population, &apis, auth_server.as_ref(), &consumers, start, seed)?;
    consumers.extend(generated);
    if consumers.is_empty() {
        bail!("{}: there are no consumers; add `consumers` or a `population` group", path.display());
    }
    if consumers.len() as u64 > MAX_CONSUMERS {
        bail!(
            "{}: {} consumers is more than the {MAX_CONSUMERS} a scenario may hold; lower the groups' `count`",
            path.display(),
            consumers.len()
        );
    }
    let mut injections = Vec::new();
    for (i, j) in raw.injections.into_iter().enumerate() {
        let key = format!("injections[{i}]");
        let from = time(path, &format!("{key}.start"), &j.start)?;
        let to = time(path, &format!("{key}.end"), &j.end)?;
        if to <= from {
            bail!("{}: {key}: `end` must be after `start`", path.display());
        }
        if from < start || to > end {
            bail!(
                "{}: {key}: the window {} to {} is not inside the scenario ({} to {}); move it inside, the truth records windows exactly",
                path.display(),
                from.to_rfc3339(),
                to.to_rfc3339(),
                start.to_rfc3339(),
                end.to_rfc3339()
            );
        }
        let consumer = match &j.consumer {
            Some(id) => match consumers.iter().find(|c| &c.id == id) {
                Some(c) => Some(c),
                None => bail!(
                    "{}: {key} uses consumer `{id}`, which is not under `consumers` nor drawn by a `population` group",
                    path.display()
                ),
            },
            None if j.kind == "unauthenticated_access" => None,
            None => bail!("{}: {key} ({}) needs `consumer`: whose identity it uses", path.display(), j.kind),
        };
        let (kind, requests_per_hour) =
            kinds::injection_kind(path, &key, &j, &apis, auth_server.as_ref(), &consumers, consumer, timezone, (from, to))?;
        let requests_per_session = j.requests_per_session.unwrap_or(1);
        if !(1..=MAX_INJECTION_SESSION).contains(&requests_per_session) {
            bail!("{}: {key}: `requests_per_session` must be 1 to {MAX_INJECTION_SESSION}", path.display());
        }
        injections.push(Injection {
            kind,
            start: from,
            end: to,
            consumer: j.consumer.clone().unwrap_or_default(),
            requests_per_hour,
            requests_per_session,
        });
    }
    Ok(Scenario {
        name: raw.name,
        start,
        duration_hours: raw.duration_hours,
        timezone,
        seed,
        apis,
        auth_server,
        consumers,
        injections,
        group_operations,
    })
}

/// Parses an `auth` name.
pub(super) fn auth_kind(name: &str) -> Option<AuthKind> {
    Some(match name {
        "jwt" => AuthKind::Jwt,
        "opaque" => AuthKind::Opaque,
        "api_key" => AuthKind::ApiKey,
        "basic" => AuthKind::Basic,
        "none" => AuthKind::None,
        _ => return None,
    })
}

/// One configured consumer, checked.
fn consumer(
    path: &Path,
    c: RawConsumer,
    apis: &[Api],
    auth_server: Option<&AuthServer>,
    start: chrono::DateTime<chrono::Utc>,
) -> Result<Consumer> {
    let file = path.display();
    let Some(auth) = auth_kind(&c.auth) else {
        bail!("{file}: consumer `{}`: `auth: {}` is unknown; use jwt, opaque, api_key, basic or none", c.id, c.auth);
    };
    if auth == AuthKind::Opaque && auth_server.is_none() {
        bail!("{file}: consumer `{}` uses opaque tokens but there is no `auth_server`; add one", c.id);
    }
    for a in &c.apis {
        if !apis.iter().any(|x| &x.name == a) {
            bail!("{file}: consumer `{}` calls api `{a}`, which is not under `apis`", c.id);
        }
    }
    if !(0.0..=1.0).contains(&c.attended_share) {
        bail!(
            "{file}: consumer `{}`: `attended_share: {}` must be 0 to 1 (the share of sessions with the customer present)",
            c.id,
            c.attended_share
        );
    }
    if !(c.requests_per_hour >= 0.0 && c.requests_per_hour.is_finite()) {
        bail!("{file}: consumer `{}`: `requests_per_hour: {}` must be 0 or more", c.id, c.requests_per_hour);
    }
    if !(c.requests_per_session >= 1.0 && c.requests_per_session.is_finite()) {
        bail!("{file}: consumer `{}`: `requests_per_session: {}` must be 1 or more", c.id, c.requests_per_session);
    }
    let customers = match c.customers {
        Some(n) if (1..=MAX_CUSTOMERS).contains(&n) => n,
        Some(n) => bail!("{file}: consumer `{}`: `customers: {n}` must be 1 to {MAX_CUSTOMERS}", c.id),
        None => auto_customers(c.requests_per_hour, c.requests_per_session, c.attended_share),
    };
    let client_cert = c.client_cert.as_ref().map(|cc| {
        let cn = cc.common_name.clone().unwrap_or_else(|| format!("{} client", cc.organization));
        cert_header(&c.id, &cc.organization, &cc.org_id, &cn, &cc.country, start)
    });
    Ok(Consumer {
        network: cidr(path, "consumers[].network", &c.network)?,
        client_id: c.client_id.unwrap_or_else(|| c.id.clone()),
        kind: c.kind,
        auth,
        user_agent: c.user_agent,
        requests_per_hour: c.requests_per_hour,
        attended_share: c.attended_share,
        apis: c.apis,
        operations: c.operations,
        requests_per_session: c.requests_per_session,
        org_id: c.client_cert.map(|cc| cc.org_id),
        client_cert,
        customers,
        group: None,
        skip_deprecated: false,
        id: c.id,
    })
}

impl Scenario {
    /// Keeps only the first `hours` of the scenario (when shorter than it): injections whose
    /// window ends later are left out, and their names are returned so the caller can say so.
    pub fn truncate(&mut self, hours: u64) -> Vec<String> {
        if hours == 0 || hours >= self.duration_hours {
            return Vec::new();
        }
        self.duration_hours = hours;
        let end = self.start + chrono::Duration::hours(i64::try_from(hours).unwrap_or(0));
        let (kept, dropped): (Vec<Injection>, Vec<Injection>) =
            std::mem::take(&mut self.injections).into_iter().partition(|j| j.end <= end);
        self.injections = kept;
        dropped.iter().map(|j| format!("{} ({})", j.kind.name(), j.start.to_rfc3339())).collect()
    }
}
