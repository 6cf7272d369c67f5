//! The publisher's own log lines. The publisher also runs without the daemon's logger (under
//! `apitap read`, and in the tests that include this module), so it cannot rely on `tracing`
//! alone.

/// Writes one line: through `tracing` once the daemon installed its logger (`logging::init`),
/// so that a JSON log stays one object per line, else as is on standard error. A leading `error: ` or `warning: ` picks
/// the level (and is left out of the `tracing` message); any other line is informational.
pub fn line(text: &str) {
    if !tracing::dispatcher::has_been_set() {
        eprintln!("{text}");
        return;
    }
    if let Some(rest) = text.strip_prefix("error: ") {
        tracing::error!("{rest}");
    } else if let Some(rest) = text.strip_prefix("warning: ") {
        tracing::warn!("{rest}");
    } else {
        tracing::info!("{text}");
    }
}
