//! `apitap store backup|restore|info|migrate` and `apitap purge`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;

use super::db::{iso, wall_ns, DataKind, Purge, PurgeStats, RetentionConfig, Store, LATEST};

/// The `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the store into a new file with SQLite's online backup (safe while the daemon runs;
    /// never overwrites).
    Backup(BackupArgs),
    /// Replace a store with a backup (refused while a daemon holds the store: stop it first).
    Restore(RestoreArgs),
    /// Show the store's schema version, sizes, row counts, last checkpoint and pending erasures.
    Info(InfoArgs),
    /// Upgrade the store's schema to this apitap's version (the daemon also does it when it
    /// starts).
    Migrate(MigrateArgs),
}

/// `apitap store backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The store.
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
    /// The backup file to write (must not exist).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

/// `apitap store restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The store to replace (created if missing).
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
}

/// `apitap store info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The store.
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `apitap store migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store.
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
}

/// Which clock `--expired` measures age against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Clock {
    /// The current time.
    Wall,
    /// The packet time of the store's last checkpoint (for stores filled from old captures).
    Packet,
}

/// `apitap purge`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["consumer", "customer", "customer_value", "expired"])))]
pub struct PurgeArgs {
    /// The store.
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
    /// Erase one consumer (its id as the store shows it: 16 hex digits).
    #[arg(long, value_name = "ID")]
    pub consumer: Option<String>,
    /// Erase one customer (its id as the store shows it: 16 hex digits).
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    /// Erase one customer by the value the bank knows (the JWT customer claim or the consent
    /// id, as traffic carries it; `-` reads it from standard input, keeping it out of the
    /// process list and shell history). The store holds only keyed ids: the hashing key of
    /// --config turns the value into them (and the previous key, during a rotation).
    #[arg(long, value_name = "VALUE", requires = "config")]
    pub customer_value: Option<String>,
    /// Delete everything older than its retention period ([store.retention] in --config,
    /// else the defaults: profiles 90 days, customer links 30, findings 180, reports 400).
    #[arg(long)]
    pub expired: bool,
    /// Configuration file: its [store.retention] section sets the periods of --expired; its
    /// [daemon] hashing key turns --customer-value into the stored ids.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What "now" is for --expired.
    #[arg(long, value_enum, default_value = "wall", requires = "expired")]
    pub clock: Clock,
}

/// Runs a `store` subcommand.
pub fn run_store(cmd: &StoreCommand) -> Result<ExitCode> {
    match cmd {
        StoreCommand::Backup(a) => {
            let st = Store::backup_file(&a.store, &a.to)?;
            let last = st.last_checkpoint.map_or_else(|| "no checkpoint yet".to_string(), |t| format!("last checkpoint {}", iso(t)));
            println!(
                "backed up {} to {}: {} KiB, schema version {}, {last}",
                a.store.display(),
                st.path.display(),
                st.bytes.div_ceil(1024),
                st.schema_version
            );
        }
        StoreCommand::Restore(a) => {
            let st = Store::restore(&a.from, &a.store)?;
            let last = st.last_checkpoint.map_or_else(|| "no checkpoint".to_string(), |t| format!("last checkpoint {}", iso(t)));
            let upgraded = if st.from_version < st.schema_version {
                format!(" (the backup had version {}, upgraded)", st.from_version)
            } else {
                String::new()
            };
            println!(
                "restored {} into {}: schema version {}{upgraded}, {last}; start the daemon to carry on from it",
                a.from.display(),
                st.path.display(),
                st.schema_version
            );
        }
        StoreCommand::Info(a) => {
            let info = Store::info_file(&a.store)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print!("{info}");
            }
        }
        StoreCommand::Migrate(a) => {
            let store = Store::open_existing(&a.store)?;
            match store.migrated_from() {
                Some(from) => println!("upgraded {} from schema version {from} to {LATEST}", a.store.display()),
                None => println!("{} is already at schema version {LATEST}", a.store.display()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The part of a configuration file `purge` reads; every other key is left to the daemon's
/// configuration check.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    store: Option<StoreSection>,
}

#[derive(Debug, Default, Deserialize)]
struct StoreSection {
    #[serde(default)]
    retention: Option<RetentionConfig>,
}

fn retention(config: Option<&Path>) -> Result<RetentionConfig> {
    let Some(path) = config else {
        return Ok(RetentionConfig::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the configuration", path.display()))?;
    let cfg: ConfigFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}: [store.retention]: {e}\nfix: periods are days (90) or \"90d\", \"12w\"; keys: consumer_profiles, customer_links, findings, reports", path.display())
    })?;
    Ok(cfg.store.and_then(|s| s.retention).unwrap_or_default())
}

fn print_purge(header: &str, st: &PurgeStats, store: &Path) {
    let e = &st.erased;
    println!("{header}");
    println!("  consumer profiles deleted  {}", e.consumers);
    println!("  customer links deleted     {}", e.customer_links);
    println!("  findings deleted           {}", e.findings);
    println!("  reports deleted            {}", e.reports);
    println!("  entries rewritten          {} (endpoint, finding and report JSON that mentioned the id)", e.scrubbed);
    let ids: Vec<String> = st.erasures.iter().map(|i| format!("#{i}")).collect();
    println!(
        "erasure log: {} in {}; a running daemon (or the next one started) forgets the same data in memory and rewrites its state sections at its next checkpoint",
        ids.join(", "),
        store.display()
    );
    if !st.wal_truncated {
        println!("note: another process is reading the store; SQLite's write-ahead log keeps the old rows until its next checkpoint");
    }
}

/// The keyed ids of a customer value under the configuration's hashing key (and previous
/// key), distinct, in a stable order.
fn customer_value_ids(config: &Path, value: &str) -> Result<Vec<String>> {
    let value = if value == "-" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("cannot read the customer value from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        value.to_string()
    };
    if value.is_empty() {
        bail!("--customer-value is empty: give the customer claim or consent id as traffic carries it");
    }
    let file = crate::config_file::load(config)?;
    let keys = crate::daemon::keys(&file)?;
    let mut ids: Vec<String> = apitap_discovery::identity::customer_ids(&keys.current.0, keys.previous.as_ref(), &value)
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Runs `apitap purge`.
pub fn run_purge(a: &PurgeArgs) -> Result<ExitCode> {
    let retention = retention(a.config.as_deref())?;
    let mut store = Store::open_existing(&a.store)?;
    if let Some(id) = &a.consumer {
        let st = store.purge(&Purge::Consumer(id))?;
        print_purge(&format!("erased consumer {id} from {}:", a.store.display()), &st, &a.store);
    } else if let Some(id) = &a.customer {
        let st = store.purge(&Purge::Customer(id))?;
        print_purge(&format!("erased customer {id} from {}:", a.store.display()), &st, &a.store);
    } else if let Some(value) = &a.customer_value {
        let config = a.config.as_deref().context("--customer-value needs --config (the hashing key)")?;
        let ids = customer_value_ids(config, value)?;
        let mut total = PurgeStats::default();
        for id in &ids {
            let st = store.purge(&Purge::Customer(id))?;
            total.add(st);
        }
        print_purge(
            &format!("erased the customer of that value ({} keyed ids: {}) from {}:", ids.len(), ids.join(", "), a.store.display()),
            &total,
            &a.store,
        );
    } else if a.expired {
        let now = match a.clock {
            Clock::Wall => wall_ns(),
            Clock::Packet => match store.last_checkpoint()? {
                Some(t) => t,
                None => bail!("{}: the store has no checkpoint yet, so it has no packet time; use --clock wall", a.store.display()),
            },
        };
        let st = store.purge(&Purge::Expired { now, retention: &retention })?;
        let clock = match a.clock {
            Clock::Wall => "wall clock",
            Clock::Packet => "packet time of the last checkpoint",
        };
        let mut header = format!("purged expired data from {} (now = {}, {clock}):", a.store.display(), iso(now));
        for k in DataKind::ALL {
            let r = retention.get(k);
            header.push_str(&format!("\n  {:<26} older than {} (last seen before {})", k.name(), r, iso(r.cutoff(now))));
        }
        print_purge(&header, &st, &a.store);
    }
    Ok(ExitCode::SUCCESS)
}
