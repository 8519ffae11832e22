//! The engine's error type: one `#[non_exhaustive]` enum at the library boundary.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the engine was doing (names the file where there is one).
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Store` in this process) holds the directory lock.
    #[error("store directory {path} is locked by another process (or already open in this one)")]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// A file was written by a format version this build does not read.
    #[error("{path}: unsupported on-disk format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// Bytes on disk failed verification (checksum, bounds or structure).
    #[error("corruption in {path} at offset {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damaged structure within the file.
        offset: u64,
        /// What failed.
        reason: String,
    },
    /// A previous write or fsync failed; the store refuses further writes.
    #[error("store is poisoned and refuses writes after a failed write or fsync: {0}")]
    Poisoned(String),
    /// A key is longer than [`crate::MAX_KEY_LEN`].
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is larger than the inline limit; use the streaming blob writer.
    #[error(
        "value of {len} bytes exceeds the inline value limit of {max} bytes; use Store::blob_writer for large values"
    )]
    ValueTooLarge {
        /// The value's length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A write batch does not fit in one log segment.
    #[error("write batch of {len} bytes exceeds the limit of {max} bytes")]
    BatchTooLarge {
        /// The encoded batch length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The caller passed something the engine cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A typed (collection) operation was applied to a key holding another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] with a context string.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Builds an [`Error::Corruption`].
    pub fn corruption(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corruption { path: path.into(), offset, reason: reason.into() }
    }

    /// True for errors that mean bytes on disk are damaged.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
