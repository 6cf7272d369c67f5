//! What happened inside the publisher, one type per kind of thing, so the health messages and
//! the logs name them the same way and tests can check them.

use std::collections::VecDeque;

use serde::Serialize;

use super::super::config::FullPolicy;
use super::super::error::FatalKind;
use super::super::message::Topic;

/// Events waiting for [`super::Publisher::drain_events`] at most; older ones stay, newer ones
/// are counted in `events_dropped` (the counters in the stats keep the totals either way).
pub const MAX_PENDING_EVENTS: usize = 1024;

/// Why the publisher started writing messages to the spool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SpoolReason {
    /// librdkafka's queue was full (`queue_max_messages` / `queue_max_kbytes`): the brokers are
    /// slower than the sensor, or unreachable.
    QueueFull,
    /// librdkafka handed a message back as failed (its code, e.g. `MessageTimedOut`).
    DeliveryFailed {
        /// librdkafka's error code name.
        code: String,
    },
    /// `produce` refused a message (its code).
    ProduceRefused {
        /// librdkafka's error code name.
        code: String,
    },
    /// The spool held messages from an earlier run.
    LeftFromEarlierRun {
        /// How many.
        records: u64,
    },
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum PublisherEvent {
    /// New messages go to the spool until it is replayed and empty.
    SpoolingStarted {
        /// Why.
        #[serde(flatten)]
        reason: SpoolReason,
    },
    /// The spool was replayed to the end; messages go straight to librdkafka again.
    SpoolDrained {
        /// Messages replayed from the spool since it started filling.
        replayed: u64,
    },
    /// The spool was full and the policy dropped messages.
    SpoolFull {
        /// The policy.
        policy: FullPolicy,
        /// Messages dropped this time.
        dropped: u64,
    },
    /// A message was larger than `max_message_bytes` and was dropped before publishing.
    MessageTooLarge {
        /// Its stream.
        topic: Topic,
        /// Key plus payload bytes.
        bytes: usize,
        /// The limit.
        limit: u32,
    },
    /// A delivery failed for a reason retrying alone cannot fix.
    DeliveryFatal {
        /// The kind (also the operator's message).
        kind: FatalKind,
        /// librdkafka's error code name.
        code: String,
        /// The message's stream.
        topic: Topic,
        /// Whether the message was kept in the spool (true) or dropped (false).
        kept: bool,
    },
    /// librdkafka reported a client-level error (broker down, authentication, ...).
    ClientError {
        /// librdkafka's error code name.
        code: String,
        /// Fatal kind, if the code is not retriable.
        fatal: Option<FatalKind>,
        /// librdkafka's description (it never contains a secret).
        reason: String,
    },
    /// Writing or reading the spool failed; the message concerned was dropped (writing) or
    /// will be read again later (reading).
    SpoolIo {
        /// The error, naming the operation and the path.
        error: String,
    },
    /// The spool was opened with damaged stretches (a torn tail after a crash), skipped.
    SpoolDamageSkipped {
        /// Damaged stretches.
        regions: u64,
        /// Their bytes.
        bytes: u64,
    },
}

/// A bounded queue of events.
#[derive(Debug, Default)]
pub struct EventQueue {
    events: VecDeque<PublisherEvent>,
    /// Events not kept because the queue was full.
    pub dropped: u64,
}

impl EventQueue {
    /// Adds an event, or counts it if [`MAX_PENDING_EVENTS`] are waiting.
    pub fn push(&mut self, e: PublisherEvent) {
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.dropped = self.dropped.saturating_add(1);
        } else {
            self.events.push_back(e);
        }
    }

    /// Takes every waiting event, oldest first.
    pub fn drain(&mut self) -> Vec<PublisherEvent> {
        self.events.drain(..).collect()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_keeps_the_first_events_and_counts_the_rest() {
        let mut q = EventQueue::default();
        for i in 0..MAX_PENDING_EVENTS + 5 {
            q.push(PublisherEvent::SpoolDrained { replayed: i as u64 });
        }
        assert_eq!(q.dropped, 5);
        let all = q.drain();
        assert_eq!(all.len(), MAX_PENDING_EVENTS);
        assert_eq!(all.first(), Some(&PublisherEvent::SpoolDrained { replayed: 0 }));
        assert!(q.drain().is_empty());
    }

    #[test]
    fn events_serialise_with_their_kind_and_reason() {
        let e = PublisherEvent::SpoolingStarted { reason: SpoolReason::DeliveryFailed { code: "MessageTimedOut".into() } };
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["event"], "spooling_started");
        assert_eq!(v["reason"], "delivery_failed");
        assert_eq!(v["code"], "MessageTimedOut");
    }
}
