//! Where packets come from: capture files and live interfaces.

pub mod file;
pub mod live;
