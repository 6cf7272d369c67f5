//! What the simulator puts on the wire: Ethernet II / IPv4 / TCP frames with correct
//! checksums (built by etherparse) for whole TCP connections, and a streaming pcap writer.
//!
//! The frames are what a sensor on a mirror port next to the server would capture: a clean
//! connection without loss, retransmissions or reordering. Not supported: IPv6, VLAN tags,
//! TCP options other than MSS on the SYNs, window scaling, loss.

use std::io::{self, Write};
use std::net::SocketAddrV4;

use etherparse::{IpHeaders, Ipv4Header, PacketBuilder, TcpHeader, TcpOptionElement};

use super::rng::Rng;

/// pcap magic number for nanosecond timestamps.
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u32 = 1;
/// Bytes of a frame the writer records (and the snaplen in the file header); longer frames
/// are cut, keeping their original length in the record header.
pub const SNAPLEN: u32 = 262_144;

/// Writes a classic pcap file (nanosecond timestamps, Ethernet link type, snaplen
/// [`SNAPLEN`]) record by record, so a capture of any size streams through a small buffer.
///
/// The caller keeps records in time order; the writer does not sort.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header (little-endian).
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&PCAP_MAGIC_NANOS.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone: UTC
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, packets: 0, bytes: header.len() as u64 })
    }

    /// Appends one record at `ts_nanos` (nanoseconds since the Unix epoch). Fails with
    /// `InvalidInput` for a time past the format's 32-bit seconds (year 2106) or a frame longer
    /// than 4 GiB, and with the writer's error otherwise.
    pub fn write_frame(&mut self, ts_nanos: u64, frame: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts_nanos / 1_000_000_000)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcap writer: timestamp past the year 2106"))?;
        let nanos = (ts_nanos % 1_000_000_000) as u32;
        let orig_len = u32::try_from(frame.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcap writer: frame longer than 4 GiB"))?;
        let incl_len = orig_len.min(SNAPLEN);
        let kept = frame.get(..incl_len as usize).unwrap_or(frame);
        let mut record = [0u8; 16];
        for (dst, src) in record.iter_mut().zip(
            secs.to_le_bytes().into_iter().chain(nanos.to_le_bytes()).chain(incl_len.to_le_bytes()).chain(orig_len.to_le_bytes()),
        ) {
            *dst = src;
        }
        self.out.write_all(&record)?;
        self.out.write_all(kept)?;
        self.packets += 1;
        self.bytes += record.len() as u64 + kept.len() as u64;
        Ok(())
    }

    /// Records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far, file header and record headers included (the file's size).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One captured frame: its time (nanoseconds since the Unix epoch) and its bytes from the
/// Ethernet header on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time in nanoseconds.
    pub ts: u64,
    /// The Ethernet frame.
    pub data: Vec<u8>,
}

/// Nanoseconds between two data segments sent back to back.
pub const SEGMENT_GAP_NS: u64 = 3_000;
/// Nanoseconds between a segment and the peer's ACK of it, and between the two last frames of
/// the handshake and of the close.
pub const ACK_GAP_NS: u64 = 5_000;
/// The receive window every frame advertises (no window scaling).
pub const WINDOW: u16 = 64_240;
/// The default maximum segment size (Ethernet MTU 1500 minus 40 bytes of headers).
pub const DEFAULT_MSS: u16 = 1460;
/// The smallest and largest MSS [`TcpConn::with_mss`] accepts (IPv4 minimum, jumbo frames).
pub const MSS_RANGE: (u16, u16) = (536, 8960);
/// TTL of the server's frames (the sensor sits next to it) and of the client's (which crossed
/// a few routers to reach it).
const SERVER_TTL: u8 = 64;
const CLIENT_TTL: u8 = 57;

#[derive(Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
    rst: bool,
}

const ACK: Flags = Flags { syn: false, ack: true, psh: false, fin: false, rst: false };

/// One side's sending state.
#[derive(Debug, Clone)]
struct Side {
    addr: SocketAddrV4,
    mac: [u8; 6],
    /// Sequence number of the next byte (or SYN/FIN) this side sends.
    next_seq: u32,
    ip_id: u16,
    ttl: u8,
}

/// One client-to-server TCP connection, producing the frames both sides send.
///
/// Promises: sequence and acknowledgement numbers are consistent (wrapping), every frame has
/// correct IPv4 and TCP checksums, and frame times are strictly increasing within the
/// connection (a requested time earlier than the previous frame is moved to just after it), so
/// frames of many connections merged by a stable sort on time keep each connection's order.
#[derive(Debug, Clone)]
pub struct TcpConn {
    client: Side,
    server: Side,
    mss: u16,
    rtt: u64,
    last_ts: Option<u64>,
}

/// A locally administered unicast MAC carrying the IPv4 address, so each host keeps one MAC.
fn mac_for(addr: &SocketAddrV4) -> [u8; 6] {
    let [a, b, c, d] = addr.ip().octets();
    [0x02, 0x00, a, b, c, d]
}

impl TcpConn {
    /// A connection with random initial sequence numbers and IP identifications from `rng`,
    /// MACs derived from the IPs, MSS [`DEFAULT_MSS`].
    pub fn new(client: SocketAddrV4, server: SocketAddrV4, rng: &mut Rng) -> Self {
        let side = |addr: SocketAddrV4, ttl: u8, rng: &mut Rng| Side {
            mac: mac_for(&addr),
            addr,
            next_seq: rng.next_u64() as u32,
            ip_id: rng.below(1 << 16) as u16,
            ttl,
        };
        let client = side(client, CLIENT_TTL, rng);
        let server = side(server, SERVER_TTL, rng);
        TcpConn { client, server, mss: DEFAULT_MSS, rtt: 0, last_ts: None }
    }

    /// The same connection with another MSS, clamped to [`MSS_RANGE`].
    pub fn with_mss(mut self, mss: u16) -> Self {
        self.mss = mss.clamp(MSS_RANGE.0, MSS_RANGE.1);
        self
    }

    /// The client's address.
    pub fn client(&self) -> SocketAddrV4 {
        self.client.addr
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddrV4 {
        self.server.addr
    }

    /// The MSS in use.
    pub fn mss(&self) -> u16 {
        self.mss
    }

    /// SYN at `ts`, SYN-ACK `rtt` nanoseconds later, the client's ACK [`ACK_GAP_NS`] after
    /// that. Returns the time of the ACK (the last frame).
    pub fn open(&mut self, ts: u64, rtt: u64, out: &mut Vec<Frame>) -> u64 {
        self.rtt = rtt;
        let syn = Flags { syn: true, ..Flags::default() };
        let t = self.emit(ts, true, syn, &[], out);
        let t = self.emit(t.saturating_add(rtt), false, Flags { syn: true, ack: true, ..Flags::default() }, &[], out);
        self.emit(t.saturating_add(ACK_GAP_NS), true, ACK, &[], out)
    }

    /// `data` from the client (`from_client`) or the server, cut into MSS-sized segments
    /// [`SEGMENT_GAP_NS`] apart, PSH on the last; the peer ACKs every second segment and the
    /// last one, [`ACK_GAP_NS`] after it. The first segment goes at `ts`. Returns the time of
    /// the last frame (`ts`, or just after the previous frame, when `data` is empty).
    pub fn send(&mut self, ts: u64, from_client: bool, data: &[u8], out: &mut Vec<Frame>) -> u64 {
        let mut t = self.next_ts(ts);
        let mut last = t;
        let mut unacked = 0;
        let mut segments = data.chunks(usize::from(self.mss)).peekable();
        while let Some(segment) = segments.next() {
            let is_last = segments.peek().is_none();
            last = self.emit(t, from_client, Flags { psh: is_last, ..ACK }, segment, out);
            unacked += 1;
            if unacked == 2 || is_last {
                last = self.emit(last.saturating_add(ACK_GAP_NS), !from_client, ACK, &[], out);
                unacked = 0;
            }
            t = last.saturating_add(SEGMENT_GAP_NS);
        }
        if data.is_empty() {
            // Nothing sent: keep the time, but never behind this connection's last frame.
            self.last_ts = Some(last);
        }
        last
    }

    /// FIN+ACK from the client at `ts`, the server's FIN+ACK one handshake round-trip time
    /// later, the client's final ACK [`ACK_GAP_NS`] after that. Returns the time of the last
    /// frame.
    pub fn close(&mut self, ts: u64, out: &mut Vec<Frame>) -> u64 {
        let fin = Flags { fin: true, ..ACK };
        let t = self.emit(ts, true, fin, &[], out);
        let t = self.emit(t.saturating_add(self.rtt), false, fin, &[], out);
        self.emit(t.saturating_add(ACK_GAP_NS), true, ACK, &[], out)
    }

    /// An abort: one RST+ACK from the client (`from_client`) or the server at `ts`. Returns its
    /// time.
    pub fn reset(&mut self, ts: u64, from_client: bool, out: &mut Vec<Frame>) -> u64 {
        self.emit(ts, from_client, Flags { rst: true, ..ACK }, &[], out)
    }

    /// `ts`, moved to just after this connection's previous frame when it is not later.
    fn next_ts(&self, ts: u64) -> u64 {
        match self.last_ts {
            Some(last) if ts <= last => last.saturating_add(1),
            _ => ts,
        }
    }

    /// Builds one frame, advances the sender's sequence number and records the time.
    fn emit(&mut self, ts: u64, from_client: bool, flags: Flags, payload: &[u8], out: &mut Vec<Frame>) -> u64 {
        let ts = self.next_ts(ts);
        self.last_ts = Some(ts);
        let mss = self.mss;
        let (src, dst) = if from_client { (&mut self.client, &mut self.server) } else { (&mut self.server, &mut self.client) };
        let mut tcp = TcpHeader::new(src.addr.port(), dst.addr.port(), src.next_seq, WINDOW);
        tcp.syn = flags.syn;
        tcp.fin = flags.fin;
        tcp.rst = flags.rst;
        tcp.psh = flags.psh;
        tcp.ack = flags.ack;
        if flags.ack {
            tcp.acknowledgment_number = dst.next_seq;
        }
        if flags.syn {
            // Four bytes, always within the 40 bytes of option space: this cannot fail.
            let _ = tcp.set_options(&[TcpOptionElement::MaximumSegmentSize(mss)]);
        }
        let ip = Ipv4Header {
            source: src.addr.ip().octets(),
            destination: dst.addr.ip().octets(),
            time_to_live: src.ttl,
            identification: src.ip_id,
            dont_fragment: true,
            ..Ipv4Header::default()
        };
        let builder = PacketBuilder::ethernet2(src.mac, dst.mac).ip(IpHeaders::Ipv4(ip, Default::default())).tcp_header(tcp);
        let mut data = Vec::with_capacity(builder.size(payload.len()));
        // The only failure is a payload too long for IPv4; segments are at most MSS_RANGE.1.
        if builder.write(&mut data, payload).is_ok() {
            out.push(Frame { ts, data });
        }
        src.ip_id = src.ip_id.wrapping_add(1);
        let consumed = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        src.next_seq = src.next_seq.wrapping_add(consumed);
        ts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::net::Ipv4Addr;

    const C: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 51000);
    const S: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 9, 8, 7), 443);

    /// (from client, seq, ack, syn, fin, psh, payload length) read back with etherparse.
    fn decode(f: &Frame) -> (bool, u32, u32, bool, bool, bool, usize) {
        let p = SlicedPacket::from_ethernet(&f.data).unwrap();
        let Some(NetSlice::Ipv4(ip)) = p.net else { panic!("not ipv4") };
        let Some(TransportSlice::Tcp(tcp)) = p.transport else { panic!("not tcp") };
        let from_client = ip.header().source_addr() == *C.ip();
        (from_client, tcp.sequence_number(), tcp.acknowledgment_number(), tcp.syn(), tcp.fin(), tcp.psh(), tcp.payload().len())
    }

    #[test]
    fn pcap_header_and_records_have_the_documented_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_frame(1_700_000_000_123_456_789, &[1, 2, 3]).unwrap();
        w.write_frame(5, &vec![7u8; SNAPLEN as usize + 10]).unwrap();
        assert_eq!(w.packets(), 2);
        let total = w.bytes();
        let buf = w.finish().unwrap();
        assert_eq!(total, buf.len() as u64);
        assert_eq!(&buf[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(buf[16..20].try_into().unwrap()), 262_144);
        assert_eq!(u32::from_le_bytes(buf[20..24].try_into().unwrap()), 1);
        let rec = &buf[24..];
        assert_eq!(u32::from_le_bytes(rec[0..4].try_into().unwrap()), 1_700_000_000);
        assert_eq!(u32::from_le_bytes(rec[4..8].try_into().unwrap()), 123_456_789);
        assert_eq!(u32::from_le_bytes(rec[8..12].try_into().unwrap()), 3);
        assert_eq!(&rec[16..19], &[1, 2, 3]);
        let rec2 = &rec[19..];
        assert_eq!(u32::from_le_bytes(rec2[8..12].try_into().unwrap()), SNAPLEN);
        assert_eq!(u32::from_le_bytes(rec2[12..16].try_into().unwrap()), SNAPLEN + 10);
        assert_eq!(rec2.len(), 16 + SNAPLEN as usize);
    }

    #[test]
    fn pcap_rejects_times_past_2106() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let err = w.write_frame(u64::MAX, &[0]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.packets(), 0);
    }

    #[test]
    fn a_connection_has_consistent_numbers_acks_and_times() {
        let mut rng = Rng::new(1);
        let mut conn = TcpConn::new(C, S, &mut rng);
        let mut frames = Vec::new();
        let t = conn.open(1_000_000, 40_000, &mut frames);
        assert_eq!(t, 1_000_000 + 40_000 + ACK_GAP_NS);
        let request = vec![b'q'; 3000];
        let t = conn.send(t + 100_000, true, &request, &mut frames);
        let t = conn.send(t + 2_000_000, false, &vec![b'r'; 1460 * 5], &mut frames);
        let end = conn.close(t + 10, &mut frames);
        assert_eq!(frames.last().unwrap().ts, end);
        assert!(frames.windows(2).all(|w| w[0].ts < w[1].ts), "strictly increasing times");

        let d: Vec<_> = frames.iter().map(decode).collect();
        let (_, isn_c, _, syn, ..) = d[0];
        assert!(syn);
        let (from_c, isn_s, ack, syn, ..) = d[1];
        assert!(!from_c && syn && ack == isn_c.wrapping_add(1));
        assert_eq!(frames[1].ts - frames[0].ts, 40_000);
        assert_eq!((d[2].0, d[2].1, d[2].2), (true, isn_c.wrapping_add(1), isn_s.wrapping_add(1)));
        // 3000 bytes: 1460 + 1460 + 80, the server ACKs after the second and after the last.
        let lens: Vec<_> = d[3..8].iter().map(|x| (x.0, x.6)).collect();
        assert_eq!(lens, [(true, 1460), (true, 1460), (false, 0), (true, 80), (false, 0)]);
        assert!(!d[3].5 && !d[4].5 && d[6].5, "PSH only on the last segment");
        assert_eq!(d[5].2, isn_c.wrapping_add(1 + 2920));
        assert_eq!(d[7].2, isn_c.wrapping_add(1 + 3000));
        // 5 response segments: ACKs after 2, 4 and 5.
        let resp: Vec<_> = d[8..16].iter().map(|x| (x.0, x.6)).collect();
        assert_eq!(resp, [(false, 1460), (false, 1460), (true, 0), (false, 1460), (false, 1460), (true, 0), (false, 1460), (true, 0)]);
        assert_eq!(d[15].2, isn_s.wrapping_add(1 + 7300));
        // Close: FIN from each side, each acknowledging everything, then the last ACK.
        let fin_c = d[16];
        let fin_s = d[17];
        assert!(fin_c.0 && fin_c.4 && fin_c.1 == isn_c.wrapping_add(3001) && fin_c.2 == isn_s.wrapping_add(7301));
        assert!(!fin_s.0 && fin_s.4 && fin_s.2 == isn_c.wrapping_add(3002));
        assert_eq!(d[18].2, isn_s.wrapping_add(7302));
        assert_eq!(frames.len(), 19);
    }

    #[test]
    fn requested_times_in_the_past_move_forward() {
        let mut rng = Rng::new(2);
        let mut conn = TcpConn::new(C, S, &mut rng).with_mss(1);
        assert_eq!(conn.mss(), MSS_RANGE.0);
        let mut frames = Vec::new();
        let t = conn.open(500, 0, &mut frames);
        let t2 = conn.send(0, true, b"x", &mut frames);
        assert!(t2 > t);
        assert_eq!(conn.send(0, true, b"", &mut frames), t2 + 1);
        let t3 = conn.reset(0, false, &mut frames);
        assert!(frames.windows(2).all(|w| w[0].ts < w[1].ts));
        assert_eq!(frames.last().unwrap().ts, t3);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut rng = Rng::new(3);
        let mut conn = TcpConn::new(C, S, &mut rng);
        conn.client.next_seq = u32::MAX - 10;
        let mut frames = Vec::new();
        conn.send(1, true, &[0u8; 100], &mut frames);
        let ack = decode(frames.last().unwrap()).2;
        assert_eq!(ack, 89);
    }
}
