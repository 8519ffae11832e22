//! Random commands against the real server binary: every command of the table (but those
//! that end, block or reconfigure the connection) with arguments drawn from a vocabulary of
//! the tokens its parsers care about (keys shared across types, counts, scores, ids,
//! keywords, ranges, odd bytes). It checks that
//! - every command gets a reply (an error is a fine reply) and no reply is the "internal
//!   error" a handler's panic turns into, and the connection is never dropped;
//! - a second client keeps being served;
//! - after `kill -9` and a restart (`appendfsync always`), every key has the type and
//!   contents it had (strings, hashes, lists, sets, sorted sets, streams with their consumer
//!   groups), in all 16 databases.
//!
//! The sequence is deterministic per seed. `PMEMKV_CHAOS_SEEDS=a,b,…` and
//! `PMEMKV_CHAOS_COMMANDS=n` run other or longer sequences (a failure prints its seed and
//! the last commands sent).

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use common::ServerProcess;
use redis::Value;
use resp_server::cmd::{self, flags};

/// Commands never sent: they end or take over the connection, block, pause or reconfigure
/// the server, or need a replica.
const EXCLUDED: &[&str] = &[
    "shutdown",
    "quit",
    "monitor",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "hello",
    "debug",
    "wait",
    "waitaof",
    "failover",
    "replicaof",
    "slaveof",
    "sync",
    "psync",
];

/// Subcommands sent to container commands (CLIENT KILL/PAUSE/REPLY, CONFIG SET and the
/// like are left out for the reasons above).
fn subcommands(name: &str) -> &'static [&'static str] {
    match name {
        "client" => &["ID", "GETNAME", "SETNAME", "INFO", "LIST", "NO-EVICT", "NO-TOUCH", "HELP", "UNKNOWN"],
        "config" => &["GET", "HELP", "UNKNOWN"],
        "command" => &["COUNT", "INFO", "DOCS", "LIST", "GETKEYS", "HELP"],
        "slowlog" => &["GET", "LEN", "RESET", "HELP"],
        "latency" => &["LATEST", "HISTORY", "RESET", "HELP"],
        "object" => &["ENCODING", "REFCOUNT", "IDLETIME", "FREQ", "HELP"],
        "pubsub" => &["CHANNELS", "NUMSUB", "NUMPAT", "SHARDCHANNELS", "HELP"],
        "xgroup" => &["CREATE", "DESTROY", "SETID", "CREATECONSUMER", "DELCONSUMER", "HELP"],
        "xinfo" => &["STREAM", "GROUPS", "CONSUMERS", "HELP"],
        "memory" => &["USAGE", "STATS", "DOCTOR", "HELP"],
        _ => &[],
    }
}

/// Commands drawn rarely: they wipe or move everything, or are slow.
const RARE: &[&str] = &["flushall", "flushdb", "swapdb", "select", "save", "bgsave", "keys", "reset"];

const KEYS: &[&str] = &["k1", "k2", "k3", "{t}k4"];

const TOKENS: &[&str] = &[
    "0", "1", "2", "3", "5", "-1", "-2", "-100", "100", "1000000", "2147483648", "4294967296",
    "9223372036854775807", "-9223372036854775808", "9223372036854775808", "3.5", "-0.5", "1e308",
    "1e309", "0x10", "inf", "-inf", "+inf", "nan", "(1", "(2.5", "(a", "[a", "[c", "-", "+", "*",
    "$", ">", "0-0", "0-1", "1-0", "1-1", "5-3", "99-99", "18446744073709551615-18446744073709551615",
    "1-18446744073709551615", "a", "b", "c", "f1", "f2", "g1", "c1", "c2", "k*", "?1", "[k]*", "\\", "",
    " ", "NX", "XX", "GT", "LT", "CH", "INCR", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET", "PERSIST",
    "WITHSCORES", "WITHSCORE", "LIMIT", "BYSCORE", "BYLEX", "REV", "COUNT", "MATCH", "TYPE", "LEFT",
    "RIGHT", "BEFORE", "AFTER", "RANK", "MAXLEN", "MINID", "~", "=", "NOMKSTREAM", "STREAMS", "GROUP",
    "NOACK", "IDLE", "TIME", "RETRYCOUNT", "FORCE", "JUSTID", "LASTID", "MKSTREAM", "ENTRIESREAD",
    "WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX", "WITHVALUES", "string", "list", "set", "zset", "hash",
    "stream", "ASYNC", "SYNC", "REPLACE", "DB", "ABSTTL", "ID", "FULL", "CONSUMERS", "LEN", "IDX",
    "MINMATCHLEN", "WITHMATCHLEN", "BIT", "BYTE", "NOVALUES", "ANY", "ASC", "DESC", "ALPHA", "STORE",
];

/// splitmix64: a small deterministic generator (the sequence must be reproducible from a
/// seed printed on failure).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.below(from.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn token(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0..=3 => rng.pick(KEYS).as_bytes().to_vec(),
        4 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        5 => (rng.next() % 2000).to_string().into_bytes(),
        6 => format!("{}.{}", rng.next() % 100, rng.next() % 1000).into_bytes(),
        _ => rng.pick(TOKENS).as_bytes().to_vec(),
    }
}

/// One random command: a name from the table, a subcommand for containers, a key first
/// where the command takes one, then random arguments.
fn random_command(rng: &mut Rng, commands: &[&'static cmd::Command]) -> Vec<Vec<u8>> {
    let c = loop {
        let c = *rng.pick(commands);
        if !RARE.contains(&c.name) || rng.chance(5) {
            break c;
        }
    };
    let mut args = vec![c.name.as_bytes().to_vec()];
    let subs = subcommands(c.name);
    if !subs.is_empty() {
        args.push(rng.pick(subs).as_bytes().to_vec());
        if matches!(c.name, "xgroup" | "xinfo" | "object" | "memory") && rng.chance(85) {
            args.push(rng.pick(KEYS).as_bytes().to_vec());
        }
    } else if c.first_key > 0 && rng.chance(90) {
        args.push(rng.pick(KEYS).as_bytes().to_vec());
    }
    // Mostly a count that satisfies the arity, sometimes any.
    let want = if c.arity > 0 { c.arity as usize } else { (-c.arity) as usize + rng.below(6) };
    let extra = if rng.chance(85) { want.saturating_sub(args.len()) } else { rng.below(8) };
    for _ in 0..extra {
        args.push(token(rng));
    }
    args
}

fn show(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| format!("{:?}", String::from_utf8_lossy(a))).collect::<Vec<_>>().join(" ")
}

fn send(con: &mut redis::Connection, args: &[Vec<u8>]) -> redis::RedisResult<Value> {
    let mut c = redis::cmd(std::str::from_utf8(&args[0]).expect("command names are ASCII"));
    for a in &args[1..] {
        c.arg(&a[..]);
    }
    c.query(con)
}

fn query(con: &mut redis::Connection, args: &[&str]) -> Value {
    let owned: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    send(con, &owned).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// Every key of every database: `(db, key) -> (has a TTL, type and contents)`.
fn snapshot(con: &mut redis::Connection) -> BTreeMap<(u8, Vec<u8>), (bool, String)> {
    let mut out = BTreeMap::new();
    for db in 0..16u8 {
        query(con, &["SELECT", &db.to_string()]);
        let mut cursor = "0".to_string();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        loop {
            let Value::Array(reply) = query(con, &["SCAN", &cursor, "COUNT", "1000"]) else { panic!("SCAN reply") };
            cursor = text(&reply[0]);
            if let Value::Array(ks) = &reply[1] {
                keys.extend(ks.iter().map(|k| match k {
                    Value::BulkString(b) => b.clone(),
                    other => panic!("SCAN key {other:?}"),
                }));
            }
            if cursor == "0" {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            // `args[0]`, then the key, then the rest; `XINFO` takes its subcommand first.
            let k = |c: &mut redis::Connection, args: &[&str]| {
                let mut command = redis::cmd(args[0]);
                let at = if args[0] == "XINFO" { 2 } else { 1 };
                for a in &args[1..at] {
                    command.arg(*a);
                }
                command.arg(&key[..]);
                for a in &args[at..] {
                    command.arg(*a);
                }
                command.query::<Value>(c).unwrap_or_else(|e| panic!("{args:?} {key:?}: {e}"))
            };
            let ty = text(&k(con, &["TYPE"]));
            let ttl = matches!(k(con, &["PTTL"]), Value::Int(t) if t >= 0);
            let contents = match ty.as_str() {
                "string" => format!("{:?}", k(con, &["GET"])),
                "list" => format!("{:?}", k(con, &["LRANGE", "0", "-1"])),
                "hash" => {
                    let mut fields = format!("{:?}", k(con, &["HGETALL"]));
                    if let Value::Array(v) = k(con, &["HGETALL"]) {
                        let mut pairs: Vec<String> = v.chunks(2).map(|p| format!("{p:?}")).collect();
                        pairs.sort();
                        fields = pairs.join(",");
                    }
                    fields
                }
                "set" => {
                    let mut members: Vec<String> = match k(con, &["SMEMBERS"]) {
                        Value::Array(v) => v.iter().map(|m| format!("{m:?}")).collect(),
                        Value::Set(v) => v.iter().map(|m| format!("{m:?}")).collect(),
                        other => panic!("SMEMBERS {other:?}"),
                    };
                    members.sort();
                    members.join(",")
                }
                "zset" => format!("{:?}", k(con, &["ZRANGE", "0", "-1", "WITHSCORES"])),
                "stream" => {
                    let mut s = format!("{:?} {:?}", k(con, &["XRANGE", "-", "+"]), k(con, &["XLEN"]));
                    // Groups: name, consumers, pending, last id, entries read, lag; and each
                    // group's pending summary (not the idle times, which move).
                    if let Value::Array(groups) = k(con, &["XINFO", "GROUPS"]) {
                        s += &format!(" groups {groups:?}");
                        for g in &groups {
                            if let Value::Array(fields) = g {
                                let name = text(&fields[1]);
                                s += &format!(" pending {name}: {:?}", k(con, &["XPENDING", &name]));
                            }
                        }
                    }
                    s
                }
                "none" => continue,
                other => panic!("unknown type {other}"),
            };
            out.insert((db, key), (ttl, format!("{ty}: {contents}")));
        }
    }
    out
}

fn run_seed(seed: u64, count: usize) {
    let commands: Vec<&'static cmd::Command> =
        cmd::all().filter(|c| !EXCLUDED.contains(&c.name) && !c.has(flags::BLOCKING)).collect();
    let dir = tempfile::tempdir().unwrap();
    let srv = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let mut con = srv.conn();
    con.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut bystander = srv.conn();
    let mut rng = Rng(seed);
    let mut recent: VecDeque<String> = VecDeque::new();
    let mut errors = 0usize;
    let mut error_kinds: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..count {
        let args = random_command(&mut rng, &commands);
        recent.push_back(show(&args));
        if recent.len() > 20 {
            recent.pop_front();
        }
        let context = || format!("seed {seed}, command {i}; the last commands:\n{}", Vec::from(recent.clone()).join("\n"));
        let reply = send(&mut con, &args);
        let printed = match &reply {
            Ok(v) => format!("{v:?}"),
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                panic!("no reply ({e}) at {}", context())
            }
            Err(e) => {
                errors += 1;
                let kind: String = e.to_string().chars().take(60).collect();
                *error_kinds.entry(kind).or_default() += 1;
                e.to_string()
            }
        };
        assert!(!printed.contains("internal error"), "a command panicked: {printed}\nat {}", context());
        if i % 250 == 0 {
            assert_eq!(query(&mut bystander, &["PING"]), Value::SimpleString("PONG".into()), "at {}", context());
        }
    }
    // Whatever the sequence left open (MULTI, a database selected), a new client sees the
    // stored state.
    drop(con);
    let before = snapshot(&mut srv.conn());
    srv.kill9();
    let srv = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let after = snapshot(&mut srv.conn());
    // Keys with a TTL may expire in between: compare those only if they are still there.
    for (key, (ttl, contents)) in &before {
        match after.get(key) {
            Some((_, again)) => assert_eq!(again, contents, "seed {seed}: key {key:?} changed across kill -9"),
            None => assert!(*ttl, "seed {seed}: key {key:?} ({contents}) lost across kill -9"),
        }
    }
    for key in after.keys() {
        assert!(before.contains_key(key), "seed {seed}: key {key:?} appeared across kill -9");
    }
    eprintln!(
        "chaos seed {seed}: {count} commands ({errors} error replies), {} keys compared across kill -9",
        before.len()
    );
    if std::env::var_os("PMEMKV_CHAOS_ERRORS").is_some() {
        let mut kinds: Vec<(usize, String)> = error_kinds.into_iter().map(|(k, n)| (n, k)).collect();
        kinds.sort_unstable_by(|a, b| b.cmp(a));
        for (n, k) in kinds.iter().take(40) {
            eprintln!("{n:6} {k}");
        }
    }
    srv.kill9();
}

#[test]
fn random_commands_get_replies_and_survive_kill_9() {
    let seeds: Vec<u64> = match std::env::var("PMEMKV_CHAOS_SEEDS") {
        Ok(s) => s.split(',').map(|x| x.trim().parse().expect("PMEMKV_CHAOS_SEEDS: numbers")).collect(),
        Err(_) => vec![1, 2, 3],
    };
    let count = std::env::var("PMEMKV_CHAOS_COMMANDS").map_or(3000, |n| n.parse().expect("PMEMKV_CHAOS_COMMANDS"));
    for seed in seeds {
        run_seed(seed, count);
    }
}
