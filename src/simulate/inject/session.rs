//! The injections that write connections of their own: object-id enumeration, credential
//! stuffing, scraping, oversized responses and the aggregator confounder. Every id they read
//! that is not an enumeration's guess was handed out first by a listing in the same
//! connection, so only enumerations ask for ids the consumer was never given.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::Result;
use apitap_discovery::openapi::{Operation, ParamIn};

use super::{find_op, listing_of, nanos_of, rotating_sources, BuildOpts, Ids};
use crate::simulate::gen::{base_headers, json_response, success_status, Generator, LoadedApi, Sent};
use crate::simulate::http::{Request, Response};
use crate::simulate::scenario::{InjectionKind, DEFAULT_OBJECT_OPERATION};
use crate::simulate::schedule::from_nanos;

/// Mail domains of the guessed usernames.
const MAIL_DOMAINS: &[&str] = &["mail.example", "post.example", "inbox.example"];

/// One request of an injected connection: the operation, the ids it reads, the forced status,
/// and whether it is a listing handing out `ids`.
pub(super) struct Step<'s> {
    pub(super) op: &'s Operation,
    pub(super) ids: Option<Ids>,
    pub(super) status: Option<u16>,
    pub(super) listing: bool,
}

/// An injected connection before it is written: its requests, the customer it is for and
/// whether the customer is present, and what departs from the usual answer.
pub(super) struct Plan<'s> {
    pub(super) steps: Vec<Step<'s>>,
    pub(super) customer: u64,
    pub(super) attended: bool,
    /// Oversized responses: swell every answer but listings to this many bytes.
    pub(super) swell: Option<(u64, u64)>,
    /// Scraping: the account this connection pulls (counted per bank-local day).
    pub(super) pull: Option<usize>,
}

/// Where an injected connection comes from and what client it shows, when not the
/// consumer's own (a penetration test's or a monitor's network and agent).
#[derive(Debug, Default, Clone)]
pub(crate) struct Guise {
    /// The client address instead of one of the consumer's.
    pub(crate) source: Option<Ipv4Addr>,
    /// The User-Agent instead of the consumer's.
    pub(crate) user_agent: Option<String>,
}

impl<W: Write> Generator<'_, W> {
    /// One connection of an enumeration, credential stuffing, scraping, oversized responses
    /// or aggregator injection `i` by consumer `c`.
    pub(crate) fn inject_session(&mut self, ts: u64, i: usize, c: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        if let InjectionKind::CredentialStuffing { host, path, server, source_network, sources, success_share } = &inj.kind {
            return self.stuffing_session(ts, i, c, (host, path, *server), (*source_network, *sources, *success_share));
        }
        let Some(api) = inj.kind.api().and_then(|name| self.apis.iter().find(|a| a.name == name)) else { return Ok(()) };
        let n = inj.requests_per_session;
        let scraping = matches!(inj.kind, InjectionKind::Scraping { .. });
        let attended = !scraping && self.rng.chance(consumer.attended_share);
        let (mut k, mut attended) = if scraping { (0, false) } else { self.pick_customer(c, ts, attended) };
        let mut steps: Vec<Step<'_>> = Vec::new();
        let mut swell = None;
        let mut pull = None;
        match &inj.kind {
            InjectionKind::ObjectEnumeration { operation, first_id, owned_share, .. } => {
                let Some(op) = find_op(api, operation) else { return Ok(()) };
                steps = self.enumeration_steps(i, op, *first_id, *owned_share, n);
            }
            InjectionKind::Scraping { operations, accounts, .. } => {
                let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
                let j = acc.next_account;
                acc.next_account = (j + 1) % usize::try_from(*accounts).unwrap_or(1).max(1);
                if acc.accounts.len() <= j {
                    acc.accounts.push(self.rng.alnum(12));
                }
                let id = acc.accounts.get(j).cloned().unwrap_or_default();
                pull = Some(j);
                // One customer owns each account; its token reads it, unattended.
                k = j as u64 % consumer.customers.max(1);
                attended = false;
                let reads: Vec<&Operation> = operations.iter().filter_map(|w| find_op(api, w)).collect();
                if let Some(list) = reads.first().and_then(|op| listing_of(api, op)) {
                    steps.push(Step { op: list.0, ids: Some(vec![(list.1, id.clone())]), status: None, listing: true });
                }
                for op in reads {
                    steps.push(Step { op, ids: Some(vec![(id_param(op), id.clone())]), status: None, listing: false });
                }
            }
            InjectionKind::OversizedResponses { operation, min_body_bytes, max_body_bytes, .. } => {
                let Some(op) = find_op(api, operation) else { return Ok(()) };
                swell = Some((*min_body_bytes, *max_body_bytes));
                // A customer's own account when one has one; else one a listing hands out.
                let mut ids = None;
                if let Some((list, param)) = listing_of(api, op) {
                    // An unattended read spends the owner's PSD2 budget like any other
                    // access, so that the oversized answers raise no second, accidental
                    // finding (more than four unattended accesses a day).
                    let mut owner = self.customer_knowing(c, &param, (!attended).then_some(ts));
                    if owner.is_none() && !attended {
                        // No owner has budget left: the customer is present for this one.
                        owner = self.customer_knowing(c, &param, None);
                        attended = owner.is_some();
                    }
                    if let Some(owner) = owner {
                        k = owner;
                    } else {
                        let id = self.rng.alnum(12);
                        steps.push(Step { op: list, ids: Some(vec![(param.clone(), id.clone())]), status: None, listing: true });
                        ids = Some(vec![(param, id)]);
                    }
                }
                for _ in 0..n {
                    steps.push(Step { op, ids: ids.clone(), status: Some(success_status(op)), listing: false });
                }
            }
            InjectionKind::AggregatorAccounts { accounts, .. } => {
                let reads: Vec<&Operation> = [DEFAULT_OBJECT_OPERATION, "GET /accounts/{AccountId}/balances"]
                    .iter()
                    .filter_map(|w| find_op(api, w))
                    .collect();
                let mut planned = Vec::new();
                for _ in 0..n {
                    let Some(op) = self.rng.pick(&reads).copied() else { break };
                    let Some(acc) = self.acc.get_mut(i) else { break };
                    let j = acc.next_account;
                    acc.next_account = (j + 1) % usize::try_from(*accounts).unwrap_or(1).max(1);
                    if acc.accounts.len() <= j {
                        acc.accounts.push(self.rng.alnum(12));
                    }
                    let id = acc.accounts.get(j).cloned().unwrap_or_default();
                    acc.ids.insert(id.clone());
                    planned.push((op, id));
                }
                // The connection first lists the accounts it reads: an aggregator reads what
                // the bank told it its customer holds.
                let mut listed: Vec<String> = Vec::new();
                for (_, id) in &planned {
                    if !listed.contains(id) {
                        listed.push(id.clone());
                    }
                }
                if let Some((list, param)) = planned.first().and_then(|(op, _)| listing_of(api, op)) {
                    steps.push(Step {
                        op: list,
                        ids: Some(listed.iter().map(|id| (param.clone(), id.clone())).collect()),
                        status: None,
                        listing: true,
                    });
                }
                for (op, id) in planned {
                    steps.push(Step {
                        op,
                        ids: Some(vec![(id_param(op), id)]),
                        status: Some(success_status(op)),
                        listing: false,
                    });
                }
            }
            _ => return Ok(()),
        }
        self.send_plan(ts, i, c, api, Plan { steps, customer: k, attended, swell, pull }, &Guise::default())
    }

    /// The requests of an enumeration by injection `i`: `n` sequential ids (continuing where
    /// its last connection stopped) on `op`'s last path parameter, `owned_share` answered with
    /// the success, the others 403 (60%) or 404.
    pub(super) fn enumeration_steps<'s>(
        &mut self,
        i: usize,
        op: &'s Operation,
        first_id: Option<u64>,
        owned_share: f64,
        n: u64,
    ) -> Vec<Step<'s>> {
        let param = op.parameters.iter().rev().find(|p| p.location == ParamIn::Path).map(|p| p.name.clone()).unwrap_or_default();
        let mut steps = Vec::new();
        for _ in 0..n {
            let rng = &mut self.rng;
            let Some(acc) = self.acc.get_mut(i) else { break };
            let id = *acc.next_id.get_or_insert_with(|| first_id.unwrap_or_else(|| 10_000 + rng.below(80_000)));
            acc.next_id = Some(id + 1);
            acc.ids.insert(id.to_string());
            acc.id_range = Some(acc.id_range.map_or((id, id), |(a, b)| (a.min(id), b.max(id))));
            let status = if self.rng.chance(owned_share) {
                success_status(op)
            } else if self.rng.chance(0.6) {
                403
            } else {
                404
            };
            steps.push(Step { op, ids: Some(vec![(param.clone(), id.to_string())]), status: Some(status), listing: false });
        }
        steps
    }

    /// Writes `plan` as one connection of injection `i` with consumer `c`'s credentials, from
    /// its network and with its agent unless `guise` says otherwise.
    pub(super) fn send_plan(&mut self, ts: u64, i: usize, c: usize, api: &LoadedApi, plan: Plan<'_>, guise: &Guise) -> Result<()> {
        let sc = self.scenario;
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let Plan { steps, customer: k, attended, swell, pull } = plan;
        let renamed;
        let consumer = match &guise.user_agent {
            Some(ua) => {
                renamed = crate::simulate::scenario::Consumer { user_agent: ua.clone(), ..consumer.clone() };
                &renamed
            }
            None => consumer,
        };
        let (auth, start) = self.auth_headers(ts, c, k, Some(api))?;
        if let (Some(j), Some(acc)) = (pull, self.acc.get_mut(i)) {
            let day = from_nanos(start).with_timezone(&sc.timezone).date_naive();
            *acc.pulls.entry((j, day)).or_insert(0) += 1;
        }
        let mut exchanges = Vec::new();
        for step in steps {
            let op = step.op;
            let opts = if step.listing {
                let ids = step.ids.clone().unwrap_or_default();
                let name = ids.first().map(|(n, _)| n.clone()).unwrap_or_default();
                let list = ids.into_iter().map(|(_, v)| v).collect();
                BuildOpts {
                    status: step.status.or(Some(success_status(op))),
                    ids: step.ids,
                    customer: Some(k),
                    list_ids: Some((name, list)),
                    ..BuildOpts::default()
                }
            } else {
                BuildOpts { status: step.status, ids: step.ids, customer: Some(k), ..BuildOpts::default() }
            };
            let (req, mut resp, template) = self.build(api, op, &api.base_path, consumer, c, &auth, attended, start, &opts);
            if let (Some((min, max)), false) = (swell, step.listing) {
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
            exchanges.push((req.into(), resp));
        }
        let mut client = self.client_addr(c);
        if let Some(ip) = guise.source {
            client = SocketAddrV4::new(ip, client.port());
        }
        self.send_injected(start, i, c, client, api, exchanges)
    }

    /// A customer of consumer `c` (picked at random) that was given an id named `param`.
    /// A customer of consumer `c` who was given an id named `param`. With `unattended_at`, only
    /// one with PSD2 budget left at that time (fewer than four unattended accesses in the last
    /// 24 hours), and the access is spent.
    fn customer_knowing(&mut self, c: usize, param: &str, unattended_at: Option<u64>) -> Option<u64> {
        let st = self.states.get(c)?;
        let knowing: Vec<u64> = st
            .customers
            .iter()
            .filter(|(_, cs)| cs.ids.iter().any(|(n, _)| n.eq_ignore_ascii_case(param)))
            .filter(|(_, cs)| {
                unattended_at.is_none_or(|ts| {
                    cs.unattended.iter().filter(|t| ts.saturating_sub(**t) < crate::simulate::gen::DAY_NANOS).count()
                        < crate::simulate::gen::PSD2_UNATTENDED_PER_DAY
                })
            })
            .map(|(k, _)| *k)
            .collect();
        let k = self.crng.pick(&knowing).copied()?;
        if let (Some(ts), Some(cs)) = (unattended_at, self.states.get_mut(c).and_then(|st| st.customers.get_mut(&k))) {
            if cs.unattended.len() >= crate::simulate::gen::PSD2_UNATTENDED_PER_DAY {
                cs.unattended.pop_front();
            }
            cs.unattended.push_back(ts);
        }
        Some(k)
    }

    /// Writes an injected connection inside injection `i`'s window and counts its requests.
    pub(crate) fn send_injected(
        &mut self,
        start: u64,
        i: usize,
        c: usize,
        client: SocketAddrV4,
        api: &LoadedApi,
        exchanges: Vec<(Sent, Response)>,
    ) -> Result<()> {
        if exchanges.is_empty() {
            return Ok(());
        }
        self.deadline = self.scenario.injections.get(i).map(|j| nanos_of(j.end));
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
            let user = format!(
                "{}{}@{}",
                self.rng.alnum(6).to_lowercase(),
                self.rng.below(1000),
                self.rng.pick(MAIL_DOMAINS).copied().unwrap_or("mail.example")
            );
            let mut headers = base_headers(consumer, &mut self.rng);
            headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
            let body = format!(
                "grant_type=password&username={}&password={}&client_id={}",
                user.replace('@', "%40"),
                self.rng.alnum(10),
                consumer.client_id
            );
            let req = Request { method: "POST".into(), target: path.to_string(), headers, body: body.into_bytes() };
            let resp = if self.rng.chance(success_share) {
                if let Some(acc) = self.acc.get_mut(i) {
                    acc.successes += 1;
                }
                let token = crate::simulate::creds::opaque_token(&mut self.rng);
                json_response(200, &serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}), false)
            } else {
                json_response(
                    401,
                    &serde_json::json!({"error": "invalid_grant", "error_description": "Bad credentials"}),
                    self.rng.chance(0.3),
                )
            };
            self.book.hit(host, "POST", path, class, api_name.as_deref());
            exchanges.push((req.into(), resp));
        }
        if let Some(acc) = self.acc.get_mut(i) {
            acc.endpoints.insert(format!("{host} POST {path}"));
        }
        self.deadline = self.scenario.injections.get(i).map(|inj| nanos_of(inj.end));
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

/// The name of `op`'s first object-id path parameter (`AccountId` when it has none).
pub(super) fn id_param(op: &Operation) -> String {
    op.parameters
        .iter()
        .find(|p| p.location == ParamIn::Path && crate::simulate::values::is_id_name(&p.name))
        .map_or_else(|| "AccountId".to_string(), |p| p.name.clone())
}

/// A transaction list of at least `target` bytes: `{"Data":{"Transaction":[...]}}` with
/// numbered items of about a kilobyte (few fields, a long narrative), so a 20 MB body stays
/// far below the million-item tree a dissector such as tshark's JSON one refuses.
fn swollen_body(account_id: &str, target: u64, rng: &mut crate::simulate::rng::Rng) -> Vec<u8> {
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
            "Amount": {"Amount": crate::simulate::values::amount(rng), "Currency": "GBP"},
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
    fn a_swollen_body_is_valid_json_and_at_least_the_target() {
        let mut rng = crate::simulate::rng::Rng::new(9);
        let body = swollen_body("acc1", 100_000, &mut rng);
        assert!(body.len() >= 100_000 && body.len() < 102_000, "{}", body.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Data"]["Transaction"][7]["TransactionId"], "T000000000007");
        assert_eq!(v["Data"]["Transaction"][7]["AccountId"], "acc1");
    }
}
