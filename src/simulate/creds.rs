//! Credentials as a bank's API gateway sees them: OAuth access tokens (JWT and opaque), API
//! keys, HTTP Basic, FAPI interaction ids. All fake and deterministic from the [`Rng`]: the
//! JWT signatures are random bytes that verify against no key (a passive sensor never
//! verifies, it only recognises the shape and reads the claims). TPP client certificates for the
//! RFC 9440 `Client-Cert` header are real X.509 DER with random signatures ([`client_cert_der`]).

use serde_json::json;

use super::rng::Rng;

mod cert;
mod der;

pub use cert::{client_cert_der, client_cert_header};

/// `iss` of every token: the bank's authorisation server.
pub const ISSUER: &str = "https://auth.bank.example";
/// `aud` of every token: the resource server.
pub const AUDIENCE: &str = "https://api.bank.example";
/// `kid` of the bank's (fictitious) signing key; one key signs every token, as in practice.
pub const KEY_ID: &str = "bank-signing-2024-01";
/// Bytes of a PS256 signature with a 2048-bit RSA key.
const SIGNATURE_BYTES: usize = 256;

/// A signed-looking access token: `base64url(header).base64url(payload).base64url(signature)`
/// without padding. Header `{"alg":"PS256","kid":KEY_ID,"typ":"JWT"}`; payload `iss`, `aud`,
/// `client_id`, `azp` (= client id), `sub` (when given), `scope`, `iat`, `exp` and a random
/// `jti`. The signature is 256 random bytes.
pub fn jwt(client_id: &str, subject: Option<&str>, scope: &str, iat: i64, exp: i64, rng: &mut Rng) -> String {
    jwt_with(client_id, subject, scope, iat, exp, &[], rng)
}

/// [`jwt`] with `extra` string claims after the others (such as `openbanking_intent_id`, the
/// consent an Open Banking UK token was granted under). Draws from `rng` exactly as [`jwt`].
pub fn jwt_with(client_id: &str, subject: Option<&str>, scope: &str, iat: i64, exp: i64, extra: &[(&str, &str)], rng: &mut Rng) -> String {
    let header = json!({ "alg": "PS256", "kid": KEY_ID, "typ": "JWT" });
    let mut payload = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "client_id": client_id,
        "azp": client_id,
        "scope": scope,
        "iat": iat,
        "exp": exp,
        "jti": rng.uuid(),
    });
    if let Some(map) = payload.as_object_mut() {
        if let Some(sub) = subject {
            map.insert("sub".into(), sub.into());
        }
        for (name, value) in extra {
            map.insert((*name).into(), (*value).into());
        }
    }
    let signature = rng.bytes(SIGNATURE_BYTES);
    format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(payload.to_string().as_bytes()),
        base64url(&signature)
    )
}

/// An opaque (reference) access token: 40 letters and digits, never containing a dot, so it
/// cannot be mistaken for a JWT.
pub fn opaque_token(rng: &mut Rng) -> String {
    rng.alnum(40)
}

/// An API key: 32 lower-case hex characters.
pub fn api_key(rng: &mut Rng) -> String {
    rng.hex(32)
}

/// An `Authorization` value for HTTP Basic: `Basic base64(user:password)` (standard alphabet,
/// padded).
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes(), STANDARD, true))
}

/// An `x-fapi-interaction-id`: a random UUID.
pub fn fapi_interaction_id(rng: &mut Rng) -> String {
    rng.uuid()
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 section 5), as JWTs use.
pub fn base64url(data: &[u8]) -> String {
    base64(data, URL_SAFE, false)
}

/// Base64 with the standard alphabet and padding (RFC 4648 section 4).
pub fn base64_standard(data: &[u8]) -> String {
    base64(data, STANDARD, true)
}

fn base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let sym = |v: u32| char::from(alphabet.get((v & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        if chunk.len() > 1 {
            out.push(sym(n >> 6));
        } else if pad {
            out.push('=');
        }
        if chunk.len() > 2 {
            out.push(sym(n));
        } else if pad {
            out.push('=');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    /// An independent decoder for the tests (any alphabet, padding optional).
    fn decode64(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("bad base64 char {c}"),
        };
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes().filter(|c| *c != b'=') {
            bits = (bits << 6) | u32::from(val(c));
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in vectors {
            assert_eq!(base64_standard(plain.as_bytes()), encoded);
            assert_eq!(base64url(plain.as_bytes()), encoded.trim_end_matches('='));
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64_standard(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn basic_is_the_rfc7617_form() {
        // The example of RFC 7617 section 2.
        assert_eq!(basic("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn jwt_has_three_parts_and_the_promised_claims() {
        let mut rng = Rng::new(8);
        let token = jwt("tpp-123", Some("psu-9"), "accounts openid", 1_700_000_000, 1_700_000_300, &mut rng);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'), "{token}");
        let header: serde_json::Value = serde_json::from_slice(&decode64(parts[0])).unwrap();
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["kid"], KEY_ID);
        let claims: serde_json::Value = serde_json::from_slice(&decode64(parts[1])).unwrap();
        assert_eq!(claims["client_id"], "tpp-123");
        assert_eq!(claims["azp"], "tpp-123");
        assert_eq!(claims["sub"], "psu-9");
        assert_eq!(claims["scope"], "accounts openid");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_300);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
        assert_eq!(decode64(parts[2]).len(), 256);

        let anonymous = jwt("tpp-123", None, "accounts", 1, 2, &mut rng);
        let parts: Vec<&str> = anonymous.split('.').collect();
        let claims: serde_json::Value = serde_json::from_slice(&decode64(parts[1])).unwrap();
        assert!(claims.get("sub").is_none());
        assert_ne!(token, anonymous);

        let consented = jwt_with("tpp-1", Some("psu-tpp-1-4"), "accounts", 1, 2, &[("openbanking_intent_id", "urn:x:1")], &mut rng);
        let parts: Vec<&str> = consented.split('.').collect();
        let claims: serde_json::Value = serde_json::from_slice(&decode64(parts[1])).unwrap();
        assert_eq!(claims["sub"], "psu-tpp-1-4");
        assert_eq!(claims["openbanking_intent_id"], "urn:x:1");
        assert_eq!(claims["client_id"], "tpp-1");
    }

    #[test]
    fn same_seed_same_credentials() {
        let make = |seed| {
            let mut rng = Rng::new(seed);
            (jwt("c", Some("s"), "x", 1, 2, &mut rng), opaque_token(&mut rng), api_key(&mut rng), fapi_interaction_id(&mut rng))
        };
        assert_eq!(make(4), make(4));
        assert_ne!(make(4), make(5));
    }

    #[test]
    fn opaque_tokens_and_keys_have_their_shapes() {
        let mut rng = Rng::new(9);
        let t = opaque_token(&mut rng);
        assert!(t.len() >= 32 && !t.contains('.') && t.bytes().all(|b| b.is_ascii_alphanumeric()));
        let k = api_key(&mut rng);
        assert!(k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(fapi_interaction_id(&mut rng).len(), 36);
    }
}
