//! Addresses no geolocation database describes: private, shared, loopback, link-local,
//! documentation, multicast and other special-purpose ranges (IANA special-purpose registries,
//! RFC 6890). Looking them up would only spend time to learn nothing, or worse, match a
//! database's placeholder record.

use std::net::IpAddr;

/// IPv4 special-purpose ranges, as (network, prefix length).
const V4: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space (carrier-grade NAT)
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local
    (0xac10_0000, 12), // 172.16.0.0/12 private
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 documentation (TEST-NET-1)
    (0xc0a8_0000, 16), // 192.168.0.0/16 private
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 documentation (TEST-NET-2)
    (0xcb00_7100, 24), // 203.0.113.0/24 documentation (TEST-NET-3)
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved, and the limited broadcast address
];

/// IPv6 special-purpose ranges, as (network, prefix length).
const V6: &[(u128, u8)] = &[
    (0, 128),                                       // :: unspecified
    (1, 128),                                       // ::1 loopback
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // 100::/64 discard-only
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32 documentation
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // fc00::/7 unique local
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // fe80::/10 link-local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // fec0::/10 site-local (deprecated)
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // ff00::/8 multicast
];

fn in_v4(bits: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len.min(32))).unwrap_or(0);
    bits & mask == net
}

fn in_v6(bits: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len.min(128))).unwrap_or(0);
    bits & mask == net
}

/// Whether `ip` is in a special-purpose range no public database describes. An IPv4-mapped
/// IPv6 address is judged as the IPv4 address it carries.
pub(crate) fn is_reserved(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            V4.iter().any(|(net, len)| in_v4(bits, *net, *len))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            V6.iter().any(|(net, len)| in_v6(bits, *net, *len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved(s: &str) -> bool {
        is_reserved(s.parse().unwrap())
    }

    #[test]
    fn special_purpose_ranges_are_reserved() {
        for a in [
            "0.1.2.3",
            "10.20.30.40",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.10.10",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.77",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "100::1",
            "2001:db8:1::5",
            "fd12:3456::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.1.2.3",
        ] {
            assert!(reserved(a), "{a} is reserved");
        }
    }

    #[test]
    fn public_addresses_next_to_the_ranges_are_not() {
        for a in [
            "1.0.0.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.1",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.101.1",
            "203.0.112.255",
            "223.255.255.255",
            "81.2.69.142",
            "2001:218::1",
            "2001:db9::1",
            "2a00:1450::1",
            "fbff::1",
            "::ffff:81.2.69.142",
        ] {
            assert!(!reserved(a), "{a} is public");
        }
    }
}
