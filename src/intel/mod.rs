//! Threat-intelligence feeds in the shell: reading a feed file (the format named or told from
//! the file), and `apitap intel check`, which loads feeds the way the sensor will and reports
//! every entry that did not load. The parsers and the matcher are the sans-IO core
//! (`apitap_discovery::intel`, docs/intel.md).

pub mod command;

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use apitap_discovery::intel::{parse_misp_csv, parse_plain, parse_stix, FeedLimits, ParsedFeed};

/// Largest feed file read (a million STIX indicators take about 300 MB).
pub const MAX_FEED_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// The formats of a feed file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedFormat {
    /// A STIX 2.1 bundle (JSON).
    Stix,
    /// One address, network or domain per line.
    Plain,
    /// A MISP CSV export.
    Misp,
}

impl FeedFormat {
    /// The format a file's name and first bytes say: `.json` or a first `{` a STIX bundle,
    /// `.csv` a MISP export, anything else a plain list.
    pub fn detect(path: &Path, bytes: &[u8]) -> FeedFormat {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace() && **b != 0xef && **b != 0xbb && **b != 0xbf);
        match ext.as_deref() {
            Some("json") => FeedFormat::Stix,
            Some("csv") => FeedFormat::Misp,
            _ if first == Some(&b'{') => FeedFormat::Stix,
            _ => FeedFormat::Plain,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            FeedFormat::Stix => "STIX 2.1 bundle",
            FeedFormat::Plain => "plain list",
            FeedFormat::Misp => "MISP CSV export",
        }
    }
}

/// Reads the feed file `path` (at most [`MAX_FEED_FILE_BYTES`]) and parses it as `format`
/// (told from the file when `None`) at `now` (unix ns). A feed that is not its format at all
/// is an error naming the file; entries that do not load are in the result's `problems`.
pub fn load(path: &Path, format: Option<FeedFormat>, now: i64, limits: &FeedLimits) -> Result<(FeedFormat, ParsedFeed)> {
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot open the feed", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FEED_FILE_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("{}: cannot read the feed", path.display()))?;
    if bytes.len() as u64 > MAX_FEED_FILE_BYTES {
        bail!("{}: larger than {} MiB (MAX_FEED_FILE_BYTES): split the feed", path.display(), MAX_FEED_FILE_BYTES >> 20);
    }
    let format = format.unwrap_or_else(|| FeedFormat::detect(path, &bytes));
    let parsed = match format {
        FeedFormat::Stix => parse_stix(&bytes, now, limits),
        FeedFormat::Plain => parse_plain(&bytes, now, limits),
        FeedFormat::Misp => parse_misp_csv(&bytes, now, limits),
    }
    .map_err(|e| anyhow::anyhow!("{}: not a {}: {e}", path.display(), format.name()))?;
    Ok((format, parsed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_told_by_the_name_then_the_first_byte() {
        assert_eq!(FeedFormat::detect(Path::new("f.JSON"), b"1.2.3.4"), FeedFormat::Stix);
        assert_eq!(FeedFormat::detect(Path::new("f.csv"), b"{"), FeedFormat::Misp);
        assert_eq!(FeedFormat::detect(Path::new("feed"), b"\xef\xbb\xbf  {\"type\":\"bundle\"}"), FeedFormat::Stix);
        assert_eq!(FeedFormat::detect(Path::new("feed.txt"), b"198.51.100.0/24\n"), FeedFormat::Plain);
    }

    #[test]
    fn a_missing_or_wrong_feed_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&dir.path().join("none.json"), None, 0, &FeedLimits::default()).unwrap_err();
        assert!(format!("{err:#}").contains("none.json: cannot open the feed"), "{err:#}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"type\": \"bundle\", \"objects\": [").unwrap();
        let err = load(&bad, None, 0, &FeedLimits::default()).unwrap_err();
        assert!(format!("{err:#}").starts_with(&format!("{}: not a STIX 2.1 bundle: ", bad.display())), "{err:#}");
    }
}
