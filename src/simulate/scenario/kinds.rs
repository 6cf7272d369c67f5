//! The kind-specific keys of one injection, checked (kinds and keys in
//! fixtures/scenarios/README.md), and what each kind is (name, pace, class, API).

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::raw::RawInjection;
use super::{tuning, 
    cidr, overlaps, Api, AuthKind, AuthServer, Consumer, InjectionKind, Smuggling, DEFAULT_OBJECT_OPERATION,
    DEFAULT_OVERSIZED_OPERATION, MAX_INJECTION_ACCOUNTS, MAX_OVERSIZED_BODY, MAX_STUFFING_SOURCES,
};
use crate::simulate::schedule::mean_activity;

/// Default `times_usual` of a rate surge.
pub const DEFAULT_TIMES_USUAL: f64 = 8.0;
/// Largest `times_usual` of a rate surge.
pub const MAX_TIMES_USUAL: f64 = 1000.0;
/// Default user agent of `new_user_agent`: a scripted client.
pub const DEFAULT_NEW_USER_AGENT: &str = "python-requests/2.31.0";
/// Default user agent of `unauthenticated_access`.
pub const DEFAULT_UNAUTHENTICATED_USER_AGENT: &str = "curl/8.5.0";
/// Default share of smuggling requests the server rejects with 400.
pub const DEFAULT_REJECTED_SHARE: f64 = 0.5;

/// The kind of `injections[i]` with its keys checked, and its `requests_per_hour` (computed
/// from `times_usual` for a rate surge).
#[allow(clippy::too_many_arguments)]
pub(super) fn injection_kind(
    path: &Path,
    key: &str,
    j: &RawInjection,
    apis: &[Api],
    auth_server: Option<&AuthServer>,
    consumers: &[Consumer],
    consumer: Option<&Consumer>,
    tz: Tz,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Result<(InjectionKind, f64)> {
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
            bail!(
                "{file}: {key}: `source_network: {text}` overlaps consumer `{}`'s network; {what} must come from elsewhere",
                c.id
            );
        }
        Ok(net)
    };
    let rate = || -> Result<f64> {
        match j.requests_per_hour {
            Some(r) if r.is_finite() && r >= 0.0 => Ok(r),
            Some(_) => bail!("{file}: {key}: `requests_per_hour` must be a number at least 0"),
            None => bail!("{file}: {key} ({}) needs `requests_per_hour`", j.kind),
        }
    };
    // Present for every kind but an unauthenticated access without one (checked by the caller).
    let who = || consumer.ok_or_else(|| anyhow::anyhow!("{file}: {key} ({}) needs `consumer`", j.kind));
    let kind = match j.kind.as_str() {
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
                bail!(
                    "{file}: {key}: off_hours_token must lie within one bank-local night (22:00 to 06:00 {}); move `start`/`end`",
                    tz.name()
                );
            }
            let c = who()?;
            if c.auth == AuthKind::None {
                bail!("{file}: {key}: consumer `{}` has no credentials to misuse; pick one with auth other than none", c.id);
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
        "password_reset" => InjectionKind::PasswordReset {
            api: api()?,
            unauthorized_share: share(j.unauthorized_share, "unauthorized_share", 0.5)?,
        },
        "rate_surge" => {
            let times = j.times_usual.unwrap_or(DEFAULT_TIMES_USUAL);
            if !(times > 1.0 && times <= MAX_TIMES_USUAL) {
                bail!("{file}: {key}: `times_usual: {times}` must be more than 1 and at most {MAX_TIMES_USUAL}");
            }
            if j.requests_per_hour.is_some() {
                bail!("{file}: {key}: a rate_surge takes its rate from `times_usual` and the consumer's usual rate; remove `requests_per_hour`");
            }
            if j.requests_per_session.is_some() {
                bail!("{file}: {key}: a rate_surge makes the consumer's usual sessions; remove `requests_per_session`");
            }
            let c = who()?;
            let usual = c.requests_per_hour * mean_activity(window.0, window.1, tz);
            if usual <= 0.0 {
                bail!("{file}: {key}: consumer `{}` makes no requests in the window, so there is no usual rate to multiply; pick a busier consumer or window", c.id);
            }
            return Ok((InjectionKind::RateSurge { times_usual: times }, (times - 1.0) * usual));
        }
        "new_user_agent" => {
            if j.requests_per_session.is_some() {
                bail!("{file}: {key}: a new_user_agent makes the consumer's usual sessions; remove `requests_per_session`");
            }
            let ua = j.user_agent.clone().unwrap_or_else(|| DEFAULT_NEW_USER_AGENT.to_string());
            let c = who()?;
            if ua == c.user_agent || ua.trim().is_empty() {
                bail!("{file}: {key}: `user_agent: {ua}` must be new to consumer `{}` (it uses `{}`)", c.id, c.user_agent);
            }
            InjectionKind::NewUserAgent { user_agent: ua }
        }
        "unauthenticated_access" => InjectionKind::UnauthenticatedAccess {
            api: api()?,
            operation: j.operation.clone().unwrap_or_else(|| DEFAULT_OBJECT_OPERATION.to_string()),
            source_network: network("unauthenticated clients")?,
            user_agent: j.user_agent.clone().unwrap_or_else(|| DEFAULT_UNAUTHENTICATED_USER_AGENT.to_string()),
        },
        "request_smuggling" => {
            let c = who()?;
            let technique = match j.technique.as_deref() {
                Some("cl_te") => Smuggling::ClTe,
                Some("duplicate_cl") => Smuggling::DuplicateCl,
                Some("te_obfuscated") => Smuggling::TeObfuscated,
                Some(other) => bail!("{file}: {key}: `technique: {other}` is unknown; use cl_te, duplicate_cl or te_obfuscated"),
                None => bail!("{file}: {key} (request_smuggling) needs `technique`: cl_te, duplicate_cl or te_obfuscated"),
            };
            let api = match &j.api {
                Some(_) => api()?,
                None => match c.apis.first() {
                    Some(a) => a.clone(),
                    None => bail!("{file}: {key}: consumer `{}` calls no api; name one with `api`", c.id),
                },
            };
            InjectionKind::RequestSmuggling {
                api,
                technique,
                rejected_share: share(j.rejected_share, "rejected_share", DEFAULT_REJECTED_SHARE)?,
            }
        }
        "pen_test" => InjectionKind::PenTest(tuning::pen_test(path, key, j, api()?, consumers, who()?)?),
        // The two paced by their own keys make no `requests_per_hour`.
        "synthetic_monitor" => {
            return Ok((InjectionKind::SyntheticMonitor(tuning::synthetic_monitor(path, key, j, api()?, consumers, who()?)?), 0.0))
        }
        "batch_job" => {
            let b = tuning::batch_job(path, key, j, api()?)?;
            if crate::simulate::schedule::daily_runs(window.0, window.1, tz, b.at, b.duration_minutes).is_empty() {
                bail!(
                    "{file}: {key}: no whole run of {} minutes at {:02}:{:02} {} fits in the window; widen `start`/`end`",
                    b.duration_minutes,
                    b.at.0,
                    b.at.1,
                    tz.name()
                );
            }
            return Ok((InjectionKind::BatchJob(b), 0.0));
        }
        other => bail!(
            "{file}: {key}: `kind: {other}` is unknown; use shadow_endpoint, zombie_version, deprecated_operations, \
             object_enumeration, credential_stuffing, scraping, off_hours_token, error_spike, oversized_responses, \
             rate_surge, new_user_agent, unauthenticated_access, request_smuggling, aggregator_accounts, password_reset, \
             pen_test, synthetic_monitor or batch_job"
        ),
    };
    Ok((kind, rate()?))
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
            InjectionKind::RateSurge { .. } => "rate_surge",
            InjectionKind::NewUserAgent { .. } => "new_user_agent",
            InjectionKind::UnauthenticatedAccess { .. } => "unauthenticated_access",
            InjectionKind::RequestSmuggling { .. } => "request_smuggling",
            InjectionKind::PenTest(_) => "pen_test",
            InjectionKind::SyntheticMonitor(_) => "synthetic_monitor",
            InjectionKind::BatchJob(_) => "batch_job",
        }
    }

    /// True for the kinds whose sessions come at a steady pace (their count is the expected
    /// one) rather than as a Poisson process: rate surges, new user agents, unauthenticated
    /// access and request smuggling.
    pub fn steady(&self) -> bool {
        matches!(
            self,
            InjectionKind::RateSurge { .. }
                | InjectionKind::NewUserAgent { .. }
                | InjectionKind::UnauthenticatedAccess { .. }
                | InjectionKind::RequestSmuggling { .. }
        )
    }

    /// True for the confounders: traffic that looks odd but must not alert.
    pub fn benign(&self) -> bool {
        matches!(self, InjectionKind::AggregatorAccounts { .. } | InjectionKind::PasswordReset { .. })
    }

    /// True for the tuning kinds: legitimate traffic that does alert an untuned sensor, and
    /// that a SOC silences by tuning (a penetration test, a synthetic monitor, a batch job).
    pub fn tuning(&self) -> bool {
        matches!(self, InjectionKind::PenTest(_) | InjectionKind::SyntheticMonitor(_) | InjectionKind::BatchJob(_))
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
            | InjectionKind::PasswordReset { api, .. }
            | InjectionKind::UnauthenticatedAccess { api, .. }
            | InjectionKind::RequestSmuggling { api, .. } => Some(api),
            InjectionKind::PenTest(t) => Some(&t.api),
            InjectionKind::SyntheticMonitor(m) => Some(&m.api),
            InjectionKind::BatchJob(b) => Some(&b.api),
            _ => None,
        }
    }
}
