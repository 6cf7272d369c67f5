//! Segment classification before the optimisation (see the parent module).

mod banking;
mod classify;
mod datetime;

pub use apitap_discovery::template::SegmentKind;
pub use classify::classify;
