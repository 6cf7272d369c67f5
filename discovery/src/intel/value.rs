//! Indicator values: parsing and normalisation, the same for every feed format, and the
//! request side's normalisation (into a caller's buffer, so a miss allocates nothing).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::IndicatorKind;

/// An IPv4 or IPv6 network: its address with the host bits cleared, and its prefix length
/// (32 or 128 for one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The first address.
    pub addr: IpAddr,
    /// Prefix length: 0-32 for IPv4, 0-128 for IPv6.
    pub len: u8,
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// What an indicator matches, normalised (docs/intel.md, "How each kind matches").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndicatorValue {
    /// An address or network.
    Network(IpNet),
    /// A domain, lower case, no trailing dot.
    Domain(String),
    /// A URL in its canonical form (docs/intel.md, "Values").
    Url(String),
    /// A user agent, exactly as given.
    UserAgent(String),
    /// A JA4 fingerprint, lower case.
    Ja4(String),
}

impl IndicatorValue {
    /// Its kind.
    pub fn kind(&self) -> IndicatorKind {
        match self {
            IndicatorValue::Network(_) => IndicatorKind::Network,
            IndicatorValue::Domain(_) => IndicatorKind::Domain,
            IndicatorValue::Url(_) => IndicatorKind::Url,
            IndicatorValue::UserAgent(_) => IndicatorKind::UserAgent,
            IndicatorValue::Ja4(_) => IndicatorKind::Ja4,
        }
    }
}

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    TooLong(usize),
    Invalid(String),
}

impl ValueError {
    pub fn message(&self, kind: IndicatorKind, raw: &str) -> String {
        match self {
            ValueError::TooLong(max) => format!(
                "{} value of {} bytes is longer than the limit of {max} bytes",
                kind.as_str(),
                raw.len()
            ),
            ValueError::Invalid(why) => {
                format!(
                    "invalid {} value {}: {why}",
                    kind.as_str(),
                    super::quote_cut(raw)
                )
            }
        }
    }
}

fn invalid<T>(why: &str) -> Result<T, ValueError> {
    Err(ValueError::Invalid(why.to_string()))
}

/// Parses a value of `kind` as feeds give it; `max` bytes after normalisation.
pub(crate) fn parse_value(
    kind: IndicatorKind,
    raw: &str,
    max: usize,
) -> Result<IndicatorValue, ValueError> {
    if raw.len() > max.saturating_mul(4) {
        // Far past the limit: do not even normalise it.
        return Err(ValueError::TooLong(max));
    }
    let v = match kind {
        IndicatorKind::Network => IndicatorValue::Network(parse_net(raw.trim(), None)?),
        IndicatorKind::Domain => IndicatorValue::Domain(parse_domain(raw.trim())?),
        IndicatorKind::Url => IndicatorValue::Url(canonical_url(raw.trim())?),
        IndicatorKind::UserAgent => {
            if raw.is_empty() {
                return invalid("empty");
            }
            if raw.chars().any(char::is_control) {
                return invalid("control characters cannot be in a header value");
            }
            IndicatorValue::UserAgent(raw.to_string())
        }
        IndicatorKind::Ja4 => IndicatorValue::Ja4(parse_ja4(raw.trim())?),
    };
    let len = match &v {
        IndicatorValue::Network(_) => 0,
        IndicatorValue::Domain(s)
        | IndicatorValue::Url(s)
        | IndicatorValue::UserAgent(s)
        | IndicatorValue::Ja4(s) => s.len(),
    };
    if len > max {
        return Err(ValueError::TooLong(max));
    }
    Ok(v)
}

/// An address or CIDR; `family` 4 or 6 when the feed said which.
pub(crate) fn parse_net(s: &str, family: Option<u8>) -> Result<IpNet, ValueError> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = match addr.parse() {
        Ok(a) => a,
        Err(_) => return invalid("not an IPv4 or IPv6 address"),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match (family, addr) {
        (Some(6), IpAddr::V4(_)) => return invalid("an IPv4 address where IPv6 is expected"),
        (Some(4), IpAddr::V6(_)) => return invalid("an IPv6 address where IPv4 is expected"),
        _ => {}
    }
    let len = match len {
        None => max,
        Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
            match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(ValueError::Invalid(format!("prefix length above {max}"))),
            }
        }
        Some(_) => return invalid("the prefix length is not a number"),
    };
    Ok(IpNet {
        addr: mask(addr, len),
        len,
    })
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// A domain: ASCII letters, digits, `-` and `_`, labels of 1-63 bytes, at most 253 bytes;
/// lower-cased, one trailing dot dropped. Internationalised names must come as punycode.
pub(crate) fn parse_domain(s: &str) -> Result<String, ValueError> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return invalid("empty");
    }
    if s.len() > 253 {
        return invalid("longer than 253 bytes");
    }
    if s.parse::<IpAddr>().is_ok() {
        return invalid("an address, not a domain");
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return invalid("a label is empty or longer than 63 bytes");
        }
        if let Some(b) = label
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'))
        {
            return Err(ValueError::Invalid(if b == b'*' {
                "wildcards are not supported (a domain indicator covers its subdomains already)"
                    .to_string()
            } else if b >= 0x80 {
                "not ASCII (give internationalised names in punycode)".to_string()
            } else {
                format!("{:?} cannot be in a domain", char::from(b))
            }));
        }
    }
    Ok(s.to_ascii_lowercase())
}

/// A JA4 fingerprint: `a_b_c`, `a` 10 ASCII letters or digits, `b` and `c` 12 hex digits each;
/// lower-cased.
pub(crate) fn parse_ja4(s: &str) -> Result<String, ValueError> {
    let mut parts = s.split('_');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return invalid("not three parts joined by '_' (JA4's a_b_c form)");
    };
    let hex12 = |p: &str| p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit());
    if a.len() != 10 || !a.bytes().all(|b| b.is_ascii_alphanumeric()) || !hex12(b) || !hex12(c) {
        return invalid("JA4 is 10 letters or digits, then two parts of 12 hex digits");
    }
    Ok(s.to_ascii_lowercase())
}

/// The parts of an absolute URL as compared: scheme, host, port (when not the scheme's
/// default), and the path with its query (no fragment).
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: Option<&'a str>,
    pub rest: &'a str,
}

/// Splits `scheme://[userinfo@]host[:port][/path][?query][#fragment]`; `None` when it is not
/// of that form.
pub(crate) fn url_parts(s: &str) -> Option<UrlParts<'_>> {
    let (scheme, after) = s.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_port(authority)?;
    if host.is_empty() {
        return None;
    }
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    // Compared in place: the request side must not allocate.
    let default = if scheme.eq_ignore_ascii_case("http") {
        Some("80")
    } else if scheme.eq_ignore_ascii_case("https") {
        Some("443")
    } else {
        None
    };
    let port = port.filter(|p| Some(*p) != default);
    Some(UrlParts {
        scheme,
        host,
        port,
        rest,
    })
}

/// `host[:port]` or `[v6][:port]`; the port digits only.
pub(crate) fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (inner, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    match port {
        Some(p) if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        _ => Some((host, port)),
    }
}

/// The canonical URL: scheme and host lower case, the default port (80, 443) left out, `/`
/// for an empty path, the path and query as given, the fragment dropped.
pub(crate) fn canonical_url(s: &str) -> Result<String, ValueError> {
    let Some(p) = url_parts(s) else {
        return invalid("not an absolute URL (scheme://host/path)");
    };
    if s.chars().any(|c| c.is_control() || c == ' ') {
        return invalid("spaces and control characters cannot be in a URL");
    }
    let mut out = String::with_capacity(s.len());
    write_url(&p, |piece, lower| {
        if lower {
            out.extend(piece.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(piece);
        }
    });
    Ok(out)
}

/// Writes the canonical form of `p` through `put(piece, lower)`: `lower` says the piece is
/// compared lower-cased.
pub(crate) fn write_url<'a>(p: &UrlParts<'a>, mut put: impl FnMut(&'a str, bool)) {
    put(p.scheme, true);
    put("://", false);
    let v6 = p.host.contains(':');
    if v6 {
        put("[", false);
    }
    put(p.host, true);
    if v6 {
        put("]", false);
    }
    if let Some(port) = p.port {
        put(":", false);
        put(port, false);
    }
    if !p.rest.starts_with('/') {
        put("/", false);
    }
    put(p.rest, false);
}

/// A fixed buffer for the request side's normalisation: a value that does not fit cannot
/// equal an indicator (they are no longer than [`super::MAX_VALUE_BYTES`]).
pub(crate) struct Buf {
    bytes: [u8; super::MAX_VALUE_BYTES],
    len: usize,
    overflow: bool,
}

impl Buf {
    pub fn new() -> Self {
        Buf {
            bytes: [0; super::MAX_VALUE_BYTES],
            len: 0,
            overflow: false,
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    pub fn push(&mut self, s: &str, lower: bool) {
        let end = self.len + s.len();
        match self.bytes.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                if lower {
                    dst.make_ascii_lowercase();
                }
                self.len = end;
            }
            None => self.overflow = true,
        }
    }

    /// The text, `None` when it overflowed.
    pub fn as_str(&self) -> Option<&str> {
        if self.overflow {
            return None;
        }
        std::str::from_utf8(self.bytes.get(..self.len)?).ok()
    }
}
