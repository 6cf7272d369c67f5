//! The endpoint inventory: observations in, classified endpoints out.
