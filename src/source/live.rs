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

/// Captures until `stop` is set, `--count` packets were seen or `--duration` passed. `on_tick`
/// is called when the interface is quiet, with the wall-clock time as packet time; `on_stats`
/// about once a second with the kernel's counters so far. A failure
/// after the capture started is returned beside the statistics, so the caller can still flush
/// and summarise what was captured.
pub fn capture(
    args: &CaptureArgs,
    stop: &Arc<AtomicBool>,
    mut on_packet: impl FnMut(&PacketRecord<'_>),
    mut on_tick: impl FnMut(Timestamp),
    mut on_stats: impl FnMut(LiveStats),
) -> Result<(LiveStats, Option<anyhow::Error>)> {
    let inactive = pcap::Capture::from_device(args.interface.as_str())
        .with_context(|| format!("interface {}", args.interface))?;
    let cap = inactive
        .promisc(!args.no_promisc)
        .snaplen(args.snaplen)
        .buffer_size(args.buffer_mib.saturating_mul(1 << 20))
        .timeout(READ_TIMEOUT_MS)
        .precision(pcap::Precision::Nano)
        .open()
        .with_context(|| {
            format!("cannot open interface {} for capture (is it up, and are you root or CAP_NET_RAW?)", args.interface)
        })?;
    // Non-blocking reads: with TPACKET_V3 a quiet interface can block a read past its
    // timeout, and the loop must notice signals and the deadline.
    let mut cap = cap.setnonblock().context("cannot make the capture handle non-blocking")?;
    if let Some(filter) = &args.filter {
        cap.filter(filter, true).with_context(|| format!("invalid BPF filter {filter:?}"))?;
    }
    let link = LinkType::from_linktype(cap.get_datalink().0 as u32);
    eprintln!(
        "apitap: capturing on {} (link type {:?}, snaplen {}, promiscuous {})",
        args.interface, link, args.snaplen, !args.no_promisc
    );
    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs(s));
    let mut seen = 0u64;
    let mut failure = None;
    let mut next_stats = started + STATS_EVERY;
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| now >= d) {
            break;
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
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
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
    Ok((stats, failure))
}
