//! The binary's side of the endpoint inventory: loads the specs and the configuration file,
//! turns transactions into observations, and writes `inventory.json` and `openapi.yaml`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use apitap_discovery::inventory::{reconstruct, Accepted, InventoryConfig, InventoryReport, ScopeConfig};
use apitap_discovery::openapi::{load_spec, MAX_SPEC_BYTES};
use apitap_discovery::specmatch::{SpecBinding, SpecSet};

use crate::config_file::{self, ConfigFile};

/// Bytes of each body kept for shape and sensitive-data analysis unless the configuration
/// says otherwise.
pub const DEFAULT_BODY_CAPTURE: usize = 64 * 1024;

/// Object ids taken from each response body for the consumers' received-id baselines.
pub const OBJECT_IDS_PER_RESPONSE: usize = 256;

fn read_spec(path: &Path) -> Result<apitap_discovery::openapi::Spec> {
    let meta = fs::metadata(path).with_context(|| format!("{}: cannot read the spec", path.display()))?;
    if meta.len() > MAX_SPEC_BYTES as u64 {
        return Err(anyhow!(
            "{}: {} bytes is larger than the {} bytes a spec may have; split the document",
            path.display(),
            meta.len(),
            MAX_SPEC_BYTES
        ));
    }
    let text = fs::read_to_string(path).with_context(|| format!("{}: cannot read the spec", path.display()))?;
    load_spec(&path.display().to_string(), &text).map_err(|e| anyhow!("{e}"))
}

/// Loads the configuration file, or the defaults without one.
pub fn load_config(config: Option<&Path>) -> Result<ConfigFile> {
    match config {
        Some(path) => config_file::load(path),
        None => Ok(ConfigFile::default()),
    }
}

/// The inventory's configuration and loaded specs, before an inventory is built from them
/// (or restored into them).
pub struct InventoryParts {
    /// Scope, limits, accepted endpoints.
    pub cfg: InventoryConfig,
    /// The loaded specs and operator routes.
    pub specs: SpecSet,
    /// Bytes of each body the HTTP parser should keep for it.
    pub body_capture: usize,
    /// Whether any spec is loaded.
    pub specs_loaded: bool,
}

/// Loads the specs and reads the inventory's settings; errors name the file and the fix.
pub fn setup_parts(spec_files: &[PathBuf], file: &ConfigFile) -> Result<InventoryParts> {
    let mut specs = Vec::new();
    for entry in &file.spec {
        let spec = read_spec(&entry.file)?;
        let binding = SpecBinding {
            hosts: entry.hosts.clone(),
            base_path: entry.base_path.clone(),
            environment: entry.environment.clone(),
            superseded: entry.superseded,
        };
        specs.push((spec, binding));
    }
    for path in spec_files {
        specs.push((read_spec(path)?, SpecBinding::default()));
    }
    parts_from(specs, file)
}

/// The inventory's parts from specs already loaded: the operator templates (checked against
/// each other and the specs) and the `[inventory]` settings. Reads no file.
pub fn parts_from(specs: Vec<(apitap_discovery::openapi::Spec, SpecBinding)>, file: &ConfigFile) -> Result<InventoryParts> {
    let routes = file.template.iter().map(crate::config_templates::route).collect();
    let specs_loaded = !specs.is_empty();
    let set = SpecSet::new(specs, routes).map_err(|e| anyhow!("{}: {e}", file.path.display()))?;
    let inv = &file.inventory;
    let defaults = ScopeConfig::default();
    let mut cfg = InventoryConfig {
        scope: ScopeConfig {
            api_hosts: inv.api_hosts.clone(),
            exclude_hosts: inv.exclude_hosts.clone(),
            api_ports: inv.api_ports.clone(),
            api_content_types: inv.api_content_types.clone(),
            health_paths: inv.health_paths.clone().unwrap_or(defaults.health_paths),
            static_extensions: inv.static_extensions.clone().unwrap_or(defaults.static_extensions),
        },
        accepted: file
            .accept
            .iter()
            .map(|a| Accepted {
                host: a.host.to_ascii_lowercase(),
                method: a.method.to_ascii_uppercase(),
                path: a.path.clone(),
                by: a.by.clone(),
                reason: a.reason.clone(),
            })
            .collect(),
        ..InventoryConfig::default()
    };
    inv.apply_limits(&mut cfg);
    cfg.max_object_ids = OBJECT_IDS_PER_RESPONSE;
    Ok(InventoryParts { cfg, specs: set, body_capture: inv.body_capture_bytes.unwrap_or(DEFAULT_BODY_CAPTURE), specs_loaded })
}

/// Writes `inventory.json` and `openapi.yaml` into `dir`.
pub fn write(dir: &Path, report: &InventoryReport) -> Result<()> {
    let path = dir.join("inventory.json");
    let json = serde_json::to_string_pretty(report)?;
    fs::write(&path, format!("{json}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join("openapi.yaml");
    let doc = reconstruct(report);
    let yaml = serde_norway::to_string(&doc)?;
    fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
