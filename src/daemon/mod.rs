//! `apitap run --config FILE`: the long-running sensor. Live capture, inventory, identities,
//! baselines and detectors, Kafka publishing, the persistent store, periodic reports and the
//! metrics endpoint in one process.
//!
//! Start-up order matters for least privilege: the capture handle is opened and the metrics
//! port bound first (they may need root or capabilities), then privileges are dropped, and
//! only then are files written, threads started and the state restored.
//!
//! Signals: SIGTERM and SIGINT stop capturing and flush everything (final checkpoint, Kafka)
//! within `[daemon] shutdown_deadline_secs`; SIGHUP re-reads the configuration and the specs
//! and applies them without closing the capture handle (what needs a restart is logged).

mod audit_watch;
pub mod config;
pub mod config_http2;
mod housekeeping;
pub mod limits;
mod observe;
pub mod reports;
mod state;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tracing::{error, info, warn};

use crate::config_file::ConfigFile;
use crate::secret::KeyOrigin;
use crate::source::live::{LiveCapture, LiveOptions};

pub use housekeeping::Running;

/// Arguments of `apitap run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file (TOML; see deploy/apitap.example.toml and docs/daemon.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// The signals the daemon reacts to, as flags the capture loop looks at.
pub struct Signals {
    /// SIGTERM or SIGINT: stop and flush.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: reload.
    pub reload: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> Result<Signals> {
        let stop = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot install the SIGTERM handler")?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload)).context("cannot install the SIGHUP handler")?;
        Ok(Signals { stop, reload })
    }
}

/// Loads and checks the configuration for `run`: everything `check-config` checks, plus the
/// `[capture]` section `run` needs.
pub fn load_config(path: &Path) -> Result<ConfigFile> {
    let file = crate::config_file::load(path)?;
    if file.capture.is_none() {
        bail!(
            "{}: `apitap run` needs a [capture] section naming the mirror interface; add:\n[capture]\ninterface = \"eth1\"",
            path.display()
        );
    }
    Ok(file)
}

/// The deployment's hashing key (and where it came from) and, during a rotation, the previous
/// one.
#[derive(Clone, Copy)]
pub struct Keys {
    /// The key in use.
    pub current: ([u8; 16], KeyOrigin),
    /// The key before a rotation, while it is under way.
    pub previous: Option<[u8; 16]>,
}

/// The deployment's hashing key and, during a rotation, the previous one. The daemon keeps
/// baselines across restarts, so a random per-run key (what `read` falls back to) is refused.
pub fn keys(file: &ConfigFile) -> Result<Keys> {
    let d = &file.daemon;
    for p in [&d.hash_key_file, &d.previous_hash_key_file].into_iter().flatten() {
        check_secret_file(p)?;
    }
    let key = crate::secret::hash_key(d.hash_key_file.as_deref())
        .with_context(|| format!("{}: [daemon] hash_key_file", file.path.display()))?;
    if key.1 == KeyOrigin::Random {
        bail!(
            "{}: no hashing secret: set [daemon] hash_key_file (a file of at least 16 random bytes, mode 0600: `openssl rand -hex 32 > /etc/apitap/hash.key`) or {}; without it consumer ids and baselines would not survive a restart",
            file.path.display(),
            crate::secret::KEY_ENV
        );
    }
    let previous = match &d.previous_hash_key_file {
        Some(p) => Some(crate::secret::hash_key(Some(p))?.0),
        None => None,
    };
    Ok(Keys { current: key, previous })
}

/// A secret file must not be accessible to every user. Group access is allowed: a dedicated
/// group is how Kubernetes (fsGroup) and many packages hand a secret to a service user.
fn check_secret_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("{}: cannot read the hashing secret: {e}", path.display()))?;
    if meta.permissions().mode() & 0o007 != 0 {
        bail!(
            "{}: the hashing secret is open to every user (mode {:o}); run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
    Ok(())
}

/// Ends the process if shutting down takes longer than the deadline (counted from `since`, the
/// moment the stop was noticed) plus a grace period (a wedged broker connection must not keep a
/// service manager waiting forever).
fn watchdog(since: Instant, deadline: Duration) {
    let until = since + deadline + Duration::from_secs(5);
    std::thread::spawn(move || {
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        error!(deadline_secs = deadline.as_secs(), "shutdown took longer than the deadline; exiting without finishing it");
        std::process::exit(3);
    });
}

/// Runs the daemon until SIGTERM or a capture failure.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let file = load_config(&args.config)?;
    crate::logging::init(file.daemon.log_format, &file.daemon.log_level)?;
    let keys = keys(&file)?;
    let cap = file.capture.clone().unwrap_or_default();
    let opts = LiveOptions {
        interfaces: cap.interface.clone(),
        filter: cap.filter.clone(),
        snaplen: cap.snaplen,
        promisc: cap.promiscuous,
        buffer_mib: cap.buffer_mib,
        count: None,
        duration: None,
    };
    let live = LiveCapture::open(&opts)?;
    for (name, link) in live.links() {
        info!(interface = %name, link = ?link, snaplen = cap.snaplen, "capture open");
    }
    let bound = housekeeping::bind_endpoints(&file)?;
    let dropped = crate::privilege::drop_privileges(file.daemon.user.as_deref())?;
    info!(uid = dropped.uid, gid = dropped.gid, "privileges dropped: no capabilities left");
    let signals = Signals::install()?;
    let mut running = Running::start(args.config.clone(), file, keys, bound)?;
    let stop = Arc::clone(&signals.stop);
    let state = std::cell::RefCell::new(&mut running);
    // The deadline runs from the signal, not from the end of the capture loop: the loop still
    // reads what the kernel ring holds after the stop, and that is part of the shutdown. The
    // loop calls back for every packet and every few milliseconds when idle, so the moment is
    // noticed within a read timeout.
    let stop_seen = std::cell::Cell::new(None::<Instant>);
    let notice = || {
        if stop_seen.get().is_none() && stop.load(Ordering::Relaxed) {
            stop_seen.set(Some(Instant::now()));
        }
    };
    let (stats, failure) = live.run(
        &stop,
        |rec| {
            notice();
            state.borrow_mut().packet(rec);
        },
        |now| {
            notice();
            state.borrow_mut().tick(now);
        },
        |st| state.borrow_mut().second(st, &signals),
    );
    let deadline = Duration::from_secs(running.shutdown_deadline_secs());
    let started = stop_seen.get().unwrap_or_else(Instant::now);
    watchdog(started, deadline);
    info!("stopping: final checkpoint and flush");
    running.shutdown(stats, started + deadline)?;
    if let Some(err) = failure {
        error!(error = %format!("{err:#}"), "capture failed");
        return Ok(ExitCode::from(1));
    }
    if signals.stop.load(Ordering::Relaxed) {
        info!(secs = started.elapsed().as_secs_f64(), "stopped");
    } else {
        warn!("capture ended without a signal");
    }
    Ok(ExitCode::SUCCESS)
}
