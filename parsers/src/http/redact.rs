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

/// Bytes after which a credential name is also looked for inside a parameter: raw blanks
/// (space, tab, line and form feeds), which some servers and log pipelines split on, and `+`,
/// a blank in form encoding. They do not end a credential's value (see [`Redactor::pair`]).
const WORD_SEPARATORS: &[u8] = b" \t\n\x0b\x0c\r+";

/// Replaces the values of credential-carrying parameters, and the userinfo of an authority,
/// with [`REDACTED`]. Parameters are looked for in the query, in the fragment
/// (`#access_token=`), in path (matrix) parameters (`/a;jsessionid=`), after a raw blank or `+`
/// inside another parameter, and inside values that hide a nested URL behind percent-encoding.
/// Userinfo is redacted in absolute URLs, scheme-relative `//user:pw@host` references and
/// authority-form targets (`CONNECT user:pw@host:443`). Names match
/// [`DEFAULT_REDACTED_PARAMS`] and `extra` after [normalisation](param_name_matches). Payment
/// card numbers (`card.rs`) and IBANs (`iban.rs`) anywhere in the output are masked too. Returns
/// the target in `form` and whether anything was replaced; when nothing was, the output is
/// exactly Zeek's decoding of the whole target (or the raw target).
pub(crate) fn redact_target(raw: &[u8], extra: &[String], form: Form) -> (Vec<u8>, bool) {
    let mut r = Redactor { extra, form, out: Vec::with_capacity(raw.len()), changed: false };
    r.target(raw, MAX_NESTING);
    let (out, changed) = if r.changed {
        (r.out, true)
    } else {
        let out = match form {
            Form::Decoded => unescape_uri(raw),
            Form::Raw => raw.to_vec(),
        };
        (out, false)
    };
    // Card numbers and IBANs go whatever parameter (or path segment) holds them, after
    // decoding, so percent-encoded characters are found too.
    let (out, changed) = match super::card::mask_card_numbers(&out) {
        Some(masked) => (masked, true),
        None => (out, changed),
    };
    match super::iban::mask_ibans(&out) {
        Some(masked) => (masked, true),
        None => (out, changed),
    }
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

/// Whether `s` starts like a URL with an authority: `scheme://` or a scheme-relative `//`.
fn is_url(s: &[u8]) -> bool {
    scheme_prefix(s).is_some() || s.starts_with(b"//")
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
        let mut rest = self.authority(raw, depth);
        if rest.len() < raw.len() && rest.starts_with(b"//") {
            // `https://a//user:pw@b/`: a path that starts with `//` is read as an authority by
            // URL parsers that resolve it again, so its userinfo is a credential too.
            rest = self.authority(rest, depth);
        }
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

    /// Writes the authority of `raw` with its userinfo redacted, and returns what follows it.
    /// An authority is found after `scheme://`, after the `//` of a scheme-relative reference,
    /// and at the start of a target that is neither of those nor a path (CONNECT's
    /// authority-form `user:pw@host:443`, and the same shape sent with any other method); when
    /// there is none, all of `raw` is returned.
    fn authority<'r>(&mut self, raw: &'r [u8], depth: u8) -> &'r [u8] {
        let absolute = scheme_prefix(raw);
        let start = match absolute {
            Some(start) => start,
            None if raw.starts_with(b"//") => 2,
            None if !raw.starts_with(b"/") => 0,
            None => return raw,
        };
        let after = raw.get(start..).unwrap_or_default();
        let len = after.iter().position(|c| matches!(c, b'/' | b'?' | b'#')).unwrap_or(after.len());
        let (authority, rest) = after.split_at(len);
        // The last `@` ends the userinfo: a password may contain an unencoded one.
        let Some(at) = authority.iter().rposition(|&c| c == b'@') else {
            if absolute.is_none() {
                // Without userinfo, a scheme-relative or authority-form target is parsed as a
                // path, so its segments keep their own parameter redaction.
                return raw;
            }
            self.plain(raw.get(..start).unwrap_or_default());
            self.path(authority, depth);
            return rest;
        };
        self.plain(raw.get(..start).unwrap_or_default());
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
        // Read as a path segment: parameters hidden in the host part are redacted too, and an
        // ordinary host comes out unchanged.
        self.path(authority.get(at + 1..).unwrap_or_default(), depth);
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

    /// One parameter: the text between two [`PARAM_SEPARATORS`].
    ///
    /// A credential's value is everything after the first raw `=` up to the next separator,
    /// replaced whole. A credential name may also start after a raw blank or `+` inside the
    /// piece (`x=1 password=S`, form-encoded `q=a+password=S`), where a server that reads blanks
    /// as separators would find it; its value then runs to the end of the piece as well, so a
    /// blank or `+` inside a secret cannot leave part of it behind.
    fn pair(&mut self, raw: &[u8], depth: u8) {
        let (name, value) = split_once(raw, b'=');
        let Some(value) = value else {
            self.text(raw, depth);
            return;
        };
        if self.is_credential(name) {
            self.credential(name, value, depth);
            return;
        }
        // One pass: each word's name is the text from a blank or `+` to the first `=` after
        // it, so the scan stays linear however many blanks the piece holds.
        let mut word_start = 0;
        let mut in_name = true;
        for (i, &c) in raw.iter().enumerate() {
            if WORD_SEPARATORS.contains(&c) {
                word_start = i + 1;
                in_name = true;
            } else if c == b'=' && in_name {
                in_name = false;
                let word_name = raw.get(word_start..i).unwrap_or_default();
                if word_start > 0 && self.is_credential(word_name) {
                    self.named(raw.get(..word_start).unwrap_or_default(), depth);
                    self.credential(word_name, raw.get(i + 1..).unwrap_or_default(), depth);
                    return;
                }
            }
        }
        self.named(raw, depth);
    }

    /// `name=value` where the name is a credential: the value is replaced whole.
    fn credential(&mut self, name: &[u8], value: &[u8], depth: u8) {
        self.text(name, depth);
        self.out.push(b'=');
        self.redacted(value);
    }

    /// A piece whose raw name is not a credential. A name that held one once decoded
    /// (`password%3D=S`, a nested `x%26token%3D`) takes its value with it: the whole raw value
    /// after the first raw `=` is replaced, not what follows a decoded `=`.
    fn named(&mut self, raw: &[u8], depth: u8) {
        let (name, value) = split_once(raw, b'=');
        let changed_before = std::mem::take(&mut self.changed);
        self.text(name, depth);
        let name_held_one = self.changed;
        self.changed |= changed_before;
        let Some(value) = value else { return };
        self.out.push(b'=');
        if name_held_one {
            self.redacted(value);
        } else {
            self.text(value, depth);
        }
    }

    /// Text that the raw structure says is not a credential. It may still hold one: a URL
    /// (absolute or scheme-relative) with userinfo, or a nested URL or query hidden by
    /// percent-encoding. Such text is redacted in turn, and written decoded (whatever the form)
    /// when it held one.
    fn text(&mut self, raw: &[u8], depth: u8) {
        let encoded = raw.contains(&b'%');
        if depth > 0 && (encoded || is_url(raw)) {
            let decoded = if encoded { unescape_uri(raw) } else { raw.to_vec() };
            let mut inner = Redactor { extra: self.extra, form: Form::Decoded, out: Vec::new(), changed: false };
            if is_url(&decoded) {
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
        if last_key.is_some_and(|k| !k.is_empty() && listed(k)) {
            return true;
        }
        // A name that decodes to more structure (`password%3D`, `x%3D1%26token`) is one to a
        // server that decodes twice: any of its parts may be the real name.
        let structural = |c: &u8| b"=&;?#".contains(c);
        name.iter().any(structural) && name.split(structural).any(listed)
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

/// A `Host` value without userinfo: the host part after the last `@`, and whether anything
/// was dropped. RFC 9110 allows no userinfo in `Host`; a client that copies a URL's
/// `user:password@` into it sends a credential, and the host alone is what identifies the
/// server. The value is otherwise returned as sent.
pub(crate) fn host_without_userinfo(value: &[u8]) -> (&[u8], bool) {
    match value.iter().rposition(|&c| c == b'@') {
        Some(at) => (value.get(at + 1..).unwrap_or_default(), true),
        None => (value, false),
    }
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
        for name in ["tokens", "zipcode", "token_type", "[]", "", "passwords", "user[name]", "se", "keys", "sigma"] {
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

    // Review finding: a credential after a raw blank, tab or `+` inside another parameter was
    // kept; its value must not be cut at a blank or `+` either.
    #[test]
    fn blanks_and_plus_start_a_parameter_name() {
        assert_eq!(uri("/a?x=1\tpassword=S"), "/a?x=1\tpassword=REDACTED");
        assert_eq!(uri("/a?x=1\x0bpassword=S&y=2"), "/a?x=1\x0bpassword=REDACTED&y=2");
        assert_eq!(uri("/a?q=a+b+token=S+T"), "/a?q=a+b+token=REDACTED");
        assert_eq!(uri("/a?a b token=S"), "/a?a b token=REDACTED");
        assert_eq!(uri("/a?password=S T+U&z"), "/a?password=REDACTED&z");
        assert_eq!(uri("/a;x=1 sid=S/b"), "/a;x=1 sid=REDACTED/b");
        // A name joined by a blank or `+` still matches whole, as before.
        assert_eq!(uri("/a?pass+word=S"), "/a?pass+word=REDACTED");
        // No listed name after a blank: unchanged.
        assert_eq!(redact_target(b"/a?q=a b+c=d&e f", &[], Form::Decoded), (b"/a?q=a b+c=d&e f".to_vec(), false));
    }

    // Review finding: `password%3D=S` became `password=REDACTED=S`.
    #[test]
    fn a_name_holding_a_credential_takes_its_value_with_it() {
        assert_eq!(uri("/p?password%3D=S&x=1"), "/p?password=REDACTED=REDACTED&x=1");
        assert_eq!(uri("/p?x%3D1%26token=S&y=1"), "/p?x=1&token=REDACTED&y=1");
        assert_eq!(raw("/p?x%3D1%26token=S&y=%20"), "/p?x%3D1%26token=REDACTED&y=%20");
        assert_eq!(redact_target(b"/p?a%3Db=1", &[], Form::Decoded), (b"/p?a=b=1".to_vec(), false));
    }

    // Review finding: CONNECT's authority-form and scheme-relative targets kept their userinfo.
    #[test]
    fn userinfo_of_scheme_relative_and_authority_form_targets() {
        assert_eq!(uri("//user:S@h/p?q=1"), "//user:REDACTED@h/p?q=1");
        assert_eq!(uri("//S@h"), "//REDACTED@h");
        assert_eq!(uri("user:S@h:443"), "user:REDACTED@h:443");
        assert_eq!(uri("https://a//u:S@b/"), "https://a//u:REDACTED@b/");
        assert_eq!(uri("/a?r=//u:S@h/"), "/a?r=//u:REDACTED@h/");
        assert_eq!(uri("http://u:S@h;token=T/"), "http://u:REDACTED@h;token=REDACTED/");
        // Without userinfo they read as before, path parameters included.
        for t in ["//h/p", "h:443", "*", "/a@b", "//h/a;x=1", "a?b=c@d", "https://a//b/c"] {
            assert_eq!(redact_target(t.as_bytes(), &[], Form::Decoded), (unescape_uri(t.as_bytes()), false), "{t}");
        }
        assert_eq!(uri("//h/a;token=S"), "//h/a;token=REDACTED");
    }

    #[test]
    fn host_userinfo_is_dropped() {
        assert_eq!(host_without_userinfo(b"u:p@h:80"), (&b"h:80"[..], true));
        assert_eq!(host_without_userinfo(b"u:p@ss@h"), (&b"h"[..], true));
        assert_eq!(host_without_userinfo(b"tok@"), (&b""[..], true));
        assert_eq!(host_without_userinfo(b"h.example"), (&b"h.example"[..], false));
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
