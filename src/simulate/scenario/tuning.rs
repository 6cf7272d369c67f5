//! The tuning kinds: traffic the bank asked for (an authorised penetration test, a synthetic
//! monitor, a nightly batch job) that an untuned sensor reports as attacks, and that a SOC
//! silences by tuning. Their keys, checked (fixtures/scenarios/README.md).

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{bail, Result};

use super::raw::RawInjection;
use super::{cidr, overlaps, Consumer, DEFAULT_OBJECT_OPERATION, MAX_INJECTION_ACCOUNTS};

/// Default user agent of a penetration test.
pub const DEFAULT_PEN_TEST_USER_AGENT: &str = "Mozilla/5.0 (compatible; pentest-scanner)";
/// Default user agent of a synthetic monitor.
pub const DEFAULT_MONITOR_USER_AGENT: &str = "Datadog/Synthetics";
/// Default addresses of a penetration test's or a monitor's network it uses.
pub const DEFAULT_TUNING_SOURCES: u64 = 3;
/// Most addresses a penetration test or a monitor uses.
pub const MAX_TUNING_SOURCES: u64 = 256;
/// Default bank-local hours of a penetration test, `[from, to)`, on weekdays.
pub const DEFAULT_PEN_TEST_HOURS: (u32, u32) = (9, 17);
/// Default minutes between two checks of a synthetic monitor.
pub const DEFAULT_MONITOR_INTERVAL_MINUTES: u64 = 5;
/// Default share of a monitor's checks that fail (answered 503).
pub const DEFAULT_MONITOR_ERROR_SHARE: f64 = 0.02;
/// Default immediate retries of a failing check.
pub const DEFAULT_MONITOR_RETRIES: u64 = 2;
/// Most immediate retries of a failing check.
pub const MAX_MONITOR_RETRIES: u64 = 10;
/// Default bank-local start of a batch job's run, `HH:MM`.
pub const DEFAULT_BATCH_AT: &str = "02:00";
/// Default length of a batch job's run.
pub const DEFAULT_BATCH_MINUTES: u64 = 30;
/// Default accounts a batch job reads each night.
pub const DEFAULT_BATCH_ACCOUNTS: u64 = 60;
/// Longest run of a batch job (a day).
pub const MAX_BATCH_MINUTES: u64 = 24 * 60;

/// Paths a penetration test probes (`{base}` is the API's base path). Those under the base
/// path are answered 403 (they exist, undocumented: shadow endpoints); the others 404
/// (nothing there: scanner noise).
pub const DEFAULT_PROBE_PATHS: &[&str] = &[
    "{base}/internal/accounts-export",
    "{base}/admin/consents",
    "{base}/debug/config",
    "/actuator/env",
    "/.env",
    "/.git/config",
    "/swagger-ui/index.html",
    "/server-status",
];

/// Operations of a synthetic monitor's check, in order.
pub const DEFAULT_MONITOR_OPERATIONS: &[&str] = &["GET /accounts", "GET /accounts/{AccountId}/balances"];

/// Passes of a batch job, one per operation, each over every account.
pub const DEFAULT_BATCH_OPERATIONS: &[&str] = &[
    DEFAULT_OBJECT_OPERATION,
    "GET /accounts/{AccountId}/balances",
    "GET /accounts/{AccountId}/transactions",
    "GET /accounts/{AccountId}/beneficiaries",
    "GET /accounts/{AccountId}/standing-orders",
];

/// An authorised penetration test from the testers' network with the credentials the bank
/// gave them, inside bank-local working hours on weekdays: object-id enumeration, probes of
/// undocumented paths, requests without credentials, and ambiguous request framing, one
/// activity per connection in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct PenTest {
    /// API name.
    pub api: String,
    /// The operation whose last path parameter is enumerated, and read without credentials.
    pub operation: String,
    /// First id enumerated (else drawn from the seed).
    pub first_id: Option<u64>,
    /// Share of enumerated ids answered 200 (the rest 403/404).
    pub owned_share: f64,
    /// The testers' network.
    pub source_network: (Ipv4Addr, u8),
    /// Addresses of it used.
    pub sources: u64,
    /// The scanner's User-Agent.
    pub user_agent: String,
    /// Bank-local hours `[from, to)` of weekdays the test runs in.
    pub hours: (u32, u32),
    /// Paths probed (`{base}` replaced by the API's base path).
    pub probe_paths: Vec<String>,
}

/// A monitoring service calling a few operations every `interval_minutes`, day and night.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticMonitor {
    /// API name.
    pub api: String,
    /// Operations of one check, in order (a listing first hands out the test account).
    pub operations: Vec<String>,
    /// The monitoring service's network.
    pub source_network: (Ipv4Addr, u8),
    /// Addresses of it used.
    pub sources: u64,
    /// Its User-Agent.
    pub user_agent: String,
    /// Minutes between checks.
    pub interval_minutes: u64,
    /// Share of checks that fail: every request of the check answered 503.
    pub error_share: f64,
    /// A failing check is run again at once this many times, failing again (the outage
    /// lasts), on the same connection.
    pub retries: u64,
}

/// A consumer's nightly job reading many accounts unattended.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    /// API name.
    pub api: String,
    /// One pass per operation, each a connection: the listing, then the operation for every
    /// account.
    pub operations: Vec<String>,
    /// Distinct accounts read each night.
    pub accounts: u64,
    /// Bank-local start (hour, minute).
    pub at: (u32, u32),
    /// Length of a run; the passes are spread evenly over it.
    pub duration_minutes: u64,
}

/// `HH:MM` as (hour, minute).
fn clock(file: &Path, key: &str, text: &str) -> Result<(u32, u32)> {
    let parsed = text.split_once(':').and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)));
    match parsed {
        Some((h, m)) if h < 24 && m < 60 && text.len() == 5 => Ok((h, m)),
        _ => bail!("{}: {key}: `at: {text}` is not a bank-local time; write it like \"02:00\"", file.display()),
    }
}

/// The testers' or the monitor's network: it may be the consumer's own, no one else's.
fn network(file: &Path, key: &str, j: &RawInjection, consumers: &[Consumer], own: &Consumer) -> Result<(Ipv4Addr, u8)> {
    let Some(text) = j.source_network.clone() else {
        bail!("{}: {key} ({}) needs `source_network`: where its requests come from", file.display(), j.kind)
    };
    let net = cidr(file, &format!("{key}.source_network"), &text)?;
    if let Some(c) = consumers.iter().find(|c| c.id != own.id && overlaps(c.network, net)) {
        bail!(
            "{}: {key}: `source_network: {text}` overlaps consumer `{}`'s network; use a network of its own",
            file.display(),
            c.id
        );
    }
    Ok(net)
}

fn sources(file: &Path, key: &str, j: &RawInjection, net: (Ipv4Addr, u8)) -> Result<u64> {
    let n = j.sources.unwrap_or(DEFAULT_TUNING_SOURCES);
    let size = 1u64 << (32 - u32::from(net.1));
    if n == 0 || n > MAX_TUNING_SOURCES || n > size.saturating_sub(2) {
        bail!("{}: {key}: `sources: {n}` must be 1 to {MAX_TUNING_SOURCES} and fit in the source network", file.display());
    }
    Ok(n)
}

fn share(file: &Path, key: &str, name: &str, v: Option<f64>, default: f64) -> Result<f64> {
    let v = v.unwrap_or(default);
    if !(0.0..=1.0).contains(&v) {
        bail!("{}: {key}: `{name}: {v}` must be 0 to 1", file.display());
    }
    Ok(v)
}

fn ops(j: &RawInjection, default: &[&str]) -> Vec<String> {
    if j.operations.is_empty() {
        default.iter().map(|s| s.to_string()).collect()
    } else {
        j.operations.clone()
    }
}

/// A `pen_test` injection's keys.
pub(super) fn pen_test(file: &Path, key: &str, j: &RawInjection, api: String, consumers: &[Consumer], own: &Consumer) -> Result<PenTest> {
    let source_network = network(file, key, j, consumers, own)?;
    let hours = match j.hours.as_deref() {
        None => DEFAULT_PEN_TEST_HOURS,
        Some([from, to]) if from < to && *to <= 24 => (*from, *to),
        Some(h) => bail!("{}: {key}: `hours: {h:?}` must be [from, to] bank-local hours, from before to, like [9, 17]", file.display()),
    };
    if j.requests_per_session.is_some_and(|n| n < 2) {
        bail!("{}: {key}: a pen_test needs `requests_per_session` of 2 or more (ids tried, paths probed per connection)", file.display());
    }
    Ok(PenTest {
        api,
        operation: j.operation.clone().unwrap_or_else(|| DEFAULT_OBJECT_OPERATION.to_string()),
        first_id: j.first_id,
        owned_share: share(file, key, "owned_share", j.owned_share, 0.0)?,
        sources: sources(file, key, j, source_network)?,
        source_network,
        user_agent: j.user_agent.clone().unwrap_or_else(|| DEFAULT_PEN_TEST_USER_AGENT.to_string()),
        hours,
        probe_paths: if j.probe_paths.is_empty() {
            DEFAULT_PROBE_PATHS.iter().map(|s| s.to_string()).collect()
        } else {
            j.probe_paths.clone()
        },
    })
}

/// A `synthetic_monitor` injection's keys.
pub(super) fn synthetic_monitor(
    file: &Path,
    key: &str,
    j: &RawInjection,
    api: String,
    consumers: &[Consumer],
    own: &Consumer,
) -> Result<SyntheticMonitor> {
    if j.requests_per_hour.is_some() || j.requests_per_session.is_some() {
        bail!("{}: {key}: a synthetic_monitor's pace is `interval_minutes`; remove `requests_per_hour`/`requests_per_session`", file.display());
    }
    let interval = j.interval_minutes.unwrap_or(DEFAULT_MONITOR_INTERVAL_MINUTES);
    if !(1..=1440).contains(&interval) {
        bail!("{}: {key}: `interval_minutes: {interval}` must be 1 to 1440", file.display());
    }
    let source_network = network(file, key, j, consumers, own)?;
    let retries = j.retries.unwrap_or(DEFAULT_MONITOR_RETRIES);
    if retries > MAX_MONITOR_RETRIES {
        bail!("{}: {key}: `retries: {retries}` must be 0 to {MAX_MONITOR_RETRIES}", file.display());
    }
    Ok(SyntheticMonitor {
        retries,
        api,
        operations: ops(j, DEFAULT_MONITOR_OPERATIONS),
        sources: sources(file, key, j, source_network)?,
        source_network,
        user_agent: j.user_agent.clone().unwrap_or_else(|| DEFAULT_MONITOR_USER_AGENT.to_string()),
        interval_minutes: interval,
        error_share: share(file, key, "error_share", j.error_share, DEFAULT_MONITOR_ERROR_SHARE)?,
    })
}

/// A `batch_job` injection's keys.
pub(super) fn batch_job(file: &Path, key: &str, j: &RawInjection, api: String) -> Result<BatchJob> {
    if j.requests_per_hour.is_some() || j.requests_per_session.is_some() {
        bail!("{}: {key}: a batch_job's volume is `accounts` times its operations each night; remove `requests_per_hour`/`requests_per_session`", file.display());
    }
    let accounts = j.accounts.unwrap_or(DEFAULT_BATCH_ACCOUNTS);
    if !(1..=MAX_INJECTION_ACCOUNTS).contains(&accounts) {
        bail!("{}: {key}: `accounts: {accounts}` must be 1 to {MAX_INJECTION_ACCOUNTS}", file.display());
    }
    let duration = j.duration_minutes.unwrap_or(DEFAULT_BATCH_MINUTES);
    if !(1..=MAX_BATCH_MINUTES).contains(&duration) {
        bail!("{}: {key}: `duration_minutes: {duration}` must be 1 to {MAX_BATCH_MINUTES}", file.display());
    }
    Ok(BatchJob {
        api,
        operations: ops(j, DEFAULT_BATCH_OPERATIONS),
        accounts,
        at: clock(file, key, j.at.as_deref().unwrap_or(DEFAULT_BATCH_AT))?,
        duration_minutes: duration,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::simulate::scenario::InjectionKind;

    /// A scenario with a tester, a monitor and another consumer, and `injection` (YAML lines).
    fn scenario(injection: &str) -> Result<crate::simulate::scenario::Scenario> {
        let text = format!(
            "name: t\nstart: \"2026-11-02T00:00:00Z\"\nduration_hours: 72\ntimezone: Europe/London\n\
             apis:\n  - {{name: aisp, spec: a.yaml, host: api.bank.example, server: \"10.0.0.1:80\"}}\n\
             consumers:\n\
             \x20 - {{id: tester, auth: jwt, network: 198.18.200.0/29, user_agent: x, requests_per_hour: 0, apis: [aisp]}}\n\
             \x20 - {{id: office, auth: basic, network: 10.50.0.0/24, user_agent: y, requests_per_hour: 4, apis: [aisp]}}\n\
             injections:\n{injection}"
        );
        super::super::parse::parse(Path::new("s.yaml"), &text, None)
    }

    #[test]
    fn the_tuning_kinds_are_read_with_their_defaults() {
        let sc = scenario(
            "  - {kind: pen_test, consumer: tester, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-04T00:00:00Z\", \
             source_network: 198.18.200.0/29, requests_per_hour: 40, requests_per_session: 12}\n\
             \x20 - {kind: synthetic_monitor, consumer: tester, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-05T00:00:00Z\", \
             source_network: 198.18.210.0/27}\n\
             \x20 - {kind: batch_job, consumer: office, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-05T00:00:00Z\"}\n",
        )
        .unwrap();
        let kinds: Vec<&InjectionKind> = sc.injections.iter().map(|j| &j.kind).collect();
        assert!(kinds.iter().all(|k| k.tuning() && !k.benign() && !k.steady()));
        let InjectionKind::PenTest(t) = kinds[0] else { panic!("{:?}", kinds[0]) };
        assert_eq!((t.hours, t.sources, t.user_agent.as_str()), ((9, 17), 3, DEFAULT_PEN_TEST_USER_AGENT));
        assert_eq!(t.probe_paths.len(), DEFAULT_PROBE_PATHS.len());
        let InjectionKind::SyntheticMonitor(m) = kinds[1] else { panic!("{:?}", kinds[1]) };
        assert_eq!((m.interval_minutes, m.retries, m.user_agent.as_str()), (5, 2, DEFAULT_MONITOR_USER_AGENT));
        let InjectionKind::BatchJob(b) = kinds[2] else { panic!("{:?}", kinds[2]) };
        assert_eq!((b.at, b.duration_minutes, b.accounts, b.operations.len()), ((2, 0), 30, 60, 5));
        assert_eq!(sc.injections[1].requests_per_hour, 0.0, "paced by its interval");
    }

    #[test]
    fn mistakes_in_the_tuning_kinds_name_the_file_key_and_fix() {
        let cases = [
            // The testers' network may be their own consumer's, no other's.
            (
                "  - {kind: pen_test, consumer: tester, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-04T00:00:00Z\", source_network: 10.50.0.0/28, requests_per_hour: 4}\n",
                "overlaps consumer `office`",
            ),
            (
                "  - {kind: pen_test, consumer: tester, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-04T00:00:00Z\", source_network: 198.18.200.0/29, hours: [17, 9], requests_per_hour: 4}\n",
                "like [9, 17]",
            ),
            (
                "  - {kind: synthetic_monitor, consumer: tester, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-04T00:00:00Z\", source_network: 198.18.210.0/27, requests_per_hour: 12}\n",
                "remove `requests_per_hour`",
            ),
            (
                "  - {kind: synthetic_monitor, consumer: tester, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-04T00:00:00Z\"}\n",
                "needs `source_network`",
            ),
            // 02:00 to 02:30 London does not fit in 03:00 to 23:00.
            (
                "  - {kind: batch_job, consumer: office, api: aisp, start: \"2026-11-03T03:00:00Z\", end: \"2026-11-03T23:00:00Z\"}\n",
                "no whole run of 30 minutes at 02:00 Europe/London",
            ),
            (
                "  - {kind: batch_job, consumer: office, api: aisp, start: \"2026-11-03T00:00:00Z\", end: \"2026-11-04T00:00:00Z\", at: \"2am\"}\n",
                "write it like \"02:00\"",
            ),
        ];
        for (injection, want) in cases {
            let e = scenario(injection).unwrap_err().to_string();
            assert!(e.starts_with("s.yaml: injections[0]") && e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn clock_times_are_checked() {
        let f = Path::new("s.yaml");
        assert_eq!(clock(f, "k", "02:00").unwrap(), (2, 0));
        assert_eq!(clock(f, "k", "23:59").unwrap(), (23, 59));
        for bad in ["24:00", "2:00", "02:60", "0200", "ab:cd"] {
            let e = clock(f, "k", bad).unwrap_err().to_string();
            assert!(e.contains("s.yaml: k: `at:") && e.contains("\"02:00\""), "{bad}: {e}");
        }
    }
}
