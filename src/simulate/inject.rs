//! The behavioural injections and benign confounders: object-id enumeration, credential
//! stuffing, scraping past the PSD2 limit, off-hours token use, error spikes, oversized
//! responses, an aggregator reading many accounts, a password-reset day, and the month-end
//! peak recorded as a confounder window. Each keeps the facts its truth entry reports, counted
//! from what was written, not from what was configured.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{bail, Result};
use apitap_discovery::openapi::{Operation, ParamIn};
use chrono::{NaiveDate, TimeZone};

use super::gen::{base_headers, json_response, success_status, wanted, Generator, LoadedApi};
use super::http::Request;
use super::scenario::{Injection, InjectionKind, Scenario};
use super::schedule::{activity, from_nanos, is_month_end, nanos};
use super::truth::{InjectionFacts, InjectionTruth};

/// Object ids by parameter name, as [`BuildOpts::ids`] takes them.
type Ids = Vec<(String, String)>;

/// Mail domains of the guessed usernames.
const MAIL_DOMAINS: &[&str] = &["mail.example", "post.example", "inbox.example"];

/// Requests per hour from which an enumeration counts as `fast`.
const FAST_ENUMERATION_PER_HOUR: f64 = 60.0;

/// Unattended pulls of one account per day that PSD2 allows a TPP (RTS article 36(5)).
pub const PSD2_UNATTENDED_PULLS_PER_DAY: u64 = 4;

/// How [`Generator::build`] departs from normal traffic.
#[derive(Debug, Clone, Default)]
pub struct BuildOpts {
    /// Force this status (no error spike applies).
    pub status: Option<u16>,
    /// Use these object ids for path parameters instead of the consumer's learned ones.
    pub ids: Option<Ids>,
    /// Remember the ids of the response for later requests (normal traffic does).
    pub learn: bool,
}

impl BuildOpts {
    /// Normal traffic: learned ids, normal statuses, learn from the response.
    pub fn learning() -> Self {
        BuildOpts { learn: true, ..BuildOpts::default() }
    }
}

/// What one injection wrote so far.
#[derive(Debug, Default)]
pub struct InjectAcc {
    /// Endpoints touched ("host METHOD template").
    pub endpoints: BTreeSet<String>,
    requests: u64,
    first: Option<u64>,
    last: Option<u64>,
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
    errors: u64,
    bytes: u64,
    max_body: u64,
}

impl InjectAcc {
    /// The truth entry of `inj`.
    pub fn truth(self, inj: &Injection, sc: &Scenario) -> InjectionTruth {
        let time = |n: Option<u64>| n.map(|n| from_nanos(n).to_rfc3339());
        let mut f = InjectionFacts {
            api: inj.kind.api().map(str::to_string),
            first_request: time(self.first),
            last_request: time(self.last),
            ..InjectionFacts::default()
        };
        match &inj.kind {
            InjectionKind::ObjectEnumeration { .. } => {
                f.pace = Some(if inj.requests_per_hour >= FAST_ENUMERATION_PER_HOUR { "fast" } else { "low_and_slow" });
                f.distinct_ids = Some(self.ids.len() as u64);
                f.first_id = self.id_range.map(|r| r.0);
                f.last_id = self.id_range.map(|r| r.1);
            }
            InjectionKind::CredentialStuffing { source_network, .. } => {
                f.source_network = Some(format!("{}/{}", source_network.0, source_network.1));
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                f.successful_logins = Some(self.successes);
            }
            InjectionKind::Scraping { .. } => {
                let max = self.pulls.values().copied().max().unwrap_or(0);
                f.pulls = Some(self.pulls.values().sum());
                f.max_unattended_pulls_per_account_per_day = Some(max);
                f.account_days_over_psd2_limit = Some(self.pulls.values().filter(|n| **n > PSD2_UNATTENDED_PULLS_PER_DAY).count() as u64);
                f.account_ids = Some(self.accounts);
            }
            InjectionKind::OffHoursToken { source_network } => {
                f.source_network = Some(format!("{}/{}", source_network.0, source_network.1));
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                let usual = usual_rate(sc, inj);
                let hours = (inj.end - inj.start).num_seconds() as f64 / 3600.0;
                let rate = if hours > 0.0 { self.requests as f64 / hours } else { 0.0 };
                f.usual_requests_per_hour = Some(round2(usual));
                f.times_usual = Some(if usual > 0.0 { round2(rate / usual) } else { f64::INFINITY.min(1e9) });
            }
            InjectionKind::ErrorSpike { status, .. } => {
                f.status = Some(*status);
                f.api_requests = Some(self.api_requests);
                f.error_responses = Some(self.errors);
            }
            InjectionKind::OversizedResponses { min_body_bytes, .. } => {
                f.min_body_bytes = Some(*min_body_bytes);
                f.bytes = Some(self.bytes);
                f.max_body_bytes = Some(self.max_body);
            }
            InjectionKind::AggregatorAccounts { .. } => f.distinct_ids = Some(self.ids.len() as u64),
            InjectionKind::PasswordReset { .. } => {
                f.status = Some(401);
                f.error_responses = Some(self.errors);
            }
            _ => {}
        }
        InjectionTruth {
            kind: inj.kind.name(),
            start: inj.start.to_rfc3339(),
            end: inj.end.to_rfc3339(),
            consumer: inj.consumer.clone(),
            requests: self.requests,
            endpoints: self.endpoints.into_iter().collect(),
            benign: inj.kind.benign(),
            facts: f,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The consumer's expected requests per hour over the injection's window, from its rate and
/// the seasonality (sampled every 5 minutes).
fn usual_rate(sc: &Scenario, inj: &Injection) -> f64 {
    let Some(c) = sc.consumers.iter().find(|c| c.id == inj.consumer) else { return 0.0 };
    let (from, to) = (nanos(inj.start), nanos(inj.end));
    let step = 300 * 1_000_000_000;
    let (mut sum, mut n) = (0.0, 0u32);
    let mut t = from;
    while t < to {
        sum += activity(from_nanos(t), sc.timezone);
        n += 1;
        t += step;
    }
    if n == 0 {
        return 0.0;
    }
    c.requests_per_hour * sum / f64::from(n)
}

/// Finds an operation by "METHOD /path" (as in the spec) or operationId.
pub fn find_op<'a>(api: &'a LoadedApi, want: &str) -> Option<&'a Operation> {
    api.spec
        .operations
        .iter()
        .find(|op| op.operation_id.as_deref() == Some(want) || format!("{} {}", op.method, op.path) == want)
}

/// Checks that every operation an injection names is in its API's spec.
pub fn check(sc: &Scenario, apis: &[LoadedApi]) -> Result<()> {
    for (i, inj) in sc.injections.iter().enumerate() {
        let ops: Vec<&str> = match &inj.kind {
            InjectionKind::ObjectEnumeration { operation, .. } | InjectionKind::OversizedResponses { operation, .. } => vec![operation],
            InjectionKind::Scraping { operations, .. } => operations.iter().map(String::as_str).collect(),
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
                d.and_hms_opt(0, 0, 0)
                    .and_then(|n| tz.from_local_datetime(&n).earliest())
                    .map(|t| nanos(t.with_timezone(&chrono::Utc)))
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
            facts: InjectionFacts::default(),
        })
        .collect()
}

/// A random IPv4 address inside `net` (not its network or broadcast address).
fn host_in(net: (Ipv4Addr, u8), rng: &mut super::rng::Rng) -> Ipv4Addr {
    let size = 1u64 << (32 - u32::from(net.1));
    let span = size.saturating_sub(2).max(1);
    let base = u32::from(net.0) & if net.1 == 0 { 0 } else { u32::MAX << (32 - u32::from(net.1)) };
    Ipv4Addr::from(base.wrapping_add(1 + rng.below(span) as u32))
}

/// `count` distinct addresses of `net` in a scrambled order (an odd stride walks every offset
/// of a power-of-two block exactly once).
fn rotating_sources(net: (Ipv4Addr, u8), count: u64, rng: &mut super::rng::Rng) -> Vec<Ipv4Addr> {
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
    /// Adds the requests of the connection just written to injection `i`'s count and span.
    pub(super) fn note_requests(&mut self, i: usize) {
        let times = std::mem::take(&mut self.last_times);
        if let Some(acc) = self.acc.get_mut(i) {
            acc.requests += times.len() as u64;
            if let (Some(first), Some(last)) = (times.first(), times.last()) {
                acc.first = Some(acc.first.map_or(*first, |f| f.min(*first)));
                acc.last = Some(acc.last.map_or(*last, |l| l.max(*last)));
            }
        }
        self.last_times = times;
    }

    /// The status an error spike imposes on a request to `api` on a connection opened at
    /// `ts`, if one is active (and counts it).
    pub(super) fn spike_status(&mut self, api: &str, ts: u64) -> Option<u16> {
        let sc = self.scenario;
        let i = sc.injections.iter().position(|j| {
            matches!(&j.kind, InjectionKind::ErrorSpike { api: a, .. } if a == api) && (nanos(j.start)..nanos(j.end)).contains(&ts)
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

    /// One connection of a behavioural injection or confounder.
    pub(super) fn inject_session(&mut self, ts: u64, i: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let Some(c) = sc.consumers.iter().position(|c| c.id == inj.consumer) else { return Ok(()) };
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        // Kinds without an API of their own use one of the consumer's.
        let api = match inj.kind.api() {
            Some(name) => self.apis.iter().find(|a| a.name == name),
            None => {
                let mine: Vec<&LoadedApi> = self.apis.iter().filter(|a| consumer.apis.contains(&a.name)).collect();
                self.rng.pick(&mine).copied()
            }
        };
        let n = inj.requests_per_session;
        if let InjectionKind::CredentialStuffing { host, path, server, source_network, sources, success_share } = &inj.kind {
            return self.stuffing_session(ts, i, c, (host, path, *server), (*source_network, *sources, *success_share));
        }
        let Some(api) = api else { return Ok(()) };
        let mut client = self.client_addr(c);
        let (auth, start) = self.auth_headers(ts, c)?;
        // (operation, ids, forced status) for each request of the connection.
        let mut plan: Vec<(&Operation, Option<Ids>, Option<u16>)> = Vec::new();
        let consumer_ops: Vec<&Operation> = api.spec.operations.iter().filter(|op| wanted(consumer, op) && !op.deprecated).collect();
        let mut swell = None;
        match &inj.kind {
            InjectionKind::ObjectEnumeration { operation, first_id, owned_share, .. } => {
                let Some(op) = find_op(api, operation) else { return Ok(()) };
                let param = op.parameters.iter().rev().find(|p| p.location == ParamIn::Path).map(|p| p.name.clone()).unwrap_or_default();
                for _ in 0..n {
                    let first = *first_id;
                    let rng = &mut self.rng;
                    let Some(acc) = self.acc.get_mut(i) else { break };
                    let id = *acc.next_id.get_or_insert_with(|| first.unwrap_or_else(|| 10_000 + rng.below(80_000)));
                    acc.next_id = Some(id + 1);
                    acc.ids.insert(id.to_string());
                    acc.id_range = Some(acc.id_range.map_or((id, id), |(a, b)| (a.min(id), b.max(id))));
                    let status = if self.rng.chance(*owned_share) { success_status(op) } else if self.rng.chance(0.6) { 403 } else { 404 };
                    plan.push((op, Some(vec![(param.clone(), id.to_string())]), Some(status)));
                }
            }
            InjectionKind::Scraping { operations, accounts, .. } => {
                let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
                let k = acc.next_account;
                acc.next_account = (k + 1) % usize::try_from(*accounts).unwrap_or(1).max(1);
                if acc.accounts.len() <= k {
                    acc.accounts.push(self.rng.alnum(12));
                }
                let id = acc.accounts.get(k).cloned().unwrap_or_default();
                let day = from_nanos(start).with_timezone(&sc.timezone).date_naive();
                *acc.pulls.entry((k, day)).or_insert(0) += 1;
                for want in operations {
                    if let Some(op) = find_op(api, want) {
                        plan.push((op, Some(vec![("AccountId".to_string(), id.clone())]), None));
                    }
                }
            }
            InjectionKind::OffHoursToken { source_network } => {
                let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
                if acc.sources.is_empty() {
                    acc.sources = (0..3).map(|_| host_in(*source_network, &mut self.rng)).collect();
                }
                let ip = self.rng.pick(&acc.sources).copied().unwrap_or(*client.ip());
                acc.used_sources.insert(ip);
                client = SocketAddrV4::new(ip, client.port());
                for _ in 0..n {
                    if let Some(op) = self.rng.pick(&consumer_ops).copied() {
                        plan.push((op, None, None));
                    }
                }
            }
            InjectionKind::ErrorSpike { .. } => {
                for _ in 0..n {
                    if let Some(op) = self.rng.pick(&consumer_ops).copied() {
                        plan.push((op, None, None));
                    }
                }
            }
            InjectionKind::OversizedResponses { operation, min_body_bytes, max_body_bytes, .. } => {
                let Some(op) = find_op(api, operation) else { return Ok(()) };
                swell = Some((*min_body_bytes, *max_body_bytes));
                for _ in 0..n {
                    plan.push((op, None, Some(success_status(op))));
                }
            }
            InjectionKind::AggregatorAccounts { accounts, .. } => {
                let reads: Vec<&Operation> = ["GET /accounts/{AccountId}", "GET /accounts/{AccountId}/balances"].iter().filter_map(|w| find_op(api, w)).collect();
                for _ in 0..n {
                    let Some(op) = self.rng.pick(&reads).copied() else { break };
                    let Some(acc) = self.acc.get_mut(i) else { break };
                    let k = acc.next_account;
                    acc.next_account = (k + 1) % usize::try_from(*accounts).unwrap_or(1).max(1);
                    if acc.accounts.len() <= k {
                        acc.accounts.push(self.rng.alnum(12));
                    }
                    let id = acc.accounts.get(k).cloned().unwrap_or_default();
                    acc.ids.insert(id.clone());
                    plan.push((op, Some(vec![("AccountId".to_string(), id)]), Some(success_status(op))));
                }
            }
            InjectionKind::PasswordReset { unauthorized_share, .. } => {
                for _ in 0..n {
                    let Some(op) = self.rng.pick(&consumer_ops).copied() else { break };
                    let locked = self.rng.chance(*unauthorized_share);
                    if locked {
                        if let Some(acc) = self.acc.get_mut(i) {
                            acc.errors += 1;
                        }
                    }
                    plan.push((op, None, if locked { Some(401) } else { Some(success_status(op)) }));
                }
            }
            _ => return Ok(()),
        }
        let attended = !matches!(inj.kind, InjectionKind::Scraping { .. }) && self.rng.chance(consumer.attended_share);
        let mut exchanges = Vec::new();
        for (op, ids, status) in plan {
            let opts = BuildOpts { status, ids, learn: false };
            let (req, mut resp, template) = self.build(api, op, &api.base_path, consumer, c, &auth, attended, start, &opts);
            if let Some((min, max)) = swell {
                let target = min + self.rng.below(max - min + 1);
                let account = req.target.split('?').next().unwrap_or("").split('/').rev().nth(1).unwrap_or("").to_string();
                resp.body = swollen_body(&account, target, &mut self.rng);
                resp.chunked = true;
                if let Some(acc) = self.acc.get_mut(i) {
                    let len = resp.body.len() as u64;
                    acc.bytes += len;
                    acc.max_body = acc.max_body.max(len);
                }
            }
            let class = if op.deprecated { "zombie" } else { "documented" };
            self.book.hit(&api.host, &op.method, &template, class, Some(&api.name));
            if let Some(acc) = self.acc.get_mut(i) {
                acc.endpoints.insert(format!("{} {} {template}", api.host, op.method));
            }
            exchanges.push((req, resp));
        }
        if exchanges.is_empty() {
            return Ok(());
        }
        self.deadline = Some(nanos(inj.end));
        let written = self.exchange_session(start, client, api.server, &api.host, exchanges, c);
        self.deadline = None;
        written?;
        self.note_requests(i);
        Ok(())
    }

    /// One connection of password guesses from the next rotating source address.
    fn stuffing_session(
        &mut self,
        ts: u64,
        i: usize,
        c: usize,
        (host, path, server): (&str, &str, SocketAddrV4),
        (net, sources, success_share): ((Ipv4Addr, u8), u64, f64),
    ) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
        if acc.sources.is_empty() {
            acc.sources = rotating_sources(net, sources, &mut self.rng);
        }
        let Some(ip) = acc.sources.get(acc.next_source % acc.sources.len().max(1)).copied() else { return Ok(()) };
        acc.next_source += 1;
        acc.used_sources.insert(ip);
        let client = SocketAddrV4::new(ip, 1024 + self.rng.below(64_000) as u16);
        let (class, api_name) = self.login_class(host, path);
        let mut exchanges = Vec::new();
        for _ in 0..inj.requests_per_session {
            let user = format!("{}{}@{}", self.rng.alnum(6).to_lowercase(), self.rng.below(1000), self.rng.pick(MAIL_DOMAINS).copied().unwrap_or("mail.example"));
            let mut headers = base_headers(consumer, &mut self.rng);
            headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
            let body = format!("grant_type=password&username={}&password={}&client_id={}", user.replace('@', "%40"), self.rng.alnum(10), consumer.client_id);
            let req = Request { method: "POST".into(), target: path.to_string(), headers, body: body.into_bytes() };
            let resp = if self.rng.chance(success_share) {
                if let Some(acc) = self.acc.get_mut(i) {
                    acc.successes += 1;
                }
                let token = super::creds::opaque_token(&mut self.rng);
                json_response(200, &serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}), false)
            } else {
                json_response(401, &serde_json::json!({"error": "invalid_grant", "error_description": "Bad credentials"}), self.rng.chance(0.3))
            };
            self.book.hit(host, "POST", path, class, api_name.as_deref());
            exchanges.push((req, resp));
        }
        if let Some(acc) = self.acc.get_mut(i) {
            acc.endpoints.insert(format!("{host} POST {path}"));
        }
        self.deadline = self.scenario.injections.get(i).map(|inj| nanos(inj.end));
        let written = self.exchange_session(ts, client, server, host, exchanges, c);
        self.deadline = None;
        written?;
        self.note_requests(i);
        Ok(())
    }

    /// The class of a login endpoint: documented when it is the auth server's token path or a
    /// spec's literal path, else shadow.
    fn login_class(&self, host: &str, path: &str) -> (&'static str, Option<String>) {
        if self.scenario.auth_server.as_ref().is_some_and(|a| a.host == host && a.token_path == path) {
            return ("documented", None);
        }
        for api in self.apis.iter().filter(|a| a.host == host) {
            if api.spec.operations.iter().any(|op| op.method == "POST" && format!("{}{}", api.base_path, op.path) == path) {
                return ("documented", Some(api.name.clone()));
            }
        }
        ("shadow", None)
    }
}

/// A transaction list of at least `target` bytes: `{"Data":{"Transaction":[...]}}` with
/// numbered items of about a kilobyte (few fields, a long narrative), so a 20 MB body stays
/// far below the million-item tree a dissector such as tshark's JSON one refuses.
fn swollen_body(account_id: &str, target: u64, rng: &mut super::rng::Rng) -> Vec<u8> {
    let target = usize::try_from(target).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(target.saturating_add(4096));
    out.extend_from_slice(br#"{"Data":{"Transaction":["#);
    let tail = br#"]},"Links":{"Self":"/transactions"},"Meta":{"TotalPages":1}}"#;
    let narrative = rng.alnum(900);
    let mut n = 0u64;
    while out.len() + tail.len() < target {
        if n > 0 {
            out.push(b',');
        }
        let start = n as usize % 600;
        let info = narrative.get(start..start + 300).unwrap_or("");
        let item = serde_json::json!({
            "AccountId": account_id,
            "TransactionId": format!("T{n:012}"),
            "Amount": {"Amount": super::values::amount(rng), "Currency": "GBP"},
            "BookingDateTime": format!("2026-0{}-{:02}T10:00:00+00:00", 1 + n % 3, 1 + n % 28),
            "TransactionInformation": info,
            "SupplementaryData": {"Receipt": narrative.get(..600).unwrap_or("")},
        });
        out.extend_from_slice(&serde_json::to_vec(&item).unwrap_or_default());
        n += 1;
    }
    out.extend_from_slice(tail);
    out
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

    #[test]
    fn a_swollen_body_is_valid_json_and_at_least_the_target() {
        let mut rng = super::super::rng::Rng::new(9);
        let body = swollen_body("acc1", 100_000, &mut rng);
        assert!(body.len() >= 100_000 && body.len() < 102_000, "{}", body.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Data"]["Transaction"][7]["TransactionId"], "T000000000007");
        assert_eq!(v["Data"]["Transaction"][7]["AccountId"], "acc1");
    }
}
