//! The daemon's running state and what it does besides handling packets: once a second it
//! looks at the signals, checkpoints the state, writes due reports and refreshes the metrics;
//! at the end it flushes everything within the shutdown deadline.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use apitap_discovery::behaviour::Producer;
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::Timestamp;
use tracing::{error, info, warn};

use crate::commands::{apply_analysis_settings, drain, Outputs};
use crate::config::Settings;
use crate::config_file::ConfigFile;
use crate::output::{KafkaSink, RecordWriter};
use crate::pipeline::Pipeline;
use crate::record::TransactionRecord;
use crate::source::live::LiveStats;
use crate::summary::Summary;

use super::state::{self, Checkpointer};
use super::Signals;

/// Operations the loaded specs may add to the inventory's endpoints (bounds the Kafka change
/// tracker restored beside it).
const MAX_SPEC_OPERATIONS: usize = apitap_discovery::inventory::MAX_SNAPSHOT_OPERATIONS;

/// Sockets bound before privileges are dropped.
#[derive(Default)]
pub struct Bound {}

/// Binds what needs binding before the privilege drop.
pub fn bind_endpoints(_file: &ConfigFile) -> Result<Bound> {
    Ok(Bound::default())
}

/// Transaction records are not written by the daemon (Kafka's `publish_transactions` publishes
/// them when wanted); they are only counted.
struct Discard;

impl RecordWriter for Discard {
    fn write(&mut self, _rec: &TransactionRecord) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Everything the daemon holds while it runs.
pub struct Running {
    config_path: PathBuf,
    file: ConfigFile,
    keys: super::Keys,
    settings: Settings,
    pipeline: Pipeline,
    outputs: Outputs,
    summary: Summary,
    /// The first output failure; the daemon logs it once and keeps capturing.
    output_failed: bool,
    reloads: u64,
    reload_failures: u64,
    _bound: Bound,
    last_stats: LiveStats,
    checkpoints: Checkpointer,
}

impl Running {
    /// Opens the store, restores the analysis from its last checkpoint, builds the pipeline
    /// and starts publishing.
    pub fn start(config_path: PathBuf, file: ConfigFile, keys: super::Keys, bound: Bound) -> Result<Running> {
        let cap = file.capture.clone().unwrap_or_default();
        let mut settings = Settings::from_capture(&cap);
        let (store, loaded) = state::open(&file.store.path, &keys.current.0)?;
        let restored = state::restored(loaded);
        if restored.packet_time > 0 {
            info!(checkpoint = %apitap_discovery::inventory::rfc3339(restored.packet_time), "carrying on from the last checkpoint");
        }
        let (setup, notes) = crate::analysis::build(&file, &[], keys.current, keys.previous, true, restored.state)?;
        for n in notes {
            info!(restore = %n);
        }
        apply_analysis_settings(&mut settings, &setup);
        let mut pipeline = Pipeline::new(&settings);
        pipeline.set_analysis(setup.analysis);
        let producer = Producer { sensor_id: sensor_id(&file), version: env!("CARGO_PKG_VERSION").to_string() };
        let kafka = match &file.kafka {
            Some(k) if !k.brokers.is_empty() => {
                k.validate().map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
                info!(brokers = %k.brokers.join(","), "publishing to Kafka");
                let mut sink = KafkaSink::open(k.clone(), producer.clone())?;
                if let Some(c) = restored.changes {
                    // Bounded like the inventory it follows: every endpoint it may hold.
                    let max = pipeline.analysis_mut().map_or(0, |a| a.inventory.config().max_endpoints_total).saturating_add(MAX_SPEC_OPERATIONS);
                    if let Err(e) = sink.restore_changes(c, max) {
                        warn!(error = %e, "Kafka change tracker not restored: the inventory topic gets every endpoint again");
                    }
                }
                Some(sink)
            }
            _ => {
                warn!("no [kafka] brokers configured: anomalies are kept in the store only");
                None
            }
        };
        let checkpoints = Checkpointer::new(store, file.store.checkpoint_interval_secs, file.store.retention, producer, restored.packet_time);
        let outputs = Outputs { records: Box::new(Discard), anomalies: None, kafka, findings: Some(Vec::new()) };
        Ok(Running {
            config_path,
            file,
            keys,
            settings,
            pipeline,
            outputs,
            summary: Summary::default(),
            output_failed: false,
            reloads: 0,
            reload_failures: 0,
            _bound: bound,
            last_stats: LiveStats::default(),
            checkpoints,
        })
    }

    /// Seconds the shutdown may take.
    pub fn shutdown_deadline_secs(&self) -> u64 {
        self.file.daemon.shutdown_deadline_secs
    }

    fn drain(&mut self) {
        if let Err(e) = drain(&mut self.pipeline, &mut self.outputs, &mut self.summary) {
            if !self.output_failed {
                error!(error = %format!("{e:#}"), "output failed; capture goes on");
                self.output_failed = true;
            }
        }
        if let Some(found) = self.outputs.findings.as_mut() {
            for a in found.drain(..) {
                self.checkpoints.record(&a);
            }
        }
    }

    /// Writes a checkpoint now (logged; a failure is counted and retried at the next one).
    fn checkpoint(&mut self) {
        let now = self.pipeline.now().0;
        let changes = self.outputs.kafka.as_ref().map(KafkaSink::changes_snapshot);
        let Some(analysis) = self.pipeline.analysis_mut() else { return };
        match self.checkpoints.checkpoint(now, analysis, changes) {
            Ok(st) => info!(
                consumers = st.consumers,
                findings = st.findings,
                endpoints = st.endpoints,
                bytes = st.blob_bytes,
                expired = st.expired,
                millis = self.checkpoints.last_duration.as_millis() as u64,
                "checkpoint written"
            ),
            Err(e) => error!(error = %format!("{e:#}"), failures = self.checkpoints.failed, "checkpoint failed; the state stays in memory"),
        }
    }

    /// One captured packet.
    pub fn packet(&mut self, rec: &PacketRecord<'_>) {
        self.pipeline.handle_packet(rec);
        self.drain();
    }

    /// The interface is quiet: packet time moves with the wall clock.
    pub fn tick(&mut self, now: Timestamp) {
        self.pipeline.handle_tick(now);
        self.drain();
    }

    /// Called about once a second with the kernel's counters.
    pub fn second(&mut self, stats: LiveStats, signals: &Signals) {
        if stats.dropped > self.last_stats.dropped || stats.if_dropped > self.last_stats.if_dropped {
            warn!(
                kernel_dropped = stats.dropped - self.last_stats.dropped.min(stats.dropped),
                interface_dropped = stats.if_dropped - self.last_stats.if_dropped.min(stats.if_dropped),
                "packets lost before apitap saw them"
            );
        }
        self.last_stats = stats;
        self.summary.stages.insert("capture", capture_stage(&stats));
        if signals.reload.swap(false, std::sync::atomic::Ordering::Relaxed) {
            self.reload();
        }
        if self.checkpoints.due(self.pipeline.now().0) {
            self.checkpoint();
        }
    }

    /// SIGHUP: the configuration and specs again, applied without closing the capture.
    fn reload(&mut self) {
        match self.try_reload() {
            Ok(()) => {
                self.reloads += 1;
                info!(config = %self.config_path.display(), "configuration reloaded");
            }
            Err(e) => {
                self.reload_failures += 1;
                error!(error = %format!("{e:#}"), "reload refused; running on with the previous configuration");
            }
        }
    }

    fn try_reload(&mut self) -> Result<()> {
        let new = super::load_config(&self.config_path)?;
        let restart_needed = [
            ("[capture]", new.capture != self.file.capture),
            ("[daemon]", new.daemon != self.file.daemon),
            ("[store] path and checkpoint_interval_secs", new.store.path != self.file.store.path || new.store.checkpoint_interval_secs != self.file.store.checkpoint_interval_secs),
            ("[metrics]", false),
        ];
        for (table, changed) in restart_needed {
            if changed {
                warn!(table, "changes to this table take effect at the next restart");
            }
        }
        if new.kafka.as_ref().map(|k| &k.brokers) != self.file.kafka.as_ref().map(|k| &k.brokers) {
            warn!(table = "[kafka]", "changes to this table take effect at the next restart");
        }
        // Everything that can fail is done before the running analysis is touched: the new
        // specs and settings, and the inventory restored into them from a copy.
        self.drain();
        let inventory = self.pipeline.analysis_mut().map(|a| a.inventory.snapshot());
        let state = crate::analysis::AnalysisState { inventory, behaviour: None, identity: None };
        let (setup, notes) = crate::analysis::build(&new, &[], self.keys.current, self.keys.previous, true, state)?;
        apply_analysis_settings(&mut self.settings, &setup);
        let mut analysis = setup.analysis;
        let mut all = notes;
        if let Some(old) = self.pipeline.take_analysis() {
            all.extend(analysis.adopt(old));
        }
        for n in all {
            info!(reload = %n);
        }
        self.pipeline.set_analysis(analysis);
        self.pipeline.set_http_config(self.settings.http.clone());
        self.checkpoints.set_retention(new.store.retention);
        self.file.spec = new.spec;
        self.file.inventory = new.inventory;
        self.file.template = new.template;
        self.file.accept = new.accept;
        self.file.identity = new.identity;
        self.file.behaviour = new.behaviour;
        self.file.report = new.report;
        self.file.store.retention = new.store.retention;
        Ok(())
    }

    /// End of capture: flush flows, the final checkpoint and Kafka, before `deadline`.
    pub fn shutdown(&mut self, stats: LiveStats, deadline: Instant) -> Result<()> {
        self.summary.stages.insert("capture", capture_stage(&stats));
        self.pipeline.finish();
        self.drain();
        self.checkpoint();
        let mut stages = self.pipeline.counters();
        stages.append(&mut self.summary.stages);
        self.summary.stages = stages;
        if let Some(k) = self.outputs.kafka.take() {
            let now = self.pipeline.now().0;
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            let report = k.finish(now, self.pipeline.analysis_mut().map(|a| &mut a.inventory), &self.summary, left);
            info!(report = %serde_json::to_string(&report).unwrap_or_default(), "Kafka flushed");
        }
        let json = serde_json::to_string(&self.summary).context("summary")?;
        info!(summary = %json, reloads = self.reloads, reload_failures = self.reload_failures, "run summary");
        Ok(())
    }
}

/// The summary's `capture` stage from the kernel's counters.
fn capture_stage(st: &LiveStats) -> std::collections::BTreeMap<&'static str, u64> {
    [("kernel_received", st.received), ("kernel_dropped", st.dropped), ("interface_dropped", st.if_dropped)].into_iter().collect()
}

/// `[daemon] sensor_id`, else `APITAP_SENSOR_ID`, else the host name.
fn sensor_id(file: &ConfigFile) -> String {
    file.daemon.sensor_id.clone().map(|s| s.trim().to_string()).unwrap_or_else(crate::output::sensor_id)
}
