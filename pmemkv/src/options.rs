//! Store options.

use std::sync::Arc;

/// When a write is acknowledged relative to its fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Return only after the write is on disk. Concurrent writers share one fsync (group
    /// commit).
    Always,
    /// A background flusher fsyncs the log every second: at most about a second of
    /// acknowledged writes can be lost on power loss (none on a process crash).
    #[default]
    EverySec,
    /// The operating system decides when to write back (none lost on a process crash).
    Never,
}

impl Durability {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Durability::Always => 0,
            Durability::EverySec => 1,
            Durability::Never => 2,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Durability {
        match v {
            0 => Durability::Always,
            1 => Durability::EverySec,
            _ => Durability::Never,
        }
    }
}

/// A source of the current time in milliseconds since the Unix epoch (used for expiry).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64))
}

/// How a store is opened and run.
#[derive(Clone)]
pub struct Options {
    /// Default durability of writes (overridable per write).
    pub durability: Durability,
    /// Capacity of each log segment in bytes (preallocated). Default 128 MiB; at most 4 GiB.
    pub segment_size: u64,
    /// Largest value accepted inline by `put`; larger values must go through the blob
    /// writer. Default 32 MiB; never more than a quarter of `segment_size`.
    pub max_inline_value: u64,
    /// Checkpoint when the memtable holds this many entries. Bounds both the heap used by the
    /// index and the log tail replayed at reopen. Default 200 000.
    pub memtable_max_entries: usize,
    /// Checkpoint when this many log bytes were written since the last one (bounds replay).
    /// Default 128 MiB.
    pub checkpoint_log_bytes: u64,
    /// Compact a sealed segment once this fraction of its bytes is dead. Default 0.5.
    pub gc_dead_ratio: f64,
    /// Run a background thread for checkpoints, merges, compaction and `EverySec` syncs.
    /// Default true. Without it, call [`crate::Store::checkpoint`] and
    /// [`crate::Store::compact`] yourself (`EverySec` then behaves like `Never`).
    pub background: bool,
    /// How many nice levels below the process the background thread runs (Linux). Default 0
    /// (the process's priority). A server that wants checkpoints, merges and compaction to
    /// take only the CPU its requests leave sets it (pmemkv-server uses 10); writers still
    /// checkpoint or compact themselves, at their own priority, when the background falls far
    /// behind, so a starved background thread cannot let the heap or the disk grow without
    /// bound (see `docs/architecture.md`).
    pub background_nice: i32,
    /// On finding records that verify after a damaged one (mid-log corruption rather than a
    /// torn tail), discard the rest of the log instead of failing to open. Default false.
    pub repair: bool,
    /// Create the directory and a new store if none exists. Default true.
    pub create_if_missing: bool,
    /// Clock for expiry.
    pub clock: Clock,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::default(),
            segment_size: 128 << 20,
            max_inline_value: 32 << 20,
            memtable_max_entries: 200_000,
            checkpoint_log_bytes: 128 << 20,
            gc_dead_ratio: 0.5,
            background: true,
            background_nice: 0,
            repair: false,
            create_if_missing: true,
            clock: system_clock(),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("durability", &self.durability)
            .field("segment_size", &self.segment_size)
            .field("max_inline_value", &self.max_inline_value)
            .field("memtable_max_entries", &self.memtable_max_entries)
            .field("checkpoint_log_bytes", &self.checkpoint_log_bytes)
            .field("gc_dead_ratio", &self.gc_dead_ratio)
            .field("background", &self.background)
            .field("background_nice", &self.background_nice)
            .field("repair", &self.repair)
            .field("create_if_missing", &self.create_if_missing)
            .finish_non_exhaustive()
    }
}

/// Per-write options.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Overrides the store's durability for this write.
    pub durability: Option<Durability>,
}

/// When a conditional put applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// Always.
    #[default]
    Always,
    /// Only if the key is absent (or expired).
    IfAbsent,
    /// Only if the key is present.
    IfPresent,
    /// Only if the key's current version equals this (compare-and-swap). Version 0 means
    /// "absent".
    IfVersion(u64),
}

/// Expiry to set with a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// No expiry.
    #[default]
    Never,
    /// Expire at this absolute time, milliseconds since the Unix epoch.
    At(u64),
    /// Keep the expiry the key had (none if it was absent).
    Keep,
}

/// Options of [`crate::Store::put_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    /// When to apply.
    pub condition: Condition,
    /// Expiry of the new value.
    pub expiry: Expiry,
    /// Durability override.
    pub durability: Option<Durability>,
}
