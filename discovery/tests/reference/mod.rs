//! The reference implementation of body analysis and segment classification: a verbatim copy
//! of `discovery/src/content/` and of `discovery/src/template/{classify,banking,datetime}.rs`
//! as they were before the optimisation of the scanners, kept only as the oracle of the
//! equivalence tests (tests/content_equivalence.rs). Do not change it to follow the library:
//! any output that differs from it is a behaviour change of the library.

#![allow(dead_code, unreachable_pub)]

pub mod content;
pub mod template;
