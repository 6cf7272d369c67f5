//! `apitap`: a passive API-traffic sensor. The binary (`src/main.rs`) parses the arguments and
//! calls [`run`]; everything else lives in the modules below, private to this crate. The crate
//! is a library only so that the fuzz targets (`fuzz/`) can reach the configuration loader
//! ([`check_config_text`]), and so that the alert-tuning audit trail ([`audit`]) has a
//! documented API its callers and tests share; it promises no other API.

mod accept;
mod analysis;
mod app;
mod app_detect;
mod app_http;
mod app_tls;
pub mod audit;
mod check_config;
mod cli;
mod commands;
mod config;
mod config_edit;
mod config_file;
mod config_templates;
mod daemon;
mod intel;
mod inventory;
mod kafka;
mod logging;
mod metrics;
mod messages;
mod output;
mod pipeline;
mod privilege;
mod record;
mod report;
mod secret;
mod simulate;
mod source;
mod store;
mod summary;
mod tls_keys;
mod tuning;

use std::process::ExitCode;

use clap::Parser;

pub use check_config::check_text as check_config_text;

/// Parses the process's arguments and runs the command they name; the exit code on success,
/// the error with its cause chain otherwise (the caller prints it).
pub fn run() -> anyhow::Result<ExitCode> {
    commands::run(cli::Cli::parse())
}
