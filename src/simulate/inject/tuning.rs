//! The tuning kinds: an authorised penetration test, a synthetic monitor and a nightly batch
//! job. Legitimate traffic that an untuned sensor reports (enumeration, shadow probes,
//! unauthenticated reads and ambiguous framing from the testers; unattended reads of one test
//! account all day and night, with a failing check now and then; a night's unattended pull of
//! many accounts), written with the builders of the attacks they look like, from the tuning
//! traffic's own network and with its own agent.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::Result;
use apitap_discovery::openapi::{Operation, ParamIn};

use super::exposure::{Ambiguous, Anonymous};
use super::session::{id_param, Guise, Plan, Step};
use super::{find_op, listing_of, rotating_sources};
use crate::simulate::gen::{base_headers, json_response, success_status, Generator};
use crate::simulate::http::Request;
use crate::simulate::scenario::{InjectionKind, Smuggling};
use crate::simulate::schedule::from_nanos;

/// The activities of a penetration test, one connection each, in turn.
pub(super) const PEN_TEST_ACTIVITIES: [&str; 4] = ["enumeration", "probes", "unauthenticated", "smuggling"];

/// Share of a penetration test's ambiguous requests the server rejects (400).
const PEN_TEST_REJECTED_SHARE: f64 = 0.5;

/// Failing checks whose times a monitor's truth lists (`failed_check_times`).
pub const MAX_FAILED_CHECK_TIMES: usize = 1000;

/// Status a failing check of a synthetic monitor gets.
pub const MONITOR_FAILURE_STATUS: u16 = 503;

impl<W: Write> Generator<'_, W> {
    /// One of injection `i`'s addresses: `count` distinct ones of `net`, chosen at its first
    /// connection.
    fn tuning_source(&mut self, i: usize, net: (Ipv4Addr, u8), count: u64) -> Option<Ipv4Addr> {
        let acc = self.acc.get_mut(i)?;
        if acc.sources.is_empty() {
            acc.sources = rotating_sources(net, count, &mut self.rng);
        }
        let ip = self.rng.pick(&acc.sources).copied()?;
        acc.used_sources.insert(ip);
        Some(ip)
    }

    /// One connection of penetration test `i` with consumer `c`'s credentials: the next of
    /// its activities.
    pub(crate) fn pen_test_session(&mut self, ts: u64, i: usize, c: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let InjectionKind::PenTest(t) = &inj.kind else { return Ok(()) };
        let Some(api) = self.apis.iter().find(|a| a.name == t.api) else { return Ok(()) };
        let Some(ip) = self.tuning_source(i, t.source_network, t.sources) else { return Ok(()) };
        let guise = Guise { source: Some(ip), user_agent: Some(t.user_agent.clone()) };
        let n = inj.requests_per_session;
        let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
        let activity = (acc.next_activity % PEN_TEST_ACTIVITIES.len() as u64) as usize;
        acc.next_activity += 1;
        match activity {
            0 => {
                let Some(op) = find_op(api, &t.operation) else { return Ok(()) };
                let steps = self.enumeration_steps(i, op, t.first_id, t.owned_share, n);
                let (k, attended) = self.pick_customer(c, ts, false);
                self.send_plan(ts, i, c, api, Plan { steps, customer: k, attended, swell: None, pull: None }, &guise)?;
            }
            1 => self.probe_session(ts, i, c, ip, n)?,
            2 => {
                let who = Anonymous {
                    api: &t.api,
                    operation: &t.operation,
                    source_network: t.source_network,
                    user_agent: &t.user_agent,
                    n,
                };
                self.anonymous_session(ts, i, who)?;
            }
            _ => {
                let technique = match self.acc.get(i).map_or(0, |a| a.smuggled) % 3 {
                    0 => Smuggling::ClTe,
                    1 => Smuggling::DuplicateCl,
                    _ => Smuggling::TeObfuscated,
                };
                let how = Ambiguous { api: &t.api, technique, rejected_share: PEN_TEST_REJECTED_SHARE, n: 2 };
                self.ambiguous_session(ts, i, c, how, &guise)?;
            }
        }
        let written = self.last_times.len() as u64;
        if let Some(slot) = self.acc.get_mut(i).and_then(|a| a.by_activity.get_mut(activity)) {
            *slot += written;
        }
        Ok(())
    }

    /// `n` probes of the penetration test's paths, in turn, with the testers' credentials:
    /// 403 for a path under the API's base path (something is there: a shadow endpoint), 404
    /// for the others (nothing: scanner noise, no endpoint).
    fn probe_session(&mut self, ts: u64, i: usize, c: usize, ip: Ipv4Addr, n: u64) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let InjectionKind::PenTest(t) = &inj.kind else { return Ok(()) };
        let Some(api) = self.apis.iter().find(|a| a.name == t.api) else { return Ok(()) };
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let tester = crate::simulate::scenario::Consumer { user_agent: t.user_agent.clone(), ..consumer.clone() };
        let (k, _) = self.pick_customer(c, ts, false);
        let (auth, start) = self.auth_headers(ts, c, k, Some(api))?;
        let mut exchanges = Vec::new();
        for _ in 0..n {
            let Some(acc) = self.acc.get_mut(i) else { break };
            let Some(path) = t.probe_paths.get(acc.next_probe % t.probe_paths.len().max(1)) else { break };
            acc.next_probe += 1;
            let path = path.replace("{base}", &api.base_path);
            let mut headers = base_headers(&tester, &mut self.rng);
            headers.extend(auth.iter().cloned());
            let req = Request { method: "GET".into(), target: path.clone(), headers, body: Vec::new() };
            let exists = !api.base_path.is_empty() && path.starts_with(&format!("{}/", api.base_path));
            let resp = if exists {
                self.book.hit(&api.host, "GET", &path, "shadow", None);
                if let Some(acc) = self.acc.get_mut(i) {
                    acc.endpoints.insert(format!("{} GET {path}", api.host));
                }
                json_response(403, &serde_json::json!({"Code": "UK.OBIE.Resource.Forbidden", "Message": "Forbidden"}), false)
            } else {
                json_response(404, &serde_json::json!({"Code": "UK.OBIE.NotFound", "Message": "Not found"}), false)
            };
            exchanges.push((req.into(), resp));
        }
        let client = SocketAddrV4::new(ip, 1024 + self.rng.below(64_000) as u16);
        self.send_injected(start, i, c, client, api, exchanges)
    }

    /// One check of synthetic monitor `i` with consumer `c`'s credentials, unattended, for
    /// the monitor's own test account: its operations in order (a listing hands out the
    /// account the others read); a failing check has every request answered 503 and is run
    /// again at once `retries` times on the same connection, failing again.
    pub(crate) fn monitor_session(&mut self, ts: u64, i: usize, c: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let InjectionKind::SyntheticMonitor(m) = &inj.kind else { return Ok(()) };
        let Some(api) = self.apis.iter().find(|a| a.name == m.api) else { return Ok(()) };
        let Some(ip) = self.tuning_source(i, m.source_network, m.sources) else { return Ok(()) };
        let ops: Vec<&Operation> = m.operations.iter().filter_map(|w| find_op(api, w)).collect();
        let failed = self.rng.chance(m.error_share);
        let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
        if acc.accounts.is_empty() {
            acc.accounts.push(self.rng.alnum(12));
        }
        let account = acc.accounts.first().cloned().unwrap_or_default();
        acc.checks += 1;
        acc.failed_checks += u64::from(failed);
        let mut steps = Vec::new();
        let runs = if failed { 1 + m.retries } else { 1 };
        for &op in (0..runs).flat_map(|_| ops.iter()) {
            let reads_by_id = op.parameters.iter().any(|p| p.location == ParamIn::Path);
            // The listing of a collection another step reads by id hands that id out.
            let hands_out = ops.iter().filter_map(|o| listing_of(api, o)).find(|(list, _)| std::ptr::eq(*list, op)).map(|(_, p)| p);
            let status = Some(if failed { MONITOR_FAILURE_STATUS } else { success_status(op) });
            steps.push(match (reads_by_id, hands_out) {
                (true, _) => Step { op, ids: Some(vec![(id_param(op), account.clone())]), status, listing: false },
                (false, Some(param)) => Step { op, ids: Some(vec![(param, account.clone())]), status, listing: !failed },
                (false, None) => Step { op, ids: Some(Vec::new()), status, listing: false },
            });
        }
        let guise = Guise { source: Some(ip), user_agent: Some(m.user_agent.clone()) };
        self.send_plan(ts, i, c, api, Plan { steps, customer: 0, attended: false, swell: None, pull: None }, &guise)?;
        if failed {
            let written = self.last_times.len() as u64;
            let first = self.last_times.first().copied();
            if let Some(acc) = self.acc.get_mut(i) {
                acc.errors += written;
                if let (Some(t), true) = (first, acc.failed_check_times.len() < MAX_FAILED_CHECK_TIMES) {
                    acc.failed_check_times.push(t);
                }
            }
        }
        Ok(())
    }

    /// One pass of batch job `i` by consumer `c`, unattended, from its own network: the
    /// listing that names every account of the job, then the pass's operation for each of
    /// them. The passes of a night take the operations in turn.
    pub(crate) fn batch_session(&mut self, ts: u64, i: usize, c: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let InjectionKind::BatchJob(b) = &inj.kind else { return Ok(()) };
        let Some(api) = self.apis.iter().find(|a| a.name == b.api) else { return Ok(()) };
        let reads: Vec<&Operation> = b.operations.iter().filter_map(|w| find_op(api, w)).collect();
        let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
        let pass = (acc.next_activity % reads.len().max(1) as u64) as usize;
        acc.next_activity += 1;
        let Some(op) = reads.get(pass).copied() else { return Ok(()) };
        while (acc.accounts.len() as u64) < b.accounts {
            let id = self.rng.alnum(12);
            acc.ids.insert(id.clone());
            acc.accounts.push(id);
        }
        acc.nights.insert(from_nanos(ts).with_timezone(&sc.timezone).date_naive());
        let accounts = acc.accounts.clone();
        let mut steps = Vec::new();
        if let Some((list, param)) = listing_of(api, op) {
            let ids = accounts.iter().map(|a| (param.clone(), a.clone())).collect();
            steps.push(Step { op: list, ids: Some(ids), status: None, listing: true });
        }
        let param = id_param(op);
        for a in accounts {
            steps.push(Step { op, ids: Some(vec![(param.clone(), a)]), status: Some(success_status(op)), listing: false });
        }
        self.send_plan(ts, i, c, api, Plan { steps, customer: 0, attended: false, swell: None, pull: None }, &Guise::default())
    }
}
