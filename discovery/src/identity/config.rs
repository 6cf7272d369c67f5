//! What identity reads, in which order, and the limits on what it holds.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::network::Prefix;

/// Where a consumer identity came from. [`IdSource::name`] is the stable snake_case name used
/// in configuration and output.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdSource {
    /// The client certificate: the leaf of a TLS 1.2 handshake, or one a TLS-terminating proxy
    /// forwards in a header ([`IdentityConfig::client_cert_headers`]).
    ClientCert,
    /// The OAuth client named by a bearer JWT's claims ([`IdentityConfig::jwt_client_claims`]).
    Jwt,
    /// A bearer token that is not a JWT naming its client: the client it was issued to when the
    /// token endpoint was seen issuing it, else the token itself.
    OpaqueToken,
    /// The client a token-endpoint request authenticates as in its body: the `sub` (else `iss`)
    /// of a `client_assertion` JWT (RFC 7523, `private_key_jwt`), the `client_id` field
    /// (`client_secret_post`, public clients), or the client a known `refresh_token` was issued
    /// to.
    TokenClient,
    /// An API key header ([`IdentityConfig::api_key_headers`]).
    ApiKey,
    /// The user of HTTP Basic authentication (at a token endpoint: the OAuth client id, as
    /// `client_secret_basic` sends it).
    Basic,
    /// A session cookie ([`IdentityConfig::session_cookies`]).
    SessionCookie,
    /// The client network: the client address cut to a prefix.
    Network,
}

impl IdSource {
    /// Every source, in the default order.
    pub const ALL: [IdSource; 8] = [
        IdSource::ClientCert,
        IdSource::Jwt,
        IdSource::OpaqueToken,
        IdSource::TokenClient,
        IdSource::ApiKey,
        IdSource::Basic,
        IdSource::SessionCookie,
        IdSource::Network,
    ];

    /// Stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            IdSource::ClientCert => "client_cert",
            IdSource::Jwt => "jwt",
            IdSource::OpaqueToken => "opaque_token",
            IdSource::TokenClient => "token_client",
            IdSource::ApiKey => "api_key",
            IdSource::Basic => "basic",
            IdSource::SessionCookie => "session_cookie",
            IdSource::Network => "network",
        }
    }

    /// Position in [`IdSource::ALL`].
    pub(crate) fn index(self) -> usize {
        IdSource::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

impl fmt::Display for IdSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A source name that is not one of [`IdSource::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSource(pub String);

impl fmt::Display for UnknownSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = IdSource::ALL.iter().map(|s| s.name()).collect();
        write!(f, "identity source {:?} is not one of {}", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownSource {}

impl FromStr for IdSource {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdSource::ALL.iter().copied().find(|src| src.name() == s).ok_or_else(|| UnknownSource(s.to_owned()))
    }
}

impl Serialize for IdSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for IdSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Request header names that carry an API key. Must agree with the HTTP parser's
/// `apitap_parsers::http::API_KEY_HEADERS` (this crate does not depend on the parsers, so the
/// list is repeated here): the parser digests the same headers for its credential count.
pub const DEFAULT_API_KEY_HEADERS: &[&str] = &[
    "x-api-key",
    "api-key",
    "apikey",
    "x-apikey",
    "ocp-apim-subscription-key",
    "x-ibm-client-id",
    "x-gravitee-api-key",
];

/// Session cookie names of common web frameworks, as browsers send them (compared
/// case-sensitively, as cookie names are).
pub const DEFAULT_SESSION_COOKIES: &[&str] =
    &["JSESSIONID", "SESSION", "SESSIONID", "PHPSESSID", "connect.sid", "sid", "ASP.NET_SessionId", "laravel_session"];

/// OAuth token endpoint paths (suffixes) of common authorisation servers: generic, Spring,
/// PingFederate (`/as/token.oauth2`), IdentityServer and Keycloak-style (`/connect/token`),
/// Okta (`/oauth2/v1/token`).
pub const DEFAULT_TOKEN_PATHS: &[&str] =
    &["/token", "/oauth/token", "/oauth2/token", "/as/token.oauth2", "/connect/token", "/oauth2/v1/token"];

/// Form and JSON login paths (suffixes).
pub const DEFAULT_LOGIN_PATHS: &[&str] =
    &["/login", "/signin", "/sign-in", "/auth/login", "/api/login", "/session", "/sessions", "/authenticate"];

/// Body fields that name the user of a login, in order of preference.
pub const DEFAULT_LOGIN_USER_FIELDS: &[&str] = &["username", "user", "email", "login"];

/// What identity reads from a transaction and in which order, with the bounds on what it keeps.
///
/// Deserialisable with every key optional (missing keys take the defaults below, unknown keys
/// are rejected); call [`validate`](Self::validate) before use. Header names are lower case.
/// Serialises back to the same form, for showing the configuration in effect (it holds no
/// secret: the hashing key is passed to [`Identifier::new`](super::Identifier::new) apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Sources tried in this order; the first that yields an identity wins. Default: client
    /// cert, JWT, opaque token, token client, API key, Basic, session cookie, network. When no
    /// listed source yields, the network names the consumer anyway.
    pub order: Vec<IdSource>,
    /// Request headers a TLS-terminating proxy forwards the client certificate in, tried in
    /// order: RFC 9440 `Client-Cert` (a structured-field byte sequence `:base64-DER:`), and the
    /// nginx, HAProxy and F5 forms (PEM, URL-encoded PEM as nginx's
    /// `$ssl_client_escaped_cert`, PEM with spaces or tabs for newlines, bare base64 DER) and
    /// Envoy's `x-forwarded-client-cert` (its `Cert="..."` element). Default `["client-cert"]`.
    pub client_cert_headers: Vec<String>,
    /// JWT claims naming the OAuth client; the first present (a non-empty string) is used.
    /// Default `client_id`, `azp`, `sub`.
    pub jwt_client_claims: Vec<String>,
    /// JWT claims naming the customer (PSU) behind the client; the first present whose value
    /// differs from the client value is used. Default `sub`.
    pub jwt_customer_claims: Vec<String>,
    /// JWT claims holding a consent id; used for the customer when no customer claim is.
    /// Default `openbanking_intent_id`, `consent_id`, `consentId`.
    pub consent_claims: Vec<String>,
    /// Headers carrying an API key. Default [`DEFAULT_API_KEY_HEADERS`].
    pub api_key_headers: Vec<String>,
    /// Session cookie names, in order of preference (case-sensitive). Default
    /// [`DEFAULT_SESSION_COOKIES`].
    pub session_cookies: Vec<String>,
    /// Proxies whose `X-Forwarded-For` and `Forwarded: for=` are believed. When the TCP peer is
    /// in one of these, the right-most forwarded address that is not a trusted proxy is the
    /// client. Default empty: the TCP peer is the client and forwarding headers are ignored.
    pub trusted_proxies: Vec<Prefix>,
    /// OAuth token endpoints, matched as path suffixes on a segment boundary, ASCII
    /// case-insensitively. Default [`DEFAULT_TOKEN_PATHS`].
    pub token_paths: Vec<String>,
    /// Form and JSON login endpoints, matched like `token_paths`. Default
    /// [`DEFAULT_LOGIN_PATHS`].
    pub login_paths: Vec<String>,
    /// Body fields naming the user at a login endpoint, in order of preference. Default
    /// [`DEFAULT_LOGIN_USER_FIELDS`].
    pub login_user_fields: Vec<String>,
    /// Prefix length of an IPv4 client network. Default 24.
    pub network_prefix_v4: u8,
    /// Prefix length of an IPv6 client network. Default 48.
    pub network_prefix_v6: u8,
    /// Tokens linked to their client at once; the oldest link is evicted first (counted in
    /// `linked_tokens_evicted`). Default 100 000 (about 10 MB).
    pub max_linked_tokens: usize,
    /// Longest a link lives: a token expires at `min(expires_in, this)` seconds after it was
    /// issued, on packet time. Default 86 400 (one day).
    pub max_token_lifetime_secs: u64,
    /// Longest bearer value decoded as a JWT (and longest `client_assertion`); a longer one is
    /// an opaque token (counted in `jwt_too_long`). Default 8 KiB.
    pub max_jwt_bytes: usize,
    /// Largest client certificate (DER) parsed; larger ones are skipped (counted in
    /// `cert_too_long`). Default 16 KiB.
    pub max_cert_bytes: usize,
    /// Parsed client certificates remembered (by keyed hash of the header value or DER), so a
    /// client that sends its certificate with every request is parsed once; when full, the
    /// cache is emptied. Default 1024 (a few hundred KB).
    pub max_cert_cache: usize,
    /// Largest token-endpoint or login body (request or response) read; a larger one is not
    /// parsed (counted in `bodies_too_long`). Default 64 KiB.
    pub max_body_bytes: usize,
    /// MaxMind DB files (`.mmdb`) giving each client address its autonomous system (number
    /// and organisation) and country: GeoLite2 or GeoIP2 ASN, ISP, Country, City or
    /// Enterprise, in any mix; for each field the first file that knows it wins. The binary
    /// reads them at start (a relative path is read from the configuration file's folder)
    /// and holds them in memory whole. Default empty: no enrichment. See
    /// [`GeoDb`](super::GeoDb).
    pub geoip: Vec<PathBuf>,
    /// Client networks whose enrichment is remembered, so a request from a known network does
    /// not walk the databases; when full, one not asked about lately is dropped (counted in
    /// `geo_cache_evictions`). About 200 bytes a network, its AS organisation's name
    /// included. Default 16 384 (under 4 MB). Unused without `geoip`.
    pub max_geo_cache: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        IdentityConfig {
            order: IdSource::ALL.to_vec(),
            client_cert_headers: strings(&["client-cert"]),
            jwt_client_claims: strings(&["client_id", "azp", "sub"]),
            jwt_customer_claims: strings(&["sub"]),
            consent_claims: strings(&["openbanking_intent_id", "consent_id", "consentId"]),
            api_key_headers: strings(DEFAULT_API_KEY_HEADERS),
            session_cookies: strings(DEFAULT_SESSION_COOKIES),
            trusted_proxies: Vec::new(),
            token_paths: strings(DEFAULT_TOKEN_PATHS),
            login_paths: strings(DEFAULT_LOGIN_PATHS),
            login_user_fields: strings(DEFAULT_LOGIN_USER_FIELDS),
            network_prefix_v4: 24,
            network_prefix_v6: 48,
            max_linked_tokens: 100_000,
            max_token_lifetime_secs: 86_400,
            max_jwt_bytes: 8 * 1024,
            max_cert_bytes: 16 * 1024,
            max_cert_cache: 1024,
            max_body_bytes: 64 * 1024,
            geoip: Vec::new(),
            max_geo_cache: 16 * 1024,
        }
    }
}

/// A configuration value identity cannot use: the key and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityConfigError {
    /// The configuration key.
    pub key: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl fmt::Display for IdentityConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "identity: {}: {}", self.key, self.reason)
    }
}

impl std::error::Error for IdentityConfigError {}

impl IdentityConfig {
    /// Checks what deserialisation cannot: prefix lengths in range, no source listed twice,
    /// lower-case header names, paths that start with `/`, non-zero limits, no empty or
    /// repeated `geoip` file (whether the files exist is the binary's to check).
    pub fn validate(&self) -> Result<(), IdentityConfigError> {
        let err = |key: &'static str, reason: String| Err(IdentityConfigError { key, reason });
        for (i, s) in self.order.iter().enumerate() {
            if self.order.iter().take(i).any(|t| t == s) {
                return err("order", format!("{s} is listed twice; list each source once"));
            }
        }
        if self.network_prefix_v4 > 32 {
            return err("network_prefix_v4", format!("{} is over 32", self.network_prefix_v4));
        }
        if self.network_prefix_v6 > 128 {
            return err("network_prefix_v6", format!("{} is over 128", self.network_prefix_v6));
        }
        let headers = [("client_cert_headers", &self.client_cert_headers), ("api_key_headers", &self.api_key_headers)];
        for (key, list) in headers {
            if let Some(h) = list.iter().find(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase())) {
                return err(key, format!("header name {h:?} must be non-empty and lower case"));
            }
        }
        for (key, list) in [("token_paths", &self.token_paths), ("login_paths", &self.login_paths)] {
            if let Some(p) = list.iter().find(|p| !p.starts_with('/') || p.len() < 2) {
                return err(key, format!("path {p:?} must start with '/' and name a segment"));
            }
        }
        let limits = [
            ("max_linked_tokens", self.max_linked_tokens),
            ("max_jwt_bytes", self.max_jwt_bytes),
            ("max_cert_bytes", self.max_cert_bytes),
            ("max_cert_cache", self.max_cert_cache),
            ("max_body_bytes", self.max_body_bytes),
            ("max_geo_cache", self.max_geo_cache),
        ];
        for (key, v) in limits {
            if v == 0 {
                return err(key, "must be above 0".to_owned());
            }
        }
        if self.max_token_lifetime_secs == 0 {
            return err("max_token_lifetime_secs", "must be above 0".to_owned());
        }
        for (i, path) in self.geoip.iter().enumerate() {
            if path.as_os_str().is_empty() {
                return err("geoip", "an empty path; give each .mmdb file's path".to_owned());
            }
            if self.geoip.iter().take(i).any(|p| p == path) {
                return err("geoip", format!("{} is listed twice; list each file once", path.display()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_round_trip_and_are_unique() {
        for s in IdSource::ALL {
            assert_eq!(s.name().parse::<IdSource>(), Ok(s));
            assert_eq!(IdSource::ALL[s.index()], s);
        }
        let err = "jwt_token".parse::<IdSource>().unwrap_err();
        assert!(err.to_string().contains("\"jwt_token\" is not one of client_cert, jwt"), "{err}");
    }

    #[test]
    fn defaults_validate_and_api_key_list_matches_the_parser_list() {
        IdentityConfig::default().validate().unwrap();
        // The parser's list, written out: a change there must be made here too.
        let parser_list = [
            "x-api-key",
            "api-key",
            "apikey",
            "x-apikey",
            "ocp-apim-subscription-key",
            "x-ibm-client-id",
            "x-gravitee-api-key",
        ];
        assert_eq!(DEFAULT_API_KEY_HEADERS, parser_list);
    }

    #[test]
    fn validation_names_the_key() {
        let c = IdentityConfig { order: vec![IdSource::Jwt, IdSource::Basic, IdSource::Jwt], ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "order");
        let c = IdentityConfig { network_prefix_v4: 33, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "network_prefix_v4");
        let c = IdentityConfig { client_cert_headers: vec!["X-SSL-Client-Cert".into()], ..Default::default() };
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "client_cert_headers");
        assert!(e.to_string().starts_with("identity: client_cert_headers: header name \"X-SSL-Client-Cert\""), "{e}");
        let c = IdentityConfig { token_paths: vec!["token".into()], ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "token_paths");
        let c = IdentityConfig { max_linked_tokens: 0, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "max_linked_tokens");
        let c = IdentityConfig { max_geo_cache: 0, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "max_geo_cache");
        let c = IdentityConfig { geoip: vec!["a.mmdb".into(), "b.mmdb".into(), "a.mmdb".into()], ..Default::default() };
        let e = c.validate().unwrap_err();
        assert_eq!(e.to_string(), "identity: geoip: a.mmdb is listed twice; list each file once");
        let c = IdentityConfig { geoip: vec!["".into()], ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "geoip");
    }

    #[test]
    fn deserialises_with_defaults_and_rejects_unknown_keys() {
        let c: IdentityConfig =
            serde_json::from_str(r#"{"order":["basic","network"],"trusted_proxies":["10.0.0.0/8"]}"#).unwrap();
        assert_eq!(c.order, vec![IdSource::Basic, IdSource::Network]);
        assert_eq!(c.trusted_proxies[0].to_string(), "10.0.0.0/8");
        assert_eq!(c.network_prefix_v4, 24);
        assert!(serde_json::from_str::<IdentityConfig>(r#"{"orders":[]}"#).is_err());
        let back: IdentityConfig = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(c.geoip.is_empty(), "no enrichment unless asked");
        let g: IdentityConfig = serde_json::from_str(r#"{"geoip":["GeoLite2-ASN.mmdb","/var/lib/GeoLite2-Country.mmdb"]}"#).unwrap();
        assert_eq!(g.geoip, vec![std::path::PathBuf::from("GeoLite2-ASN.mmdb"), "/var/lib/GeoLite2-Country.mmdb".into()]);
        g.validate().unwrap();
        let e = serde_json::from_str::<IdentityConfig>(r#"{"order":["nope"]}"#).unwrap_err();
        assert!(e.to_string().contains("\"nope\" is not one of"), "{e}");
    }
}
