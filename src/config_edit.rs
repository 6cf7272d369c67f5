//! Editing the configuration file by command (`apitap inventory accept`, `apitap suppress`,
//! `apitap override`, `apitap group`): a section is appended or cut out, the file is loaded
//! again, and put back as it was if it would not load, so a mistake never leaves a broken
//! configuration behind.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::config_file::{self, ConfigFile};

/// The file's text, or `None` when it does not exist yet.
pub fn read_existing(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Refuses an empty `--by`, `--reason` and the like.
pub fn non_empty(args: &[(&str, &str)]) -> Result<()> {
    match args.iter().find(|(_, value)| value.trim().is_empty()) {
        Some((name, _)) => bail!("{name} must not be empty"),
        None => Ok(()),
    }
}

/// Writes `text` over the file, then checks that it loads; restores `before` if not.
pub fn replace_checked(path: &Path, before: Option<&str>, text: &str) -> Result<ConfigFile> {
    let write = |t: &str| -> Result<()> {
        let mut f = fs::OpenOptions::new().create(true).write(true).truncate(true).open(path).with_context(|| format!("{}: cannot open for writing", path.display()))?;
        f.write_all(t.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))?;
        f.sync_all().ok();
        Ok(())
    };
    write(text)?;
    match config_file::load(path) {
        Ok(cfg) => Ok(cfg),
        Err(err) => {
            match before {
                Some(t) => write(t),
                None => fs::remove_file(path).with_context(|| format!("{}: cannot remove", path.display())),
            }
            .with_context(|| format!("{}: cannot restore after a failed update", path.display()))?;
            bail!("the updated configuration would not load, left unchanged: {err:#}")
        }
    }
}

/// `before` with `section` appended after a blank line.
pub fn with_section(before: Option<&str>, section: &str) -> String {
    let mut text = before.unwrap_or_default().to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(section);
    text
}

/// `value` as one `[[name]]` section.
pub fn array_table<T: serde::Serialize>(name: &str, value: &T) -> Result<String> {
    // Serialised straight from `value`, so its keys keep their declared order.
    let doc = std::collections::BTreeMap::from([(name, [value])]);
    toml::to_string(&doc).with_context(|| format!("cannot write the [[{name}]] entry as TOML"))
}

/// The byte range of `[[section]]` number `index`: from its header to the next table header
/// that is not one of its own sub-tables (or the end), with the blank lines before it.
fn section_range(text: &str, section: &str, index: usize) -> Option<(usize, usize)> {
    let header = format!("[[{section}]]");
    let own = format!("[{section}.");
    let mut offset = 0usize;
    let mut seen = 0usize;
    let mut start = None;
    let mut blank_from = None;
    for line in text.split_inclusive('\n') {
        let l = line.trim_start();
        let is_header = l.starts_with('[');
        if let Some(s) = start {
            if is_header && !l.starts_with(&own) {
                return Some((s, offset));
            }
        } else if l.starts_with(&header) {
            if seen == index {
                start = Some(blank_from.unwrap_or(offset));
            }
            seen += 1;
        }
        if line.trim().is_empty() {
            blank_from.get_or_insert(offset);
        } else {
            blank_from = None;
        }
        offset += line.len();
    }
    start.map(|s| (s, text.len()))
}

/// Cuts `[[section]]` number `index` (named `what` in messages) out of the file whose text is
/// `text`, and checks the result loads (else the file is put back).
pub fn cut_section(path: &Path, text: &str, section: &str, index: usize, what: &str) -> Result<ConfigFile> {
    let Some((from, to)) = section_range(text, section, index) else {
        bail!("{}: {what} is not written as a [[{section}]] section; edit the file by hand", path.display());
    };
    let mut updated = String::with_capacity(text.len());
    updated.push_str(text.get(..from).unwrap_or_default());
    updated.push_str(text.get(to..).unwrap_or_default());
    replace_checked(path, Some(text), &updated)
}
