//! `apitap`: a passive API-traffic sensor. `main` parses the arguments, runs the command and
//! maps failure to an exit code; everything else lives in the modules below.

mod accept;
mod analysis;
mod app;
mod app_detect;
mod app_http;
mod app_tls;
mod check_config;
mod cli;
mod commands;
mod config;
mod config_file;
mod daemon;
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

use std::process::ExitCode;

use clap::Parser;

/// See the `mimalloc` entry in Cargo.toml for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
