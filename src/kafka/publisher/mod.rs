//! The Kafka publisher: `publish` never blocks the capture path; what the brokers cannot take
//! right now goes to the on-disk spool and is replayed in order by a background thread.
//!
//! Modes. While the spool is empty, `publish` hands messages straight to librdkafka
//! (idempotent producer, `acks=all`). The first time librdkafka's queue is full, or hands a
//! message back failed, or refuses one, the publisher switches to spooling: every new message
//! is appended to the spool. Messages that librdkafka still holds are left to finish; the ones
//! that fail come back through their delivery reports, and librdkafka's not-yet-sent queue is
//! purged so nothing queued behind a failure overtakes it. Once every straight message is
//! resolved, the failed ones are put in front of the spool (in publish order), and the thread
//! replays the spool in order. The publisher sends straight again only when the spool is
//! empty and nothing replayed is unconfirmed.
//!
//! Order. For every topic and key, the first copy of each message reaches the broker in
//! publish order (messages of one key go to one partition, and librdkafka's idempotent
//! producer keeps a partition's order). A message may arrive more than once after a failure
//! (at least once): a replayed record whose report was a failure, or a message confirmed after
//! the last saved spool cursor before a crash, is sent again, followed again by the messages
//! after it. Consumers de-duplicate by key and the message's own id.

mod context;
mod events;
mod state;
mod window;
mod worker;

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};
use serde::Serialize;

#[allow(unused_imports)] // MAX_PENDING_EVENTS: the tests name it
pub use events::{PublisherEvent, SpoolReason, MAX_PENDING_EVENTS};
pub use state::PublisherStats;

use super::config::{ConfigError, KafkaConfig, Secrets, TopicsConfig};
use super::error::{classify, ErrorClass, FatalKind};
use super::message::OutMessage;
use super::spool::{Appended, Spool, SpoolError, SpoolRecord};
use context::{Origin, PublisherContext, Shared, Tag};
use state::{code_name, State, Verdict};

/// How long shutdown waits for librdkafka to hand back purged messages so they can be
/// spooled.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// Why a publisher could not start; each variant names the layer.
#[derive(Debug)]
pub enum PublisherError {
    /// The `[kafka]` section (or a secret it names) is wrong.
    Config(ConfigError),
    /// The spool directory cannot be used.
    Spool(SpoolError),
    /// librdkafka refused the settings (its message names the setting).
    Client(String),
    /// The replay thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for PublisherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublisherError::Config(e) => write!(f, "kafka configuration: {e}"),
            PublisherError::Spool(e) => write!(f, "{e}"),
            PublisherError::Client(e) => write!(f, "kafka client: {e} (check [kafka.extra])"),
            PublisherError::Thread(e) => write!(f, "kafka: cannot start the replay thread: {e}"),
        }
    }
}

impl std::error::Error for PublisherError {}

/// What `publish` did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// Handed straight to librdkafka.
    Sent,
    /// Written to the spool.
    Spooled,
    /// Given up (counted in the stats, reported as an event).
    Dropped(DropReason),
}

/// Why a message was given up at `publish`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Key plus payload exceed `max_message_bytes`.
    TooLarge,
    /// The stream is not published (transactions when `publish_transactions` is off).
    TopicDisabled,
    /// The spool is full and its policy is drop-newest.
    SpoolFull,
    /// The spool could not be written.
    SpoolError,
    /// librdkafka refused the message for good.
    Fatal(FatalKind),
}

/// What a flush or shutdown achieved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    /// Everything published was confirmed by the brokers before the deadline.
    pub complete: bool,
    /// Messages confirmed since the publisher started.
    pub delivered: u64,
    /// Messages left in the spool, kept for the next start (not lost).
    pub left_in_spool: u64,
    /// Their bytes on disk.
    pub left_in_spool_bytes: u64,
    /// Messages librdkafka still held at the deadline (after `close`: 0, they were spooled,
    /// unless librdkafka did not hand them back in time).
    pub in_flight: u64,
    /// Messages given up since the start, for any reason (see the stats for which).
    pub dropped: u64,
    /// The full counters.
    pub stats: PublisherStats,
}

impl FlushReport {
    fn from_stats(stats: PublisherStats, complete: bool) -> FlushReport {
        FlushReport {
            complete,
            delivered: stats.delivered,
            left_in_spool: stats.spool.records,
            left_in_spool_bytes: stats.spool.bytes,
            in_flight: stats.in_flight,
            dropped: stats.dropped(),
            stats,
        }
    }
}

impl fmt::Display for FlushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kafka: {} delivered, {} left in the spool ({} bytes, sent at the next start), {} still in flight, {} dropped",
            self.delivered, self.left_in_spool, self.left_in_spool_bytes, self.in_flight, self.dropped
        )
    }
}

/// The publisher. Share it between threads behind an `Arc`: every method takes `&self`,
/// except [`Publisher::close`].
pub struct Publisher {
    producer: Arc<BaseProducer<PublisherContext>>,
    shared: Arc<Shared>,
    topics: TopicsConfig,
    max_message_bytes: u32,
    publish_transactions: bool,
    worker: Option<JoinHandle<()>>,
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher").field("topics", &self.topics).finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Publisher {
    /// Validates `cfg`, reads its secrets, opens the spool (replaying what an earlier run left)
    /// and starts the producer and the replay thread. Nothing is sent to the brokers before
    /// the first message; an unreachable broker is not an error here (messages spool).
    pub fn new(cfg: KafkaConfig, sensor_id: &str) -> Result<Publisher, PublisherError> {
        cfg.validate().map_err(PublisherError::Config)?;
        let secrets = Secrets::load(&cfg).map_err(PublisherError::Config)?;
        let spool = Spool::open(&cfg.spool).map_err(PublisherError::Spool)?;
        let state = State::new(spool, Duration::from_millis(cfg.replay_backoff_ms.into()));
        let shared = Arc::new(Shared { state: Mutex::new(state), changed: Condvar::new() });
        let mut client = cfg.client_config(sensor_id, &secrets);
        client.set_log_level(RDKafkaLogLevel::Warning);
        let producer: BaseProducer<PublisherContext> = client
            .create_with_context(PublisherContext { shared: Arc::clone(&shared) })
            .map_err(|e| PublisherError::Client(e.to_string()))?;
        let producer = Arc::new(producer);
        let worker = worker::Worker {
            producer: Arc::clone(&producer),
            shared: Arc::clone(&shared),
            topics: cfg.topics.clone(),
            max_in_flight: usize::try_from(cfg.replay_max_in_flight).unwrap_or(usize::MAX),
        };
        let handle = std::thread::Builder::new().name("apitap-kafka".into()).spawn(move || worker.run()).map_err(PublisherError::Thread)?;
        Ok(Publisher {
            producer,
            shared,
            topics: cfg.topics,
            max_message_bytes: cfg.max_message_bytes,
            publish_transactions: cfg.publish_transactions,
            worker: Some(handle),
        })
    }

    /// Publishes a message without blocking on the brokers: it goes straight to librdkafka's
    /// queue, or to the spool (see the module doc), or is dropped and counted (too large,
    /// stream disabled, spool full with drop-newest, spool unwritable, fatal refusal). The
    /// only waits are this publisher's lock (held by others for bounded work) and, while
    /// spooling, one buffered file write.
    pub fn publish(&self, msg: OutMessage) -> Published {
        let mut st = self.shared.lock();
        st.stats.published = st.stats.published.saturating_add(1);
        if msg.topic == super::message::Topic::Transactions && !self.publish_transactions {
            st.stats.dropped_disabled = st.stats.dropped_disabled.saturating_add(1);
            return Published::Dropped(DropReason::TopicDisabled);
        }
        let size = msg.size();
        if size > self.max_message_bytes as usize {
            st.stats.dropped_too_large = st.stats.dropped_too_large.saturating_add(1);
            st.event(PublisherEvent::MessageTooLarge { topic: msg.topic, bytes: size, limit: self.max_message_bytes });
            let limit = self.max_message_bytes;
            st.log_once("too-large".into(), || format!("warning: kafka: a {} message of {size} bytes exceeds max_message_bytes ({limit}) and was dropped; later ones are counted", msg.topic));
            return Published::Dropped(DropReason::TooLarge);
        }
        let created_ms = now_ms();
        let seq = st.next_seq;
        st.next_seq = seq.wrapping_add(1);
        if !st.spooling {
            let tag = Box::new(Tag { origin: Origin::Direct(seq), topic: msg.topic, created_ms });
            let record = BaseRecord::with_opaque_to(self.topics.name(msg.topic), tag).key(&msg.key).payload(&msg.payload).timestamp(created_ms);
            match self.producer.send(record) {
                Ok(()) => {
                    st.direct_unresolved = st.direct_unresolved.saturating_add(1);
                    st.stats.sent_direct = st.stats.sent_direct.saturating_add(1);
                    return Published::Sent;
                }
                Err((e, _)) => {
                    let code = e.rdkafka_error_code().unwrap_or(rdkafka::error::RDKafkaErrorCode::Fail);
                    let reason = if code == rdkafka::error::RDKafkaErrorCode::QueueFull {
                        st.stats.queue_full = st.stats.queue_full.saturating_add(1);
                        SpoolReason::QueueFull
                    } else {
                        SpoolReason::ProduceRefused { code: code_name(code) }
                    };
                    let verdict = match classify(code) {
                        ErrorClass::Retriable => Verdict::Keep,
                        ErrorClass::Fatal(_) => st.judge(code, msg.topic),
                    };
                    if let Verdict::Drop(kind) = verdict {
                        return Published::Dropped(DropReason::Fatal(kind));
                    }
                    st.start_spooling(reason);
                }
            }
        }
        let rec = SpoolRecord { topic: msg.topic, created_ms, key: msg.key, payload: msg.payload };
        match st.spool.append(&rec) {
            Ok(Appended::Stored { dropped_oldest }) => {
                st.stats.spooled = st.stats.spooled.saturating_add(1);
                if dropped_oldest > 0 {
                    report_full(&mut st, dropped_oldest);
                }
                Published::Spooled
            }
            Ok(Appended::DroppedNewest) => {
                report_full(&mut st, 1);
                Published::Dropped(DropReason::SpoolFull)
            }
            Err(e) => {
                st.stats.dropped_spool_error = st.stats.dropped_spool_error.saturating_add(1);
                st.log_once("spool-write".into(), || format!("error: {e}; messages are being dropped"));
                st.event(PublisherEvent::SpoolIo { error: e.to_string() });
                Published::Dropped(DropReason::SpoolError)
            }
        }
    }

    /// Counters and sizes right now.
    pub fn stats(&self) -> PublisherStats {
        self.shared.lock().snapshot()
    }

    /// Takes the events that happened since the last call (at most [`MAX_PENDING_EVENTS`]).
    pub fn drain_events(&self) -> Vec<PublisherEvent> {
        self.shared.lock().events.drain()
    }

    /// Waits up to `timeout` for everything published so far to be confirmed (the spool
    /// replayed and empty, librdkafka's queue empty); publishing may go on meanwhile. The
    /// report says whether it got there and what is left.
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if st.idle() {
                return FlushReport::from_stats(st.snapshot(), true);
            }
            let now = Instant::now();
            if now >= deadline {
                return FlushReport::from_stats(st.snapshot(), false);
            }
            st = match self.shared.changed.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Shuts down: flushes for up to `timeout`, then stops the replay thread, takes back what
    /// librdkafka still holds into the spool, and saves the spool. What the report counts as
    /// left in the spool is sent by the next publisher on the same spool directory.
    pub fn close(mut self, timeout: Duration) -> FlushReport {
        let flushed = self.flush(timeout);
        let report = self.shutdown();
        FlushReport { complete: flushed.complete && report.left_in_spool == 0, ..report }
    }

    fn shutdown(&mut self) -> FlushReport {
        let Some(handle) = self.worker.take() else {
            return FlushReport::from_stats(self.stats(), false);
        };
        self.shared.lock().stop = true;
        let _ = handle.join();
        // Only this thread touches librdkafka now. What it still holds comes back purged (never
        // sent) or purged in flight (perhaps written: it is sent again, at least once).
        self.producer.purge(PurgeConfig::default().queue().inflight());
        let until = Instant::now() + SHUTDOWN_DRAIN;
        loop {
            self.producer.poll(Duration::from_millis(20));
            let st = self.shared.lock();
            if (st.direct_unresolved == 0 && st.window.in_flight() == 0) || Instant::now() >= until {
                break;
            }
        }
        let mut st = self.shared.lock();
        let recs: Vec<_> = std::mem::take(&mut st.rescue).into_values().collect();
        st.window.clear();
        st.spool.rewind();
        if !recs.is_empty() {
            let n = recs.len() as u64;
            if let Err(e) = st.spool.prepend(&recs) {
                st.stats.dropped_spool_error = st.stats.dropped_spool_error.saturating_add(n);
                super::log::line(&format!("error: {e}; {n} messages could not be kept"));
            }
        }
        if let Err(e) = st.spool.checkpoint().and_then(|()| st.spool.sync()) {
            super::log::line(&format!("warning: {e}; a restart may send some confirmed messages again"));
        }
        let complete = st.spool.is_empty() && st.direct_unresolved == 0;
        FlushReport::from_stats(st.snapshot(), complete)
    }
}

fn report_full(st: &mut State, dropped: u64) {
    let policy = st.spool.policy();
    st.event(PublisherEvent::SpoolFull { policy, dropped });
    st.log_once("spool-full".into(), || format!("error: kafka: the spool is full; the {policy:?} policy drops messages (counted in dropped_full; raise kafka.spool.max_bytes or fix the brokers)"));
}

impl Drop for Publisher {
    /// Dropping without [`Publisher::close`] still keeps what librdkafka holds: it is spooled.
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
