//! Sans-IO application-protocol parsers for apitap. No crate of ours is a dependency: time is
//! a plain `u64` of nanoseconds since the epoch, passed in with the bytes.
// Tests may unwrap and index: a panic there is a failed test, not a crash on input.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

pub mod h2;
pub mod http;
pub mod tls;

pub use http::{
    detect_request, detect_response, Detection, Direction, HttpConfig, HttpConnParser, HttpEvent, HttpParser, HttpStats,
    HttpTransaction, Progress, StreamState,
};
