//! Normal traffic: which customer a session is for (PSD2: at most four unattended sessions a
//! customer in 24 hours), the credentials it carries, which operations it calls (only those
//! whose object ids the customer was given in an earlier answer), and the single-request
//! injections (shadow endpoints, zombie versions, deprecated operations).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::Result;
use apitap_discovery::openapi::{Operation, ParamIn};

use super::build::{base_headers, json_response, stray_server, wanted};
use super::{Generator, LoadedApi};
use crate::simulate::creds;
use crate::simulate::http::Request;
use crate::simulate::inject::{nanos_of, BuildOpts};
use crate::simulate::rng::{ln, Rng};
use crate::simulate::scenario::{psu_id, AuthKind, Consumer, InjectionKind};
use crate::simulate::values::is_id_name;

/// Requests on one keep-alive connection of normal traffic, at most.
const MAX_REQUESTS_PER_SESSION: u64 = 20;
/// Unattended sessions PSD2 allows per customer (account) in a rolling 24 hours (RTS
/// article 36(5)).
pub(crate) const PSD2_UNATTENDED_PER_DAY: usize = 4;
pub(crate) const DAY_NANOS: u64 = 86_400 * 1_000_000_000;
/// Random customers tried before the budget check walks them all.
const CUSTOMER_TRIES: u32 = 12;

/// How a session of usual calls departs from the consumer's normal traffic (the default:
/// it does not).
#[derive(Debug, Default, Clone)]
pub(crate) struct Usual {
    /// The injection whose requests these are (counted in its truth, kept inside its window).
    pub inj: Option<usize>,
    /// Requests on the connection (else drawn around the consumer's `requests_per_session`).
    pub n: Option<u64>,
    /// The API called (else one of the consumer's at random).
    pub api: Option<usize>,
    /// The client address (else one of the consumer's hosts).
    pub source: Option<Ipv4Addr>,
    /// A User-Agent instead of the consumer's.
    pub user_agent: Option<String>,
    /// Share answered 401 (a password-reset day); the others get the documented success.
    pub unauthorized_share: Option<f64>,
}

/// For each API consumer `c` calls (in the scenario's order), the operations its normal
/// traffic uses: its filter's, without deprecated ones for generated consumers.
pub(super) fn usual_ops(c: &Consumer, apis: &[LoadedApi]) -> Vec<(usize, Vec<usize>)> {
    apis.iter()
        .enumerate()
        .filter(|(_, a)| c.apis.contains(&a.name))
        .map(|(ai, a)| {
            let ops = a
                .spec
                .operations
                .iter()
                .enumerate()
                .filter(|(_, op)| wanted(c, op) && !(c.skip_deprecated && op.deprecated && c.operations.is_empty()))
                .map(|(oi, _)| oi)
                .collect();
            (ai, ops)
        })
        .collect()
}

/// Requests on a normal connection: 1 plus a geometric count, so the mean is `mean` (at least
/// 1), capped at [`MAX_REQUESTS_PER_SESSION`]. (The floor of an exponential with mean
/// `mean - 1` fell about half a request short.)
fn session_length(mean: f64, rng: &mut Rng) -> u64 {
    if !(mean > 1.0 && mean.is_finite()) {
        return 1;
    }
    // floor(Exp) with rate ln(m / (m - 1)) is geometric with mean m - 1.
    let scale = 1.0 / ln(mean / (mean - 1.0));
    (1 + rng.exp(scale) as u64).min(MAX_REQUESTS_PER_SESSION)
}

/// The names of `op`'s path parameters that name objects (`{AccountId}`, `{id}`).
fn id_params(op: &Operation) -> impl Iterator<Item = &str> {
    op.parameters.iter().filter(|p| p.location == ParamIn::Path && is_id_name(&p.name)).map(|p| p.name.as_str())
}

/// The `openbanking_intent_id` of customer `k` of a consumer: the account-access consent its
/// tokens were granted under, stable over the run.
fn intent_id(consumer: &str, k: u64) -> String {
    let h = |salt: u64| {
        let mut h =
            consumer.bytes().fold(0xcbf2_9ce4_8422_2325u64 ^ salt, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        h ^= k.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 33;
        h.wrapping_mul(0xff51_afd7_ed55_8ccd)
    };
    let (a, b) = (h(1), h(2));
    format!(
        "urn:bank:account-access-consent:{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

impl<W: Write> Generator<'_, W> {
    /// The customer a session of consumer `c` at `ts` is for, and whether it is attended. An
    /// unattended session goes to a customer with fewer than four unattended sessions in the
    /// last 24 hours; when none is left, the customer is asked to be present (attended).
    pub(crate) fn pick_customer(&mut self, c: usize, ts: u64, attended: bool) -> (u64, bool) {
        let n = self.scenario.consumers.get(c).map_or(1, |x| x.customers.max(1));
        let first = self.crng.below(n);
        let Some(st) = self.states.get_mut(c) else { return (first, attended) };
        if attended {
            st.customers.entry(first).or_default();
            return (first, true);
        }
        let free = |st: &super::ConsumerState, k: u64| {
            st.customers.get(&k).is_none_or(|cs| {
                cs.unattended.len() < PSD2_UNATTENDED_PER_DAY
                    || cs.unattended.front().is_some_and(|t| ts.saturating_sub(*t) >= DAY_NANOS)
            })
        };
        let mut pick = None;
        let mut k = first;
        for _ in 0..CUSTOMER_TRIES {
            if free(st, k) {
                pick = Some(k);
                break;
            }
            k = self.crng.below(n);
        }
        if pick.is_none() {
            pick = (0..n).map(|off| (first + off) % n).find(|k| free(st, *k));
        }
        let Some(k) = pick else {
            st.customers.entry(first).or_default();
            return (first, true);
        };
        let cs = st.customers.entry(k).or_default();
        if cs.unattended.len() >= PSD2_UNATTENDED_PER_DAY {
            cs.unattended.pop_front();
        }
        cs.unattended.push_back(ts);
        (k, false)
    }

    /// Credential headers of consumer `c` at `ts` for a session of customer `k` on `api`;
    /// fetches an opaque token first if needed (the returned time is when the session may
    /// start). JWTs name the customer (`sub`) and, on an Open Banking UK account-information
    /// API, its consent (`openbanking_intent_id`).
    pub(crate) fn auth_headers(
        &mut self,
        ts: u64,
        c: usize,
        k: u64,
        api: Option<&LoadedApi>,
    ) -> Result<(Vec<(String, String)>, u64)> {
        let sc = self.scenario;
        let Some(consumer) = sc.consumers.get(c) else { return Ok((Vec::new(), ts)) };
        let secs = (ts / 1_000_000_000) as i64;
        let mut at = ts;
        let value = match consumer.auth {
            AuthKind::None => return Ok((Vec::new(), ts)),
            AuthKind::Jwt => {
                let sub = psu_id(&consumer.id, k);
                let intent = api.filter(|a| a.base_path.contains("/aisp")).map(|_| intent_id(&consumer.id, k));
                let extra: Vec<(&str, &str)> = intent.as_deref().map(|i| ("openbanking_intent_id", i)).into_iter().collect();
                format!(
                    "Bearer {}",
                    creds::jwt_with(
                        &consumer.client_id,
                        Some(&sub),
                        "accounts payments",
                        secs,
                        secs + 3600,
                        &extra,
                        &mut self.rng
                    )
                )
            }
            AuthKind::ApiKey => {
                let key = format!("{}-{}", consumer.client_id, self.states.get(c).map(|s| s.secret.as_str()).unwrap_or(""));
                return Ok((vec![("x-api-key".to_string(), key)], ts));
            }
            AuthKind::Basic => {
                let secret = self.states.get(c).map(|s| s.secret.clone()).unwrap_or_default();
                creds::basic(&consumer.client_id, &secret)
            }
            AuthKind::Opaque => {
                let valid = self.states.get(c).and_then(|s| s.token.clone()).filter(|(_, exp)| *exp > ts);
                let token = match valid {
                    Some((t, _)) => t,
                    None => {
                        let (t, end) = self.token_session(ts, c)?;
                        at = end + 1_000_000;
                        t
                    }
                };
                format!("Bearer {token}")
            }
        };
        Ok((vec![("Authorization".to_string(), value)], at))
    }

    /// A connection to the token endpoint: client credentials in, an opaque token out.
    fn token_session(&mut self, ts: u64, c: usize) -> Result<(String, u64)> {
        let Some(auth) = self.scenario.auth_server.clone() else { return Ok((String::new(), ts)) };
        let consumer = self.scenario.consumers.get(c);
        let client_id = consumer.map(|c| c.client_id.clone()).unwrap_or_default();
        let secret = self.states.get(c).map(|s| s.secret.clone()).unwrap_or_default();
        let token = creds::opaque_token(&mut self.rng);
        let mut headers = vec![
            ("User-Agent".into(), consumer.map(|c| c.user_agent.clone()).unwrap_or_default()),
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ("Accept".into(), "application/json".into()),
        ];
        // Mutual TLS applies at the token endpoint too (FAPI).
        if let Some(cert) = consumer.and_then(|c| c.client_cert.clone()) {
            headers.push(("Client-Cert".into(), cert));
        }
        let req = Request {
            method: "POST".into(),
            target: auth.token_path.clone(),
            headers,
            body: format!("grant_type=client_credentials&scope=accounts&client_id={client_id}&client_secret={secret}")
                .into_bytes(),
        };
        let resp =
            json_response(200, &serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}), false);
        let client = self.client_addr(c);
        let end = self.exchange_session(ts, client, auth.server, &auth.host, vec![(req.into(), resp)], c)?;
        self.book.hit(&auth.host, "POST", &auth.token_path, "documented", None);
        if let Some(st) = self.states.get_mut(c) {
            st.token = Some((token.clone(), ts + 3_300 * 1_000_000_000));
        }
        Ok((token, end))
    }

    /// One of `ops` (indices into `api`'s operations) for customer `k` of consumer `c`: one
    /// whose object ids the customer was given, else one without object ids, else any (a
    /// consumer whose operations all need ids it can learn nowhere). GETs weigh six times
    /// the others.
    pub(crate) fn usual_op<'s>(&mut self, api: &'s LoadedApi, ops: &[usize], c: usize, k: u64) -> Option<&'s Operation> {
        let known = self.states.get(c).and_then(|s| s.customers.get(&k));
        let has = |name: &str| known.is_some_and(|cs| cs.ids.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        let all: Vec<&Operation> = ops.iter().filter_map(|&i| api.spec.operations.get(i)).collect();
        let mut pool: Vec<&Operation> = all.iter().copied().filter(|op| id_params(op).all(has)).collect();
        if pool.is_empty() {
            pool = all.iter().copied().filter(|op| id_params(op).next().is_none()).collect();
        }
        if pool.is_empty() {
            pool = all;
        }
        let weights: Vec<f64> = pool.iter().map(|op| if op.method == "GET" { 6.0 } else { 1.0 }).collect();
        self.rng.weighted(&weights).and_then(|i| pool.get(i)).copied()
    }

    /// A connection of usual calls by consumer `c`: normal traffic with the default `how`,
    /// or an injection's (off-hours token, error-spike retries, password reset, rate surge,
    /// new user agent).
    pub(crate) fn normal_session(&mut self, ts: u64, c: usize, how: &Usual) -> Result<()> {
        let sc = self.scenario;
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let Some(st) = self.states.get(c) else { return Ok(()) };
        let (api_idx, ops) = match how.api {
            Some(ai) => match st.ops.iter().find(|(a, _)| *a == ai) {
                Some((_, ops)) => (ai, ops.clone()),
                None => {
                    let Some(api) = self.apis.get(ai) else { return Ok(()) };
                    let ops = api
                        .spec
                        .operations
                        .iter()
                        .enumerate()
                        .filter(|(_, op)| wanted(consumer, op) && !op.deprecated)
                        .map(|(i, _)| i)
                        .collect();
                    (ai, ops)
                }
            },
            None => match self.rng.pick(&st.ops) {
                Some((ai, ops)) => (*ai, ops.clone()),
                None => return Ok(()),
            },
        };
        let Some(api) = self.apis.get(api_idx) else { return Ok(()) };
        if ops.is_empty() {
            return Ok(());
        }
        let attended = self.rng.chance(consumer.attended_share);
        let (k, attended) = self.pick_customer(c, ts, attended);
        let (auth, start) = self.auth_headers(ts, c, k, Some(api))?;
        let n = how.n.unwrap_or_else(|| session_length(consumer.requests_per_session, &mut self.rng));
        let renamed;
        let who = match &how.user_agent {
            Some(ua) => {
                renamed = Consumer { user_agent: ua.clone(), ..consumer.clone() };
                &renamed
            }
            None => consumer,
        };
        let mut exchanges = Vec::new();
        for _ in 0..n {
            let Some(op) = self.usual_op(api, &ops, c, k) else { continue };
            let status = how.unauthorized_share.map(|share| {
                if self.rng.chance(share) {
                    if let Some(acc) = how.inj.and_then(|i| self.acc.get_mut(i)) {
                        acc.errors += 1;
                    }
                    401
                } else {
                    super::success_status(op)
                }
            });
            let opts = BuildOpts { status, customer: Some(k), learn: how.inj.is_none(), ..BuildOpts::default() };
            let (req, resp, template) = self.build(api, op, &api.base_path, who, c, &auth, attended, start, &opts);
            let class = if op.deprecated { "zombie" } else { "documented" };
            self.book.hit(&api.host, &op.method, &template, class, Some(&api.name));
            if let Some(acc) = how.inj.and_then(|i| self.acc.get_mut(i)) {
                acc.endpoints.insert(format!("{} {} {template}", api.host, op.method));
            }
            exchanges.push((req.into(), resp));
        }
        let mut client = self.client_addr(c);
        if let Some(ip) = how.source {
            client = SocketAddrV4::new(ip, client.port());
        }
        if exchanges.is_empty() {
            return Ok(());
        }
        self.deadline = how.inj.and_then(|i| sc.injections.get(i)).map(|j| nanos_of(j.end));
        let written = self.exchange_session(start, client, api.server, &api.host, exchanges, c);
        self.deadline = None;
        written?;
        if let Some(i) = how.inj {
            self.note_requests(i);
        }
        Ok(())
    }

    /// One request of a shadow-endpoint, zombie-version or deprecated-operations injection.
    pub(crate) fn injected_request(&mut self, ts: u64, i: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let Some(c) = sc.consumers.iter().position(|c| c.id == inj.consumer) else { return Ok(()) };
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let (k, attended) = self.pick_customer(c, ts, false);
        let named = inj.kind.api().and_then(|name| self.apis.iter().find(|a| a.name == name));
        let (auth, start) = self.auth_headers(ts, c, k, named)?;
        let (req, resp, host, server, template, class, api_name) = match &inj.kind {
            InjectionKind::ShadowEndpoint { host, method, path } => {
                let server = self.apis.iter().find(|a| &a.host == host).map(|a| a.server).unwrap_or_else(|| stray_server(host));
                let mut headers = base_headers(consumer, &mut self.rng);
                headers.extend(auth.clone());
                let req = Request { method: method.clone(), target: path.clone(), headers, body: Vec::new() };
                let body = serde_json::json!({"Data": {"Items": [{"Id": self.rng.uuid()}]}});
                (req, json_response(200, &body, self.rng.chance(0.3)), host.clone(), server, path.clone(), "shadow", None)
            }
            InjectionKind::ZombieVersion { api, base_path } => {
                // An old version replays current GETs under its base path.
                let Some(loaded) = self.apis.iter().find(|a| &a.name == api) else { return Ok(()) };
                let ops: Vec<usize> =
                    loaded.spec.operations.iter().enumerate().filter(|(_, op)| op.method == "GET").map(|(i, _)| i).collect();
                let Some(op) = self.usual_op(loaded, &ops, c, k) else { return Ok(()) };
                let opts = BuildOpts { customer: Some(k), learn: true, ..BuildOpts::default() };
                let (req, resp, template) = self.build(loaded, op, base_path, consumer, c, &auth, attended, start, &opts);
                (req, resp, loaded.host.clone(), loaded.server, template, "zombie", Some(loaded.name.clone()))
            }
            InjectionKind::DeprecatedOperations { api } => {
                // Deprecated operations are called as documented.
                let Some(loaded) = self.apis.iter().find(|a| &a.name == api) else { return Ok(()) };
                let ops: Vec<usize> =
                    loaded.spec.operations.iter().enumerate().filter(|(_, op)| op.deprecated).map(|(i, _)| i).collect();
                let Some(op) = self.usual_op(loaded, &ops, c, k) else { return Ok(()) };
                let opts = BuildOpts { customer: Some(k), learn: true, ..BuildOpts::default() };
                let (req, resp, template) = self.build(loaded, op, &loaded.base_path, consumer, c, &auth, attended, start, &opts);
                (req, resp, loaded.host.clone(), loaded.server, template, "zombie", Some(loaded.name.clone()))
            }
            // The behavioural kinds write whole connections of their own (inject/).
            _ => return self.inject_session(ts, i, c),
        };
        self.book.hit(&host, &req.method, &template, class, api_name.as_deref());
        if let Some(acc) = self.acc.get_mut(i) {
            acc.endpoints.insert(format!("{host} {} {template}", req.method));
        }
        let client = self.client_addr(c);
        self.exchange_session(start, client, server, &host, vec![(req.into(), resp)], c)?;
        self.note_requests(i);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_carry_the_mean_number_of_requests() {
        let mut rng = Rng::new(12);
        for mean in [1.0, 2.0, 4.0, 6.5] {
            let n = 40_000;
            let total: u64 = (0..n).map(|_| session_length(mean, &mut rng)).sum();
            let got = total as f64 / f64::from(n);
            assert!((got - mean).abs() < 0.05 * mean, "mean {mean}: got {got}");
        }
        assert_eq!(session_length(0.5, &mut rng), 1);
    }

    #[test]
    fn intent_ids_are_stable_per_customer_and_uuid_shaped() {
        let a = intent_id("tpp-alpha", 3);
        assert_eq!(a, intent_id("tpp-alpha", 3));
        assert_ne!(a, intent_id("tpp-alpha", 4));
        assert_ne!(a, intent_id("tpp-beta", 3));
        let uuid = a.strip_prefix("urn:bank:account-access-consent:").unwrap_or_default();
        let parts: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert!(uuid.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()), "{a}");
    }
}
