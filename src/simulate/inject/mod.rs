//! The behavioural injections and benign confounders: object-id enumeration, credential
//! stuffing, scraping past the PSD2 limit, off-hours token use, error spikes, oversized
//! responses, rate surges, a new user agent, unauthenticated access to customer data, request
//! smuggling, an aggregator reading many accounts, a password-reset day, and the month-end
//! peak recorded as a confounder window. Each keeps the facts its truth entry reports, counted
//! from what was written, not from what was configured.
//!
//! Files: this one (accounting, checks, dispatch), `facts.rs` (the truth of each kind), `session.rs` (the kinds that write
//! connections of their own), `exposure.rs` (unauthenticated access and request smuggling),
//! `tuning.rs` (the legitimate look-alikes a SOC tunes away: a penetration test, a synthetic
//! monitor, a nightly batch job).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::Ipv4Addr;

use anyhow::{bail, Result};
use apitap_discovery::openapi::{Operation, ParamIn};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::gen::{Generator, LoadedApi, Usual};
use super::scenario::{InjectionKind, Scenario};
use super::schedule::{from_nanos, is_month_end, nanos};
use super::truth::{InjectionFacts, InjectionTruth};
use super::values::is_id_name;

mod exposure;
mod facts;
mod session;
mod tuning;

pub use tuning::MONITOR_FAILURE_STATUS;

/// Object ids by parameter name, as [`BuildOpts::ids`] takes them.
pub(crate) type Ids = Vec<(String, String)>;

/// Requests per hour from which an enumeration counts as `fast`.
const FAST_ENUMERATION_PER_HOUR: f64 = 60.0;

/// Unattended pulls of one account per day that PSD2 allows a TPP (RTS article 36(5)).
pub const PSD2_UNATTENDED_PULLS_PER_DAY: u64 = 4;

/// Request times an injection's truth lists (`first_request_times`).
pub const FIRST_REQUEST_TIMES: usize = 100;

/// How [`Generator::build`] departs from normal traffic.
#[derive(Debug, Clone, Default)]
pub struct BuildOpts {
    /// Force this status (no error spike applies).
    pub status: Option<u16>,
    /// Use these object ids for path parameters instead of the customer's learned ones.
    pub ids: Option<Ids>,
    /// Remember the ids of a successful answer for the customer's later requests (normal
    /// traffic does).
    pub learn: bool,
    /// The customer (index) the request is for: its ids, its home address when attended.
    pub customer: Option<u64>,
    /// Make the answer's list of objects with this id property hold exactly these ids (a
    /// listing that hands out the ids read next).
    pub list_ids: Option<(String, Vec<String>)>,
    /// Give every account object in the answer an IBAN identification.
    pub identification: bool,
}

/// What one injection wrote so far.
#[derive(Debug, Default)]
pub struct InjectAcc {
    /// Endpoints touched ("host METHOD template").
    pub endpoints: BTreeSet<String>,
    requests: u64,
    first: Option<u64>,
    last: Option<u64>,
    /// The earliest request times, sorted, at most [`FIRST_REQUEST_TIMES`].
    times: Vec<u64>,
    ids: BTreeSet<String>,
    next_id: Option<u64>,
    id_range: Option<(u64, u64)>,
    sources: Vec<Ipv4Addr>,
    next_source: usize,
    used_sources: BTreeSet<Ipv4Addr>,
    successes: u64,
    accounts: Vec<String>,
    next_account: usize,
    pulls: BTreeMap<(usize, NaiveDate), u64>,
    api_requests: u64,
    /// Errors it caused (error spike: imposed statuses; password reset: 401s).
    pub(crate) errors: u64,
    bytes: u64,
    max_body: u64,
    /// Rate surge: every request of the consumer from its own network inside the window.
    pub(crate) window_requests: u64,
    /// Request smuggling: requests with an ambiguous head, and those answered 400.
    smuggled: u64,
    rejected: u64,
    /// Penetration test: activities started; batch job: passes written.
    next_activity: u64,
    /// Penetration test: requests per activity (`tuning::PEN_TEST_ACTIVITIES`).
    by_activity: [u64; 4],
    /// Penetration test: the next probe path.
    next_probe: usize,
    /// Synthetic monitor: checks, and those that failed.
    checks: u64,
    failed_checks: u64,
    /// Synthetic monitor: when each failing check's first request was sent (the first
    /// `tuning::MAX_FAILED_CHECK_TIMES`).
    failed_check_times: Vec<u64>,
    /// Batch job: the bank-local nights it ran.
    nights: BTreeSet<NaiveDate>,
}

/// Unix nanoseconds of a time.
pub(crate) fn nanos_of(t: DateTime<Utc>) -> u64 {
    nanos(t)
}

/// Finds an operation by "METHOD /path" (as in the spec) or operationId; failing that, by a
/// path that differs only in letter case (`{AccountId}` finds Open Finance Brasil's
/// `{accountId}`), so the defaults serve both families.
pub fn find_op<'a>(api: &'a LoadedApi, want: &str) -> Option<&'a Operation> {
    let ops = &api.spec.operations;
    ops.iter()
        .find(|op| op.operation_id.as_deref() == Some(want) || format!("{} {}", op.method, op.path) == want)
        .or_else(|| ops.iter().find(|op| format!("{} {}", op.method, op.path).eq_ignore_ascii_case(want)))
}

/// The listing that hands out the ids `op` reads: the GET of the collection above `op`'s first
/// object-id path parameter (`GET /accounts` for `GET /accounts/{AccountId}/balances`), with
/// that parameter's name.
pub(crate) fn listing_of<'a>(api: &'a LoadedApi, op: &Operation) -> Option<(&'a Operation, String)> {
    let param = op.parameters.iter().find(|p| p.location == ParamIn::Path && is_id_name(&p.name))?;
    let at = op.path.find(&format!("/{{{}}}", param.name))?;
    let collection = op.path.get(..at)?;
    let list = api.spec.operations.iter().find(|o| o.method == "GET" && o.path == collection)?;
    Some((list, param.name.clone()))
}

/// Checks that every operation an injection names is in its API's spec.
pub fn check(sc: &Scenario, apis: &[LoadedApi]) -> Result<()> {
    for (i, inj) in sc.injections.iter().enumerate() {
        let ops: Vec<&str> = match &inj.kind {
            InjectionKind::ObjectEnumeration { operation, .. }
            | InjectionKind::OversizedResponses { operation, .. }
            | InjectionKind::UnauthenticatedAccess { operation, .. } => vec![operation],
            InjectionKind::Scraping { operations, .. } => operations.iter().map(String::as_str).collect(),
            InjectionKind::PenTest(t) => vec![&t.operation],
            InjectionKind::SyntheticMonitor(m) => m.operations.iter().map(String::as_str).collect(),
            InjectionKind::BatchJob(b) => b.operations.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        let Some(name) = inj.kind.api() else { continue };
        let Some(api) = apis.iter().find(|a| a.name == name) else {
            bail!("scenario: injections[{i}] ({}): api `{name}` is not loaded", inj.kind.name());
        };
        for op in ops {
            let Some(found) = find_op(api, op) else {
                bail!("scenario: injections[{i}] ({}): operation `{op}` is not in api `{name}`; write it as in the spec, like \"GET /accounts/{{AccountId}}\"", inj.kind.name());
            };
            let has_id = found.parameters.iter().any(|p| p.location == ParamIn::Path);
            if matches!(inj.kind, InjectionKind::ObjectEnumeration { .. }) && !has_id {
                bail!("scenario: injections[{i}] (object_enumeration): operation `{op}` has no path parameter to enumerate; pick one like \"GET /accounts/{{AccountId}}\"");
            }
            if matches!(inj.kind, InjectionKind::UnauthenticatedAccess { .. }) && found.method != "GET" {
                bail!("scenario: injections[{i}] (unauthenticated_access): operation `{op}` is not a GET; pick a read of customer data like \"GET /accounts/{{AccountId}}\"");
            }
            if matches!(inj.kind, InjectionKind::PenTest(_)) && (found.method != "GET" || !has_id) {
                bail!("scenario: injections[{i}] (pen_test): operation `{op}` must be a GET with a path parameter (enumerated, and read without credentials); pick one like \"GET /accounts/{{AccountId}}\"");
            }
            if matches!(inj.kind, InjectionKind::BatchJob(_)) && !has_id {
                bail!("scenario: injections[{i}] (batch_job): operation `{op}` reads no account by id; pick reads like \"GET /accounts/{{AccountId}}/balances\"");
            }
        }
    }
    Ok(())
}

/// The bank-local month-end days (the last two of a month) within the scenario, merged into
/// windows `[from, to)` in nanoseconds, each with a request count of 0.
pub fn month_end_windows(sc: &Scenario) -> Vec<(u64, u64, u64)> {
    let from = sc.start;
    let to = sc.start + chrono::Duration::hours(i64::try_from(sc.duration_hours).unwrap_or(0));
    let tz = sc.timezone;
    let mut out: Vec<(u64, u64, u64)> = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive();
    let last = to.with_timezone(&tz).date_naive();
    while day <= last {
        let next = day + chrono::Days::new(1);
        if is_month_end(day) {
            let midnight = |d: NaiveDate| {
                d.and_hms_opt(0, 0, 0).and_then(|n| tz.from_local_datetime(&n).earliest()).map(|t| nanos(t.with_timezone(&Utc)))
            };
            if let (Some(a), Some(b)) = (midnight(day), midnight(next)) {
                let (a, b) = (a.max(nanos(from)), b.min(nanos(to)));
                match out.last_mut() {
                    Some(w) if w.1 == a => w.1 = b,
                    _ if a < b => out.push((a, b, 0)),
                    _ => {}
                }
            }
        }
        day = next;
    }
    out
}

/// Truth entries (benign) for the month-end windows.
pub fn month_end_truth(windows: &[(u64, u64, u64)]) -> Vec<InjectionTruth> {
    windows
        .iter()
        .map(|&(a, b, requests)| InjectionTruth {
            kind: "month_end_peak",
            start: from_nanos(a).to_rfc3339(),
            end: from_nanos(b).to_rfc3339(),
            consumer: String::new(),
            requests,
            endpoints: Vec::new(),
            benign: true,
            tuning: false,
            facts: InjectionFacts::default(),
        })
        .collect()
}

/// A random IPv4 address inside `net` (not its network or broadcast address).
pub(crate) fn host_in(net: (Ipv4Addr, u8), rng: &mut super::rng::Rng) -> Ipv4Addr {
    let size = 1u64 << (32 - u32::from(net.1));
    let span = size.saturating_sub(2).max(1);
    let base = u32::from(net.0) & if net.1 == 0 { 0 } else { u32::MAX << (32 - u32::from(net.1)) };
    Ipv4Addr::from(base.wrapping_add(1 + rng.below(span) as u32))
}

/// `count` distinct addresses of `net` in a scrambled order (an odd stride walks every offset
/// of a power-of-two block exactly once).
pub(crate) fn rotating_sources(net: (Ipv4Addr, u8), count: u64, rng: &mut super::rng::Rng) -> Vec<Ipv4Addr> {
    let size = 1u64 << (32 - u32::from(net.1));
    let base = u32::from(net.0) & if net.1 == 0 { 0 } else { u32::MAX << (32 - u32::from(net.1)) };
    let stride = rng.below(size / 2).saturating_mul(2) + 1;
    let start = rng.below(size);
    let mut out = Vec::new();
    let mut k = 0u64;
    while (out.len() as u64) < count && k < size {
        let off = start.wrapping_add(k.wrapping_mul(stride)) % size;
        if off != 0 && off != size - 1 {
            out.push(Ipv4Addr::from(base.wrapping_add(off as u32)));
        }
        k += 1;
    }
    out
}

impl<W: Write> Generator<'_, W> {
    /// Adds the requests of the connection just written to injection `i`'s count, span and
    /// earliest request times.
    pub(crate) fn note_requests(&mut self, i: usize) {
        let times = std::mem::take(&mut self.last_times);
        if let Some(acc) = self.acc.get_mut(i) {
            acc.requests += times.len() as u64;
            if let (Some(first), Some(last)) = (times.first(), times.last()) {
                acc.first = Some(acc.first.map_or(*first, |f| f.min(*first)));
                acc.last = Some(acc.last.map_or(*last, |l| l.max(*last)));
            }
            for t in &times {
                if acc.times.len() < FIRST_REQUEST_TIMES || acc.times.last().is_some_and(|l| t < l) {
                    let at = acc.times.partition_point(|x| x <= t);
                    acc.times.insert(at, *t);
                    acc.times.truncate(FIRST_REQUEST_TIMES);
                }
            }
        }
        self.last_times = times;
    }

    /// The status an error spike imposes on a request to `api` on a connection opened at
    /// `ts`, if one is active (and counts it).
    pub(crate) fn spike_status(&mut self, api: &str, ts: u64) -> Option<u16> {
        let sc = self.scenario;
        let i = sc.injections.iter().position(|j| {
            matches!(&j.kind, InjectionKind::ErrorSpike { api: a, .. } if a == api)
                && (nanos(j.start)..nanos(j.end)).contains(&ts)
        })?;
        let InjectionKind::ErrorSpike { status, error_share, .. } = sc.injections.get(i)?.kind else { return None };
        let hit = self.rng.chance(error_share);
        let acc = self.acc.get_mut(i)?;
        acc.api_requests += 1;
        if hit {
            acc.errors += 1;
            return Some(status);
        }
        None
    }

    /// Requests one connection of injection `i` carries on average (sessions per hour are its
    /// `requests_per_hour` divided by this).
    pub(crate) fn requests_per_connection(&self, i: usize) -> f64 {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return 1.0 };
        let consumer = sc.consumers.iter().find(|c| c.id == inj.consumer);
        match &inj.kind {
            // Usual sessions, as the consumer makes them.
            InjectionKind::RateSurge { .. } | InjectionKind::NewUserAgent { .. } => {
                consumer.map_or(1.0, |c| c.requests_per_session.max(1.0))
            }
            InjectionKind::UnauthenticatedAccess { api, operation, .. } => {
                let listing = self
                    .apis
                    .iter()
                    .find(|a| &a.name == api)
                    .and_then(|a| find_op(a, operation).and_then(|op| listing_of(a, op)))
                    .is_some();
                inj.requests_per_session as f64 + if listing { 1.0 } else { 0.0 }
            }
            _ => inj.requests_per_session as f64,
        }
    }

    /// One session of injection `i`.
    pub(crate) fn injected_session(&mut self, ts: u64, i: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let c = sc.consumers.iter().position(|c| c.id == inj.consumer);
        let api = inj.kind.api().and_then(|name| self.apis.iter().position(|a| a.name == name));
        let n = Some(inj.requests_per_session);
        match (&inj.kind, c) {
            (
                InjectionKind::ShadowEndpoint { .. }
                | InjectionKind::ZombieVersion { .. }
                | InjectionKind::DeprecatedOperations { .. },
                _,
            ) => self.injected_request(ts, i),
            (InjectionKind::UnauthenticatedAccess { .. }, _) => self.unauthenticated_session(ts, i),
            (InjectionKind::RequestSmuggling { .. }, Some(c)) => self.smuggling_session(ts, i, c),
            (InjectionKind::RateSurge { .. }, Some(c)) => self.normal_session(ts, c, &Usual { inj: Some(i), ..Usual::default() }),
            (InjectionKind::NewUserAgent { user_agent }, Some(c)) => {
                self.normal_session(ts, c, &Usual { inj: Some(i), user_agent: Some(user_agent.clone()), ..Usual::default() })
            }
            (InjectionKind::OffHoursToken { source_network }, Some(c)) => {
                let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
                if acc.sources.is_empty() {
                    acc.sources = (0..3).map(|_| host_in(*source_network, &mut self.rng)).collect();
                }
                let ip = self.rng.pick(&acc.sources).copied();
                if let Some(ip) = ip {
                    acc.used_sources.insert(ip);
                }
                self.normal_session(ts, c, &Usual { inj: Some(i), n, source: ip, ..Usual::default() })
            }
            (InjectionKind::ErrorSpike { .. }, Some(c)) => {
                self.normal_session(ts, c, &Usual { inj: Some(i), n, api, ..Usual::default() })
            }
            (InjectionKind::PenTest(_), Some(c)) => self.pen_test_session(ts, i, c),
            (InjectionKind::SyntheticMonitor(_), Some(c)) => self.monitor_session(ts, i, c),
            (InjectionKind::BatchJob(_), Some(c)) => self.batch_session(ts, i, c),
            (InjectionKind::PasswordReset { unauthorized_share, .. }, Some(c)) => self.normal_session(
                ts,
                c,
                &Usual { inj: Some(i), n, api, unauthorized_share: Some(*unauthorized_share), ..Usual::default() },
            ),
            (_, Some(c)) => self.inject_session(ts, i, c),
            (_, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rotating_sources_are_distinct_and_inside_the_network() {
        let mut rng = super::super::rng::Rng::new(5);
        let net = (Ipv4Addr::new(100, 64, 0, 0), 12);
        let ips = rotating_sources(net, 5000, &mut rng);
        assert_eq!(ips.len(), 5000);
        let set: BTreeSet<_> = ips.iter().collect();
        assert_eq!(set.len(), 5000);
        assert!(ips.iter().all(|ip| ip.octets()[0] == 100 && (64..80).contains(&ip.octets()[1])));
        // A /30 has two usable hosts only.
        let small = rotating_sources((Ipv4Addr::new(10, 0, 0, 0), 30), 10, &mut rng);
        assert_eq!(small.len(), 2);
    }
}
