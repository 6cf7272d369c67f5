//! Alert tuning: what the SOC tells the detectors about its own network.
//!
//! - [`suppress`]: suppression rules (by network, consumer, user agent, TLS fingerprint,
//!   endpoint, anomaly kind and time window, each with an owner, a reason and an expiry). A
//!   finding that opens under a rule is still counted and kept, marked suppressed, and the shell
//!   does not publish it as an alert.
//! - [`window`]: the rules' time windows, absolute or recurring in the bank's time zone.
//! - [`overrides`]: detector thresholds and warm-up per service or consumer group.
//! - [`feedback`]: analysts' verdicts: a false positive or expected behaviour is absorbed into
//!   the consumer's baseline; the triage state every later event of a finding carries.
//!
//! Everything here works on packet time: a rule that expires on 1 December stops applying to
//! traffic captured after that instant, whether the capture is live or read a month later.

pub mod feedback;
pub mod overrides;
pub mod suppress;
pub mod window;

pub use feedback::{Absorption, Absorptions, Note, TriageMark, TriageState, Verdict, ABSORB_SCORE_MARGIN, MAX_ABSORPTIONS, MAX_NOTES};
pub use overrides::{DetectorOverride, MAX_OVERRIDES, OVERRIDABLE};
pub use suppress::{EndpointMatch, Subject, Suppression, SuppressionMark, SuppressionSpec, Suppressions, MAX_SUPPRESSIONS};
pub use window::{parse_instant, TimeWindow};

#[cfg(test)]
mod tests;
