//! Live capture from a network interface through libpcap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::{LinkType, Timestamp};

use crate::cli::CaptureArgs;

/// libpcap read timeout (how long the kernel may hold a partly filled ring block).
const READ_TIMEOUT_MS: i32 = 200;

/// Pause when the capture ring is empty, before looking again. Short enough that signals and
/// `--duration` are noticed at once; packets are buffered by the kernel meanwhile.
const IDLE_SLEEP_MS: u64 = 5;

/// How long the loop keeps reading after a stop request (or the end of `--duration`): more
/// than the read timeout, so every block the kernel was filling is handed over; bounded, so a
/// busy link cannot hold the stop up.
const DRAIN_AFTER_STOP: Duration = Duration::from_millis(3 * READ_TIMEOUT_MS as u64);

/// How far behind the wall clock a quiet interface's ticks put packet time: the longest a
/// packet may sit in the ring before it is read (the read timeout), with a margin.
const TICK_LAG: Duration = Duration::from_millis(1000);

/// Kernel and libpcap loss counters of a live capture, over every interface, and each
/// interface's own.
#[derive(Debug, Default, Clone)]
pub struct LiveStats {
    /// Packets the kernel passed to the filters.
    pub received: u64,
    /// Packets dropped because a capture buffer was full (`ps_drop`).
    pub dropped: u64,
    /// Packets dropped by the interfaces or their drivers (`ps_ifdrop`).
    pub if_dropped: u64,
    /// Packets held back to be merged in time order that the reorder buffer's bound
    /// ([`MAX_REORDER_BYTES`]) made apitap hand on early.
    pub reorder_limit_hits: u64,
    /// Each interface, in the order given.
    pub interfaces: Vec<InterfaceStats>,
}

/// One interface's counters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InterfaceStats {
    /// Interface name.
    pub name: String,
    /// Packets apitap read from it.
    pub packets: u64,
    /// Bytes of those packets as captured.
    pub bytes: u64,
    /// libpcap's `ps_recv`.
    pub received: u64,
    /// libpcap's `ps_drop`.
    pub dropped: u64,
    /// libpcap's `ps_ifdrop`.
    pub if_dropped: u64,
}

/// How often the kernel's counters are read during a capture (for health messages).
const STATS_EVERY: Duration = Duration::from_secs(1);

/// With several interfaces, packets are merged in time order: each interface's ring hands
/// packets over in blocks, up to [`READ_TIMEOUT_MS`] late, so a packet waits until every
/// interface has shown a later one or this long has passed since its time.
const REORDER_WINDOW: Duration = Duration::from_millis(2 * READ_TIMEOUT_MS as u64);

/// Bytes of packets held for the time-order merge, over all interfaces; beyond it the oldest
/// go on at once (counted in `reorder_limit_hits`).
pub const MAX_REORDER_BYTES: usize = 64 << 20;

/// Packets read from one interface in a row before the next interface's turn.
const BURST: usize = 1024;

/// Bookkeeping per held packet, besides its bytes.
const HELD_OVERHEAD: usize = 48;

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface names: one, or several merged into one flow table (a TAP's two directions,
    /// several mirror ports).
    pub interfaces: Vec<String>,
    /// BPF filter.
    pub filter: Option<String>,
    /// Bytes captured per packet.
    pub snaplen: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Kernel buffer in MiB, per interface.
    pub buffer_mib: i32,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this many seconds.
    pub duration: Option<u64>,
}

impl From<&CaptureArgs> for LiveOptions {
    fn from(args: &CaptureArgs) -> Self {
        LiveOptions {
            interfaces: args.interface.clone(),
            filter: args.filter.clone(),
            snaplen: args.snaplen,
            promisc: !args.no_promisc,
            buffer_mib: args.buffer_mib,
            count: args.count,
            duration: args.duration,
        }
    }
}

/// One open interface.
struct Handle {
    name: String,
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    packets: u64,
    bytes: u64,
}

/// An open capture handle per interface, ready to [`LiveCapture::run`]. Opening needs
/// CAP_NET_RAW; running needs no privilege, so a daemon opens, drops its privileges, then runs.
pub struct LiveCapture {
    handles: Vec<Handle>,
    opts: LiveOptions,
}

fn open_one(name: &str, opts: &LiveOptions) -> Result<Handle> {
    let inactive = pcap::Capture::from_device(name).with_context(|| format!("interface {name}"))?;
    let cap = inactive
        .promisc(opts.promisc)
        .snaplen(opts.snaplen)
        .buffer_size(opts.buffer_mib.saturating_mul(1 << 20))
        .timeout(READ_TIMEOUT_MS)
        .precision(pcap::Precision::Nano)
        .open()
        .with_context(|| format!("cannot open interface {name} for capture (is it up, and are you root or CAP_NET_RAW?)"))?;
    // Non-blocking reads: with TPACKET_V3 a quiet interface can block a read past its
    // timeout, and the loop must notice signals and the deadline (and the other interfaces).
    let mut cap = cap.setnonblock().with_context(|| format!("cannot make the capture handle of {name} non-blocking"))?;
    if let Some(filter) = &opts.filter {
        cap.filter(filter, true).with_context(|| format!("invalid BPF filter {filter:?} (on {name})"))?;
    }
    let link = LinkType::from_linktype(cap.get_datalink().0 as u32);
    Ok(Handle { name: name.to_string(), cap, link, packets: 0, bytes: 0 })
}

impl LiveCapture {
    /// Opens every interface with the options' filter, snap length and buffer.
    pub fn open(opts: &LiveOptions) -> Result<Self> {
        if opts.interfaces.is_empty() {
            anyhow::bail!("no interface to capture on");
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut handles = Vec::with_capacity(opts.interfaces.len());
        for name in &opts.interfaces {
            if !seen.insert(name.as_str()) {
                anyhow::bail!("interface {name} is listed twice: every packet would be seen twice");
            }
            handles.push(open_one(name, opts)?);
        }
        Ok(LiveCapture { handles, opts: opts.clone() })
    }

    /// Each interface's name and link type.
    pub fn links(&self) -> Vec<(String, LinkType)> {
        self.handles.iter().map(|h| (h.name.clone(), h.link)).collect()
    }
}

/// Captures until `stop` is set, `--count` packets were seen or `--duration` passed. `on_tick`
/// is called when the interfaces are quiet, with the wall-clock time as packet time;
/// `on_stats` about once a second with the kernel's counters so far. A failure after the
/// capture started is returned beside the statistics, so the caller can still flush and
/// summarise what was captured.
pub fn capture(
    args: &CaptureArgs,
    stop: &Arc<AtomicBool>,
    on_packet: impl FnMut(&PacketRecord<'_>),
    on_tick: impl FnMut(Timestamp),
    on_stats: impl FnMut(&LiveStats),
) -> Result<(LiveStats, Option<anyhow::Error>)> {
    let live = LiveCapture::open(&LiveOptions::from(args))?;
    for (name, link) in live.links() {
        eprintln!("apitap: capturing on {name} (link type {link:?}, snaplen {}, promiscuous {})", args.snaplen, !args.no_promisc);
    }
    Ok(live.run(stop, on_packet, on_tick, on_stats))
}

fn wall_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

fn timestamp(d: Duration) -> Timestamp {
    Timestamp::from_parts(d.as_secs(), d.subsec_nanos())
}

/// A packet held for the time-order merge.
struct Held {
    ts: Timestamp,
    wire_len: u32,
    data: Vec<u8>,
}

impl LiveCapture {
    fn stats(&mut self, reorder_limit_hits: u64) -> LiveStats {
        let mut all = LiveStats { reorder_limit_hits, ..LiveStats::default() };
        for h in &mut self.handles {
            let k = h.cap.stats().ok();
            let one = InterfaceStats {
                name: h.name.clone(),
                packets: h.packets,
                bytes: h.bytes,
                received: k.map_or(0, |s| u64::from(s.received)),
                dropped: k.map_or(0, |s| u64::from(s.dropped)),
                if_dropped: k.map_or(0, |s| u64::from(s.if_dropped)),
            };
            all.received += one.received;
            all.dropped += one.dropped;
            all.if_dropped += one.if_dropped;
            all.interfaces.push(one);
        }
        all
    }

    /// Runs the capture loop until `stop`, the count or the duration; see [`capture`].
    pub fn run(
        mut self,
        stop: &Arc<AtomicBool>,
        mut on_packet: impl FnMut(&PacketRecord<'_>),
        mut on_tick: impl FnMut(Timestamp),
        mut on_stats: impl FnMut(&LiveStats),
    ) -> (LiveStats, Option<anyhow::Error>) {
        let started = Instant::now();
        let deadline = self.opts.duration.map(|s| started + Duration::from_secs(s));
        let count = self.opts.count;
        let merging = self.handles.len() > 1;
        let mut queues: Vec<std::collections::VecDeque<Held>> = self.handles.iter().map(|_| Default::default()).collect();
        let mut held_bytes = 0usize;
        let mut reorder_limit_hits = 0u64;
        let mut seen = 0u64;
        let mut failure = None;
        let mut next_stats = started + STATS_EVERY;
        // Once asked to stop, what the kernel already holds is still read: a block of the
        // TPACKET_V3 ring becomes readable only when full or after the read timeout, so the
        // last requests before a SIGTERM would otherwise be lost.
        let mut draining_until: Option<Instant> = None;
        'outer: loop {
            let now = Instant::now();
            match draining_until {
                Some(d) if now >= d => break,
                Some(_) => {}
                None if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| now >= d) => {
                    draining_until = Some(now + DRAIN_AFTER_STOP);
                }
                None => {}
            }
            if now >= next_stats {
                next_stats = now + STATS_EVERY;
                on_stats(&self.stats(reorder_limit_hits));
            }
            let mut got = 0usize;
            for (i, h) in self.handles.iter_mut().enumerate() {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                for _ in 0..BURST {
                    if count.is_some_and(|c| seen >= c) {
                        break 'outer;
                    }
                    match h.cap.next_packet() {
                        Ok(packet) => {
                            seen += 1;
                            got += 1;
                            let hdr = packet.header;
                            let ts = Timestamp::from_parts(hdr.ts.tv_sec.max(0) as u64, hdr.ts.tv_usec.clamp(0, 999_999_999) as u32);
                            h.packets += 1;
                            h.bytes += packet.data.len() as u64;
                            if merging {
                                held_bytes += packet.data.len() + HELD_OVERHEAD;
                                if let Some(q) = queues.get_mut(i) {
                                    q.push_back(Held { ts, wire_len: hdr.len, data: packet.data.to_vec() });
                                }
                                if held_bytes >= MAX_REORDER_BYTES {
                                    break;
                                }
                            } else {
                                on_packet(&PacketRecord { ts, link: h.link, data: packet.data, wire_len: hdr.len, interface: index });
                            }
                        }
                        Err(pcap::Error::TimeoutExpired) => break,
                        Err(err) => {
                            // The interface went away or the handle broke: what was captured
                            // is still flushed and summarised by the caller.
                            failure = Some(anyhow::Error::new(err).context(format!("capture on {} failed", h.name)));
                            break 'outer;
                        }
                    }
                }
            }
            if merging {
                let horizon = timestamp(wall_now().saturating_sub(REORDER_WINDOW));
                release(&mut queues, &mut held_bytes, &mut reorder_limit_hits, &self.handles, Some(horizon), &mut on_packet);
            }
            if got == 0 {
                // The rings are empty: the kernel keeps buffering while we sleep.
                std::thread::sleep(Duration::from_millis(IDLE_SLEEP_MS));
                // Packet time follows the wall clock, behind it by what the rings may still
                // hold, so the packets read next are not earlier than the tick.
                on_tick(timestamp(wall_now().saturating_sub(TICK_LAG)));
            }
        }
        release(&mut queues, &mut held_bytes, &mut reorder_limit_hits, &self.handles, None, &mut on_packet);
        let stats = self.stats(reorder_limit_hits);
        (stats, failure)
    }
}

/// Hands held packets on in time order: the oldest goes when every interface holds a later
/// one, when it is older than `horizon`, or when the buffer is over its bound; `horizon`
/// `None` (the end of the capture) releases everything.
fn release(
    queues: &mut [std::collections::VecDeque<Held>],
    held_bytes: &mut usize,
    limit_hits: &mut u64,
    handles: &[Handle],
    horizon: Option<Timestamp>,
    on_packet: &mut impl FnMut(&PacketRecord<'_>),
) {
    loop {
        let oldest = queues.iter().enumerate().filter_map(|(i, q)| q.front().map(|h| (h.ts, i))).min();
        let Some((ts, i)) = oldest else { return };
        let every_interface_later = queues.iter().all(|q| !q.is_empty());
        let over = *held_bytes > MAX_REORDER_BYTES;
        let due = horizon.is_none_or(|h| ts <= h);
        if !(every_interface_later || due || over) {
            return;
        }
        if over && !every_interface_later && !due {
            *limit_hits += 1;
        }
        let Some(held) = queues.get_mut(i).and_then(|q| q.pop_front()) else { return };
        *held_bytes = held_bytes.saturating_sub(held.data.len() + HELD_OVERHEAD);
        let link = handles.get(i).map_or(LinkType::Ethernet, |h| h.link);
        on_packet(&PacketRecord {
            ts: held.ts,
            link,
            data: &held.data,
            wire_len: held.wire_len,
            interface: u32::try_from(i).unwrap_or(u32::MAX),
        });
    }
}
