//! Who sent a request: the consumer identity (client certificate, OAuth client, API key, user,
//! session, client network), as a keyed hash and a non-secret label, with the customer behind
//! it, the client network, whether the customer was present, and whether the request was an
//! authentication attempt.
//!
//! Sans-IO: [`Identifier::identify`] takes one transaction's facts ([`RequestFacts`], packet
//! time included) and returns an [`Identity`]; it never reads the clock or anything else.
//!
//! # Sources
//!
//! [`IdentityConfig::order`] lists the [`IdSource`]s to try; the first that yields names the
//! consumer, and the client network does when none does.
//!
//! - **Client certificate**: the leaf DER of a TLS 1.2 handshake
//!   ([`RequestFacts::tls_client_cert`]) or a header a TLS-terminating proxy forwards
//!   ([`IdentityConfig::client_cert_headers`]: RFC 9440 `:base64:`, PEM, PEM with blanks for
//!   newlines, URL-encoded PEM, bare base64 DER, Envoy's `Cert="..."`). The id hashes the
//!   `organizationIdentifier` and the RFC 4514 subject, not the issuer and serial, so a
//!   renewed certificate with the same subject keeps its consumer; a new subject is a new
//!   consumer. The label is the organisation id (PSD2, e.g. `PSDGB-FCA-123456`), else the CN,
//!   else the subject.
//! - **JWT**: `Authorization: Bearer` (or `DPoP`) holding a JWS whose payload names the client
//!   ([`IdentityConfig::jwt_client_claims`]: `client_id`, `azp`, `sub`). The label is that value.
//! - **Opaque token**: any other bearer token. When the token endpoint was seen issuing it, the
//!   consumer is the client it was issued to (id and label, source `opaque_token`); otherwise
//!   the token itself (label `opaque token <8 hex>`), which changes whenever the token does.
//! - **Token client**: at a token endpoint, the client a request authenticates as in its body:
//!   the `sub` (else `iss`) of a `client_assertion` JWT (`private_key_jwt`), the `client_id`
//!   field, or the client a known `refresh_token` was issued to.
//! - **API key**: the first of [`IdentityConfig::api_key_headers`] in the request; label
//!   `api-key <header> <8 hex>`.
//! - **Basic**: the user of `Authorization: Basic` (never the password, so a password change
//!   keeps the consumer); the label is the user, an email address masked (`j***@example.com`).
//!   At a token endpoint the Basic user is the OAuth client id (`client_secret_basic`).
//! - **Session cookie**: the first of [`IdentityConfig::session_cookies`]; label
//!   `session <cookie> <8 hex>`.
//! - **Network**: the client address cut to `/24` (IPv4) or `/48` (IPv6); label the prefix.
//!
//! An OAuth client has one id however it presents itself: the client id in a JWT claim, in
//! Basic at the token endpoint, in a `client_id` field or as a client assertion's subject all
//! hash alike, and tokens issued to it inherit it. A consumer's identity therefore survives
//! token rotation.
//!
//! # Ids
//!
//! Every id is SipHash-1-3 keyed with the deployment's 16-byte key over a label naming what
//! is hashed, a NUL byte, then each part as a 4-byte big-endian length and its bytes:
//!
//! | what | label | parts |
//! |---|---|---|
//! | client certificate | `client-cert` | organisation id (or empty), RFC 4514 subject |
//! | OAuth client (JWT, token client, Basic at a token endpoint, linked tokens) | `oauth-client` | client id |
//! | unlinked bearer token | `opaque-token` | the token |
//! | API key | `api-key` | the value (not the header name) |
//! | Basic user | `basic-user` | the user |
//! | session cookie | `session-cookie` | cookie name, value |
//! | network | `network` | the prefix as text, e.g. `198.51.100.0/24` |
//! | customer claim / consent id ([`CustomerId`]) | `customer` / `consent` | the value |
//! | login user ([`LoginAttempt::user`]) | `login-user` | the user, ASCII-lower-cased |
//!
//! The same key and input give the same id on every run and every sensor; without the key an
//! id says nothing, and ids made under two keys cannot be compared. Raw tokens, keys and
//! passwords are never stored: the token table holds keyed hashes only.
//!
//! # Customer, network, attendance
//!
//! The customer comes from the bearer JWT whatever source names the consumer: the first of
//! [`IdentityConfig::jwt_customer_claims`] whose value differs from the client claim used (a
//! token whose `sub` is its client has no customer), else the first
//! [`IdentityConfig::consent_claims`]. For a linked opaque token it is the customer the token
//! response's `id_token` named. `X-Forwarded-For` and RFC 7239 `Forwarded` are believed only
//! when the TCP peer is one of [`IdentityConfig::trusted_proxies`]. A request carrying
//! `x-fapi-customer-ip-address` is attended (FAPI: the customer is present).
//!
//! # Autonomous system and country
//!
//! With a [`GeoDb`] ([`Identifier::with_geo`]: MaxMind GeoLite2/GeoIP2 ASN, ISP, Country,
//! City or Enterprise databases, from [`IdentityConfig::geoip`]), [`Identity::geo`] carries
//! the client address's AS number and organisation and its country. Answers are cached per
//! client network ([`IdentityConfig::max_geo_cache`]); private and reserved addresses are not
//! looked up. See the [`GeoDb`] documentation for the databases, memory and the cache.
//!
//! # Token endpoint and logins
//!
//! A POST to a [`IdentityConfig::token_paths`] endpoint answered 2xx with a JSON body links its
//! `access_token` and `refresh_token` to the identity of the request (when that identity is a
//! client authentication: certificate, JWT, token client, Basic, API key or a linked token), for
//! `min(expires_in, max_token_lifetime_secs)` of packet time (a refresh token for
//! `max_token_lifetime_secs`), at most
//! [`IdentityConfig::max_linked_tokens`] links, oldest evicted first. Token requests, login
//! posts and 401 answers to credentialed requests are [`LoginAttempt`]s.
//!
//! # What the binary must provide
//!
//! The retained request headers (lower-case names): `authorization`, the client certificate
//! headers, the API key headers, `cookie`, `x-forwarded-for`, `forwarded`,
//! `x-fapi-customer-ip-address`; and captured request and response bodies large enough for token
//! requests and responses (a few KiB).
//!
//! # Not supported
//!
//! - No verification of anything: JWT signatures, expiry and audience, certificate chains and
//!   validity are not checked. Identity reports what the request claims, which behind the
//!   bank's gateway is what the gateway accepted.
//! - Encrypted JWTs (JWE) are opaque tokens.
//! - Client certificates of TLS 1.3 handshakes are encrypted on the wire and cannot be seen;
//!   only a forwarded header names them.
//! - Digest, AWS Signature V4, HMAC and other `Authorization` schemes name no consumer (the
//!   consumer falls to later sources), and are not linked.
//! - Tokens issued where the sensor does not see the token endpoint, or before it started, are
//!   not linked until the next issue.
//! - A token response that was not captured whole (body capture off or too small) links
//!   nothing.
//! - Form logins that answer 200 with an error page count as successes; redirects are unknown.

mod body;
mod cert;
mod config;
mod creds;
mod geo;
mod hash;
mod ids;
mod jwt;
mod login;
mod network;
mod persist;
mod sources;
mod stats;
mod text;
mod token;

use std::fmt;
use std::net::IpAddr;

pub use config::{
    IdSource, IdentityConfig, IdentityConfigError, UnknownSource, DEFAULT_API_KEY_HEADERS, DEFAULT_LOGIN_PATHS,
    DEFAULT_LOGIN_USER_FIELDS, DEFAULT_SESSION_COOKIES, DEFAULT_TOKEN_PATHS,
};
pub use geo::{Country, CountryError, Geo, GeoDb, GeoDbInfo, GeoError, GeoErrorReason, GeoKind, GeoStats};
pub use ids::{ConsumerId, CustomerId, Grant, Identity, LoginAttempt, LoginKind, LoginOutcome};
pub use network::{Prefix, PrefixError};
pub use persist::{customer_ids, ClientSnapshot, IdentitySnapshot, LinkSnapshot, IDENTITY_SNAPSHOT_FORMAT};
pub use stats::IdentityStats;

use creds::Auth;
use hash::{keyed, Domain};
use login::Endpoint;
use network::Resolution;
use sources::{CertCache, Ctx, Found, Seen};
use token::{Churn, Issue, TokenLinks};

/// Everything identity reads from one transaction. Header names are lower case.
///
/// The header values and bodies are secrets and personal data: `Debug` shows header names and
/// the lengths of values and bodies only.
#[derive(Copy, Clone)]
pub struct RequestFacts<'a> {
    /// Packet time (ns) of the request.
    pub ts: u64,
    /// The TCP client address.
    pub peer: IpAddr,
    /// Request method.
    pub method: Option<&'a str>,
    /// Request path, without the query.
    pub path: Option<&'a str>,
    /// Final response status.
    pub status: Option<u16>,
    /// Retained request headers, (lower-case name, value) in header order.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Request `Content-Type`.
    pub request_content_type: Option<&'a str>,
    /// The captured prefix of the decoded request body (may be cut).
    pub request_body: &'a [u8],
    /// Response `Content-Type`.
    pub response_content_type: Option<&'a str>,
    /// The captured prefix of the decoded response body (may be cut).
    pub response_body: &'a [u8],
    /// The leaf client certificate (DER) of a TLS 1.2 handshake, when the binary has it.
    pub tls_client_cert: Option<&'a [u8]>,
}

impl fmt::Debug for RequestFacts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No `..`: a new field does not compile until it is decided here whether it may be
        // printed.
        let RequestFacts {
            ts,
            peer,
            method,
            path,
            status,
            headers,
            request_content_type,
            request_body,
            response_content_type,
            response_body,
            tls_client_cert,
        } = self;
        let headers: Vec<String> = headers.iter().map(|(n, v)| format!("{n}: <{} bytes>", v.len())).collect();
        f.debug_struct("RequestFacts")
            .field("ts", ts)
            .field("peer", peer)
            .field("method", method)
            .field("path", path)
            .field("status", status)
            .field("headers", &headers)
            .field("request_content_type", request_content_type)
            .field("request_body", &format_args!("<{} bytes>", request_body.len()))
            .field("response_content_type", response_content_type)
            .field("response_body", &format_args!("<{} bytes>", response_body.len()))
            .field("tls_client_cert", &tls_client_cert.map(<[u8]>::len))
            .finish()
    }
}

/// Identifies consumers, learning token links at the token endpoint as it goes. One per
/// sensor (links learnt on one connection serve the others); memory is bounded by
/// [`IdentityConfig::max_linked_tokens`] and [`IdentityConfig::max_cert_cache`], plus the
/// optional [`GeoDb`]'s databases and cache.
#[derive(Debug)]
pub struct Identifier {
    cfg: IdentityConfig,
    key: [u8; 16],
    /// The key before a rotation, while consumers move to the new one.
    prev_key: Option<[u8; 16]>,
    links: TokenLinks,
    certs: CertCache,
    geo: Option<GeoDb>,
    stats: IdentityStats,
}

/// Sources whose identity is a client authentication, to which an issued token may be linked.
fn links_to(found: &Found, bearer_linked: bool) -> bool {
    match found.info.source {
        IdSource::ClientCert | IdSource::Jwt | IdSource::TokenClient | IdSource::Basic | IdSource::ApiKey => true,
        IdSource::OpaqueToken => bearer_linked,
        IdSource::SessionCookie | IdSource::Network => false,
    }
}

/// Nanoseconds per second.
const NS: u64 = 1_000_000_000;

impl Identifier {
    /// An identifier with a validated configuration (see [`IdentityConfig::validate`]; prefix
    /// lengths over the address width are clamped) and the deployment's secret key.
    pub fn new(cfg: IdentityConfig, key: [u8; 16]) -> Self {
        Identifier {
            cfg,
            key,
            prev_key: None,
            links: TokenLinks::default(),
            certs: CertCache::default(),
            geo: None,
            stats: IdentityStats::default(),
        }
    }

    /// The same identifier, enriching every identity with what `geo` says about its client
    /// address ([`Identity::geo`]). A `geo` without databases enriches nothing.
    #[must_use]
    pub fn with_geo(mut self, geo: GeoDb) -> Self {
        self.geo = (!geo.is_empty()).then_some(geo);
        self
    }

    /// The same identifier during a key rotation: every identity of a hashed credential also
    /// carries the id it had under `previous` ([`Identity::previous_id`]), so the behavioural
    /// layer moves each consumer's profile to its new id when the consumer is next seen; token
    /// links restored from before the rotation are found by the previous key's hash. A
    /// previous key equal to the key is ignored. See `docs/behaviour.md` for the procedure.
    #[must_use]
    pub fn with_previous_key(mut self, previous: [u8; 16]) -> Self {
        self.prev_key = (previous != self.key).then_some(previous);
        self
    }

    /// The enrichment databases, when given.
    pub fn geo(&self) -> Option<&GeoDb> {
        self.geo.as_ref()
    }

    /// The configuration in use.
    pub fn config(&self) -> &IdentityConfig {
        &self.cfg
    }

    /// Identifies one transaction. Token-endpoint transactions are also learned: an access
    /// token in a 2xx JSON answer (`access_token`, and `refresh_token`) is linked to the client
    /// the request authenticated as (client cert, Basic `client_id:secret`, `client_id` form
    /// field, `client_assertion` JWT `sub`/`iss` as in `private_key_jwt`), so later
    /// `Authorization: Bearer <opaque>` requests get that client's id and label (source
    /// [`IdSource::OpaqueToken`]) instead of a per-token id. Only keyed hashes of tokens are
    /// stored.
    pub fn identify(&mut self, req: &RequestFacts<'_>) -> Identity {
        let mut ctx = Ctx {
            cfg: &self.cfg,
            key: &self.key,
            prev_key: self.prev_key.as_ref(),
            stats: &mut self.stats,
            links: &mut self.links,
            certs: &mut self.certs,
        };
        ctx.stats.identified += 1;
        let churn = ctx.links.sweep(req.ts);
        count_churn(ctx.stats, churn);

        let (client_ip, resolution) = network::client_address(req.peer, req.headers, &ctx.cfg.trusted_proxies);
        match resolution {
            Resolution::UntrustedIgnored => ctx.stats.xff_untrusted_ignored += 1,
            Resolution::ForwardedInvalid => ctx.stats.xff_invalid += 1,
            Resolution::Peer | Resolution::Forwarded => {}
        }
        let network = Prefix::of(client_ip, ctx.cfg.network_prefix_v4, ctx.cfg.network_prefix_v6);

        let auth = creds::authorization(req.headers);
        let bearer = match auth {
            Some(Auth::Bearer(t)) => Some(t),
            _ => None,
        };
        let claims = bearer.and_then(|t| ctx.decode_jwt(t));
        let linked = bearer.and_then(|t| ctx.linked(t, IdSource::OpaqueToken, req.ts));
        let post = req.method.is_some_and(|m| m.eq_ignore_ascii_case("POST"));
        let path = req.path.unwrap_or_default();
        let endpoint = if post && login::path_matches(path, &ctx.cfg.token_paths) {
            Endpoint::Token
        } else if post && login::path_matches(path, &ctx.cfg.login_paths) {
            Endpoint::Login
        } else {
            Endpoint::Other
        };
        let fields = if endpoint == Endpoint::Other {
            None
        } else if req.request_body.len() > ctx.cfg.max_body_bytes {
            ctx.stats.bodies_too_long += 1;
            None
        } else {
            let max_assertion = ctx.cfg.max_jwt_bytes;
            Some(body::request_fields(
                req.request_content_type,
                req.request_body,
                &ctx.cfg.login_user_fields,
                max_assertion,
            ))
        };
        let seen = Seen { req, auth, claims, linked, at_token: endpoint == Endpoint::Token, fields, network };

        let mut found = None;
        let cfg = ctx.cfg;
        for source in &cfg.order {
            found = ctx.try_source(*source, &seen);
            if found.is_some() {
                break;
            }
        }
        let found = found.unwrap_or_else(|| ctx.network(network));
        if let Some(prev) = found.prev.filter(|p| *p != found.id) {
            // Links restored from before the rotation name the client by its old id: from now
            // on they name the new one.
            if ctx.links.has_client(prev) {
                ctx.links.rekey_client(prev, found.id);
            }
        }
        if let Some(slot) = ctx.stats.by_source.get_mut(found.info.source.index()) {
            *slot += 1;
        }

        let customer = customer(ctx.key, ctx.cfg, &seen);
        let basic_user = match auth {
            Some(Auth::Basic(b)) => creds::basic_user(b),
            _ => None,
        };
        let credentialed = auth.is_some()
            || creds::api_key(req.headers, &ctx.cfg.api_key_headers).is_some()
            || creds::session_cookie(req.headers, &ctx.cfg.session_cookies).is_some();
        let login = login::attempt(
            ctx.key,
            endpoint,
            seen.fields.as_ref(),
            req.status,
            req.response_body,
            ctx.cfg.max_body_bytes,
            credentialed,
            basic_user.as_deref(),
        );
        if login.is_some() {
            ctx.stats.login_attempts += 1;
        }
        if endpoint == Endpoint::Token && req.status.is_some_and(|s| (200..300).contains(&s)) {
            learn(&mut ctx, req, &found, seen.linked.is_some());
        }
        let attended = creds::header(req.headers, "x-fapi-customer-ip-address").is_some();
        let geo = match self.geo.as_mut() {
            Some(db) => {
                let geo = db.lookup(network, client_ip);
                self.stats.geo = db.stats();
                geo
            }
            None => Geo::default(),
        };

        Identity {
            id: ConsumerId(found.id),
            previous_id: found.prev.map(ConsumerId),
            source: found.info.source,
            label: found.info.label,
            org_id: found.info.org_id,
            cert_subject: found.info.cert_subject,
            customer: customer.map(CustomerId),
            client_ip,
            network,
            geo,
            attended,
            login,
        }
    }

    /// Counters.
    pub fn stats(&self) -> &IdentityStats {
        &self.stats
    }

    /// Tokens linked now.
    pub fn linked_tokens(&self) -> usize {
        self.links.len()
    }

    /// Approximate heap and inline bytes held: the token links and their clients, the
    /// certificate cache, the enrichment databases and cache, and the configuration.
    pub fn memory_bytes(&self) -> usize {
        let cfg = &self.cfg;
        let strings = |l: &[String]| l.iter().map(|s| s.capacity() + std::mem::size_of::<String>()).sum::<usize>();
        let cfg_bytes = strings(&cfg.client_cert_headers)
            + strings(&cfg.jwt_client_claims)
            + strings(&cfg.jwt_customer_claims)
            + strings(&cfg.consent_claims)
            + strings(&cfg.api_key_headers)
            + strings(&cfg.session_cookies)
            + strings(&cfg.token_paths)
            + strings(&cfg.login_paths)
            + strings(&cfg.login_user_fields)
            + cfg.trusted_proxies.capacity() * std::mem::size_of::<Prefix>()
            + cfg.order.capacity()
            + cfg.geoip.iter().map(|p| p.as_os_str().len() + std::mem::size_of::<std::path::PathBuf>()).sum::<usize>();
        let geo = self.geo.as_ref().map_or(0, GeoDb::memory_bytes);
        std::mem::size_of::<Self>() + cfg_bytes + self.links.memory_bytes() + self.certs.memory_bytes() + geo
    }
}

fn count_churn(stats: &mut IdentityStats, churn: Churn) {
    stats.linked_tokens_evicted += churn.evicted;
    stats.linked_tokens_expired += churn.expired;
}

/// The customer named by the bearer: JWT customer claims (a value other than the client's),
/// then consent claims; for a linked token, the customer its issue named.
fn customer(key: &[u8; 16], cfg: &IdentityConfig, seen: &Seen<'_, '_>) -> Option<u64> {
    if let Some(claims) = &seen.claims {
        return claims_customer(key, cfg, claims);
    }
    seen.linked.as_ref().and_then(|(_, c)| *c)
}

/// The customer of an access token's claims: a customer claim that is not the value naming
/// the client (a client-credentials token's `sub` is often the client itself), else a consent
/// claim.
fn claims_customer(key: &[u8; 16], cfg: &IdentityConfig, claims: &jwt::Claims) -> Option<u64> {
    let client = claims.first(&cfg.jwt_client_claims).map(|(_, v)| v);
    customer_of(key, cfg, claims, client)
}

/// The customer of an OpenID Connect `id_token`: its `sub` is always the end user (the client
/// is its `aud`/`azp`), so no claim is set aside as the client's.
fn id_token_customer(key: &[u8; 16], cfg: &IdentityConfig, claims: &jwt::Claims) -> Option<u64> {
    customer_of(key, cfg, claims, None)
}

fn customer_of(key: &[u8; 16], cfg: &IdentityConfig, claims: &jwt::Claims, client: Option<&str>) -> Option<u64> {
    let customer = cfg.jwt_customer_claims.iter().filter_map(|c| claims.string(c)).find(|v| Some(*v) != client);
    if let Some(v) = customer {
        return Some(keyed(key, Domain::Customer, &[v.as_bytes()]));
    }
    claims.first(&cfg.consent_claims).map(|(_, v)| keyed(key, Domain::Consent, &[v.as_bytes()]))
}

/// Links the tokens of a successful token response to the client of its request.
fn learn(ctx: &mut Ctx<'_>, req: &RequestFacts<'_>, found: &Found, bearer_linked: bool) {
    if req.response_body.len() > ctx.cfg.max_body_bytes {
        ctx.stats.bodies_too_long += 1;
        return;
    }
    let Some(resp) = body::token_response(req.response_body) else {
        ctx.stats.token_responses_unparsable += 1;
        return;
    };
    if resp.access_token.is_none() && resp.refresh_token.is_none() {
        return;
    }
    if !links_to(found, bearer_linked) {
        ctx.stats.token_responses_unattributed += 1;
        return;
    }
    let customer = resp
        .id_token
        .as_ref()
        .and_then(|t| ctx.decode_jwt(t.as_bytes()))
        .and_then(|c| id_token_customer(ctx.key, ctx.cfg, &c));
    let cap = ctx.cfg.max_token_lifetime_secs;
    // `expires_in` is the access token's; a refresh token lives longer, up to the cap.
    let access = resp.access_token.as_ref().map(|t| (t, resp.expires_in.unwrap_or(cap).min(cap)));
    let refresh = resp.refresh_token.as_ref().map(|t| (t, cap));
    for (token, lifetime) in access.into_iter().chain(refresh) {
        let expires = req.ts.saturating_add(lifetime.saturating_mul(NS));
        let hash = ctx.token_hash(token.as_bytes());
        let issue = Issue { client: found.id, info: &found.info, customer, expires };
        let churn = ctx.links.link(hash, &issue, req.ts, ctx.cfg.max_linked_tokens);
        count_churn(ctx.stats, churn);
        ctx.stats.tokens_linked += 1;
    }
}
