//! The sensor's health: `ok`, `degraded` (working, but losing data or unable to deliver it) or
//! `failing` (what it produces will not survive), with the reasons. [`HealthMonitor`] derives
//! it from successive [`SensorMetrics`]; the daemon may also build a [`Health`] itself.
//!
//! Served as JSON at `/health` (HTTP 200 for ok and degraded, 503 for failing) and as the
//! `apitap_health_*` families of the exposition. The clock is the caller's: every time is an
//! argument.

use serde::Serialize;
use serde_json::json;

use super::model::SensorMetrics;

/// The overall state, from best to worst.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Capturing, delivering, persisting.
    #[default]
    Ok,
    /// Working, but losing packets or holding back deliveries: look soon.
    Degraded,
    /// Not doing its job (what it learns is not persisted): act now.
    Failing,
}

impl HealthStatus {
    /// Every status, for the exposition's state set.
    pub const ALL: [HealthStatus; 3] = [HealthStatus::Ok, HealthStatus::Degraded, HealthStatus::Failing];

    /// The stable name (`ok`, `degraded`, `failing`).
    pub fn name(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Failing => "failing",
        }
    }
}

/// Why the status is not `ok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthReason {
    /// No packet for longer than `silent_after` (the mirror port may be unplugged).
    CaptureSilent,
    /// The kernel or the interface dropped packets within the last `drops_window`.
    KernelDropsRising,
    /// The Kafka brokers do not answer; messages go to the spool.
    KafkaDown,
    /// The last store checkpoint failed; a restart would lose what was learnt since the last
    /// good one.
    CheckpointFailing,
    /// One of several interfaces has had no packet for longer than `silent_after` while the
    /// others still deliver (a TAP port or a mirror session lost after a network change);
    /// [`Health::silent_interfaces`] names it.
    InterfaceSilent,
    /// Services that were conversations show only one direction now (a mirror that lost a
    /// direction); [`Health::one_sided_services`] names them.
    OneSidedService,
}

impl HealthReason {
    /// Every reason, for the exposition's state set.
    pub const ALL: [HealthReason; 6] = [
        HealthReason::CaptureSilent,
        HealthReason::KernelDropsRising,
        HealthReason::KafkaDown,
        HealthReason::CheckpointFailing,
        HealthReason::InterfaceSilent,
        HealthReason::OneSidedService,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            HealthReason::CaptureSilent => "capture_silent",
            HealthReason::KernelDropsRising => "kernel_drops_rising",
            HealthReason::KafkaDown => "kafka_down",
            HealthReason::CheckpointFailing => "checkpoint_failing",
            HealthReason::InterfaceSilent => "interface_silent",
            HealthReason::OneSidedService => "one_sided_service",
        }
    }

    /// The status this reason brings on its own.
    pub fn status(self) -> HealthStatus {
        match self {
            HealthReason::CheckpointFailing => HealthStatus::Failing,
            HealthReason::CaptureSilent
            | HealthReason::KernelDropsRising
            | HealthReason::KafkaDown
            | HealthReason::InterfaceSilent
            | HealthReason::OneSidedService => {
                HealthStatus::Degraded
            }
        }
    }
}

/// A health verdict. `Default` is `ok`, no reasons, no packet yet, zero uptime.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Health {
    /// The worst status among the reasons (`ok` without any).
    pub status: HealthStatus,
    /// Why, sorted, each once.
    pub reasons: Vec<HealthReason>,
    /// Packet time of the latest packet (seconds since the epoch); `None` before the first.
    pub last_packet_time: Option<f64>,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// The interfaces behind [`HealthReason::InterfaceSilent`], in the configured order.
    pub silent_interfaces: Vec<String>,
    /// The services behind [`HealthReason::OneSidedService`], busiest first.
    pub one_sided_services: Vec<String>,
}

impl Health {
    /// A verdict from its reasons: the status is the worst of theirs.
    pub fn from_reasons(mut reasons: Vec<HealthReason>, last_packet_time: Option<f64>, uptime_seconds: f64) -> Health {
        reasons.sort_unstable();
        reasons.dedup();
        let status = reasons.iter().map(|r| r.status()).max().unwrap_or(HealthStatus::Ok);
        Health { status, reasons, last_packet_time, uptime_seconds, silent_interfaces: Vec::new(), one_sided_services: Vec::new() }
    }

    /// The HTTP status `/health` answers with: 200 unless failing (503).
    pub fn http_status(&self) -> u16 {
        if self.status == HealthStatus::Failing {
            503
        } else {
            200
        }
    }

    /// The JSON body of `/health` and `/ready`.
    pub fn to_json(&self, ready: bool) -> String {
        json!({
            "status": self.status,
            "ready": ready,
            "reasons": self.reasons,
            "last_packet_time": self.last_packet_time,
            "uptime_seconds": self.uptime_seconds,
            "silent_interfaces": self.silent_interfaces,
            "one_sided_services": self.one_sided_services,
        })
        .to_string()
    }
}

/// Thresholds of [`HealthMonitor`].
#[derive(Clone, Debug, PartialEq)]
pub struct HealthRules {
    /// Seconds without a packet (or since the start, before the first) after which capture
    /// counts as silent. Default 60: a busy mirror port is never quiet that long; raise it
    /// for a port that is idle at night.
    pub silent_after: f64,
    /// Seconds during which a rise in kernel or interface drops keeps `kernel_drops_rising`.
    /// Default 300, so that a scrape every 15 to 60 s sees it.
    pub drops_window: f64,
}

impl Default for HealthRules {
    fn default() -> HealthRules {
        HealthRules { silent_after: 60.0, drops_window: 300.0 }
    }
}

/// Interfaces whose packet counts the monitor follows (the capture opens a handful; more are
/// not followed).
pub const MAX_WATCHED_INTERFACES: usize = 64;

/// Derives [`Health`] from successive metrics. Keeps a few numbers between calls, and per
/// interface its packet count and when it last grew.
#[derive(Clone, Debug, Default)]
pub struct HealthMonitor {
    rules: HealthRules,
    interfaces: std::collections::BTreeMap<String, (u64, f64)>,
    previous_drops: Option<u64>,
    last_drop_rise: Option<f64>,
    previous_checkpoint: Option<(u64, u64)>,
    checkpoint_failing: bool,
}

impl HealthMonitor {
    /// A monitor with `rules`, having seen nothing.
    pub fn new(rules: HealthRules) -> HealthMonitor {
        HealthMonitor { rules, ..HealthMonitor::default() }
    }

    /// The verdict on `m` at wall time `now` (seconds since the epoch). Capture silence
    /// compares `now` with the latest packet's time, which for live capture is the kernel's
    /// clock: a sensor whose packet times lag the wall clock reads as silent.
    pub fn assess(&mut self, m: &SensorMetrics, now: f64) -> Health {
        let mut reasons = Vec::new();
        let since = m.last_packet_time.unwrap_or(m.process.start_time);
        let all_silent = now - since > self.rules.silent_after;
        if all_silent {
            reasons.push(HealthReason::CaptureSilent);
        }
        let mut silent_interfaces = Vec::new();
        for i in m.interfaces.iter().take(MAX_WATCHED_INTERFACES) {
            // An interface first seen with packets counts from now; one that has had none yet,
            // from the start of the process, like the capture as a whole.
            let first = if i.packets > 0 { now } else { m.process.start_time };
            let (packets, grew) = self.interfaces.entry(i.name.clone()).or_insert((i.packets, first));
            if i.packets > *packets {
                *grew = now;
            }
            *packets = i.packets;
            if m.interfaces.len() > 1 && !all_silent && now - *grew > self.rules.silent_after {
                silent_interfaces.push(i.name.clone());
            }
        }
        if !silent_interfaces.is_empty() {
            reasons.push(HealthReason::InterfaceSilent);
        }
        if !m.one_sided_services.is_empty() {
            reasons.push(HealthReason::OneSidedService);
        }
        let drops = m.interfaces.iter().map(|i| i.kernel_dropped.saturating_add(i.interface_dropped)).fold(0u64, u64::saturating_add);
        if self.previous_drops.is_some_and(|p| drops > p) {
            self.last_drop_rise = Some(now);
        }
        self.previous_drops = Some(drops);
        if self.last_drop_rise.is_some_and(|t| now - t <= self.rules.drops_window) {
            reasons.push(HealthReason::KernelDropsRising);
        }
        if m.kafka.as_ref().is_some_and(|k| !k.broker_up) {
            reasons.push(HealthReason::KafkaDown);
        }
        if let Some(c) = &m.checkpoint {
            let (completed, failures) = self.previous_checkpoint.unwrap_or((0, 0));
            if c.completed > completed {
                self.checkpoint_failing = false;
            }
            // A failure after the last success (or with none yet) keeps the reason until the
            // next success; when both moved since the last look, the order is unknown and the
            // failure wins until a later success.
            if c.failures > failures {
                self.checkpoint_failing = true;
            }
            self.previous_checkpoint = Some((c.completed, c.failures));
            if self.checkpoint_failing {
                reasons.push(HealthReason::CheckpointFailing);
            }
        }
        let mut health = Health::from_reasons(reasons, m.last_packet_time, (now - m.process.start_time).max(0.0));
        health.silent_interfaces = silent_interfaces;
        health.one_sided_services = m.one_sided_services.clone();
        health
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::super::model::{CheckpointMetrics, InterfaceCapture, KafkaMetrics};
    use super::*;

    fn metrics(last_packet: f64) -> SensorMetrics {
        let mut m = SensorMetrics { last_packet_time: Some(last_packet), ..SensorMetrics::default() };
        m.process.start_time = 1000.0;
        m.interfaces.push(InterfaceCapture { name: "eth1".into(), ..InterfaceCapture::default() });
        m
    }

    #[test]
    fn quiet_sensor_is_ok_and_silence_degrades() {
        let mut mon = HealthMonitor::new(HealthRules::default());
        let h = mon.assess(&metrics(1100.0), 1110.0);
        assert_eq!((h.status, h.reasons.clone(), h.uptime_seconds), (HealthStatus::Ok, vec![], 110.0));
        assert_eq!(h.http_status(), 200);
        let h = mon.assess(&metrics(1100.0), 1161.0);
        assert_eq!((h.status, h.reasons), (HealthStatus::Degraded, vec![HealthReason::CaptureSilent]));
        // No packet at all: silent counts from the start.
        let mut m = metrics(0.0);
        m.last_packet_time = None;
        assert_eq!(mon.assess(&m, 1059.0).reasons, vec![]);
        assert_eq!(mon.assess(&m, 1061.0).reasons, vec![HealthReason::CaptureSilent]);
    }

    #[test]
    fn one_silent_interface_of_two_is_named_until_it_delivers_again() {
        let mut mon = HealthMonitor::new(HealthRules { silent_after: 60.0, drops_window: 1.0 });
        let mut m = metrics(1100.0);
        m.interfaces.push(InterfaceCapture { name: "eth2".into(), ..InterfaceCapture::default() });
        m.interfaces[0].packets = 10;
        m.interfaces[1].packets = 10;
        assert_eq!(mon.assess(&m, 1100.0).reasons, vec![]);
        // eth1 keeps delivering, eth2 stops.
        for t in [1130.0, 1160.0, 1161.0] {
            m.interfaces[0].packets += 5;
            m.last_packet_time = Some(t);
            let h = mon.assess(&m, t);
            if t < 1161.0 {
                assert_eq!(h.reasons, vec![], "{t}");
            } else {
                assert_eq!((h.status, h.reasons.clone(), h.silent_interfaces.clone()), (HealthStatus::Degraded, vec![HealthReason::InterfaceSilent], vec!["eth2".to_string()]));
                assert!(h.to_json(true).contains(r#""silent_interfaces":["eth2"]"#), "{}", h.to_json(true));
            }
        }
        m.interfaces[1].packets += 1;
        assert_eq!(mon.assess(&m, 1162.0).reasons, vec![]);
        // Both quiet: the capture is silent, not one interface.
        let h = mon.assess(&m, 1300.0);
        assert_eq!((h.reasons, h.silent_interfaces), (vec![HealthReason::CaptureSilent], vec![]));
    }

    #[test]
    fn one_sided_services_degrade_and_are_named() {
        let mut mon = HealthMonitor::new(HealthRules { silent_after: 1e9, drops_window: 1.0 });
        let mut m = metrics(2000.0);
        assert_eq!(mon.assess(&m, 2000.0).reasons, vec![]);
        m.one_sided_services = vec!["10.2.0.9:8080".into()];
        let h = mon.assess(&m, 2001.0);
        assert_eq!((h.status, h.reasons.clone()), (HealthStatus::Degraded, vec![HealthReason::OneSidedService]));
        assert!(h.to_json(true).contains(r#""one_sided_services":["10.2.0.9:8080"]"#), "{}", h.to_json(true));
    }

    #[test]
    fn drops_rising_lasts_the_window() {
        let mut mon = HealthMonitor::new(HealthRules { silent_after: 1e9, drops_window: 300.0 });
        let mut m = metrics(2000.0);
        m.interfaces[0].kernel_dropped = 10;
        // The first look has nothing to compare with.
        assert_eq!(mon.assess(&m, 2000.0).reasons, vec![]);
        m.interfaces[0].interface_dropped = 1;
        assert_eq!(mon.assess(&m, 2001.0).reasons, vec![HealthReason::KernelDropsRising]);
        assert_eq!(mon.assess(&m, 2301.0).reasons, vec![HealthReason::KernelDropsRising]);
        assert_eq!(mon.assess(&m, 2302.0).reasons, vec![]);
    }

    #[test]
    fn checkpoint_failure_fails_until_the_next_success_and_kafka_degrades() {
        let mut mon = HealthMonitor::new(HealthRules { silent_after: 1e9, drops_window: 1.0 });
        let mut m = metrics(2000.0);
        m.checkpoint = Some(CheckpointMetrics { completed: 3, ..CheckpointMetrics::default() });
        m.kafka = Some(KafkaMetrics { broker_up: false, ..KafkaMetrics::default() });
        let h = mon.assess(&m, 2000.0);
        assert_eq!((h.status, h.reasons), (HealthStatus::Degraded, vec![HealthReason::KafkaDown]));
        m.checkpoint.as_mut().unwrap().failures = 1;
        let h = mon.assess(&m, 2001.0);
        assert_eq!((h.status, h.reasons.clone()), (HealthStatus::Failing, vec![HealthReason::KafkaDown, HealthReason::CheckpointFailing]));
        assert_eq!(h.http_status(), 503);
        // Still failing while nothing moves.
        assert_eq!(mon.assess(&m, 2002.0).status, HealthStatus::Failing);
        m.checkpoint.as_mut().unwrap().completed = 4;
        m.kafka.as_mut().unwrap().broker_up = true;
        let h = mon.assess(&m, 2003.0);
        assert_eq!((h.status, h.reasons), (HealthStatus::Ok, vec![]));
    }

    #[test]
    fn json_names_status_and_reasons() {
        let h = Health::from_reasons(vec![HealthReason::KafkaDown, HealthReason::CaptureSilent, HealthReason::KafkaDown], Some(5.5), 7.0);
        let v: serde_json::Value = serde_json::from_str(&h.to_json(true)).unwrap();
        assert_eq!(v["status"], "degraded");
        assert_eq!(v["ready"], true);
        assert_eq!(v["reasons"], json!(["capture_silent", "kafka_down"]));
        assert_eq!(v["last_packet_time"], 5.5);
        assert_eq!(v["uptime_seconds"], 7.0);
    }
}
