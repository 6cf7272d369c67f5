//! The run summary: every counter of every stage, printed at the end of each run and written
//! as `summary.json` next to the transactions.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counters by stage, plus run-level facts.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Input files read (0 for live capture).
    pub files: u64,
    /// Files that could not be read to their end.
    pub files_with_errors: u64,
    /// Files that ended in the middle of a record.
    pub files_truncated: u64,
    /// Capture records skipped because their contents were unusable.
    pub bad_records: u64,
    /// Transaction records written.
    pub transactions: u64,
    /// Protocol anomaly events attached to the written records.
    pub events: u64,
    /// Finding events (new, updated, closed) raised by the behavioural detectors.
    pub anomalies: u64,
    /// Of those, the events of suppressed findings: written and stored, not published.
    pub anomalies_suppressed: u64,
    /// Findings opened under each suppression rule, by rule id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub suppressed_by_rule: BTreeMap<String, u64>,
    /// Counters by stage (input, decode, tcp, app, http, capture).
    pub stages: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// What the Kafka publisher achieved by the end of the run (its flush report), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<serde_json::Value>,
    /// Each interface of a live capture on several (the `capture` stage has the totals).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceSummary>,
    /// Each worker thread's load and losses, when the chain ran on worker threads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerSummary>,
}

/// One worker thread of a run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WorkerSummary {
    /// Packets handed to it.
    pub packets: u64,
    /// Packets dropped because its queue stayed full (live capture only).
    pub queue_drops: u64,
    /// Seconds it spent processing.
    pub busy_seconds: f64,
}


/// One interface of a live capture.
#[derive(Debug, Default, Clone, Serialize)]
pub struct InterfaceSummary {
    /// Interface name.
    pub name: String,
    /// Packets read from it.
    pub packets: u64,
    /// Bytes of those packets as captured.
    pub bytes: u64,
    /// libpcap's `ps_recv`.
    pub kernel_received: u64,
    /// libpcap's `ps_drop` (its capture buffer was full).
    pub kernel_dropped: u64,
    /// libpcap's `ps_ifdrop` (dropped by the interface or its driver).
    pub interface_dropped: u64,
}

impl Summary {
    /// The run so far: the run-level counts of `self` with the pipeline's counters
    /// (`stages`) and the stages recorded in `self`.
    pub fn snapshot(&self, mut stages: BTreeMap<&'static str, BTreeMap<&'static str, u64>>) -> Summary {
        for (k, v) in &self.stages {
            stages.insert(k, v.clone());
        }
        Summary {
            files: self.files,
            files_with_errors: self.files_with_errors,
            files_truncated: self.files_truncated,
            bad_records: self.bad_records,
            transactions: self.transactions,
            events: self.events,
            anomalies: self.anomalies,
            anomalies_suppressed: self.anomalies_suppressed,
            suppressed_by_rule: self.suppressed_by_rule.clone(),
            stages,
            kafka: None,
            interfaces: self.interfaces.clone(),
            workers: self.workers.clone(),
        }
    }

    fn stage(&self, stage: &str, name: &str) -> u64 {
        self.stages.get(stage).and_then(|s| s.get(name)).copied().unwrap_or(0)
    }

    /// Packets and bytes lost before they reached the HTTP layer: kernel and interface drops,
    /// undecodable packets, and bytes the TCP layer had to skip.
    fn drops(&self) -> (u64, u64, u64) {
        let kernel = self.stage("capture", "kernel_dropped") + self.stage("capture", "interface_dropped");
        let bad = self.stage("decode", "errors");
        let gap_bytes = self.stage("tcp", "gap_bytes");
        (kernel, bad, gap_bytes)
    }

    /// The human-readable summary (a few lines, for standard error).
    pub fn text(&self) -> String {
        let (kernel, bad, gap_bytes) = self.drops();
        let mut s = format!(
            "summary: {} packets ({} bytes), {} bad, {} not TCP; {} flows ({} HTTP); {} transactions, {} events\n",
            self.stage("input", "packets"),
            self.stage("input", "bytes"),
            bad,
            self.stage("decode", "skipped"),
            self.stage("tcp", "flows_opened"),
            self.stage("app", "http_connections"),
            self.transactions,
            self.events,
        );
        s.push_str(&format!(
            "drops: {} by the kernel or interface, {} gaps ({} bytes) in TCP streams, {} flows evicted\n",
            kernel,
            self.stage("tcp", "gaps"),
            gap_bytes,
            self.stage("tcp", "evicted"),
        ));
        for i in &self.interfaces {
            s.push_str(&format!(
                "interface {}: {} packets ({} bytes), {} dropped by the kernel, {} by the interface\n",
                i.name, i.packets, i.bytes, i.kernel_dropped, i.interface_dropped
            ));
        }
        if !self.workers.is_empty() {
            let packets: Vec<String> = self.workers.iter().map(|w| w.packets.to_string()).collect();
            let drops: u64 = self.workers.iter().map(|w| w.queue_drops).sum();
            s.push_str(&format!("workers: {} (packets {}), {} packets dropped at full worker queues\n", self.workers.len(), packets.join(" / "), drops));
        }
        if self.stages.contains_key("inventory") {
            s.push_str(&format!(
                "inventory: {} transactions; bodies: {} analysed in full, {} sampled out (skimmed for object ids and anything new)\n",
                self.stage("inventory", "transactions"),
                self.stage("inventory", "bodies_analysed"),
                self.stage("inventory", "bodies_sampled_out"),
            ));
        }
        if self.anomalies > 0 || self.stages.contains_key("behaviour") {
            s.push_str(&format!(
                "behaviour: {} consumers, {} findings opened ({} suppressed), {} finding events\n",
                self.stage("behaviour", "consumers"),
                self.stage("behaviour", "findings_opened"),
                self.stage("behaviour", "findings_suppressed"),
                self.anomalies
            ));
            for (rule, n) in &self.suppressed_by_rule {
                s.push_str(&format!("suppressed by {rule}: {n} findings\n"));
            }
        }
        if let Some(k) = &self.kafka {
            let n = |key: &str| k.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
            s.push_str(&format!(
                "kafka: {} delivered, {} left in the spool (sent at the next start), {} dropped{}\n",
                n("delivered"),
                n("left_in_spool"),
                n("dropped"),
                if k.get("complete").and_then(serde_json::Value::as_bool) == Some(true) { "" } else { "; not everything was confirmed before the deadline" }
            ));
        }
        if self.files_with_errors > 0 || self.files_truncated > 0 || self.bad_records > 0 {
            s.push_str(&format!(
                "input: {} files, {} could not be read to the end, {} truncated, {} unusable records skipped\n",
                self.files, self.files_with_errors, self.files_truncated, self.bad_records
            ));
        }
        s
    }
}
