//! The publisher's shared state: the mode, the spool, the messages librdkafka holds, the
//! counters and the events. One lock guards it; `publish`, the delivery reports and the
//! replay thread each hold it only for a bounded amount of work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::super::error::{classify, ErrorClass, FatalKind};
use super::super::message::Topic;
use super::super::spool::{Spool, SpoolRecord, SpoolStats};
use super::events::{EventQueue, PublisherEvent, SpoolReason};
use super::window::ReplayWindow;
use rdkafka::error::RDKafkaErrorCode;

/// Longest wait between two replay attempts after failures.
pub const MAX_REPLAY_BACKOFF: Duration = Duration::from_secs(30);

/// Shortest time between two log lines about the spool starting or draining, so a sensor
/// flapping around a full queue does not flood its log (the events and counters keep all).
const SPOOL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Plain counters for the health messages. Every count is since the publisher started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublisherStats {
    /// `publish` calls.
    pub published: u64,
    /// Messages handed straight to librdkafka.
    pub sent_direct: u64,
    /// Messages written to the spool by `publish`.
    pub spooled: u64,
    /// Messages the brokers confirmed (straight or replayed).
    pub delivered: u64,
    /// Of those, messages that came from the spool.
    pub replayed: u64,
    /// Messages librdkafka handed back failed (retriable, or fatal but kept) and that were put
    /// back into the spool.
    pub respooled: u64,
    /// Replayed messages that failed and stay in the spool to be sent again.
    pub replay_failures: u64,
    /// Messages dropped after a fatal error confined to the message or its topic (too large
    /// for the broker, invalid, topic missing or not writable).
    pub failed_fatal: u64,
    /// Fatal errors after which the message was kept (authentication, the cluster's
    /// permission, invalid configuration, producer fatal): an operator must act.
    pub fatal_kept: u64,
    /// Messages dropped because the spool was full (by its policy).
    pub dropped_full: u64,
    /// Messages dropped because key plus payload exceeded `max_message_bytes`.
    pub dropped_too_large: u64,
    /// Messages dropped because the spool could not be written.
    pub dropped_spool_error: u64,
    /// Messages for a stream that is not published (transactions when off).
    pub dropped_disabled: u64,
    /// Times librdkafka's queue was full.
    pub queue_full: u64,
    /// Client-level errors librdkafka reported (connection refused, authentication, ...).
    pub client_errors: u64,
    /// Events not kept because too many were waiting.
    pub events_dropped: u64,
    /// Messages librdkafka holds right now (sent or queued, not yet reported).
    pub in_flight: u64,
    /// Whether new messages go to the spool right now.
    pub spooling: bool,
    /// The spool's own counters and sizes.
    pub spool: SpoolStats,
}

impl PublisherStats {
    /// Every message given up for good, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.failed_fatal
            .saturating_add(self.dropped_full)
            .saturating_add(self.dropped_too_large)
            .saturating_add(self.dropped_spool_error)
            .saturating_add(self.dropped_disabled)
    }
}

/// What a delivery report or a refused `produce` means for the message, after
/// classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it and send it again (retriable, or fatal with the message kept).
    Keep,
    /// Give it up (fatal, caused by the message).
    Drop(FatalKind),
}

/// The state behind the publisher's lock.
#[derive(Debug)]
pub struct State {
    /// The spool.
    pub spool: Spool,
    /// New messages go to the spool (true) or straight to librdkafka (false). It stays true
    /// until the spool is empty, nothing replayed is unresolved and no straight message is
    /// outstanding: that is what keeps the order.
    pub spooling: bool,
    /// Straight messages librdkafka holds.
    pub direct_unresolved: u64,
    /// Straight messages handed back failed, by publish sequence, waiting to go in front of
    /// the spool once every straight message is resolved.
    pub rescue: BTreeMap<u64, SpoolRecord>,
    /// The replay thread should purge librdkafka's queue (a failure happened: messages queued
    /// behind it must not overtake it).
    pub purge_requested: bool,
    /// Spooled records handed to librdkafka.
    pub window: ReplayWindow,
    /// No replay before this instant (backoff after a failure).
    pub retry_at: Option<Instant>,
    /// The next backoff.
    pub backoff: Duration,
    /// The first backoff (`replay_backoff_ms`).
    pub initial_backoff: Duration,
    /// Publish sequence of the next message.
    pub next_seq: u64,
    /// The replay thread must stop.
    pub stop: bool,
    /// Counters.
    pub stats: PublisherStats,
    /// Events for `drain_events`.
    pub events: EventQueue,
    /// Replayed count when the current spooling began (for the drained event).
    replayed_at_start: u64,
    /// Fatal kinds and client error codes already logged.
    logged: BTreeSet<String>,
    last_spool_log: Option<Instant>,
}

/// librdkafka's name for an error code (`MessageTimedOut`, ...).
pub fn code_name(code: RDKafkaErrorCode) -> String {
    format!("{code:?}")
}

impl State {
    /// A state around an opened spool; spooling from the start if the spool holds messages of
    /// an earlier run.
    pub fn new(spool: Spool, initial_backoff: Duration) -> State {
        let mut st = State {
            spooling: false,
            direct_unresolved: 0,
            rescue: BTreeMap::new(),
            purge_requested: false,
            window: ReplayWindow::default(),
            retry_at: None,
            backoff: initial_backoff,
            initial_backoff,
            next_seq: 0,
            stop: false,
            stats: PublisherStats::default(),
            events: EventQueue::default(),
            replayed_at_start: 0,
            logged: BTreeSet::new(),
            last_spool_log: None,
            spool,
        };
        let s = st.spool.stats();
        if s.corrupt_records > 0 {
            st.event(PublisherEvent::SpoolDamageSkipped { regions: s.corrupt_records, bytes: s.corrupt_bytes });
            super::super::log::line(&format!("warning: kafka spool: {} damaged stretches ({} bytes) skipped while opening (a crash cut a write short); the intact messages are replayed", s.corrupt_records, s.corrupt_bytes));
        }
        if !st.spool.is_empty() {
            let records = st.spool.pending_records();
            st.start_spooling(SpoolReason::LeftFromEarlierRun { records });
        }
        st
    }

    /// Adds an event.
    pub fn event(&mut self, e: PublisherEvent) {
        self.events.push(e);
    }

    /// Logs a line the first time `key` is seen; later occurrences are only counted.
    pub fn log_once(&mut self, key: String, line: impl FnOnce() -> String) {
        if self.logged.insert(key) {
            super::super::log::line(&line());
        }
    }

    /// Switches to spooling (no-op if already).
    pub fn start_spooling(&mut self, reason: SpoolReason) {
        if self.spooling {
            return;
        }
        self.spooling = true;
        self.replayed_at_start = self.stats.replayed;
        let now = Instant::now();
        if self.last_spool_log.is_none_or(|t| now.duration_since(t) >= SPOOL_LOG_INTERVAL) {
            self.last_spool_log = Some(now);
            super::super::log::line(&format!("warning: kafka: messages go to the disk spool until the brokers take them again ({reason:?})"));
        }
        self.event(PublisherEvent::SpoolingStarted { reason });
    }

    /// Switches back to straight sending once nothing is waiting; true if it did.
    pub fn finish_spooling_if_drained(&mut self) -> bool {
        let drained = self.spooling
            && self.direct_unresolved == 0
            && self.rescue.is_empty()
            && self.window.is_empty()
            && self.spool.is_empty();
        if drained {
            self.spooling = false;
            self.backoff = self.initial_backoff;
            self.retry_at = None;
            let replayed = self.stats.replayed.saturating_sub(self.replayed_at_start);
            let now = Instant::now();
            if self.last_spool_log.is_none_or(|t| now.duration_since(t) >= SPOOL_LOG_INTERVAL) {
                self.last_spool_log = Some(now);
                super::super::log::line(&format!("kafka: the spool is replayed ({replayed} messages); sending straight to the brokers again"));
            }
            self.event(PublisherEvent::SpoolDrained { replayed });
        }
        drained
    }

    /// Classifies a failure of a message of `topic`, counts and reports a fatal one (logging
    /// its operator message once per kind), and says whether to keep the message.
    pub fn judge(&mut self, code: RDKafkaErrorCode, topic: Topic) -> Verdict {
        match classify(code) {
            ErrorClass::Retriable => Verdict::Keep,
            ErrorClass::Fatal(kind) => {
                let kept = kind.keeps_message();
                if kept {
                    self.stats.fatal_kept = self.stats.fatal_kept.saturating_add(1);
                } else {
                    self.stats.failed_fatal = self.stats.failed_fatal.saturating_add(1);
                }
                self.log_once(format!("fatal:{kind:?}"), || format!("error: kafka: {kind} ({code:?}, topic {topic}): {}", kind.operator_message()));
                self.event(PublisherEvent::DeliveryFatal { kind, code: code_name(code), topic, kept });
                if kept {
                    Verdict::Keep
                } else {
                    Verdict::Drop(kind)
                }
            }
        }
    }

    /// The backoff before the next replay attempt; doubles the next one up to
    /// [`MAX_REPLAY_BACKOFF`].
    pub fn schedule_retry(&mut self, now: Instant) {
        self.retry_at = Some(now + self.backoff);
        self.backoff = self.backoff.saturating_mul(2).min(MAX_REPLAY_BACKOFF);
    }

    /// Whether nothing is held anywhere but possibly the spool (`flush` waits for this).
    pub fn idle(&self) -> bool {
        !self.spooling && self.direct_unresolved == 0
    }

    /// Counters with the current sizes filled in.
    pub fn snapshot(&self) -> PublisherStats {
        let mut s = self.stats.clone();
        s.in_flight = self.direct_unresolved.saturating_add(self.window.in_flight() as u64);
        s.spooling = self.spooling;
        s.events_dropped = self.events.dropped;
        s.spool = self.spool.stats();
        s.dropped_full = s.dropped_full.saturating_add(s.spool.dropped_full);
        s
    }
}
