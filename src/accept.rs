//! `apitap inventory accept`: records that an operator accepts a known shadow endpoint, with
//! who and why, by appending an `[[accept]]` entry to the configuration file. The file is
//! re-read afterwards and restored if the result does not parse, so a mistake never leaves a
//! broken configuration behind.

use std::fs;
use std::io::Write;

use anyhow::{bail, Context, Result};

use crate::cli::AcceptArgs;
use crate::config_file;

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Appends the entry and checks the file still loads.
pub fn run(args: &AcceptArgs) -> Result<()> {
    for (name, value) in [("--host", &args.host), ("--method", &args.method), ("--path", &args.path), ("--by", &args.by), ("--reason", &args.reason)] {
        if value.trim().is_empty() {
            bail!("{name} must not be empty");
        }
    }
    if !args.path.starts_with('/') {
        bail!("--path {:?} must start with '/' (the template as inventory.json names it)", args.path);
    }
    let before = match fs::read_to_string(&args.config) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", args.config.display())),
    };
    let mut entry = String::new();
    if before.as_deref().is_some_and(|t| !t.is_empty() && !t.ends_with('\n')) {
        entry.push('\n');
    }
    entry.push_str(&format!(
        "\n[[accept]]\nhost = {}\nmethod = {}\npath = {}\nby = {}\nreason = {}\n",
        quoted(&args.host.to_ascii_lowercase()),
        quoted(&args.method.to_ascii_uppercase()),
        quoted(&args.path),
        quoted(&args.by),
        quoted(&args.reason)
    ));
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.config)
        .with_context(|| format!("{}: cannot open for writing", args.config.display()))?;
    f.write_all(entry.as_bytes()).with_context(|| format!("{}: cannot write", args.config.display()))?;
    f.sync_all().ok();
    if let Err(err) = config_file::load(&args.config) {
        match &before {
            Some(text) => fs::write(&args.config, text),
            None => fs::remove_file(&args.config),
        }
        .with_context(|| format!("{}: cannot restore after a failed update", args.config.display()))?;
        bail!("the updated configuration would not load, left unchanged: {err:#}");
    }
    eprintln!("accepted {} {} on {} (by {}): {}", args.method.to_ascii_uppercase(), args.path, args.host, args.by, args.config.display());
    Ok(())
}
