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

use super::Signals;

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
}

impl Running {
    /// Builds the pipeline and the analysis from the configuration and starts publishing.
    pub fn start(config_path: PathBuf, file: ConfigFile, keys: super::Keys, bound: Bound) -> Result<Running> {
        let cap = file.capture.clone().unwrap_or_default();
        let mut settings = Settings::from_capture(&cap);
        let setup = crate::analysis::build(&file, &[], keys.current, keys.previous, true)?;
        apply_analysis_settings(&mut settings, &setup);
        let mut pipeline = Pipeline::new(&settings);
        pipeline.set_analysis(setup.analysis);
        let producer = Producer { sensor_id: sensor_id(&file), version: env!("CARGO_PKG_VERSION").to_string() };
        let kafka = match &file.kafka {
            Some(k) if !k.brokers.is_empty() => {
                k.validate().map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
                info!(brokers = %k.brokers.join(","), "publishing to Kafka");
                Some(KafkaSink::open(k.clone(), producer)?)
            }
            _ => {
                warn!("no [kafka] brokers configured: anomalies are kept in the store only");
                None
            }
        };
        let outputs = Outputs { records: Box::new(Discard), anomalies: None, kafka };
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
            ("[store]", new.store != self.file.store),
        ];
        for (table, changed) in restart_needed {
            if changed {
                warn!(table, "changes to this table take effect at the next restart");
            }
        }
        let setup = crate::analysis::build(&new, &[], self.keys.current, self.keys.previous, true)?;
        apply_analysis_settings(&mut self.settings, &setup);
        self.pipeline.set_http_config(self.settings.http.clone());
        self.pipeline.replace_analysis(setup.analysis)?;
        self.file.spec = new.spec;
        self.file.inventory = new.inventory;
        self.file.template = new.template;
        self.file.accept = new.accept;
        self.file.identity = new.identity;
        self.file.behaviour = new.behaviour;
        self.file.report = new.report;
        Ok(())
    }

    /// End of capture: flush flows, the final checkpoint and Kafka, before `deadline`.
    pub fn shutdown(&mut self, stats: LiveStats, deadline: Instant) -> Result<()> {
        self.summary.stages.insert("capture", capture_stage(&stats));
        self.pipeline.finish();
        self.drain();
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
