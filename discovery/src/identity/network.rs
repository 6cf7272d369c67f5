//! Address prefixes, and the client address behind trusted proxies (`X-Forwarded-For`,
//! RFC 7239 `Forwarded`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An address prefix such as `10.0.0.0/8` or `2001:db8::/48`. Always canonical: the host bits
/// of `addr` are zero and `len` is at most the address width, so two equal prefixes compare
/// and hash equal. Serialised as its text form.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// Prefix length in bits: at most 32 for IPv4, 128 for IPv6.
    pub len: u8,
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it stands for, so a
/// dual-stack socket's view of an IPv4 client matches IPv4 prefixes.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn mask_v4(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let bits = u32::from(a);
    let mask = u32::MAX.checked_shl(32 - u32::from(len.min(32))).unwrap_or(0);
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(a);
    let mask = u128::MAX.checked_shl(128 - u32::from(len.min(128))).unwrap_or(0);
    Ipv6Addr::from(bits & mask)
}

impl Prefix {
    /// The prefix of `len` bits containing `addr` (host bits cleared); `None` when `len` is
    /// longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        match addr {
            IpAddr::V4(a) if len <= 32 => Some(Prefix { addr: IpAddr::V4(mask_v4(a, len)), len }),
            IpAddr::V6(a) if len <= 128 => Some(Prefix { addr: IpAddr::V6(mask_v6(a, len)), len }),
            _ => None,
        }
    }

    /// The network of a client address: `v4_len` bits of an IPv4 address (IPv4-mapped IPv6
    /// included), `v6_len` bits of an IPv6 one; lengths over the width are clamped.
    pub fn of(ip: IpAddr, v4_len: u8, v6_len: u8) -> Prefix {
        match canonical(ip) {
            IpAddr::V4(a) => Prefix { addr: IpAddr::V4(mask_v4(a, v4_len.min(32))), len: v4_len.min(32) },
            IpAddr::V6(a) => Prefix { addr: IpAddr::V6(mask_v6(a, v6_len.min(128))), len: v6_len.min(128) },
        }
    }

    /// Whether `ip` is inside the prefix. An IPv4-mapped IPv6 address is tested as IPv4; an
    /// IPv4 address is never inside an IPv6 prefix, nor the reverse.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => mask_v4(a, self.len) == net,
            (IpAddr::V6(net), IpAddr::V6(a)) => mask_v6(a, self.len) == net,
            _ => false,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Text that is not a prefix, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixError {
    /// The text.
    pub text: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid address prefix {:?}: {}", self.text, self.reason)
    }
}

impl std::error::Error for PrefixError {}

impl FromStr for Prefix {
    type Err = PrefixError;

    /// `addr/len`, or a bare address (a prefix of the full width). Host bits are cleared:
    /// `10.1.2.3/8` reads as `10.0.0.0/8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PrefixError { text: s.to_owned(), reason };
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| err("not an IPv4 or IPv6 address"))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => width,
            Some(l) => l.trim().parse::<u8>().map_err(|_| err("the length is not a number"))?,
        };
        Prefix::new(addr, len).ok_or_else(|| err("the length is longer than the address"))
    }
}

impl Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How the client address was found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The TCP peer, with no forwarding header to consider.
    Peer,
    /// The TCP peer; forwarding headers were present but the peer is not a trusted proxy.
    UntrustedIgnored,
    /// Taken from the forwarding headers through trusted proxies.
    Forwarded,
    /// The walk through the forwarding headers met an entry that is not an address
    /// (`unknown`, an obfuscated identifier, garbage) and stopped at the last trusted hop.
    ForwardedInvalid,
}

/// The client address: the TCP peer, unless the peer is a trusted proxy and the request carries
/// `Forwarded` (preferred, RFC 7239) or `X-Forwarded-For`. Then the forwarded addresses are
/// walked from the right (the hop nearest to us) and the first one that is not a trusted proxy
/// is the client; when all are trusted, the left-most is. Several header lines are one list in
/// header order. Works in place: nothing is allocated, whatever the number of hops.
pub(crate) fn client_address(peer: IpAddr, headers: &[(&str, &[u8])], trusted: &[Prefix]) -> (IpAddr, Resolution) {
    let peer = canonical(peer);
    let forwarded = headers.iter().any(|(n, _)| *n == "forwarded");
    let xff = headers.iter().any(|(n, _)| *n == "x-forwarded-for");
    if !forwarded && !xff {
        return (peer, Resolution::Peer);
    }
    let is_trusted = |ip: IpAddr| trusted.iter().any(|p| p.contains(ip));
    if !is_trusted(peer) {
        return (peer, Resolution::UntrustedIgnored);
    }
    let name = if forwarded { "forwarded" } else { "x-forwarded-for" };
    let mut client = peer;
    for (_, value) in headers.iter().rev().filter(|(n, _)| *n == name) {
        for element in value.rsplit(|b| *b == b',') {
            let hop = if forwarded { forwarded_for(element) } else { Some(element) };
            let Some(ip) = hop.and_then(parse_node) else {
                return (client, Resolution::ForwardedInvalid);
            };
            client = ip;
            if !is_trusted(ip) {
                return (client, Resolution::Forwarded);
            }
        }
    }
    (client, Resolution::Forwarded)
}

/// The `for=` parameter of one RFC 7239 forwarded-element (`for=a;proto=https;by=b`).
fn forwarded_for(element: &[u8]) -> Option<&[u8]> {
    element.split(|b| *b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|b| *b == b'=')?;
        let (name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
        name.trim_ascii().eq_ignore_ascii_case(b"for").then_some(value)
    })
}

/// One hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`,
/// optionally in double quotes. `unknown` and obfuscated identifiers (`_hidden`) are not
/// addresses.
fn parse_node(raw: &[u8]) -> Option<IpAddr> {
    let mut s = std::str::from_utf8(raw).ok()?.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        s = inner.trim();
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<Ipv6Addr>().ok().map(|a| canonical(IpAddr::V6(a)));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // `a.b.c.d:port`: one colon only (a bare IPv6 address has several).
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || port.parse::<u16>().is_err() {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_canonically_and_contain() {
        assert_eq!(p("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(p("198.51.100.7").to_string(), "198.51.100.7/32");
        assert_eq!(p("2001:db8:1:2::5/48").to_string(), "2001:db8:1::/48");
        assert_eq!(p("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert!(p("10.0.0.0/8").contains(ip("10.255.0.1")));
        assert!(!p("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(p("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        assert!(!p("::/0").contains(ip("10.0.0.1")));
        assert!(p("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(p("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        let e = "10.0.0.0/33".parse::<Prefix>().unwrap_err();
        assert_eq!(e.to_string(), "invalid address prefix \"10.0.0.0/33\": the length is longer than the address");
        assert!("10.0.0/8".parse::<Prefix>().is_err());
        assert!("10.0.0.0/x".parse::<Prefix>().is_err());
        assert_eq!(Prefix::of(ip("198.51.100.77"), 24, 48).to_string(), "198.51.100.0/24");
        assert_eq!(Prefix::of(ip("::ffff:198.51.100.77"), 24, 48).to_string(), "198.51.100.0/24");
        assert_eq!(Prefix::of(ip("2001:db8:aa:bb::1"), 24, 48).to_string(), "2001:db8:aa::/48");
        assert_eq!(Prefix::of(ip("1.2.3.4"), 40, 200).to_string(), "1.2.3.4/32");
    }

    #[test]
    fn hop_forms() {
        assert_eq!(parse_node(b" 192.0.2.60 "), Some(ip("192.0.2.60")));
        assert_eq!(parse_node(b"192.0.2.60:4711"), Some(ip("192.0.2.60")));
        assert_eq!(parse_node(b"\"[2001:db8:cafe::17]:4711\""), Some(ip("2001:db8:cafe::17")));
        assert_eq!(parse_node(b"[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node(b"2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node(b"unknown"), None);
        assert_eq!(parse_node(b"_hidden"), None);
        assert_eq!(parse_node(b"1.2.3.4:99999"), None);
        assert_eq!(parse_node(b"\xff"), None);
        assert_eq!(forwarded_for(b"proto=https; For=\"[2001:db8::9]\";by=10.0.0.1"), Some(&b"\"[2001:db8::9]\""[..]));
        assert_eq!(forwarded_for(b"by=10.0.0.1"), None);
    }
}
