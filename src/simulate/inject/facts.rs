//! The truth entry of one injection: the facts of its kind, counted from what was written.

use std::net::Ipv4Addr;

use chrono::SecondsFormat;

use super::{InjectAcc, FAST_ENUMERATION_PER_HOUR, MONITOR_FAILURE_STATUS, PSD2_UNATTENDED_PULLS_PER_DAY};
use crate::simulate::scenario::{Injection, InjectionKind, Scenario};
use crate::simulate::schedule::{from_nanos, mean_activity};
use crate::simulate::truth::{InjectionFacts, InjectionTruth};

fn time(n: u64) -> String {
    from_nanos(n).to_rfc3339_opts(SecondsFormat::Nanos, false)
}

impl InjectAcc {
    /// The truth entry of `inj`.
    pub fn truth(self, inj: &Injection, sc: &Scenario) -> InjectionTruth {
        let mut f = InjectionFacts {
            api: inj.kind.api().map(str::to_string),
            first_request: self.first.map(|n| from_nanos(n).to_rfc3339()),
            last_request: self.last.map(|n| from_nanos(n).to_rfc3339()),
            first_request_times: Some(self.times.iter().map(|t| time(*t)).collect()),
            ..InjectionFacts::default()
        };
        let hours = (inj.end - inj.start).num_seconds() as f64 / 3600.0;
        let net = |n: &(Ipv4Addr, u8)| Some(format!("{}/{}", n.0, n.1));
        match &inj.kind {
            InjectionKind::ObjectEnumeration { .. } => {
                f.pace = Some(if inj.requests_per_hour >= FAST_ENUMERATION_PER_HOUR { "fast" } else { "low_and_slow" });
                f.distinct_ids = Some(self.ids.len() as u64);
                f.first_id = self.id_range.map(|r| r.0);
                f.last_id = self.id_range.map(|r| r.1);
            }
            InjectionKind::CredentialStuffing { source_network, .. } => {
                f.source_network = net(source_network);
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                f.successful_logins = Some(self.successes);
            }
            InjectionKind::Scraping { .. } => {
                let max = self.pulls.values().copied().max().unwrap_or(0);
                f.pulls = Some(self.pulls.values().sum());
                f.max_unattended_pulls_per_account_per_day = Some(max);
                f.account_days_over_psd2_limit =
                    Some(self.pulls.values().filter(|n| **n > PSD2_UNATTENDED_PULLS_PER_DAY).count() as u64);
                f.account_ids = Some(self.accounts);
            }
            InjectionKind::OffHoursToken { source_network } => {
                f.source_network = net(source_network);
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                let usual = usual_rate(sc, inj);
                let rate = if hours > 0.0 { self.requests as f64 / hours } else { 0.0 };
                f.usual_requests_per_hour = Some(round2(usual));
                f.times_usual = Some(if usual > 0.0 { round2(rate / usual) } else { 1e9 });
            }
            InjectionKind::RateSurge { .. } => {
                let usual = usual_rate(sc, inj);
                let rate = if hours > 0.0 { self.window_requests as f64 / hours } else { 0.0 };
                f.usual_requests_per_hour = Some(round2(usual));
                f.times_usual = Some(if usual > 0.0 { round2(rate / usual) } else { 1e9 });
                f.consumer_requests = Some(self.window_requests);
            }
            InjectionKind::NewUserAgent { user_agent } => f.user_agent = Some(user_agent.clone()),
            InjectionKind::UnauthenticatedAccess { source_network, user_agent, .. } => {
                f.source_network = net(source_network);
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                f.user_agent = Some(user_agent.clone());
            }
            InjectionKind::RequestSmuggling { technique, .. } => {
                f.technique = Some(technique.name());
                f.smuggling_requests = Some(self.smuggled);
                f.rejected_requests = Some(self.rejected);
            }
            InjectionKind::ErrorSpike { status, .. } => {
                f.status = Some(*status);
                f.api_requests = Some(self.api_requests);
                f.error_responses = Some(self.errors);
            }
            InjectionKind::OversizedResponses { min_body_bytes, .. } => {
                f.min_body_bytes = Some(*min_body_bytes);
                f.bytes = Some(self.bytes);
                f.max_body_bytes = Some(self.max_body);
            }
            InjectionKind::AggregatorAccounts { .. } => f.distinct_ids = Some(self.ids.len() as u64),
            InjectionKind::PasswordReset { .. } => {
                f.status = Some(401);
                f.error_responses = Some(self.errors);
            }
            InjectionKind::PenTest(t) => {
                f.source_network = net(&t.source_network);
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                f.user_agent = Some(t.user_agent.clone());
                f.distinct_ids = Some(self.ids.len() as u64);
                f.first_id = self.id_range.map(|r| r.0);
                f.last_id = self.id_range.map(|r| r.1);
                let [enumeration, probes, unauthenticated, _] = self.by_activity;
                f.enumeration_requests = Some(enumeration);
                f.probe_requests = Some(probes);
                f.unauthenticated_requests = Some(unauthenticated);
                f.smuggling_requests = Some(self.smuggled);
                f.rejected_requests = Some(self.rejected);
            }
            InjectionKind::SyntheticMonitor(m) => {
                f.source_network = net(&m.source_network);
                f.distinct_source_ips = Some(self.used_sources.len() as u64);
                f.user_agent = Some(m.user_agent.clone());
                f.interval_minutes = Some(m.interval_minutes);
                f.checks = Some(self.checks);
                f.failed_checks = Some(self.failed_checks);
                f.failed_check_times = Some(self.failed_check_times.iter().map(|t| time(*t)).collect());
                f.status = Some(MONITOR_FAILURE_STATUS);
                f.error_responses = Some(self.errors);
                f.account_ids = Some(self.accounts);
            }
            InjectionKind::BatchJob(_) => {
                f.nights = Some(self.nights.len() as u64);
                f.distinct_ids = Some(self.ids.len() as u64);
                f.account_ids = Some(self.accounts);
            }
            InjectionKind::ShadowEndpoint { .. }
            | InjectionKind::ZombieVersion { .. }
            | InjectionKind::DeprecatedOperations { .. } => {}
        }
        InjectionTruth {
            kind: inj.kind.name(),
            start: inj.start.to_rfc3339(),
            end: inj.end.to_rfc3339(),
            consumer: inj.consumer.clone(),
            requests: self.requests,
            endpoints: self.endpoints.into_iter().collect(),
            benign: inj.kind.benign(),
            tuning: inj.kind.tuning(),
            facts: f,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The consumer's expected requests per hour over the injection's window, from its rate and
/// the seasonality.
fn usual_rate(sc: &Scenario, inj: &Injection) -> f64 {
    let Some(c) = sc.consumers.iter().find(|c| c.id == inj.consumer) else { return 0.0 };
    c.requests_per_hour * mean_activity(inj.start, inj.end, sc.timezone)
}

