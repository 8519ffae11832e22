//! The state of one client connection that commands read and change: selected database,
//! authentication, protocol, and what the connection must do after the current command.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::clients::ClientHandle;
use crate::pubsub::Mailbox;

/// Per-connection command state.
#[derive(Debug)]
pub struct Session {
    /// The registry's view of this client.
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: u8,
    /// True once `AUTH`/`HELLO AUTH` succeeded (or when no password is required).
    pub authenticated: bool,
    /// Close the connection once the replies so far are written (`QUIT`, `CLIENT KILL` of
    /// oneself).
    pub close: bool,
    /// A write ran since the last durability wait (for `appendfsync always`).
    pub wrote: bool,
    /// Set by a write command that knows which of its key arguments it changed (`DEL`:
    /// the keys that existed), for `WATCH`; otherwise all are taken as changed.
    pub changed_keys: Option<Vec<Bytes>>,
    /// Set by `MONITOR`: the connection switches to the monitor feed after this command.
    pub start_monitor: bool,
    /// Where published messages for this client are queued.
    pub mailbox: Mailbox,
    /// Channels subscribed to.
    pub channels: BTreeSet<Bytes>,
    /// Patterns subscribed to.
    pub patterns: BTreeSet<Bytes>,
    /// Commands queued by `MULTI` (`None`: not in a transaction).
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command could not be queued: the next `EXEC` fails with `EXECABORT`.
    pub multi_failed: bool,
    /// True while `EXEC` runs the queued commands (blocking commands do not block then).
    pub in_exec: bool,
    /// Watched keys: database, key, and the key's expiry when it was watched.
    pub watched: Vec<(u8, Bytes, Option<u64>)>,
    /// Set by the registry when a watched key changes.
    pub watch_flag: Arc<crate::watch::WatchFlag>,
    /// Set by a blocking command that found nothing to serve: the connection blocks.
    pub block: Option<crate::blocking::BlockRequest>,
    /// The arguments of the command that blocked (retried on the client's behalf). A handler
    /// that blocks may set them itself to have its retries run with rewritten arguments.
    pub blocked_args: Option<Vec<Bytes>>,
    /// Keys this client's commands made ready for blocked clients, served after the command
    /// (after `EXEC` for a transaction).
    pub ready_keys: Vec<(u8, Bytes)>,
    /// The settings the connection's hot path reads, cached (see [`ConnConfig`]).
    pub cfg: ConnConfig,
    /// The command looked up last (pipelines repeat commands).
    pub last_lookup: Option<(usize, &'static crate::cmd::Command)>,
    /// Statistics of the current batch, added to the server's counters once per batch (so
    /// that connections on different cores do not contend on shared counters per command).
    pub local: LocalStats,
}

/// Settings a connection reads on every batch, copied from the shared configuration and
/// refreshed only when its generation changes: reading the shared lock on every command would
/// make the connections on different cores contend for its cache line.
#[derive(Debug, Clone, Default)]
pub struct ConnConfig {
    /// `config_gen` this copy was taken at (`u64::MAX`: never).
    pub generation: u64,
    /// Idle timeout in seconds (0: none).
    pub timeout: u64,
    /// Largest bulk argument.
    pub max_bulk: i64,
    /// Largest unparsed query buffer.
    pub query_buffer_limit: u64,
    /// `appendfsync always`.
    pub fsync_always: bool,
    /// Slow-log threshold in microseconds (negative: off).
    pub slowlog_threshold: i64,
    /// Slow-log length.
    pub slowlog_max_len: u64,
}

impl ConnConfig {
    /// Refreshes the copy if the configuration changed since it was taken.
    pub fn refresh(&mut self, srv: &crate::shared::Shared) {
        let g = srv.config_gen.load(std::sync::atomic::Ordering::Acquire);
        if g == self.generation && self.max_bulk != 0 {
            return;
        }
        let c = srv.config.read();
        *self = ConnConfig {
            generation: g,
            timeout: c.timeout,
            max_bulk: c.proto_max_bulk_len.min(i64::MAX as u64) as i64,
            query_buffer_limit: c.client_query_buffer_limit,
            fsync_always: c.appendfsync == crate::config::AppendFsync::Always,
            slowlog_threshold: c.slowlog_log_slower_than,
            slowlog_max_len: c.slowlog_max_len,
        };
    }
}

/// Per-batch statistics of one connection.
#[derive(Debug, Default)]
pub struct LocalStats {
    /// `(command index, calls, microseconds, failed calls)` of the commands run.
    pub per_cmd: Vec<(usize, u64, u64, u64)>,
    /// Reads that found their key / did not.
    pub hits: u64,
    /// See `hits`.
    pub misses: u64,
    /// Error replies.
    pub errors: u64,
    /// Writes (for `rdb_changes_since_last_save`).
    pub writes: u64,
    /// Name of the last command run.
    pub last_cmd: Option<(&'static str, Option<bytes::Bytes>)>,
}

impl LocalStats {
    /// Records one call of command `idx`.
    pub fn call(&mut self, idx: usize, micros: u64, failed: bool) {
        match self.per_cmd.iter_mut().find(|e| e.0 == idx) {
            Some(e) => {
                e.1 += 1;
                e.2 += micros;
                e.3 += failed as u64;
            }
            None => self.per_cmd.push((idx, 1, micros, failed as u64)),
        }
    }
}

impl Session {
    /// A new session for a connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool, mailbox: Mailbox) -> Session {
        Session {
            handle,
            db: 0,
            authenticated,
            close: false,
            wrote: false,
            changed_keys: None,
            start_monitor: false,
            mailbox,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            multi: None,
            multi_failed: false,
            in_exec: false,
            watched: Vec::new(),
            watch_flag: Arc::default(),
            block: None,
            blocked_args: None,
            ready_keys: Vec::new(),
            local: LocalStats::default(),
            cfg: ConnConfig::default(),
            last_lookup: None,
        }
    }

    /// Number of channel and pattern subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The client id.
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// Selects database `db`.
    pub fn select(&mut self, db: u8) {
        self.db = db;
        self.handle.db.store(db, Ordering::Relaxed);
    }
}
