//! Random Redis commands for the chaos and differential tests: a name from the server's
//! command table, a subcommand for containers, a key where the command takes one, then
//! arguments from a vocabulary of the tokens the command parsers care about (keys shared
//! across types, counts, scores, stream ids, keywords, ranges, odd bytes), from a seeded,
//! reproducible generator.

use resp_server::cmd;

/// Commands never sent: they end or take over the connection, block, pause or reconfigure
/// the server, or need a replica.
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

/// splitmix64: a small deterministic generator (the sequence must be reproducible from a
/// seed printed on failure).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
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
pub fn random_command(rng: &mut Rng, commands: &[&'static cmd::Command]) -> Vec<Vec<u8>> {
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

pub fn show(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| format!("{:?}", String::from_utf8_lossy(a))).collect::<Vec<_>>().join(" ")
}
