//! The TOML configuration file (`--config FILE`): spec bindings, the inventory's scope and
//! limits, operator templates and accepted shadow endpoints. Every mistake is reported with
//! the file, the line and what to write instead; unknown keys are refused (a typo must not
//! silently fall back to a default).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use apitap_discovery::inventory::InventoryConfig;
use serde::Deserialize;

use crate::daemon::config::Invalid;

/// The whole file. Every section is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// OpenAPI specs and how traffic uses them.
    #[serde(default)]
    pub spec: Vec<SpecEntry>,
    /// Inventory scope and limits.
    #[serde(default)]
    pub inventory: InventorySection,
    /// Operator templates: pin a template, split a literal off, or merge paths into one.
    #[serde(default)]
    pub template: Vec<TemplateEntry>,
    /// Shadow endpoints the operator accepts.
    #[serde(default)]
    pub accept: Vec<AcceptEntry>,
    /// How consumers are identified.
    #[serde(default)]
    pub identity: apitap_discovery::identity::IdentityConfig,
    /// Baselines and detectors (every key optional; defaults in docs/behaviour.md).
    #[serde(default)]
    pub behaviour: apitap_discovery::behaviour::BehaviourConfig,
    /// Publishing to Kafka (docs/kafka.md); absent: nothing is published unless
    /// `--kafka-brokers` is given.
    #[serde(default)]
    pub kafka: Option<crate::kafka::KafkaConfig>,
    /// The daemon: sensor id, user, hashing secret, logs, shutdown (docs/daemon.md).
    #[serde(default)]
    pub daemon: crate::daemon::config::DaemonSection,
    /// The interface `apitap run` captures on (required by `run`, ignored by `read`).
    #[serde(default)]
    pub capture: Option<crate::daemon::config::CaptureSection>,
    /// The daemon's persistent store.
    #[serde(default)]
    pub store: crate::daemon::config::StoreSection,
    /// The daemon's periodic reports.
    #[serde(default)]
    pub report: crate::daemon::config::ReportSection,
    /// The daemon's metrics and health endpoint (docs/observability.md).
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
    /// The packet pipeline's limits: decoding, fragments, TCP, HTTP (docs/daemon.md).
    #[serde(default)]
    pub limits: crate::daemon::limits::LimitsSection,
    /// TLS decryption with key logs (docs/tls.md).
    #[serde(default)]
    pub tls: crate::daemon::config::TlsSection,
    /// HTTP/2 parser limits (docs/http2.md).
    #[serde(default)]
    pub http2: crate::daemon::config_http2::Http2Section,
    /// Suppression rules: findings that open under one are kept, marked, and not published as
    /// alerts (docs/tuning.md).
    #[serde(default)]
    pub suppress: Vec<apitap_discovery::tuning::SuppressionSpec>,
    /// Where triage decisions and tuning changes are kept (docs/tuning.md).
    #[serde(default)]
    pub tuning: crate::tuning::TuningSection,
    /// Groups of consumers, for detector overrides (docs/tuning.md).
    #[serde(default)]
    pub consumer_group: Vec<crate::tuning::overrides_cfg::ConsumerGroupSpec>,
    /// Detector thresholds and warm-up per service or consumer group (docs/tuning.md).
    #[serde(default)]
    pub detector_override: Vec<crate::tuning::overrides_cfg::OverrideSpec>,
    /// The overrides compiled (not a key).
    #[serde(skip)]
    pub overrides: Vec<apitap_discovery::tuning::DetectorOverride>,
    /// Where this file was read from (not a key).
    #[serde(skip)]
    pub path: PathBuf,
}

/// `[[spec]]`: one OpenAPI file and its binding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecEntry {
    /// The spec file, relative to the config file.
    pub file: PathBuf,
    /// Hosts it documents (exact or `*.suffix`); empty: any host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The base path traffic really uses, when it differs from the spec's `servers`.
    pub base_path: Option<String>,
    /// `production`, `sandbox`, ...
    pub environment: Option<String>,
    /// A newer version replaces this one: its traffic is zombie traffic.
    #[serde(default)]
    pub superseded: bool,
}

/// `[inventory]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySection {
    /// Hosts that are APIs (empty: all).
    #[serde(default)]
    pub api_hosts: Vec<String>,
    /// Hosts that are never APIs.
    #[serde(default)]
    pub exclude_hosts: Vec<String>,
    /// Server ports that carry APIs (empty: all).
    #[serde(default)]
    pub api_ports: Vec<u16>,
    /// Content types that make a request an API call (empty: all but pages, assets, OCSP).
    #[serde(default)]
    pub api_content_types: Vec<String>,
    /// Health-check path names (replaces the default list when given).
    pub health_paths: Option<Vec<String>>,
    /// Static asset extensions (replaces the default list when given).
    pub static_extensions: Option<Vec<String>>,
    /// Services tracked.
    pub max_services: Option<usize>,
    /// Undocumented endpoints per service.
    pub max_endpoints_per_service: Option<usize>,
    /// Bytes of each body kept for shape and sensitive-data analysis (0 turns it off).
    pub body_capture_bytes: Option<usize>,
    /// API endpoints (documented and inferred) over all services.
    pub max_endpoints_total: Option<usize>,
    /// Non-API endpoints (assets, pages, health checks) per service.
    pub max_other_endpoints_per_service: Option<usize>,
    /// 404-only paths remembered per service for the scanner count (hashes only).
    pub max_not_found_paths: Option<usize>,
    /// Query parameter names kept per endpoint.
    pub max_query_params: Option<usize>,
    /// Longest query parameter name kept, in bytes.
    pub max_param_name_len: Option<usize>,
    /// Path segments considered per request.
    pub max_path_segments: Option<usize>,
    /// JSON field paths kept per endpoint and direction.
    pub max_shape_fields: Option<usize>,
    /// Content types kept per endpoint and direction.
    pub max_content_types: Option<usize>,
    /// TLS fingerprints, ALPN values and versions kept per service.
    pub max_tls_values: Option<usize>,
    /// Hours of per-service traffic kept for the report's charts (0 keeps none).
    pub traffic_hours: Option<usize>,
    /// Sample body analysis once an endpoint's bodies are known (false: analyse every body,
    /// for audits).
    pub sample_bodies: Option<bool>,
    /// Bodies that must show nothing new in a row before an endpoint's bodies are sampled.
    pub sample_after_stable_bodies: Option<u32>,
    /// Once sampled, one transaction in this many has its bodies analysed in full.
    pub sample_one_in: Option<u32>,
    /// GraphQL operations kept per service and GraphQL path.
    pub max_graphql_operations: Option<usize>,
    /// GraphQL operations kept over all services.
    pub max_graphql_operations_total: Option<usize>,
    /// Client networks taken as internal (replaces the default list when given): GraphQL
    /// introspection from any other client is a finding.
    pub internal_networks: Option<Vec<String>>,
}

/// Longest `traffic_hours` accepted: a year (each hour costs 32 bytes per service).
const MAX_TRAFFIC_HOURS: usize = 24 * 366;

impl InventorySection {
    /// The limits this section sets, in `cfg`; keys left out keep `cfg`'s values (the
    /// discovery crate's defaults, documented in docs/inventory.md).
    pub fn apply_limits(&self, cfg: &mut InventoryConfig) {
        let set = |field: &mut usize, value: Option<usize>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut cfg.max_services, self.max_services);
        set(&mut cfg.max_endpoints_per_service, self.max_endpoints_per_service);
        set(&mut cfg.max_endpoints_total, self.max_endpoints_total);
        set(&mut cfg.max_other_endpoints_per_service, self.max_other_endpoints_per_service);
        set(&mut cfg.max_not_found_paths, self.max_not_found_paths);
        set(&mut cfg.max_query_params, self.max_query_params);
        set(&mut cfg.max_param_name_len, self.max_param_name_len);
        set(&mut cfg.max_path_segments, self.max_path_segments);
        set(&mut cfg.max_shape_fields, self.max_shape_fields);
        set(&mut cfg.max_content_types, self.max_content_types);
        set(&mut cfg.max_tls_values, self.max_tls_values);
        set(&mut cfg.traffic_hours, self.traffic_hours);
        set(&mut cfg.max_graphql_operations, self.max_graphql_operations);
        set(&mut cfg.max_graphql_operations_total, self.max_graphql_operations_total);
        if let Some(nets) = &self.internal_networks {
            // `validate` refuses a list with a bad entry before this is used.
            cfg.internal_networks = nets.iter().filter_map(|n| n.parse().ok()).collect();
        }
        let s = &mut cfg.sampling;
        s.enabled = self.sample_bodies.unwrap_or(s.enabled);
        s.stable_bodies = self.sample_after_stable_bodies.unwrap_or(s.stable_bodies);
        s.one_in = self.sample_one_in.unwrap_or(s.one_in);
    }

    /// Checks limits that parse but cannot work: no service, no endpoint, a per-service
    /// budget larger than the total, no path segment.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut cfg = InventoryConfig::default();
        let defaults = cfg.clone();
        self.apply_limits(&mut cfg);
        let key = |k: &str| format!("[inventory] {k}");
        for (k, v, d) in [
            ("max_services", cfg.max_services, defaults.max_services),
            ("max_endpoints_per_service", cfg.max_endpoints_per_service, defaults.max_endpoints_per_service),
            ("max_endpoints_total", cfg.max_endpoints_total, defaults.max_endpoints_total),
            ("max_path_segments", cfg.max_path_segments, defaults.max_path_segments),
            ("max_graphql_operations", cfg.max_graphql_operations, defaults.max_graphql_operations),
            ("max_graphql_operations_total", cfg.max_graphql_operations_total, defaults.max_graphql_operations_total),
        ] {
            if v == 0 {
                return Err(Invalid { key: key(k), problem: format!("is 0; it must be at least 1 (default {d})") });
            }
        }
        if cfg.max_endpoints_per_service > cfg.max_endpoints_total {
            return Err(Invalid {
                key: key("max_endpoints_per_service"),
                problem: format!(
                    "({}) is larger than max_endpoints_total ({}); lower it, or raise max_endpoints_total to at least {}",
                    cfg.max_endpoints_per_service, cfg.max_endpoints_total, cfg.max_endpoints_per_service
                ),
            });
        }
        if cfg.sampling.one_in == 0 {
            return Err(Invalid {
                key: key("sample_one_in"),
                problem: format!(
                    "is 0; it must be at least 1 (1 analyses every body, as sample_bodies = false does; default {})",
                    defaults.sampling.one_in
                ),
            });
        }
        for n in self.internal_networks.iter().flatten() {
            if let Err(e) = n.parse::<apitap_discovery::identity::Prefix>() {
                return Err(Invalid {
                    key: key("internal_networks"),
                    problem: format!("{e}; write networks as address/length, e.g. \"10.0.0.0/8\" or \"fd00::/8\""),
                });
            }
        }
        if cfg.traffic_hours > MAX_TRAFFIC_HOURS {
            return Err(Invalid {
                key: key("traffic_hours"),
                problem: format!("is {}; it must be 0 to {MAX_TRAFFIC_HOURS} (default {})", cfg.traffic_hours, defaults.traffic_hours),
            });
        }
        Ok(())
    }
}

/// The line (from 1) of a `[table]` header, 0 when absent.
pub fn table_line(text: &str, table: &str) -> usize {
    let header = format!("[{table}]");
    text.lines().position(|l| l.trim_start().starts_with(&header)).map_or(0, |i| i + 1)
}

/// The line (from 1) where `key` is set under `[table]`, for an [`Invalid`] key written
/// `[table] key`; `None` when it is not written that way (a default, a dotted key, an inline
/// table), so that the caller falls back to the table's line.
///
/// [`Invalid`]: crate::daemon::config::Invalid
fn key_line(text: &str, invalid_key: &str) -> Option<usize> {
    let (table, key) = invalid_key.strip_prefix('[')?.split_once("] ")?;
    let header = format!("[{table}]");
    text.lines()
        .enumerate()
        .skip_while(|(_, l)| !l.trim_start().starts_with(&header))
        .skip(1)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
        .map(|(i, _)| i + 1)
}

/// `[[template]]`: an operator rule for undocumented paths.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateEntry {
    /// Path template, e.g. `/internal/reports/{report}` (merge) or `/users/me` (split).
    pub path: String,
    /// Method; absent: any.
    pub method: Option<String>,
    /// Hosts it applies to; empty: any.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `[[accept]]`: a known shadow endpoint, with who accepted it and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptEntry {
    /// Host as the inventory names it (or `*.suffix`).
    pub host: String,
    /// Method or `*`.
    pub method: String,
    /// Path template as the inventory names it.
    pub path: String,
    /// Who accepted it.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// Line and column (from 1) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The document that explains the table enclosing line `line` (from 1).
fn doc_for_line(text: &str, line: usize) -> &'static str {
    let table = text
        .lines()
        .take(line)
        .filter_map(|l| l.trim_start().strip_prefix('['))
        .last()
        .map(|h| h.trim_start_matches('[').split([']', '.']).next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    match table.as_str() {
        "kafka" => "docs/kafka.md",
        "identity" | "behaviour" => "docs/behaviour.md",
        "daemon" | "capture" | "store" | "report" => "docs/daemon.md",
        "metrics" => "docs/observability.md",
        "limits" => "docs/daemon.md ([limits])",
        "suppress" | "tuning" | "consumer_group" | "detector_override" => "docs/tuning.md",
        _ => "docs/inventory.md (configuration)",
    }
}

/// The line (from 1) where `[[section]]` number `index` (from 0) starts, for messages about
/// values that parse but make no sense.
fn section_line(text: &str, section: &str, index: usize) -> usize {
    let header = format!("[[{section}]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&header))
        .nth(index)
        .map_or(0, |(i, _)| i + 1)
}

/// Parses configuration text; `path` names it in messages and anchors relative spec paths.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile> {
    let mut cfg: ConfigFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        let msg = e.message().trim();
        let doc = doc_for_line(text, line);
        let fix = if msg.contains("unknown field") {
            format!("check the spelling against {doc}")
        } else if msg.contains("missing field") {
            "add the key named above".to_string()
        } else if msg.contains("invalid type") {
            "write the value with the type named above (strings in quotes, lists in [ ])".to_string()
        } else if msg.contains("invalid value") {
            "write a value of the kind named above (sizes, counts and seconds are whole numbers, not negative)".to_string()
        } else {
            "fix the TOML syntax at that position".to_string()
        };
        // A bad value's message names only the type it wanted; the key is on its line.
        let key = if msg.contains("invalid value") || msg.contains("invalid type") {
            text.lines()
                .nth(line.saturating_sub(1))
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| !k.is_empty() && !k.starts_with('['))
                .map_or(String::new(), |k| format!("{k}: "))
        } else {
            String::new()
        };
        anyhow!("{}:{line}:{col}: {key}{msg}; {fix}", path.display())
    })?;
    cfg.path = path.to_path_buf();
    if let Err(e) = cfg.behaviour.validate() {
        bail!("{}:{}: {e}", path.display(), table_line(text, "behaviour"));
    }
    if let Err(e) = cfg.identity.validate() {
        bail!("{}:{}: {e}", path.display(), table_line(text, "identity"));
    }
    if let Some(k) = &cfg.kafka {
        // Without brokers in the file `--kafka-brokers` may still give them, so the rest is
        // checked as if a broker were named.
        let mut checked = k.clone();
        if checked.brokers.is_empty() {
            checked.brokers.push("broker-from-the-command-line:9092".into());
        }
        if let Err(e) = checked.validate() {
            bail!("{}:{}: {e}", path.display(), table_line(text, "kafka"));
        }
    }
    let daemon_checks = [
        ("daemon", cfg.daemon.validate()),
        ("capture", cfg.capture.as_ref().map_or(Ok(()), |c| c.validate())),
        ("store", cfg.store.validate()),
        ("report", cfg.report.validate()),
        ("limits", cfg.limits.validate()),
        ("inventory", cfg.inventory.validate()),
        ("tls", cfg.tls.validate()),
        ("http2", cfg.http2.validate()),
    ];
    for (table, check) in daemon_checks {
        if let Err(e) = check {
            // The limits sit one per line, so their mistakes point at the key itself.
            let line = match table {
                "limits" | "inventory" | "tls" | "http2" => key_line(text, &e.key),
                _ => None,
            }
            .unwrap_or_else(|| table_line(text, table));
            bail!("{}:{line}: {} {}", path.display(), e.key, e.problem);
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    for f in cfg.tls.keylog_files.iter_mut().chain(cfg.tls.keylog_dir.as_mut()) {
        if f.is_relative() {
            *f = dir.join(&*f);
        }
    }
    for (i, s) in cfg.spec.iter_mut().enumerate() {
        if s.file.as_os_str().is_empty() {
            bail!("{}:{}: [[spec]] has an empty file; give the OpenAPI file's path", path.display(), section_line(text, "spec", i));
        }
        if s.file.is_relative() {
            s.file = dir.join(&s.file);
        }
        if let Some(bp) = &s.base_path {
            if !bp.is_empty() && !bp.starts_with('/') {
                bail!(
                    "{}:{}: base_path {bp:?} must start with '/' (write \"/{bp}\")",
                    path.display(),
                    section_line(text, "spec", i)
                );
            }
        }
    }
    for (i, t) in cfg.template.iter().enumerate() {
        if !t.path.starts_with('/') {
            bail!(
                "{}:{}: template path {:?} must start with '/' (e.g. \"/users/{{user}}\")",
                path.display(),
                section_line(text, "template", i),
                t.path
            );
        }
    }
    for (i, a) in cfg.accept.iter().enumerate() {
        if a.by.trim().is_empty() || a.reason.trim().is_empty() {
            bail!(
                "{}:{}: [[accept]] needs who accepted it (by) and why (reason), both non-empty",
                path.display(),
                section_line(text, "accept", i)
            );
        }
        if !a.path.starts_with('/') {
            bail!("{}:{}: accepted path {:?} must start with '/'", path.display(), section_line(text, "accept", i), a.path);
        }
    }
    let spec_hosts: Vec<&[String]> = cfg.spec.iter().map(|s| s.hosts.as_slice()).collect();
    crate::config_templates::check(path, &cfg.template, &spec_hosts, |section, i| section_line(text, section, i))?;
    crate::tuning::check(path, text, &cfg)?;
    cfg.overrides = crate::tuning::overrides_cfg::compile(path, text, &cfg)?;
    Ok(cfg)
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<ConfigFile> {
    parse(path, &read(path)?)
}

/// A configuration file's text; the error names the file.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow!("{}: cannot read the configuration: {e}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn full_file_parses_and_anchors_spec_paths() {
        let text = r#"
[inventory]
api_hosts = ["*.bank.example"]
max_endpoints_per_service = 500

[[spec]]
file = "specs/aisp.yaml"
hosts = ["api.bank.example"]
base_path = "/open-banking/v4.0/aisp"
environment = "production"

[[spec]]
file = "/abs/old.yaml"
superseded = true

[[template]]
path = "/users/me"

[[accept]]
host = "api.bank.example"
method = "GET"
path = "/internal/export"
by = "alice@bank.example"
reason = "batch export, owned by payments ops"
"#;
        let cfg = parse(Path::new("/etc/apitap/apitap.toml"), text).unwrap();
        assert_eq!(cfg.spec.len(), 2);
        assert_eq!(cfg.spec[0].file, Path::new("/etc/apitap/specs/aisp.yaml"));
        assert_eq!(cfg.spec[1].file, Path::new("/abs/old.yaml"));
        assert!(cfg.spec[1].superseded);
        assert_eq!(cfg.inventory.max_endpoints_per_service, Some(500));
        assert_eq!(cfg.accept[0].by, "alice@bank.example");
    }

    #[test]
    fn mistakes_name_file_line_and_fix() {
        let err = parse(Path::new("a.toml"), "[inventory]\nmax_service = 3\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:2:"), "{err}");
        assert!(err.contains("max_service") && err.contains("spelling"), "{err}");
        let err = parse(Path::new("a.toml"), "[[spec]]\nhosts = [\"x\"]\n").unwrap_err().to_string();
        assert!(err.contains("a.toml:") && err.contains("file"), "{err}");
        let err = parse(Path::new("a.toml"), "[inventory]\napi_ports = [\"80\"]\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:2:") && err.contains("type"), "{err}");
        let err = parse(Path::new("a.toml"), "\n\n[[spec]]\nfile = \"x.yaml\"\nbase_path = \"v1\"\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:3:") && err.contains("\"/v1\""), "{err}");
        let err = parse(Path::new("a.toml"), "[[accept]]\nhost=\"h\"\nmethod=\"GET\"\npath=\"/x\"\nby=\"\"\nreason=\"r\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.toml:1:") && err.contains("by"), "{err}");
        let err = parse(Path::new("a.toml"), "[inventory\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:1:"), "{err}");
    }

    #[test]
    fn limits_and_inventory_limits_are_read_and_mistakes_point_at_the_key() {
        let text = "[inventory]\nmax_endpoints_total = 50000\ntraffic_hours = 48\n\n[limits.tcp]\nmax_flows = 10\n";
        let cfg = parse(Path::new("a.toml"), text).unwrap();
        assert_eq!(cfg.limits.tcp.max_flows, 10);
        let mut inv = InventoryConfig::default();
        cfg.inventory.apply_limits(&mut inv);
        assert_eq!((inv.max_endpoints_total, inv.traffic_hours, inv.max_services), (50_000, 48, 2_000));

        let text = "[limits.http]\nmax_headers = 10\n[limits.tcp]\nmax_flows = 10\nmax_segments_per_dir = 0\n";
        let err = parse(Path::new("a.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("a.toml:5: [limits.tcp] max_segments_per_dir"), "{err}");
        // A key set as a dotted key has no line of its own: the table's line is given.
        let err = parse(Path::new("a.toml"), "[limits]\ntcp.max_flows = 0\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:1: [limits.tcp] max_flows"), "{err}");
        let err = parse(Path::new("a.toml"), "[inventory]\nmax_path_segments = 0\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:2: [inventory] max_path_segments") && err.contains("default 32"), "{err}");
    }

    #[test]
    fn body_sampling_is_read_and_a_zero_rate_is_refused() {
        let text = "[inventory]\nsample_bodies = false\nsample_after_stable_bodies = 5\nsample_one_in = 40\n";
        let cfg = parse(Path::new("a.toml"), text).unwrap();
        let mut inv = InventoryConfig::default();
        assert!(inv.sampling.enabled, "sampling is on by default");
        cfg.inventory.apply_limits(&mut inv);
        assert_eq!((inv.sampling.enabled, inv.sampling.stable_bodies, inv.sampling.one_in), (false, 5, 40));
        let err = parse(Path::new("a.toml"), "[inventory]\nmax_services = 10\nsample_one_in = 0\n").unwrap_err().to_string();
        assert!(err.starts_with("a.toml:3: [inventory] sample_one_in") && err.contains("at least 1") && err.contains("default 16"), "{err}");
    }
}
