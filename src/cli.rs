//! Command-line arguments (raw); [`crate::config`] validates them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Passive API-traffic sensor: turns mirrored traffic into HTTP transactions.
#[derive(Debug, Parser)]
#[command(name = "apitap", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read capture files (pcap, pcapng, optionally gzip-compressed) and write HTTP transactions.
    Read(ReadArgs),
    /// Capture live from a network interface and print HTTP transactions as they complete.
    Capture(CaptureArgs),
    /// Generate a labelled capture of open-banking traffic from OpenAPI specs and a scenario.
    Simulate(crate::simulate::command::SimulateArgs),
    /// Manage the endpoint inventory's configuration.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Check a configuration file (TOML, specs, network databases, detector settings, Kafka
    /// section and its secret files) without running; names the file, line and fix of the
    /// first mistake.
    CheckConfig(CheckConfigArgs),
    /// Run the sensor daemon: live capture, inventory, baselines, detectors, Kafka, the
    /// persistent store, periodic reports and metrics, all from one configuration file.
    Run(crate::daemon::RunArgs),
    /// Manage the persistent store (SQLite): backup, restore, info, schema upgrade.
    #[command(subcommand)]
    Store(crate::store::command::StoreCommand),
    /// Erase personal data from the store: one consumer, one customer, or everything past its
    /// retention period; prints what was deleted.
    Purge(crate::store::command::PurgeArgs),
    /// Manage suppression rules: traffic the SOC knows (pen tests, monitors, batch jobs) whose
    /// findings are kept and counted but not published as alerts (docs/tuning.md).
    #[command(subcommand)]
    Suppress(crate::tuning::suppress_cmd::SuppressCommand),
    /// Triage findings: list open ones by severity, consumer or kind with their evidence; close
    /// (with a verdict), reopen, annotate. Decisions go to the audit log (docs/tuning.md).
    #[command(subcommand)]
    Alerts(crate::tuning::alerts_cmd::AlertsCommand),
    /// Detector thresholds and warm-up for services or consumer groups (docs/tuning.md);
    /// audited.
    #[command(subcommand)]
    Override(crate::tuning::override_cmd::OverrideCommand),
    /// Consumer groups for detector overrides (docs/tuning.md); audited.
    #[command(subcommand)]
    Group(crate::tuning::override_cmd::GroupCommand),
    /// Write the shadow-API inventory report (HTML page, Markdown, JSON, endpoints CSV and the
    /// reconstructed OpenAPI document) from an inventory.json. See docs/reports.md.
    Report(ReportArgs),
    /// Check or show the tamper-evident audit log of alert tuning (docs/audit.md).
    #[command(subcommand)]
    Audit(crate::audit::command::AuditCommand),
    /// Threat-intelligence feeds: check what a feed loads and which entries it does not
    /// (docs/intel.md).
    #[command(subcommand)]
    Intel(crate::intel::command::IntelCommand),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The inventory.json that `apitap read --out DIR` writes.
    #[arg(long, value_name = "FILE", required_unless_present = "store", conflicts_with = "store")]
    pub inventory: Option<PathBuf>,
    /// The daemon's store instead: its last checkpoint's inventory, findings and consumers
    /// (readable while the daemon runs).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["anomalies", "consumers"])]
    pub store: Option<PathBuf>,
    /// The anomalies.jsonl of the same run: open anomalies by kind and severity.
    #[arg(long, value_name = "FILE")]
    pub anomalies: Option<PathBuf>,
    /// The audit log of alert tuning (docs/tuning.md): the analysts' decisions shown with the
    /// findings (closed ones leave the open count).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// A consumers list (consumers.json, layout in docs/reports.md) for the top consumers.
    #[arg(long, value_name = "FILE")]
    pub consumers: Option<PathBuf>,
    /// The report.json of the previous report: "new" then means new since it, and the counts
    /// show their change.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Directory to write the report into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Formats to write (comma-separated; default all).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub formats: Vec<crate::report::Format>,
    /// Title of the page.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Accept a known shadow endpoint (appends an [[accept]] entry with who and why to the
    /// configuration file): it stays listed but is no longer reported as new.
    Accept(AcceptArgs),
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// Configuration file to update (created if missing).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Host (service) as inventory.json names it.
    #[arg(long)]
    pub host: String,
    /// Method, or * for any.
    #[arg(long)]
    pub method: String,
    /// Path template as inventory.json names it.
    #[arg(long)]
    pub path: String,
    /// Who accepts it.
    #[arg(long)]
    pub by: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture files to read, in order, as one continuous trace.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    /// Directory for transactions.jsonl (or http.log with --format zeek) and summary.json.
    /// Without it, transactions go to standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Never show a progress line, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// For measuring (scripts/bench.sh): run the pipeline only up to this stage and discard
    /// what it makes; no transactions are written.
    #[arg(long, value_enum, value_name = "STAGE")]
    pub stop_after: Option<crate::pipeline::Stage>,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Interfaces to capture on (e.g. eth1, lo): one, or several (comma-separated or repeated)
    /// merged in time order into one flow table, such as a passive TAP's two directions.
    #[arg(long, short = 'i', value_name = "IF", required = true, value_delimiter = ',')]
    pub interface: Vec<String>,
    /// BPF capture filter, e.g. "tcp port 80 or tcp port 8080".
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Bytes captured per packet (64 to 262144).
    #[arg(long, default_value_t = 262_144, value_name = "BYTES", value_parser = clap::value_parser!(i32).range(64..=262_144))]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode (a mirror port needs it; loopback does not).
    #[arg(long)]
    pub no_promisc: bool,
    /// Kernel capture buffer size in MiB (1 to 2047).
    #[arg(long, default_value_t = 64, value_name = "MIB", value_parser = clap::value_parser!(i32).range(1..=2047))]
    pub buffer_mib: i32,
    /// Stop after this many packets.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Write transactions.jsonl (or http.log) and summary.json to this directory instead of
    /// printing records on standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Output format of the transaction records.
    #[arg(long, value_enum, default_value_t = OutputFormat::Jsonl)]
    pub format: OutputFormat,
    /// Keep connections apart when their two directions carry different VLAN tags
    /// (by default a connection mirrored with one tag per direction stays one connection).
    #[arg(long)]
    pub split_vlans: bool,
    /// Extra parameter names whose values are credentials and must be redacted wherever they
    /// appear in a target (query, fragment, path parameters; comma-separated; added to the
    /// built-in list).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub redact_param: Vec<String>,
    /// Memory that HTTP parsing may hold across all connections, in MiB (partial headers and
    /// similar; bodies are never stored). Connections that would exceed it stop being parsed.
    #[arg(long, default_value_t = 256, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub http_buffer_mib: u32,
    /// Worker threads for decode, reassembly and HTTP parsing (0: one per available core; 1:
    /// all on the reading thread). Each worker gets an equal share of the flow, reassembly,
    /// fragment and HTTP memory limits.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=256))]
    pub workers: u16,
    /// Print the run summary as JSON on standard error instead of text.
    #[arg(long)]
    pub summary_json: bool,
    /// NSS key log file (the SSLKEYLOGFILE format: CLIENT_RANDOM lines for TLS 1.2, traffic
    /// secrets for TLS 1.3); TLS connections whose keys it holds are decrypted and parsed
    /// as HTTP. Repeat for several. `capture` keeps reading the files as they grow.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,
    /// OpenAPI spec (YAML or JSON, 3.0 or 3.1) to match traffic against; repeat for several.
    /// The endpoint inventory (inventory.json, openapi.yaml) is written to --out.
    #[arg(long, value_name = "FILE")]
    pub spec: Vec<PathBuf>,
    /// Configuration file (TOML): spec bindings, inventory scope and limits, templates,
    /// accepted shadow endpoints. See docs/inventory.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not build the endpoint inventory (with --out it is built by default).
    #[arg(long, conflicts_with_all = ["spec", "config"])]
    pub no_inventory: bool,
    /// File holding the deployment's hashing secret (at least 16 bytes): consumer, customer and
    /// finding ids are keyed hashes under it. Else APITAP_HASH_KEY, else a random key per run.
    #[arg(long, value_name = "FILE")]
    pub hash_key_file: Option<PathBuf>,
    /// Do not run the behavioural detectors (no anomalies.jsonl); the inventory is still built.
    #[arg(long)]
    pub no_detect: bool,
    /// Publish anomalies, inventory changes and health to these Kafka brokers
    /// (comma-separated `host:port`; the other settings come from the configuration file's
    /// [kafka] section, see docs/kafka.md).
    #[arg(long, value_name = "LIST")]
    pub kafka_brokers: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per transaction (transactions.jsonl).
    Jsonl,
    /// Zeek-style tab-separated http.log.
    Zeek,
}
