//! Bodies of the extensions a hello is described by. A body that does not follow its
//! structure (including bytes left over) is flagged and its values are not reported: a
//! half-read list would describe a client that does not exist.

use std::net::Ipv4Addr;

use super::hello::{Anomalies, ClientHello, HelloAnomaly, ServerHello};
use super::reader::{u16_list, Reader};
use super::{escape, ext_type};

/// Longest server name RFC 6066 and DNS allow (a trailing dot aside).
const MAX_HOSTNAME: usize = 255;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// Which extension types have been handed on already, so that a repeated one does not
/// overwrite or extend the values of the first (RFC 8446 forbids repeats; the first counts,
/// as for most implementations).
#[derive(Default)]
pub(crate) struct KnownSeen {
    /// Extension types seen so far, kept only up to the handful this module reads.
    seen: Vec<u16>,
}

impl KnownSeen {
    /// Types that are read; others are only listed, so they need no tracking.
    const READ: [u16; 10] = [
        ext_type::SERVER_NAME,
        ext_type::SUPPORTED_GROUPS,
        ext_type::EC_POINT_FORMATS,
        ext_type::SIGNATURE_ALGORITHMS,
        ext_type::ALPN,
        ext_type::PRE_SHARED_KEY,
        ext_type::SUPPORTED_VERSIONS,
        ext_type::PSK_KEY_EXCHANGE_MODES,
        ext_type::KEY_SHARE,
        ext_type::ENCRYPTED_CLIENT_HELLO,
    ];

    /// True the first time a read type is seen, and always for types that are not read.
    pub(crate) fn first_time(&mut self, ext: u16) -> bool {
        if !Self::READ.contains(&ext) {
            return true;
        }
        if self.seen.contains(&ext) {
            return false;
        }
        self.seen.push(ext);
        true
    }
}

/// Runs `parse` over a whole extension body; the body must be consumed exactly.
fn whole<'a, T>(body: &'a [u8], parse: impl FnOnce(&mut Reader<'a>) -> Option<T>) -> Option<T> {
    let mut r = Reader::new(body);
    let out = parse(&mut r)?;
    r.is_empty().then_some(out)
}

fn u16_vec16(body: &[u8]) -> Option<Vec<u16>> {
    whole(body, |r| r.vec16().and_then(u16_list))
}

fn u8_vec8(body: &[u8]) -> Option<Vec<u8>> {
    whole(body, |r| r.vec8().map(<[u8]>::to_vec))
}

/// A ProtocolNameList (RFC 7301): non-empty list of non-empty names.
fn alpn_names(body: &[u8], anomalies: &mut Anomalies) -> Option<Vec<String>> {
    let list = whole(body, Reader::vec16)?;
    let mut r = Reader::new(list);
    let mut names = Vec::new();
    while !r.is_empty() {
        let name = r.vec8()?;
        if name.is_empty() {
            anomalies.push(HelloAnomaly::EmptyAlpnProtocol);
        }
        names.push(escape(name));
    }
    (!names.is_empty()).then_some(names)
}

/// The first `host_name` entry of a ServerNameList (RFC 6066 section 3).
fn server_name(body: &[u8]) -> Option<&[u8]> {
    let list = whole(body, Reader::vec16)?;
    let mut r = Reader::new(list);
    let mut first = None;
    while !r.is_empty() {
        let kind = r.u8()?;
        let name = r.vec16()?;
        if kind == 0 && first.is_none() {
            first = Some(name);
        }
    }
    first.filter(|n| !n.is_empty())
}

fn is_hostname(name: &[u8]) -> bool {
    let name = name.strip_suffix(b".").unwrap_or(name);
    !name.is_empty()
        && name.len() <= MAX_HOSTNAME
        && name.split(|&c| c == b'.').all(|label| {
            (1..=MAX_LABEL).contains(&label.len())
                && label.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

fn check_server_name(name: &[u8], anomalies: &mut Anomalies) {
    if !is_hostname(name) {
        anomalies.push(HelloAnomaly::SniNotHostname);
    } else if std::str::from_utf8(name).is_ok_and(|s| s.parse::<Ipv4Addr>().is_ok()) {
        anomalies.push(HelloAnomaly::SniIpLiteral);
    }
}

/// Client key_share (RFC 8446 section 4.2.8): a list of (group, key) entries.
fn client_key_share_groups(body: &[u8]) -> Option<Vec<u16>> {
    let list = whole(body, Reader::vec16)?;
    let mut r = Reader::new(list);
    let mut groups = Vec::new();
    while !r.is_empty() {
        groups.push(r.u16()?);
        r.vec16()?;
    }
    Some(groups)
}

/// Reads one ClientHello extension into `hello`; unknown types are only listed.
pub(crate) fn client_extension(hello: &mut ClientHello, ext: u16, body: &[u8], anomalies: &mut Anomalies) {
    let ok = match ext {
        ext_type::SERVER_NAME => server_name(body).map(|name| {
            check_server_name(name, anomalies);
            hello.sni = Some(escape(name));
        }),
        ext_type::ALPN => alpn_names(body, anomalies).map(|names| hello.alpn = names),
        ext_type::SUPPORTED_VERSIONS => {
            whole(body, |r| r.vec8().and_then(u16_list)).map(|v| hello.supported_versions = v)
        }
        ext_type::SIGNATURE_ALGORITHMS => u16_vec16(body).map(|v| hello.signature_algorithms = v),
        ext_type::SUPPORTED_GROUPS => u16_vec16(body).map(|v| hello.supported_groups = v),
        ext_type::EC_POINT_FORMATS => u8_vec8(body).map(|v| hello.ec_point_formats = v),
        ext_type::KEY_SHARE => client_key_share_groups(body).map(|v| hello.key_share_groups = v),
        ext_type::PSK_KEY_EXCHANGE_MODES => u8_vec8(body).map(|v| hello.psk_key_exchange_modes = v),
        _ => Some(()),
    };
    if ok.is_none() {
        anomalies.push(HelloAnomaly::BadExtensionBody(ext));
    }
}

/// Reads one ServerHello extension into `hello`; unknown types are only listed.
pub(crate) fn server_extension(hello: &mut ServerHello, ext: u16, body: &[u8], anomalies: &mut Anomalies) {
    let ok = match ext {
        ext_type::SUPPORTED_VERSIONS => whole(body, Reader::u16).map(|v| hello.selected_version = Some(v)),
        ext_type::ALPN => match alpn_names(body, anomalies) {
            // RFC 7301 section 3.1: the server's list holds exactly one name.
            Some(names) if names.len() == 1 => names.into_iter().next().map(|n| hello.alpn = Some(n)),
            Some(names) => {
                hello.alpn = names.into_iter().next();
                None
            }
            None => None,
        },
        ext_type::KEY_SHARE => {
            // A HelloRetryRequest names only the group; a ServerHello adds its key.
            let group = if body.len() == 2 {
                whole(body, Reader::u16)
            } else {
                whole(body, |r| {
                    let group = r.u16()?;
                    r.vec16()?;
                    Some(group)
                })
            };
            group.map(|g| hello.key_share_group = Some(g))
        }
        _ => Some(()),
    };
    if ok.is_none() {
        anomalies.push(HelloAnomaly::BadExtensionBody(ext));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(is_hostname(b"api.bank.test"));
        assert!(is_hostname(b"api.bank.test."));
        assert!(is_hostname(b"_srv.x-y.example"));
        assert!(!is_hostname(b"a..b"));
        assert!(!is_hostname(b"a b"));
        assert!(!is_hostname(b"."));
        assert!(!is_hostname(&[b'a'; 64]));
        assert!(!is_hostname("bänk.de".as_bytes()));
    }

    #[test]
    fn server_name_list_takes_the_first_host_name() {
        // list: type 1 "zz", type 0 "a.b", type 0 "c.d"
        let body = [0, 16, 1, 0, 2, b'z', b'z', 0, 0, 3, b'a', b'.', b'b', 0, 0, 3, b'c', b'.', b'd'];
        let body = &body[..];
        assert_eq!(body.len(), 19);
        let mut fixed = body.to_vec();
        fixed[1] = 17;
        assert_eq!(server_name(&fixed), Some(&b"a.b"[..]));
        assert_eq!(server_name(body), None, "list length one short leaves a byte over");
    }

    #[test]
    fn ip_literal_and_odd_names_are_flagged() {
        let mut an = Anomalies::default();
        check_server_name(b"10.0.0.1", &mut an);
        check_server_name(b"bad\x00name", &mut an);
        check_server_name(b"ok.example", &mut an);
        assert_eq!(an.list, [HelloAnomaly::SniIpLiteral, HelloAnomaly::SniNotHostname]);
    }

    #[test]
    fn repeated_read_types_are_handed_on_once() {
        let mut seen = KnownSeen::default();
        assert!(seen.first_time(ext_type::ALPN));
        assert!(!seen.first_time(ext_type::ALPN));
        assert!(seen.first_time(0x1234));
        assert!(seen.first_time(0x1234), "unread types are not tracked");
    }
}
