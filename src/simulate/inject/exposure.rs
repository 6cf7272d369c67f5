//! Unauthenticated access to customer data and request smuggling: the two injections whose
//! requests are wrong in themselves (no credential at all; a head two parsers frame apart),
//! whoever sends them.

use std::io::Write;
use std::net::SocketAddrV4;

use anyhow::Result;
use apitap_discovery::openapi::Operation;

use super::session::Guise;
use super::{find_op, host_in, BuildOpts};
use crate::simulate::gen::{json_response, success_status, Generator, Sent};
use crate::simulate::http::{Request, Response};
use crate::simulate::scenario::{AuthKind, Consumer, InjectionKind, Smuggling};

/// Addresses of its network an unauthenticated client uses.
const UNAUTHENTICATED_SOURCES: u64 = 4;

/// Header names the ambiguous request writes itself.
const FRAMING: &[&str] = &["host", "content-length", "transfer-encoding"];

/// The request bytes of `req` with the head made ambiguous by `technique`; `variant` picks
/// between the spellings of an obfuscated Transfer-Encoding. Whichever way a parser reads the
/// head, the body ends at the same byte, so the connection stays in step: what is ambiguous is
/// the head, which is what a detector sees.
pub(crate) fn smuggling_bytes(req: &Request, host: &str, technique: Smuggling, variant: u64) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", req.method, req.target);
    for (name, value) in &req.headers {
        if FRAMING.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body: &[u8] = if req.body.is_empty() { b"{}" } else { &req.body };
    let mut out;
    match technique {
        Smuggling::ClTe => {
            let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
            chunked.extend_from_slice(body);
            chunked.extend_from_slice(b"\r\n0\r\n\r\n");
            head.push_str(&format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n", chunked.len()));
            out = head.into_bytes();
            out.extend_from_slice(&chunked);
        }
        Smuggling::DuplicateCl => {
            // The first value is the smaller one: a front end that takes it forwards the rest
            // of the body as the start of another request.
            head.push_str(&format!("Content-Length: {}\r\nContent-Length: {}\r\n\r\n", body.len() / 2, body.len()));
            out = head.into_bytes();
            out.extend_from_slice(body);
        }
        Smuggling::TeObfuscated => {
            // `xchunked` is no coding a server knows; a vertical tab is whitespace to some
            // parsers (which then read `chunked`) and a character to others.
            let te = if variant % 2 == 0 { "xchunked" } else { "\u{b}chunked" };
            head.push_str(&format!("Transfer-Encoding: {te}\r\nContent-Length: {}\r\n\r\n", body.len()));
            out = head.into_bytes();
            out.extend_from_slice(body);
        }
    }
    out
}

impl<W: Write> Generator<'_, W> {
    /// One connection of an unauthenticated client reading customer data: the listing that
    /// hands out account ids (when the operation reads by id), then reads of them, every
    /// answer 200 with the data, no credential in any request.
    pub(crate) fn unauthenticated_session(&mut self, ts: u64, i: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let InjectionKind::UnauthenticatedAccess { api, operation, source_network, user_agent } = &inj.kind else {
            return Ok(());
        };
        self.anonymous_session(ts, i, Anonymous { api, operation, source_network: *source_network, user_agent, n: inj.requests_per_session })
    }

    /// One connection without any credential for injection `i`, as [`Self::unauthenticated_session`]
    /// describes, from one of the injection's addresses (four of `source_network` unless the
    /// injection chose them already).
    pub(crate) fn anonymous_session(&mut self, ts: u64, i: usize, who: Anonymous<'_>) -> Result<()> {
        let Anonymous { api, operation, source_network, user_agent, n } = who;
        let source_network = &source_network;
        let Some(api) = self.apis.iter().find(|a| a.name == api) else { return Ok(()) };
        let Some(op) = find_op(api, operation) else { return Ok(()) };
        let Some(acc) = self.acc.get_mut(i) else { return Ok(()) };
        if acc.sources.is_empty() {
            acc.sources = (0..UNAUTHENTICATED_SOURCES).map(|_| host_in(*source_network, &mut self.rng)).collect();
        }
        let Some(ip) = self.rng.pick(&acc.sources).copied() else { return Ok(()) };
        acc.used_sources.insert(ip);
        let anonymous = Consumer {
            id: String::new(),
            kind: "app".into(),
            auth: AuthKind::None,
            client_id: String::new(),
            network: *source_network,
            user_agent: user_agent.to_string(),
            requests_per_hour: 0.0,
            attended_share: 0.0,
            apis: Vec::new(),
            operations: Vec::new(),
            requests_per_session: 1.0,
            client_cert: None,
            org_id: None,
            customers: 1,
            group: None,
            skip_deprecated: false,
        };
        let mut steps: Vec<(&Operation, BuildOpts)> = Vec::new();
        match super::listing_of(api, op) {
            Some((list, param)) => {
                let ids: Vec<String> = (0..n).map(|_| self.rng.alnum(12)).collect();
                let pairs = ids.iter().map(|id| (param.clone(), id.clone())).collect();
                steps.push((
                    list,
                    BuildOpts {
                        status: Some(success_status(list)),
                        ids: Some(pairs),
                        list_ids: Some((param.clone(), ids.clone())),
                        identification: true,
                        ..BuildOpts::default()
                    },
                ));
                for id in ids {
                    steps.push((
                        op,
                        BuildOpts {
                            status: Some(success_status(op)),
                            ids: Some(vec![(param.clone(), id)]),
                            identification: true,
                            ..BuildOpts::default()
                        },
                    ));
                }
            }
            None => {
                for _ in 0..n {
                    steps.push((
                        op,
                        BuildOpts {
                            status: Some(success_status(op)),
                            ids: Some(Vec::new()),
                            identification: true,
                            ..BuildOpts::default()
                        },
                    ));
                }
            }
        }
        let mut exchanges = Vec::new();
        for (op, opts) in steps {
            let (mut req, mut resp, template) =
                self.build(api, op, &api.base_path, &anonymous, usize::MAX, &[], false, ts, &opts);
            // A scripted client sends no FAPI headers either.
            req.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("x-fapi-interaction-id"));
            resp.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("x-fapi-interaction-id"));
            self.book.hit(&api.host, &op.method, &template, if op.deprecated { "zombie" } else { "documented" }, Some(&api.name));
            if let Some(acc) = self.acc.get_mut(i) {
                acc.endpoints.insert(format!("{} {} {template}", api.host, op.method));
            }
            exchanges.push((req.into(), resp));
        }
        let client = SocketAddrV4::new(ip, 1024 + self.rng.below(64_000) as u16);
        self.send_injected(ts, i, usize::MAX, client, api, exchanges)
    }

    /// One connection of consumer `c` whose last request has an ambiguous head: usual calls
    /// first (`requests_per_session - 1` of them), then a write (the consumer's first POST,
    /// else the API's) framed by the technique, answered 400 (with `Connection: close`) or
    /// 200.
    pub(crate) fn smuggling_session(&mut self, ts: u64, i: usize, c: usize) -> Result<()> {
        let sc = self.scenario;
        let Some(inj) = sc.injections.get(i) else { return Ok(()) };
        let InjectionKind::RequestSmuggling { api, technique, rejected_share } = &inj.kind else { return Ok(()) };
        let how = Ambiguous { api, technique: *technique, rejected_share: *rejected_share, n: inj.requests_per_session };
        self.ambiguous_session(ts, i, c, how, &Guise::default())
    }

    /// One connection of consumer `c` for injection `i` whose last request has an ambiguous
    /// head, as [`Self::smuggling_session`] describes, with `guise`'s address and agent.
    pub(crate) fn ambiguous_session(&mut self, ts: u64, i: usize, c: usize, how: Ambiguous<'_>, guise: &Guise) -> Result<()> {
        let sc = self.scenario;
        let Ambiguous { api, technique, rejected_share, n } = how;
        let (technique, rejected_share) = (&technique, &rejected_share);
        let Some(consumer) = sc.consumers.get(c) else { return Ok(()) };
        let renamed;
        let consumer = match &guise.user_agent {
            Some(ua) => {
                renamed = Consumer { user_agent: ua.clone(), ..consumer.clone() };
                &renamed
            }
            None => consumer,
        };
        let Some(ai) = self.apis.iter().position(|a| a.name == api) else { return Ok(()) };
        let Some(api) = self.apis.get(ai) else { return Ok(()) };
        let mine: Vec<usize> =
            self.states.get(c).and_then(|s| s.ops.iter().find(|(a, _)| *a == ai)).map(|(_, o)| o.clone()).unwrap_or_default();
        let usual: Vec<usize> = if mine.is_empty() { (0..api.spec.operations.len()).collect() } else { mine };
        let usual: Vec<usize> =
            usual.into_iter().filter(|&o| api.spec.operations.get(o).is_some_and(|op| !op.deprecated)).collect();
        let write = usual
            .iter()
            .filter_map(|&o| api.spec.operations.get(o))
            .find(|op| op.method == "POST")
            .or_else(|| api.spec.operations.iter().find(|op| op.method == "POST" && !op.deprecated))
            .or_else(|| usual.first().and_then(|&o| api.spec.operations.get(o)));
        let Some(write) = write else { return Ok(()) };
        let attended = self.rng.chance(consumer.attended_share);
        let (k, attended) = self.pick_customer(c, ts, attended);
        let (auth, start) = self.auth_headers(ts, c, k, Some(api))?;
        let mut exchanges: Vec<(Sent, Response)> = Vec::new();
        let hit = |g: &mut Self, op: &Operation, template: &str| {
            g.book.hit(&api.host, &op.method, template, "documented", Some(&api.name));
            if let Some(acc) = g.acc.get_mut(i) {
                acc.endpoints.insert(format!("{} {} {template}", api.host, op.method));
            }
        };
        for _ in 1..n {
            let Some(op) = self.usual_op(api, &usual, c, k) else { continue };
            let opts = BuildOpts { customer: Some(k), ..BuildOpts::default() };
            let (req, resp, template) = self.build(api, op, &api.base_path, consumer, c, &auth, attended, start, &opts);
            hit(self, op, &template);
            exchanges.push((req.into(), resp));
        }
        let rejected = self.rng.chance(*rejected_share);
        let status = if rejected { 400 } else { success_status(write) };
        let opts = BuildOpts { status: Some(status), customer: Some(k), ..BuildOpts::default() };
        let (req, mut resp, template) = self.build(api, write, &api.base_path, consumer, c, &auth, attended, start, &opts);
        if rejected {
            resp = json_response(
                400,
                &serde_json::json!({"Code": "UK.OBIE.Header.Invalid", "Message": "Ambiguous message framing"}),
                false,
            );
            resp.headers.push(("Connection".into(), "close".into()));
        }
        hit(self, write, &template);
        let variant = self.acc.get(i).map_or(0, |a| a.smuggled);
        exchanges.push((Sent::Raw(smuggling_bytes(&req, &api.host, *technique, variant)), resp));
        if let Some(acc) = self.acc.get_mut(i) {
            acc.smuggled += 1;
            acc.rejected += u64::from(rejected);
        }
        let mut client = self.client_addr(c);
        if let Some(ip) = guise.source {
            client = SocketAddrV4::new(ip, client.port());
        }
        self.send_injected(start, i, c, client, api, exchanges)
    }
}

/// Who sends an [`Generator::anonymous_session`]: the API and operation read, the network,
/// the client's agent, and the reads after the listing.
pub(crate) struct Anonymous<'s> {
    pub(crate) api: &'s str,
    pub(crate) operation: &'s str,
    pub(crate) source_network: (std::net::Ipv4Addr, u8),
    pub(crate) user_agent: &'s str,
    pub(crate) n: u64,
}

/// What an [`Generator::ambiguous_session`] writes: the API, the technique, the share
/// rejected, and the requests on the connection (the ambiguous one last).
pub(crate) struct Ambiguous<'s> {
    pub(crate) api: &'s str,
    pub(crate) technique: Smuggling,
    pub(crate) rejected_share: f64,
    pub(crate) n: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn req() -> Request {
        Request {
            method: "POST".into(),
            target: "/pay".into(),
            headers: vec![("Content-Length".into(), "99".into()), ("Accept".into(), "application/json".into())],
            body: b"{\"a\":1}".to_vec(),
        }
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn cl_te_frames_the_same_either_way() {
        let t = text(&smuggling_bytes(&req(), "h", Smuggling::ClTe, 0));
        let (head, body) = t.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "7\r\n{\"a\":1}\r\n0\r\n\r\n");
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\nTransfer-Encoding: chunked", body.len())), "{head}");
        assert!(!head.contains("99"), "the caller's framing headers are dropped");
    }

    #[test]
    fn duplicate_content_lengths_differ_and_the_last_frames_the_body() {
        let t = text(&smuggling_bytes(&req(), "h", Smuggling::DuplicateCl, 0));
        let (head, body) = t.split_once("\r\n\r\n").unwrap();
        let lengths: Vec<&str> = head.lines().filter_map(|l| l.strip_prefix("Content-Length: ")).collect();
        assert_eq!(lengths, ["3", "7"]);
        assert_eq!(body.len(), 7);
    }

    #[test]
    fn obfuscated_transfer_encodings_alternate() {
        let a = text(&smuggling_bytes(&req(), "h", Smuggling::TeObfuscated, 0));
        let b = text(&smuggling_bytes(&req(), "h", Smuggling::TeObfuscated, 1));
        assert!(a.contains("\r\nTransfer-Encoding: xchunked\r\nContent-Length: 7\r\n\r\n{\"a\":1}"), "{a:?}");
        assert!(b.contains("\r\nTransfer-Encoding: \u{b}chunked\r\nContent-Length: 7\r\n"), "{b:?}");
    }
}
