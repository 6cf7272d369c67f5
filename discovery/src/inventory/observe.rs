//! What the inventory is fed: one observation per HTTP transaction, one per TLS session.

use std::net::{IpAddr, SocketAddr};

/// How a request authenticated, as far as its headers show (never the credential itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthKind {
    /// No credential seen.
    None,
    /// `Authorization: Basic`.
    Basic,
    /// `Authorization: Bearer` (OAuth access tokens, JWTs).
    Bearer,
    /// An API-key header.
    ApiKey,
    /// Another `Authorization` scheme (Digest, AWS signatures, ...).
    Other,
}

impl AuthKind {
    /// Every kind, in declaration order.
    pub const ALL: [AuthKind; 5] = [AuthKind::None, AuthKind::Basic, AuthKind::Bearer, AuthKind::ApiKey, AuthKind::Other];

    /// Stable name used in the inventory.
    pub fn name(self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Basic => "basic",
            AuthKind::Bearer => "bearer",
            AuthKind::ApiKey => "api_key",
            AuthKind::Other => "other",
        }
    }

    /// From the parser's facts: the `Authorization` scheme name, if any, and whether an
    /// API-key header was present.
    pub fn from_parts(scheme: Option<&str>, api_key_header: bool) -> Self {
        match scheme {
            Some(s) if s.eq_ignore_ascii_case("basic") => AuthKind::Basic,
            Some(s) if s.eq_ignore_ascii_case("bearer") => AuthKind::Bearer,
            Some(_) => AuthKind::Other,
            None if api_key_header => AuthKind::ApiKey,
            None => AuthKind::None,
        }
    }
}

/// How the sensor read a transaction's traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Plain HTTP on the wire.
    #[default]
    Clear,
    /// HTTP inside TLS, decrypted with a key log.
    Decrypted,
    /// TLS without keys: only the handshake's metadata (SNI, versions, fingerprints,
    /// certificates) was seen, never a request.
    Metadata,
}

impl Visibility {
    /// The stable name, as serialised (`clear`, `decrypted`, `metadata`).
    pub fn name(self) -> &'static str {
        match self {
            Visibility::Clear => "clear",
            Visibility::Decrypted => "decrypted",
            Visibility::Metadata => "metadata",
        }
    }
}

/// One HTTP transaction as the inventory sees it. Borrowed: the caller keeps ownership.
#[derive(Clone, Copy)]
pub struct Observation<'a> {
    /// Packet time of the request, ns since the epoch.
    pub ts: u64,
    /// Client address (after any trusted-proxy resolution the caller does).
    pub client: IpAddr,
    /// Server address and port.
    pub server: SocketAddr,
    /// `Host` header, as sent (port included).
    pub host: Option<&'a str>,
    /// Request method as sent; `None` when only a response was seen.
    pub method: Option<&'a str>,
    /// Request target as recorded (percent-decoded, credentials redacted).
    pub uri: Option<&'a str>,
    /// Final status code.
    pub status: Option<u16>,
    /// Milliseconds from the end of the request to the first response byte.
    pub latency_ms: Option<f64>,
    /// Request `Content-Type`.
    pub request_content_type: Option<&'a str>,
    /// Response `Content-Type`.
    pub response_content_type: Option<&'a str>,
    /// How the request authenticated.
    pub auth: AuthKind,
    /// Who sent it: a keyed digest of its credential; `None` when it sent none, and then its
    /// client address stands for it. Only distinct counts are kept.
    pub consumer: Option<u64>,
    /// The first bytes of the decoded request body (may be cut).
    pub request_body: &'a [u8],
    /// The first bytes of the decoded response body (may be cut).
    pub response_body: &'a [u8],
    /// The response carried a `Deprecation` or `Sunset` header.
    pub deprecation_signalled: bool,
    /// Read in clear or decrypted ([`Visibility::Metadata`] is never an HTTP transaction's).
    pub visibility: Visibility,
}

/// One TLS session's hello facts: enough to list a service that cannot be inspected.
#[derive(Clone, Debug)]
pub struct TlsObservation<'a> {
    /// Packet time of the ClientHello.
    pub ts: u64,
    /// Client address.
    pub client: IpAddr,
    /// Server address and port.
    pub server: SocketAddr,
    /// Server name indication.
    pub sni: Option<&'a str>,
    /// ALPN protocols the client offered.
    pub alpn: &'a [String],
    /// The highest TLS version the client offered, e.g. `TLS 1.3`.
    pub client_version: &'a str,
    /// The version the server chose, when its hello was seen.
    pub server_version: Option<&'a str>,
    /// JA4 fingerprint of the ClientHello.
    pub ja4: &'a str,
    /// JA4S of the ServerHello, when seen.
    pub ja4s: Option<&'a str>,
    /// The session was decrypted with a key log (else it is metadata only).
    pub decrypted: bool,
    /// The cipher suite the server chose, when its hello was seen.
    pub server_suite: Option<u16>,
    /// Posture findings of the handshake ([`crate::posture::assess`]).
    pub findings: &'a [crate::posture::Finding],
    /// The server's leaf certificate, when sent in the clear (TLS 1.2 and earlier) and parsed.
    pub leaf: Option<&'a crate::posture::LeafFacts>,
}

/// The service a request belongs to: the `Host` header (lower case, userinfo and a default
/// port dropped), else the server address and port.
pub fn service_name(host: Option<&str>, server: SocketAddr) -> String {
    let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else {
        return server.to_string();
    };
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.strip_suffix('.').unwrap_or(host);
    let lower = host.to_ascii_lowercase();
    for default in [":80", ":443"] {
        if let Some(bare) = lower.strip_suffix(default) {
            return bare.to_string();
        }
    }
    lower
}

/// The path of a request target: the part before `?` or `#`, with an absolute-form target's
/// scheme and authority removed. Returns the path and the query (without `?`).
pub fn split_target(uri: &str) -> (&str, &str) {
    let mut rest = uri;
    if let Some(pos) = rest.find("://") {
        if rest.get(..pos).is_some_and(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))) {
            let after = rest.get(pos + 3..).unwrap_or("");
            rest = after.find('/').and_then(|i| after.get(i..)).unwrap_or("/");
        }
    }
    let rest = rest.split('#').next().unwrap_or("");
    match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    }
}

/// The non-empty segments of a path, at most `max` (the second value says whether the path
/// had more).
pub fn segments(path: &str, max: usize) -> (Vec<&str>, bool) {
    let mut out = Vec::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if out.len() == max {
            return (out, true);
        }
        out.push(seg);
    }
    (out, false)
}

/// Query parameter names (values are never looked at), in order, without duplicates.
pub fn query_names(query: &str) -> impl Iterator<Item = &str> {
    query.split(['&', ';']).filter_map(|pair| {
        let name = pair.split('=').next().unwrap_or("").trim();
        (!name.is_empty()).then_some(name)
    })
}

/// Media type without parameters, lower case: `application/json; charset=utf-8` gives
/// `application/json`.
pub fn media_type(ct: &str) -> String {
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        let srv: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        assert_eq!(service_name(Some("API.Bank.Example:443"), srv), "api.bank.example");
        assert_eq!(service_name(Some("api.bank.example:8443"), srv), "api.bank.example:8443");
        assert_eq!(service_name(Some("u:p@api.bank.example"), srv), "api.bank.example");
        assert_eq!(service_name(None, srv), "10.0.0.1:8080");
        assert_eq!(service_name(Some("  "), srv), "10.0.0.1:8080");
    }

    #[test]
    fn targets() {
        assert_eq!(split_target("/a/b?x=1#f"), ("/a/b", "x=1"));
        assert_eq!(split_target("http://h:80/a?q"), ("/a", "q"));
        assert_eq!(split_target("http://h"), ("/", ""));
        assert_eq!(split_target("/a/http://x"), ("/a/http://x", ""));
        assert_eq!(segments("//a//b/", 8), (vec!["a", "b"], false));
        assert_eq!(segments("/a/b/c", 2), (vec!["a", "b"], true));
        assert_eq!(query_names("a=1&b&&c=REDACTED;d=").collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(media_type("Application/JSON; charset=utf-8"), "application/json");
    }
}
