//! Atomic groups: many reads and writes by one thread, committed as one log record.
//!
//! [`crate::Store::atomic`] holds the writer lock for the whole group (other writers wait,
//! readers do not) and marks the store as "in a group owned by this thread". While it is, every
//! write entry point of the store called from that thread (`update`, `put_with`, `write`,
//! `delete`, `expire`) adds its writes to the group's pending set instead of committing, and
//! every read entry point (`get`, `meta`, `exists`, `iter_range`, …) sees the pending writes.
//! When the group's closure returns `Ok`, the pending set is committed as one record: after a
//! crash either all of the group's writes are present or none. On `Err` they are discarded.
//!
//! This is what makes a Redis `MULTI`/`EXEC` atomic without the collection layer knowing about
//! it: each queued command runs its ordinary transaction, which joins the group. A transaction
//! that fails inside a group rolls back only its own writes (an undo log), as a failing command
//! inside `EXEC` leaves the others applied.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::store::Pending;

/// The writes of an open group.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    /// Pending writes by key.
    pub pending: BTreeMap<Vec<u8>, Pending>,
    /// The version the group's writes will get.
    pub version: u64,
    /// `(log_bytes, log_dead_bytes, next_seq)` when the group opened (for `Store::stats`,
    /// which cannot take the writer lock the group holds).
    pub log_stats: (u64, u64, u64),
    /// Blob files staged by the group's transactions (deleted if not referenced at the end).
    pub staged: Vec<crate::blob_ids::BlobTicket>,
}

/// The store's group slot: at most one group is open at a time (it holds the writer lock).
#[derive(Debug, Default)]
pub(crate) struct GroupSlot {
    /// Token of the thread that owns the open group (0: none).
    owner: AtomicU64,
    /// The group's state; `None` while an inner transaction has taken it out.
    state: Mutex<Option<GroupState>>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// A nonzero number unique to the calling thread.
fn thread_token() -> u64 {
    TOKEN.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

impl GroupSlot {
    /// True if the calling thread owns an open group.
    pub fn here(&self) -> bool {
        let o = self.owner.load(Ordering::Acquire);
        o != 0 && o == thread_token()
    }

    /// Opens a group owned by the calling thread (the caller holds the writer lock).
    pub fn open(&self, state: GroupState) {
        *self.state.lock() = Some(state);
        self.owner.store(thread_token(), Ordering::Release);
    }

    /// Closes the group and returns its state.
    pub fn close(&self) -> GroupState {
        self.owner.store(0, Ordering::Release);
        self.state.lock().take().unwrap_or_default()
    }

    /// Takes the state out for an inner transaction; `None` if one already has it (a read or
    /// write from inside an inner transaction's closure, which then goes to the store as if
    /// there were no group).
    pub fn take(&self) -> Option<GroupState> {
        self.state.lock().take()
    }

    /// Puts the state back after [`GroupSlot::take`].
    pub fn put_back(&self, state: GroupState) {
        *self.state.lock() = Some(state);
    }

    /// The log statistics recorded when the group opened.
    pub fn log_stats(&self) -> Option<(u64, u64, u64)> {
        self.state.lock().as_ref().map(|s| s.log_stats)
    }
}

/// Closes the group when dropped, so a panic inside a group's closure does not leave the
/// store believing the thread is still in a group.
pub(crate) struct CloseOnDrop<'a>(pub &'a GroupSlot);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        if self.0.here() {
            self.0.close();
        }
    }
}
