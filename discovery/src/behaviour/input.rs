//! What the behavioural layer is fed: one transaction with its consumer identity and its
//! place in the inventory. Borrowed: the caller keeps ownership.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

use crate::identity::Identity;
use crate::inventory::Observed;

/// One HTTP transaction, as the detectors see it.
#[derive(Clone, Copy)]
pub struct Transaction<'a> {
    /// Packet time of the request (ns since the epoch).
    pub ts: u64,
    /// Who sent it.
    pub identity: &'a Identity,
    /// Where the inventory put it.
    pub observed: &'a Observed,
    /// Request path without the query (percent-decoded as recorded).
    pub path: &'a str,
    /// Final status code.
    pub status: Option<u16>,
    /// Decoded response body bytes.
    pub response_bytes: u64,
    /// Milliseconds from the end of the request to the first response byte.
    pub latency_ms: Option<f64>,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// JA4 of the connection's ClientHello, when it was seen (TLS).
    pub fingerprint: Option<&'a str>,
    /// A key of the TCP connection (one key per connection of the run): sessions are counted
    /// by it.
    pub connection: u64,
    /// The request carried a credential (Authorization, API key, client certificate,
    /// session cookie).
    pub authenticated: bool,
    /// Stable codes of the HTTP parser's framing events on this transaction
    /// (`content_length_and_chunked`, `duplicate_content_length`, ...).
    pub framing_events: &'a [&'a str],
    /// Read in clear or decrypted from TLS.
    pub visibility: crate::inventory::Visibility,
}

/// A stable 64-bit key of some strings (SipHash-1-3 with a fixed key): endpoint and network
/// keys must be the same on every run, since finding ids are made from them.
pub(crate) fn stable_key(parts: &[&[u8]]) -> u64 {
    let mut h = SipHasher13::new_with_keys(0x6170_6974_6170, 0x6b65_7973);
    for p in parts {
        h.write(p);
        h.write(&[0xff]);
    }
    h.finish()
}

/// Whether a path parameter name holds an object id: a documented `{AccountId}` style name or
/// one of the template's typed placeholders for ids.
pub(crate) fn is_object_param(name: &str) -> bool {
    matches!(name, "int" | "uuid" | "hex" | "account" | "token") || crate::content::is_id_name(name)
}

/// The object ids a request names: `(parameter, value)` for every template placeholder that
/// holds one, when the template and the path have the same number of segments.
pub(crate) fn requested_ids<'p>(template: &'p str, path: &'p str) -> Vec<(&'p str, &'p str)> {
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if t.len() != p.len() {
        return Vec::new();
    }
    t.iter()
        .zip(p.iter())
        .filter_map(|(ts, ps)| {
            let name = ts.strip_prefix('{')?.strip_suffix('}')?;
            is_object_param(name).then_some((name, *ps))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_placeholders_that_name_objects() {
        assert_eq!(
            requested_ids("/open-banking/v4.0/aisp/accounts/{AccountId}/balances", "/open-banking/v4.0/aisp/accounts/acc-7/balances"),
            [("AccountId", "acc-7")]
        );
        assert_eq!(requested_ids("/v1/users/{int}/cards/{uuid}", "/v1/users/42/cards/0e5c"), [("int", "42"), ("uuid", "0e5c")]);
        assert!(requested_ids("/v1/{param}/x", "/v1/en/x").is_empty(), "a generic parameter is no object id");
        assert!(requested_ids("/a/{AccountId}", "/a/b/c").is_empty(), "segment counts differ");
        assert!(is_object_param("ConsentId") && is_object_param("account_id") && !is_object_param("Paid"));
    }

    #[test]
    fn stable_keys_separate_parts() {
        assert_ne!(stable_key(&[b"ab", b"c"]), stable_key(&[b"a", b"bc"]));
        assert_eq!(stable_key(&[b"x"]), stable_key(&[b"x"]));
    }
}
