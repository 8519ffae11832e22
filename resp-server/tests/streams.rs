//! Stream commands over real sockets (redis-rs): every command with Redis 7.0's replies and
//! error texts, RESP3 maps, blocking reads (wake-up, `$`, timeout, MULTI), and the crash
//! test: consumer-group state (pending entries and their owners) survives SIGKILL of the real
//! binary, and XAUTOCLAIM recovers what a crashed consumer left unacknowledged.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, err, ServerProcess, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

/// `[id, [f, v, …]]`.
fn entry(id: &str, fv: &[&str]) -> Value {
    arr(vec![bulk(id), arr(fv.iter().map(|s| bulk(s)).collect())])
}

fn ids(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|e| match e {
                Value::Array(p) => match &p[0] {
                    Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                    other => panic!("{other:?}"),
                },
                Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn wait_blocked(srv: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.shared.blocking.count() != n {
        assert!(Instant::now() < deadline, "expected {n} blocked clients, have {}", srv.shared.blocking.count());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A flat RESP2 map reply (`XINFO`) as (name, value) pairs.
fn pairs(v: Value) -> Vec<(String, Value)> {
    let Value::Array(items) = v else { panic!("{v:?}") };
    items
        .chunks(2)
        .map(|p| match &p[0] {
            Value::BulkString(k) => (String::from_utf8(k.clone()).unwrap(), p[1].clone()),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn field(v: &[(String, Value)], name: &str) -> Value {
    v.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name}")).1.clone()
}

#[test]
fn xadd_ids_options_and_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["XADD", "s", "1-1", "a", "1"]).unwrap(), bulk("1-1"));
    assert_eq!(cmd(&mut c, &["XADD", "s", "1-*", "b", "2"]).unwrap(), bulk("1-2"));
    assert_eq!(cmd(&mut c, &["XADD", "s", "5", "c", "3"]).unwrap(), bulk("5-0"));
    assert_eq!(
        err(&mut c, &["XADD", "s", "5-0", "a", "1"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(err(&mut c, &["XADD", "s", "0-0", "a", "1"]), "ERR The ID specified in XADD must be greater than 0-0");
    assert_eq!(
        err(&mut c, &["XADD", "s", "x-1", "a", "1"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(err(&mut c, &["XADD", "s", "6-1", "a"]), "ERR wrong number of arguments for 'xadd' command");
    assert_eq!(
        err(&mut c, &["XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "1"]),
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
    );
    assert_eq!(err(&mut c, &["XADD", "s", "MAXLEN", "-1", "*", "a", "1"]), "ERR The MAXLEN argument must be >= 0.");
    assert_eq!(
        err(&mut c, &["XADD", "s", "MAXLEN", "5", "LIMIT", "10", "*", "a", "1"]),
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "LIMIT", "10", "*", "a", "1"]),
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
    );
    // `*` uses the clock; ids stay increasing.
    let Value::BulkString(auto) = cmd(&mut c, &["XADD", "s", "*", "d", "4"]).unwrap() else { panic!() };
    assert!(String::from_utf8(auto).unwrap().ends_with("-0"));
    // NOMKSTREAM.
    assert_eq!(cmd(&mut c, &["XADD", "none", "NOMKSTREAM", "*", "a", "1"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["EXISTS", "none"]).unwrap(), Value::Int(0));
    // Exact trimming, MAXLEN and MINID.
    for i in 1..=10 {
        cmd(&mut c, &["XADD", "t", "MAXLEN", "=", "3", &format!("{i}-0"), "f", "v"]).unwrap();
    }
    assert_eq!(ids(&cmd(&mut c, &["XRANGE", "t", "-", "+"]).unwrap()), ["8-0", "9-0", "10-0"]);
    cmd(&mut c, &["XADD", "t", "MINID", "10", "11-0", "f", "v"]).unwrap();
    assert_eq!(ids(&cmd(&mut c, &["XRANGE", "t", "-", "+"]).unwrap()), ["10-0", "11-0"]);
    // Approximate trimming removes whole nodes of 100 entries only (as Redis does).
    for i in 1..=150 {
        cmd(&mut c, &["XADD", "big", &format!("{i}-0"), "f", "v"]).unwrap();
    }
    assert_eq!(cmd(&mut c, &["XTRIM", "big", "MAXLEN", "~", "100"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["XTRIM", "big", "MAXLEN", "~", "10"]).unwrap(), Value::Int(100));
    assert_eq!(cmd(&mut c, &["XTRIM", "big", "MAXLEN", "~", "0", "LIMIT", "10"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["XTRIM", "big", "MINID", "~", "200"]).unwrap(), Value::Int(50));
    assert_eq!(cmd(&mut c, &["XLEN", "big"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["TYPE", "big"]).unwrap(), Value::SimpleString("stream".into()));
    // Wrong type.
    cmd(&mut c, &["SET", "str", "v"]).unwrap();
    assert!(err(&mut c, &["XADD", "str", "*", "a", "1"]).starts_with("WRONGTYPE"));
    assert!(err(&mut c, &["XLEN", "str"]).starts_with("WRONGTYPE"));
}

#[test]
fn xrange_xrevrange_xdel_xtrim_xsetid() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    for id in ["1-1", "1-2", "2-0", "3-5"] {
        cmd(&mut c, &["XADD", "s", id, "f", id]).unwrap();
    }
    assert_eq!(cmd(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "1"]).unwrap(), arr(vec![entry("1-1", &["f", "1-1"])]));
    assert_eq!(ids(&cmd(&mut c, &["XRANGE", "s", "(1-1", "(3-5"]).unwrap()), ["1-2", "2-0"]);
    assert_eq!(ids(&cmd(&mut c, &["XRANGE", "s", "1", "1"]).unwrap()), ["1-1", "1-2"]);
    assert_eq!(ids(&cmd(&mut c, &["XREVRANGE", "s", "+", "-", "COUNT", "2"]).unwrap()), ["3-5", "2-0"]);
    assert_eq!(ids(&cmd(&mut c, &["XREVRANGE", "s", "(2-0", "-"]).unwrap()), ["1-2", "1-1"]);
    assert_eq!(cmd(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "0"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["XRANGE", "nokey", "-", "+"]).unwrap(), arr(vec![]));
    assert_eq!(err(&mut c, &["XRANGE", "s", "-", "(0-0"]), "ERR invalid end ID for the interval");
    assert_eq!(err(&mut c, &["XRANGE", "s", "-", "+", "LIMIT"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["XRANGE", "s", "(-", "+"]), "ERR Invalid stream ID specified as stream command argument");

    assert_eq!(cmd(&mut c, &["XDEL", "s", "1-1", "9-9"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["XDEL", "nokey", "1-1"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["XTRIM", "s", "FOO", "1"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["XTRIM", "s"]), "ERR wrong number of arguments for 'xtrim' command");
    assert_eq!(cmd(&mut c, &["XTRIM", "s", "MAXLEN", "1"]).unwrap(), Value::Int(2));
    assert_eq!(ids(&cmd(&mut c, &["XRANGE", "s", "-", "+"]).unwrap()), ["3-5"]);

    assert_eq!(
        err(&mut c, &["XSETID", "s", "1-0"]),
        "ERR The ID specified in XSETID is smaller than the target stream top item"
    );
    assert_eq!(cmd(&mut c, &["XSETID", "s", "9-0", "ENTRIESADDED", "20", "MAXDELETEDID", "8-0"]).unwrap(), Value::Okay);
    assert_eq!(err(&mut c, &["XSETID", "nokey", "1-0"]), "ERR no such key");
    assert_eq!(
        err(&mut c, &["XSETID", "s", "9-0", "MAXDELETEDID", "10-0"]),
        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
    );
    let info = pairs(cmd(&mut c, &["XINFO", "STREAM", "s"]).unwrap());
    assert_eq!(field(&info, "last-generated-id"), bulk("9-0"));
    assert_eq!(field(&info, "entries-added"), Value::Int(20));
    assert_eq!(field(&info, "max-deleted-entry-id"), bulk("8-0"));
    assert_eq!(field(&info, "length"), Value::Int(1));
    assert_eq!(field(&info, "first-entry"), entry("3-5", &["f", "3-5"]));
    assert_eq!(
        err(&mut c, &["XADD", "s", "9-0", "a", "b"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
}

#[test]
fn xread_replies_and_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["XADD", "a", "1-1", "f", "1"]).unwrap();
    cmd(&mut c, &["XADD", "a", "2-1", "f", "2"]).unwrap();
    cmd(&mut c, &["XADD", "b", "1-1", "g", "1"]).unwrap();
    let r = cmd(&mut c, &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "nokey", "0", "0", "0"]).unwrap();
    assert_eq!(
        r,
        arr(vec![
            arr(vec![bulk("a"), arr(vec![entry("1-1", &["f", "1"])])]),
            arr(vec![bulk("b"), arr(vec![entry("1-1", &["g", "1"])])]),
        ])
    );
    assert_eq!(cmd(&mut c, &["XREAD", "STREAMS", "a", "$"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["XREAD", "STREAMS", "a", "2-1"]).unwrap(), Value::Nil);
    assert_eq!(
        err(&mut c, &["XREAD", "STREAMS", "a", "b", "0"]),
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    );
    assert_eq!(
        err(&mut c, &["XREAD", "STREAMS", "a", ">"]),
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
    );
    assert_eq!(
        err(&mut c, &["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"]),
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
    );
    assert_eq!(
        err(&mut c, &["XREAD", "BLOCK", "x", "STREAMS", "a", "0"]),
        "ERR timeout is not an integer or out of range"
    );
    assert_eq!(err(&mut c, &["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["XREAD", "COUNT", "1", "a", "0"]), "ERR syntax error");

    // RESP3: a map of key → entries.
    let mut c3 = srv.conn3();
    let r = cmd(&mut c3, &["XREAD", "STREAMS", "a", "1-1"]).unwrap();
    assert_eq!(r, Value::Map(vec![(bulk("a"), arr(vec![entry("2-1", &["f", "2"])]))]));
}

#[test]
fn blocking_reads_wake_resolve_dollar_and_time_out() {
    let srv = TestServer::start();
    let mut p = srv.conn();
    cmd(&mut p, &["XADD", "s", "1-1", "old", "1"]).unwrap();

    // `$` is the last id at the time of blocking: the reader gets only what came after.
    let url = srv.url();
    let t = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        cmd(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "other", "s", "$", "$"]).unwrap()
    });
    wait_blocked(&srv, 1);
    cmd(&mut p, &["XADD", "s", "2-1", "new", "1"]).unwrap();
    assert_eq!(t.join().unwrap(), arr(vec![arr(vec![bulk("s"), arr(vec![entry("2-1", &["new", "1"])])])]));
    wait_blocked(&srv, 0);

    // An explicit id that is already behind serves at once.
    assert_eq!(
        cmd(&mut p, &["XREAD", "BLOCK", "100", "STREAMS", "s", "1-1"]).unwrap(),
        arr(vec![arr(vec![bulk("s"), arr(vec![entry("2-1", &["new", "1"])])])])
    );

    // Timeout: a null array.
    let start = Instant::now();
    assert_eq!(cmd(&mut p, &["XREAD", "BLOCK", "150", "STREAMS", "s", "$"]).unwrap(), Value::Nil);
    assert!(start.elapsed() >= Duration::from_millis(140));

    // Inside MULTI nothing blocks: the reply is the timeout's.
    assert_eq!(cmd(&mut p, &["MULTI"]).unwrap(), Value::Okay);
    cmd(&mut p, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).unwrap();
    assert_eq!(cmd(&mut p, &["EXEC"]).unwrap(), arr(vec![Value::Nil]));

    // XREADGROUP BLOCK with `>`: woken by XADD, the entry becomes pending for the consumer.
    cmd(&mut p, &["XGROUP", "CREATE", "s", "g", "$"]).unwrap();
    let url = srv.url();
    let t = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        cmd(&mut c, &["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">"]).unwrap()
    });
    wait_blocked(&srv, 1);
    cmd(&mut p, &["XADD", "s", "3-1", "x", "y"]).unwrap();
    assert_eq!(t.join().unwrap(), arr(vec![arr(vec![bulk("s"), arr(vec![entry("3-1", &["x", "y"])])])]));
    let pending = cmd(&mut p, &["XPENDING", "s", "g"]).unwrap();
    assert_eq!(
        pending,
        arr(vec![Value::Int(1), bulk("3-1"), bulk("3-1"), arr(vec![arr(vec![bulk("alice"), bulk("1")])])])
    );

    // Destroying the group wakes its blocked readers with NOGROUP.
    let url = srv.url();
    let t = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        err(&mut c, &["XREADGROUP", "GROUP", "g", "bob", "BLOCK", "0", "STREAMS", "s", ">"])
    });
    wait_blocked(&srv, 1);
    assert_eq!(cmd(&mut p, &["XGROUP", "DESTROY", "s", "g"]).unwrap(), Value::Int(1));
    assert_eq!(t.join().unwrap(), "NOGROUP the consumer group this client was blocked on no longer exists");
    wait_blocked(&srv, 0);
}

#[test]
fn consumer_groups_pel_ack_claim() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    for i in 1..=4 {
        cmd(&mut c, &["XADD", "s", &format!("{i}-0"), "n", &i.to_string()]).unwrap();
    }
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATE", "nokey", "g", "0"]),
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    );
    assert_eq!(cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).unwrap(), Value::Okay);
    assert_eq!(err(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]), "BUSYGROUP Consumer Group name already exists");
    assert_eq!(cmd(&mut c, &["XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["XLEN", "m"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["XGROUP", "CREATE"]), "ERR wrong number of arguments for 'xgroup|create' command");
    assert_eq!(err(&mut c, &["XGROUP", "FOO", "s"]), "ERR unknown subcommand 'FOO'. Try XGROUP HELP.");
    assert_eq!(
        err(&mut c, &["XGROUP", "SETID", "s", "nog", "0"]),
        "NOGROUP No such consumer group 'nog' for key name 's'"
    );
    assert_eq!(
        err(&mut c, &["XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"]),
        "NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option"
    );
    assert!(
        err(&mut c, &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"]).starts_with("ERR The $ ID is meaningless")
    );
    assert_eq!(
        err(&mut c, &["XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">"]),
        "ERR Missing GROUP option for XREADGROUP"
    );
    assert_eq!(cmd(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "idle"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "idle"]).unwrap(), Value::Int(0));

    // `>` delivers new entries, COUNT bounds them; history re-delivers the consumer's own.
    let r = cmd(&mut c, &["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"]).unwrap();
    assert_eq!(r, arr(vec![arr(vec![bulk("s"), arr(vec![entry("1-0", &["n", "1"]), entry("2-0", &["n", "2"])])])]));
    cmd(&mut c, &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]).unwrap();
    assert_eq!(cmd(&mut c, &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]).unwrap(), Value::Nil);
    let hist = cmd(&mut c, &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"]).unwrap();
    assert_eq!(hist, arr(vec![arr(vec![bulk("s"), arr(vec![entry("1-0", &["n", "1"]), entry("2-0", &["n", "2"])])])]));
    // A deleted pending entry comes back with null fields.
    cmd(&mut c, &["XDEL", "s", "2-0"]).unwrap();
    let hist = cmd(&mut c, &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "1-0"]).unwrap();
    assert_eq!(hist, arr(vec![arr(vec![bulk("s"), arr(vec![arr(vec![bulk("2-0"), Value::Nil])])])]));

    // XPENDING: summary, extended, per consumer, IDLE.
    assert_eq!(
        cmd(&mut c, &["XPENDING", "s", "g"]).unwrap(),
        arr(vec![
            Value::Int(4),
            bulk("1-0"),
            bulk("4-0"),
            arr(vec![arr(vec![bulk("alice"), bulk("2")]), arr(vec![bulk("bob"), bulk("2")])])
        ])
    );
    let ext = cmd(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "bob"]).unwrap();
    assert_eq!(ids(&ext), ["3-0", "4-0"]);
    let Value::Array(rows) = cmd(&mut c, &["XPENDING", "s", "g", "(1-0", "+", "1"]).unwrap() else { panic!() };
    let Value::Array(row) = &rows[0] else { panic!() };
    // Delivered, then re-delivered by the history read (not again once deleted).
    assert_eq!((&row[0], &row[1], &row[3]), (&bulk("2-0"), &bulk("alice"), &Value::Int(2)));
    assert_eq!(cmd(&mut c, &["XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"]).unwrap(), arr(vec![]));
    assert_eq!(cmd(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "nobody"]).unwrap(), arr(vec![]));
    assert_eq!(err(&mut c, &["XPENDING", "s", "nog"]), "NOGROUP No such key 's' or consumer group 'nog'");
    assert_eq!(err(&mut c, &["XPENDING", "s", "g", "-", "+"]), "ERR syntax error");

    // XACK: k point updates.
    assert_eq!(cmd(&mut c, &["XACK", "s", "g", "1-0", "9-9", "1-0"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["XACK", "s", "nog", "1-0"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["XACK", "s", "g", "x"]), "ERR Invalid stream ID specified as stream command argument");

    // XCLAIM: deleted entries leave the PEL; JUSTID, FORCE, RETRYCOUNT.
    let r = cmd(&mut c, &["XCLAIM", "s", "g", "carol", "0", "2-0", "3-0"]).unwrap();
    assert_eq!(r, arr(vec![entry("3-0", &["n", "3"])]));
    assert_eq!(cmd(&mut c, &["XCLAIM", "s", "g", "carol", "3600000", "4-0"]).unwrap(), arr(vec![]));
    assert_eq!(
        cmd(&mut c, &["XCLAIM", "s", "g", "carol", "0", "1-0", "FORCE", "JUSTID", "RETRYCOUNT", "5"]).unwrap(),
        arr(vec![bulk("1-0")])
    );
    assert_eq!(
        err(&mut c, &["XCLAIM", "s", "g", "carol", "0", "1-0", "BOGUS"]),
        "ERR Unrecognized XCLAIM option 'BOGUS'"
    );
    assert_eq!(
        err(&mut c, &["XCLAIM", "s", "nog", "carol", "0", "1-0"]),
        "NOGROUP No such key 's' or consumer group 'nog'"
    );
    assert_eq!(
        err(&mut c, &["XCLAIM", "s", "g", "carol", "x", "1-0"]),
        "ERR Invalid min-idle-time argument for XCLAIM"
    );
    let ext = cmd(&mut c, &["XPENDING", "s", "g", "1-0", "1-0", "1"]).unwrap();
    let Value::Array(rows) = ext else { panic!() };
    assert_eq!(rows[0], arr(vec![bulk("1-0"), bulk("carol"), rows_idle(&rows[0]), Value::Int(5)]));

    // XAUTOCLAIM: Redis 7 reply (cursor, claimed, deleted ids).
    cmd(&mut c, &["XDEL", "s", "4-0"]).unwrap();
    let r = cmd(&mut c, &["XAUTOCLAIM", "s", "g", "dave", "0", "0", "COUNT", "10"]).unwrap();
    assert_eq!(
        r,
        arr(vec![bulk("0-0"), arr(vec![entry("1-0", &["n", "1"]), entry("3-0", &["n", "3"])]), arr(vec![bulk("4-0")])])
    );
    let r = cmd(&mut c, &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "1", "JUSTID"]).unwrap();
    assert_eq!(r, arr(vec![bulk("3-0"), arr(vec![bulk("1-0")]), arr(vec![])]));
    assert_eq!(err(&mut c, &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "0"]), "ERR COUNT must be > 0");
    assert_eq!(
        err(&mut c, &["XAUTOCLAIM", "s", "nog", "erin", "0", "0"]),
        "NOGROUP No such key 's' or consumer group 'nog'"
    );

    // XINFO GROUPS / CONSUMERS, DELCONSUMER, SETID, DESTROY.
    let groups = cmd(&mut c, &["XINFO", "GROUPS", "s"]).unwrap();
    let Value::Array(gs) = groups else { panic!() };
    let g = pairs(gs[0].clone());
    assert_eq!(field(&g, "name"), bulk("g"));
    assert_eq!(field(&g, "consumers"), Value::Int(6));
    assert_eq!(field(&g, "pending"), Value::Int(2));
    assert_eq!(field(&g, "last-delivered-id"), bulk("4-0"));
    assert_eq!(field(&g, "entries-read"), Value::Int(4));
    let Value::Array(cs) = cmd(&mut c, &["XINFO", "CONSUMERS", "s", "g"]).unwrap() else { panic!() };
    let names: Vec<Value> = cs.into_iter().map(|v| field(&pairs(v), "name")).collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave", "erin", "idle"].map(bulk));
    assert_eq!(cmd(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "erin"]).unwrap(), Value::Int(1));
    assert_eq!(
        cmd(&mut c, &["XPENDING", "s", "g"]).unwrap(),
        arr(vec![Value::Int(1), bulk("3-0"), bulk("3-0"), arr(vec![arr(vec![bulk("dave"), bulk("1")])])])
    );
    assert_eq!(cmd(&mut c, &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"]).unwrap(), Value::Okay);
    let r = cmd(&mut c, &["XREADGROUP", "GROUP", "g", "frank", "NOACK", "STREAMS", "s", ">"]).unwrap();
    assert_eq!(
        ids(&match r {
            Value::Array(mut v) => match v.remove(0) {
                Value::Array(mut kv) => kv.remove(1),
                o => panic!("{o:?}"),
            },
            o => panic!("{o:?}"),
        }),
        ["1-0", "3-0"]
    );
    // NOACK reads leave the PEL alone.
    assert_eq!(cmd(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "frank"]).unwrap(), arr(vec![]));
    assert_eq!(
        err(&mut c, &["XINFO", "CONSUMERS", "s", "nog"]),
        "NOGROUP No such consumer group 'nog' for key name 's'"
    );
    assert_eq!(err(&mut c, &["XINFO", "STREAM", "nokey"]), "ERR no such key");
    assert_eq!(cmd(&mut c, &["XGROUP", "DESTROY", "s", "g"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["XGROUP", "DESTROY", "s", "g"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["XINFO", "GROUPS", "s"]).unwrap(), arr(vec![]));

    // Deleting the stream drops its groups; a new stream under the name has none.
    cmd(&mut c, &["XGROUP", "CREATE", "s", "g2", "0"]).unwrap();
    cmd(&mut c, &["DEL", "s"]).unwrap();
    cmd(&mut c, &["XADD", "s", "1-0", "a", "b"]).unwrap();
    assert_eq!(cmd(&mut c, &["XINFO", "GROUPS", "s"]).unwrap(), arr(vec![]));

    // HELP texts.
    let Value::Array(h) = cmd(&mut c, &["XGROUP", "HELP"]).unwrap() else { panic!() };
    assert_eq!(h.len(), 17);
    let Value::Array(h) = cmd(&mut c, &["XINFO", "HELP"]).unwrap() else { panic!() };
    assert_eq!(h.len(), 9);
}

fn rows_idle(row: &Value) -> Value {
    let Value::Array(r) = row else { panic!() };
    r[2].clone()
}

#[test]
fn xinfo_stream_and_full_resp2_and_resp3() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["XADD", "s", "1-0", "a", "1"]).unwrap();
    cmd(&mut c, &["XADD", "s", "2-0", "b", "2"]).unwrap();
    cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).unwrap();
    cmd(&mut c, &["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"]).unwrap();
    let info = pairs(cmd(&mut c, &["XINFO", "STREAM", "s"]).unwrap());
    let names: Vec<&str> = info.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "groups",
            "first-entry",
            "last-entry"
        ]
    );
    assert_eq!(field(&info, "groups"), Value::Int(1));
    assert_eq!(field(&info, "last-entry"), entry("2-0", &["b", "2"]));
    let full = pairs(cmd(&mut c, &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"]).unwrap());
    assert_eq!(field(&full, "entries"), arr(vec![entry("1-0", &["a", "1"])]));
    let Value::Array(gs) = field(&full, "groups") else { panic!() };
    let g = pairs(gs[0].clone());
    assert_eq!(field(&g, "pel-count"), Value::Int(1));
    assert_eq!(field(&g, "lag"), Value::Int(1));
    assert_eq!(field(&g, "entries-read"), Value::Int(1));
    let Value::Array(cs) = field(&g, "consumers") else { panic!() };
    assert_eq!(field(&pairs(cs[0].clone()), "pel-count"), Value::Int(1));
    assert_eq!(
        err(&mut c, &["XINFO", "STREAM", "s", "FOO"]),
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    );

    let mut c3 = srv.conn3();
    let Value::Map(m) = cmd(&mut c3, &["XINFO", "STREAM", "s"]).unwrap() else { panic!("not a map") };
    assert_eq!(m.len(), 10);
    let Value::Array(gs) = cmd(&mut c3, &["XINFO", "GROUPS", "s"]).unwrap() else { panic!() };
    assert!(matches!(gs[0], Value::Map(_)));
}

/// The crash test: two consumers read, one acks some, SIGKILL between read and ack;
/// after restart the unacked entries are still pending with their consumer and XAUTOCLAIM by
/// the other consumer recovers them.
#[test]
fn pending_entries_survive_sigkill_and_are_recovered_by_xautoclaim() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let srv = ServerProcess::start(&data, &["--appendfsync", "always"]);
    let mut c = srv.conn();
    for i in 1..=6 {
        cmd(&mut c, &["XADD", "events", &format!("{i}-0"), "session", &i.to_string()]).unwrap();
    }
    cmd(&mut c, &["XGROUP", "CREATE", "events", "proc", "0"]).unwrap();
    let a = cmd(&mut c, &["XREADGROUP", "GROUP", "proc", "worker-a", "COUNT", "3", "STREAMS", "events", ">"]).unwrap();
    let b = cmd(&mut c, &["XREADGROUP", "GROUP", "proc", "worker-b", "COUNT", "3", "STREAMS", "events", ">"]).unwrap();
    assert!(a != Value::Nil && b != Value::Nil);
    // worker-b finishes its work; worker-a acks only its first entry, then the server dies.
    assert_eq!(cmd(&mut c, &["XACK", "events", "proc", "4-0", "5-0", "6-0"]).unwrap(), Value::Int(3));
    assert_eq!(cmd(&mut c, &["XACK", "events", "proc", "1-0"]).unwrap(), Value::Int(1));
    srv.kill9();

    let srv = ServerProcess::start(&data, &["--appendfsync", "always"]);
    let mut c = srv.conn();
    assert_eq!(
        cmd(&mut c, &["XPENDING", "events", "proc"]).unwrap(),
        arr(vec![Value::Int(2), bulk("2-0"), bulk("3-0"), arr(vec![arr(vec![bulk("worker-a"), bulk("2")])])])
    );
    let Value::Array(rows) = cmd(&mut c, &["XPENDING", "events", "proc", "-", "+", "10", "worker-a"]).unwrap() else {
        panic!()
    };
    assert_eq!(rows.len(), 2);
    // The group remembers what it delivered: nothing new for anyone.
    assert_eq!(
        cmd(&mut c, &["XREADGROUP", "GROUP", "proc", "worker-b", "STREAMS", "events", ">"]).unwrap(),
        Value::Nil
    );
    let r = cmd(&mut c, &["XAUTOCLAIM", "events", "proc", "worker-b", "0", "0"]).unwrap();
    assert_eq!(
        r,
        arr(vec![
            bulk("0-0"),
            arr(vec![entry("2-0", &["session", "2"]), entry("3-0", &["session", "3"])]),
            arr(vec![])
        ])
    );
    let Value::Array(rows) = cmd(&mut c, &["XPENDING", "events", "proc", "-", "+", "10"]).unwrap() else { panic!() };
    for row in &rows {
        let Value::Array(r) = row else { panic!() };
        assert_eq!((&r[1], &r[3]), (&bulk("worker-b"), &Value::Int(2)));
    }
    assert_eq!(cmd(&mut c, &["XACK", "events", "proc", "2-0", "3-0"]).unwrap(), Value::Int(2));
    assert_eq!(
        cmd(&mut c, &["XPENDING", "events", "proc"]).unwrap(),
        arr(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
    srv.kill9();

    // The acks are durable too.
    let srv = ServerProcess::start(&data, &["--appendfsync", "always"]);
    let mut c = srv.conn();
    assert_eq!(
        cmd(&mut c, &["XPENDING", "events", "proc"]).unwrap(),
        arr(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
    let g = {
        let Value::Array(gs) = cmd(&mut c, &["XINFO", "GROUPS", "events"]).unwrap() else { panic!() };
        pairs(gs[0].clone())
    };
    assert_eq!(field(&g, "last-delivered-id"), bulk("6-0"));
    assert_eq!(field(&g, "consumers"), Value::Int(2));
    srv.kill9();
}

/// A stream id is read as Redis reads it, a C string: a NUL byte ends it (found by
/// redis_diff.rs, where `XSETID s 9\0…` is id 9 and the next word a syntax error).
#[test]
fn stream_ids_end_at_a_nul_byte() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let q = |c: &mut redis::Connection, args: &[&[u8]]| {
        let mut command = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for a in &args[1..] {
            command.arg(*a);
        }
        command.query::<Value>(c)
    };
    assert_eq!(q(&mut c, &[b"XADD", b"s", b"5\0junk", b"f", b"v"]).unwrap(), bulk("5-0"));
    assert_eq!(q(&mut c, &[b"XADD", b"s", b"6-*\0x", b"f", b"v"]).unwrap(), bulk("6-0"));
    let e = q(&mut c, &[b"XSETID", b"s", b"9\0zz", b"bogus"]).unwrap_err();
    assert_eq!(e.detail(), Some("syntax error"));
    assert_eq!(ids(&q(&mut c, &[b"XRANGE", b"s", b"(5\0", b"+\0"]).unwrap()), vec!["6-0".to_string()]);
}
