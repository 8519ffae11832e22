//! Blocking commands (`BLPOP`, `BRPOP`, `BLMOVE`, `BZPOPMIN`, `XREAD BLOCK`, …): clients
//! waiting on keys, served in the order they blocked.
//!
//! A blocking command first tries to serve itself. If it cannot, its handler asks the
//! connection to block ([`BlockRequest`]): the connection registers a [`Waiter`] on each key
//! and waits for a reply, its timeout, a kill, or its socket closing (a client that
//! disconnects while blocked leaves no trace).
//!
//! A command that may make a key ready (a push, an add) signals it
//! ([`crate::cmd::Ctx::signal_ready`]). After that command — after the whole `EXEC` for a
//! transaction, so a push inside `MULTI` wakes nobody before `EXEC` — the connection serves the
//! ready keys as Redis does: for each key, the waiters in the order they blocked each try their
//! command again *on their own behalf*, in the signalling connection's context (a retry can
//! ask which key woke it, [`ready_key`], to serve itself from that key); a served waiter
//! gets its reply (encoded in its protocol) through a channel and is unregistered from all its
//! keys. Serving may make other keys ready (`BLMOVE` pushes to its destination), which are
//! served in turn.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::error::CmdError;
use crate::protocol::reply::{Protocol, Reply};
use crate::shared::Shared;

thread_local! {
    /// The key whose readiness the serving loop is acting on (see [`ready_key`]).
    static READY_KEY: std::cell::RefCell<Option<(u8, Bytes)>> = const { std::cell::RefCell::new(None) };
}

/// While a waiter's [`ServeFn`] runs: the (database, key) whose readiness woke it, so that a
/// command waiting on several keys serves itself from that key, as Redis does (not from
/// whichever of its keys comes first). `None` outside a retry.
pub fn ready_key() -> Option<(u8, Bytes)> {
    READY_KEY.with(|k| k.borrow().clone())
}

/// What a waiter's retry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// It ran and wrote its reply.
    Yes,
    /// Nothing for it yet: it keeps waiting (its reply buffer is discarded).
    No,
}

impl Served {
    /// `Yes` if `served`.
    pub fn when(served: bool) -> Served {
        if served {
            Served::Yes
        } else {
            Served::No
        }
    }
}

/// Retries a blocked command on behalf of its client: `(server, db, args, reply, ready keys
/// out)`. On [`Served::Yes`] the reply is complete; keys the retry made ready go in the last
/// argument.
pub type ServeFn = fn(&Shared, u8, &[Bytes], &mut Reply, &mut Vec<(u8, Bytes)>) -> Result<Served, CmdError>;

/// What a handler asks for when it must block.
#[derive(Clone)]
pub struct BlockRequest {
    /// The keys to wait on.
    pub keys: Vec<Bytes>,
    /// How long to wait (`None`: forever).
    pub timeout: Option<Duration>,
    /// Retries the command.
    pub serve: ServeFn,
    /// Writes the reply for a timeout (a null array or a null bulk string, per command).
    pub on_timeout: fn(&mut Reply),
}

impl std::fmt::Debug for BlockRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockRequest").field("keys", &self.keys).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// A waiter's state: the serving loop and the waiting connection agree through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Done,
}

/// A client blocked on keys.
pub struct Waiter {
    /// The blocked client.
    pub client_id: u64,
    db: u8,
    proto: Protocol,
    args: Vec<Bytes>,
    keys: Vec<Bytes>,
    serve: ServeFn,
    /// Held while a retry runs, so a timeout cannot race a serve.
    state: Mutex<(State, Option<oneshot::Sender<Bytes>>)>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter").field("client_id", &self.client_id).field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// The waiters of each (database, key), in the order they blocked.
type WaitQueues = HashMap<(u8, Bytes), VecDeque<Arc<Waiter>>>;

/// The blocked clients of the server.
#[derive(Debug, Default)]
pub struct Blocking {
    map: Mutex<WaitQueues>,
    clients: AtomicUsize,
}

impl Blocking {
    /// True if any client is blocked (commands only collect ready keys then).
    pub fn any(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    /// Number of blocked clients (`INFO blocked_clients`).
    pub fn count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Registers client `client_id` (speaking `proto`, in database `db`) as waiting to retry
    /// `args`; returns the waiter and the channel its reply arrives on.
    pub fn block(
        &self,
        client_id: u64,
        db: u8,
        proto: Protocol,
        args: Vec<Bytes>,
        req: &BlockRequest,
    ) -> (Arc<Waiter>, oneshot::Receiver<Bytes>) {
        let (tx, rx) = oneshot::channel();
        let w = Arc::new(Waiter {
            client_id,
            db,
            proto,
            args,
            keys: req.keys.clone(),
            serve: req.serve,
            state: Mutex::new((State::Waiting, Some(tx))),
        });
        let mut map = self.map.lock();
        for k in &req.keys {
            let q = map.entry((db, k.clone())).or_default();
            if !q.iter().any(|x| Arc::ptr_eq(x, &w)) {
                q.push_back(w.clone());
            }
        }
        self.clients.fetch_add(1, Ordering::Relaxed);
        (w, rx)
    }

    fn unregister(&self, w: &Arc<Waiter>) {
        let mut map = self.map.lock();
        for k in &w.keys {
            let key = (w.db, k.clone());
            if let Some(q) = map.get_mut(&key) {
                q.retain(|x| !Arc::ptr_eq(x, w));
                if q.is_empty() {
                    map.remove(&key);
                }
            }
        }
        self.clients.fetch_sub(1, Ordering::Relaxed);
    }

    /// Gives up waiting (timeout, disconnect, kill, shutdown). Returns false if the waiter was
    /// served meanwhile: its reply is then in its channel.
    pub fn cancel(&self, w: &Arc<Waiter>) -> bool {
        let mut st = w.state.lock();
        if st.0 != State::Waiting {
            return false;
        }
        st.0 = State::Done;
        st.1 = None;
        drop(st);
        self.unregister(w);
        true
    }

    /// Serves the waiters of `ready` keys (and of keys their retries make ready), each key's
    /// waiters in the order they blocked.
    pub fn serve_ready(&self, srv: &Shared, ready: Vec<(u8, Bytes)>) {
        let mut queue: VecDeque<(u8, Bytes)> = ready.into();
        let mut seen = 0usize;
        while let Some(key) = queue.pop_front() {
            seen += 1;
            if seen > 100_000 {
                tracing::warn!("stopping a runaway chain of blocked-client wake-ups");
                return;
            }
            let waiters: Vec<Arc<Waiter>> = match self.map.lock().get(&key) {
                Some(q) => q.iter().cloned().collect(),
                None => continue,
            };
            for w in waiters {
                let mut st = w.state.lock();
                if st.0 != State::Waiting {
                    continue;
                }
                let mut reply = Reply::with_capacity(w.proto, 0);
                let mut more = Vec::new();
                READY_KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
                let result = (w.serve)(srv, w.db, &w.args, &mut reply, &mut more);
                READY_KEY.with(|k| *k.borrow_mut() = None);
                match result {
                    Ok(Served::No) => continue,
                    Ok(Served::Yes) => {}
                    Err(e) => {
                        reply.clear();
                        reply.error(&e.0);
                    }
                }
                st.0 = State::Done;
                if let Some(tx) = st.1.take() {
                    let _ = tx.send(reply.take_bytes());
                }
                drop(st);
                self.unregister(&w);
                queue.extend(more);
            }
        }
    }
}
