//! Keeping credentials out of transactions: redaction of request targets and referrers, and
//! the authorization scheme reduced to a fixed vocabulary.
//!
//! Redaction works on the raw target, before any percent-decoding, so an encoded separator
//! (`%3F`, `%26`) can neither hide a parameter from it nor split a secret in two. Only the
//! names are decoded to be compared. Values are replaced whole; then the pieces are decoded
//! (or kept raw) for output.

use super::config::DEFAULT_REDACTED_PARAMS;
use super::text::{unescape_uri, REDACTED};

/// How the non-redacted parts of a target are written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// Percent-decoded the way Zeek logs `uri`.
    Decoded,
    /// As sent (the referrer, which Zeek logs undecoded).
    Raw,
}

/// How deep a value is decoded again to look for a credential inside an encoded nested URL
/// (`next=%2Fcb%3Fcode%3D...`); each level is an extra round of percent-encoding.
const MAX_NESTING: u8 = 4;

/// Separators between parameters in a query or fragment. `?` is one too: a second `?` (or an
/// unencoded one inside a value) starts what servers and browsers often read as a new query.
const PARAM_SEPARATORS: &[u8] = b"&;?";

/// Replaces the values of credential-carrying parameters, and the password of the userinfo of
/// an absolute URL, with [`REDACTED`]. Parameters are looked for in the query, in the fragment
/// (`#access_token=`), in path (matrix) parameters (`/a;jsessionid=`), and inside values that
/// hide a nested URL behind percent-encoding. Names match [`DEFAULT_REDACTED_PARAMS`] and
/// `extra` after [normalisation](param_name_matches). Returns the target in `form` and whether
/// anything was replaced; when nothing was, the output is exactly Zeek's decoding of the whole
/// target (or the raw target).
pub(crate) fn redact_target(raw: &[u8], extra: &[String], form: Form) -> (Vec<u8>, bool) {
    let mut r = Redactor { extra, form, out: Vec::with_capacity(raw.len()), changed: false };
    r.target(raw, MAX_NESTING);
    if r.changed {
        return (r.out, true);
    }
    let out = match form {
        Form::Decoded => unescape_uri(raw),
        Form::Raw => raw.to_vec(),
    };
    (out, false)
}

struct Redactor<'a> {
    extra: &'a [String],
    form: Form,
    out: Vec<u8>,
    changed: bool,
}

/// Splits at the first occurrence of `sep`: the part before, and the part after it (if any).
fn split_once(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&c| c == sep) {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

/// The length of `scheme://` when `s` starts with one (RFC 3986 scheme syntax).
fn scheme_prefix(s: &[u8]) -> Option<usize> {
    let colon = s.iter().position(|&c| c == b':')?;
    let scheme = s.get(..colon)?;
    let first_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic);
    let rest_ok = scheme.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    (first_ok && rest_ok && s.get(colon..colon + 3) == Some(b"://")).then_some(colon + 3)
}

impl Redactor<'_> {
    /// Writes text that holds no parameter structure of its own (scheme, host, a name).
    fn plain(&mut self, raw: &[u8]) {
        match self.form {
            Form::Decoded => self.out.extend_from_slice(&unescape_uri(raw)),
            Form::Raw => self.out.extend_from_slice(raw),
        }
    }

    fn redacted(&mut self, original: &[u8]) {
        self.out.extend_from_slice(REDACTED.as_bytes());
        // A value that already reads REDACTED (a log replayed through us) is not news.
        if original != REDACTED.as_bytes() {
            self.changed = true;
        }
    }

    /// A whole target: `[scheme://authority]path[?query][#fragment]`.
    fn target(&mut self, raw: &[u8], depth: u8) {
        let rest = self.authority(raw);
        let (before_fragment, fragment) = split_once(rest, b'#');
        let (path, query) = split_once(before_fragment, b'?');
        self.path(path, depth);
        if let Some(query) = query {
            self.out.push(b'?');
            self.params(query, depth);
        }
        if let Some(fragment) = fragment {
            self.out.push(b'#');
            self.params(fragment, depth);
        }
    }

    /// Writes `scheme://authority` of an absolute URL with its userinfo redacted; returns what
    /// follows the authority (all of `raw` when it is not absolute).
    fn authority<'r>(&mut self, raw: &'r [u8]) -> &'r [u8] {
        let Some(start) = scheme_prefix(raw) else { return raw };
        let after = raw.get(start..).unwrap_or_default();
        let len = after.iter().position(|c| matches!(c, b'/' | b'?' | b'#')).unwrap_or(after.len());
        let (authority, rest) = after.split_at(len);
        self.plain(raw.get(..start).unwrap_or_default());
        // The last `@` ends the userinfo: a password may contain an unencoded one.
        match authority.iter().rposition(|&c| c == b'@') {
            Some(at) => {
                let userinfo = authority.get(..at).unwrap_or_default();
                match split_once(userinfo, b':') {
                    (user, Some(password)) => {
                        self.plain(user);
                        self.out.push(b':');
                        self.redacted(password);
                    }
                    // A lone userinfo is as often a token as a user name.
                    (user, None) => self.redacted(user),
                }
                self.out.push(b'@');
                self.plain(authority.get(at + 1..).unwrap_or_default());
            }
            None => self.plain(authority),
        }
        rest
    }

    /// A path: segments separated by `/`, each with optional `;name=value` parameters.
    fn path(&mut self, raw: &[u8], depth: u8) {
        for (i, segment) in raw.split(|&c| c == b'/').enumerate() {
            if i > 0 {
                self.out.push(b'/');
            }
            let mut parts = segment.split(|&c| c == b';');
            if let Some(first) = parts.next() {
                self.text(first, depth);
            }
            for param in parts {
                self.out.push(b';');
                self.pair(param, depth);
            }
        }
    }

    /// Parameters separated by any of [`PARAM_SEPARATORS`].
    fn params(&mut self, raw: &[u8], depth: u8) {
        let mut rest = raw;
        loop {
            let sep = rest.iter().position(|c| PARAM_SEPARATORS.contains(c));
            let (piece, tail) = match sep {
                Some(i) => rest.split_at(i),
                None => (rest, &b""[..]),
            };
            self.pair(piece, depth);
            let Some((&sep, after)) = tail.split_first() else { break };
            self.out.push(sep);
            rest = after;
        }
    }

    /// One `name=value` parameter (or a piece without `=`).
    fn pair(&mut self, raw: &[u8], depth: u8) {
        match split_once(raw, b'=') {
            (name, Some(value)) => {
                if self.is_credential(name) {
                    self.plain(name);
                    self.out.push(b'=');
                    self.redacted(value);
                    return;
                }
                self.text(name, depth);
                self.out.push(b'=');
                self.text(value, depth);
            }
            (piece, None) => self.text(piece, depth),
        }
    }

    /// Text that the raw structure says is not a credential. It may still hold one: an
    /// absolute URL with userinfo, or a nested URL or query hidden by percent-encoding. Such
    /// text is redacted in turn, and written decoded (whatever the form) when it held one.
    fn text(&mut self, raw: &[u8], depth: u8) {
        let encoded = raw.contains(&b'%');
        if depth > 0 && (encoded || scheme_prefix(raw).is_some()) {
            let decoded = if encoded { unescape_uri(raw) } else { raw.to_vec() };
            let mut inner = Redactor { extra: self.extra, form: Form::Decoded, out: Vec::new(), changed: false };
            if scheme_prefix(&decoded).is_some() {
                inner.target(&decoded, depth - 1);
            } else if decoded.contains(&b'=') {
                let (before_fragment, fragment) = split_once(&decoded, b'#');
                inner.params(before_fragment, depth - 1);
                if let Some(fragment) = fragment {
                    inner.out.push(b'#');
                    inner.params(fragment, depth - 1);
                }
            } else {
                // Encoded more than once: another round of decoding may reveal the structure.
                inner.text(&decoded, depth - 1);
            }
            if inner.changed {
                self.out.extend_from_slice(&inner.out);
                self.changed = true;
                return;
            }
        }
        self.plain(raw);
    }

    fn is_credential(&self, raw_name: &[u8]) -> bool {
        let name = unescape_uri(raw_name);
        let listed = |wanted: &[u8]| {
            DEFAULT_REDACTED_PARAMS.iter().any(|p| param_name_matches(wanted, p.as_bytes()))
                || self.extra.iter().any(|p| param_name_matches(wanted, p.as_bytes()))
        };
        if listed(&name) {
            return true;
        }
        // `user[password]`: the innermost key of a bracketed (PHP/Rails-style) name.
        let last_key = name
            .iter()
            .rposition(|&c| c == b'[')
            .and_then(|open| name.get(open + 1..))
            .map(|inner| inner.split(|&c| c == b']').next().unwrap_or_default());
        last_key.is_some_and(|k| !k.is_empty() && listed(k))
    }
}

/// Bytes of a parameter name that carry its meaning: lower-cased, without control bytes, and
/// without the characters spellings of one name differ by (`-`, `_`, `.`, brackets, blanks,
/// and `+`, which is a blank in form encoding).
fn name_key(name: &[u8]) -> impl Iterator<Item = u8> + '_ {
    name.iter()
        .filter(|&&c| !(c.is_ascii_control() || b"-_.[] +".contains(&c)))
        .map(u8::to_ascii_lowercase)
}

/// Whether a decoded parameter name is `listed` once both are normalised: `api-key`,
/// `API_KEY`, `api.key`, `apikey`, `api_key[]`, ` api_key`, `api\0_key` all match `api_key`.
pub(crate) fn param_name_matches(name: &[u8], listed: &[u8]) -> bool {
    let mut key = name_key(name).peekable();
    key.peek().is_some() && key.eq(name_key(listed))
}

/// Authorization schemes that may be reported, in their registered spelling (IANA's HTTP
/// Authentication Scheme registry plus widespread vendor schemes).
const AUTH_SCHEMES: &[&str] = &[
    "Basic",
    "Bearer",
    "Digest",
    "Negotiate",
    "NTLM",
    "AWS4-HMAC-SHA256",
    "HOBA",
    "Mutual",
    "OAuth",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "vapid",
    "DPoP",
    "Token",
    "ApiKey",
    "MAC",
    "Hawk",
    "Kerberos",
    "GSSAPI",
    "Signature",
];

/// What is reported for an Authorization value whose scheme is not in the known list.
pub(crate) const OTHER_AUTH_SCHEME: &str = "other";

/// The scheme of an `Authorization` value: the known scheme name its first word is (compared
/// case-insensitively), in canonical spelling, or `None`. The first word must end at a blank or
/// at the end of the value, so `Bearer=abc` is not `Bearer`. Nothing of the value itself is
/// ever returned.
pub(crate) fn auth_scheme(value: &[u8]) -> Option<&'static str> {
    let value = value.trim_ascii_start();
    let word = value.split(|&c| c == b' ' || c == b'\t').next().unwrap_or_default();
    AUTH_SCHEMES.iter().copied().find(|s| s.as_bytes().eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(raw: &str) -> String {
        String::from_utf8(redact_target(raw.as_bytes(), &[], Form::Decoded).0).unwrap()
    }

    fn raw(raw: &str) -> String {
        String::from_utf8(redact_target(raw.as_bytes(), &[], Form::Raw).0).unwrap()
    }

    #[test]
    fn query_values_are_replaced_whole_and_other_names_kept() {
        let (u, changed) = redact_target(b"/cb?code=abc&state=xyz&ACCESS_TOKEN=t;x=1", &[], Form::Decoded);
        assert_eq!(String::from_utf8(u).unwrap(), "/cb?code=REDACTED&state=xyz&ACCESS_TOKEN=REDACTED;x=1");
        assert!(changed);
        let (u, changed) = redact_target(b"/p?zipcode=1&codes=2", &[], Form::Decoded);
        assert_eq!(u, b"/p?zipcode=1&codes=2");
        assert!(!changed);
        assert_eq!(uri("/?token="), "/?token=REDACTED");
    }

    // Review finding: redaction ran after decoding, so %3F and %26 moved the separators.
    #[test]
    fn encoded_separators_cannot_move_parameter_boundaries() {
        assert_eq!(uri("/a%3Fb?token=SECRET10"), "/a?b?token=REDACTED");
        assert_eq!(uri("/a?token=SEC%26RET11"), "/a?token=REDACTED");
        assert_eq!(uri("/a?token=SEC%3BRET&x=%26"), "/a?token=REDACTED&x=&");
        assert_eq!(uri("/a?token=SEC%23RET#f"), "/a?token=REDACTED#f");
    }

    #[test]
    fn fragment_matrix_and_userinfo_credentials() {
        assert_eq!(uri("/a?x=1#access_token=S"), "/a?x=1#access_token=REDACTED");
        assert_eq!(uri("/a#access_token=S&token_type=bearer"), "/a#access_token=REDACTED&token_type=bearer");
        assert_eq!(uri("/a;token=S"), "/a;token=REDACTED");
        assert_eq!(uri("/a;jsessionid=S/b;v=1"), "/a;jsessionid=REDACTED/b;v=1");
        assert_eq!(uri("http://user:S@host/"), "http://user:REDACTED@host/");
        assert_eq!(uri("http://u:p@ss@host/x?y"), "http://u:REDACTED@host/x?y");
        assert_eq!(uri("https://tok@host"), "https://REDACTED@host");
        // An `@` after the authority is not userinfo.
        assert_eq!(uri("http://host/a@b"), "http://host/a@b");
        assert_eq!(uri("/mail/a@b.example"), "/mail/a@b.example");
    }

    #[test]
    fn name_variants_match() {
        for name in [
            "+token", "token%20", "%20token", "password[]", "api-key", "API.KEY", "apikey", "to%00ken",
            "access_token%00", "%u0074oken", "%61ccess_token", "Api_Key", "user[password]", "x[y][token]",
        ] {
            let target = format!("/a?{name}=V");
            assert!(uri(&target).ends_with("=REDACTED"), "{name}: {}", uri(&target));
        }
        for name in ["tokens", "zipcode", "token_type", "[]", "", "passwords", "user[name]", "signature"] {
            let target = format!("/a?{name}=V");
            assert!(uri(&target).ends_with("=V"), "{name} redacted: {}", uri(&target));
        }
    }

    #[test]
    fn every_occurrence_is_redacted() {
        assert_eq!(
            uri("/a?token=1&token=2&TOKEN=3&x=1&&token==4"),
            "/a?token=REDACTED&token=REDACTED&TOKEN=REDACTED&x=1&&token=REDACTED"
        );
    }

    #[test]
    fn nested_encoded_urls_are_searched() {
        assert_eq!(uri("/a?x=%3Ftoken%3DS"), "/a?x=?token=REDACTED");
        assert_eq!(uri("/a?next=%2Fcb%3Fcode%3DS%26s%3D1"), "/a?next=/cb?code=REDACTED&s=1");
        assert_eq!(uri("/a?r=http%3A%2F%2Fu%3Apw%40h%2F"), "/a?r=http://u:REDACTED@h/");
        // Encoded twice.
        assert_eq!(uri("/a?x=%253Ftoken%253DS"), "/a?x=?token=REDACTED");
        // Nothing inside: Zeek's decoding, untouched.
        assert_eq!(uri("/a?x=%3Fq%3D1"), "/a?x=?q=1");
    }

    #[test]
    fn raw_form_keeps_encoding_unless_a_nested_credential_is_found() {
        assert_eq!(raw("https://x/?a=%20&code=S"), "https://x/?a=%20&code=REDACTED");
        assert_eq!(raw("https://x/?next=%2Fcb%3Fcode%3DS&a=%20"), "https://x/?next=/cb?code=REDACTED&a=%20");
        assert_eq!(raw("https://x/?next=%2Fcb%3Fq%3D1"), "https://x/?next=%2Fcb%3Fq%3D1");
    }

    #[test]
    fn unchanged_targets_decode_exactly_as_zeek() {
        for t in ["/a%%41", "/a%", "/x?y=%zz&z=%u0041", "/p;a=b?c=d#e", "/%3Fx%26y"] {
            assert_eq!(redact_target(t.as_bytes(), &[], Form::Decoded), (unescape_uri(t.as_bytes()), false), "{t}");
        }
    }

    #[test]
    fn configured_names_are_normalised_too() {
        let extra = vec!["Session-Key".to_owned()];
        let (u, _) = redact_target(b"/code=1/x?session_key=s&a", &extra, Form::Decoded);
        assert_eq!(u, b"/code=1/x?session_key=REDACTED&a");
    }

    #[test]
    fn already_redacted_values_are_not_news() {
        assert!(!redact_target(b"/a?token=REDACTED", &[], Form::Decoded).1);
    }

    #[test]
    fn auth_schemes_are_a_fixed_vocabulary() {
        assert_eq!(auth_scheme(b"Bearer abc"), Some("Bearer"));
        assert_eq!(auth_scheme(b"  nEgOtIaTe YII="), Some("Negotiate"));
        assert_eq!(auth_scheme(b"aws4-hmac-sha256 Credential=x"), Some("AWS4-HMAC-SHA256"));
        assert_eq!(auth_scheme(b"VAPID t=1"), Some("vapid"));
        assert_eq!(auth_scheme(b"Basic"), Some("Basic"));
        assert_eq!(auth_scheme(b"SECRET15abcdef0123456789"), None);
        assert_eq!(auth_scheme(b"Bearer=abc"), None);
        assert_eq!(auth_scheme(b"Bearer,abc"), None);
        assert_eq!(auth_scheme(b""), None);
    }
}
