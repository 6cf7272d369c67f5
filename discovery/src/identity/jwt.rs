//! JWTs (RFC 7519) in their JWS compact form, decoded and never verified: identity reads who
//! a token says it is for, which is what the bank's gateway believed when it let the request
//! through. Encrypted tokens (JWE, five parts) cannot be read and count as opaque.

use serde_json::{Map, Value};

use super::text::base64_decode;

/// Why a bearer value that looked like a JWT could not be read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Not three dot-separated parts: not a JWS; an opaque token, not an anomaly.
    NotJws,
    /// Longer than the configured bound; not decoded.
    TooLong,
    /// Three parts, but the header or payload is not base64url of a JSON object.
    Undecodable,
}

/// The claims of a decoded JWT payload.
#[derive(Debug)]
pub(crate) struct Claims(Map<String, Value>);

impl Claims {
    /// The claim's value when it is a non-empty string; other types are not read.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// The first of `names` present as a non-empty string, with its value.
    pub fn first<'a>(&'a self, names: &'a [String]) -> Option<(&'a str, &'a str)> {
        names.iter().find_map(|n| self.string(n).map(|v| (n.as_str(), v)))
    }
}

/// Decodes a compact JWS of at most `max` bytes: header and payload must both be base64url
/// (padding tolerated) of JSON objects. The signature is not looked at.
pub(crate) fn decode(token: &[u8], max: usize) -> Result<Claims, JwtError> {
    let mut parts = token.split(|b| *b == b'.');
    let (Some(header), Some(payload), Some(_sig), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotJws);
    };
    if header.is_empty() || payload.is_empty() {
        return Err(JwtError::NotJws);
    }
    if token.len() > max {
        return Err(JwtError::TooLong);
    }
    let object = |part: &[u8]| -> Option<Map<String, Value>> {
        let json = base64_decode(part, false, max)?;
        // serde_json stops at 128 levels of nesting, so a deeply nested payload is an error,
        // not a stack overflow.
        serde_json::from_slice::<Map<String, Value>>(&json).ok()
    };
    let Some(header) = object(header) else {
        return Err(JwtError::Undecodable);
    };
    if !header.contains_key("alg") {
        return Err(JwtError::Undecodable);
    }
    object(payload).map(Claims).ok_or(JwtError::Undecodable)
}

/// Whether a value that failed to decode was meant to be a JWT: its header starts like the
/// base64url of `{"` (`eyJ`). Tokens that merely contain two dots are not counted as broken
/// JWTs.
pub(crate) fn looks_like_jwt(token: &[u8]) -> bool {
    token.starts_with(b"eyJ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// base64url without padding, written independently of the decoder under test.
    fn b64url(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in data.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            let syms = [n >> 18, n >> 12, n >> 6, n];
            for s in syms.iter().take(c.len() + 1) {
                out.push(char::from(A[(s & 63) as usize]));
            }
        }
        out
    }

    fn jwt(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64url(header.as_bytes()), b64url(payload.as_bytes()))
    }

    #[test]
    fn reads_string_claims_only() {
        let t = jwt(r#"{"alg":"PS256"}"#, r#"{"client_id":"tpp-1","sub":"","azp":7,"consent_id":"c-9"}"#);
        let c = decode(t.as_bytes(), 8192).unwrap();
        assert_eq!(c.string("client_id"), Some("tpp-1"));
        assert_eq!(c.string("sub"), None, "empty");
        assert_eq!(c.string("azp"), None, "not a string");
        let names = vec!["azp".to_owned(), "sub".to_owned(), "consent_id".to_owned()];
        assert_eq!(c.first(&names), Some(("consent_id", "c-9")));
    }

    #[test]
    fn padded_segments_are_tolerated() {
        let t = format!("{}=.{}==.x", b64url(br#"{"alg":"none"}"#), b64url(br#"{"sub":"ab"}"#));
        assert_eq!(decode(t.as_bytes(), 8192).unwrap().string("sub"), Some("ab"));
    }

    #[test]
    fn failures_are_classified() {
        assert_eq!(decode(b"opaque-token-value", 8192).unwrap_err(), JwtError::NotJws);
        assert_eq!(decode(b"a.b.c.d.e", 8192).unwrap_err(), JwtError::NotJws, "JWE");
        assert_eq!(decode(b".x.y", 8192).unwrap_err(), JwtError::NotJws);
        let t = jwt(r#"{"alg":"PS256"}"#, r#"{"sub":"x"}"#);
        assert_eq!(decode(t.as_bytes(), 10).unwrap_err(), JwtError::TooLong);
        let no_alg = jwt(r#"{"typ":"JWT"}"#, r#"{"sub":"x"}"#);
        assert_eq!(decode(no_alg.as_bytes(), 8192).unwrap_err(), JwtError::Undecodable);
        let array = jwt(r#"{"alg":"PS256"}"#, r#"["sub"]"#);
        assert_eq!(decode(array.as_bytes(), 8192).unwrap_err(), JwtError::Undecodable);
        assert_eq!(decode(b"eyJ!!.eyJ.x", 8192).unwrap_err(), JwtError::Undecodable);
        let deep = jwt(r#"{"alg":"PS256"}"#, &format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000)));
        assert_eq!(decode(deep.as_bytes(), 1 << 20).unwrap_err(), JwtError::Undecodable);
    }
}
