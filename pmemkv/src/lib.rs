//! pmemkv: a crash-consistent, mmap-backed key-value engine.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod entry;
pub mod error;
pub mod io;

pub use entry::{Entry, ValueLoc};
pub use error::{Error, Result};

/// Longest key the engine accepts, in bytes.
pub const MAX_KEY_LEN: usize = 64 * 1024;
