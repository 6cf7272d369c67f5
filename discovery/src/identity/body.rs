//! The few fields identity reads from token-endpoint and login bodies: form-urlencoded or JSON
//! requests, JSON token responses (RFC 6749 section 5).

use serde_json::{Map, Value};

use super::text::percent_decode;

/// Longest field value read from a request body, but for `client_assertion` (bounded by
/// `max_jwt_bytes`).
const MAX_FIELD_BYTES: usize = 1024;
/// Longest field name compared; longer names are none of ours.
const MAX_NAME_BYTES: usize = 64;

/// The request body fields identity uses. Values are decoded; names not asked for are skipped
/// without being decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestFields {
    /// `grant_type`.
    pub grant_type: Option<Vec<u8>>,
    /// `client_id`.
    pub client_id: Option<Vec<u8>>,
    /// `client_assertion` (a JWT).
    pub client_assertion: Option<Vec<u8>>,
    /// `refresh_token`.
    pub refresh_token: Option<Vec<u8>>,
    /// The first of the configured user fields present, in their order of preference.
    pub user: Option<Vec<u8>>,
}

/// Whether the body is JSON: by its content type, or, without one, by its first byte.
fn is_json(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type {
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.contains("json") && !ct.contains("x-www-form-urlencoded")
        }
        None => body.trim_ascii_start().first() == Some(&b'{'),
    }
}

/// Reads a token or login request body. `user_fields` are the names that can hold the user,
/// in order of preference; `max_assertion` bounds `client_assertion`.
pub(crate) fn request_fields(
    content_type: Option<&str>,
    body: &[u8],
    user_fields: &[String],
    max_assertion: usize,
) -> RequestFields {
    let mut out = RequestFields::default();
    let mut user_rank = usize::MAX;
    let mut take = |name: &[u8], value: &dyn Fn(usize) -> Option<Vec<u8>>| {
        let slot = match name {
            b"grant_type" => &mut out.grant_type,
            b"client_id" => &mut out.client_id,
            b"refresh_token" => &mut out.refresh_token,
            b"client_assertion" => {
                if out.client_assertion.is_none() {
                    out.client_assertion = value(max_assertion);
                }
                return;
            }
            _ => {
                if let Some(rank) = user_fields.iter().position(|f| f.as_bytes() == name) {
                    if rank < user_rank {
                        if let Some(v) = value(MAX_FIELD_BYTES).filter(|v| !v.is_empty()) {
                            out.user = Some(v);
                            user_rank = rank;
                        }
                    }
                }
                return;
            }
        };
        if slot.is_none() {
            *slot = value(MAX_FIELD_BYTES).filter(|v| !v.is_empty());
        }
    };
    if is_json(content_type, body) {
        let Ok(map) = serde_json::from_slice::<Map<String, Value>>(body) else { return out };
        for (k, v) in &map {
            let Some(s) = v.as_str() else { continue };
            take(k.as_bytes(), &|max| (s.len() <= max).then(|| s.as_bytes().to_vec()));
        }
    } else {
        for pair in body.split(|b| *b == b'&') {
            let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(eq) => (pair.get(..eq).unwrap_or_default(), pair.get(eq + 1..).unwrap_or_default()),
                None => continue,
            };
            let Some(name) = percent_decode(raw_name, true, MAX_NAME_BYTES) else { continue };
            take(&name, &|max| percent_decode(raw_value, true, max));
        }
    }
    out
}

/// The fields of a JSON token response identity uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenResponse {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `expires_in` in seconds (a number, or a string of digits as some servers send).
    pub expires_in: Option<u64>,
    /// `id_token` (OpenID Connect), whose claims may name the customer.
    pub id_token: Option<String>,
    /// `error` (RFC 6749 section 5.2), e.g. `invalid_grant`.
    pub error: Option<String>,
}

/// Reads a JSON token response; `None` when the body is not a JSON object (a cut body is not
/// one).
pub(crate) fn token_response(body: &[u8]) -> Option<TokenResponse> {
    let map = serde_json::from_slice::<Map<String, Value>>(body).ok()?;
    let string = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let expires_in = map.get("expires_in").and_then(|v| match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    Some(TokenResponse {
        access_token: string("access_token"),
        refresh_token: string("refresh_token"),
        expires_in,
        id_token: string("id_token"),
        error: string("error"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<String> {
        ["username", "user", "email", "login"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn form_fields_are_decoded() {
        let body = b"grant_type=password&email=x%40y.z&username=J%C3%B6rg+S&password=secret&client_id=app%2B1&client_assertion=a.b.c";
        let f = request_fields(Some("application/x-www-form-urlencoded; charset=UTF-8"), body, &users(), 10);
        assert_eq!(f.grant_type.as_deref(), Some(&b"password"[..]));
        assert_eq!(f.user.as_deref(), Some("Jörg S".as_bytes()), "username is preferred to email");
        assert_eq!(f.client_id.as_deref(), Some(&b"app+1"[..]));
        assert_eq!(f.client_assertion.as_deref(), Some(&b"a.b.c"[..]));
        let f = request_fields(None, b"client_assertion=a.b.c", &users(), 4);
        assert_eq!(f.client_assertion, None, "over its bound");
        let f = request_fields(None, b"user=&login=bob&=x&&noequals", &users(), 4);
        assert_eq!(f.user.as_deref(), Some(&b"bob"[..]));
    }

    #[test]
    fn json_fields_strings_only() {
        let body = br#"{"email":"a@b.c","user":{"name":"x"},"grant_type":"password","refresh_token":"rt-1"}"#;
        let f = request_fields(Some("application/json"), body, &users(), 10);
        assert_eq!(f.user.as_deref(), Some(&b"a@b.c"[..]));
        assert_eq!(f.refresh_token.as_deref(), Some(&b"rt-1"[..]));
        let sniffed = request_fields(None, br#" {"username":"u1"}"#, &users(), 10);
        assert_eq!(sniffed.user.as_deref(), Some(&b"u1"[..]));
        assert_eq!(
            request_fields(Some("application/json"), br#"{"username":"u1""#, &users(), 10),
            RequestFields::default()
        );
    }

    #[test]
    fn token_responses() {
        let r =
            token_response(br#"{"access_token":"at","token_type":"Bearer","expires_in":"3600","refresh_token":"rt"}"#)
                .unwrap();
        assert_eq!(r.access_token.as_deref(), Some("at"));
        assert_eq!(r.refresh_token.as_deref(), Some("rt"));
        assert_eq!(r.expires_in, Some(3600));
        assert_eq!(token_response(br#"{"expires_in":299.5}"#).unwrap().expires_in, Some(299));
        assert_eq!(token_response(br#"{"expires_in":-5}"#).unwrap().expires_in, None);
        assert_eq!(token_response(br#"{"error":"invalid_grant"}"#).unwrap().error.as_deref(), Some("invalid_grant"));
        assert_eq!(token_response(br#"{"access_token":"at""#), None);
        assert_eq!(token_response(b"[]"), None);
    }
}
