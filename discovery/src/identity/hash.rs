//! Keyed hashing of identifying values.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

/// What a hashed value is, so that equal bytes from two places give unrelated hashes (an API
/// key equal to a session cookie value is not the same consumer). Each has a fixed label that
/// starts the hashed input; the labels are part of the id format and never change.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Domain {
    /// A client certificate: organisation id and subject.
    ClientCert,
    /// An OAuth client id, however it was presented (JWT claim, Basic at a token endpoint,
    /// `client_id` field, `client_assertion` subject): one client, one id.
    OAuthClient,
    /// A bearer token that names no client.
    OpaqueToken,
    /// An API key value.
    ApiKey,
    /// A Basic-auth user outside token endpoints.
    BasicUser,
    /// A session cookie: name and value.
    Session,
    /// A client network prefix in its text form.
    Network,
    /// A customer claim value.
    Customer,
    /// A consent id.
    Consent,
    /// The user named in a login attempt, ASCII-lower-cased.
    LoginUser,
    /// A forwarded-certificate header value, as the key of the parsed-certificate cache (never
    /// output).
    CertHeader,
    /// A handshake certificate's DER, likewise.
    CertDer,
    /// Nothing: the hash of no input tells whether two keys are the same without showing
    /// either (a snapshot records the key it was made under).
    KeyCheck,
}

impl Domain {
    fn label(self) -> &'static [u8] {
        match self {
            Domain::ClientCert => b"client-cert",
            Domain::OAuthClient => b"oauth-client",
            Domain::OpaqueToken => b"opaque-token",
            Domain::ApiKey => b"api-key",
            Domain::BasicUser => b"basic-user",
            Domain::Session => b"session-cookie",
            Domain::Network => b"network",
            Domain::Customer => b"customer",
            Domain::Consent => b"consent",
            Domain::LoginUser => b"login-user",
            Domain::CertHeader => b"cert-header",
            Domain::CertDer => b"cert-der",
            Domain::KeyCheck => b"key-check",
        }
    }
}

/// SipHash-1-3 keyed with the deployment's 16-byte key over the domain's label, a NUL byte,
/// then each part as a 4-byte big-endian length and its bytes (the length prefix keeps
/// `("ab", "c")` apart from `("a", "bc")`).
pub(crate) fn keyed(key: &[u8; 16], domain: Domain, parts: &[&[u8]]) -> u64 {
    let mut h = SipHasher13::new_with_key(key);
    h.write(domain.label());
    h.write(&[0]);
    for part in parts {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        h.write(&len.to_be_bytes());
        h.write(part);
    }
    h.finish()
}

/// The first eight hex digits of an id, for labels that must tell consumers apart without
/// showing anything of the secret behind them.
pub(crate) fn short_hex(id: u64) -> String {
    format!("{:08x}", id >> 32)
}
