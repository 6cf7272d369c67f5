//! `apitap inventory accept`: records that an operator accepts a known shadow endpoint, with
//! who and why, by appending an `[[accept]]` entry to the configuration file. The file is
//! re-read afterwards and restored if the result does not parse, so a mistake never leaves a
//! broken configuration behind.

use anyhow::{bail, Result};

use crate::cli::AcceptArgs;

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Appends the entry and checks the file still loads.
pub fn run(args: &AcceptArgs) -> Result<()> {
    crate::config_edit::non_empty(&[("--host", &args.host), ("--method", &args.method), ("--path", &args.path), ("--by", &args.by), ("--reason", &args.reason)])?;
    if !args.path.starts_with('/') {
        bail!("--path {:?} must start with '/' (the template as inventory.json names it)", args.path);
    }
    let before = crate::config_edit::read_existing(&args.config)?;
    let mut text = before.clone().unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n[[accept]]\nhost = {}\nmethod = {}\npath = {}\nby = {}\nreason = {}\n",
        quoted(&args.host.to_ascii_lowercase()),
        quoted(&args.method.to_ascii_uppercase()),
        quoted(&args.path),
        quoted(&args.by),
        quoted(&args.reason)
    ));
    crate::config_edit::replace_checked(&args.config, before.as_deref(), &text)?;
    eprintln!("accepted {} {} on {} (by {}): {}", args.method.to_ascii_uppercase(), args.path, args.host, args.by, args.config.display());
    Ok(())
}
