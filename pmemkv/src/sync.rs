//! Group commit: many writers waiting for durability share one fsync.
//!
//! Writers append records to the log under the store's write mutex, then (outside it) wait
//! here for the log position (LSN) they wrote to become durable. The first waiter becomes the
//! leader: it takes the highest written LSN, fsyncs every segment that may hold unsynced
//! records, publishes the new durable LSN and wakes everyone whose record it covered. Writers
//! that arrive during the fsync wait for the next round, which the next leader runs for all of
//! them at once. A failed fsync poisons the store: its data may be lost, and a retried fsync
//! can falsely succeed, so every later write is refused.
//!
//! Waiting writers park their own thread (`std::thread::park`) after registering in the
//! state; the leader unparks each of them after publishing the durable LSN (an atomic,
//! raised under the state mutex). A woken writer whose record is covered returns without touching the
//! state mutex. (A condition variable would hand the woken writers the mutex one at a time: on
//! a small machine that chain of wake-ups took longer than the fsync, and the writers it
//! delayed missed the next round.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::segment::Segment;

/// A log sequence number: `segment id << 32 | byte offset`; increases along the log.
pub type Lsn = u64;

/// Makes an LSN.
pub fn lsn(segment: u32, offset: u64) -> Lsn {
    (segment as u64) << 32 | offset
}

/// Splits an LSN.
pub fn lsn_parts(lsn: Lsn) -> (u32, u64) {
    ((lsn >> 32) as u32, lsn & 0xffff_ffff)
}

/// The poison flag shared by the writer and the syncer.
#[derive(Debug, Default)]
pub struct Poison {
    set: AtomicBool,
    why: Mutex<String>,
}

impl Poison {
    /// Marks the store poisoned with the reason.
    pub fn set(&self, why: String) {
        tracing::error!(%why, "store poisoned; refusing further writes");
        let mut w = self.why.lock();
        if !self.set.load(Ordering::Acquire) {
            *w = why;
            self.set.store(true, Ordering::Release);
        }
    }

    /// Fails if poisoned.
    pub fn check(&self) -> Result<()> {
        if self.set.load(Ordering::Acquire) {
            return Err(Error::Poisoned(self.why.lock().clone()));
        }
        Ok(())
    }
}

struct State {
    syncing: bool,
    /// Writers parked until the round under way ends.
    waiters: Vec<std::thread::Thread>,
    /// Segments rotated away from that may hold unsynced records.
    pending: Vec<Arc<Segment>>,
    active: Arc<Segment>,
}

/// The group-commit coordinator.
pub struct Syncer {
    state: Mutex<State>,
    /// The highest durable LSN. Raised only by a round's leader, under the state mutex;
    /// read without it (woken waiters check it first).
    durable: AtomicU64,
    written: AtomicU64,
    syncs: AtomicU64,
}

impl Syncer {
    /// A syncer whose log is durable up to `durable`, appending to `active`.
    pub fn new(active: Arc<Segment>, durable: Lsn) -> Syncer {
        Syncer {
            state: Mutex::new(State { syncing: false, waiters: Vec::new(), pending: Vec::new(), active }),
            durable: AtomicU64::new(durable),
            written: AtomicU64::new(durable),
            syncs: AtomicU64::new(0),
        }
    }

    /// Records that the log is written (to the page cache) up to `lsn`.
    pub fn note_written(&self, lsn: Lsn) {
        self.written.fetch_max(lsn, Ordering::AcqRel);
    }

    /// The highest written LSN.
    pub fn written(&self) -> Lsn {
        self.written.load(Ordering::Acquire)
    }

    /// The highest durable LSN.
    pub fn durable(&self) -> Lsn {
        self.durable.load(Ordering::Acquire)
    }

    /// Number of fsync rounds run so far.
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Registers a segment rotation: `old` may still hold unsynced records.
    pub fn rotated(&self, new_active: Arc<Segment>) {
        let mut st = self.state.lock();
        let old = std::mem::replace(&mut st.active, new_active);
        st.pending.push(old);
    }

    /// Returns once the log is durable up to `lsn`, running or joining an fsync round.
    pub fn wait_durable(&self, lsn: Lsn, poison: &Poison) -> Result<()> {
        poison.check()?;
        if self.durable() >= lsn {
            return Ok(());
        }
        let mut st = self.state.lock();
        loop {
            poison.check()?;
            if self.durable() >= lsn {
                return Ok(());
            }
            if st.syncing {
                st.waiters.push(std::thread::current());
                drop(st);
                // The leader unparks every registered waiter once its round has ended (a
                // token left by an unpark that came first makes `park` return at once). A
                // covered writer returns without the mutex; any other wake-up, spurious or
                // not, goes round the loop again: it leads the next round or registers with
                // the one under way (a duplicate registration only costs a spurious wake).
                std::thread::park();
                if self.durable() >= lsn {
                    return poison.check();
                }
                st = self.state.lock();
                continue;
            }
            st.syncing = true;
            // No commit delay: writers that append during this fsync are covered by the next
            // round, which starts as soon as this one ends. (A leader that waited up to 50 µs
            // for more writers measured no better with 16 writers on a 2-vCPU VM and cost
            // throughput: the waiting leader competes for the CPU the writers need.)
            let target = self.written.load(Ordering::Acquire).max(lsn);
            let mut segs = std::mem::take(&mut st.pending);
            segs.push(st.active.clone());
            let result = parking_lot::MutexGuard::unlocked(&mut st, || segs.iter().try_for_each(|s| s.sync()));
            st.syncing = false;
            self.syncs.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(()) => {
                    self.durable.fetch_max(target, Ordering::AcqRel);
                }
                Err(e) => poison.set(format!("fsync of the log failed: {e}")),
            }
            let waiters = std::mem::take(&mut st.waiters);
            drop(st);
            // Covered writers return; the others compete to lead the next round.
            for t in waiters {
                t.unpark();
            }
            st = self.state.lock();
        }
    }

    /// Makes everything written so far durable.
    pub fn sync_all(&self, poison: &Poison) -> Result<()> {
        self.wait_durable(self.written(), poison)
    }
}
