//! GraphQL operations out of HTTP requests, so that `POST /graphql` is not one opaque
//! endpoint: each request's operation type, name and top-level fields, and whether it is an
//! introspection query.
//!
//! Where a request is GraphQL is decided by its content, on any path:
//!
//! - a JSON body (any content type, first byte `{` or `[`) that is an object, or a batch array
//!   of objects, with a string `query` holding an executable document, or a persisted-query
//!   hash (`extensions.persistedQuery.sha256Hash`);
//! - an `application/graphql` body: the document itself;
//! - a request target whose query string has a `query` parameter holding an executable
//!   document (`GET /graphql?query={accounts{id}}&operationName=...`).
//!
//! A document is executable when it starts with `{`, `query`, `mutation`, `subscription` or
//! `fragment` and an operation has a selection set: `{"query": "balance"}` (a search API) is
//! not GraphQL.
//!
//! The operation's name is, in order: the request's `operationName` (when it is a valid
//! GraphQL name), the operation's own name, the persisted query's hash as `sha256:` and its
//! first 16 hex digits, else the sorted top-level field names as `{accounts,balances}`.
//! Top-level fields are field names, never aliases (`a: accounts` counts as `accounts`);
//! inline fragments count with their fields, and fragment spreads at the top level are
//! resolved from the document's fragments. Introspection is a `__schema` or `__type`
//! top-level field; `__typename` is not.
//!
//! Never kept: variables, argument values, string literals, anything a value position holds
//! (credentials and personal data travel there). Names only, each at most
//! [`GraphqlLimits::max_name_len`] bytes.
//!
//! Bounded: [`GraphqlLimits`] (bytes scanned, nesting depth, fields, name length, batch size);
//! hitting a bound sets [`LimitHits`] and marks the operation `incomplete`, never fails.
//!
//! Not supported: subscriptions over WebSocket (`graphql-ws`, `graphql-transport-ws`: the
//! HTTP layer stops at the upgrade), multipart requests (file uploads), documents cut by the
//! body capture inside a JSON string (the JSON does not parse: counted as a parse failure),
//! validation against a schema.

mod document;
mod lexer;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Bytes of a body or query string scanned at most: longer input is cut (`LimitHits::body`).
pub const MAX_SCAN_BYTES: usize = 64 * 1024;

/// The bounds of one extraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// Bytes scanned per request. Default [`MAX_SCAN_BYTES`].
    pub max_bytes: usize,
    /// Bracket nesting followed (arguments, selection sets, lists, input objects). Default 64.
    pub max_depth: usize,
    /// Top-level fields kept per operation. Default 32.
    pub max_fields: usize,
    /// Longest name kept (operation, field, fragment), in bytes. Default 128.
    pub max_name_len: usize,
    /// Requests of a batch analysed. Default 32.
    pub max_batch: usize,
    /// Operation definitions read per document. Default 16.
    pub max_operations: usize,
}

impl Default for GraphqlLimits {
    fn default() -> Self {
        GraphqlLimits { max_bytes: MAX_SCAN_BYTES, max_depth: 64, max_fields: 32, max_name_len: 128, max_batch: 32, max_operations: 16 }
    }
}

/// Which bounds one extraction hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitHits {
    /// The input was longer than `max_bytes`.
    pub body: bool,
    /// Nesting deeper than `max_depth`.
    pub depth: bool,
    /// More top-level fields (or operations) than kept.
    pub fields: bool,
    /// A name longer than `max_name_len` (left out).
    pub name: bool,
    /// A batch longer than `max_batch`.
    pub batch: bool,
}

/// The type of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationType {
    /// `query` (and the `{ ... }` shorthand).
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription`.
    Subscription,
    /// A persisted query sent by its hash only: the document is not on the wire.
    Unknown,
}

impl OperationType {
    /// The stable name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
            OperationType::Unknown => "unknown",
        }
    }

    /// From [`OperationType::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [OperationType::Query, OperationType::Mutation, OperationType::Subscription, OperationType::Unknown].into_iter().find(|t| t.name() == name)
    }
}

/// One operation of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Its type.
    pub kind: OperationType,
    /// Its name (see the module documentation for the order of sources).
    pub name: String,
    /// Top-level field names, sorted, without duplicates.
    pub fields: Vec<String>,
    /// A `__schema` or `__type` top-level field.
    pub introspection: bool,
    /// The document did not read whole (cut, malformed, a limit): the fields may be partial.
    pub incomplete: bool,
}

/// The GraphQL content of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The operations: one per request of a batch (at most `max_batch`).
    pub operations: Vec<Operation>,
    /// Requests in the batch (1 for a single request), including those past `max_batch`.
    pub batch_size: usize,
    /// Bounds hit.
    pub hits: LimitHits,
}

/// A GraphQL request body in JSON. Everything but these keys (`variables` above all) is
/// skipped unread by serde.
#[derive(Deserialize)]
struct JsonRequest<'a> {
    #[serde(borrow, default)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "operationName")]
    operation_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    extensions: Option<Extensions<'a>>,
}

#[derive(Deserialize)]
struct Extensions<'a> {
    #[serde(borrow, default, rename = "persistedQuery")]
    persisted_query: Option<PersistedQuery<'a>>,
}

#[derive(Deserialize)]
struct PersistedQuery<'a> {
    #[serde(borrow, default, rename = "sha256Hash")]
    sha256_hash: Option<Cow<'a, str>>,
}

/// Hex digits of a persisted query's hash kept in its name.
const HASH_NAME_DIGITS: usize = 16;

fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c == b'_' || c.is_ascii_alphabetic()) && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

/// The operation a document runs for `operation_name`, named and typed.
fn operation_of(doc_text: &[u8], operation_name: Option<&str>, limits: &GraphqlLimits, hits: &mut LimitHits) -> Option<Operation> {
    let doc = document::read(doc_text, limits, hits);
    let wanted = operation_name.filter(|n| valid_name(n));
    let chosen = match wanted {
        Some(n) => doc.operations.iter().find(|d| d.name.as_deref() == Some(n)).or(doc.operations.first()),
        None => doc.operations.first(),
    }?;
    if chosen.fields.is_empty() && doc.incomplete && chosen.name.is_none() {
        // Nothing recognisable was read: not taken for GraphQL.
        return None;
    }
    let mut fields = chosen.fields.clone();
    fields.sort();
    let introspection = fields.iter().any(|f| f == "__schema" || f == "__type");
    let name = match wanted.or(chosen.name.as_deref()) {
        Some(n) if n.len() <= limits.max_name_len => n.to_string(),
        _ => {
            if wanted.is_some_and(|n| n.len() > limits.max_name_len) {
                hits.name = true;
            }
            format!("{{{}}}", fields.join(","))
        }
    };
    Some(Operation { kind: chosen.kind.unwrap_or(OperationType::Query), name, fields, introspection, incomplete: doc.incomplete })
}

fn from_json_request(req: &JsonRequest<'_>, limits: &GraphqlLimits, hits: &mut LimitHits) -> Option<Operation> {
    let op_name = req.operation_name.as_deref();
    if let Some(q) = req.query.as_deref() {
        return operation_of(q.as_bytes(), op_name, limits, hits);
    }
    let hash = req.extensions.as_ref()?.persisted_query.as_ref()?.sha256_hash.as_deref()?;
    let name = match op_name.filter(|n| valid_name(n) && n.len() <= limits.max_name_len) {
        Some(n) => n.to_string(),
        None => {
            let digits: String = hash.chars().filter(char::is_ascii_hexdigit).take(HASH_NAME_DIGITS).collect();
            if digits.is_empty() {
                return None;
            }
            format!("sha256:{}", digits.to_ascii_lowercase())
        }
    };
    Some(Operation { kind: OperationType::Unknown, name, fields: Vec::new(), introspection: false, incomplete: false })
}

fn from_json(body: &[u8], limits: &GraphqlLimits, hits: &mut LimitHits) -> Option<Extracted> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    // Cheap test before parsing: most JSON bodies are not GraphQL.
    let mentions = |key: &[u8]| body.windows(key.len()).any(|w| w == key);
    if !mentions(b"\"query\"") && !mentions(b"\"persistedQuery\"") {
        return None;
    }
    let requests: Vec<JsonRequest<'_>> = match first {
        b'{' => vec![serde_json::from_slice::<JsonRequest<'_>>(body).ok()?],
        b'[' => serde_json::from_slice::<Vec<JsonRequest<'_>>>(body).ok()?,
        _ => return None,
    };
    let batch_size = requests.len();
    if batch_size > limits.max_batch {
        hits.batch = true;
    }
    let operations: Vec<Operation> = requests.iter().take(limits.max_batch).filter_map(|r| from_json_request(r, limits, hits)).collect();
    (!operations.is_empty()).then_some(Extracted { operations, batch_size, hits: *hits })
}

/// Percent-decodes a query string value (`+` is a space); bytes that are no escape are kept.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|d| char::from(*d).to_digit(16));
        match c {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(c),
            },
            b'+' => out.push(b' '),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn from_query_string(query: &str, limits: &GraphqlLimits, hits: &mut LimitHits) -> Option<Extracted> {
    let (mut doc, mut name) = (None, None);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("query", v)) => doc = Some(v),
            Some(("operationName", v)) => name = Some(v),
            _ => {}
        }
    }
    let doc = percent_decode(doc?);
    let name = name.map(|n| String::from_utf8_lossy(&percent_decode(n)).into_owned());
    let op = operation_of(&doc, name.as_deref(), limits, hits)?;
    Some(Extracted { operations: vec![op], batch_size: 1, hits: *hits })
}

/// The media type of a `Content-Type` value, lower case, without parameters.
fn media(ct: Option<&str>) -> String {
    ct.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).unwrap_or_default()
}

/// The GraphQL operations of a request, if it is one: `query` is the request target's query
/// string (without `?`), `body` the captured request body. `None` when the request is not
/// GraphQL as far as these bytes show.
pub fn extract(query: &str, content_type: Option<&str>, body: &[u8], limits: &GraphqlLimits) -> Option<Extracted> {
    let mut hits = LimitHits::default();
    let body = match body.get(..limits.max_bytes) {
        Some(cut) if cut.len() < body.len() => {
            hits.body = true;
            cut
        }
        _ => body,
    };
    if !body.is_empty() {
        if media(content_type) == "application/graphql" {
            let op = operation_of(body, None, limits, &mut hits)?;
            return Some(Extracted { operations: vec![op], batch_size: 1, hits });
        }
        if let Some(found) = from_json(body, limits, &mut hits) {
            return Some(found);
        }
    }
    if query.contains("query=") {
        let mut end = query.len().min(limits.max_bytes);
        while !query.is_char_boundary(end) {
            end -= 1;
        }
        if end < query.len() {
            hits.body = true;
        }
        return from_query_string(query.get(..end).unwrap_or(""), limits, &mut hits);
    }
    None
}

#[cfg(test)]
mod tests;
