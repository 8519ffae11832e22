//! Blob id allocation and the set of blobs written but not yet committed.
//!
//! A blob file is written before the log record that points a key at it, and without the
//! writer lock (a blob can be staged from inside a transaction). A checkpoint that falls
//! between the two records a `next_blob_id` past the blob's id, so after a crash before the
//! commit, "ids at or above `next_blob_id` that the replayed tail does not reference" no
//! longer finds the orphan. The checkpoint therefore also records the ids that were
//! allocated but not committed at its snapshot ([`BlobIds::snapshot`]); recovery deletes
//! those the replayed tail does not reference.
//!
//! The invariant that makes this safe: an id leaves the set *in the same hold of the writer
//! lock as the commit that references it* ([`BlobTicket::committed`]). A checkpoint takes its
//! snapshot under the writer lock, so for every id, either the commit is in the checkpoint
//! and the id is not in its set, or the id is in its set and the commit (if it ever happens)
//! is in the log after the checkpoint, where recovery sees the reference.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

/// The next blob id and the ids allocated but neither committed nor deleted.
#[derive(Debug)]
pub(crate) struct BlobIds {
    state: Mutex<(u64, BTreeSet<u64>)>,
}

impl BlobIds {
    /// Starts allocating at `next` with nothing outstanding.
    pub fn new(next: u64) -> Arc<BlobIds> {
        Arc::new(BlobIds { state: Mutex::new((next, BTreeSet::new())) })
    }

    /// Allocates an id for a new blob file at `dir/blob_file_name(id)`; dropping the ticket
    /// deletes the file and forgets the id unless it was committed.
    pub fn allocate(self: &Arc<Self>, dir: &std::path::Path) -> BlobTicket {
        let mut s = self.state.lock();
        let id = s.0;
        s.0 += 1;
        s.1.insert(id);
        drop(s);
        BlobTicket { ids: Some(self.clone()), id, path: dir.join(crate::blob::blob_file_name(id)) }
    }

    /// The next id and the outstanding ids, read together (for a checkpoint, which calls this
    /// under the writer lock).
    pub fn snapshot(&self) -> (u64, Vec<u64>) {
        let s = self.state.lock();
        (s.0, s.1.iter().copied().collect())
    }

    /// Number of outstanding ids.
    #[cfg(test)]
    pub fn outstanding(&self) -> usize {
        self.state.lock().1.len()
    }

    fn forget(&self, id: u64) {
        self.state.lock().1.remove(&id);
    }
}

/// An allocated blob id, outstanding until [`BlobTicket::committed`] or drop.
#[derive(Debug)]
pub(crate) struct BlobTicket {
    ids: Option<Arc<BlobIds>>,
    id: u64,
    path: PathBuf,
}

impl BlobTicket {
    /// The blob id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The log now references the blob: it is no longer outstanding. Call this under the
    /// writer lock, in the same hold as the commit (see the module documentation).
    pub fn committed(mut self) {
        if let Some(ids) = self.ids.take() {
            ids.forget(self.id);
        }
    }

    /// Neither deletes the file nor forgets the id, leaving it to recovery, which keeps or
    /// deletes it by what the log holds (for a failed log write whose record may be on disk
    /// anyway). Recovery finds it: its id is in the last checkpoint's outstanding set or at
    /// or above that checkpoint's next id.
    pub fn leave_to_recovery(mut self) {
        self.ids = None;
    }
}

impl Drop for BlobTicket {
    /// Not committed: delete the file (if any), then forget the id. If the file cannot be
    /// deleted the id stays outstanding, so the next checkpoint records it and recovery
    /// deletes the file.
    fn drop(&mut self) {
        let Some(ids) = self.ids.take() else { return };
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not delete an uncommitted blob")
            }
            _ => ids.forget(self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_leave_the_set_on_commit_or_drop() {
        let dir = tempfile::tempdir().unwrap();
        let ids = BlobIds::new(5);
        let a = ids.allocate(dir.path());
        let b = ids.allocate(dir.path());
        std::fs::write(dir.path().join(crate::blob::blob_file_name(b.id())), b"x").unwrap();
        assert_eq!((a.id(), b.id()), (5, 6));
        assert_eq!(ids.snapshot(), (7, vec![5, 6]));
        a.committed();
        assert_eq!(ids.snapshot(), (7, vec![6]));
        drop(b);
        assert_eq!(ids.outstanding(), 0);
        assert!(!dir.path().join(crate::blob::blob_file_name(6)).exists(), "an uncommitted blob's file is deleted");
    }
}
