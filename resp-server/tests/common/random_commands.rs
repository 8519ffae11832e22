//! Random Redis commands for the chaos and differential tests: a name from the server's
//! command table, a subcommand for containers, a key where the command takes one, then
//! arguments from a vocabulary of the tokens the command parsers care about (keys shared
//! across types, counts, scores, stream ids, keywords, ranges, odd bytes), from a seeded,
//! reproducible generator.

use resp_server::cmd;

/// Commands never sent: they end or take over the connection, pause or reconfigure the
/// server, or need a replica. (Blocking commands are sent with a short timeout, see
/// [`tame_blocking`].)
pub const EXCLUDED: &[&str] = &[
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

pub const KEYS: &[&str] = &["k1", "k2", "k3", "{t}k4"];

const TOKENS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "-1",
    "-2",
    "-100",
    "100",
    "1000000",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "3.5",
    "-0.5",
    "1e308",
    "1e309",
    "0x10",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "(1",
    "(2.5",
    "(a",
    "[a",
    "[c",
    "-",
    "+",
    "*",
    "$",
    ">",
    "0-0",
    "0-1",
    "1-0",
    "1-1",
    "5-3",
    "99-99",
    "18446744073709551615-18446744073709551615",
    "1-18446744073709551615",
    "a",
    "b",
    "c",
    "f1",
    "f2",
    "g1",
    "c1",
    "c2",
    "k*",
    "?1",
    "[k]*",
    "\\",
    "",
    " ",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "WITHSCORES",
    "WITHSCORE",
    "LIMIT",
    "BYSCORE",
    "BYLEX",
    "REV",
    "COUNT",
    "MATCH",
    "TYPE",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "MINID",
    "~",
    "=",
    "NOMKSTREAM",
    "STREAMS",
    "GROUP",
    "NOACK",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "LASTID",
    "MKSTREAM",
    "ENTRIESREAD",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "WITHVALUES",
    "string",
    "list",
    "set",
    "zset",
    "hash",
    "stream",
    "ASYNC",
    "SYNC",
    "REPLACE",
    "DB",
    "ABSTTL",
    "ID",
    "FULL",
    "CONSUMERS",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "BIT",
    "BYTE",
    "NOVALUES",
    "ANY",
    "ASC",
    "DESC",
    "ALPHA",
    "STORE",
];

/// A seeded, reproducible generator (the engine's splitmix64, `pmemkv::collections::Rng`):
/// a failure prints the seed that replays it.
pub struct Rng(pmemkv::collections::Rng);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(pmemkv::collections::Rng::new(seed))
    }
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.below(from.len())]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn token(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0..=3 => rng.pick(KEYS).as_bytes().to_vec(),
        // Odd text: control bytes (NUL, CR, LF), multi-byte characters. Valid UTF-8, because
        // Redis echoes arguments in some errors verbatim and redis-rs cannot decode an error
        // that is not UTF-8.
        4 => (0..rng.below(300))
            .map(|_| match rng.below(4) {
                0 => char::from(rng.below(32) as u8),
                1 => char::from_u32(0x80 + rng.below(0x2000) as u32).unwrap_or('?'),
                _ => char::from(b' ' + rng.below(95) as u8),
            })
            .collect::<String>()
            .into_bytes(),
        5 => (rng.next() % 2000).to_string().into_bytes(),
        6 => format!("{}.{}", rng.next() % 100, rng.next() % 1000).into_bytes(),
        _ => rng.pick(TOKENS).as_bytes().to_vec(),
    }
}

/// One random command: a name from the table, a subcommand for containers, a key first
/// where the command takes one, then random arguments.
/// Well-formed shapes of commands, so that sequences get deep into the state machines
/// (consumer groups, ranges with options) instead of stopping at a syntax error. Placeholders:
/// `{k}` key, `{m}` member/field/value, `{n}` small integer, `{s}` score or score bound,
/// `{l}` lex bound, `{i}` stream id, `{g}` group, `{c}` consumer.
const TEMPLATES: &[&str] = &[
    "xadd {k} * {m} {m}",
    "xadd {k} {i} {m} {m}",
    "xadd {k} MAXLEN ~ {n} * {m} {m}",
    "xadd {k} MAXLEN = {n} {i} {m} {m}",
    "xadd {k} MINID {i} * {m} {m}",
    "xadd {k} NOMKSTREAM * {m} {m}",
    "xgroup CREATE {k} {g} {i}",
    "xgroup CREATE {k} {g} $ MKSTREAM",
    "xgroup CREATE {k} {g} 0 MKSTREAM ENTRIESREAD {n}",
    "xgroup SETID {k} {g} {i}",
    "xgroup SETID {k} {g} {i} ENTRIESREAD {n}",
    "xgroup CREATECONSUMER {k} {g} {c}",
    "xgroup DELCONSUMER {k} {g} {c}",
    "xgroup DESTROY {k} {g}",
    "xreadgroup GROUP {g} {c} COUNT {n} STREAMS {k} >",
    "xreadgroup GROUP {g} {c} STREAMS {k} {i}",
    "xreadgroup GROUP {g} {c} NOACK STREAMS {k} >",
    "xreadgroup GROUP {g} {c} STREAMS {k} {k} > {i}",
    "xread COUNT {n} STREAMS {k} {i}",
    "xread BLOCK 10 STREAMS {k} $",
    "xreadgroup GROUP {g} {c} BLOCK 10 STREAMS {k} >",
    "blpop {k} {k} 0.01",
    "brpop {k} 0.01",
    "blmove {k} {k} LEFT RIGHT 0.01",
    "brpoplpush {k} {k} 0.01",
    "blmpop 0.01 2 {k} {k} RIGHT COUNT {n}",
    "bzpopmin {k} 0.01",
    "bzpopmax {k} {k} 0.01",
    "bzmpop 0.01 1 {k} MAX",
    "xread STREAMS {k} {k} {i} {i}",
    "xack {k} {g} {i} {i}",
    "xpending {k} {g}",
    "xpending {k} {g} - + {n}",
    "xpending {k} {g} {i} + {n} {c}",
    "xpending {k} {g} IDLE 0 - + {n}",
    "xclaim {k} {g} {c} 0 {i}",
    "xclaim {k} {g} {c} 0 {i} {i} JUSTID",
    "xclaim {k} {g} {c} 0 {i} FORCE RETRYCOUNT {n}",
    "xclaim {k} {g} {c} 0 {i} LASTID {i}",
    "xautoclaim {k} {g} {c} 0 {i} COUNT {n}",
    "xautoclaim {k} {g} {c} 0 {i} JUSTID",
    "xrange {k} - + COUNT {n}",
    "xrange {k} ({i} +",
    "xrevrange {k} + - COUNT {n}",
    "xtrim {k} MAXLEN {n}",
    "xtrim {k} MINID ~ {i} LIMIT {n}",
    "xdel {k} {i} {i}",
    "xsetid {k} {i}",
    "xsetid {k} {i} ENTRIESADDED {n} MAXDELETEDID {i}",
    "zadd {k} {s} {m} {s} {m}",
    "zadd {k} NX {s} {m}",
    "zadd {k} XX CH {s} {m} {s} {m}",
    "zadd {k} GT CH {s} {m}",
    "zadd {k} LT {s} {m}",
    "zadd {k} INCR {s} {m}",
    "zincrby {k} {s} {m}",
    "zrange {k} {n} {n}",
    "zrange {k} {n} {n} REV WITHSCORES",
    "zrange {k} {s} {s} BYSCORE LIMIT {n} {n}",
    "zrange {k} {s} {s} BYSCORE REV WITHSCORES",
    "zrange {k} {l} {l} BYLEX",
    "zrange {k} {l} {l} BYLEX REV LIMIT {n} {n}",
    // Lex ranges on a set whose members all have score 0 (on mixed scores Redis's answer
    // depends on its skiplist's random levels).
    "zadd zlex 0 {m} 0 {m} 0 {m}",
    "zrangebylex zlex {l} {l} LIMIT {n} {n}",
    "zrevrangebylex zlex {l} {l}",
    "zlexcount zlex {l} {l}",
    "zremrangebylex zlex {l} {l}",
    "zrange zlex {l} {l} BYLEX REV",
    "zrangestore {k} zlex {l} {l} BYLEX",
    "zrangebyscore {k} {s} {s} WITHSCORES LIMIT {n} {n}",
    "zrevrangebyscore {k} {s} {s}",
    "zrangebylex {k} {l} {l}",
    "zrevrangebylex {k} {l} {l} LIMIT {n} {n}",
    "zrangestore {k} {k} {n} {n}",
    "zrangestore {k} {k} {s} {s} BYSCORE",
    "zunionstore {k} 2 {k} {k} WEIGHTS {n} {n} AGGREGATE MAX",
    "zinterstore {k} 2 {k} {k} AGGREGATE MIN",
    "zdiffstore {k} 2 {k} {k}",
    "zunion 2 {k} {k} WITHSCORES",
    "zinter 2 {k} {k} WEIGHTS {s} {s}",
    "zdiff 2 {k} {k} WITHSCORES",
    "zintercard 2 {k} {k} LIMIT {n}",
    "zpopmin {k} {n}",
    "zpopmax {k}",
    "zmpop 2 {k} {k} MIN COUNT {n}",
    "zscore {k} {m}",
    "zmscore {k} {m} {m}",
    "zrank {k} {m}",
    "zrevrank {k} {m}",
    "zcount {k} {s} {s}",
    "zlexcount {k} {l} {l}",
    "zremrangebyrank {k} {n} {n}",
    "zremrangebyscore {k} {s} {s}",
    "zremrangebylex {k} {l} {l}",
    "zrem {k} {m} {m}",
    "lpush {k} {m} {m}",
    "rpush {k} {m} {m} {m}",
    "lpushx {k} {m}",
    "linsert {k} BEFORE {m} {m}",
    "linsert {k} AFTER {m} {m}",
    "lrem {k} {n} {m}",
    "lset {k} {n} {m}",
    "ltrim {k} {n} {n}",
    "lpos {k} {m} RANK {n} COUNT {n} MAXLEN {n}",
    "lmove {k} {k} LEFT RIGHT",
    "lmove {k} {k} RIGHT RIGHT",
    "rpoplpush {k} {k}",
    "lmpop 2 {k} {k} LEFT COUNT {n}",
    "lpop {k} {n}",
    "rpop {k}",
    "lrange {k} {n} {n}",
    "lindex {k} {n}",
    "hset {k} {m} {m} {m} {m}",
    "hsetnx {k} {m} {m}",
    "hincrby {k} {m} {n}",
    "hincrbyfloat {k} {m} {s}",
    "hmget {k} {m} {m}",
    "hdel {k} {m} {m}",
    "hstrlen {k} {m}",
    "hgetall {k}",
    "sadd {k} {m} {m} {m}",
    "srem {k} {m}",
    "smove {k} {k} {m}",
    "sinterstore {k} {k} {k}",
    "sunionstore {k} {k} {k}",
    "sdiffstore {k} {k} {k}",
    "sintercard 2 {k} {k} LIMIT {n}",
    "smismember {k} {m} {m}",
    "set {k} {m}",
    "set {k} {m} EX {n}",
    "set {k} {m} NX GET",
    "set {k} {m} XX KEEPTTL",
    "getex {k} PERSIST",
    "getdel {k}",
    "incrby {k} {n}",
    "incrbyfloat {k} {s}",
    "append {k} {m}",
    "setrange {k} {n} {m}",
    "getrange {k} {n} {n}",
    "mset {k} {m} {k} {m}",
    "msetnx {k} {m} {k} {m}",
    "expire {k} {n} NX",
    "expire {k} {n} GT",
    "pexpire {k} {n} LT",
    "persist {k}",
    "rename {k} {k}",
    "renamenx {k} {k}",
    "copy {k} {k}",
    "copy {k} {k} REPLACE",
    "move {k} {n}",
    "type {k}",
    "del {k} {k}",
    "watch {k}",
    "multi",
    "exec",
];

fn fill(rng: &mut Rng, template: &str) -> Vec<Vec<u8>> {
    const M: &[&str] = &["a", "b", "c", "d", "1", "2", "10", "-1", "1.5", ""];
    const N: &[&str] = &["0", "1", "2", "3", "5", "-1", "-2", "10", "100"];
    const S: &[&str] = &["0", "1", "2.5", "-1", "3", "inf", "-inf", "(1", "(2.5", "1e3"];
    const L: &[&str] = &["-", "+", "[a", "(b", "[c", "(a", "[", "("];
    const I: &[&str] = &["0", "0-1", "1-0", "1-1", "2-0", "5-3", "3", "$", "-", "+", "0-0", "1-*"];
    const G: &[&str] = &["g1", "g2"];
    const C: &[&str] = &["c1", "c2", "c3"];
    // Keys mostly of the template's own type (so that its commands go deep), sometimes one
    // of the shared keys (other types: WRONGTYPE paths).
    let name = template.split(' ').next().unwrap_or("");
    let own: &[&str] = match name.as_bytes()[0] {
        b'x' => &["x1", "x2"],
        b'z' => &["z1", "z2"],
        b'h' => &["h1", "h2"],
        b's' if name != "set" && name != "setrange" => &["s1", "s2"],
        _ if name.starts_with('l') || name.starts_with('r') => &["l1", "l2"],
        _ => KEYS,
    };
    let key_pool: Vec<&str> = if rng.chance(80) { own.to_vec() } else { KEYS.to_vec() };
    template
        .split(' ')
        .map(|w| {
            // Now and then a member from a larger pool, or one longer than 64 bytes: the
            // collections then cross Redis's compact-encoding limits (128 entries, 64 bytes).
            if w == "{m}" && rng.chance(20) {
                let n = rng.below(400);
                return if rng.chance(25) { format!("{}{n}", "x".repeat(66)) } else { format!("m{n}") }.into_bytes();
            }
            let from: &[&str] = match w {
                "{k}" => &key_pool,
                "{m}" => M,
                "{n}" => N,
                "{s}" => S,
                "{l}" => L,
                "{i}" => I,
                "{g}" => G,
                "{c}" => C,
                _ => return w.as_bytes().to_vec(),
            };
            rng.pick(from).as_bytes().to_vec()
        })
        .collect()
}

/// A random command: half the time a well-formed one from [`TEMPLATES`] (if its command is
/// among `commands`), otherwise any command of `commands` with random arguments.
pub fn random_command(rng: &mut Rng, commands: &[&'static cmd::Command]) -> Vec<Vec<u8>> {
    if rng.chance(50) {
        let t = rng.pick(TEMPLATES);
        let name = t.split(' ').next().expect("a name");
        if commands.iter().any(|c| c.name == name) {
            return fill(rng, t);
        }
    }
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

/// Makes a blocking command wait at most 10 ms (its timeout argument becomes `0.01`), so a
/// single client never waits forever on a key nobody pushes to.
pub fn tame_blocking(args: &mut [Vec<u8>]) {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let at = match name.as_str() {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" | "brpoplpush" | "blmove" => args.len().checked_sub(1),
        "blmpop" | "bzmpop" => Some(1),
        _ => None,
    };
    if let Some(i) = at.filter(|&i| i >= 1 && i < args.len()) {
        args[i] = b"0.01".to_vec();
    }
    if name == "xread" || name == "xreadgroup" {
        for i in 1..args.len().saturating_sub(1) {
            if args[i].eq_ignore_ascii_case(b"BLOCK") {
                args[i + 1] = b"10".to_vec();
            }
        }
    }
}

pub fn show(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| format!("{:?}", String::from_utf8_lossy(a))).collect::<Vec<_>>().join(" ")
}
