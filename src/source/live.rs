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

/// Kernel and libpcap loss counters of a live capture.
#[derive(Debug, Default, Clone, Copy)]
pub struct LiveStats {
    /// Packets the kernel passed to the filter.
    pub received: u64,
    /// Packets dropped because the capture buffer was full (`ps_drop`).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver (`ps_ifdrop`).
    pub if_dropped: u64,
}

/// How often the kernel's counters are read during a capture (for health messages).
const STATS_EVERY: Duration = Duration::from_secs(1);

fn live_stats<T: pcap::State + ?Sized + pcap::Activated>(cap: &mut pcap::Capture<T>) -> Option<LiveStats> {
    cap.stats().ok().map(|s| LiveStats { received: u64::from(s.received), dropped: u64::from(s.dropped), if_dropped: u64::from(s.if_dropped) })
}

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name.
    pub interface: String,
    /// BPF filter.
    pub filter: Option<String>,
    /// Bytes captured per packet.
    pub snaplen: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Kernel buffer in MiB.
    pub buffer_mib: i32,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this many seconds.
    pub duration: Option<u64>,
}

impl From<&CaptureArgs> for LiveOptions {
    fn from(args: &CaptureArgs) -> Self {
        LiveOptions {
            interface: args.interface.clone(),
            filter: args.filter.clone(),
            snaplen: args.snaplen,
            promisc: !args.no_promisc,
            buffer_mib: args.buffer_mib,
            count: args.count,
            duration: args.duration,
        }
    }
}

/// An open capture handle, ready to [`LiveCapture::run`]. Opening needs CAP_NET_RAW; running
/// needs no privilege, so a daemon opens, drops its privileges, then runs.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    opts: LiveOptions,
}

impl LiveCapture {
    /// Opens the interface with the options' filter, snap length and buffer.
    pub fn open(opts: &LiveOptions) -> Result<Self> {
        let inactive = pcap::Capture::from_device(opts.interface.as_str())
            .with_context(|| format!("interface {}", opts.interface))?;
        let cap = inactive
            .promisc(opts.promisc)
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_mib.saturating_mul(1 << 20))
            .timeout(READ_TIMEOUT_MS)
            .precision(pcap::Precision::Nano)
            .open()
            .with_context(|| {
                format!("cannot open interface {} for capture (is it up, and are you root or CAP_NET_RAW?)", opts.interface)
            })?;
        // Non-blocking reads: with TPACKET_V3 a quiet interface can block a read past its
        // timeout, and the loop must notice signals and the deadline.
        let mut cap = cap.setnonblock().context("cannot make the capture handle non-blocking")?;
        if let Some(filter) = &opts.filter {
            cap.filter(filter, true).with_context(|| format!("invalid BPF filter {filter:?}"))?;
        }
        let link = LinkType::from_linktype(cap.get_datalink().0 as u32);
        Ok(LiveCapture { cap, link, opts: opts.clone() })
    }

    /// The interface's link type.
    pub fn link(&self) -> LinkType {
        self.link
    }
}

/// Captures until `stop` is set, `--count` packets were seen or `--duration` passed. `on_tick`
/// is called when the interface is quiet, with the wall-clock time as packet time; `on_stats`
/// about once a second with the kernel's counters so far. A failure
/// after the capture started is returned beside the statistics, so the caller can still flush
/// and summarise what was captured.
pub fn capture(
    args: &CaptureArgs,
    stop: &Arc<AtomicBool>,
    on_packet: impl FnMut(&PacketRecord<'_>),
    on_tick: impl FnMut(Timestamp),
    on_stats: impl FnMut(LiveStats),
) -> Result<(LiveStats, Option<anyhow::Error>)> {
    let live = LiveCapture::open(&LiveOptions::from(args))?;
    eprintln!(
        "apitap: capturing on {} (link type {:?}, snaplen {}, promiscuous {})",
        args.interface, live.link, args.snaplen, !args.no_promisc
    );
    Ok(live.run(stop, on_packet, on_tick, on_stats))
}

impl LiveCapture {
    /// Runs the capture loop until `stop`, the count or the duration; see [`capture`].
    pub fn run(
        self,
        stop: &Arc<AtomicBool>,
        mut on_packet: impl FnMut(&PacketRecord<'_>),
        mut on_tick: impl FnMut(Timestamp),
        mut on_stats: impl FnMut(LiveStats),
    ) -> (LiveStats, Option<anyhow::Error>) {
        let LiveCapture { mut cap, link, opts } = self;
        let args = &opts;
        let started = Instant::now();
        let deadline = args.duration.map(|s| started + Duration::from_secs(s));
        let mut seen = 0u64;
        let mut failure = None;
        let mut next_stats = started + STATS_EVERY;
        // Once asked to stop, what the kernel already holds is still read: a block of the
        // TPACKET_V3 ring becomes readable only when full or after the read timeout, so the
        // last requests before a SIGTERM would otherwise be lost.
        let mut draining_until: Option<Instant> = None;
        loop {
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
                if let Some(s) = live_stats(&mut cap) {
                    on_stats(s);
                }
            }
            if args.count.is_some_and(|c| seen >= c) {
                break;
            }
            match cap.next_packet() {
                Ok(packet) => {
                    seen += 1;
                    let h = packet.header;
                    let ts = Timestamp::from_parts(h.ts.tv_sec.max(0) as u64, h.ts.tv_usec.clamp(0, 999_999_999) as u32);
                    on_packet(&PacketRecord { ts, link, data: packet.data, wire_len: h.len, interface: 0 });
                }
                Err(pcap::Error::TimeoutExpired) => {
                    // The ring is empty: the kernel keeps buffering while we sleep.
                    std::thread::sleep(Duration::from_millis(IDLE_SLEEP_MS));
                    // Packet time follows the wall clock, behind it by what the ring may still
                    // hold, so the packets read next are not earlier than the tick.
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .saturating_sub(TICK_LAG);
                    on_tick(Timestamp::from_parts(now.as_secs(), now.subsec_nanos()));
                }
                Err(err) => {
                    // The interface went away or the handle broke: what was captured is still
                    // flushed and summarised by the caller.
                    failure = Some(anyhow::Error::new(err).context(format!("capture on {} failed", args.interface)));
                    break;
                }
            }
        }
        let stats = live_stats(&mut cap).unwrap_or_default();
        (stats, failure)
    }
}
