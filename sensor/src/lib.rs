//! The sans-IO packet path of apitap.
//!
//! Everything here takes bytes and packet timestamps as arguments and never touches files,
//! sockets, environment variables or the clock. The binary in `src/` owns those.
//!
//! - [`capture`]: pcap and pcapng file formats, parsed from bytes fed in by the caller.
//! - [`decode`]: link layers, VLAN/MPLS/PPPoE, mirror tunnels, IPv4/IPv6 down to TCP.
//! - [`defrag`]: bounded IPv4/IPv6 fragment reassembly.
//! - [`flow`] and [`reassembly`]: the connection table and two-way TCP stream reassembly, with
//!   [`seq`] for wrapping sequence-number arithmetic.
//! - [`stream`]: what reassembly hands to the application layer.
//!
//! Not supported (yet): UDP application protocols, SCTP, IPsec (ESP payloads are opaque).

pub mod capture;
pub mod decode;
pub mod defrag;
pub mod flow;
pub mod packet;
pub mod reassembly;
pub mod seq;
pub mod stream;

pub use packet::{LinkType, TcpFlags, TcpSegment, Timestamp};
