//! The TOML configuration file (`--config FILE`): spec bindings, the inventory's scope and
//! limits, operator templates and accepted shadow endpoints. Every mistake is reported with
//! the file, the line and what to write instead; unknown keys are refused (a typo must not
//! silently fall back to a default).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;

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
}

/// The line (from 1) of a `[table]` header, 0 when absent.
pub fn table_line(text: &str, table: &str) -> usize {
    let header = format!("[{table}]");
    text.lines().position(|l| l.trim_start().starts_with(&header)).map_or(0, |i| i + 1)
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
        } else {
            "fix the TOML syntax at that position".to_string()
        };
        anyhow!("{}:{line}:{col}: {msg}; {fix}", path.display())
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
    ];
    for (table, check) in daemon_checks {
        if let Err(e) = check {
            bail!("{}:{}: {} {}", path.display(), table_line(text, table), e.key, e.problem);
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
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
    Ok(cfg)
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: cannot read the configuration: {e}", path.display()))?;
    parse(path, &text)
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
}
