//! librdkafka's callbacks: delivery reports, client errors and log lines. They run on the
//! replay thread (inside `poll`) and update the shared state under its lock.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};

use super::super::error::classify;
use super::super::error::ErrorClass;
use super::super::message::Topic;
use super::super::spool::SpoolRecord;
use super::events::{PublisherEvent, SpoolReason};
use super::state::{code_name, State, Verdict};
use super::window::Resolution;

/// The state and the condition `flush` waits on.
#[derive(Debug)]
pub struct Shared {
    /// The state.
    pub state: Mutex<State>,
    /// Signalled whenever delivery reports or the replay thread changed something.
    pub changed: Condvar,
}

impl Shared {
    /// The state; a lock poisoned by a panic elsewhere is taken over rather than spreading the
    /// panic to the capture path (the state stays consistent: every update is a few plain
    /// assignments).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where a message handed to librdkafka came from.
#[derive(Clone, Copy, Debug)]
pub enum Origin {
    /// Sent straight by `publish`, with its publish sequence.
    Direct(u64),
    /// Read from the spool, with its replay window tag.
    Replay(u64),
}

/// What travels with each message through librdkafka and comes back in its delivery report.
#[derive(Debug)]
pub struct Tag {
    /// Where it came from.
    pub origin: Origin,
    /// Its stream.
    pub topic: Topic,
    /// Its creation time (ms), to rebuild the spool record if it must be kept.
    pub created_ms: i64,
}

/// The producer context.
pub struct PublisherContext {
    /// Shared with the publisher.
    pub shared: Arc<Shared>,
}

impl ClientContext for PublisherContext {
    /// Warnings and worse, once per librdkafka facility (`CONFWARN`, `FAIL`, ...): the same
    /// condition repeats many times a second during an outage, and the counters and events
    /// carry the rest.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if level as i32 > RDKafkaLogLevel::Warning as i32 {
            return;
        }
        let mut st = self.shared.lock();
        st.log_once(format!("librdkafka:{fac}"), || format!("warning: kafka: librdkafka {fac}: {log_message}"));
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let mut st = self.shared.lock();
        st.stats.client_errors = st.stats.client_errors.saturating_add(1);
        let Some(code) = error.rdkafka_error_code() else {
            st.log_once(format!("client:{error}"), || format!("warning: kafka: {error}: {reason}"));
            return;
        };
        let fatal = match classify(code) {
            ErrorClass::Retriable => None,
            ErrorClass::Fatal(kind) => Some(kind),
        };
        let name = code_name(code);
        match fatal {
            Some(kind) => st.log_once(format!("client:{name}"), || format!("error: kafka: {reason} ({name}): {}", kind.operator_message())),
            None => st.log_once(format!("client:{name}"), || format!("warning: kafka: {reason} ({name}); messages are kept until the brokers take them")),
        }
        st.event(PublisherEvent::ClientError { code: name, fatal, reason: reason.to_string() });
    }
}

impl ProducerContext for PublisherContext {
    type DeliveryOpaque = Box<Tag>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<Tag>) {
        let mut st = self.shared.lock();
        match (tag.origin, result) {
            (Origin::Direct(_), Ok(_)) => {
                st.direct_unresolved = st.direct_unresolved.saturating_sub(1);
                st.stats.delivered = st.stats.delivered.saturating_add(1);
            }
            (Origin::Direct(seq), Err((e, msg))) => {
                st.direct_unresolved = st.direct_unresolved.saturating_sub(1);
                let code = e.rdkafka_error_code().unwrap_or(rdkafka::error::RDKafkaErrorCode::Fail);
                if let Verdict::Keep = st.judge(code, tag.topic) {
                    let rec = SpoolRecord {
                        topic: tag.topic,
                        created_ms: tag.created_ms,
                        key: msg.key().unwrap_or_default().to_vec(),
                        payload: msg.payload().unwrap_or_default().to_vec(),
                    };
                    st.rescue.insert(seq, rec);
                    st.stats.respooled = st.stats.respooled.saturating_add(1);
                    st.purge_requested = true;
                    st.start_spooling(SpoolReason::DeliveryFailed { code: code_name(code) });
                }
            }
            (Origin::Replay(t), Ok(_)) => {
                st.stats.delivered = st.stats.delivered.saturating_add(1);
                st.stats.replayed = st.stats.replayed.saturating_add(1);
                st.backoff = st.initial_backoff;
                for pos in st.window.resolve(t, Resolution::Done) {
                    st.spool.commit(pos);
                }
            }
            (Origin::Replay(t), Err((e, _))) => {
                let code = e.rdkafka_error_code().unwrap_or(rdkafka::error::RDKafkaErrorCode::Fail);
                match st.judge(code, tag.topic) {
                    Verdict::Keep => {
                        st.stats.replay_failures = st.stats.replay_failures.saturating_add(1);
                        if !st.window.failed() {
                            st.purge_requested = true;
                        }
                        st.window.resolve(t, Resolution::Failed);
                    }
                    Verdict::Drop(_) => {
                        for pos in st.window.resolve(t, Resolution::Done) {
                            st.spool.commit(pos);
                        }
                    }
                }
            }
        }
        drop(st);
        self.shared.changed.notify_all();
    }
}
