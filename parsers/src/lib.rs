//! Sans-IO application-protocol parsers for apitap. No crate of ours is a dependency.
pub mod http;
