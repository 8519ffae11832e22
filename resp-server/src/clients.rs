//! The registry of connected clients: what `CLIENT LIST`/`INFO`/`CLIENT KILL` see of every
//! connection, and the handle through which one connection can be told to close.
//!
//! Each connection owns its [`ClientHandle`] (an `Arc` shared with the registry) and updates
//! its fields with relaxed atomics as it works; nothing here is on a lock that a command in
//! another connection waits for, except the short registry map lock at connect, disconnect
//! and listing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What the rest of the server can see of, and do to, one connection.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing client id (`CLIENT ID`).
    pub id: u64,
    /// Peer address (`ip:port`, or the socket path for Unix sockets).
    pub addr: String,
    /// Local address the client connected to.
    pub laddr: String,
    /// File descriptor of the socket, -1 if unknown.
    pub fd: i64,
    /// When the connection was accepted.
    pub created: Instant,
    /// Milliseconds since `created` of the last command.
    pub last_active_ms: AtomicU64,
    /// Selected database.
    pub db: AtomicU8,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Name set with `CLIENT SETNAME` / `HELLO … SETNAME`.
    pub name: Mutex<Option<String>>,
    /// Lowercase name of the last command run (`cmd=` in `CLIENT LIST`).
    pub last_cmd: Mutex<String>,
    /// Bytes in the query buffer.
    pub qbuf: AtomicUsize,
    /// Bytes of output queued and not yet written.
    pub omem: AtomicUsize,
    /// Channel and pattern subscription counts.
    pub subs: AtomicUsize,
    /// See `subs`.
    pub psubs: AtomicUsize,
    /// True while in `MULTI`; the queued command count is in `multi_len`.
    pub in_multi: AtomicBool,
    /// Commands queued in `MULTI`.
    pub multi_len: AtomicUsize,
    /// True when the client is a `MONITOR`.
    pub monitor: AtomicBool,
    /// True while blocked in a blocking command.
    pub blocked: AtomicBool,
    /// Set when the client must be closed (`CLIENT KILL`, output limit, shutdown).
    killed: AtomicBool,
    /// Wakes the connection task so it sees `killed`.
    kill_notify: Notify,
    /// True for clients of the Unix socket.
    pub unix: bool,
}

impl ClientHandle {
    /// Asks the connection to close as soon as it can (it finishes nothing more).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_notify.notify_one();
    }

    /// True once [`ClientHandle::kill`] was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves when the client is killed.
    pub async fn killed(&self) {
        loop {
            let n = self.kill_notify.notified();
            if self.is_killed() {
                return;
            }
            n.await;
        }
    }

    /// Seconds since the connection was accepted.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Records activity now.
    pub fn touch(&self) {
        self.last_active_ms.store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The client's line in `CLIENT LIST` / `CLIENT INFO` (Redis 7.0's fields, in order).
    pub fn info_line(&self) -> String {
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if self.in_multi.load(Ordering::Relaxed) {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if self.subs.load(Ordering::Relaxed) + self.psubs.load(Ordering::Relaxed) > 0 {
            flags.push('P');
        }
        if self.unix {
            flags.push('U');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let multi =
            if self.in_multi.load(Ordering::Relaxed) { self.multi_len.load(Ordering::Relaxed) as i64 } else { -1 };
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let omem = self.omem.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} \
             qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r \
             cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.lock().as_deref().unwrap_or(""),
            self.age_secs(),
            self.idle_secs(),
            flags,
            self.db.load(Ordering::Relaxed),
            self.subs.load(Ordering::Relaxed),
            self.psubs.load(Ordering::Relaxed),
            multi,
            qbuf,
            qbuf.next_power_of_two().saturating_sub(qbuf),
            qbuf.max(1024),
            omem,
            qbuf + omem,
            self.last_cmd.lock(),
            self.resp.load(Ordering::Relaxed),
        )
    }
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    /// Connections accepted since start (`total_connections_received`).
    pub total_received: AtomicU64,
    /// Connections refused at `maxclients` (`rejected_connections`).
    pub rejected: AtomicU64,
}

impl Clients {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: String, laddr: String, fd: i64, unix: bool) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            db: AtomicU8::new(0),
            resp: AtomicU8::new(2),
            name: Mutex::new(None),
            last_cmd: Mutex::new("NULL".into()),
            qbuf: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            subs: AtomicUsize::new(0),
            psubs: AtomicUsize::new(0),
            in_multi: AtomicBool::new(false),
            multi_len: AtomicUsize::new(0),
            monitor: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            unix,
        });
        self.map.lock().insert(id, h.clone());
        self.total_received.fetch_add(1, Ordering::Relaxed);
        h
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn count(&self) -> usize {
        self.map.lock().len()
    }

    /// A snapshot of every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }

    /// The client with this id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.lock().get(&id).cloned()
    }

    /// Asks every client to close (shutdown).
    pub fn kill_all(&self) {
        for c in self.map.lock().values() {
            c.kill();
        }
    }
}
