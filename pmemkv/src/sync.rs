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
//! state; they are unparked once their record is durable (the durable LSN is an atomic,
//! raised under the state mutex), so a woken writer returns without touching the mutex. (A
//! condition variable would hand the woken writers the mutex one at a time: on a small
//! machine that chain of wake-ups took longer than the fsync, and the writers it delayed
//! missed the next round.) Three measures keep the time between two fsyncs short, which is
//! what bounds how many writers a round covers:
//! - a waiter registers either as covered by the round under way or as waiting for the next,
//!   and is woken only when its record is durable (once per commit);
//! - a leader whose round ends with writers waiting for the next round runs that round itself
//!   at once (up to [`MAX_ROUNDS_PER_LEADER`] rounds), rather than waking one of them to lead
//!   it;
//! - unparking costs several µs per thread on a VM: a leader that goes on unparks only
//!   [`WAKE_FAN_OUT`] writers and leaves the rest to them ([`Syncer::help_wake`]), so the
//!   wake-ups run alongside its next fsync.

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
    /// The LSN the round under way makes durable.
    round_target: Lsn,
    /// Writers parked until the round under way ends, whose records it covers.
    covered: Vec<std::thread::Thread>,
    /// Writers parked whose records the round under way does not cover: the next round's.
    next: Vec<std::thread::Thread>,
    /// Writers whose records are durable, still to be unparked (see [`Syncer::help_wake`]).
    to_wake: Vec<std::thread::Thread>,
    /// Segments rotated away from that may hold unsynced records.
    pending: Vec<Arc<Segment>>,
    active: Arc<Segment>,
}

/// Rounds a leader runs back to back (for writers that appended during its rounds) before it
/// hands leadership over and returns to its caller: bounds the latency leading adds to one
/// write.
const MAX_ROUNDS_PER_LEADER: u32 = 8;

/// Writers a woken writer (or the leader) unparks on the way (see [`Syncer::help_wake`]).
const WAKE_FAN_OUT: usize = 2;

/// The group-commit coordinator.
pub struct Syncer {
    state: Mutex<State>,
    /// The highest durable LSN. Raised only by a round's leader, under the state mutex;
    /// read without it (woken waiters check it first).
    durable: AtomicU64,
    written: AtomicU64,
    syncs: AtomicU64,
    /// `to_wake` is not empty (read without the state mutex).
    wake_pending: AtomicBool,
}

impl Syncer {
    /// A syncer whose log is durable up to `durable`, appending to `active`.
    pub fn new(active: Arc<Segment>, durable: Lsn) -> Syncer {
        Syncer {
            state: Mutex::new(State {
                syncing: false,
                round_target: durable,
                covered: Vec::new(),
                next: Vec::new(),
                to_wake: Vec::new(),
                pending: Vec::new(),
                active,
            }),
            durable: AtomicU64::new(durable),
            written: AtomicU64::new(durable),
            syncs: AtomicU64::new(0),
            wake_pending: AtomicBool::new(false),
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
                // A writer whose record the round under way covers is woken when it ends;
                // any other waits for the next round, which the leader runs at once for all
                // of them, so each waiter is woken once, when its record is durable.
                if lsn <= st.round_target {
                    st.covered.push(std::thread::current());
                } else {
                    st.next.push(std::thread::current());
                }
                drop(st);
                // The leader unparks every registered waiter once its round has ended (a
                // token left by an unpark that came first makes `park` return at once). A
                // covered writer returns without the mutex; any other wake-up, spurious or
                // not, goes round the loop again: it leads the next round or registers with
                // the one under way (a duplicate registration only costs a spurious wake).
                std::thread::park();
                self.help_wake();
                if self.durable() >= lsn {
                    return poison.check();
                }
                st = self.state.lock();
                continue;
            }
            // Lead rounds until this writer's record is durable and, for at most
            // MAX_ROUNDS_PER_LEADER rounds, while writers wait for a next round: the next
            // round starts without waiting for a parked writer to wake up and take it.
            // No commit delay: writers that append during an fsync are covered by the next
            // round. (A leader that waited up to 50 µs for more writers measured no better
            // with 16 writers on a 2-vCPU VM: the waiting leader competes for the CPU the
            // writers need. Waiting up to 100 µs for the writers the last round woke to
            // append again made rounds cover 8.8 writers instead of 7 but take 250 µs instead
            // of 150: 20% fewer commits per second.)
            st.syncing = true;
            let mut rounds = 0;
            loop {
                // The round covers every writer registered so far: each wrote its record
                // before registering, so `written` (read under this mutex) is at least its LSN.
                let target = self.written.load(Ordering::Acquire).max(lsn);
                st.round_target = target;
                let mut waiting = std::mem::take(&mut st.next);
                st.covered.append(&mut waiting);
                let mut segs = std::mem::take(&mut st.pending);
                segs.push(st.active.clone());
                let result = parking_lot::MutexGuard::unlocked(&mut st, || segs.iter().try_for_each(|s| s.sync()));
                self.syncs.fetch_add(1, Ordering::Relaxed);
                rounds += 1;
                let mut wake = std::mem::take(&mut st.covered);
                let go_on = match result {
                    Ok(()) => {
                        self.durable.fetch_max(target, Ordering::AcqRel);
                        !st.next.is_empty() && rounds < MAX_ROUNDS_PER_LEADER
                    }
                    Err(e) => {
                        poison.set(format!("fsync of the log failed: {e}"));
                        false
                    }
                };
                if go_on {
                    // Unparking costs several µs per thread on a VM: the leader wakes two and
                    // goes on to the next fsync; each woken writer wakes two more.
                    st.to_wake.append(&mut wake);
                    let n = st.to_wake.len();
                    wake = st.to_wake.split_off(n.saturating_sub(WAKE_FAN_OUT));
                    self.wake_pending.store(!st.to_wake.is_empty(), Ordering::Release);
                } else {
                    // The leader's last round: it wakes everyone left itself, including the
                    // waiters for a next round (to lead it or join it).
                    wake.append(&mut st.to_wake);
                    wake.append(&mut st.next);
                    self.wake_pending.store(false, Ordering::Release);
                    st.syncing = false;
                }
                drop(st);
                for t in wake {
                    t.unpark();
                }
                if !go_on {
                    break;
                }
                st = self.state.lock();
            }
            st = self.state.lock();
        }
    }

    /// Unparks up to [`WAKE_FAN_OUT`] writers of `to_wake`: every writer that returns from
    /// `park` does, so a round's wake-ups spread over the woken writers instead of delaying
    /// the leader's next fsync. (The leader's last round wakes whatever is left, so no writer
    /// depends on a helper that never comes.)
    fn help_wake(&self) {
        if !self.wake_pending.load(Ordering::Acquire) {
            return;
        }
        let wake = {
            let mut st = self.state.lock();
            let n = st.to_wake.len();
            let wake = st.to_wake.split_off(n.saturating_sub(WAKE_FAN_OUT));
            self.wake_pending.store(!st.to_wake.is_empty(), Ordering::Release);
            wake
        };
        for t in wake {
            t.unpark();
        }
    }

    /// Makes everything written so far durable.
    pub fn sync_all(&self, poison: &Poison) -> Result<()> {
        self.wait_durable(self.written(), poison)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Many writers, segment rotations under way: every waiter returns (no lost wake-up
    /// through leader hand-over or delegated unparking) and only once its LSN is durable.
    #[test]
    fn every_waiter_returns_once_durable() {
        const THREADS: usize = 24;
        const WRITES: usize = 200;
        const REC: u64 = 512;
        let dir = tempfile::tempdir().unwrap();
        let seg = |id| {
            let s = Segment::create(dir.path(), id, 1 << 20).unwrap();
            s.ensure_allocated(1 << 20).unwrap();
            Arc::new(s)
        };
        let first = seg(1);
        let syncer = Syncer::new(first.clone(), 0);
        let poison = Poison::default();
        // The writer: the active segment and the next write offset in it, as the store keeps
        // them under its write mutex. Each write dirties a page, so each fsync does real I/O
        // and writers pile up behind it.
        let writer = Mutex::new((first, 0u64));
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                let (syncer, poison, writer, tx, seg) = (&syncer, &poison, &writer, tx.clone(), &seg);
                s.spawn(move || {
                    for _ in 0..WRITES {
                        let at = {
                            let mut w = writer.lock();
                            if w.1 + REC > 1 << 20 {
                                let new = seg(w.0.id() + 1);
                                syncer.rotated(new.clone());
                                *w = (new, 0);
                            }
                            w.0.write_at(&[7u8; REC as usize], w.1).unwrap();
                            w.1 += REC;
                            let at = lsn(w.0.id(), w.1);
                            syncer.note_written(at);
                            at
                        };
                        syncer.wait_durable(at, poison).unwrap();
                        assert!(syncer.durable() >= at, "returned before its LSN was durable");
                    }
                    tx.send(()).unwrap();
                });
            }
            for _ in 0..THREADS {
                rx.recv_timeout(Duration::from_secs(120)).expect("a waiter never returned (lost wake-up?)");
            }
        });
        let rounds = syncer.sync_count();
        assert!(rounds >= 1 && rounds < (THREADS * WRITES) as u64, "{rounds} rounds");
        let st = syncer.state.lock();
        assert!(!st.syncing && st.covered.is_empty() && st.next.is_empty() && st.to_wake.is_empty());
    }
}
