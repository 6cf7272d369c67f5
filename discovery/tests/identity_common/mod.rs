//! Helpers shared by the `identity_*` test files: requests with owned parts, JWTs and base64
//! written here (independently of the code under test), the certificate fixtures.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::IpAddr;
use std::path::PathBuf;

use apitap_discovery::identity::{Identifier, Identity, IdentityConfig, RequestFacts};

pub const KEY: [u8; 16] = *b"apitap-test-key!";
pub const SEC: u64 = 1_000_000_000;

/// A request with everything owned, turned into [`RequestFacts`] for one call.
#[derive(Clone, Debug)]
pub struct Req {
    pub ts: u64,
    pub peer: IpAddr,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub request_content_type: Option<String>,
    pub request_body: Vec<u8>,
    pub response_content_type: Option<String>,
    pub response_body: Vec<u8>,
    pub tls_client_cert: Option<Vec<u8>>,
}

impl Req {
    /// `GET /accounts` from 198.51.100.7, answered 200.
    pub fn get() -> Req {
        Req {
            ts: 1_700_000_000 * SEC,
            peer: "198.51.100.7".parse().unwrap(),
            method: Some("GET".into()),
            path: Some("/accounts".into()),
            status: Some(200),
            headers: Vec::new(),
            request_content_type: None,
            request_body: Vec::new(),
            response_content_type: None,
            response_body: Vec::new(),
            tls_client_cert: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.headers.push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn peer(mut self, ip: &str) -> Req {
        self.peer = ip.parse().unwrap();
        self
    }

    pub fn at(mut self, ts: u64) -> Req {
        self.ts = ts;
        self
    }

    pub fn status(mut self, s: Option<u16>) -> Req {
        self.status = s;
        self
    }

    /// A POST of a form body to `path`.
    pub fn post_form(path: &str, body: &str) -> Req {
        let mut r = Req::get();
        r.method = Some("POST".into());
        r.path = Some(path.into());
        r.request_content_type = Some("application/x-www-form-urlencoded".into());
        r.request_body = body.as_bytes().to_vec();
        r
    }

    pub fn response_json(mut self, status: u16, body: &str) -> Req {
        self.status = Some(status);
        self.response_content_type = Some("application/json".into());
        self.response_body = body.as_bytes().to_vec();
        self
    }

    pub fn identify(&self, idr: &mut Identifier) -> Identity {
        let headers: Vec<(&str, &[u8])> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        let facts = RequestFacts {
            ts: self.ts,
            peer: self.peer,
            method: self.method.as_deref(),
            path: self.path.as_deref(),
            status: self.status,
            headers: &headers,
            request_content_type: self.request_content_type.as_deref(),
            request_body: &self.request_body,
            response_content_type: self.response_content_type.as_deref(),
            response_body: &self.response_body,
            tls_client_cert: self.tls_client_cert.as_deref(),
        };
        idr.identify(&facts)
    }
}

pub fn identifier() -> Identifier {
    Identifier::new(IdentityConfig::default(), KEY)
}

pub fn identifier_with(cfg: IdentityConfig) -> Identifier {
    cfg.validate().unwrap();
    Identifier::new(cfg, KEY)
}

fn base64_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(alphabet[((n >> shift) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64(data: &[u8]) -> String {
    base64_with(data, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
}

pub fn base64url(data: &[u8]) -> String {
    base64_with(data, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false)
}

/// A JWS with the given payload (JSON text), a PS256 header and a fake signature.
pub fn jwt(payload: &str) -> String {
    format!(
        "{}.{}.{}",
        base64url(br#"{"alg":"PS256","typ":"JWT"}"#),
        base64url(payload.as_bytes()),
        base64url(&[0xab; 64])
    )
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Percent-encodes everything but unreserved characters, as nginx's
/// `$ssl_client_escaped_cert` does.
pub fn escape_all(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/identity").join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// The DER inside a PEM fixture, decoded here with the test's own base64 reader.
pub fn pem_der(name: &str) -> Vec<u8> {
    let text = fixture_text(name);
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    decode_base64(&body)
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let syms: Vec<u32> = s.bytes().filter(|b| *b != b'=').map(val).collect();
    let mut out = Vec::new();
    for c in syms.chunks(4) {
        let n = c.iter().enumerate().fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..c.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The subject OpenSSL printed for a fixture (`-nameopt RFC2253,-esc_msb`), from its
/// `.subject` file.
pub fn openssl_subject(name: &str) -> String {
    fixture_text(&format!("{name}.subject")).trim_end().strip_prefix("subject=").unwrap().to_owned()
}
