//! The credentials a request carries in its headers: `Authorization` (Bearer, DPoP, Basic),
//! API key headers, session cookies. Everything borrows from the header values.

use super::text::{base64_decode, trim};

/// What `Authorization` holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Auth<'a> {
    /// `Bearer` or `DPoP` (RFC 9449, the same access token bound to a key): the token.
    Bearer(&'a [u8]),
    /// `Basic`: the base64 credentials, still encoded.
    Basic(&'a [u8]),
    /// Another scheme (Digest, AWS4-HMAC-SHA256, ...), which names no consumer here.
    Other,
}

/// The first header called `name` (names are lower case) with a non-blank value.
pub(crate) fn header<'a>(headers: &[(&str, &'a [u8])], name: &str) -> Option<&'a [u8]> {
    headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| trim(v)).find(|v| !v.is_empty())
}

/// The request's `Authorization`, split into scheme and credentials.
pub(crate) fn authorization<'a>(headers: &[(&str, &'a [u8])]) -> Option<Auth<'a>> {
    let value = header(headers, "authorization")?;
    let split = value.iter().position(|b| *b == b' ' || *b == b'\t').unwrap_or(value.len());
    let scheme = value.get(..split).unwrap_or_default();
    let credentials = trim(value.get(split..).unwrap_or_default());
    if credentials.is_empty() {
        return Some(Auth::Other);
    }
    Some(if scheme.eq_ignore_ascii_case(b"bearer") || scheme.eq_ignore_ascii_case(b"dpop") {
        Auth::Bearer(credentials)
    } else if scheme.eq_ignore_ascii_case(b"basic") {
        Auth::Basic(credentials)
    } else {
        Auth::Other
    })
}

/// Longest Basic credentials decoded (user and password together).
pub(crate) const MAX_BASIC_BYTES: usize = 4096;

/// The user of Basic credentials (`base64(user:password)`): the bytes before the first colon.
/// The password is decoded with it (base64 has no way round that) and dropped at once. `None`
/// when the value is not base64, has no colon, or the user is empty.
pub(crate) fn basic_user(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut plain = base64_decode(encoded, false, MAX_BASIC_BYTES)?;
    let colon = plain.iter().position(|b| *b == b':')?;
    plain.truncate(colon);
    (!plain.is_empty()).then_some(plain)
}

/// The first API key header (in header order) among `names` with a non-blank value: its
/// configured name and the value.
pub(crate) fn api_key<'a, 'n>(headers: &[(&str, &'a [u8])], names: &'n [String]) -> Option<(&'n str, &'a [u8])> {
    headers.iter().find_map(|(n, v)| {
        let name = names.iter().find(|k| k.as_str() == *n)?;
        let v = trim(v);
        (!v.is_empty()).then_some((name.as_str(), v))
    })
}

/// The first of `names` (in that order of preference, compared case-sensitively) set to a
/// non-empty value in the request's `Cookie` headers: the name and the value.
pub(crate) fn session_cookie<'a, 'n>(headers: &[(&str, &'a [u8])], names: &'n [String]) -> Option<(&'n str, &'a [u8])> {
    names.iter().find_map(|want| {
        let value =
            headers.iter().filter(|(n, _)| *n == "cookie").flat_map(|(_, v)| v.split(|b| *b == b';')).find_map(
                |pair| {
                    let pair = trim(pair);
                    let eq = pair.iter().position(|b| *b == b'=')?;
                    let (name, value) = (trim(pair.get(..eq)?), trim(pair.get(eq + 1..)?));
                    (name == want.as_bytes() && !value.is_empty()).then_some(value)
                },
            )?;
        Some((want.as_str(), value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn authorization_schemes() {
        let h = |v: &'static str| vec![("authorization", v.as_bytes())];
        assert_eq!(authorization(&h("Bearer  abc ")), Some(Auth::Bearer(b"abc")));
        assert_eq!(authorization(&h("dpop abc")), Some(Auth::Bearer(b"abc")));
        assert_eq!(authorization(&h("BASIC dTpw")), Some(Auth::Basic(b"dTpw")));
        assert_eq!(authorization(&h("Digest username=\"a\"")), Some(Auth::Other));
        assert_eq!(authorization(&h("Bearer")), Some(Auth::Other));
        assert_eq!(authorization(&h("  ")), None);
        assert_eq!(authorization(&[]), None);
    }

    #[test]
    fn basic_user_is_before_the_first_colon() {
        assert_eq!(basic_user(b"YWxpY2U6cDpx"), Some(b"alice".to_vec()), "alice:p:q");
        assert_eq!(basic_user(b"OnB3"), None, "empty user");
        assert_eq!(basic_user(b"YWxpY2U="), None, "no colon");
        assert_eq!(basic_user(b"!!!"), None);
    }

    #[test]
    fn api_key_in_header_order_and_cookies_in_preference_order() {
        let names = owned(&["x-api-key", "apikey"]);
        let h: Vec<(&str, &[u8])> = vec![("apikey", b" "), ("x-api-key", b"k1"), ("apikey", b"k2")];
        assert_eq!(api_key(&h, &names), Some(("x-api-key", &b"k1"[..])));
        let cookies = owned(&["SESSION", "sid"]);
        let h: Vec<(&str, &[u8])> = vec![("cookie", b"sid=s1; theme=dark"), ("cookie", b"session=lower; SESSION=S2")];
        assert_eq!(session_cookie(&h, &cookies), Some(("SESSION", &b"S2"[..])));
        let h: Vec<(&str, &[u8])> = vec![("cookie", b"SESSION=; sid=s1")];
        assert_eq!(session_cookie(&h, &cookies), Some(("sid", &b"s1"[..])));
        let h: Vec<(&str, &[u8])> = vec![("cookie", b"garbage;;=x; sid")];
        assert_eq!(session_cookie(&h, &cookies), None);
    }
}
