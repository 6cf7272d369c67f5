//! One request and its answer, rendered from the spec: path parameters from the object ids
//! the customer was given, required query parameters, JSON bodies from the schemas, a status
//! from realistic rates (or forced), and the ids of a successful answer remembered.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use apitap_discovery::openapi::{Operation, ParamIn};
use serde_json::Value;

use super::{Generator, LoadedApi};
use crate::simulate::creds;
use crate::simulate::http::{reason_phrase, Request, Response};
use crate::simulate::inject::BuildOpts;
use crate::simulate::rng::Rng;
use crate::simulate::scenario::Consumer;
use crate::simulate::schedule::from_nanos;
use crate::simulate::values::{self, ValueCtx};

/// Object ids a customer remembers from its answers (the oldest are forgotten).
const MAX_KNOWN_IDS: usize = 64;
/// Ids of one name (`AccountId`, ...) a customer remembers: a customer has a few accounts,
/// and the transaction ids its statements bring must not push them out.
const MAX_IDS_PER_NAME: usize = 8;

impl<W: Write> Generator<'_, W> {
    /// Builds one request/response pair for `op` under `base`; returns them and the full path
    /// template.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
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
            None => self.known_ids(c, opts.customer.unwrap_or(0)),
        };
        let ctx = ValueCtx { now_secs, currency: &api.currency, country: &api.country, ids: &ids };
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut headers = base_headers(consumer, &mut self.rng);
        headers.extend(auth.iter().cloned());
        if attended {
            let ip = match opts.customer {
                // A customer comes from its own home address.
                Some(k) => customer_ip(c, k),
                // One customer per session: the address follows from the session, not the request.
                None => {
                    let h = (ts ^ (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    Ipv4Addr::new(81, ((h >> 8) & 255) as u8, ((h >> 16) & 255) as u8, (1 + (h >> 24) % 254) as u8)
                }
            };
            headers.push(("x-fapi-customer-ip-address".into(), ip.to_string()));
            headers.push((
                "x-fapi-auth-date".into(),
                from_nanos(ts.saturating_sub(3_600_000_000_000)).format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            ));
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
        let code = status.to_string();
        let class = code.get(..1).unwrap_or("");
        let resp_schema = op
            .responses
            .iter()
            .find(|r| r.status == code)
            .or_else(|| op.responses.iter().find(|r| r.status.starts_with(class)))
            .and_then(|r| r.body.as_ref());
        let mut resp_body = match resp_schema {
            Some(b) if status < 400 => values::generate(&b.schema, "response", &ctx, &mut self.rng),
            _ if status == 204 => Value::Null,
            _ => {
                serde_json::json!({"Code": format!("UK.OBIE.{status}"), "Message": reason_phrase(status), "Id": self.rng.uuid()})
            }
        };
        if status < 400 {
            if let Some((name, list)) = &opts.list_ids {
                list_exactly(&mut resp_body, name, list);
            }
            if opts.identification {
                identify_accounts(&mut resp_body, &api.country, &mut self.rng);
            }
            if opts.learn {
                let alias = item_param(api, op);
                self.learn_ids(c, opts.customer.unwrap_or(0), &resp_body, alias.as_deref());
            }
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

    /// The ids customer `k` of consumer `c` was given so far.
    pub(crate) fn known_ids(&self, c: usize, k: u64) -> Vec<(String, String)> {
        self.states.get(c).and_then(|s| s.customers.get(&k)).map(|cs| cs.ids.clone()).unwrap_or_default()
    }

    /// Remembers object ids (properties named `...Id`, `...ID` or `id`) customer `k` of
    /// consumer `c` saw in an answer; a bare `id` also under `alias`, the path parameter that
    /// names the answer's items (see [`item_param`]).
    fn learn_ids(&mut self, c: usize, k: u64, v: &Value, alias: Option<&str>) {
        let Some(st) = self.states.get_mut(c) else { return };
        let ids = &mut st.customers.entry(k).or_default().ids;
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    for (key, val) in m {
                        if let (true, Value::String(s)) = (values::is_id_name(key), val) {
                            remember(ids, key, s);
                            if let (Some(alias), "id") = (alias, key.as_str()) {
                                remember(ids, alias, s);
                            }
                        }
                        stack.push(val);
                    }
                }
                Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
    }
}

/// Adds `(name, value)` to a customer's ids, forgetting the oldest of the same name past
/// [`MAX_IDS_PER_NAME`], or the oldest of all past [`MAX_KNOWN_IDS`].
fn remember(ids: &mut Vec<(String, String)>, name: &str, value: &str) {
    if ids.iter().any(|(a, b)| a == name && b == value) {
        return;
    }
    if ids.iter().filter(|(a, _)| a == name).count() >= MAX_IDS_PER_NAME {
        if let Some(pos) = ids.iter().position(|(a, _)| a == name) {
            ids.remove(pos);
        }
    } else if ids.len() >= MAX_KNOWN_IDS {
        ids.remove(0);
    }
    ids.push((name.to_string(), value.to_string()));
}

/// The path parameter that names the items an answer of `op` carries, for APIs whose objects
/// carry a bare `id` (`/sweeps/{sweepId}` items have an `id`): the last parameter of `op`'s own
/// path when it ends in one, else the parameter of the operation one level below it
/// (`GET /mandates` lists what `/mandates/{mandateId}` reads).
fn item_param(api: &LoadedApi, op: &apitap_discovery::openapi::Operation) -> Option<String> {
    let last = |path: &str| -> Option<String> {
        let seg = path.rsplit('/').next()?;
        seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')).map(str::to_string)
    };
    if let Some(p) = last(&op.path) {
        return Some(p);
    }
    api.spec.operations.iter().find_map(|o| {
        let rest = o.path.strip_prefix(op.path.as_str())?.strip_prefix('/')?;
        (!rest.contains('/')).then(|| last(&o.path)).flatten()
    })
}

/// The home address of customer `k` of consumer `c` (x-fapi-customer-ip-address), stable over
/// the run and distinct between customers of a consumer.
pub(crate) fn customer_ip(c: usize, k: u64) -> Ipv4Addr {
    let mut h = (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k.wrapping_add(1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 31;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 29;
    Ipv4Addr::new(81 + (h % 8) as u8, ((h >> 8) & 255) as u8, ((h >> 16) & 255) as u8, (1 + (h >> 24) % 254) as u8)
}

/// Makes the first array of objects in `body` that carry a `name` property (any case) list
/// exactly `ids`: one item per id, cloned from its first item, so a listing hands the client
/// the ids it will read next.
fn list_exactly(body: &mut Value, name: &str, ids: &[String]) {
    let mut stack = vec![body];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => {
                let key = items
                    .first()
                    .and_then(Value::as_object)
                    .and_then(|o| o.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned());
                if let (Some(key), Some(first)) = (key, items.first().cloned()) {
                    *items = ids
                        .iter()
                        .map(|id| {
                            let mut item = first.clone();
                            if let Some(o) = item.as_object_mut() {
                                o.insert(key.clone(), Value::String(id.clone()));
                            }
                            item
                        })
                        .collect();
                    return;
                }
                stack.extend(items.iter_mut());
            }
            Value::Object(m) => stack.extend(m.values_mut()),
            _ => {}
        }
    }
}

/// Gives every account object of an answer (an object with an `AccountId`) an IBAN
/// identification, as the Open Banking UK account resource carries (`Account[]` with
/// `SchemeName` and `Identification`): customer data in the plain sense.
fn identify_accounts(body: &mut Value, country: &str, rng: &mut Rng) {
    let mut stack = vec![body];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if m.contains_key("AccountId") {
                    let iban = values::iban(country, rng);
                    m.insert(
                        "Account".into(),
                        serde_json::json!([{"SchemeName": "UK.OBIE.IBAN", "Identification": iban, "Name": "Current account"}]),
                    );
                }
                stack.extend(m.values_mut());
            }
            Value::Array(a) => stack.extend(a.iter_mut()),
            _ => {}
        }
    }
}

/// True when the consumer's operation filter admits `op` (empty filter: everything).
pub(crate) fn wanted(c: &Consumer, op: &Operation) -> bool {
    c.operations.is_empty()
        || c.operations
            .iter()
            .any(|w| op.operation_id.as_deref() == Some(w.as_str()) || *w == format!("{} {}", op.method, op.path))
}

/// Headers every request of a consumer carries.
pub(crate) fn base_headers(c: &Consumer, rng: &mut Rng) -> Vec<(String, String)> {
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
pub(crate) fn response_bytes(mut resp: Response, mss: u16) -> Vec<u8> {
    let bytes = resp.to_bytes();
    if resp.chunked && (1..=4).contains(&(bytes.len() % usize::from(mss.max(1)))) {
        resp.headers.push(("Cache-Control".into(), "no-store".into()));
        return resp.to_bytes();
    }
    bytes
}

/// The operation's documented success status (200 when it documents none).
pub(crate) fn success_status(op: &Operation) -> u16 {
    op.responses.iter().filter_map(|r| r.status.parse::<u16>().ok()).find(|s| (200..300).contains(s)).unwrap_or(200)
}

/// A JSON response.
pub(crate) fn json_response(status: u16, body: &Value, chunked: bool) -> Response {
    Response {
        status,
        reason: reason_phrase(status).into(),
        headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
        chunked,
    }
}

/// A query value as text, percent-encoding what must be.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => values::percent_encode_segment(s),
        other => values::percent_encode_segment(&other.to_string()),
    }
}

/// A server address for a host no API serves (a stray host): stable per host name.
pub(crate) fn stray_server(host: &str) -> SocketAddrV4 {
    let h = host.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    SocketAddrV4::new(Ipv4Addr::new(10, 99, (h >> 8) as u8, (h as u8).max(1)), 8080)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_listing_is_made_to_hold_exactly_the_given_ids() {
        let mut body =
            serde_json::json!({"Data": {"Account": [{"AccountId": "x", "Currency": "GBP"}, {"AccountId": "y"}]}, "Links": {}});
        list_exactly(&mut body, "AccountId", &["a1".to_string(), "a2".to_string(), "a3".to_string()]);
        let items = body["Data"]["Account"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i["AccountId"].as_str().unwrap()).collect();
        assert_eq!(ids, ["a1", "a2", "a3"]);
        assert!(items.iter().all(|i| i["Currency"] == "GBP"), "items are clones of the first");
        // Open Finance Brasil spells the property in lower camel case.
        let mut br = serde_json::json!({"data": [{"accountId": "q", "number": "1"}]});
        list_exactly(&mut br, "accountId", &["z9".to_string()]);
        assert_eq!(br["data"][0]["accountId"], "z9");
    }

    #[test]
    fn account_objects_get_an_iban() {
        let mut rng = Rng::new(1);
        let mut body = serde_json::json!({"Data": {"Account": [{"AccountId": "a1"}]}});
        identify_accounts(&mut body, "GB", &mut rng);
        let iban = body["Data"]["Account"][0]["Account"][0]["Identification"].as_str().unwrap();
        assert!(iban.starts_with("GB") && values::iban_is_valid(iban), "{iban}");
    }

    #[test]
    fn customers_have_stable_distinct_home_addresses() {
        assert_eq!(customer_ip(3, 7), customer_ip(3, 7));
        let ips: std::collections::BTreeSet<_> = (0..200).map(|k| customer_ip(3, k)).collect();
        assert!(ips.len() >= 199, "{}", ips.len());
        assert_ne!(customer_ip(3, 7), customer_ip(4, 7));
    }
}
