//! Identity counters.

use super::{GeoStats, IdSource};

/// What [`Identifier`](super::Identifier) did, for the binary's metrics. Names are stable
/// snake_case ([`counters`](Self::counters)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentityStats {
    /// Transactions identified.
    pub identified: u64,
    /// Identities by source, indexed as [`IdSource::ALL`].
    pub by_source: [u64; IdSource::ALL.len()],
    /// Bearer values that looked like JWTs (`eyJ...` in three parts) but did not decode.
    pub jwt_undecodable: u64,
    /// Bearer values or client assertions over `max_jwt_bytes`, not decoded.
    pub jwt_too_long: u64,
    /// Client certificates (handshake or header) that were not readable.
    pub cert_unparsable: u64,
    /// Client certificates over `max_cert_bytes`, not read.
    pub cert_too_long: u64,
    /// `Authorization: Basic` values that were not base64 of `user:password`.
    pub basic_undecodable: u64,
    /// Tokens linked to their client at a token endpoint (access and refresh tokens).
    pub tokens_linked: u64,
    /// Requests whose bearer or refresh token was a linked one.
    pub linked_token_hits: u64,
    /// Links dropped at `max_linked_tokens`, oldest first.
    pub linked_tokens_evicted: u64,
    /// Links dropped after their lifetime, on packet time.
    pub linked_tokens_expired: u64,
    /// Links restored from before a key rotation, found by the previous key's hash and moved
    /// to the current one.
    pub linked_tokens_rekeyed: u64,
    /// Links restored ([`Identifier::restore_links`](super::Identifier::restore_links)).
    pub linked_tokens_restored: u64,
    /// Links removed by an erasure of their client or customer.
    pub linked_tokens_forgotten: u64,
    /// Successful token responses that were not readable JSON (often: not captured, or cut).
    pub token_responses_unparsable: u64,
    /// Token responses with an access token whose request named no client to link it to.
    pub token_responses_unattributed: u64,
    /// Token and login bodies over `max_body_bytes`, not read.
    pub bodies_too_long: u64,
    /// Requests with `X-Forwarded-For` or `Forwarded` from a peer that is not a trusted proxy:
    /// the headers were ignored.
    pub xff_untrusted_ignored: u64,
    /// Forwarding chains that held something other than an address; the client is the last
    /// trusted hop.
    pub xff_invalid: u64,
    /// Authentication attempts seen (token endpoint, login form, rejected credentials).
    pub login_attempts: u64,
    /// The AS and country enrichment, when databases are loaded (named `geo_<name>`).
    pub geo: GeoStats,
}

impl IdentityStats {
    /// Identities named by `source`.
    pub fn source(&self, source: IdSource) -> u64 {
        self.by_source.get(source.index()).copied().unwrap_or(0)
    }

    /// Every counter with its stable name, in a fixed order; per-source counts are
    /// `source_<name>`, enrichment counts `geo_<name>`.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut out = vec![("identified".to_owned(), self.identified)];
        for s in IdSource::ALL {
            out.push((format!("source_{}", s.name()), self.source(s)));
        }
        let rest = [
            ("jwt_undecodable", self.jwt_undecodable),
            ("jwt_too_long", self.jwt_too_long),
            ("cert_unparsable", self.cert_unparsable),
            ("cert_too_long", self.cert_too_long),
            ("basic_undecodable", self.basic_undecodable),
            ("tokens_linked", self.tokens_linked),
            ("linked_token_hits", self.linked_token_hits),
            ("linked_tokens_evicted", self.linked_tokens_evicted),
            ("linked_tokens_expired", self.linked_tokens_expired),
            ("linked_tokens_rekeyed", self.linked_tokens_rekeyed),
            ("linked_tokens_restored", self.linked_tokens_restored),
            ("linked_tokens_forgotten", self.linked_tokens_forgotten),
            ("token_responses_unparsable", self.token_responses_unparsable),
            ("token_responses_unattributed", self.token_responses_unattributed),
            ("bodies_too_long", self.bodies_too_long),
            ("xff_untrusted_ignored", self.xff_untrusted_ignored),
            ("xff_invalid", self.xff_invalid),
            ("login_attempts", self.login_attempts),
        ];
        out.extend(rest.iter().map(|(n, v)| ((*n).to_owned(), *v)));
        out.extend(self.geo.counters().iter().map(|(n, v)| (format!("geo_{n}"), *v)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_are_unique_snake_case() {
        let geo = GeoStats { cache_evictions: 7, ..Default::default() };
        let c = IdentityStats { jwt_too_long: 3, by_source: [0, 5, 0, 0, 0, 0, 0, 0], geo, ..Default::default() };
        let list = c.counters();
        let mut names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        assert!(list.contains(&("jwt_too_long".to_owned(), 3)));
        assert!(list.contains(&("source_jwt".to_owned(), 5)));
        assert!(list.contains(&("geo_cache_evictions".to_owned(), 7)));
        assert!(list.contains(&("geo_cache_hits".to_owned(), 0)));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
