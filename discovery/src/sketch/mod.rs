//! Bounded, approximate structures for per-consumer baselines.
