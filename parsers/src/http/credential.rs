//! A keyed digest of the credential a request carries, so that consumers can be counted and
//! told apart without any part of the credential being kept.
//!
//! The digest is computed from the header value while the head is parsed, and only the 64-bit
//! result leaves this module: no copy of the credential is made (the canonical form is fed to
//! the hasher piece by piece).

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

use super::head::Field;

/// Request header names that carry an API key, compared case-insensitively. The first of
/// these present in a request (in header order) names
/// [`HttpTransaction::api_key_header`](super::HttpTransaction::api_key_header) and, when the
/// request has no `Authorization`, is the credential that
/// [`HttpTransaction::credential_digest`](super::HttpTransaction::credential_digest) digests.
///
/// Covered: the common `X-API-Key` family, Azure API Management
/// (`Ocp-Apim-Subscription-Key`), IBM API Connect (`X-IBM-Client-Id`) and Gravitee
/// (`X-Gravitee-Api-Key`). Keys sent in other headers, in the query or in cookies are not
/// digested (query values are redacted instead).
pub const API_KEY_HEADERS: &[&str] = &[
    "x-api-key",
    "api-key",
    "apikey",
    "x-apikey",
    "ocp-apim-subscription-key",
    "x-ibm-client-id",
    "x-gravitee-api-key",
];

/// Where the credential of a request came from, in order of preference.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CredentialSource {
    /// The `Authorization` header (scheme and credentials).
    Authorization,
    /// One of the [`API_KEY_HEADERS`] (the name does not enter the digest: the same key under
    /// two of these names is one consumer).
    ApiKey,
    /// The `Proxy-Authorization` header.
    ProxyAuthorization,
}

impl CredentialSource {
    /// The label that starts the canonical form, so that the same bytes from two sources give
    /// two digests.
    fn label(self) -> &'static [u8] {
        match self {
            CredentialSource::Authorization => b"authorization",
            CredentialSource::ApiKey => b"api-key",
            CredentialSource::ProxyAuthorization => b"proxy-authorization",
        }
    }
}

fn is_blank(c: &u8) -> bool {
    *c == b' ' || *c == b'\t'
}

/// Trims spaces and tabs (the optional whitespace around a field value) at both ends.
fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|c| !is_blank(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|c| !is_blank(c)).map_or(start, |i| i + 1);
    v.get(start..end).unwrap_or_default()
}

/// SipHash-1-3, keyed with `key`, of the canonical form of a credential header value; `None`
/// when the value is empty (blank), which is no credential.
///
/// The canonical form is the source's label (`authorization`, `api-key`,
/// `proxy-authorization`), a NUL byte, then the value without leading and trailing spaces or
/// tabs. For the two authorization headers the value is read as `scheme credentials`: the
/// scheme is lower-cased (schemes are case-insensitive, RFC 9110 section 11.1) and the blanks
/// after it become one space; the credentials are taken byte for byte (a token68 is
/// case-sensitive). A value with no blank is taken as it is.
///
/// The same credential therefore gives the same digest on every connection and in every
/// spelling of its scheme; a different key gives unrelated digests. A credential that changes
/// with every request (Digest, AWS Signature V4, short-lived tokens) gives a new digest each
/// time it changes. The digest of a guessable credential can be found by trying candidates
/// when the key is known: the key must be secret and per deployment.
pub fn credential_digest(key: &[u8; 16], source: CredentialSource, value: &[u8]) -> Option<u64> {
    let value = trim_ows(value);
    if value.is_empty() {
        return None;
    }
    let mut h = SipHasher13::new_with_key(key);
    h.write(source.label());
    h.write(&[0]);
    let split = match source {
        CredentialSource::Authorization | CredentialSource::ProxyAuthorization => value.iter().position(is_blank),
        CredentialSource::ApiKey => None,
    };
    match split {
        Some(at) => {
            let (scheme, rest) = value.split_at(at);
            for c in scheme {
                h.write(&[c.to_ascii_lowercase()]);
            }
            h.write(b" ");
            let start = rest.iter().position(|c| !is_blank(c)).unwrap_or(rest.len());
            h.write(rest.get(start..).unwrap_or_default());
        }
        None => h.write(value),
    }
    Some(h.finish())
}

/// What a request's header fields say about its credential.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Credential {
    /// Digest of the preferred credential.
    pub digest: Option<u64>,
    /// The first API-key header present, from [`API_KEY_HEADERS`].
    pub api_key_header: Option<&'static str>,
}

/// Finds the credential of a request: the first non-blank `Authorization`, else the first
/// non-blank API-key header, else the first non-blank `Proxy-Authorization`.
pub(crate) fn find(key: &[u8; 16], fields: &[Field<'_>]) -> Credential {
    let mut out = Credential::default();
    let mut authorization = None;
    let mut api_key = None;
    let mut proxy = None;
    for f in fields {
        let is = |n: &str| -> bool { f.name.eq_ignore_ascii_case(n.as_bytes()) };
        let slot = if is("authorization") {
            &mut authorization
        } else if is("proxy-authorization") {
            &mut proxy
        } else if let Some(&name) = API_KEY_HEADERS.iter().find(|&&n| is(n)) {
            out.api_key_header.get_or_insert(name);
            &mut api_key
        } else {
            continue;
        };
        if slot.is_none() && !trim_ows(f.value).is_empty() {
            *slot = Some(f.value);
        }
    }
    let chosen = authorization
        .map(|v| (CredentialSource::Authorization, v))
        .or(api_key.map(|v| (CredentialSource::ApiKey, v)))
        .or(proxy.map(|v| (CredentialSource::ProxyAuthorization, v)));
    out.digest = chosen.and_then(|(source, value)| credential_digest(key, source, value));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    fn sip(key: &[u8; 16], bytes: &[u8]) -> u64 {
        let mut h = SipHasher13::new_with_key(key);
        h.write(bytes);
        h.finish()
    }

    fn fields<'a>(list: &[(&'a str, &'a str)]) -> Vec<Field<'a>> {
        list.iter().map(|(n, v)| Field { name: n.as_bytes(), value: v.as_bytes() }).collect()
    }

    #[test]
    fn canonical_form_is_label_nul_lowercase_scheme_and_credentials() {
        let want = sip(&KEY, b"authorization\0bearer abc.DEF");
        for v in ["Bearer abc.DEF", "  bearer \t abc.DEF ", "BEARER abc.DEF"] {
            assert_eq!(credential_digest(&KEY, CredentialSource::Authorization, v.as_bytes()), Some(want), "{v}");
        }
        assert_ne!(credential_digest(&KEY, CredentialSource::Authorization, b"Bearer abc.def"), Some(want));
        assert_eq!(
            credential_digest(&KEY, CredentialSource::ApiKey, b" K3y Value "),
            Some(sip(&KEY, b"api-key\0K3y Value"))
        );
        assert_eq!(
            credential_digest(&KEY, CredentialSource::ProxyAuthorization, b"Basic dTpw"),
            Some(sip(&KEY, b"proxy-authorization\0basic dTpw"))
        );
        assert_eq!(
            credential_digest(&KEY, CredentialSource::Authorization, b"RawToken"),
            Some(sip(&KEY, b"authorization\0RawToken"))
        );
    }

    #[test]
    fn blank_values_are_no_credential() {
        assert_eq!(credential_digest(&KEY, CredentialSource::Authorization, b""), None);
        assert_eq!(credential_digest(&KEY, CredentialSource::ApiKey, b" \t "), None);
    }

    #[test]
    fn sources_and_keys_separate_digests() {
        let a = credential_digest(&KEY, CredentialSource::Authorization, b"tok");
        let k = credential_digest(&KEY, CredentialSource::ApiKey, b"tok");
        let p = credential_digest(&KEY, CredentialSource::ProxyAuthorization, b"tok");
        assert!(a != k && k != p && a != p);
        assert_ne!(a, credential_digest(&[1; 16], CredentialSource::Authorization, b"tok"));
    }

    #[test]
    fn authorization_wins_then_api_key_then_proxy() {
        let all = fields(&[
            ("Proxy-Authorization", "Basic cHJveHk="),
            ("X-Api-Key", "k1"),
            ("Authorization", "Bearer t1"),
        ]);
        let c = find(&KEY, &all);
        assert_eq!(c.digest, credential_digest(&KEY, CredentialSource::Authorization, b"Bearer t1"));
        assert_eq!(c.api_key_header, Some("x-api-key"));

        let c = find(&KEY, &all[..2]);
        assert_eq!(c.digest, credential_digest(&KEY, CredentialSource::ApiKey, b"k1"));

        let c = find(&KEY, &all[..1]);
        assert_eq!(c.digest, credential_digest(&KEY, CredentialSource::ProxyAuthorization, b"Basic cHJveHk="));
        assert_eq!(c.api_key_header, None);
    }

    #[test]
    fn first_api_key_header_in_order_and_blank_ones_skipped() {
        let f = fields(&[
            ("OCP-APIM-Subscription-Key", " "),
            ("ApiKey", "k2"),
            ("x-api-key", "k3"),
            ("Authorization", ""),
        ]);
        let c = find(&KEY, &f);
        assert_eq!(c.api_key_header, Some("ocp-apim-subscription-key"), "the first present, even blank");
        assert_eq!(c.digest, credential_digest(&KEY, CredentialSource::ApiKey, b"k2"), "the first with a value");
        assert_eq!(find(&KEY, &fields(&[("Host", "h")])), Credential::default());
    }

    #[test]
    fn every_listed_name_is_lower_case_and_recognised() {
        for name in API_KEY_HEADERS {
            assert_eq!(name.to_ascii_lowercase(), *name);
            let upper = name.to_ascii_uppercase();
            let c = find(&KEY, &fields(&[(upper.as_str(), "v")]));
            assert_eq!(c.api_key_header, Some(*name));
            assert!(c.digest.is_some());
        }
    }
}
