//! Detector settings per service or consumer group: the `[behaviour]` thresholds and warm-up
//! with some of them changed where a service or a group of consumers differs (a platform API
//! whose errors are usual, aggregators whose volume is not a surge). The shell builds each
//! override's whole configuration (the file's `[behaviour]` with the override's keys on top);
//! the first override that applies to a request gives its detectors their thresholds.
//!
//! Window lengths and memory bounds stay those of `[behaviour]`: the windows are shared by
//! every request of a service, an endpoint or a consumer, so only thresholds and warm-up vary.

use std::net::IpAddr;

use crate::behaviour::BehaviourConfig;
use crate::identity::Prefix;

/// Most overrides held.
pub const MAX_OVERRIDES: usize = 256;

/// The keys an override may set: `[behaviour]` keys, and `table.key` for the detector tables.
pub const OVERRIDABLE: &[&str] = &[
    "warmup_hours",
    "warmup_requests",
    "off_hours_start",
    "off_hours_end",
    "psd2_max_unattended_per_day",
    "count_401_as_failed_login",
    "bola.min_foreign_ids",
    "bola.min_refused_share",
    "bola.slow_min_refused_ids",
    "stuffing.min_failures",
    "stuffing.min_users",
    "stuffing.min_new_networks",
    "stuffing.min_failure_share",
    "rate.factor",
    "rate.sigmas",
    "rate.min_requests",
    "rate.min_sessions",
    "rate.max_refused_share",
    "errors.min_requests",
    "errors.max_p_value",
    "errors.min_error_share",
    "errors.factor",
    "errors.extra_statuses",
    "size.factor",
    "size.min_bytes",
    "size.min_samples",
    "size.absolute_bytes",
    "novelty.min_requests",
];

/// Where an override applies and the configuration it gives there.
#[derive(Clone, Debug)]
pub struct DetectorOverride {
    /// Services (hosts, exact or `*.suffix`, lower case); empty: any.
    pub services: Vec<String>,
    /// Consumers of its groups, by label or id; with `networks`, the groups' members.
    pub consumers: Vec<String>,
    /// Client networks of its groups.
    pub networks: Vec<Prefix>,
    /// Whether groups were named (then a request must be from a member).
    pub grouped: bool,
    /// The configuration where it applies.
    pub cfg: BehaviourConfig,
}

impl DetectorOverride {
    /// Whether it applies to a request to `service` by the consumer (`id`, `label`) from
    /// `client`.
    pub fn applies(&self, service: &str, id: &str, label: &str, client: IpAddr) -> bool {
        let service_ok = self.services.is_empty()
            || self.services.iter().any(|s| match s.strip_prefix('*') {
                Some(suffix) => service.len() > suffix.len() && service.to_ascii_lowercase().ends_with(suffix),
                None => s.eq_ignore_ascii_case(service),
            });
        let member = !self.grouped
            || self.consumers.iter().any(|c| c == label || c.eq_ignore_ascii_case(id))
            || self.networks.iter().any(|n| n.contains(client));
        service_ok && member
    }
}

/// The first override of `list` that applies, else `base`.
pub fn select<'a>(list: &'a [DetectorOverride], base: &'a BehaviourConfig, service: &str, id: &str, label: &str, client: IpAddr) -> &'a BehaviourConfig {
    list.iter().find(|o| o.applies(service, id, label, client)).map_or(base, |o| &o.cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ov(services: &[&str], consumers: &[&str], networks: &[&str]) -> DetectorOverride {
        let mut cfg = BehaviourConfig::default();
        cfg.rate.factor = 99.0;
        DetectorOverride {
            services: services.iter().map(|s| s.to_string()).collect(),
            consumers: consumers.iter().map(|s| s.to_string()).collect(),
            networks: networks.iter().map(|n| n.parse().unwrap()).collect(),
            grouped: !consumers.is_empty() || !networks.is_empty(),
            cfg,
        }
    }

    #[test]
    fn services_and_groups_must_both_hold_when_both_are_named() {
        let base = BehaviourConfig::default();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let list = [ov(&["*.platform.example"], &["agg"], &["192.0.2.0/24"])];
        assert_eq!(select(&list, &base, "api.platform.example", "00aa", "agg", ip).rate.factor, 99.0);
        assert_eq!(select(&list, &base, "api.platform.example", "00aa", "x", "192.0.2.9".parse().unwrap()).rate.factor, 99.0, "by network");
        assert_eq!(select(&list, &base, "api.platform.example", "00aa", "x", ip).rate.factor, base.rate.factor, "not a member");
        assert_eq!(select(&list, &base, "api.bank.example", "00aa", "agg", ip).rate.factor, base.rate.factor, "another service");
        assert_eq!(select(&list, &base, "platform.example", "00aa", "agg", ip).rate.factor, base.rate.factor, "the apex is not a suffix match");
        let by_service = [ov(&["API.bank.example"], &[], &[])];
        assert_eq!(select(&by_service, &base, "api.bank.example", "", "", ip).rate.factor, 99.0);
        let by_id = [ov(&[], &["00AA"], &[])];
        assert_eq!(select(&by_id, &base, "any", "00aa", "someone", ip).rate.factor, 99.0);
    }
}
