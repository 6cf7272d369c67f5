//! Each identity source: what it reads and the identity it yields.

use std::collections::HashMap;

use super::cert::{self, CertError, CertFacts};
use super::config::IdentityConfig;
use super::creds::{self, Auth};
use super::hash::{keyed, short_hex, Domain};
use super::jwt::{self, Claims, JwtError};
use super::network::Prefix;
use super::stats::IdentityStats;
use super::text::{clean, percent_decode, user_label};
use super::token::{ClientInfo, TokenLinks};
use super::{IdSource, RequestFacts};

/// Characters of a certificate subject kept for output.
pub(crate) const MAX_SUBJECT_CHARS: usize = 1024;

/// An identity before the request-wide facts (addresses, customer, login) are added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub id: u64,
    /// The id under the previous key, when one is set and the source hashes a credential.
    pub prev: Option<u64>,
    pub info: ClientInfo,
}

impl Found {
    fn new((id, prev): (u64, Option<u64>), source: IdSource, label: String) -> Found {
        Found { id, prev, info: ClientInfo { source, label, org_id: None, cert_subject: None } }
    }
}

/// Parsed certificates by keyed hash of what was parsed (failures included, so garbage is not
/// parsed again), bounded by `max_cert_cache`: when full it is emptied.
#[derive(Debug, Default)]
pub(crate) struct CertCache {
    map: HashMap<u64, Result<CertFacts, CertError>>,
}

impl CertCache {
    pub fn memory_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u64, Result<CertFacts, CertError>)>() + 1;
        self.map.capacity() * slot
            + self
                .map
                .values()
                .filter_map(|r| r.as_ref().ok())
                .map(|f| {
                    f.subject.capacity()
                        + f.common_name.as_ref().map_or(0, String::capacity)
                        + f.org_id.as_ref().map_or(0, String::capacity)
                })
                .sum::<usize>()
    }
}

/// What one request shows, decoded once and shared by the sources.
pub(crate) struct Seen<'r, 'a> {
    pub req: &'r RequestFacts<'a>,
    pub auth: Option<Auth<'a>>,
    /// The bearer's claims, when it is a decodable JWT.
    pub claims: Option<Claims>,
    /// The client the bearer token was linked to.
    pub linked: Option<(Found, Option<u64>)>,
    /// A POST to a token endpoint.
    pub at_token: bool,
    /// Token or login request fields.
    pub fields: Option<super::body::RequestFields>,
    pub network: Prefix,
}

/// Everything a source may update.
pub(crate) struct Ctx<'c> {
    pub cfg: &'c IdentityConfig,
    pub key: &'c [u8; 16],
    /// The previous key during a rotation.
    pub prev_key: Option<&'c [u8; 16]>,
    pub stats: &'c mut IdentityStats,
    pub links: &'c mut TokenLinks,
    pub certs: &'c mut CertCache,
}

impl Ctx<'_> {
    /// Decodes a JWT, counting why one that looked like a JWT did not decode.
    pub fn decode_jwt(&mut self, token: &[u8]) -> Option<Claims> {
        match jwt::decode(token, self.cfg.max_jwt_bytes) {
            Ok(c) => Some(c),
            Err(JwtError::TooLong) => {
                self.stats.jwt_too_long += 1;
                None
            }
            Err(JwtError::Undecodable) => {
                if jwt::looks_like_jwt(token) {
                    self.stats.jwt_undecodable += 1;
                }
                None
            }
            Err(JwtError::NotJws) => None,
        }
    }

    /// The keyed hash under which a token is linked (also the id of an unlinked opaque token).
    pub fn token_hash(&self, token: &[u8]) -> u64 {
        keyed(self.key, Domain::OpaqueToken, &[token])
    }

    /// A consumer id under the key, and under the previous key when one is set.
    fn ids(&self, domain: Domain, parts: &[&[u8]]) -> (u64, Option<u64>) {
        (keyed(self.key, domain, parts), self.prev_key.map(|k| keyed(k, domain, parts)))
    }

    /// The client a linked token names, if the link holds at `now`. A link restored from
    /// before a key rotation is found by the previous key's hash and moved to the current one.
    pub fn linked(&mut self, token: &[u8], source: IdSource, now: u64) -> Option<(Found, Option<u64>)> {
        let hash = self.token_hash(token);
        if let Some(prev) = self.prev_key {
            if self.links.has_old_links() && !self.links.contains(hash) {
                let old = keyed(prev, Domain::OpaqueToken, &[token]);
                if self.links.migrate(old, hash, self.cfg.max_linked_tokens) {
                    self.stats.linked_tokens_rekeyed += 1;
                }
            }
        }
        let (found, churn) = self.links.lookup(hash, now);
        self.stats.linked_tokens_expired += churn.expired;
        let found = found.map(|l| (Found { id: l.client, prev: None, info: ClientInfo { source, ..l.info.clone() } }, l.customer));
        if found.is_some() {
            self.stats.linked_token_hits += 1;
        }
        found
    }

    /// The OAuth client identity for a client id, however it was presented.
    fn oauth_client(&self, client_id: &[u8], source: IdSource) -> Found {
        Found::new(self.ids(Domain::OAuthClient, &[client_id]), source, user_label(client_id))
    }

    /// Reads a certificate through the cache.
    fn cert(&mut self, bytes: &[u8], from_header: bool) -> Option<CertFacts> {
        let cache_key = keyed(self.key, if from_header { Domain::CertHeader } else { Domain::CertDer }, &[bytes]);
        let result = match self.certs.map.get(&cache_key) {
            Some(r) => r.clone(),
            None => {
                let max = self.cfg.max_cert_bytes;
                let r = if from_header { cert::der_from_header(bytes, max) } else { Ok(bytes.to_vec()) }
                    .and_then(|der| cert::parse(&der, max));
                if self.certs.map.len() >= self.cfg.max_cert_cache.max(1) {
                    self.certs.map.clear();
                }
                self.certs.map.insert(cache_key, r.clone());
                r
            }
        };
        match result {
            Ok(f) => Some(f),
            Err(CertError::TooLong) => {
                self.stats.cert_too_long += 1;
                None
            }
            Err(CertError::Unparsable) => {
                self.stats.cert_unparsable += 1;
                None
            }
        }
    }

    /// Tries one source.
    pub fn try_source(&mut self, source: IdSource, seen: &Seen<'_, '_>) -> Option<Found> {
        let headers = seen.req.headers;
        match source {
            IdSource::ClientCert => self.client_cert(seen.req),
            IdSource::Jwt => {
                let (_, client) = seen.claims.as_ref()?.first(&self.cfg.jwt_client_claims)?;
                Some(self.oauth_client(client.as_bytes(), IdSource::Jwt))
            }
            IdSource::OpaqueToken => {
                let Some(Auth::Bearer(token)) = seen.auth else { return None };
                if let Some((found, _)) = &seen.linked {
                    return Some(found.clone());
                }
                let names_client = seen.claims.as_ref().is_some_and(|c| c.first(&self.cfg.jwt_client_claims).is_some());
                if names_client {
                    return None;
                }
                let ids = self.ids(Domain::OpaqueToken, &[token]);
                Some(Found::new(ids, IdSource::OpaqueToken, format!("opaque token {}", short_hex(ids.0))))
            }
            IdSource::TokenClient => self.token_client(seen),
            IdSource::ApiKey => {
                let (name, value) = creds::api_key(headers, &self.cfg.api_key_headers)?;
                let ids = self.ids(Domain::ApiKey, &[value]);
                Some(Found::new(ids, IdSource::ApiKey, format!("api-key {name} {}", short_hex(ids.0))))
            }
            IdSource::Basic => {
                let Some(Auth::Basic(encoded)) = seen.auth else { return None };
                let Some(user) = creds::basic_user(encoded) else {
                    self.stats.basic_undecodable += 1;
                    return None;
                };
                if seen.at_token {
                    // RFC 6749 section 2.3.1: the client id is form-urlencoded before Basic.
                    let client_id = percent_decode(&user, true, user.len()).unwrap_or(user);
                    return Some(self.oauth_client(&client_id, IdSource::Basic));
                }
                Some(Found::new(self.ids(Domain::BasicUser, &[&user]), IdSource::Basic, user_label(&user)))
            }
            IdSource::SessionCookie => {
                let (name, value) = creds::session_cookie(headers, &self.cfg.session_cookies)?;
                let ids = self.ids(Domain::Session, &[name.as_bytes(), value]);
                Some(Found::new(ids, IdSource::SessionCookie, format!("session {name} {}", short_hex(ids.0))))
            }
            IdSource::Network => Some(self.network(seen.network)),
        }
    }

    /// The network identity, which always yields.
    pub fn network(&self, network: Prefix) -> Found {
        let text = network.to_string();
        Found::new(self.ids(Domain::Network, &[text.as_bytes()]), IdSource::Network, text)
    }

    fn client_cert(&mut self, req: &RequestFacts<'_>) -> Option<Found> {
        let facts = match req.tls_client_cert {
            Some(der) => self.cert(der, false),
            None => None,
        };
        let facts = match facts {
            Some(f) => Some(f),
            None => {
                let names = &self.cfg.client_cert_headers;
                let values: Vec<&[u8]> = names.iter().filter_map(|n| creds::header(req.headers, n)).collect();
                values.into_iter().find_map(|v| self.cert(v, true))
            }
        }?;
        let org = facts.org_id.as_deref().unwrap_or_default();
        let ids = self.ids(Domain::ClientCert, &[org.as_bytes(), facts.subject.as_bytes()]);
        let label = facts.org_id.as_deref().or(facts.common_name.as_deref()).unwrap_or(&facts.subject);
        let mut found = Found::new(ids, IdSource::ClientCert, clean(label.as_bytes()));
        found.info.org_id = facts.org_id.as_deref().map(|o| clean(o.as_bytes()));
        found.info.cert_subject = Some(facts.subject.chars().take(MAX_SUBJECT_CHARS).collect());
        Some(found)
    }

    /// A token request's client from its body: a `client_assertion`'s `sub` (else `iss`), the
    /// `client_id` field, or the client a known `refresh_token` was issued to.
    fn token_client(&mut self, seen: &Seen<'_, '_>) -> Option<Found> {
        if !seen.at_token {
            return None;
        }
        let fields = seen.fields.as_ref()?;
        if let Some(assertion) = &fields.client_assertion {
            let claims = self.decode_jwt(assertion);
            let client = claims.as_ref().and_then(|c| c.string("sub").or_else(|| c.string("iss")));
            if let Some(client) = client {
                return Some(self.oauth_client(client.as_bytes(), IdSource::TokenClient));
            }
        }
        if let Some(client_id) = &fields.client_id {
            return Some(self.oauth_client(client_id, IdSource::TokenClient));
        }
        let refresh = fields.refresh_token.as_ref()?;
        self.linked(refresh, IdSource::TokenClient, seen.req.ts).map(|(found, _)| found)
    }
}
