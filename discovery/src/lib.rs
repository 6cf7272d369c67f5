//! Sans-IO API discovery for apitap. It takes specification texts, transactions and
//! timestamps as arguments and never touches files, sockets or the clock.
//!
//! - [`openapi`]: OpenAPI 3.0/3.1 documents (YAML or JSON) parsed into a resolved model of
//!   operations, parameters and schemas.

pub mod openapi;
