//! The persistent store (SQLite in WAL mode, schema in docs/store.md) and its commands:
//! `apitap store backup|restore|info|migrate` and `apitap purge`.
//!
//! `db` is self-contained (it uses no other module of the binary) so that the store's own
//! tests compile it directly.

// The daemon (`apitap run`) writes and loads checkpoints; the commands here use the rest.
#![allow(dead_code, unused_imports)]

pub mod command;
pub mod db;

pub use db::*;
