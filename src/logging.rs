//! Structured logs of the daemon through `tracing`: text lines for people, or one JSON object
//! per line for log shippers (`[daemon] log_format`). Only the daemon's own words are logged:
//! never packet bytes, header values or credentials (those are hashed before anything else
//! sees them).

use anyhow::{anyhow, Result};
use tracing_subscriber::EnvFilter;

use crate::daemon::config::LogFormat;

/// The filter of a level name or a `tracing` directive list; `RUST_LOG` is not consulted, so
/// the configuration file alone decides.
pub fn filter(level: &str) -> Result<EnvFilter> {
    const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];
    let level = level.trim();
    if level.is_empty() {
        return Err(anyhow!("empty log level"));
    }
    // `tracing` would take a bare word as a target name ("loud" = everything from a module
    // called loud): a typo of a level must not silence the logs, so each directive must name a
    // level.
    for directive in level.split(',').map(str::trim) {
        let lvl = directive.rsplit_once('=').map_or(directive, |(target, lvl)| if target.is_empty() { "" } else { lvl });
        if !LEVELS.contains(&lvl.to_ascii_lowercase().as_str()) {
            return Err(anyhow!("{directive:?} names no level"));
        }
    }
    EnvFilter::builder().parse(level).map_err(|e| anyhow!("{e}"))
}

/// Installs the global subscriber writing to standard error (journald or the container runtime
/// collect it). A second call is refused by `tracing` and reported.
pub fn init(format: LogFormat, level: &str) -> Result<()> {
    let filter = filter(level)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let done = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    done.map_err(|e| anyhow!("cannot install the logger: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_directives_parse_and_nonsense_does_not() {
        for ok in ["info", "debug", "warn", "apitap=debug", "error,apitap=trace"] {
            filter(ok).unwrap();
        }
        for bad in ["", "loud", "apitap=loudest"] {
            assert!(filter(bad).is_err(), "{bad}");
        }
    }
}
