//! Server configuration: defaults, a redis.conf-style file, command-line overrides, and the
//! parameter table behind `CONFIG GET` / `CONFIG SET` / `CONFIG REWRITE`.
//!
//! Every supported parameter is one row of [`PARAMS`]: its name, how to read it as text, how
//! to set it from text (with Redis's validation wording), and whether it can change while the
//! server runs. The file format is Redis's: one `name value…` per line, `#` comments, values
//! quoted like inline commands. Parameters Redis has but pmemkv does not need (replication,
//! RDB snapshots, eviction) are accepted in files and by `CONFIG SET` only where a tool sets
//! them routinely, and are reported with fixed values by `CONFIG GET`.

use std::path::{Path, PathBuf};

use crate::glob::glob_match;
use crate::protocol::request::split_args;

/// When the server makes a write durable before acknowledging it (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    /// After the group-committed fsync that covers the write.
    Always,
    /// A background flusher fsyncs every second.
    EverySec,
    /// The operating system decides.
    No,
}

impl AppendFsync {
    /// The redis.conf spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }

    /// The engine's default durability for this setting. `always` is enforced per batch by
    /// the connections (one group commit per batch of pipelined commands), so the engine
    /// itself need not wait on every write; its once-a-second flusher bounds the rest.
    pub fn engine_durability(self) -> pmemkv::Durability {
        match self {
            AppendFsync::Always | AppendFsync::EverySec => pmemkv::Durability::EverySec,
            AppendFsync::No => pmemkv::Durability::Never,
        }
    }
}

/// Log verbosity (`loglevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including per-command traces.
    Debug,
    /// Much, but not per-command.
    Verbose,
    /// What an operator wants in production.
    Notice,
    /// Only problems.
    Warning,
}

impl LogLevel {
    /// The redis.conf spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }

    /// The matching `tracing` filter directive.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "info",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
        }
    }
}

/// Output buffer limits of one client class (`client-output-buffer-limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    /// Disconnect at once above this many bytes (0 = no limit).
    pub hard: u64,
    /// Disconnect when above this many bytes for `soft_seconds` (0 = no limit).
    pub soft: u64,
    /// See `soft`.
    pub soft_seconds: u64,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// TCP port (0 = no TCP listener).
    pub port: u16,
    /// Addresses to listen on. A leading `-` marks an address that may be unavailable.
    pub bind: Vec<String>,
    /// Refuse non-loopback clients while no password is set.
    pub protected_mode: bool,
    /// Path of a Unix socket to listen on as well.
    pub unixsocket: Option<PathBuf>,
    /// Permissions of the Unix socket (octal).
    pub unixsocketperm: u32,
    /// The data directory (the pmemkv store).
    pub dir: PathBuf,
    /// Password of the default user (`None`: no authentication).
    pub requirepass: Option<String>,
    /// Write durability.
    pub appendfsync: AppendFsync,
    /// Most simultaneous clients.
    pub maxclients: u64,
    /// Close a client idle for this many seconds (0 = never).
    pub timeout: u64,
    /// Seconds between TCP keepalive probes (0 = off).
    pub tcp_keepalive: u64,
    /// Log verbosity.
    pub loglevel: LogLevel,
    /// Log file ("" = standard output).
    pub logfile: String,
    /// Number of logical databases (`SELECT 0..n-1`).
    pub databases: u64,
    /// Largest bulk argument accepted.
    pub proto_max_bulk_len: u64,
    /// Largest unparsed query buffer of one client.
    pub client_query_buffer_limit: u64,
    /// Output limits for normal clients.
    pub output_normal: OutputLimit,
    /// Output limits for pub/sub subscribers (and `MONITOR`).
    pub output_pubsub: OutputLimit,
    /// Commands slower than this many microseconds go to the slow log (negative = off).
    pub slowlog_log_slower_than: i64,
    /// Entries kept in the slow log.
    pub slowlog_max_len: u64,
    /// Connection threads, each a single-threaded runtime with its own sockets (0: half the
    /// CPU cores, at least one; see `io_pool`). Read at start only.
    pub io_threads: u64,
    /// The file the configuration was read from (for `CONFIG REWRITE`).
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            protected_mode: true,
            unixsocket: None,
            unixsocketperm: 0o700,
            dir: PathBuf::from("./data"),
            requirepass: None,
            appendfsync: AppendFsync::EverySec,
            maxclients: 10_000,
            timeout: 0,
            tcp_keepalive: 300,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            databases: 16,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            output_normal: OutputLimit { hard: 0, soft: 0, soft_seconds: 0 },
            output_pubsub: OutputLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            io_threads: 0,
            file: None,
        }
    }
}

/// An error in a configuration file or a `CONFIG SET` value, worded like Redis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

type Getter = fn(&Config) -> String;
type Setter = fn(&mut Config, &[String]) -> Result<(), String>;

/// One configuration parameter.
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Reads its value as `CONFIG GET` shows it.
    pub get: Getter,
    /// Sets it from the words after its name.
    pub set: Setter,
    /// True if `CONFIG SET` may change it while the server runs.
    pub mutable: bool,
}

fn one(v: &[String]) -> Result<&str, String> {
    match v {
        [s] => Ok(s),
        _ => Err("wrong number of arguments".into()),
    }
}

fn yes_no(v: &[String]) -> Result<bool, String> {
    match one(v)?.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn yn(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Parses a memory amount with Redis's units (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`).
pub fn parse_memory(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let mul: u64 = match s[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

fn memory(v: &[String]) -> Result<u64, String> {
    parse_memory(one(v)?).ok_or_else(|| "argument must be a memory value".into())
}

/// A memory value within Redis's bounds for the parameter (its wording when out of them).
fn memory_between(v: &[String], min: u64, max: u64) -> Result<u64, String> {
    let n = memory(v)?;
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(n)
}

/// Redis's check of `save` values: pairs of seconds (at least 1) and changes (at least 0),
/// or one empty string for none.
fn save_params(v: &[String]) -> Result<(), String> {
    let words: Vec<&str> = v.iter().flat_map(|s| s.split_whitespace()).collect();
    let ok = words.len().is_multiple_of(2)
        && words.iter().enumerate().all(|(i, w)| w.parse::<i64>().is_ok_and(|n| n >= if i % 2 == 0 { 1 } else { 0 }));
    if ok {
        Ok(())
    } else {
        Err("Invalid save parameters".into())
    }
}

/// The eviction policies Redis accepts (pmemkv-server never evicts; the value is checked and
/// not kept).
const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

fn number(v: &[String], min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = one(v)?.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(n)
}

fn output_limit_text(c: &Config) -> String {
    let f = |class: &str, l: OutputLimit| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds);
    format!(
        "{} {} {}",
        f("normal", c.output_normal),
        f("replica", OutputLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 }),
        f("pubsub", c.output_pubsub)
    )
}

fn set_output_limit(c: &mut Config, v: &[String]) -> Result<(), String> {
    // A file line has the words of one class; CONFIG SET passes one string of one or more.
    let words: Vec<String> = v.iter().flat_map(|s| s.split_whitespace().map(str::to_string)).collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut next = c.clone();
    for w in words.chunks(4) {
        let (Some(hard), Some(soft)) = (parse_memory(&w[1]), parse_memory(&w[2])) else {
            return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
        };
        let Ok(secs) = w[3].parse::<u64>() else {
            return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
        };
        let l = OutputLimit { hard, soft, soft_seconds: secs };
        match w[0].to_ascii_lowercase().as_str() {
            "normal" => next.output_normal = l,
            "pubsub" => next.output_pubsub = l,
            "replica" | "slave" => {}
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        }
    }
    *c = next;
    Ok(())
}

/// Every parameter the server knows, in `CONFIG GET *` order.
pub static PARAMS: &[Param] = &[
    Param {
        name: "port",
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = number(v, 0, 65535)? as u16;
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "bind",
        get: |c| c.bind.join(" "),
        set: |c, v| {
            let words: Vec<String> = v.iter().flat_map(|s| s.split_whitespace().map(str::to_string)).collect();
            if words.is_empty() {
                return Err("wrong number of arguments".into());
            }
            c.bind = words;
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "protected-mode",
        get: |c| yn(c.protected_mode),
        set: |c, v| {
            c.protected_mode = yes_no(v)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "unixsocket",
        get: |c| c.unixsocket.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        set: |c, v| {
            let s = one(v)?;
            c.unixsocket = if s.is_empty() { None } else { Some(PathBuf::from(s)) };
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "unixsocketperm",
        get: |c| format!("{:o}", c.unixsocketperm),
        set: |c, v| {
            c.unixsocketperm = u32::from_str_radix(one(v)?, 8)
                .ok()
                .filter(|p| *p <= 0o777)
                .ok_or("argument must be an octal number between 0 and 777")?;
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "dir",
        get: |c| c.dir.display().to_string(),
        set: |c, v| {
            c.dir = PathBuf::from(one(v)?);
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "requirepass",
        get: |c| c.requirepass.clone().unwrap_or_default(),
        set: |c, v| {
            let s = one(v)?;
            c.requirepass = if s.is_empty() { None } else { Some(s.to_string()) };
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "appendfsync",
        get: |c| c.appendfsync.as_str().into(),
        set: |c, v| {
            c.appendfsync = match one(v)?.to_ascii_lowercase().as_str() {
                "always" => AppendFsync::Always,
                "everysec" => AppendFsync::EverySec,
                "no" => AppendFsync::No,
                _ => return Err("argument(s) must be one of the following: everysec, always, no".into()),
            };
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "appendonly",
        // The engine's log is always on: it is the store.
        get: |_| "yes".into(),
        set: |_, v| match yes_no(v)? {
            true => Ok(()),
            false => Err("pmemkv always keeps its log: appendonly cannot be turned off".into()),
        },
        mutable: true,
    },
    Param {
        name: "save",
        // No RDB snapshots: the log is the persistence.
        get: |_| String::new(),
        set: |_, v| save_params(v),
        mutable: true,
    },
    Param {
        name: "maxclients",
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            c.maxclients = number(v, 1, u32::MAX as i64)? as u64;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "timeout",
        get: |c| c.timeout.to_string(),
        set: |c, v| {
            c.timeout = number(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "tcp-keepalive",
        get: |c| c.tcp_keepalive.to_string(),
        set: |c, v| {
            c.tcp_keepalive = number(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "loglevel",
        get: |c| c.loglevel.as_str().into(),
        set: |c, v| {
            c.loglevel = match one(v)?.to_ascii_lowercase().as_str() {
                "debug" => LogLevel::Debug,
                "verbose" => LogLevel::Verbose,
                "notice" => LogLevel::Notice,
                "warning" => LogLevel::Warning,
                _ => return Err("argument(s) must be one of the following: debug, verbose, notice, warning".into()),
            };
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "logfile",
        get: |c| c.logfile.clone(),
        set: |c, v| {
            c.logfile = one(v)?.to_string();
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "databases",
        get: |c| c.databases.to_string(),
        set: |c, v| {
            c.databases = number(v, 1, 256)? as u64;
            Ok(())
        },
        mutable: false,
    },
    Param {
        name: "proto-max-bulk-len",
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            c.proto_max_bulk_len = memory_between(v, 1024 * 1024, i64::MAX as u64)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "client-query-buffer-limit",
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            c.client_query_buffer_limit = memory_between(v, 1024 * 1024, i64::MAX as u64)?;
            Ok(())
        },
        mutable: true,
    },
    Param { name: "client-output-buffer-limit", get: output_limit_text, set: set_output_limit, mutable: true },
    Param {
        name: "slowlog-log-slower-than",
        get: |c| c.slowlog_log_slower_than.to_string(),
        set: |c, v| {
            c.slowlog_log_slower_than = number(v, i64::MIN, i64::MAX)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "slowlog-max-len",
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| {
            c.slowlog_max_len = number(v, 0, i64::MAX)? as u64;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "io-threads",
        get: |c| c.io_threads.to_string(),
        set: |c, v| {
            c.io_threads = number(v, 0, 128)? as u64;
            Ok(())
        },
        mutable: false,
    },
    Param { name: "maxmemory", get: |_| "0".into(), set: |_, v| memory(v).map(drop), mutable: true },
    Param {
        name: "maxmemory-policy",
        get: |_| "noeviction".into(),
        set: |_, v| {
            let p = one(v)?.to_ascii_lowercase();
            if MAXMEMORY_POLICIES.contains(&p.as_str()) {
                Ok(())
            } else {
                Err(format!("argument(s) must be one of the following: {}", MAXMEMORY_POLICIES.join(", ")))
            }
        },
        mutable: true,
    },
    Param { name: "daemonize", get: |_| "no".into(), set: |_, v| yes_no(v).map(drop), mutable: false },
    Param { name: "hz", get: |_| "10".into(), set: |_, v| number(v, 0, i32::MAX as i64).map(drop), mutable: true },
];

/// The parameter called `name` (case-insensitive).
pub fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Sets parameter `name` from its words, as a configuration file line would.
    pub fn set(&mut self, name: &str, words: &[String]) -> Result<(), ConfigError> {
        let p = param(name).ok_or_else(|| ConfigError("Bad directive or wrong number of arguments".to_string()))?;
        (p.set)(self, words).map_err(ConfigError)
    }

    /// Reads a configuration file and applies it on top of `self`.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("Fatal error, can't open config file '{}': {e}", path.display())))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(words) = split_args(line.as_bytes()) else {
                return Err(bad_line(path, i, line, "Unbalanced quotes in configuration line"));
            };
            let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
            let (name, rest) = words.split_first().expect("non-empty line has a word");
            if name.eq_ignore_ascii_case("include") {
                let inc = PathBuf::from(rest.first().ok_or_else(|| bad_line(path, i, line, "include needs a file"))?);
                self.apply_file(&inc)?;
                continue;
            }
            // Redis parameters that have no meaning here are accepted so a stock redis.conf
            // still loads; unknown names are an error, as in Redis.
            if param(name).is_none() && IGNORED.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                continue;
            }
            self.set(name, rest).map_err(|e| bad_line(path, i, line, &e.0))?;
        }
        self.file = Some(path.to_path_buf());
        Ok(())
    }

    /// `CONFIG GET`: the `(name, value)` pairs of every parameter matching any of the glob
    /// `patterns`.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        PARAMS
            .iter()
            .filter(|p| patterns.iter().any(|pat| glob_match(pat, p.name.as_bytes(), true)))
            .map(|p| (p.name, (p.get)(self)))
            .collect()
    }

    /// `CONFIG REWRITE`: writes every parameter that differs from the default into the file
    /// the configuration came from (atomically: a temporary file, fsync, rename).
    pub fn rewrite(&self) -> Result<(), ConfigError> {
        let Some(path) = &self.file else {
            return Err(ConfigError("The server is running without a config file".into()));
        };
        let defaults = Config::default();
        let mut out = String::from("# Written by pmemkv-server CONFIG REWRITE\n");
        for p in PARAMS {
            let v = (p.get)(self);
            if v != (p.get)(&defaults) || p.name == "dir" || p.name == "port" {
                out.push_str(&format!("{} {}\n", p.name, quote(&v, p.name)));
            }
        }
        let tmp = path.with_extension("rewrite.tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(out.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| ConfigError(format!("Rewriting config file: {e}")))
    }
}

/// Quotes a value for a config file line (multi-word parameters stay as separate words).
fn quote(v: &str, name: &str) -> String {
    if name == "bind" || name == "client-output-buffer-limit" {
        return v.to_string();
    }
    if !v.is_empty() && !v.bytes().any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'\'' || b == b'\\') {
        return v.to_string();
    }
    let mut q = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Redis parameters accepted in a configuration file and ignored (persistence, replication,
/// eviction and tuning knobs of Redis's own data structures).
const IGNORED: &[&str] = &[
    "supervised",
    "pidfile",
    "syslog-enabled",
    "syslog-ident",
    "always-show-logo",
    "set-proc-title",
    "proc-title-template",
    "stop-writes-on-bgsave-error",
    "rdbcompression",
    "rdbchecksum",
    "dbfilename",
    "rdb-del-sync-files",
    "appendfilename",
    "appenddirname",
    "no-appendfsync-on-rewrite",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "replica-serve-stale-data",
    "replica-read-only",
    "repl-diskless-sync",
    "repl-diskless-sync-delay",
    "repl-diskless-sync-max-replicas",
    "repl-diskless-load",
    "repl-disable-tcp-nodelay",
    "replica-priority",
    "acllog-max-len",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "replica-lazy-flush",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "oom-score-adj",
    "oom-score-adj-values",
    "disable-thp",
    "lua-time-limit",
    "busy-reply-threshold",
    "latency-monitor-threshold",
    "notify-keyspace-events",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "hash-max-ziplist-entries",
    "hash-max-ziplist-value",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "list-compress-depth",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "zset-max-ziplist-entries",
    "zset-max-ziplist-value",
    "hll-sparse-max-bytes",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "activerehashing",
    "dynamic-hz",
    "aof-rewrite-incremental-fsync",
    "rdb-save-incremental-fsync",
    "jemalloc-bg-thread",
    "tcp-backlog",
    "crash-log-enabled",
    "crash-memcheck-enabled",
    "sanitize-dump-payload",
    "lfu-log-factor",
    "lfu-decay-time",
    "maxmemory-samples",
    "maxmemory-eviction-tenacity",
    "active-expire-effort",
    "io-threads-do-reads",
    "enable-protected-configs",
    "enable-debug-command",
    "enable-module-command",
];

fn bad_line(path: &Path, i: usize, line: &str, why: &str) -> ConfigError {
    ConfigError(format!(
        "\n*** FATAL CONFIG FILE ERROR (pmemkv-server) ***\nReading the configuration file {}, at line {}\n>>> '{}'\n{}",
        path.display(),
        i + 1,
        line,
        why
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("redis.conf");
        std::fs::write(
            &f,
            "# comment\nport 7001\nbind 0.0.0.0 ::\nappendfsync always\nrequirepass \"p w\"\n\
             maxclients 50\nsave 900 1\ndbfilename dump.rdb\nclient-output-buffer-limit pubsub 1mb 512kb 10\n",
        )
        .unwrap();
        let mut c = Config::default();
        c.apply_file(&f).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.bind, vec!["0.0.0.0", "::"]);
        assert_eq!(c.appendfsync, AppendFsync::Always);
        assert_eq!(c.requirepass.as_deref(), Some("p w"));
        assert_eq!(c.maxclients, 50);
        assert_eq!(c.output_pubsub, OutputLimit { hard: 1 << 20, soft: 512 << 10, soft_seconds: 10 });
        std::fs::write(&f, "port 7001\nno-such-thing 1\n").unwrap();
        let e = Config::default().apply_file(&f).unwrap_err();
        assert!(e.0.contains("line 2"), "{e}");
    }

    #[test]
    fn get_by_glob_and_rewrite_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("redis.conf");
        std::fs::write(&f, "port 7002\n").unwrap();
        let mut c = Config::default();
        c.apply_file(&f).unwrap();
        let got = c.get_matching(&[b"app*"]);
        assert_eq!(got, vec![("appendfsync", "everysec".to_string()), ("appendonly", "yes".to_string())]);
        c.set("requirepass", &["s3cret x".into()]).unwrap();
        c.set("timeout", &["30".into()]).unwrap();
        c.rewrite().unwrap();
        let mut back = Config::default();
        back.apply_file(&f).unwrap();
        assert_eq!(back.requirepass.as_deref(), Some("s3cret x"));
        assert_eq!(back.timeout, 30);
        assert_eq!(back.port, 7002);
    }

    #[test]
    fn memory_units_like_redis() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("2k"), Some(2000));
        assert_eq!(parse_memory("5MB"), Some(5 << 20));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1x"), None);
    }
}
