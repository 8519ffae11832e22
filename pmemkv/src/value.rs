//! Zero-copy value handles.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

use crate::blob::BlobFile;
use crate::segment::Segment;

/// A value returned by a read: derefs to its bytes.
///
/// For values stored in the log or in a blob file the bytes are read straight from the
/// mapping (zero-copy) and were verified against their checksum when the handle was made.
/// The handle keeps the mapping alive: compaction may unlink the file, but the bytes stay
/// valid and unchanged until the last handle is dropped.
#[derive(Clone)]
pub struct ValueRef {
    source: Source,
    range: Range<usize>,
}

#[derive(Clone)]
enum Source {
    Segment(Arc<Segment>),
    Blob(Arc<BlobFile>),
    Owned(Arc<[u8]>),
}

impl ValueRef {
    pub(crate) fn segment(seg: Arc<Segment>, range: Range<usize>) -> ValueRef {
        ValueRef { source: Source::Segment(seg), range }
    }

    pub(crate) fn blob(blob: Arc<BlobFile>) -> ValueRef {
        let len = blob.len() as usize;
        ValueRef { source: Source::Blob(blob), range: 0..len }
    }

    /// A handle owning a copy of `bytes` (used for values not yet written, e.g. inside a
    /// transaction).
    pub fn owned(bytes: &[u8]) -> ValueRef {
        ValueRef { source: Source::Owned(Arc::from(bytes)), range: 0..bytes.len() }
    }

    /// A handle onto `range` of this value (panics if out of range, like slicing).
    pub fn slice(&self, range: Range<usize>) -> ValueRef {
        assert!(range.start <= range.end && range.end <= self.len(), "ValueRef::slice out of range");
        let start = self.range.start + range.start;
        ValueRef { source: self.source.clone(), range: start..start + range.len() }
    }

    /// True if the bytes are read from a mapping rather than copied.
    pub fn is_mapped(&self) -> bool {
        !matches!(self.source, Source::Owned(_))
    }
}

/// A value handed to the callback of [`Store::get_with_ref`](crate::Store::get_with_ref):
/// borrowed for the call when short, a [`ValueRef`] (which may be kept, e.g. to write it to a
/// socket straight from the mapping) when long. Derefs to the bytes either way.
#[derive(Debug)]
pub enum ReadValue<'a> {
    /// Bytes valid for the duration of the callback.
    Slice(&'a [u8]),
    /// A counted handle onto the bytes.
    Ref(ValueRef),
}

impl ReadValue<'_> {
    /// This value without its first `n` bytes (panics if shorter, like slicing).
    pub fn skip(self, n: usize) -> Self {
        match self {
            ReadValue::Slice(s) => ReadValue::Slice(&s[n..]),
            ReadValue::Ref(r) => ReadValue::Ref(r.slice(n..r.len())),
        }
    }
}

impl Deref for ReadValue<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ReadValue::Slice(s) => s,
            ReadValue::Ref(r) => r,
        }
    }
}

impl Deref for ValueRef {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.source {
            Source::Segment(s) => &s.bytes()[self.range.clone()],
            Source::Blob(b) => &b.data_unverified()[self.range.clone()],
            Source::Owned(o) => &o[self.range.clone()],
        }
    }
}

impl AsRef<[u8]> for ValueRef {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq<[u8]> for ValueRef {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<&[u8]> for ValueRef {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}

impl fmt::Debug for ValueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b: &[u8] = self;
        if b.len() <= 64 {
            write!(f, "ValueRef({:?})", String::from_utf8_lossy(b))
        } else {
            write!(f, "ValueRef({} bytes)", b.len())
        }
    }
}
