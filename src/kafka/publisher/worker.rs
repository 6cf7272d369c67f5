//! The replay thread: serves librdkafka's callbacks (`poll`), purges librdkafka's queue after a
//! failure, puts failed messages back in front of the spool, replays the spool in order, and
//! saves the spool's cursor about once a second. It is the only thread that reads the spool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};

use super::super::config::TopicsConfig;
use super::super::error::{classify, ErrorClass};
use super::context::{Origin, PublisherContext, Shared, Tag};
use super::events::PublisherEvent;
use super::state::{code_name, State, Verdict};
use super::window::Resolution;

/// Records replayed per hold of the lock, so `publish` never waits long behind the replay.
const REPLAY_BATCH: usize = 256;
/// How long `poll` waits for callbacks when there is nothing else to do.
const IDLE_POLL: Duration = Duration::from_millis(10);
/// How often the spool's cursor is saved.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// What the thread needs besides the shared state.
pub struct Worker {
    /// The producer (shared with `publish`).
    pub producer: Arc<BaseProducer<PublisherContext>>,
    /// The shared state.
    pub shared: Arc<Shared>,
    /// Topic names.
    pub topics: TopicsConfig,
    /// `replay_max_in_flight`.
    pub max_in_flight: usize,
}

impl Worker {
    /// Runs until the state's `stop` is set.
    pub fn run(self) {
        let mut last_checkpoint = Instant::now();
        let mut busy = false;
        loop {
            // While librdkafka holds messages, its poll serves their delivery reports as they
            // come (one event per call, so it is called with a deadline). With nothing in
            // librdkafka the worker sleeps on the state instead: a poll with a deadline spins
            // on its last fraction of a millisecond.
            if busy || self.producer.in_flight_count() > 0 {
                self.producer.poll(if busy { Duration::ZERO } else { IDLE_POLL });
            } else {
                self.producer.poll(Duration::ZERO);
                let st = self.shared.lock();
                if !st.stop {
                    let _ = self.shared.changed.wait_timeout(st, IDLE_POLL);
                }
            }
            let purge = {
                let mut st = self.shared.lock();
                if st.stop {
                    return;
                }
                std::mem::take(&mut st.purge_requested)
            };
            if purge {
                // Messages queued behind a failed one must not overtake it: they come back as
                // purged (never sent, so never duplicated) and keep their order in the spool.
                self.producer.purge(PurgeConfig::default().queue());
                busy = true;
                continue;
            }
            let now = Instant::now();
            let mut st = self.shared.lock();
            busy = self.step(&mut st, now);
            if now.duration_since(last_checkpoint) >= CHECKPOINT_EVERY {
                last_checkpoint = now;
                if let Err(e) = st.spool.checkpoint() {
                    st.log_once("spool-checkpoint".into(), || format!("warning: {e}; a restart may send some confirmed messages again"));
                }
            }
            drop(st);
            self.shared.changed.notify_all();
        }
    }

    /// One round of the spooling logic; true if there is more to send right away.
    fn step(&self, st: &mut State, now: Instant) -> bool {
        if !st.spooling || st.direct_unresolved > 0 {
            // Straight messages are still in librdkafka: nothing from the spool may go before
            // they are resolved, or a failed one would land behind newer messages.
            return false;
        }
        if !st.rescue.is_empty() && st.window.is_empty() {
            let recs: Vec<_> = std::mem::take(&mut st.rescue).into_values().collect();
            let n = recs.len() as u64;
            if let Err(e) = st.spool.prepend(&recs) {
                st.stats.dropped_spool_error = st.stats.dropped_spool_error.saturating_add(n);
                st.log_once("spool-write".into(), || format!("error: {e}; messages are being dropped"));
                st.event(PublisherEvent::SpoolIo { error: e.to_string() });
            }
        }
        if st.window.failed() {
            if st.window.in_flight() > 0 {
                return false;
            }
            // Every replayed record is resolved: forget them and read again from the first
            // unconfirmed one. Failed records whose segment the full policy dropped meanwhile
            // are lost; count them.
            let failed = st.window.clear();
            let lost = failed.iter().filter(|p| !st.spool.has_segment(p.segment)).count() as u64;
            st.stats.dropped_full = st.stats.dropped_full.saturating_add(lost);
            st.spool.rewind();
            st.schedule_retry(now);
            return false;
        }
        if st.retry_at.is_some_and(|t| now < t) {
            return false;
        }
        st.retry_at = None;
        let mut sent = 0;
        while sent < REPLAY_BATCH && st.window.in_flight() < self.max_in_flight {
            let mark = st.spool.mark();
            let (rec, pos) = match st.spool.read_next() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    st.log_once("spool-read".into(), || format!("error: {e}; the spool is read again later"));
                    st.event(PublisherEvent::SpoolIo { error: e.to_string() });
                    st.spool.reset(mark);
                    st.schedule_retry(now);
                    break;
                }
            };
            let tag = st.window.push(pos);
            let opaque = Box::new(Tag { origin: Origin::Replay(tag), topic: rec.topic, created_ms: rec.created_ms });
            let record = BaseRecord::with_opaque_to(self.topics.name(rec.topic), opaque)
                .key(&rec.key)
                .payload(&rec.payload)
                .timestamp(rec.created_ms);
            match self.producer.send(record) {
                Ok(()) => sent += 1,
                Err((e, _)) => {
                    let code = e.rdkafka_error_code().unwrap_or(rdkafka::error::RDKafkaErrorCode::Fail);
                    if matches!(classify(code), ErrorClass::Retriable) {
                        if code == rdkafka::error::RDKafkaErrorCode::QueueFull {
                            st.stats.queue_full = st.stats.queue_full.saturating_add(1);
                        } else {
                            st.log_once(format!("replay-refused:{}", code_name(code)), || format!("warning: kafka: librdkafka refused a replayed message ({code:?}); retrying later"));
                            st.schedule_retry(now);
                        }
                        st.window.unpush();
                        st.spool.reset(mark);
                        break;
                    }
                    match st.judge(code, rec.topic) {
                        Verdict::Keep => {
                            st.window.unpush();
                            st.spool.reset(mark);
                            st.schedule_retry(now);
                            break;
                        }
                        Verdict::Drop(_) => {
                            for p in st.window.resolve(tag, Resolution::Done) {
                                st.spool.commit(p);
                            }
                        }
                    }
                }
            }
        }
        st.finish_spooling_if_drained();
        sent == REPLAY_BATCH
    }
}
