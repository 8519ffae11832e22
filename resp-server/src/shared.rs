//! Server-wide state every connection shares: the store, the configuration, the client
//! registry, statistics, the slow log, `MONITOR` feeds and the shutdown signal.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use pmemkv::{Collections, Store};
use tokio::sync::{broadcast, watch};

use crate::clients::Clients;
use crate::config::Config;
use crate::keyspace::Cursors;

/// How a shutdown was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Checkpoint the store before exiting (`SHUTDOWN`, `SHUTDOWN SAVE`, SIGTERM, SIGINT).
    Save,
    /// Exit without a final checkpoint (`SHUTDOWN NOSAVE`); nothing acknowledged is lost
    /// either way, the next start just replays a longer log tail.
    NoSave,
}

/// Counters of one command (`INFO commandstats`).
#[derive(Debug, Default)]
pub struct CmdStat {
    /// Calls that ran.
    pub calls: AtomicU64,
    /// Total microseconds spent in them.
    pub usec: AtomicU64,
    /// Calls refused before running (arity, auth, …).
    pub rejected: AtomicU64,
    /// Calls that ran and replied with an error.
    pub failed: AtomicU64,
}

/// Server statistics (`INFO stats`).
#[derive(Debug)]
pub struct Stats {
    /// Commands processed.
    pub commands: AtomicU64,
    /// Bytes read from clients.
    pub net_input: AtomicU64,
    /// Bytes written to clients.
    pub net_output: AtomicU64,
    /// Reads that found their key.
    pub keyspace_hits: AtomicU64,
    /// Reads that did not.
    pub keyspace_misses: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
    /// Per command, indexed like [`crate::cmd::all`].
    pub per_cmd: Vec<CmdStat>,
    /// Recent `(time, commands)` samples for `instantaneous_ops_per_sec`.
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            commands: AtomicU64::new(0),
            net_input: AtomicU64::new(0),
            net_output: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            per_cmd: (0..crate::cmd::count()).map(|_| CmdStat::default()).collect(),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes a sample of the command counter (called every 100 ms by the server).
    pub fn sample(&self) {
        let mut s = self.samples.lock();
        s.push_back((Instant::now(), self.commands.load(Ordering::Relaxed)));
        while s.len() > 16 {
            s.pop_front();
        }
    }

    /// Commands per second over the last ~1.6 s of samples.
    pub fn ops_per_sec(&self) -> u64 {
        let s = self.samples.lock();
        match (s.front(), s.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => ((b.1 - a.1) as f64 / (b.0 - a.0).as_secs_f64()) as u64,
            _ => 0,
        }
    }

    /// Adds a connection's batch statistics to the server's counters.
    pub fn absorb(&self, local: &mut crate::session::LocalStats) {
        let mut total = 0;
        for &(idx, calls, usec, failed) in &local.per_cmd {
            let s = &self.per_cmd[idx];
            s.calls.fetch_add(calls, Ordering::Relaxed);
            s.usec.fetch_add(usec, Ordering::Relaxed);
            if failed > 0 {
                s.failed.fetch_add(failed, Ordering::Relaxed);
            }
            total += calls;
        }
        local.per_cmd.clear();
        if total > 0 {
            self.commands.fetch_add(total, Ordering::Relaxed);
        }
        for (n, a) in [
            (&mut local.hits, &self.keyspace_hits),
            (&mut local.misses, &self.keyspace_misses),
            (&mut local.errors, &self.error_replies),
        ] {
            if *n > 0 {
                a.fetch_add(std::mem::take(n), Ordering::Relaxed);
            }
        }
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset(&self) {
        for a in [&self.commands, &self.net_input, &self.net_output, &self.keyspace_hits, &self.keyspace_misses] {
            a.store(0, Ordering::Relaxed);
        }
        self.error_replies.store(0, Ordering::Relaxed);
        for c in &self.per_cmd {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Ordering::Relaxed);
            }
        }
        self.samples.lock().clear();
    }
}

/// One slow-log entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time (seconds) the command started.
    pub time: u64,
    /// Duration in microseconds.
    pub micros: u64,
    /// Arguments (at most 32, each at most 128 bytes, like Redis).
    pub args: Vec<Vec<u8>>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: String,
}

/// The slow log.
#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    pub entries: VecDeque<SlowEntry>,
    /// Id of the next entry.
    pub next_id: u64,
}

/// Server-wide state.
pub struct Shared {
    /// The engine.
    pub store: Arc<Store>,
    /// Typed collections on it.
    pub colls: Collections,
    /// Live configuration. Change it only through [`Shared::update_config`], which bumps
    /// `config_gen` so connections refresh their cached copy.
    pub config: RwLock<Config>,
    /// Bumped at every configuration change.
    pub config_gen: AtomicU64,
    /// Connected clients.
    pub clients: Clients,
    /// Statistics.
    pub stats: Stats,
    /// Numeric scan cursors.
    pub cursors: Cursors,
    /// The slow log.
    pub slowlog: Mutex<SlowLog>,
    /// `MONITOR` feed (formatted lines); `monitors` counts the listeners.
    pub monitor_tx: broadcast::Sender<Arc<str>>,
    /// Number of `MONITOR` clients (the feed is only formatted while there is one).
    pub monitors: AtomicUsize,
    /// When the server started.
    pub started: Instant,
    /// Unix time (seconds) at start.
    pub started_unix: u64,
    /// Random 40-hex-digit id of this run.
    pub run_id: String,
    /// Set to ask the server to shut down.
    pub shutdown: watch::Sender<Option<ShutdownMode>>,
    /// Unix time (seconds) of the last successful checkpoint (`LASTSAVE`).
    pub last_save: AtomicU64,
    /// Writes since the last checkpoint (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    /// Pub/sub subscriptions.
    pub pubsub: crate::pubsub::PubSub,
    /// Watched keys (`WATCH`).
    pub watches: crate::watch::Watches,
    /// Clients blocked on keys.
    pub blocking: crate::blocking::Blocking,
    /// The TCP port actually listened on (for `INFO`, when started on port 0).
    pub tcp_port: AtomicU16,
}

impl Shared {
    /// Server state around an opened store.
    pub fn new(store: Arc<Store>, config: Config) -> Shared {
        let colls = Collections::new(store.clone());
        let (monitor_tx, _) = broadcast::channel(16 * 1024);
        let (shutdown, _) = watch::channel(None);
        let now_unix = unix_secs();
        let port = config.port;
        let pubsub = crate::pubsub::PubSub::new(config.output_pubsub);
        Shared {
            pubsub,
            watches: crate::watch::Watches::default(),
            blocking: crate::blocking::Blocking::default(),
            store,
            colls,
            config: RwLock::new(config),
            config_gen: AtomicU64::new(0),
            clients: Clients::default(),
            stats: Stats::new(),
            cursors: Cursors::default(),
            slowlog: Mutex::new(SlowLog::default()),
            monitor_tx,
            monitors: AtomicUsize::new(0),
            started: Instant::now(),
            started_unix: now_unix,
            run_id: random_hex(40),
            shutdown,
            last_save: AtomicU64::new(now_unix),
            dirty: AtomicU64::new(0),
            tcp_port: AtomicU16::new(port),
        }
    }

    /// Replaces the configuration and tells connections to refresh their cached settings.
    pub fn update_config(&self, f: impl FnOnce(&mut Config)) {
        let mut c = self.config.write();
        let before = c.appendfsync;
        f(&mut c);
        if c.appendfsync != before {
            // Leaving a mode that fsyncs (always, everysec) for one that does not: what was
            // acknowledged under the old mode is made durable first.
            if c.appendfsync.engine_durability() == pmemkv::Durability::Never {
                if let Err(e) = self.store.sync() {
                    tracing::error!(error = %e, "fsync before switching appendfsync failed");
                }
            }
            self.store.set_durability(c.appendfsync.engine_durability());
            tracing::info!(appendfsync = c.appendfsync.as_str(), "appendfsync changed");
        }
        self.config_gen.fetch_add(1, Ordering::Release);
    }

    /// The current time in ms since the Unix epoch, from the store's clock (expiry uses it).
    pub fn now_ms(&self) -> u64 {
        (self.store.options().clock)()
    }

    /// Asks the server to shut down.
    pub fn request_shutdown(&self, mode: ShutdownMode) {
        self.shutdown.send_replace(Some(mode));
    }

    /// Runs a checkpoint (`SAVE`, `BGSAVE`, shutdown) and records it for `LASTSAVE`.
    pub fn checkpoint(&self) -> pmemkv::Result<()> {
        self.store.sync()?;
        self.store.checkpoint()?;
        self.last_save.store(unix_secs(), Ordering::Relaxed);
        self.dirty.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Adds an entry to the slow log if `micros` is over the threshold.
    ///
    /// Reads the configuration; the connection's batch loop checks the threshold itself
    /// and calls [`Shared::add_slowlog`].
    pub fn maybe_slowlog(&self, args: &[bytes::Bytes], micros: u64, addr: &str, name: Option<String>) {
        let (threshold, max_len) = {
            let c = self.config.read();
            (c.slowlog_log_slower_than, c.slowlog_max_len)
        };
        if threshold < 0 || (micros as i64) < threshold {
            return;
        }
        self.add_slowlog(args, micros, addr, name, max_len);
    }

    /// Adds a slow-log entry (the caller checked the threshold).
    pub fn add_slowlog(&self, args: &[bytes::Bytes], micros: u64, addr: &str, name: Option<String>, max_len: u64) {
        let mut shown: Vec<Vec<u8>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == 31 && args.len() > 32 {
                shown.push(format!("... ({} more arguments)", args.len() - 31).into_bytes());
                break;
            }
            if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                shown.push(v);
            } else {
                shown.push(a.to_vec());
            }
        }
        let mut log = self.slowlog.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowEntry {
            id,
            time: unix_secs(),
            micros,
            args: shown,
            addr: addr.to_string(),
            name: name.unwrap_or_default(),
        });
        while log.entries.len() as u64 > max_len {
            log.entries.pop_back();
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `n` random hex digits (from the OS's randomness via std's hasher keys).
pub fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::with_capacity(n);
    while s.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(s.len() as u64);
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(n);
    s
}
