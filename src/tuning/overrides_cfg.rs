//! `[[consumer_group]]` and `[[detector_override]]` of the configuration: groups of consumers
//! (by label, id or network), and detector thresholds or warm-up changed for a service or a
//! group. Each override's configuration is the file's `[behaviour]` with its `settings` on
//! top, checked like `[behaviour]` itself; mistakes name the file, the line and the fix.

use std::path::Path;

use anyhow::{bail, Result};
use apitap_discovery::behaviour::BehaviourConfig;
use apitap_discovery::identity::Prefix;
use apitap_discovery::tuning::{DetectorOverride, MAX_OVERRIDES, OVERRIDABLE};
use serde::{Deserialize, Deserializer};

use crate::config_file::ConfigFile;

/// `[[consumer_group]]`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerGroupSpec {
    /// Its name, as overrides refer to it.
    pub name: String,
    /// Members by label (client id, organisation, user) or id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<String>,
    /// Members by client network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
}

/// `[[detector_override]]`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSpec {
    /// A name, for `apitap override remove` (the command sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Services (hosts, exact or `*.suffix`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Consumer groups; empty: any consumer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Why (for whoever reads the file next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The keys it changes (see [`OVERRIDABLE`]).
    #[serde(deserialize_with = "table")]
    pub settings: toml::Table,
}

fn table<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<toml::Table, D::Error> {
    toml::Table::deserialize(d)
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The dotted keys of a settings table (`rate.factor`).
fn keys(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(inner) if prefix.is_empty() => keys(inner, &name, out),
            _ => out.push(name),
        }
    }
}

/// Compiles the groups and overrides of a parsed file (its `text` for the lines).
pub fn compile(path: &Path, text: &str, cfg: &ConfigFile) -> Result<Vec<DetectorOverride>> {
    let at = |section: &str, i: usize, key: &str| super::section_key_line(text, section, i, key);
    let mut groups: Vec<(&str, Vec<String>, Vec<Prefix>)> = Vec::new();
    for (i, g) in cfg.consumer_group.iter().enumerate() {
        if g.name.trim().is_empty() || groups.iter().any(|(n, _, _)| *n == g.name) {
            bail!("{}:{}: [[consumer_group]] needs a name used by no other group (docs/tuning.md)", path.display(), at("consumer_group", i, "name"));
        }
        if g.consumers.is_empty() && g.networks.is_empty() {
            bail!("{}:{}: [[consumer_group]] {:?} has no members; give consumers (labels or ids) or networks", path.display(), at("consumer_group", i, "name"), g.name);
        }
        let mut nets = Vec::new();
        for n in &g.networks {
            nets.push(n.parse::<Prefix>().map_err(|e| anyhow::anyhow!("{}:{}: [[consumer_group]] networks: {e}", path.display(), at("consumer_group", i, "networks")))?);
        }
        groups.push((g.name.as_str(), g.consumers.clone(), nets));
    }
    if cfg.detector_override.len() > MAX_OVERRIDES {
        bail!("{}: {} [[detector_override]] sections; at most {MAX_OVERRIDES}", path.display(), cfg.detector_override.len());
    }
    let base: toml::Table = toml::from_str::<toml::Table>(text).ok().and_then(|t| t.get("behaviour").and_then(|b| b.as_table().cloned())).unwrap_or_default();
    let mut out = Vec::new();
    for (i, o) in cfg.detector_override.iter().enumerate() {
        let line = |key: &str| at("detector_override", i, key);
        if o.services.is_empty() && o.groups.is_empty() {
            bail!("{}:{}: [[detector_override]] applies to nothing in particular; give services, groups or both (for every consumer, change [behaviour] instead)", path.display(), line("settings"));
        }
        let mut consumers = Vec::new();
        let mut networks = Vec::new();
        for name in &o.groups {
            let Some((_, c, n)) = groups.iter().find(|(g, _, _)| g == name) else {
                let known: Vec<&str> = groups.iter().map(|(g, _, _)| *g).collect();
                bail!("{}:{}: [[detector_override]] names group {name:?}, which no [[consumer_group]] defines (groups: {})", path.display(), line("groups"), if known.is_empty() { "none".into() } else { known.join(", ") });
            };
            consumers.extend(c.iter().cloned());
            networks.extend(n.iter().copied());
        }
        let mut names = Vec::new();
        keys(&o.settings, "", &mut names);
        if names.is_empty() {
            bail!("{}:{}: [[detector_override]] changes no setting; give settings such as rate = {{ factor = 8.0 }}", path.display(), line("settings"));
        }
        if let Some(bad) = names.iter().find(|n| !OVERRIDABLE.contains(&n.as_str())) {
            bail!(
                "{}:{}: [[detector_override]] cannot set {bad:?}: an override changes thresholds and warm-up only ({}); window lengths and bounds are [behaviour]'s",
                path.display(),
                line("settings"),
                OVERRIDABLE.join(", ")
            );
        }
        let mut merged = base.clone();
        merged.remove("timezone");
        merge(&mut merged, &o.settings);
        merged.insert("timezone".into(), toml::Value::String(cfg.behaviour.timezone.clone()));
        let settings = BehaviourConfig::deserialize(toml::Value::Table(merged))
            .map_err(|e| anyhow::anyhow!("{}:{}: [[detector_override]] settings: {}; write each value as [behaviour] takes it (docs/behaviour.md)", path.display(), line("settings"), e.message()))?;
        if let Err(e) = settings.validate() {
            bail!("{}:{}: [[detector_override]] settings: {e}", path.display(), line("settings"));
        }
        out.push(DetectorOverride {
            services: o.services.iter().map(|s| s.to_ascii_lowercase()).collect(),
            consumers,
            networks,
            grouped: !o.groups.is_empty(),
            cfg: settings,
        });
    }
    Ok(out)
}
