//! `apitap intel check`: loads threat-intelligence feeds the way the sensor will and reports
//! what loaded and every entry that did not.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use apitap_discovery::intel::{FeedLimits, IntelSetBuilder};
use clap::{Args, Subcommand};

use super::FeedFormat;

/// The `intel` subcommands.
#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Load feeds (STIX 2.1 bundles, plain lists, MISP CSV exports) as the sensor will: print
    /// each feed's counts and every entry that did not load, with its place and the reason.
    /// Exit 1 when a feed could not be read at all (entries that do not load are reported,
    /// not failures: the rest of the feed loads).
    Check(CheckArgs),
}

/// `apitap intel check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The feed files.
    #[arg(required = true, value_name = "FEED")]
    pub feeds: Vec<PathBuf>,
    /// Their format; default: told from each file (`.json` or a first `{`: STIX, `.csv`: MISP,
    /// else a plain list).
    #[arg(long, value_enum)]
    pub format: Option<FeedFormat>,
    /// Judge validity (expired, not valid yet) at this time, RFC 3339 or a date, instead of
    /// now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Runs an `intel` subcommand.
pub fn run(cmd: &IntelCommand) -> Result<ExitCode> {
    match cmd {
        IntelCommand::Check(a) => check(a),
    }
}

fn check(a: &CheckArgs) -> Result<ExitCode> {
    let now = match &a.at {
        Some(t) => {
            let ns = apitap_discovery::tuning::parse_instant(t, &apitap_discovery::sketch::BankClock::utc(), false)
                .map_err(|e| anyhow::anyhow!("--at {t:?}: {e}"))?;
            i64::try_from(ns).unwrap_or(i64::MAX)
        }
        None => i64::try_from(crate::store::db::wall_ns()).unwrap_or(i64::MAX),
    };
    let limits = FeedLimits::default();
    let mut set = IntelSetBuilder::new();
    let mut failed = 0usize;
    for path in &a.feeds {
        let name = path.display();
        match super::load(path, a.format, now, &limits) {
            Ok((format, feed)) => {
                let c = feed.counts;
                println!(
                    "{name}: {}: {} entries, {} indicators loaded, {} skipped ({} expired), {} revoked, {} other objects ignored, {} problems",
                    format.name(),
                    c.entries,
                    c.loaded,
                    c.skipped,
                    c.expired,
                    c.revoked,
                    c.ignored_objects,
                    feed.problems.len() as u64 + c.problems_dropped
                );
                for p in &feed.problems {
                    println!("{name}: {p}");
                }
                if c.problems_dropped > 0 {
                    println!("{name}: {} more problems not listed (MAX_PROBLEMS)", c.problems_dropped);
                }
                set.add_feed(&name.to_string(), feed);
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    let set = set.build();
    let counts = set.counts();
    println!(
        "set: {} indicators from {} feeds, {:.1} MiB{}",
        counts.indicators,
        counts.feeds,
        set.memory_bytes() as f64 / (1024.0 * 1024.0),
        if counts.indicator_limit_hits > 0 { " (MAX_INDICATORS reached: the rest left out)" } else { "" }
    );
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
