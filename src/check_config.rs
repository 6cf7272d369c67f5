//! `apitap check-config FILE`: everything a run would refuse about a configuration file, found
//! before the run: the TOML itself and every section's values (file, line and fix), the specs
//! it names, the network databases, the detector settings, and the Kafka section with its
//! secret files. Reads files; opens no interface and no connection.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use apitap_discovery::behaviour::Behaviour;
use apitap_parsers::http::HttpConfig;
use apitap_sensor::decode::DecodeConfig;
use apitap_sensor::flow::FlowConfig;

use crate::cli::CheckConfigArgs;
use crate::config_file::ConfigFile;

/// Checks the file; on success prints what it configures, one line per part.
pub fn run(args: &CheckConfigArgs) -> Result<ExitCode> {
    let path = args.file.as_path();
    let file = check_text(path, &crate::config_file::read(path)?)?;
    crate::inventory::setup_parts(&[], &file)?;
    let geo = crate::analysis::load_geo(&file)?;
    if let Some(k) = &file.kafka {
        if k.brokers.is_empty() {
            eprintln!("{}: note: [kafka] names no brokers; runs need --kafka-brokers", path.display());
        }
        crate::kafka::config::Secrets::load(k).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    let key_note = match crate::daemon::keys(&file) {
        Ok(k) => format!("hashing secret from {}", if k.current.1 == crate::secret::KeyOrigin::File { "its file" } else { crate::secret::KEY_ENV }),
        // A named secret file that is missing, too short or open to everyone is a mistake;
        // no secret at all only matters to `apitap run`.
        Err(e) if file.daemon.hash_key_file.is_some() || file.daemon.previous_hash_key_file.is_some() => return Err(e),
        Err(_) => format!("no hashing secret yet (`apitap run` needs [daemon] hash_key_file or {})", crate::secret::KEY_ENV),
    };
    print!("{}", describe(path, &file, geo.as_ref().map_or(0, |g| g.databases().len())));
    println!("  daemon: {key_note}");
    match &file.capture {
        Some(c) => println!(
            "  capture: {} ({}); store {} (checkpoint every {} s); reports {}",
            c.interface.join(", "),
            c.filter.as_deref().map_or("no filter".to_string(), |f| format!("filter {f:?}")),
            file.store.path.display(),
            file.store.checkpoint_interval_secs,
            if file.report.every_hours == 0.0 { "on demand only".to_string() } else { format!("every {} h to {}", file.report.every_hours, file.report.dir.display()) }
        ),
        None => println!("  capture: no [capture] section (needed by `apitap run` only)"),
    }
    let t = &file.limits.tcp;
    println!(
        "  limits: max flows {}; TCP out-of-order buffer {} total ({} per direction); HTTP buffer {} total; idle timeout {} s",
        t.max_flows,
        bytes(t.max_buffered_total),
        bytes(t.max_buffered_per_dir),
        bytes((file.capture.as_ref().map_or(crate::daemon::config::CaptureSection::default().http_buffer_mib, |c| c.http_buffer_mib) as usize) << 20),
        t.idle_timeout_secs
    );
    Ok(ExitCode::SUCCESS)
}

/// What `check-config` finds in configuration text without reading any other file: the TOML
/// and every section's values ([`crate::config_file::parse`]), the detector settings, the
/// metrics section's values, the operator templates, and the pipeline settings `apitap run`
/// builds from the file. Errors name `path` and a line. Never panics, whatever the text (the
/// `config` fuzz target holds it to that).
pub fn check_text(path: &Path, text: &str) -> Result<ConfigFile> {
    let file = crate::config_file::parse(path, text)?;
    crate::inventory::parts_from(Vec::new(), &file)?;
    Behaviour::new(file.behaviour.clone(), [0; 16], !file.spec.is_empty()).map_err(|e| anyhow!("{}: [behaviour]: {e}", path.display()))?;
    file.metrics.validate().map_err(|e| anyhow!("{}:{}: {e}", path.display(), crate::config_file::table_line(text, "metrics")))?;
    // The conversions `Settings` makes for a run (seconds to nanoseconds, sizes to limits).
    file.limits.apply_decode(&mut DecodeConfig::default());
    file.limits.apply_flow(&mut FlowConfig::default());
    file.limits.apply_http(&mut HttpConfig::default());
    file.tls.decrypt_config();
    file.http2.h2_config();
    Ok(file)
}

/// A byte count as the file's comments write it: MiB or KiB when it is a whole number of them.
fn bytes(n: usize) -> String {
    match n {
        0 => "0 bytes".to_string(),
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn describe(path: &Path, file: &ConfigFile, geo_files: usize) -> String {
    let mut s = format!("{}: valid\n", path.display());
    s.push_str(&format!(
        "  specs: {} ({} superseded); templates: {}; accepted shadow endpoints: {}\n",
        file.spec.len(),
        file.spec.iter().filter(|e| e.superseded).count(),
        file.template.len(),
        file.accept.len()
    ));
    s.push_str(&format!("  identity: network databases: {geo_files}\n"));
    s.push_str(&format!("  behaviour: time zone {}\n", file.behaviour.timezone));
    match &file.kafka {
        Some(k) => s.push_str(&format!(
            "  kafka: brokers {}; tls {}; sasl {}; spool {}\n",
            if k.brokers.is_empty() { "(from --kafka-brokers)".to_string() } else { k.brokers.join(",") },
            if k.tls.is_some() { "on" } else { "off" },
            k.sasl.as_ref().map_or("off", |s| s.mechanism.as_str()),
            k.spool.dir.display()
        )),
        None => s.push_str("  kafka: not configured\n"),
    }
    s
}
