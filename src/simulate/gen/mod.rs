//! The generator: turns a validated scenario and its specs into packets (written in time order
//! to a pcap) and the ground truth. Sessions (one keep-alive connection each) are drawn for
//! every consumer and injection up front, sorted by start time, and written one by one; the
//! frames of a session wait in a heap until no later session can produce an earlier frame.
//!
//! Files: this one (state, the run, connections), `session.rs` (normal traffic: customers,
//! credentials, the operations a consumer may call), `build.rs` (one request and its answer
//! from the spec).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context, Result};
use apitap_discovery::openapi::Spec;

use super::h2::H2Conn;
use super::http::{Request, Response};
use super::inject::{self, InjectAcc};
use super::rng::Rng;
use super::scenario::{InjectionKind, Protocol, Scenario};
use super::schedule::{daily_runs, even_starts, every, in_working_hours, session_starts};
use super::truth::{ConsumerTruth, EndpointBook, Truth, TRUTH_SCHEMA_VERSION};
use super::wire::{Frame, PcapWriter, TcpConn};

mod build;
mod session;
pub(crate) use session::{DAY_NANOS, PSD2_UNATTENDED_PER_DAY};

pub(super) use build::{base_headers, json_response, success_status};
pub(super) use session::Usual;

/// Mixed into the seed for the stream that picks customers, apart from the main stream (so
/// the sessions' times and contents do not depend on how customers are picked).
const CUSTOMER_STREAM: u64 = 0x6375_7374_6f6d_6572;

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
    /// What its connections speak.
    pub protocol: Protocol,
    /// The spec.
    pub spec: Spec,
}

/// One customer (PSU) of a consumer: the object ids it was given in answers, and when its
/// last unattended sessions were (PSD2 allows four in 24 hours).
#[derive(Debug, Default)]
pub(super) struct CustomerState {
    pub(super) ids: Vec<(String, String)>,
    pub(super) unattended: VecDeque<u64>,
}

pub(super) struct ConsumerState {
    pub(super) hosts: Vec<Ipv4Addr>,
    pub(super) next_port: u16,
    pub(super) token: Option<(String, u64)>,
    pub(super) secret: String,
    pub(super) requests: u64,
    /// For each API the consumer calls (index into the loaded APIs), the indices of the
    /// operations its normal traffic uses.
    pub(super) ops: Vec<(usize, Vec<usize>)>,
    /// Customers that had a session, by index.
    pub(super) customers: BTreeMap<u64, CustomerState>,
    /// Its rate-surge injections (indices), whose windows count all its requests.
    pub(super) surges: Vec<usize>,
}

/// What a session does.
#[derive(Clone, Copy)]
enum SessionKind {
    Normal(usize),
    Injected(usize),
}

/// A request as a client sends it.
pub(crate) enum Sent {
    /// Rendered in the API's protocol.
    Message(Request),
    /// HTTP/1.1 bytes as they are (a head no renderer would write).
    Raw(Vec<u8>),
}

impl From<Request> for Sent {
    fn from(req: Request) -> Sent {
        Sent::Message(req)
    }
}

/// Generates the capture and returns the truth.
pub struct Generator<'a, W: Write> {
    pub(super) scenario: &'a Scenario,
    pub(super) apis: &'a [LoadedApi],
    pub(super) rng: Rng,
    /// Picks customers (see [`CUSTOMER_STREAM`]).
    pub(super) crng: Rng,
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
                    token: None,
                    secret: rng.alnum(24),
                    requests: 0,
                    ops: session::usual_ops(c, apis),
                    customers: BTreeMap::new(),
                    surges: scenario
                        .injections
                        .iter()
                        .enumerate()
                        .filter(|(_, j)| matches!(j.kind, InjectionKind::RateSurge { .. }) && j.consumer == c.id)
                        .map(|(i, _)| i)
                        .collect(),
                }
            })
            .collect();
        Ok(Generator {
            scenario,
            apis,
            rng,
            crng: Rng::new(seed ^ CUSTOMER_STREAM),
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
            sessions.extend(
                session_starts(from, to, per_hour, true, sc.timezone, &mut r).into_iter().map(|t| (t, SessionKind::Normal(i))),
            );
        }
        for (i, inj) in sc.injections.iter().enumerate() {
            let mut r = self.rng.fork(2000 + i as u64);
            let (s, e) = (inj.start.max(from), inj.end.min(to));
            let per_hour = inj.requests_per_hour / self.requests_per_connection(i);
            // The kinds judged by their volume come at a steady pace; the others as a Poisson
            // process, as they always have.
            let starts = match &inj.kind {
                // A check every interval, day and night.
                InjectionKind::SyntheticMonitor(m) => every(s, e, m.interval_minutes, &mut r),
                // Each night's passes spread evenly over the run, a few seconds late.
                InjectionKind::BatchJob(b) => {
                    let passes = b.operations.len().max(1) as u64;
                    let gap = b.duration_minutes.saturating_mul(60_000_000_000) / passes;
                    daily_runs(s, e, sc.timezone, b.at, b.duration_minutes)
                        .into_iter()
                        .flat_map(|run| (0..passes).map(move |p| run + p * gap))
                        .map(|t| t + r.below(5_000_000_000))
                        .collect()
                }
                // Working hours of weekdays only.
                InjectionKind::PenTest(t) => session_starts(s, e, per_hour, false, sc.timezone, &mut r)
                    .into_iter()
                    .filter(|&at| in_working_hours(at, sc.timezone, t.hours))
                    .collect(),
                kind if kind.steady() => even_starts(s, e, per_hour, &mut r),
                _ => session_starts(s, e, per_hour, false, sc.timezone, &mut r),
            };
            sessions.extend(starts.into_iter().map(|t| (t, SessionKind::Injected(i))));
        }
        sessions.sort_by_key(|s| s.0);
        for (ts, kind) in sessions {
            self.flush_before(ts)?;
            match kind {
                SessionKind::Normal(c) => self.normal_session(ts, c, &Usual::default())?,
                SessionKind::Injected(i) => self.injected_session(ts, i)?,
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
                group: c.group.clone(),
                requests_per_hour: c.requests_per_hour,
                attended_share: c.attended_share,
                customers: c.customers,
                customers_seen: s.customers.len() as u64,
            })
            .collect();
        let mut injections: Vec<_> =
            sc.injections.iter().zip(std::mem::take(&mut self.acc)).map(|(inj, acc)| acc.truth(inj, sc)).collect();
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

    /// A client address of consumer `c`: one of its hosts, the next source port.
    pub(super) fn client_addr(&mut self, c: usize) -> SocketAddrV4 {
        let Some(st) = self.states.get_mut(c) else { return SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40_000) };
        let ip = self.rng.pick(&st.hosts).copied().unwrap_or(Ipv4Addr::LOCALHOST);
        let port = st.next_port;
        st.next_port = if port >= 60_999 { 30_000 } else { port + 1 };
        SocketAddrV4::new(ip, port)
    }

    /// Writes one keep-alive connection carrying `exchanges` (request bytes and the answer),
    /// on behalf of consumer `c`; returns the time it ended.
    pub(super) fn exchange_session(
        &mut self,
        ts: u64,
        client: SocketAddrV4,
        server: SocketAddrV4,
        host: &str,
        exchanges: Vec<(Sent, Response)>,
        c: usize,
    ) -> Result<u64> {
        let mut frames = Vec::new();
        let mut conn = TcpConn::new(client, server, &mut self.rng);
        let rtt = 200_000 + self.rng.below(800_000);
        let mut t = conn.open(ts, rtt, &mut frames);
        let protocol = self.apis.iter().find(|a| a.server == server).map_or(Protocol::Http1, |a| a.protocol);
        let grpc = protocol == Protocol::Grpc;
        // Raw bytes (an ambiguous HTTP/1.1 head) keep their connection on HTTP/1.1.
        let raw = exchanges.iter().any(|(sent, _)| matches!(sent, Sent::Raw(_)));
        let mut h2 = (protocol != Protocol::Http1 && !raw).then(H2Conn::default);
        if let Some(h) = &h2 {
            t = conn.send(t + 50_000, true, &h.client_start(), &mut frames);
            t = conn.send(t + rtt / 2, false, &h.server_start(), &mut frames);
            t = conn.send(t + rtt / 2, true, &h.client_ack(), &mut frames);
        }
        self.last_times.clear();
        let total = exchanges.len() as u64;
        let own_network = self.scenario.consumers.get(c).is_some_and(|con| in_network(*client.ip(), con.network));
        for (k, (req, resp)) in exchanges.into_iter().enumerate() {
            let (stream, request) = match (h2.as_mut(), req) {
                (Some(h), Sent::Message(req)) => h.request(&req, host, grpc),
                (_, Sent::Message(req)) => (0, req.to_bytes(host)),
                (_, Sent::Raw(bytes)) => (0, bytes),
            };
            t = conn.send(t + 50_000, true, &request, &mut frames);
            self.last_times.push(t);
            for w in self.month_end.iter_mut().filter(|w| (w.0..w.1).contains(&t)) {
                w.2 += 1;
            }
            if own_network {
                self.count_surge_window(c, t);
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
            let response = match h2.as_mut() {
                Some(h) => h.response(stream, &resp, grpc),
                None => build::response_bytes(resp, conn.mss()),
            };
            t = conn.send(t + latency, false, &response, &mut frames);
            t += think;
            self.requests += 1;
            if let Some(st) = self.states.get_mut(c) {
                st.requests += 1;
            }
        }
        if let Some(h) = &h2 {
            t = conn.send(t, true, &h.goaway(), &mut frames);
        }
        let end = conn.close(t, &mut frames);
        self.connections += 1;
        self.queue(frames);
        Ok(end)
    }

    /// Counts a request of consumer `c` from its own network at `t` into the windows of its
    /// rate surges.
    fn count_surge_window(&mut self, c: usize, t: u64) {
        let Some(st) = self.states.get(c) else { return };
        for &i in &st.surges {
            let inside = self
                .scenario
                .injections
                .get(i)
                .is_some_and(|j| (inject::nanos_of(j.start)..inject::nanos_of(j.end)).contains(&t));
            if let (true, Some(acc)) = (inside, self.acc.get_mut(i)) {
                acc.window_requests += 1;
            }
        }
    }
}

/// Whether `ip` is inside `net`.
pub(super) fn in_network(ip: Ipv4Addr, net: (Ipv4Addr, u8)) -> bool {
    let mask = if net.1 == 0 { 0 } else { u32::MAX << (32 - u32::from(net.1)) };
    u32::from(ip) & mask == u32::from(net.0) & mask
}
