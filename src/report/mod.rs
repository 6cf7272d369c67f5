//! The shadow-API inventory report: a self-contained HTML page, Markdown for tickets, JSON
//! (the data the page shows), endpoints.csv and the reconstructed OpenAPI document, made
//! from the inventory and optionally the anomalies, a consumers list and the previous report.
//!
//! [`build`] is a pure function of a [`ReportInput`] (no files, no clock); [`write_all`]
//! writes the chosen formats. `apitap report` ([`command`]) reads the files and calls both;
//! the daemon calls the same two with data from its store. Layouts and what each section
//! means: docs/reports.md.
//!
//! Not supported: reports over several sensors (one inventory per report), time zones other
//! than UTC on the page, and traffic charts from inventories without hourly traffic.

mod anomalies;
mod build;
pub mod command;
mod html;
mod html_tables;
mod input;
mod model;
mod openapi;
mod svg;
mod tabular;
mod text;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use anomalies::{AnomalyDigest, MAX_LINE_BYTES};
pub use build::build;
pub use input::{
    parse_consumers, parse_inventory, parse_previous, ConsumerDoc, InventoryDoc, PreviousReport,
};
pub use model::Report;

/// Consumers listed in the top-consumers section.
pub const TOP_CONSUMERS: usize = 15;

/// Open findings listed one by one (the counts by kind and severity cover them all).
pub const MAX_OPEN_LISTED: usize = 200;

/// Rows per table of the HTML page; report.json and endpoints.csv hold every row.
pub const MAX_HTML_ROWS: usize = 2_000;

/// The title when none is given.
pub const DEFAULT_TITLE: &str = "Shadow API inventory";

/// Everything a report is made from.
#[derive(Debug)]
pub struct ReportInput {
    /// Title of the page.
    pub title: String,
    /// When the report is made (RFC 3339), shown on the page; the caller reads the clock.
    pub generated_at: Option<String>,
    /// The inventory.
    pub inventory: InventoryDoc,
    /// The anomalies, folded per finding.
    pub anomalies: Option<AnomalyDigest>,
    /// The consumers list.
    pub consumers: Option<Vec<ConsumerDoc>>,
    /// The previous report, for "new since the last report" and the changes of the counts.
    pub previous: Option<PreviousReport>,
}

impl ReportInput {
    /// An input with the inventory only.
    pub fn new(inventory: InventoryDoc) -> Self {
        ReportInput { title: DEFAULT_TITLE.to_string(), generated_at: None, inventory, anomalies: None, consumers: None, previous: None }
    }
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// report.html: the page.
    Html,
    /// report.md: GitHub-flavoured Markdown.
    Md,
    /// report.json: the data the page shows.
    Json,
    /// endpoints.csv: one row per endpoint.
    Csv,
    /// openapi.yaml: the OpenAPI document reconstructed from traffic.
    Openapi,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [Format::Html, Format::Md, Format::Json, Format::Csv, Format::Openapi];

    /// The file it is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Html => "report.html",
            Format::Md => "report.md",
            Format::Json => "report.json",
            Format::Csv => "endpoints.csv",
            Format::Openapi => "openapi.yaml",
        }
    }

    /// The format's content.
    pub fn render(self, report: &Report) -> Result<String> {
        Ok(match self {
            Format::Html => html::render(report),
            Format::Md => tabular::markdown(report),
            Format::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
            Format::Csv => tabular::csv(report),
            Format::Openapi => serde_norway::to_string(&report.openapi)?,
        })
    }
}

/// Writes `formats` into `dir` (created if missing), each file through a temporary name and
/// a rename, so that a reader never sees half a report. Returns the files written.
pub fn write_all(report: &Report, dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    let mut written = Vec::new();
    for f in formats {
        let path = dir.join(f.file_name());
        let tmp = dir.join(format!(".{}.tmp", f.file_name()));
        let text = f.render(report).with_context(|| format!("cannot render {}", f.file_name()))?;
        fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        written.push(path);
    }
    Ok(written)
}
