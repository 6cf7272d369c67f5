//! IP defragmentation: a sequence of fragments (a few datagram keys, any offsets, lengths,
//! more-fragments flags and header lengths, time steps) into the fragment table, with small
//! limits so that eviction, the per-datagram fragment limit and the timeout all happen.
//!
//! Checked besides "no panic", against a model kept here: the table's byte and datagram
//! bounds; a completed datagram's payload is exactly as long as its last fragment says, and
//! holds at every offset the byte that arrived first (the documented overlap policy) among the
//! fragments the table still held for it (events say which datagrams were dropped).
#![no_main]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use apitap_sensor::defrag::{DefragConfig, DefragEventKind, DefragOutcome, Defragmenter, FragKey, Fragment, RejectReason};
use apitap_sensor::Timestamp;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    max_bytes_total: u16,
    max_datagrams: u8,
    max_fragments: u8,
    timeout_ms: u16,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Fragment {
        key: u8,
        /// Offset in 8-byte units (13 bits on the wire).
        offset: u16,
        more: bool,
        len: u16,
        fill: u8,
        header_len: u8,
    },
    Wait {
        ms: u16,
    },
    Expire,
}

fn key(k: u8) -> FragKey {
    let (src, dst) = if k & 4 == 0 {
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
    } else {
        (IpAddr::V6(Ipv6Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    };
    FragKey { src, dst, id: u32::from(k & 3), protocol: 6 }
}

/// What the table should hold for one datagram: the first byte received at each offset.
#[derive(Default)]
struct Model {
    bytes: BTreeMap<u32, u8>,
    /// Where the last fragment said the datagram ends.
    end: Option<u32>,
}

impl Model {
    fn add(&mut self, offset: u32, more: bool, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            self.bytes.entry(offset + i as u32).or_insert(*b);
        }
        if !more {
            self.end = Some(offset + data.len() as u32);
        }
    }
}

fuzz_target!(|input: Input| {
    let cfg = DefragConfig {
        max_bytes_total: usize::from(input.max_bytes_total) * 4,
        max_datagrams: usize::from(input.max_datagrams % 8),
        max_fragments_per_datagram: usize::from(input.max_fragments % 32),
        timeout: Duration::from_millis(u64::from(input.timeout_ms)),
        // Every event is needed to keep the model in step.
        max_events: 1 << 20,
    };
    let mut table = Defragmenter::new(cfg.clone());
    let mut models: BTreeMap<FragKey, Model> = BTreeMap::new();
    let mut now = Timestamp::from_parts(1_000, 0);
    for op in input.ops.iter().take(2000) {
        match *op {
            Op::Wait { ms } => now = now.plus_nanos(u64::from(ms) * 1_000_000),
            Op::Expire => table.expire(now),
            Op::Fragment { key: k, offset, more, len, fill, header_len } => {
                let key = key(k);
                let offset = u32::from(offset & 0x1fff) * 8;
                let data: Vec<u8> = (0..len % 2048).map(|i| fill.wrapping_add(i as u8)).collect();
                let frag = Fragment { key, offset, more, data: &data, header_len: u32::from(header_len % 64) + 20 };
                let outcome = table.insert(now, frag);
                // Events first: they say which datagrams were dropped before this fragment counted.
                while let Some(e) = table.poll_event() {
                    match e.kind {
                        DefragEventKind::OverlapMismatch { .. } | DefragEventKind::BadLength { .. } => {}
                        _ => {
                            models.remove(&e.key);
                        }
                    }
                }
                match outcome {
                    DefragOutcome::Held => {
                        models.entry(key).or_default().add(offset, more, &data);
                    }
                    DefragOutcome::Complete(r) => {
                        assert_eq!(r.key, key);
                        let mut m = models.remove(&key).unwrap_or_default();
                        m.add(offset, more, &data);
                        assert_eq!(Some(r.payload.len() as u32), m.end, "length from the last fragment");
                        for (i, b) in r.payload.iter().enumerate() {
                            let want = m.bytes.get(&(i as u32));
                            assert_eq!(want, Some(b), "byte {i} of the reassembled datagram");
                        }
                        assert!(r.fragments >= 1);
                    }
                    DefragOutcome::Rejected(reason) => {
                        if reason != RejectReason::BadLength {
                            models.remove(&key);
                        }
                    }
                }
            }
        }
        assert!(table.pending_bytes() <= cfg.max_bytes_total, "{} bytes held", table.pending_bytes());
        assert!(table.pending_datagrams() <= cfg.max_datagrams);
    }
});
