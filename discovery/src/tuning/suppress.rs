//! Suppression rules: traffic the SOC knows about (a penetration-test network, a synthetic
//! monitor, the bank's own batch jobs) and does not want alerted.
//!
//! A rule names who set it (`owner`), why (`reason`) and until when (`expires`, packet time),
//! and at least one criterion. Every criterion it gives must hold; within one criterion any
//! listed value may match. A finding is judged once, when it opens, against the rules in their
//! order: the first rule that holds marks it, and the mark stays with the finding for all its
//! events (so an incident that started inside a maintenance window is not published when it
//! closes after it). Rules that changed on a reload apply to findings that open afterwards.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::window::{parse_instant, TimeWindow};
use crate::behaviour::{AnomalyKind, ConsumerRef, EndpointRef};
use crate::identity::Prefix;
use crate::sketch::clock::BankClock;

/// Most rules loaded.
pub const MAX_SUPPRESSIONS: usize = 1000;
/// Most values in one criterion of one rule.
pub const MAX_VALUES_PER_CRITERION: usize = 256;
/// Longest id, owner, value or pattern, in bytes (a reason may be 1 KiB).
pub const MAX_TEXT_BYTES: usize = 256;
/// Longest reason, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;

/// A rule as written in the configuration (`[[suppress]]`); see [`Suppression::compile`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionSpec {
    /// Unique name: letters, digits, `.`, `_` and `-`.
    pub id: String,
    /// Who set it (a person or team).
    pub owner: String,
    /// Why.
    pub reason: String,
    /// Until when: an RFC 3339 time, or a date (the whole of that day, bank-local).
    pub expires: String,
    /// Client networks (CIDR or address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Consumers, by label (`client_id`, organisation, user) or by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<String>,
    /// User agents: a finding matches when its request's agent contains one (any case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_agents: Vec<String>,
    /// TLS client fingerprints (JA4), exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<String>,
    /// Endpoints: `PATH`, `METHOD PATH` or `HOST METHOD PATH`, each part `*` for any; a host
    /// may be `*.suffix` and a path may end in `*` (a prefix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    /// Anomaly kinds (`bola_enumeration`, `off_hours`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Time windows (see [`TimeWindow::parse`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<String>,
}

/// One part of an endpoint criterion: any, exact, or a prefix / suffix pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Any,
    Exact(String),
    /// `*.suffix` (hosts): the stored text is `.suffix`.
    Suffix(String),
    /// `prefix*` (paths).
    Prefix(String),
}

impl Part {
    fn matches(&self, value: &str) -> bool {
        match self {
            Part::Any => true,
            Part::Exact(s) => s.eq_ignore_ascii_case(value),
            Part::Suffix(s) => value.len() > s.len() && value.to_ascii_lowercase().ends_with(s.as_str()),
            Part::Prefix(s) => value.starts_with(s.as_str()),
        }
    }
}

/// An endpoint criterion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointMatch {
    host: Part,
    method: Part,
    path: Part,
}

impl EndpointMatch {
    /// Parses `PATH`, `METHOD PATH` or `HOST METHOD PATH`.
    pub fn parse(text: &str) -> Result<EndpointMatch, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (host, method, path) = match parts.as_slice() {
            [p] => ("*", "*", *p),
            [m, p] => ("*", *m, *p),
            [h, m, p] => (*h, *m, *p),
            _ => return Err(format!("endpoint {text:?}: write PATH, METHOD PATH or HOST METHOD PATH (e.g. `api.bank.example GET /accounts/{{AccountId}}`)")),
        };
        let host = match host {
            "*" => Part::Any,
            h if h.starts_with("*.") => Part::Suffix(h.get(1..).unwrap_or_default().to_ascii_lowercase()),
            h if h.contains('*') => return Err(format!("endpoint {text:?}: a host is exact, `*` or `*.suffix`")),
            h => Part::Exact(h.to_ascii_lowercase()),
        };
        let method = match method {
            "*" => Part::Any,
            m if m.bytes().all(|b| b.is_ascii_alphabetic()) => Part::Exact(m.to_ascii_uppercase()),
            _ => return Err(format!("endpoint {text:?}: the method is a word such as GET, or `*`")),
        };
        let path = match path {
            "*" => Part::Any,
            p if !p.starts_with('/') => return Err(format!("endpoint {text:?}: the path must start with '/' (a template as the inventory names it)")),
            p => match p.strip_suffix('*') {
                Some(prefix) if !prefix.contains('*') => Part::Prefix(prefix.to_string()),
                Some(_) => return Err(format!("endpoint {text:?}: `*` is allowed only at the end of the path")),
                None if p.contains('*') => return Err(format!("endpoint {text:?}: `*` is allowed only at the end of the path")),
                None => Part::Exact(p.to_string()),
            },
        };
        Ok(EndpointMatch { host, method, path })
    }

    fn matches(&self, e: &EndpointRef) -> bool {
        // Paths are case-sensitive; Part::Exact compares without case, so check paths here.
        let path_ok = match &self.path {
            Part::Exact(p) => *p == e.path_template,
            other => other.matches(&e.path_template),
        };
        path_ok && self.host.matches(&e.service) && self.method.matches(&e.method)
    }
}

/// A compiled rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// As written.
    pub spec: SuppressionSpec,
    /// Packet time (ns) from which the rule no longer applies.
    pub expires: u64,
    networks: Vec<Prefix>,
    user_agents: Vec<String>,
    endpoints: Vec<EndpointMatch>,
    kinds: Vec<AnomalyKind>,
    windows: Vec<TimeWindow>,
}

/// What a finding is, for the rules.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// Its kind.
    pub kind: AnomalyKind,
    /// Packet time it opened at (ns).
    pub time: u64,
    /// The consumer.
    pub consumer: Option<&'a ConsumerRef>,
    /// Client address of the detecting request.
    pub client_ip: Option<IpAddr>,
    /// Its user agent.
    pub user_agent: Option<&'a str>,
    /// Its TLS client fingerprint (JA4), when known.
    pub fingerprint: Option<&'a str>,
    /// The endpoint, for per-endpoint kinds.
    pub endpoint: Option<&'a EndpointRef>,
}

/// The mark a suppressed finding carries in every event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionMark {
    /// The rule's id.
    pub rule: String,
    /// Its owner.
    pub owner: String,
    /// Its reason.
    pub reason: String,
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.len() > max {
        return Err(format!("{field} is {} bytes; at most {max}", value.len()));
    }
    Ok(())
}

fn each<T>(field: &str, values: &[String], parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    if values.len() > MAX_VALUES_PER_CRITERION {
        return Err(format!("{field} has {} values; at most {MAX_VALUES_PER_CRITERION} (split the rule)", values.len()));
    }
    values
        .iter()
        .map(|v| {
            check_text(field, v, MAX_TEXT_BYTES)?;
            // Every message starts with the field, so the shell can point at its line.
            parse(v).map_err(|e| if e.starts_with(field) { e } else { format!("{field}: {e}") })
        })
        .collect()
}

impl Suppression {
    /// Checks and compiles a rule; the error names the field and the fix.
    pub fn compile(spec: &SuppressionSpec, clock: &BankClock) -> Result<Suppression, String> {
        check_text("id", &spec.id, MAX_TEXT_BYTES)?;
        if !spec.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(format!("id {:?}: use letters, digits, '.', '_' and '-' only", spec.id));
        }
        check_text("owner", &spec.owner, MAX_TEXT_BYTES)?;
        check_text("reason", &spec.reason, MAX_REASON_BYTES)?;
        check_text("expires", &spec.expires, MAX_TEXT_BYTES)?;
        let expires = parse_instant(&spec.expires, clock, true).map_err(|e| format!("expires: {e}"))?;
        let networks = each("networks", &spec.networks, |v| v.parse::<Prefix>().map_err(|e| format!("networks: {e}")))?;
        each("consumers", &spec.consumers, |_| Ok(()))?;
        let user_agents = each("user_agents", &spec.user_agents, |v| Ok(v.to_ascii_lowercase()))?;
        each("fingerprints", &spec.fingerprints, |_| Ok(()))?;
        let endpoints = each("endpoints", &spec.endpoints, EndpointMatch::parse)?;
        let kinds = each("kinds", &spec.kinds, |v| {
            AnomalyKind::ALL.iter().copied().find(|k| k.code() == v.trim()).ok_or_else(|| {
                let all: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.code()).collect();
                format!("kinds: {v:?} is not an anomaly kind; one of {}", all.join(", "))
            })
        })?;
        let windows = each("windows", &spec.windows, |v| TimeWindow::parse(v, clock))?;
        let criteria = [spec.networks.len(), spec.consumers.len(), spec.user_agents.len(), spec.fingerprints.len(), spec.endpoints.len(), spec.kinds.len(), spec.windows.len()];
        if criteria.iter().all(|n| *n == 0) {
            return Err("the rule has no criterion and would suppress every alert; give networks, consumers, user_agents, fingerprints, endpoints, kinds or windows".into());
        }
        Ok(Suppression { spec: spec.clone(), expires, networks, user_agents, endpoints, kinds, windows })
    }

    /// Whether the rule holds for `s` (expiry included).
    pub fn matches(&self, s: &Subject<'_>, clock: &BankClock) -> bool {
        if s.time >= self.expires {
            return false;
        }
        let any = |empty: bool, hit: &dyn Fn() -> bool| empty || hit();
        any(self.kinds.is_empty(), &|| self.kinds.contains(&s.kind))
            && any(self.networks.is_empty(), &|| s.client_ip.is_some_and(|ip| self.networks.iter().any(|n| n.contains(ip))))
            && any(self.spec.consumers.is_empty(), &|| s.consumer.is_some_and(|c| self.spec.consumers.iter().any(|v| *v == c.label || v.eq_ignore_ascii_case(&c.id))))
            && any(self.user_agents.is_empty(), &|| {
                s.user_agent.is_some_and(|ua| {
                    let ua = ua.to_ascii_lowercase();
                    self.user_agents.iter().any(|p| ua.contains(p.as_str()))
                })
            })
            && any(self.spec.fingerprints.is_empty(), &|| s.fingerprint.is_some_and(|f| self.spec.fingerprints.iter().any(|v| v == f)))
            && any(self.endpoints.is_empty(), &|| s.endpoint.is_some_and(|e| self.endpoints.iter().any(|m| m.matches(e))))
            && any(self.windows.is_empty(), &|| self.windows.iter().any(|w| w.contains(s.time, clock)))
    }

    /// The mark it puts on a finding.
    pub fn mark(&self) -> SuppressionMark {
        SuppressionMark { rule: self.spec.id.clone(), owner: self.spec.owner.clone(), reason: self.spec.reason.clone() }
    }
}

/// The rules in force, in order, with the bank's clock for their windows.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    rules: Vec<Suppression>,
    clock: Option<BankClock>,
}

impl Suppressions {
    /// Compiles every rule; the error gives the index (from 0) of the first bad rule and why.
    pub fn compile(specs: &[SuppressionSpec], clock: BankClock) -> Result<Suppressions, (usize, String)> {
        if specs.len() > MAX_SUPPRESSIONS {
            return Err((MAX_SUPPRESSIONS, format!("{} rules; at most {MAX_SUPPRESSIONS}", specs.len())));
        }
        let mut rules: Vec<Suppression> = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            let r = Suppression::compile(s, &clock).map_err(|e| (i, e))?;
            if rules.iter().any(|o| o.spec.id == r.spec.id) {
                return Err((i, format!("id {:?} is used by an earlier rule; ids must be unique", r.spec.id)));
            }
            rules.push(r);
        }
        Ok(Suppressions { rules, clock: Some(clock) })
    }

    /// The rules.
    pub fn rules(&self) -> &[Suppression] {
        &self.rules
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule that holds for `s`.
    pub fn matching(&self, s: &Subject<'_>) -> Option<&Suppression> {
        let clock = self.clock.unwrap_or_else(BankClock::utc);
        self.rules.iter().find(|r| r.matches(s, &clock))
    }
}
