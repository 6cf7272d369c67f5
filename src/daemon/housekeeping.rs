//! The daemon's running state and what it does besides handling packets: once a second it
//! looks at the signals, checkpoints the state, writes due reports and refreshes the metrics;
//! at the end it flushes everything within the shutdown deadline.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use apitap_discovery::behaviour::Producer;
use apitap_discovery::tuning::TriageMark;
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::Timestamp;
use tracing::{error, info, warn};

use crate::commands::{apply_analysis_settings, drain, Outputs};
use crate::metrics::{CheckpointMetrics, HealthMonitor, MetricsServer, MetricsShared, ProcessMetrics};
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

/// The part of the shutdown deadline kept for what follows the Kafka flush: taking back what
/// librdkafka still holds into the spool, saving the spool, stopping the metrics endpoint and
/// logging the summary (tens of milliseconds when the disk is healthy).
const AFTER_FLUSH_RESERVE: Duration = Duration::from_millis(500);

/// Sockets bound before privileges are dropped: the metrics endpoint.
pub struct Bound {
    shared: Arc<MetricsShared>,
    server: Option<MetricsServer>,
}

/// Binds what needs binding before the privilege drop (a port below 1024 then still works).
pub fn bind_endpoints(file: &ConfigFile) -> Result<Bound> {
    let shared = Arc::new(MetricsShared::new());
    let server = MetricsServer::start(&file.metrics, Arc::clone(&shared)).map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
    if let Some(s) = &server {
        info!(address = %s.local_addr(), "metrics and health endpoint listening");
    }
    Ok(Bound { shared, server })
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
    bound: Bound,
    health: HealthMonitor,
    /// Services seen in one direction only, over `[metrics] one_sided_window_s`.
    sides: crate::metrics::sides::SidesWindow,
    /// The services the health last named one-sided (a change is logged).
    one_sided: Vec<String>,
    start_wall: f64,
    /// Time spent handling packets (for the worker load metric).
    busy: Duration,
    /// Finding events by (kind, severity), for the metrics.
    anomaly_counts: BTreeMap<(String, String), u64>,
    anomalies_suppressed: u64,
    last_reload_ok: bool,
    last_stats: LiveStats,
    /// Interfaces the health last found silent (a change is logged).
    silent_interfaces: Vec<String>,
    checkpoints: Checkpointer,
    /// Packet time the next periodic report is due (0: not yet known).
    next_report: u64,
    /// Follows the key logs while the daemon runs.
    _keylog: Option<crate::tls_keys::KeyLogWatcher>,
    /// Follows the audit log of alert tuning.
    audit: super::audit_watch::AuditWatch,
}

impl Running {
    /// Opens the store, restores the analysis from its last checkpoint, builds the pipeline
    /// and starts publishing.
    pub fn start(config_path: PathBuf, file: ConfigFile, keys: super::Keys, bound: Bound) -> Result<Running> {
        let cap = file.capture.clone().unwrap_or_default();
        let mut settings = Settings::from_capture(&cap).with_limits(&file.limits).with_tls(&file.tls).with_http2(&file.http2);
        // Key logs are read now (an unreadable one stops the start) and then followed.
        let keylog = match settings.keylog_reader() {
            Some(reader) => Some(crate::tls_keys::KeyLogWatcher::start(reader)?),
            None => None,
        };
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
                    // Bounded like the inventory it follows: every endpoint and GraphQL
                    // operation it may hold.
                    let max = pipeline
                        .analysis_mut()
                        .map_or(0, |a| a.inventory.config().max_endpoints_total.saturating_add(a.inventory.config().max_graphql_operations_total))
                        .saturating_add(MAX_SPEC_OPERATIONS);
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
        let mut checkpoints = Checkpointer::new(store, file.store.checkpoint_interval_secs, file.store.retention, producer, restored.packet_time);
        // Reports go on from the last one the store recorded, so restarts do not postpone them.
        let next_report = match checkpoints.store().last_report() {
            Ok(Some(r)) => r.record.packet_time.saturating_add(report_interval(&file)),
            _ => 0,
        };
        let outputs = Outputs { records: Box::new(Discard), anomalies: None, kafka, findings: Some(Vec::new()) };
        let health_rules = file.metrics.health_rules();
        let one_sided_window = file.metrics.one_sided_window_s as f64;
        observe_tuning(&file);
        let audit = super::audit_watch::AuditWatch::new(&file, pipeline.analysis_mut().map(|a| a.triage_marks().clone()).unwrap_or_default());
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
            health: HealthMonitor::new(health_rules),
            sides: crate::metrics::sides::SidesWindow::new(one_sided_window),
            one_sided: Vec::new(),
            bound,
            start_wall: wall_ns() as f64 / 1e9,
            busy: Duration::ZERO,
            anomaly_counts: BTreeMap::new(),
            anomalies_suppressed: 0,
            last_reload_ok: true,
            last_stats: LiveStats::default(),
            silent_interfaces: Vec::new(),
            checkpoints,
            next_report,
            _keylog: keylog,
            audit,
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
                let severity = serde_json::to_value(a.severity).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                *self.anomaly_counts.entry((a.kind.code().to_string(), severity)).or_default() += 1;
                self.anomalies_suppressed += u64::from(a.suppressed.is_some());
                self.checkpoints.record(&a);
            }
        }
    }

    /// Decisions on findings the detectors closed already: each gets an event built from its
    /// latest stored one (the next version, with the decision), stored and, unless the
    /// finding is suppressed, published, so that the SIEM sees every decision.
    fn publish_decisions(&mut self, unheld: &[(String, TriageMark)], now: u64) {
        for (id, mark) in unheld {
            match self.checkpoints.decision_event(id, mark, now) {
                Ok(Some(event)) => {
                    let suppressed = event.pointer("/unmapped/suppressed").is_some();
                    if let (false, Some(k)) = (suppressed, self.outputs.kafka.as_mut()) {
                        k.anomaly_value(&event);
                    }
                    info!(finding = %id, version = event.pointer("/unmapped/finding_version").and_then(serde_json::Value::as_u64).unwrap_or(0), suppressed, "decision on a closed finding stored and published");
                }
                Ok(None) => info!(finding = %id, "decision on a finding this sensor does not hold; nothing to publish"),
                Err(e) => error!(finding = %id, error = %format!("{e:#}"), "decision on a closed finding not published"),
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
        let t = Instant::now();
        self.pipeline.handle_packet(rec);
        self.drain();
        self.busy += t.elapsed();
    }

    /// The interface is quiet: packet time moves with the wall clock.
    pub fn tick(&mut self, now: Timestamp) {
        self.pipeline.handle_tick(now);
        self.drain();
    }

    /// Called about once a second with the kernel's counters.
    pub fn second(&mut self, stats: &LiveStats, signals: &Signals) {
        if stats.dropped > self.last_stats.dropped || stats.if_dropped > self.last_stats.if_dropped {
            warn!(
                kernel_dropped = stats.dropped - self.last_stats.dropped.min(stats.dropped),
                interface_dropped = stats.if_dropped - self.last_stats.if_dropped.min(stats.if_dropped),
                "packets lost before apitap saw them"
            );
        }
        self.last_stats = stats.clone();
        self.summary.stages.insert("capture", crate::commands::capture_stage(stats));
        self.summary.interfaces = crate::commands::interface_summaries(stats);
        if signals.reload.swap(false, std::sync::atomic::Ordering::Relaxed) {
            self.reload();
        }
        let now = self.pipeline.now().0;
        if let Some((triage, changed)) = self.audit.poll(&self.file) {
            let unheld = self.pipeline.analysis_mut().map(|a| a.apply_decisions(triage, &changed, now)).unwrap_or_default();
            self.drain();
            self.publish_decisions(&unheld, now);
        }
        if self.next_report == 0 && now > 0 {
            // The first report of a new store comes one interval after the capture started.
            self.next_report = now.saturating_add(report_interval(&self.file));
        }
        if self.checkpoints.due(now) {
            self.checkpoint();
            self.report_if_due();
        }
        self.publish_metrics(stats);
    }

    /// Refreshes what the metrics and health endpoint serves.
    fn publish_metrics(&mut self, live: &LiveStats) {
        let snapshot = self.summary.snapshot(self.pipeline.counters());
        let gauges = self.pipeline.gauges();
        let now = self.pipeline.now().0;
        let kafka = self.outputs.kafka.as_ref().map(KafkaSink::publisher_stats);
        let (open, consumers, baselines, identity) = match self.pipeline.analysis_mut() {
            Some(a) => {
                let ident = a.identifier().memory_bytes() as u64;
                match a.behaviour() {
                    Some(b) => (b.open_findings() as u64, b.consumers() as u64, b.profile_memory().1 as u64, ident),
                    None => (0, 0, 0, ident),
                }
            }
            None => (0, 0, 0, 0),
        };
        let cp = &self.checkpoints;
        let checkpoint = CheckpointMetrics {
            last_packet_time: (cp.last_packet_time > 0).then(|| cp.last_packet_time as f64 / 1e9),
            last_duration_seconds: cp.last_duration.as_secs_f64(),
            completed: cp.written,
            failures: cp.failed,
        };
        let process = ProcessMetrics {
            start_time: self.start_wall,
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_reloads: self.reloads,
            config_last_reload_ok: self.last_reload_ok,
        };
        let inputs = super::observe::Inputs {
            live,
            stages: &snapshot.stages,
            gauges,
            transactions: self.summary.transactions,
            anomalies: &self.anomaly_counts,
            anomalies_suppressed: self.anomalies_suppressed,
            behaviour: (open, consumers, baselines, identity),
            inventory: (cp.last_services, &cp.last_classes),
            kafka,
            checkpoint,
            packet_time: now,
            process,
            busy_seconds: self.busy.as_secs_f64(),
            workers: self.pipeline.worker_stats(),
        };
        let mut m = super::observe::gather(&inputs);
        let (sides, _) = self.pipeline.take_sides();
        self.sides.absorb(wall_ns() as f64 / 1e9, &sides);
        m.one_sided_services = self.sides.one_sided();
        if m.one_sided_services != self.one_sided {
            for s in m.one_sided_services.iter().filter(|s| !self.one_sided.contains(s)) {
                warn!(service = %s, "service seen in one direction only: it used to be a conversation (a mirror that lost a direction?)");
            }
            for s in self.one_sided.iter().filter(|s| !m.one_sided_services.contains(s)) {
                info!(service = %s, "service seen in both directions again");
            }
            self.one_sided = m.one_sided_services.clone();
        }
        m.memory.inventory = cp.last_inventory_bytes;
        let health = self.health.assess(&m, wall_ns() as f64 / 1e9);
        if health.silent_interfaces != self.silent_interfaces {
            for name in health.silent_interfaces.iter().filter(|n| !self.silent_interfaces.contains(n)) {
                warn!(interface = %name, "interface silent: no packet while the other interfaces deliver (a TAP port or mirror session lost?)");
            }
            for name in self.silent_interfaces.iter().filter(|n| !health.silent_interfaces.contains(n)) {
                info!(interface = %name, "interface delivers packets again");
            }
            self.silent_interfaces = health.silent_interfaces.clone();
        }
        self.bound.shared.set_health(health);
        self.bound.shared.publish(m);
        self.bound.shared.set_ready(true);
    }

    /// Writes the periodic report when its packet time has come (after a checkpoint, so the
    /// store it is built from is current).
    fn report_if_due(&mut self) {
        let every = report_interval(&self.file);
        let now = self.pipeline.now().0;
        if every == 0 || now == 0 || now < self.next_report {
            return;
        }
        self.next_report = now.saturating_add(every);
        let r = &self.file.report;
        let formats = super::reports::formats(&r.formats);
        match super::reports::write_periodic(self.checkpoints.store(), &r.dir, &formats, (r.keep, self.audit.marks()), now, wall_ns()) {
            Ok(dir) => info!(folder = %dir.display(), "report written"),
            Err(e) => error!(error = %format!("{e:#}"), "report failed"),
        }
    }

    /// SIGHUP: the configuration and specs again, applied without closing the capture.
    fn reload(&mut self) {
        match self.try_reload() {
            Ok(()) => {
                self.reloads += 1;
                self.last_reload_ok = true;
                info!(config = %self.config_path.display(), "configuration reloaded");
            }
            Err(e) => {
                self.reload_failures += 1;
                self.last_reload_ok = false;
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
            ("[metrics]", new.metrics != self.file.metrics),
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
        if new.http2 != self.file.http2 {
            self.settings.h2 = new.http2.h2_config();
            self.pipeline.set_h2_config(self.settings.h2.clone());
            info!("[http2] limits changed: they apply to connections that start from now on");
        }
        self.file.http2 = new.http2;
        self.checkpoints.set_retention(new.store.retention);
        self.file.spec = new.spec;
        self.file.inventory = new.inventory;
        self.file.template = new.template;
        self.file.accept = new.accept;
        self.file.identity = new.identity;
        self.file.behaviour = new.behaviour;
        self.file.report = new.report;
        self.file.store.retention = new.store.retention;
        self.file.suppress = new.suppress;
        self.file.tuning = new.tuning;
        observe_tuning(&self.file);
        let marks = self.pipeline.analysis_mut().map(|a| a.triage_marks().clone()).unwrap_or_default();
        self.audit.reset(&self.file, marks);
        Ok(())
    }

    /// End of capture: flush flows, the final checkpoint and Kafka, before `deadline`.
    pub fn shutdown(&mut self, stats: LiveStats, deadline: Instant) -> Result<()> {
        self.summary.stages.insert("capture", crate::commands::capture_stage(&stats));
        self.summary.interfaces = crate::commands::interface_summaries(&stats);
        // A slice of the flows at a time, each slice's records handed on before the next.
        while !self.pipeline.finish_some() {
            self.drain();
        }
        self.drain();
        self.checkpoint();
        let mut stages = self.pipeline.counters();
        stages.append(&mut self.summary.stages);
        self.summary.stages = stages;
        self.summary.workers = self.pipeline.worker_summaries();
        if let Some(k) = self.outputs.kafka.take() {
            let now = self.pipeline.now().0;
            // The flush gets what is left of the deadline but the reserve for closing the
            // publisher and ending the process, so that the process ends within it; messages it
            // does not get to stay in the spool.
            let left = deadline.saturating_duration_since(Instant::now()).saturating_sub(AFTER_FLUSH_RESERVE);
            let report = k.finish(now, self.pipeline.analysis_mut().map(|a| &mut a.inventory), &self.summary, left);
            info!(report = %serde_json::to_string(&report).unwrap_or_default(), "Kafka flushed");
            if !report.complete {
                // The report line is for machines; operators grep for the count in words.
                let not_delivered = report.left_in_spool.saturating_add(report.in_flight);
                let spool = self.file.kafka.as_ref().map(|c| c.spool.dir.display().to_string()).unwrap_or_default();
                warn!(
                    not_delivered,
                    left_in_spool = report.left_in_spool,
                    in_flight = report.in_flight,
                    dropped = report.dropped,
                    spool = %spool,
                    "Kafka: {not_delivered} messages not delivered by the shutdown deadline: {} kept in the spool for the next start, {} still held by the Kafka client (may be lost); {} dropped during the run",
                    report.left_in_spool,
                    report.in_flight,
                    report.dropped
                );
            }
        }
        if let Some(server) = self.bound.server.take() {
            server.stop();
        }
        let json = serde_json::to_string(&self.summary).context("summary")?;
        info!(summary = %json, reloads = self.reloads, reload_failures = self.reload_failures, "run summary");
        Ok(())
    }
}

/// Packet-time nanoseconds between periodic reports (0: none).
fn report_interval(file: &ConfigFile) -> u64 {
    // Whole seconds: at least a minute by validation, at most a month.
    (file.report.every_hours * 3600.0).round() as u64 * 1_000_000_000
}

fn wall_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `[daemon] sensor_id`, else `APITAP_SENSOR_ID`, else the host name.
fn sensor_id(file: &ConfigFile) -> String {
    file.daemon.sensor_id.clone().map(|s| s.trim().to_string()).unwrap_or_else(crate::output::sensor_id)
}

/// Tuning changed outside apitap's commands (the file edited by hand) is recorded in the audit
/// log as a `config.observe` record; when the daemon may not write the log, the change is
/// logged with the command that records it.
fn observe_tuning(file: &ConfigFile) {
    use crate::tuning::manifest::{self, Drift};
    let drift = match manifest::compare(file) {
        Ok(Drift::Same) => return,
        Ok(d) => d,
        Err(e) => {
            warn!(error = %format!("{e:#}"), "cannot compare the configuration's tuning with the audit log");
            return;
        }
    };
    let first = matches!(drift, Drift::Unrecorded { first: true, .. });
    let reason = if first {
        "the tuning in force when the sensor first recorded it"
    } else {
        "the tuning of the configuration changed outside apitap's commands (the file was edited or replaced)"
    };
    match manifest::record(file, &drift, "apitap run (unattributed)", reason) {
        Ok(seq) if first => info!(record = seq, "tuning in force recorded in the audit log"),
        Ok(seq) => warn!(record = seq, change = %drift.describe(), "tuning changed outside apitap's commands; recorded in the audit log"),
        Err(e) => warn!(
            change = %drift.describe(),
            error = %format!("{e:#}"),
            fix = %format!("apitap audit observe --config {} --by WHO --reason WHY", file.path.display()),
            "tuning not recorded in the audit log"
        ),
    }
}
