//! The detectors. Each reads one transaction ([`Step`]) and the consumer's baseline before the
//! transaction is added to it, and raises a [`Detection`](super::alerts::Detection) when its
//! rule holds. Rules and thresholds: `docs/behaviour.md`; settings: [`super::config`].

pub(super) mod access;
pub(super) mod errors;
pub(super) mod login;
pub(super) mod novelty;
pub(super) mod surface;
pub(super) mod volume;

use serde_json::{Map, Value};

use super::alerts::Context;
use super::anomaly::EndpointRef;
use super::config::BehaviourConfig;
use super::input::Transaction;
use crate::sketch::{BankClock, LocalTime};

/// One transaction with what every detector needs computed once.
pub(super) struct Step<'s, 'a> {
    pub cfg: &'s BehaviourConfig,
    pub clock: &'s BankClock,
    pub tx: &'s Transaction<'a>,
    pub local: LocalTime,
    /// Who and from where, for findings about the consumer.
    pub ctx: Context,
    /// The endpoint, when the inventory counted the request on one.
    pub endpoint: Option<EndpointRef>,
    /// Stable key of the endpoint (0 when none).
    pub endpoint_key: u64,
    /// Stable key of the service.
    pub service_key: u64,
    /// Stable key of the client network.
    pub network_key: u64,
    /// A 2xx answer.
    pub success: bool,
    /// The object ids the request names (`(parameter, value)`, see `input::requested_ids`).
    pub ids: Vec<(&'a str, &'a str)>,
    /// The customer account it names (a parameter in `account_params`).
    pub account: Option<&'a str>,
    /// It reads a customer's account information: an account parameter, or an
    /// `account_collections` endpoint.
    pub account_information: bool,
}

impl Step<'_, '_> {
    /// The consumer key of the findings about this consumer.
    pub fn consumer_key(&self) -> u64 {
        self.ctx.consumer_key
    }

    /// The consumer's label for messages (`a consumer` when there is none).
    pub fn consumer_label(&self) -> &str {
        self.ctx.consumer.as_ref().map_or("a consumer", |c| c.label.as_str())
    }
}

/// 50 at the threshold, 75 at twice it, 100 at four times or more.
pub(super) fn score(observed: f64, threshold: f64) -> u8 {
    if threshold <= 0.0 || observed <= 0.0 {
        return 50;
    }
    let s = 50.0 + 25.0 * (observed / threshold).log2();
    s.clamp(50.0, 100.0) as u8
}

/// An evidence map from key-value pairs.
pub(super) fn evidence(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect()
}

/// A share rounded to three decimals, for evidence.
pub(super) fn share(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        ((num as f64 / den as f64) * 1000.0).round() / 1000.0
    }
}

/// A rate rounded to two decimals, for evidence.
pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
