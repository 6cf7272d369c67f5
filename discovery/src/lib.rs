//! Sans-IO API discovery for apitap. It takes specification texts, transactions and
//! timestamps as arguments and never touches files, sockets or the clock.
//!
//! - [`openapi`]: OpenAPI 3.0/3.1 documents (YAML or JSON) parsed into a resolved model of
//!   operations, parameters and schemas.
//! - [`specmatch`]: which documented operation (or operator template) a request is.
//! - [`template`]: path templates for traffic no spec covers.
//! - [`content`]: JSON body shapes and sensitive-data tags.
//! - [`inventory`]: the endpoint inventory and its classification.
//! - [`identity`]: who sent a request (consumer and customer), as keyed hashes and labels.
//! - [`sketch`]: bounded approximate structures the baselines are made of.
//! - [`behaviour`]: per-consumer baselines, detectors and alerts.
//! - [`tuning`]: the SOC's suppression rules and time windows.
//! - [`intel`]: threat-intelligence feeds (STIX 2.1, plain lists, MISP CSV) and their matcher.
// Tests may unwrap and index: a panic there is a failed test, not a crash on input.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

pub mod behaviour;
pub mod content;
pub mod graphql;
pub mod identity;
pub mod intel;
pub mod inventory;
pub mod openapi;
pub mod posture;
pub mod sketch;
pub mod specmatch;
pub mod template;
pub mod tuning;
