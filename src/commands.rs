//! The subcommands: `read` (capture files) and `capture` (live interface).

use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cli::{CaptureArgs, Cli, Command, CommonArgs, ReadArgs};
use crate::config::Settings;
use crate::kafka::KafkaConfig;
use crate::output::{self, AnomalyWriter, KafkaSink, RecordWriter};
use apitap_discovery::behaviour::Producer;
use crate::pipeline::Pipeline;
use crate::source::{file, live};
use crate::summary::Summary;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Read(args) => read(args),
        Command::Capture(args) => capture(args),
        Command::Simulate(args) => crate::simulate::command::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Inventory(crate::cli::InventoryCommand::Accept(args)) => crate::accept::run(&args).map(|()| ExitCode::SUCCESS),
        Command::CheckConfig(args) => crate::check_config::run(&args),
        Command::Run(args) => crate::daemon::run(&args),
        Command::Store(cmd) => crate::store::command::run_store(&cmd),
        Command::Purge(args) => crate::store::command::run_purge(&args),
        Command::Suppress(cmd) => crate::tuning::suppress_cmd::run(&cmd),
        Command::Alerts(cmd) => crate::tuning::alerts_cmd::run(&cmd),
        Command::Override(cmd) => crate::tuning::override_cmd::run_override(&cmd),
        Command::Group(cmd) => crate::tuning::override_cmd::run_group(&cmd),
        Command::Report(args) => crate::report::command::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Audit(cmd) => crate::audit::command::run(&cmd),
        Command::Intel(cmd) => crate::intel::command::run(&cmd),
    }
}

/// Where results go: transaction records, finding events when the detectors run, and the
/// Kafka streams when brokers are configured.
pub(crate) struct Outputs {
    pub(crate) records: Box<dyn RecordWriter>,
    pub(crate) anomalies: Option<AnomalyWriter>,
    pub(crate) kafka: Option<KafkaSink>,
    /// Finding events for the daemon's store, taken after each drain.
    pub(crate) findings: Option<Vec<apitap_discovery::behaviour::Anomaly>>,
}

/// The `[kafka]` section of the configuration file, with `--kafka-brokers` as its brokers;
/// `None` when neither asks for Kafka.
fn kafka_config(common: &CommonArgs) -> Result<Option<KafkaConfig>> {
    let section = match common.config.as_deref() {
        Some(path) => crate::config_file::load(path)?.kafka,
        None => None,
    };
    let cfg = match (section, common.kafka_brokers.as_deref()) {
        (None, None) => return Ok(None),
        (Some(mut k), Some(list)) => {
            k.brokers = KafkaConfig::with_brokers(list).brokers;
            k
        }
        (None, Some(list)) => KafkaConfig::with_brokers(list),
        (Some(k), None) => k,
    };
    cfg.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(cfg))
}

/// Opens the writers: records to a file in `out` or standard output; anomalies to `out` when
/// the pipeline runs the detectors; the Kafka publisher when configured.
fn open_outputs(out: Option<&Path>, common: &CommonArgs, pipeline: &mut Pipeline) -> Result<Outputs> {
    let records = open_writer(out, common)?;
    let detecting = pipeline.analysis_mut().is_some_and(|a| a.behaviour().is_some());
    let producer = Producer { sensor_id: output::sensor_id(), version: env!("CARGO_PKG_VERSION").to_string() };
    let anomalies = match out {
        Some(dir) if detecting => Some(
            AnomalyWriter::create(dir, producer.clone())
                .with_context(|| format!("cannot create {}", dir.join(output::ANOMALIES_FILE).display()))?,
        ),
        _ => None,
    };
    let kafka = match kafka_config(common)? {
        Some(cfg) => Some(KafkaSink::open(cfg, producer)?),
        None => None,
    };
    Ok(Outputs { records, anomalies, kafka, findings: None })
}

/// Opens the record writer: a file in `out` or standard output.
fn open_writer(out: Option<&Path>, common: &CommonArgs) -> Result<Box<dyn RecordWriter>> {
    let sink: Box<dyn Write> = match out {
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("cannot create output directory {}", dir.display()))?;
            let path = dir.join(output::file_name(common.format));
            let f = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            Box::new(BufWriter::new(f))
        }
        None => Box::new(BufWriter::new(io::stdout())),
    };
    Ok(output::writer(common.format, sink))
}

/// Builds the pipeline, with the endpoint inventory when the settings ask for one (its body
/// capture size goes into the HTTP settings first).
fn start_pipeline(settings: &mut Settings, common: &CommonArgs) -> Result<Pipeline> {
    let setup = if settings.inventory { Some(crate::analysis::setup(common, !common.no_detect)?) } else { None };
    if let Some(s) = &setup {
        apply_analysis_settings(settings, s);
        if s.key_origin == crate::secret::KeyOrigin::Random && !common.no_detect {
            eprintln!(
                "note: no hashing key ({} or --hash-key-file): consumer and finding ids are valid for this run only",
                crate::secret::KEY_ENV
            );
        }
    }
    let mut pipeline = Pipeline::new(settings);
    if let Some(s) = setup {
        pipeline.set_analysis(s.analysis);
    }
    Ok(pipeline)
}

/// The HTTP settings the analysis needs: body capture size, the credential key and the
/// headers identification reads.
pub(crate) fn apply_analysis_settings(settings: &mut Settings, s: &crate::analysis::AnalysisSetup) {
    let mut http = (*settings.http).clone();
    http.max_body_capture = s.body_capture;
    http.credential_key = s.key;
    http.retain_headers = s.retain_headers.clone();
    settings.http = Arc::new(http);
}

/// Moves finished records and finding events from the pipeline to the writers, counting them.
pub(crate) fn drain(pipeline: &mut Pipeline, outputs: &mut Outputs, summary: &mut Summary) -> Result<()> {
    let write = pipeline.writes_records();
    for rec in pipeline.drain_records() {
        summary.transactions += 1;
        summary.events += rec.events.len() as u64;
        if !write {
            continue;
        }
        outputs.records.write(&rec).context("cannot write transaction record")?;
        if let Some(k) = outputs.kafka.as_mut() {
            k.transaction(&rec);
        }
    }
    for a in pipeline.drain_anomalies() {
        summary.anomalies += 1;
        if let Some(w) = outputs.anomalies.as_mut() {
            w.write(&a).context("cannot write anomalies.jsonl")?;
        }
        // A suppressed finding is kept (anomalies.jsonl, the store) and counted, never
        // published as an alert.
        if let Some(mark) = &a.suppressed {
            summary.anomalies_suppressed += 1;
            if a.lifecycle == apitap_discovery::behaviour::Lifecycle::New {
                *summary.suppressed_by_rule.entry(mark.rule.clone()).or_default() += 1;
            }
        } else if let Some(k) = outputs.kafka.as_mut() {
            k.anomaly(&a);
        }
        if let Some(f) = outputs.findings.as_mut() {
            f.push(a);
        }
    }
    if let Some(k) = outputs.kafka.as_mut() {
        let now = pipeline.now().0;
        if k.inventory_due(now) {
            if let Some(a) = pipeline.analysis_mut() {
                k.inventory(now, &mut a.inventory);
            }
        }
        if k.health_due() {
            k.health(now, &summary.snapshot(pipeline.counters()));
        }
        k.report_events();
    }
    Ok(())
}

fn finish(
    mut pipeline: Pipeline,
    mut writer: Outputs,
    mut summary: Summary,
    out: Option<&Path>,
    common: &CommonArgs,
) -> Result<Summary> {
    // A slice of the flows at a time, each slice's records written before the next, so that
    // the records of every flow open at the end never exist at once.
    while !pipeline.finish_some() {
        drain(&mut pipeline, &mut writer, &mut summary)?;
    }
    drain(&mut pipeline, &mut writer, &mut summary)?;
    writer.records.finish().context("cannot write transaction records")?;
    if let Some(w) = writer.anomalies.as_mut() {
        w.flush().context("cannot write anomalies.jsonl")?;
    }
    let mut stages = pipeline.counters();
    stages.append(&mut summary.stages);
    summary.stages = stages;
    summary.workers = pipeline.worker_summaries();
    if let Some(k) = writer.kafka.take() {
        let now = pipeline.now().0;
        let report = k.finish(now, pipeline.analysis_mut().map(|a| &mut a.inventory), &summary, crate::output::SHUTDOWN_TIMEOUT);
        summary.kafka = Some(serde_json::to_value(&report)?);
    }
    let json = serde_json::to_string_pretty(&summary)?;
    if let (Some(dir), Some(a)) = (out, pipeline.analysis_mut()) {
        let report = a.inventory.report();
        crate::inventory::write(dir, &report)?;
    }
    if let Some(dir) = out {
        let path = dir.join("summary.json");
        fs::write(&path, format!("{json}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if common.summary_json {
        eprintln!("{json}");
    } else {
        eprint!("{}", summary.text());
    }
    Ok(summary)
}

/// True when standard output is a pipe or socket whose reader has gone.
fn stdout_closed() -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let stdout = rustix::stdio::stdout();
    let mut fds = [PollFd::from_borrowed_fd(stdout, PollFlags::empty())];
    let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
    poll(&mut fds, Some(&zero)).is_ok_and(|n| n > 0)
        && fds.iter().any(|f| f.revents().intersects(PollFlags::ERR | PollFlags::HUP))
}

/// True when the error is a closed standard output (`apitap read ... | head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

fn read(args: ReadArgs) -> Result<ExitCode> {
    let mut settings = Settings::from_args(&args.common, args.out.as_deref())?;
    settings.stop_after = args.stop_after;
    // The key logs once, before any packet: one that cannot be read stops the run.
    if let Some(reader) = settings.keylog_reader() {
        reader.on_stderr().poll(true)?;
    }
    let mut pipeline = start_pipeline(&mut settings, &args.common)?;
    let mut writer = open_outputs(args.out.as_deref(), &args.common, &mut pipeline)?;
    let mut summary = Summary::default();
    let progress = !args.no_progress && io::stderr().is_terminal();
    // Files that cannot be opened or read are reported as they fail; the rest go on.
    let io_errors = std::cell::Cell::new(0u64);
    let mut on_error = |_: &Path, err: anyhow::Error| {
        io_errors.set(io_errors.get() + 1);
        eprintln!("error: {err:#}");
    };
    let mut merge = file::Merge::open(&args.captures, &mut on_error);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut packets = 0u64;
    while let Some(rec) = merge.current(&mut on_error) {
        pipeline.handle_packet(&rec);
        if let Err(err) = drain(&mut pipeline, &mut writer, &mut summary) {
            if is_broken_pipe(&err) {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(err);
        }
        merge.advance(&mut on_error);
        packets += 1;
        if progress && packets % 4096 == 0 && last_progress.elapsed().as_millis() >= 500 {
            last_progress = Instant::now();
            let (done, size) = merge.progress();
            let (files_done, files) = merge.files_done();
            let secs = started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\rreading: file {} of {}, {:.0}% of the open ones, {} packets ({:.0} k/s)   ",
                (files_done + 1).min(files),
                files,
                100.0 * done as f64 / size.max(1) as f64,
                packets,
                packets as f64 / secs / 1e3
            );
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    summary.files = args.captures.len() as u64;
    summary.files_with_errors = io_errors.get();
    let mut failed = io_errors.get() > 0;
    for (path, o) in merge.into_outcomes() {
        let path = path.display();
        summary.bad_records += o.bad_records;
        if let Some(err) = &o.first_bad {
            eprintln!("warning: {path}: {} unusable records skipped; the first: {err}", o.bad_records);
        }
        if let Some(err) = &o.error {
            failed = true;
            summary.files_with_errors += 1;
            eprintln!("error: {path}: {err} (read {} packets before it)", o.packets);
        }
        if o.truncated {
            failed = true;
            summary.files_truncated += 1;
            eprintln!("error: {path}: file ends in the middle of a record (cut short?); the partial record was dropped");
        }
    }
    match finish(pipeline, writer, summary, args.out.as_deref(), &args.common) {
        Err(err) if is_broken_pipe(&err) => return Ok(ExitCode::SUCCESS),
        other => other?,
    };
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The summary's `capture` stage: the kernel's and the interface's counters.
pub(crate) fn capture_stage(st: &live::LiveStats) -> std::collections::BTreeMap<&'static str, u64> {
    [
        ("kernel_received", st.received),
        ("kernel_dropped", st.dropped),
        ("interface_dropped", st.if_dropped),
        ("interfaces", st.interfaces.len() as u64),
        ("reorder_limit_hits", st.reorder_limit_hits),
    ]
    .into_iter()
    .collect()
}

/// Each interface's counters for the summary (listed only when there are several).
pub(crate) fn interface_summaries(st: &live::LiveStats) -> Vec<crate::summary::InterfaceSummary> {
    if st.interfaces.len() < 2 {
        return Vec::new();
    }
    st.interfaces
        .iter()
        .map(|i| crate::summary::InterfaceSummary {
            name: i.name.clone(),
            packets: i.packets,
            bytes: i.bytes,
            kernel_received: i.received,
            kernel_dropped: i.dropped,
            interface_dropped: i.if_dropped,
        })
        .collect()
}

fn capture(args: CaptureArgs) -> Result<ExitCode> {
    let mut settings = Settings::from_args(&args.common, args.out.as_deref())?;
    settings.queue_wait = Some(crate::pipeline::workers::LIVE_QUEUE_WAIT);
    // Key logs keep growing while a live capture runs (a client writes a line per session):
    // read them again every few hundred milliseconds.
    let _keylog_watcher = match settings.keylog_reader() {
        Some(reader) => Some(crate::tls_keys::KeyLogWatcher::start(reader.on_stderr())?),
        None => None,
    };
    let mut pipeline = start_pipeline(&mut settings, &args.common)?;
    let mut writer = open_outputs(args.out.as_deref(), &args.common, &mut pipeline)?;
    let mut summary = Summary::default();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot install signal handler")?;
    }
    // Both callbacks need the pipeline and the writer; they never run at the same time.
    let state = std::cell::RefCell::new((&mut pipeline, &mut writer, &mut summary, None::<anyhow::Error>));
    let stopper = Arc::clone(&stop);
    let to_stdout = args.out.is_none();
    let deliver = |tick: Option<apitap_sensor::Timestamp>, rec: Option<&apitap_sensor::capture::PacketRecord<'_>>| {
        let mut guard = state.borrow_mut();
        let (p, w, s, err) = &mut *guard;
        if let Some(rec) = rec {
            p.handle_packet(rec);
        }
        if let Some(now) = tick {
            p.handle_tick(now);
            if to_stdout && stdout_closed() {
                // Nobody reads the records any more (`| head` finished): stop now rather than
                // at the next record, which on a quiet link may be a long time away.
                stopper.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if err.is_none() {
            // Live records are wanted as they happen, not when a buffer fills.
            *err = drain(p, w, s)
                .and_then(|()| w.records.finish().context("cannot write transaction records"))
                .and_then(|()| w.anomalies.as_mut().map_or(Ok(()), |a| a.flush().context("cannot write anomalies.jsonl")))
                .err();
            if err.is_some() {
                // Output is gone (a closed pipe, a full disk): stop capturing.
                stopper.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    // The kernel's counters so far, for the health messages published during the capture.
    let on_stats = |st: &live::LiveStats| {
        let mut guard = state.borrow_mut();
        guard.2.stages.insert("capture", capture_stage(st));
        guard.2.interfaces = interface_summaries(st);
    };
    let (stats, failure) =
        live::capture(&args, &stop, |rec| deliver(None, Some(rec)), |now| deliver(Some(now), None), on_stats)?;
    if let Some(err) = state.into_inner().3 {
        if is_broken_pipe(&err) {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(err);
    }
    summary.stages.insert("capture", capture_stage(&stats));
    summary.interfaces = interface_summaries(&stats);
    finish(pipeline, writer, summary, args.out.as_deref(), &args.common)?;
    if let Some(err) = failure {
        eprintln!("error: {err:#}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
