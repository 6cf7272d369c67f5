//! (in progress)
mod model;
pub use model::*;
