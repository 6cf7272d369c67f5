//! N worker threads, each running its own [`Stages`] chain, fed by the thread that reads the
//! capture. Every packet goes to the worker of its connection (`apitap_sensor::decode::steer`:
//! the innermost address pair and the TCP ports, equal in both directions), and every IP
//! fragment where its datagram's first fragment went (`route`), so that a connection lives in
//! one flow table; packets travel in batches over bounded queues, and finished transactions come back tagged
//! with the input position that finished them. [`Merge`](super::merge::Merge) puts them back
//! in input order, so a replay gives the same analysis whatever the threads' timing.
//!
//! Why one reading thread and not the kernel's `PACKET_FANOUT`: see docs/ARCHITECTURE.md
//! ("Workers").

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apitap_discovery::inventory::InventoryConfig;
use apitap_parsers::http::HttpConfig;
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::decode::{steer, worker_of, DecodeConfig, Steer};
use apitap_sensor::flow::Sides;
use apitap_sensor::packet::LinkType;
use apitap_sensor::Timestamp;

use super::merge::{Merge, Released};
use super::route::{HeldFragment, Router};
use super::stages::{add_counters, Gauges, StageCounters, Stages};
use crate::config::Settings;

/// Packets gathered (over all workers) before the batches are handed over. Larger batches
/// cost less per packet to hand over; smaller ones keep records flowing sooner.
pub const BATCH_PACKETS: usize = 1024;

/// Bytes of packet data gathered (over all workers) before the batches are handed over.
pub const BATCH_BYTES: usize = 2 << 20;

/// Batches that may wait in one worker's queue. With [`BATCH_PACKETS`] this bounds the
/// packets in flight per worker.
pub const QUEUE_BATCHES: usize = 8;

/// Most worker threads a configuration may ask for.
pub const MAX_WORKERS: usize = 256;

/// Live capture: how long the reading thread waits for room in a full worker queue before it
/// drops that worker's batch. Waiting stalls every worker (the kernel ring then fills for
/// all connections); dropping confines the loss to the connections of the worker that fell
/// behind, and it is counted.
pub const LIVE_QUEUE_WAIT: Duration = Duration::from_millis(50);

/// A tick hands the batches over when they have waited this long (wall clock), so that
/// records keep flowing from a quiet link; a dense capture fills the batches first. Handing
/// over at every tick would cost a wake-up per worker per second of packet time, which a
/// replay of a sparse week turns into one per packet.
const TICK_FLUSH_AFTER: Duration = Duration::from_millis(20);

/// A worker reports its counters at a tick at most this often (wall clock), and always at the
/// end.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);

/// How long the reading thread waits between checks for worker output while a queue is
/// full.
const FULL_QUEUE_POLL: Duration = Duration::from_millis(1);

/// One entry of a batch, in input order.
enum Entry {
    /// A packet; its bytes are `data[start..end]` of the batch.
    Packet { index: u64, ts: Timestamp, link: LinkType, wire_len: u32, start: usize, end: usize },
    /// Expire idle flows as of `now`.
    Tick { index: u64, now: Timestamp },
    /// End of input: close a slice of the flows as of `now` (`Stages::finish_some`).
    Finish { index: u64, now: Timestamp },
    /// HTTP settings for new connections.
    HttpConfig(Arc<HttpConfig>),
    /// HTTP/2 limits for new connections.
    H2Config(Arc<apitap_parsers::h2::H2Config>),
    /// Prepare transactions for this analysis configuration.
    Analysis(Option<Arc<InventoryConfig>>),
    /// Tests only: the worker stalls this long (a worker that fell behind).
    #[cfg(test)]
    Stall(Duration),
}

/// Work for one worker: entries in input order, and the input position up to which the
/// worker has now been given everything meant for it.
#[derive(Default)]
struct Batch {
    entries: Vec<Entry>,
    data: Vec<u8>,
    upto: u64,
}

impl Batch {
    fn packets(&self) -> usize {
        self.entries.iter().filter(|e| matches!(e, Entry::Packet { .. })).count()
    }
}

/// What a worker reports back.
struct Output {
    worker: usize,
    /// Finished items with the input position that finished them, in order.
    done: Vec<(u64, crate::app::Done)>,
    /// Everything up to this position has been processed.
    upto: u64,
    /// Latest counters and gauges (after a tick or at the end).
    snapshot: Option<Box<Snapshot>>,
    /// A `Finish` entry of this batch closed the worker's last flow.
    finished: bool,
    /// The batch, emptied, for reuse.
    recycled: Batch,
    /// Nanoseconds spent processing this batch.
    busy_nanos: u64,
}

/// A worker's counters and gauges at one point, and the sides of connections closed since
/// its previous snapshot.
struct Snapshot {
    counters: StageCounters,
    gauges: Gauges,
    sides: (Vec<(std::net::SocketAddr, Sides)>, u64),
}

impl Snapshot {
    /// `stages`' counters and gauges now, taking the sides it has gathered.
    fn of(stages: &mut Stages) -> Box<Snapshot> {
        Box::new(Snapshot { counters: stages.counters(), gauges: stages.gauges(), sides: stages.take_sides() })
    }
}

/// One worker's load and losses, for the summary and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Packets handed to this worker.
    pub packets: u64,
    /// Packets dropped because its queue stayed full (live capture only).
    pub queue_drops: u64,
    /// Nanoseconds it spent processing.
    pub busy_nanos: u64,
}

/// The worker threads and the reading thread's side of them.
pub struct Workers {
    inputs: Vec<SyncSender<Batch>>,
    output: Receiver<Output>,
    handles: Vec<JoinHandle<()>>,
    /// Per worker: the batch being filled.
    filling: Vec<Batch>,
    /// Emptied batches returned by the workers.
    spare: Vec<Batch>,
    filling_packets: usize,
    filling_bytes: usize,
    last_flush: Instant,
    /// Input position of the next entry.
    index: u64,
    merge: Merge,
    /// Per worker: its latest counters and gauges.
    latest: Vec<Option<(StageCounters, Gauges)>>,
    sides: (Vec<(std::net::SocketAddr, Sides)>, u64),
    stats: Vec<WorkerStats>,
    /// How long to wait for room in a full queue before dropping the batch; `None` waits for
    /// ever (reading a file loses nothing).
    queue_wait: Option<Duration>,
    decode: DecodeConfig,
    router: Router,
    /// Per worker, once the end of input has begun: whether it has closed every flow.
    finished: Option<Vec<bool>>,
}

/// `settings` with every total limit split between `n` workers, so that the sum stays what
/// was configured.
fn share(settings: &Settings, n: usize) -> Settings {
    let part = |v: usize| v.div_ceil(n).max(1);
    let mut s = settings.clone();
    s.flow.max_flows = part(s.flow.max_flows);
    s.flow.max_buffered_total = part(s.flow.max_buffered_total);
    s.flow.max_retained_total = part(s.flow.max_retained_total);
    s.decode.defrag.max_bytes_total = part(s.decode.defrag.max_bytes_total);
    s.decode.defrag.max_datagrams = part(s.decode.defrag.max_datagrams);
    s.max_http_buffered_total = part(s.max_http_buffered_total);
    s
}

impl Workers {
    /// Starts `n` (at least 2) workers with `settings` shared between them.
    pub fn start(settings: &Settings, n: usize) -> std::io::Result<Self> {
        let n = n.max(2);
        let each = share(settings, n);
        let (out_tx, output) = mpsc::channel();
        let mut inputs = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for worker in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE_BATCHES);
            let stages = Stages::new(&each, true);
            let out = out_tx.clone();
            let handle = std::thread::Builder::new().name(format!("apitap-worker-{worker}")).spawn(move || run(worker, stages, rx, out))?;
            inputs.push(tx);
            handles.push(handle);
        }
        Ok(Workers {
            inputs,
            output,
            handles,
            filling: (0..n).map(|_| Batch::default()).collect(),
            spare: Vec::new(),
            filling_packets: 0,
            filling_bytes: 0,
            last_flush: Instant::now(),
            index: 0,
            merge: Merge::new(n),
            latest: (0..n).map(|_| None).collect(),
            sides: (Vec::new(), 0),
            stats: vec![WorkerStats::default(); n],
            queue_wait: settings.queue_wait,
            decode: settings.decode.clone(),
            router: Router::new(u64::try_from(settings.decode.defrag.timeout.as_nanos()).unwrap_or(u64::MAX)),
            finished: None,
        })
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Hands a packet to the worker of its connection (batched). A fragment goes where its
    /// datagram's first fragment went, and waits for it if it came first (see `route`).
    pub fn dispatch(&mut self, rec: &PacketRecord<'_>) {
        let n = self.len();
        match steer(&self.decode, rec.link, rec.data, rec.wire_len) {
            Steer::Unpaired => self.push(0, rec),
            Steer::Packet(h) => self.push(worker_of(h, n), rec),
            Steer::Fragment { datagram, pair, connection, first } => {
                let fallback = worker_of(pair, n);
                // A first fragment without TCP ports (another protocol, or a first fragment too
                // short to show them) goes by its pair, and the rest of its datagram with it.
                let first_to = first.then(|| connection.map_or(fallback, |c| worker_of(c, n)));
                let hold = || HeldFragment { ts: rec.ts, link: rec.link, wire_len: rec.wire_len, data: rec.data.to_vec(), fallback };
                let mut released = Vec::new();
                let to = self.router.fragment(rec.ts, datagram, first_to, hold, &mut released);
                // The fragments that waited arrived earlier: they go first, so that the worker
                // sees the datagram in capture order and completes it at the same packet.
                self.push_released(released);
                if let Some(w) = to {
                    self.push(w, rec);
                }
            }
        }
        if self.filling_packets >= BATCH_PACKETS || self.filling_bytes >= BATCH_BYTES {
            self.flush();
            self.collect(false);
        }
    }

    /// Adds a packet to `worker`'s batch.
    fn push(&mut self, worker: usize, rec: &PacketRecord<'_>) {
        let index = self.next_index();
        let Some(batch) = self.filling.get_mut(worker) else { return };
        let start = batch.data.len();
        batch.data.extend_from_slice(rec.data);
        batch.entries.push(Entry::Packet { index, ts: rec.ts, link: rec.link, wire_len: rec.wire_len, start, end: batch.data.len() });
        if let Some(s) = self.stats.get_mut(worker) {
            s.packets += 1;
        }
        self.filling_packets += 1;
        self.filling_bytes += rec.data.len();
    }

    /// Adds the fragments the router released to their workers' batches.
    fn push_released(&mut self, released: Vec<(usize, HeldFragment)>) {
        for (w, f) in released {
            self.push(w, &PacketRecord { ts: f.ts, link: f.link, data: &f.data, wire_len: f.wire_len, interface: 0 });
        }
    }

    /// Expires idle flows in every worker as of `now`; the merge advances the analysis
    /// there. `quiet`: no packet is coming (a quiet link), so hand everything over now.
    pub fn tick(&mut self, now: Timestamp, quiet: bool) {
        let mut released = Vec::new();
        self.router.expire(now, &mut released);
        self.push_released(released);
        let index = self.next_index();
        for b in &mut self.filling {
            b.entries.push(Entry::Tick { index, now });
        }
        self.merge.push_tick(index, now);
        if quiet || self.last_flush.elapsed() >= TICK_FLUSH_AFTER {
            self.flush();
        }
        self.collect(false);
    }

    /// HTTP settings for connections that start from now on.
    pub fn set_http_config(&mut self, cfg: Arc<HttpConfig>) {
        for b in &mut self.filling {
            b.entries.push(Entry::HttpConfig(Arc::clone(&cfg)));
        }
    }

    /// HTTP/2 limits for connections that start from now on.
    pub fn set_h2_config(&mut self, cfg: Arc<apitap_parsers::h2::H2Config>) {
        for b in &mut self.filling {
            b.entries.push(Entry::H2Config(Arc::clone(&cfg)));
        }
    }

    /// Prepares transactions for this analysis configuration from now on.
    pub fn set_analysis(&mut self, cfg: Option<Arc<InventoryConfig>>) {
        for b in &mut self.filling {
            b.entries.push(Entry::Analysis(cfg.clone()));
        }
    }

    /// End of input, a slice at a time: every worker that still holds flows closes a slice
    /// of them as of `now` (`Stages::finish_some`); returns when all have answered, true once
    /// every worker has closed its last flow (or a worker failed, which is logged). Each call
    /// is an input position of its own, so the merge releases the slice's items in worker
    /// order before the next slice starts.
    pub fn finish_some(&mut self, now: Timestamp) -> bool {
        if self.finished.is_none() {
            let mut released = Vec::new();
            self.router.finish(&mut released);
            self.push_released(released);
            self.finished = Some(vec![false; self.len()]);
        }
        let index = self.next_index();
        let pending = self.finished.clone().unwrap_or_default();
        for (b, done) in self.filling.iter_mut().zip(pending) {
            if !done {
                b.entries.push(Entry::Finish { index, now });
            }
        }
        // The last batches must arrive whatever the queue policy.
        let wait = self.queue_wait.take();
        self.flush();
        self.queue_wait = wait;
        while self.merge.upto() < index {
            match self.output.recv_timeout(Duration::from_millis(100)) {
                Ok(out) => self.absorb(out),
                Err(RecvTimeoutError::Timeout) => {
                    // A worker only ends when its queue closes, so one that ended panicked:
                    // what it held is lost, and waiting for it would never end.
                    if self.handles.iter().any(JoinHandle::is_finished) {
                        tracing::error!("a worker thread failed; the connections it held are lost");
                        return true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return true,
            }
        }
        self.finished.as_ref().is_none_or(|f| f.iter().all(|d| *d))
    }

    /// End of input at once: [`Workers::finish_some`] until every worker is done.
    #[cfg(test)]
    pub fn finish(&mut self, now: Timestamp) {
        while !self.finish_some(now) {}
    }

    /// Items the merge has released, in input order.
    pub fn take_released(&mut self) -> Vec<Released> {
        self.merge.take_released()
    }

    /// Sum of the workers' latest counters, and the reading thread's fragment routing.
    pub fn counters(&self) -> StageCounters {
        let mut all = StageCounters::new();
        let r = self.router.stats();
        all.insert(
            "steering",
            std::collections::BTreeMap::from([
                ("fragments_held", r.held),
                ("fragments_unrouted", r.unrouted),
                ("fragment_routes_evicted", r.routes_evicted),
            ]),
        );
        for (counters, _) in self.latest.iter().flatten() {
            add_counters(&mut all, counters);
        }
        all
    }

    /// Sum of the workers' latest gauges.
    pub fn gauges(&self) -> Gauges {
        self.latest.iter().flatten().fold(Gauges::default(), |acc, (_, g)| acc.add(*g))
    }

    /// Connections closed per service since the last call, over all workers.
    pub fn take_sides(&mut self) -> (Vec<(std::net::SocketAddr, Sides)>, u64) {
        std::mem::take(&mut self.sides)
    }

    /// Each worker's load and losses.
    pub fn stats(&self) -> &[WorkerStats] {
        &self.stats
    }

    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Hands every worker its batch (empty ones too: they carry how far the input went).
    fn flush(&mut self) {
        let upto = self.index;
        for worker in 0..self.inputs.len() {
            let fresh = self.spare.pop().unwrap_or_default();
            let Some(slot) = self.filling.get_mut(worker) else { continue };
            let mut batch = std::mem::replace(slot, fresh);
            batch.upto = upto;
            self.send(worker, batch);
        }
        self.filling_packets = 0;
        self.filling_bytes = 0;
        self.last_flush = Instant::now();
    }

    /// Sends `batch` to `worker`, taking in worker output while its queue is full. Past the
    /// queue wait (live capture), the batch's packets are dropped and counted; its other
    /// entries and its position still go, so that the merge never waits for them.
    fn send(&mut self, worker: usize, mut batch: Batch) {
        let Some(tx) = self.inputs.get(worker).cloned() else { return };
        let started = Instant::now();
        loop {
            match tx.try_send(batch) {
                Ok(()) => return,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(b)) => batch = b,
            }
            if let Some(wait) = self.queue_wait {
                if started.elapsed() >= wait && batch.packets() > 0 {
                    let dropped = batch.packets() as u64;
                    if let Some(s) = self.stats.get_mut(worker) {
                        s.queue_drops += dropped;
                    }
                    batch.entries.retain(|e| !matches!(e, Entry::Packet { .. }));
                    batch.data.clear();
                }
            }
            if let Ok(out) = self.output.recv_timeout(FULL_QUEUE_POLL) {
                self.absorb(out);
            }
        }
    }

    /// Takes in whatever worker output is ready (`block`: wait for at least one).
    fn collect(&mut self, block: bool) {
        if block {
            if let Ok(out) = self.output.recv() {
                self.absorb(out);
            }
        }
        while let Ok(out) = self.output.try_recv() {
            self.absorb(out);
        }
    }

    fn absorb(&mut self, out: Output) {
        let Output { worker, done, upto, snapshot, finished, recycled, busy_nanos } = out;
        if finished {
            if let Some(f) = self.finished.as_mut().and_then(|f| f.get_mut(worker)) {
                *f = true;
            }
        }
        if let Some(s) = self.stats.get_mut(worker) {
            s.busy_nanos = s.busy_nanos.saturating_add(busy_nanos);
        }
        if let Some(snap) = snapshot {
            let Snapshot { counters, gauges, sides } = *snap;
            self.sides.0.extend(sides.0);
            self.sides.1 = self.sides.1.saturating_add(sides.1);
            if let Some(slot) = self.latest.get_mut(worker) {
                *slot = Some((counters, gauges));
            }
        }
        self.merge.push(worker, done, upto);
        if self.spare.len() < self.inputs.len() * 2 {
            self.spare.push(recycled);
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the queues ends the workers' loops.
        self.inputs.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A worker's loop: process batches until its queue closes.
fn run(worker: usize, mut stages: Stages, input: Receiver<Batch>, output: mpsc::Sender<Output>) {
    let mut last_snapshot: Option<Instant> = None;
    while let Ok(mut batch) = input.recv() {
        let started = Instant::now();
        let mut done = Vec::new();
        let mut snapshot = None;
        let mut finished = false;
        for entry in batch.entries.drain(..) {
            match entry {
                Entry::Packet { index, ts, link, wire_len, start, end } => {
                    let data = batch.data.get(start..end).unwrap_or(&[]);
                    stages.handle_packet(&PacketRecord { ts, link, data, wire_len, interface: 0 });
                    if stages.has_done() {
                        done.extend(stages.take_done().into_iter().map(|d| (index, d)));
                    }
                }
                Entry::Tick { index, now } => {
                    stages.expire(now);
                    done.extend(stages.take_done().into_iter().map(|d| (index, d)));
                    if last_snapshot.is_none_or(|t| t.elapsed() >= SNAPSHOT_EVERY) {
                        snapshot = Some(Snapshot::of(&mut stages));
                        last_snapshot = Some(Instant::now());
                    }
                }
                Entry::Finish { index, now } => {
                    finished = stages.finish_some(now);
                    done.extend(stages.take_done().into_iter().map(|d| (index, d)));
                    if finished {
                        snapshot = Some(Snapshot::of(&mut stages));
                    }
                }
                Entry::HttpConfig(cfg) => stages.set_http_config(cfg),
                Entry::H2Config(cfg) => stages.set_h2_config(cfg),
                Entry::Analysis(cfg) => stages.set_analysis(cfg),
                #[cfg(test)]
                Entry::Stall(d) => std::thread::sleep(d),
            }
        }
        batch.data.clear();
        let upto = batch.upto;
        let busy_nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if output.send(Output { worker, done, upto, snapshot, finished, recycled: batch, busy_nanos }).is_err() {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings(queue_wait: Option<Duration>) -> Settings {
        Settings {
            decode: DecodeConfig::default(),
            flow: apitap_sensor::flow::FlowConfig::default(),
            http: Arc::new(HttpConfig::default()),
            max_http_buffered_total: 1 << 20,
            inventory: false,
            stop_after: None,
            workers: 2,
            queue_wait,
            tls_keys: None,
            keylog_files: Vec::new(),
            keylog_dir: None,
            decrypt: Default::default(),
            h2: Default::default(),
        }
    }

    /// A TCP packet of one of many connections between two hosts.
    fn packet(port: u16) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(port, 80, 1, 1000);
        let mut out = Vec::new();
        b.write(&mut out, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        out
    }

    fn feed(w: &mut Workers, n: u16) {
        for i in 0..n {
            let data = packet(1024 + i);
            w.dispatch(&PacketRecord { ts: Timestamp(1_000 + u64::from(i)), link: LinkType::Raw, data: &data, wire_len: data.len() as u32, interface: 0 });
        }
    }

    fn stall_all(w: &mut Workers, d: Duration) {
        for b in &mut w.filling {
            b.entries.push(Entry::Stall(d));
        }
        w.flush();
    }

    #[test]
    fn a_stalled_worker_loses_its_packets_live_and_nothing_when_reading_a_file() {
        // Live: the workers stall; the queues fill; past the wait, batches are dropped and
        // counted per worker, and the end of input still completes.
        let mut live = Workers::start(&settings(Some(Duration::from_millis(5))), 2).unwrap();
        stall_all(&mut live, Duration::from_millis(300));
        feed(&mut live, 30_000);
        live.finish(Timestamp(1_000_000));
        let dropped: u64 = live.stats().iter().map(|s| s.queue_drops).sum();
        let handed: u64 = live.stats().iter().map(|s| s.packets).sum();
        assert_eq!(handed, 30_000);
        assert!(dropped > 0, "a stalled worker's batches are dropped: {:?}", live.stats());
        let tcp = live.counters();
        let decoded = tcp.get("decode").and_then(|d| d.get("packets")).copied().unwrap_or(0);
        assert_eq!(decoded + dropped, 30_000, "every packet was either decoded or counted as dropped");

        // A file: the same stall loses nothing.
        let mut file = Workers::start(&settings(None), 2).unwrap();
        stall_all(&mut file, Duration::from_millis(300));
        feed(&mut file, 30_000);
        file.finish(Timestamp(1_000_000));
        assert_eq!(file.stats().iter().map(|s| s.queue_drops).sum::<u64>(), 0);
        let decoded = file.counters().get("decode").and_then(|d| d.get("packets")).copied().unwrap_or(0);
        assert_eq!(decoded, 30_000);
    }
}
