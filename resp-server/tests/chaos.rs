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
//! the last commands sent), `PMEMKV_CHAOS_CLIENTS=n` more clients at once in the concurrent
//! test (four by default).

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use common::random_commands::{random_command, show, tame_blocking, Rng};
use common::ServerProcess;
use redis::Value;
use resp_server::cmd;

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

/// One client's random sequence: `count` commands from `Rng::new(seed)`. Returns the number of
/// error replies and their kinds.
fn drive(srv: &ServerProcess, seed: u64, count: usize) -> (usize, BTreeMap<String, usize>) {
    let commands: Vec<&'static cmd::Command> =
        cmd::all().filter(|c| !common::random_commands::EXCLUDED.contains(&c.name)).collect();
    let mut con = srv.conn();
    con.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut bystander = srv.conn();
    let mut rng = Rng::new(seed);
    let mut recent: VecDeque<String> = VecDeque::new();
    let mut errors = 0usize;
    let mut error_kinds: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..count {
        let mut args = random_command(&mut rng, &commands);
        tame_blocking(&mut args);
        recent.push_back(show(&args));
        if recent.len() > 20 {
            recent.pop_front();
        }
        let context =
            || format!("seed {seed}, command {i}; the last commands:\n{}", Vec::from(recent.clone()).join("\n"));
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
    (errors, error_kinds)
}

/// `clients` clients run random sequences at once (seeds derived from `seed`), then the
/// server is killed and restarted and every key compared.
fn run_seed(seed: u64, count: usize, clients: u64) {
    let dir = tempfile::tempdir().unwrap();
    let srv = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let results: Vec<(usize, BTreeMap<String, usize>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let srv = &srv;
                s.spawn(move || drive(srv, seed * 1000 + c, count))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a client's checks failed")).collect()
    });
    let errors: usize = results.iter().map(|r| r.0).sum();
    let mut error_kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (_, kinds) in results {
        for (k, n) in kinds {
            *error_kinds.entry(k).or_default() += n;
        }
    }
    // Whatever the sequences left open (MULTI, a database selected), a new client sees the
    // stored state.
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
        "chaos seed {seed}: {clients} client(s) × {count} commands ({errors} error replies), {} keys compared across kill -9",
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
        run_seed(seed, count, 1);
    }
}

/// Four clients at once: blocked pops served by other clients' pushes, WATCH broken by
/// others' writes, transactions interleaving — no panic, no hang, no lost write.
#[test]
fn concurrent_random_clients_get_replies_and_survive_kill_9() {
    let count = std::env::var("PMEMKV_CHAOS_COMMANDS").map_or(1500, |n| n.parse().expect("PMEMKV_CHAOS_COMMANDS"));
    let seeds: Vec<u64> = match std::env::var("PMEMKV_CHAOS_SEEDS") {
        Ok(s) => s.split(',').map(|x| x.trim().parse().expect("PMEMKV_CHAOS_SEEDS: numbers")).collect(),
        Err(_) => vec![7],
    };
    let clients = std::env::var("PMEMKV_CHAOS_CLIENTS").map_or(4, |n| n.parse().expect("PMEMKV_CHAOS_CLIENTS"));
    for seed in seeds {
        run_seed(seed, count, clients);
    }
}
