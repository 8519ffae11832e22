//! pmemkv: a crash-consistent, mmap-backed key-value engine.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod blob;
mod blob_ids;
pub mod collections;
mod dead_marks;
pub mod entry;
pub mod error;
mod group;
pub mod io;
pub mod iter;
mod maintenance;
pub mod manifest;
pub mod memtable;
pub mod options;
pub mod record;
mod recovery;
pub mod run;
pub mod segment;
mod store;
pub mod sync;
mod value;
mod view;

pub use collections::Collections;
pub use entry::{Entry, ValueLoc};
pub use error::{Error, Result};
pub use iter::{Direction, KeyRange};
pub use options::{Clock, Condition, Durability, Expiry, Options, PutOptions, WriteOptions};
pub use store::{
    BlobPut, BlobStage, Iter, KeyIter, KeyMeta, RecoveryReport, ScanPage, StagedBlob, Stats, Store, Txn, ValueReader,
    WriteBatch,
};
pub use value::{ReadValue, ValueRef};

/// Longest key the engine accepts, in bytes.
pub const MAX_KEY_LEN: usize = 64 * 1024;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
