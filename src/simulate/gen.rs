//! The generator: turns a validated scenario and its specs into packets (written in time order
//! to a pcap) and the ground truth.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context, Result};
use apitap_discovery::openapi::{Operation, ParamIn, Spec};

use super::creds;
use super::inject::{self, BuildOpts, InjectAcc};
use super::http::{reason_phrase, Request, Response};
use super::rng::Rng;
use super::scenario::{AuthKind, Consumer, InjectionKind, Scenario};
use super::schedule::{from_nanos, session_starts};
use super::truth::{ConsumerTruth, EndpointBook, Truth, TRUTH_SCHEMA_VERSION};
use super::values::{self, ValueCtx};
use super::wire::{Frame, PcapWriter, TcpConn};

/// Object ids a consumer remembers from its responses (the oldest are forgotten).
const MAX_KNOWN_IDS: usize = 64;

/// Requests on one keep-alive connection, at most.
const MAX_REQUESTS_PER_SESSION: u64 = 20;

/// An API with its loaded spec.
pub struct LoadedApi {
    /// Scenario name of the API.
    pub name: String,
    /// Host header.
    pub host: String,
    /// Server address.
    pub server: SocketAddrV4,
    /// Base path in use.
    pub base_path: String,
    /// Currency of the amounts in its bodies.
    pub currency: String,
    /// Country of its IBANs.
    pub country: String,
    /// The spec.
    pub spec: Spec,
}

pub(super) struct ConsumerState {
    pub(super) hosts: Vec<Ipv4Addr>,
    pub(super) next_port: u16,
    pub(super) ids: Vec<(String, String)>,
    pub(super) token: Option<(String, u64)>,
    pub(super) secret: String,
    pub(super) requests: u64,
}

/// What a session does.
#[derive(Clone, Copy)]
enum SessionKind {
    Normal(usize),
    Injected(usize),
}

/// Generates the capture and returns the truth.
pub struct Generator<'a, W: Write> {
    pub(super) scenario: &'a Scenario,
    pub(super) apis: &'a [LoadedApi],
    pub(super) rng: Rng,
    seed: u64,
    out: PcapWriter<W>,
    heap: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    frame_seq: u64,
    pub(super) book: EndpointBook,
    pub(super) states: Vec<ConsumerState>,
    /// What each injection did so far, for its truth.
    pub(super) acc: Vec<InjectAcc>,
    /// Bank-local month-end windows `[from, to)` in nanoseconds, with the requests in them.
    pub(super) month_end: Vec<(u64, u64, u64)>,
    /// Send times of the requests of the last connection written.
    pub(super) last_times: Vec<u64>,
    /// While an injection's session is written: the end of its window. Server latency and
    /// client think time are shortened so that every request of the session falls inside it.
    pub(super) deadline: Option<u64>,
    requests: u64,
    connections: u64,
}

impl<'a, W: Write> Generator<'a, W> {
    /// A generator writing to `out`.
    pub fn new(scenario: &'a Scenario, apis: &'a [LoadedApi], seed: u64, out: W) -> Result<Self> {
        inject::check(scenario, apis)?;
        let mut rng = Rng::new(seed);
        let mut book = EndpointBook::default();
        for api in apis {
            for op in &api.spec.operations {
                let class = if op.deprecated { "zombie" } else { "documented" };
                book.declare(&api.host, &op.method, &format!("{}{}", api.base_path, op.path), class, Some(&api.name));
            }
        }
        if let Some(auth) = &scenario.auth_server {
            book.declare(&auth.host, "POST", &auth.token_path, "documented", None);
        }
        let states = scenario
            .consumers
            .iter()
            .map(|c| {
                let (base, len) = c.network;
                let size = 1u64 << (32 - u32::from(len));
                let hosts = (0..4.min(size.saturating_sub(2).max(1)))
                    .map(|_| Ipv4Addr::from(u32::from(base).wrapping_add(1 + rng.below(size.saturating_sub(2).max(1)) as u32)))
                    .collect();
                ConsumerState {
                    hosts,
                    next_port: 30_000 + rng.below(20_000) as u16,
                    ids: Vec::new(),
                    token: None,
                    secret: rng.alnum(24),
                    requests: 0,
                }
            })
            .collect();
        Ok(Generator {
            scenario,
            apis,
            rng,
            seed,
            out: PcapWriter::new(out).context("cannot write the capture header")?,
            heap: BinaryHeap::new(),
            frame_seq: 0,
            book,
            states,
            acc: scenario.injections.iter().map(|_| InjectAcc::default()).collect(),
            month_end: inject::month_end_windows(scenario),
            last_times: Vec::new(),
            deadline: None,
            requests: 0,
            connections: 0,
        })
    }

    /// Runs the whole scenario and returns the truth (the capture is flushed into `out`).
    pub fn run(mut self) -> Result<(Truth, W)> {
        let sc = self.scenario;
        let from = sc.start;
        let to = sc.start + chrono::Duration::hours(i64::try_from(sc.duration_hours).unwrap_or(i64::MAX / 3_600_000));
        let mut sessions: Vec<(u64, SessionKind)> = Vec::new();
        for (i, c) in sc.consumers.iter().enumerate() {
            let mut r = self.rng.fork(1000 + i as u64);
            let per_hour = c.requests_per_hour / c.requests_per_session;
            sessions.extend(session_starts(from, to, per_hour, true, sc.timezone, &mut r).into_iter().map(|t| (t, SessionKind::Normal(i))));
        }
        for (i, inj) in sc.injections.iter().enumerate() {
            let mut r = self.rng.fork(2000 + i as u64);
            let (s, e) = (inj.start.max(from), inj.end.min(to));
            let per_hour = inj.requests_per_hour / inj.requests_per_session as f64;
            sessions.extend(session_starts(s, e, per_hour, false, sc.timezone, &mut r).into_iter().map(|t| (t, SessionKind::Injected(i))));
        }
        sessions.sort_by_key(|s| s.0);
        for (ts, kind) in sessions {
            self.flush_before(ts)?;
            match kind {
                SessionKind::Normal(c) => self.normal_session(ts, c)?,
                SessionKind::Injected(i) => match sc.injections.get(i).map(|j| &j.kind) {
                    Some(InjectionKind::ShadowEndpoint { .. } | InjectionKind::ZombieVersion { .. } | InjectionKind::DeprecatedOperations { .. }) => {
                        self.injected_request(ts, i)?
                    }
                    _ => self.inject_session(ts, i)?,
                },
            }
        }
        self.flush_before(u64::MAX)?;
        let packets = self.out.packets();
        let out = self.out.finish().context("cannot finish the capture")?;
        let consumers = sc
            .consumers
            .iter()
            .zip(&self.states)
            .map(|(c, s)| ConsumerTruth {
                id: c.id.clone(),
                kind: c.kind.clone(),
                label: c.client_id.clone(),
                auth: c.auth.name(),
                network: format!("{}/{}", c.network.0, c.network.1),
                user_agent: c.user_agent.clone(),
                requests: s.requests,
                org_id: c.org_id.clone(),
            })
            .collect();
        let mut injections: Vec<_> = sc.injections.iter().zip(std::mem::take(&mut self.acc)).map(|(inj, acc)| acc.truth(inj, sc)).collect();
        injections.extend(inject::month_end_truth(&self.month_end));
        let truth = Truth {
            schema_version: TRUTH_SCHEMA_VERSION,
            scenario: sc.name.clone(),
            seed: self.seed,
            start: from.to_rfc3339(),
            end: to.to_rfc3339(),
            timezone: sc.timezone.name().to_string(),
            requests: self.requests,
            connections: self.connections,
            packets,
            endpoints: self.book.finish(),
            consumers,
            injections,
        };
        Ok((truth, out))
    }

    /// Writes every queued frame earlier than `ts` (no later session can produce one).
    fn flush_before(&mut self, ts: u64) -> Result<()> {
        while self.heap.peek().is_some_and(|Reverse((t, _, _))| *t < ts) {
            if let Some(Reverse((t, _, data))) = self.heap.pop() {
                self.out.write_frame(t, &data).context("cannot write the capture")?;
            }
        }
        Ok(())
    }

    fn queue(&mut self, frames: Vec<Frame>) {
        for f in frames {
            self.frame_seq += 1;
            self.heap.push(Reverse((f.ts, self.frame_seq, f.data)));
        }
    }

    pub(super) fn client_addr(&mut self, c: usize) -> SocketAddrV4 {
        let Some(st) = self.states.get_mut(c) else { return SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40_000) };
        let ip = self.rng.pick(&st.hosts).copied().unwrap_or(Ipv4Addr::LOCALHOST);
        let port = st.next_port;
        st.next_port = if port >= 60_999 { 30_000 } else { port + 1 };
        SocketAddrV4::new(ip, port)
    }

    /// Authorization headers for consumer `c` at `ts`; fetches an opaque token first if needed.
    pub(super) fn auth_headers(&mut self, ts: u64, c: usize) -> Result<(Vec<(String, String)>, u64)> {
        let sc = self.scenario;
        let Some(consumer) = sc.consumers.get(c) else { return Ok((Vec::new(), ts)) };
        let secs = (ts / 1_000_000_000) as i64;
        let mut at = ts;
        let value = match consumer.auth {
            AuthKind::None => return Ok((Vec::new(), ts)),
            AuthKind::Jwt => format!("Bearer {}", creds::jwt(&consumer.client_id, None, "accounts payments", secs, secs + 3600, &mut self.rng)),
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
        let consumer = self.scenario.consumers.get(c).cloned();
        let client_id = consumer.as_ref().map(|c| c.client_id.clone()).unwrap_or_default();
        let secret = self.states.get(c).map(|s| s.secret.clone()).unwrap_or_default();
        let token = creds::opaque_token(&mut self.rng);
        let mut headers = vec![
            ("User-Agent".into(), consumer.as_ref().map(|c| c.user_agent.clone()).unwrap_or_default()),
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ("Accept".into(), "application/json".into()),
        ];
        // Mutual TLS applies at the token endpoint too (FAPI).
        if let Some(cert) = consumer.as_ref().and_then(|c| c.client_cert.clone()) {
            headers.push(("Client-Cert".into(), cert));
        }
        let req = Request {
            method: "POST".into(),
            target: auth.token_path.clone(),
            headers,
            body: format!("grant_type=client_credentials&scope=accounts&client_id={client_id}&client_secret={secret}").into_bytes(),
        };
        let resp = json_response(200, &serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}), false);
        let client = self.client_addr(c);
        let end = self.exchange_session(ts, client, auth.server, &auth.host, vec![(req, resp)], c)?;
        self.book.hit(&auth.host, "POST", &auth.token_path, "documented", None);
        if let Some(st) = self.states.get_mut(c) {
            st.token = Some((token.clone(), ts + 3_300 * 1_000_000_000));
        }
        Ok((token, end))
    }

    /// Writes one keep-alive connection carrying `exchanges`; returns the time it ended.
    pub(super) fn exchange_session(
        &mut self,
        ts: u64,
        client: SocketAddrV4,
        server: SocketAddrV4,
        host: &str,
        exchanges: Vec<(Request, Response)>,
        c: usize,
    ) -> Result<u64> {
        let mut frames = Vec::new();
        let mut conn = TcpConn::new(client, server, &mut self.rng);
        let rtt = 200_000 + self.rng.below(800_000);
        let mut t = conn.open(ts, rtt, &mut frames);
        self.last_times.clear();
        let total = exchanges.len() as u64;
        for (k, (req, resp)) in exchanges.into_iter().enumerate() {
            t = conn.send(t + 50_000, true, &req.to_bytes(host), &mut frames);
            self.last_times.push(t);
            for w in self.month_end.iter_mut().filter(|w| (w.0..w.1).contains(&t)) {
                w.2 += 1;
            }
            let mut latency = (self.rng.lognormal(35.0, 0.6) * 1e6) as u64;
            let mut think = (self.rng.exp(150.0) * 1e6) as u64;
            if let Some(deadline) = self.deadline {
                // Share what is left of the window among the requests still to come.
                let left = total.saturating_sub(k as u64).max(1);
                let share = deadline.saturating_sub(t) / (4 * left);
                latency = latency.min(share);
                think = think.min(share);
            }
            t = conn.send(t + latency, false, &response_bytes(resp, conn.mss()), &mut frames);
            t += think;
            self.requests += 1;
            if let Some(st) = self.states.get_mut(c) {
                st.requests += 1;
            }
        }
        let end = conn.close(t, &mut frames);
        self.connections += 1;
        self.queue(frames);
        Ok(end)
    }

    fn normal_session(&mut self, ts: u64, c: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let apis: Vec<usize> = (0..self.apis.len())
            .filter(|&i| self.apis.get(i).is_some_and(|a| consumer.apis.contains(&a.name)))
            .collect();
        let Some(&api_idx) = self.rng.pick(&apis) else { return Ok(()) };
        let Some(api) = self.apis.get(api_idx) else { return Ok(()) };
        let ops: Vec<&Operation> = api.spec.operations.iter().filter(|op| wanted(consumer, op)).collect();
        if ops.is_empty() {
            return Ok(());
        }
        let (auth, start) = self.auth_headers(ts, c)?;
        let attended = self.rng.chance(consumer.attended_share);
        let n = (1 + self.rng.exp(consumer.requests_per_session - 1.0) as u64).min(MAX_REQUESTS_PER_SESSION);
        let mut exchanges = Vec::new();
        for _ in 0..n {
            let weights: Vec<f64> = ops.iter().map(|op| if op.method == "GET" { 6.0 } else { 1.0 }).collect();
            let Some(op) = self.rng.weighted(&weights).and_then(|i| ops.get(i)).copied() else { continue };
            let (req, resp, target_template) = self.build(api, op, &api.base_path, consumer, c, &auth, attended, start, &BuildOpts::learning());
            let class = if op.deprecated { "zombie" } else { "documented" };
            self.book.hit(&api.host, &op.method, &target_template, class, Some(&api.name));
            exchanges.push((req, resp));
        }
        let client = self.client_addr(c);
        self.exchange_session(start, client, api.server, &api.host, exchanges, c)?;
        Ok(())
    }

    fn injected_request(&mut self, ts: u64, i: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let Some(c) = sc.consumers.iter().position(|c| c.id == inj.consumer) else { return Ok(()) };
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let (auth, start) = self.auth_headers(ts, c)?;
        let (req, resp, host, server, template, class, api_name) = match &inj.kind {
            InjectionKind::ShadowEndpoint { host, method, path } => {
                let server = self.apis.iter().find(|a| &a.host == host).map(|a| a.server).unwrap_or_else(|| stray_server(host));
                let mut headers = base_headers(consumer, &mut self.rng);
                headers.extend(auth.clone());
                let req = Request { method: method.clone(), target: path.clone(), headers, body: Vec::new() };
                let body = serde_json::json!({"Data": {"Items": [{"Id": self.rng.uuid()}]}});
                (req, json_response(200, &body, self.rng.chance(0.3)), host.clone(), server, path.clone(), "shadow", None)
            }
            InjectionKind::ZombieVersion { api, .. } | InjectionKind::DeprecatedOperations { api } => {
                // An old version replays current GETs under its base path; deprecated
                // operations are called as documented.
                let old = base_path_of(&inj.kind).map(str::to_string);
                let Some(loaded) = self.apis.iter().find(|a| &a.name == api) else { return Ok(()) };
                let ops: Vec<&Operation> = loaded
                    .spec
                    .operations
                    .iter()
                    .filter(|op| if old.is_some() { op.method == "GET" } else { op.deprecated })
                    .collect();
                let Some(op) = self.rng.pick(&ops).copied() else { return Ok(()) };
                let base = old.clone().unwrap_or_else(|| loaded.base_path.clone());
                let (req, resp, template) = self.build(loaded, op, &base, consumer, c, &auth, false, start, &BuildOpts::learning());
                (req, resp, loaded.host.clone(), loaded.server, template, "zombie", Some(loaded.name.clone()))
            }
            // The behavioural kinds write whole connections of their own (inject.rs).
            _ => return self.inject_session(ts, i),
        };
        self.book.hit(&host, &req.method, &template, class, api_name.as_deref());
        if let Some(acc) = self.acc.get_mut(i) {
            acc.endpoints.insert(format!("{host} {} {template}", req.method));
        }
        let client = self.client_addr(c);
        self.exchange_session(start, client, server, &host, vec![(req, resp)], c)?;
        self.note_requests(i);
        Ok(())
    }

    /// Builds one request/response pair for `op` under `base`; returns them and the full path
    /// template.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn build(
        &mut self,
        api: &LoadedApi,
        op: &Operation,
        base: &str,
        consumer: &Consumer,
        c: usize,
        auth: &[(String, String)],
        attended: bool,
        ts: u64,
        opts: &BuildOpts,
    ) -> (Request, Response, String) {
        let now_secs = (ts / 1_000_000_000) as i64;
        let ids = match &opts.ids {
            Some(ids) => ids.clone(),
            None => self.states.get(c).map(|s| s.ids.clone()).unwrap_or_default(),
        };
        let ctx = ValueCtx { now_secs, currency: &api.currency, country: &api.country, ids: &ids };
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut headers = base_headers(consumer, &mut self.rng);
        headers.extend(auth.iter().cloned());
        if attended {
            // One customer per session: the address follows from the session, not the request.
            let h = (ts ^ (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            headers.push(("x-fapi-customer-ip-address".into(), format!("81.{}.{}.{}", (h >> 8) & 255, (h >> 16) & 255, 1 + (h >> 24) % 254)));
            headers.push(("x-fapi-auth-date".into(), from_nanos(ts.saturating_sub(3_600_000_000_000)).format("%a, %d %b %Y %H:%M:%S GMT").to_string()));
        }
        for p in &op.parameters {
            match p.location {
                ParamIn::Path => {
                    let v = values::path_value(p, &ctx, &mut self.rng);
                    path = path.replace(&format!("{{{}}}", p.name), &v);
                }
                ParamIn::Query if p.required || self.rng.chance(0.2) => {
                    let v = values::generate(&p.schema, &p.name, &ctx, &mut self.rng);
                    query.push(format!("{}={}", p.name, plain(&v)));
                }
                _ => {}
            }
        }
        let mut target = format!("{base}{path}");
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let mut body = Vec::new();
        if let Some(b) = &op.request_body {
            let v = values::generate(&b.schema, "body", &ctx, &mut self.rng);
            body = serde_json::to_vec(&v).unwrap_or_default();
            headers.push(("Content-Type".into(), b.media_type.clone()));
        }
        let status = match opts.status {
            Some(s) => s,
            None => {
                let normal = pick_status(op, &mut self.rng);
                self.spike_status(&api.name, ts).unwrap_or(normal)
            }
        };
        let resp_schema = op
            .responses
            .iter()
            .find(|r| r.status == status.to_string())
            .or_else(|| op.responses.iter().find(|r| r.status.starts_with(&status.to_string()[..1])))
            .and_then(|r| r.body.as_ref());
        let resp_body = match resp_schema {
            Some(b) if status < 400 => values::generate(&b.schema, "response", &ctx, &mut self.rng),
            _ if status == 204 => serde_json::Value::Null,
            _ => serde_json::json!({"Code": format!("UK.OBIE.{status}"), "Message": reason_phrase(status), "Id": self.rng.uuid()}),
        };
        if opts.learn {
            self.learn_ids(c, &resp_body);
        }
        let chunked = self.rng.chance(0.3);
        let mut resp = if status == 204 {
            Response { status, reason: reason_phrase(status).into(), headers: Vec::new(), body: Vec::new(), chunked: false }
        } else {
            json_response(status, &resp_body, chunked)
        };
        // The ASPSP echoes the interaction id, as the OB-UK specs document.
        if let Some((_, id)) = headers.iter().find(|(n, _)| n == "x-fapi-interaction-id") {
            resp.headers.push(("x-fapi-interaction-id".into(), id.clone()));
        }
        let req = Request { method: op.method.clone(), target, headers, body };
        (req, resp, format!("{base}{}", op.path))
    }

    /// Remembers object ids (properties named `...Id`) the consumer saw in a response.
    fn learn_ids(&mut self, c: usize, v: &serde_json::Value) {
        let Some(st) = self.states.get_mut(c) else { return };
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, val) in m {
                        if let (true, serde_json::Value::String(s)) = (k.ends_with("Id"), val) {
                            if !st.ids.iter().any(|(a, b)| a == k && b == s) {
                                if st.ids.len() >= MAX_KNOWN_IDS {
                                    st.ids.remove(0);
                                }
                                st.ids.push((k.clone(), s.clone()));
                            }
                        }
                        stack.push(val);
                    }
                }
                serde_json::Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
    }
}

fn base_path_of(kind: &InjectionKind) -> Option<&str> {
    match kind {
        InjectionKind::ZombieVersion { base_path, .. } => Some(base_path),
        _ => None,
    }
}

/// True when the consumer's operation filter admits `op` (empty filter: everything).
pub(super) fn wanted(c: &Consumer, op: &Operation) -> bool {
    c.operations.is_empty()
        || c.operations.iter().any(|w| {
            op.operation_id.as_deref() == Some(w.as_str()) || *w == format!("{} {}", op.method, op.path)
        })
}

/// Headers every request of a consumer carries.
pub(super) fn base_headers(c: &Consumer, rng: &mut Rng) -> Vec<(String, String)> {
    let mut h = vec![
        ("User-Agent".into(), c.user_agent.clone()),
        ("Accept".into(), "application/json".into()),
        ("x-fapi-interaction-id".into(), creds::fapi_interaction_id(rng)),
    ];
    if let Some(cert) = &c.client_cert {
        h.push(("Client-Cert".into(), cert.clone()));
    }
    h
}

/// A documented success status most of the time, errors at realistic rates.
fn pick_status(op: &Operation, rng: &mut Rng) -> u16 {
    let ok = success_status(op);
    let r = rng.unit();
    if r < 0.005 {
        500
    } else if r < 0.010 {
        429
    } else if r < 0.020 {
        401
    } else if r < 0.035 {
        404
    } else if r < 0.045 {
        400
    } else {
        ok
    }
}

/// The bytes of `resp`. A chunked message whose last segment would hold only the tail of the
/// final `0` chunk (1 to 4 bytes) gets a `Cache-Control: no-store` header: legal HTTP, but
/// tshark 4 reports such a split as a malformed packet, and the capture must read cleanly.
fn response_bytes(mut resp: Response, mss: u16) -> Vec<u8> {
    let bytes = resp.to_bytes();
    if resp.chunked && (1..=4).contains(&(bytes.len() % usize::from(mss.max(1)))) {
        resp.headers.push(("Cache-Control".into(), "no-store".into()));
        return resp.to_bytes();
    }
    bytes
}

/// The operation's documented success status (200 when it documents none).
pub(super) fn success_status(op: &Operation) -> u16 {
    op.responses.iter().filter_map(|r| r.status.parse::<u16>().ok()).find(|s| (200..300).contains(s)).unwrap_or(200)
}

/// A JSON response.
pub(super) fn json_response(status: u16, body: &serde_json::Value, chunked: bool) -> Response {
    Response {
        status,
        reason: reason_phrase(status).into(),
        headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
        chunked,
    }
}

/// A query value as text, percent-encoding what must be.
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => values::percent_encode_segment(s),
        other => values::percent_encode_segment(&other.to_string()),
    }
}

/// A server address for a host no API serves (a stray host): stable per host name.
fn stray_server(host: &str) -> SocketAddrV4 {
    let h = host.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    SocketAddrV4::new(Ipv4Addr::new(10, 99, (h >> 8) as u8, (h as u8).max(1)), 8080)
}
