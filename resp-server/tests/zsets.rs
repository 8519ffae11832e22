//! Sorted-set commands over real sockets with redis-rs (and raw RESP where the bytes
//! matter): ZADD options and their conflicts, score parsing and Redis 7.0 formatting (RESP2
//! bulk strings and RESP3 doubles), every range form, removals, pops, BZPOPMIN/BZPOPMAX
//! wake-ups and timeouts, STORE commands (with WATCH on their destination), ZSCAN,
//! ZRANDMEMBER, WRONGTYPE, and a 200k-member sorted set updated fine.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cmd, err, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn arr(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

/// Reads one complete RESP reply and appends its bytes to `out`.
fn read_reply(r: &mut BufReader<TcpStream>, out: &mut String) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    out.push_str(&line);
    let n: i64 = line[1..].trim_end().parse().unwrap_or(0);
    match line.as_bytes()[0] {
        b'$' | b'=' if n >= 0 => {
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf).unwrap();
            out.push_str(&String::from_utf8_lossy(&buf));
        }
        b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| read_reply(r, out)),
        b'%' => (0..2 * n).for_each(|_| read_reply(r, out)),
        _ => {}
    }
}

/// Sends commands on a fresh connection (RESP3 after `HELLO 3` if asked) and returns the raw
/// reply of the last one.
fn raw(srv: &TestServer, resp3: bool, cmds: &[&[&str]]) -> String {
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let hello: &[&str] = &["HELLO", "3"];
    let all: Vec<&[&str]> =
        if resp3 { std::iter::once(hello).chain(cmds.iter().copied()).collect() } else { cmds.to_vec() };
    let mut last = String::new();
    for args in all {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        w.write_all(req.as_bytes()).unwrap();
        last.clear();
        read_reply(&mut r, &mut last);
    }
    last
}

/// `ZRANGE key 0 -1 WITHSCORES` as (member, score text) pairs (RESP2).
fn all_with_scores(c: &mut redis::Connection, key: &str) -> Vec<(String, String)> {
    let Value::Array(v) = cmd(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]).unwrap() else { panic!() };
    v.chunks(2)
        .map(|p| match (&p[0], &p[1]) {
            (Value::BulkString(m), Value::BulkString(s)) => {
                (String::from_utf8(m.clone()).unwrap(), String::from_utf8(s.clone()).unwrap())
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn zadd_options_and_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]).unwrap(), int(3));
    assert_eq!(cmd(&mut c, &["ZADD", "z", "CH", "5", "a", "2", "b", "9", "new"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZADD", "z", "XX", "CH", "6", "a", "100", "nope"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["ZADD", "z", "NX", "CH", "7", "a", "8", "n2"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["ZADD", "z", "LT", "CH", "1", "a", "100", "b"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["ZSCORE", "z", "a"]).unwrap(), bulk("1"));
    assert_eq!(cmd(&mut c, &["ZSCORE", "z", "b"]).unwrap(), bulk("10"));
    // INCR: the new score, or nil when a condition says no.
    assert_eq!(cmd(&mut c, &["ZADD", "z", "INCR", "5", "a"]).unwrap(), bulk("6"));
    assert_eq!(cmd(&mut c, &["ZADD", "z", "NX", "INCR", "5", "a"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZADD", "z", "XX", "INCR", "5", "zz"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZADD", "z", "GT", "INCR", "-1", "a"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZADD", "z", "LT", "INCR", "-1", "a"]).unwrap(), bulk("5"));
    assert_eq!(cmd(&mut c, &["ZADD", "missing", "XX", "1", "a"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["ZADD", "missing", "XX", "INCR", "1", "a"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["EXISTS", "missing"]).unwrap(), int(0));
    for (args, e) in [
        (&["ZADD", "z", "NX", "XX", "1", "a"][..], "ERR XX and NX options at the same time are not compatible"),
        (&["ZADD", "z", "NX", "GT", "1", "a"], "ERR GT, LT, and/or NX options at the same time are not compatible"),
        (&["ZADD", "z", "GT", "LT", "1", "a"], "ERR GT, LT, and/or NX options at the same time are not compatible"),
        (&["ZADD", "z", "INCR", "1", "a", "2", "b"], "ERR INCR option supports a single increment-element pair"),
        (&["ZADD", "z", "1"], "ERR wrong number of arguments for 'zadd' command"),
        (&["ZADD", "z", "1", "a", "2"], "ERR syntax error"),
        (&["ZADD", "z", "CH", "1"], "ERR syntax error"),
        (&["ZADD", "z", "NX", "CH"], "ERR syntax error"),
        (&["ZADD", "z", "nan", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "x", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "1e400", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", " 1", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "1", "a", "x", "b"], "ERR value is not a valid float"),
        (&["ZINCRBY", "z", "x", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z"], "ERR wrong number of arguments for 'zadd' command"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
    // A failed ZADD changes nothing (all scores are parsed first).
    assert_eq!(cmd(&mut c, &["ZSCORE", "z", "a"]).unwrap(), bulk("5"));
    // Scores parse like strtod: hex, infinities, exponents.
    assert_eq!(cmd(&mut c, &["ZADD", "f", "0x10", "a", "-inf", "b", "+Infinity", "c", "1e-310", "d"]).unwrap(), int(4));
    assert_eq!(
        all_with_scores(&mut c, "f"),
        pairs(&[("b", "-inf"), ("d", "9.9999999999999694e-311"), ("a", "16"), ("c", "inf")])
    );
    // +inf + -inf is NaN.
    assert_eq!(err(&mut c, &["ZINCRBY", "f", "-inf", "c"]), "ERR resulting score is not a number (NaN)");
    assert_eq!(err(&mut c, &["ZADD", "f", "INCR", "-inf", "c"]), "ERR resulting score is not a number (NaN)");
    assert_eq!(cmd(&mut c, &["ZINCRBY", "f", "1.5", "new"]).unwrap(), bulk("1.5"));
}

#[test]
fn scores_format_like_redis_7_0() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["ZADD", "z", "1.1", "a", "0.30000000000000004", "b", "1e300", "c", "-inf", "d", "3", "e"]).unwrap();
    assert_eq!(raw(&srv, false, &[&["ZSCORE", "z", "a"]]), "$18\r\n1.1000000000000001\r\n");
    assert_eq!(raw(&srv, true, &[&["ZSCORE", "z", "a"]]), ",1.1000000000000001\r\n");
    assert_eq!(raw(&srv, true, &[&["ZSCORE", "z", "c"]]), ",1.0000000000000001e+300\r\n");
    assert_eq!(raw(&srv, true, &[&["ZSCORE", "z", "d"]]), ",-inf\r\n");
    assert_eq!(raw(&srv, false, &[&["ZSCORE", "z", "d"]]), "$4\r\n-inf\r\n");
    assert_eq!(raw(&srv, true, &[&["ZSCORE", "z", "e"]]), ",3\r\n");
    assert_eq!(raw(&srv, true, &[&["ZSCORE", "z", "nope"]]), "_\r\n");
    assert_eq!(raw(&srv, false, &[&["ZSCORE", "z", "nope"]]), "$-1\r\n");
    assert_eq!(raw(&srv, true, &[&["ZMSCORE", "z", "b", "nope"]]), "*2\r\n,0.30000000000000004\r\n_\r\n");
    assert_eq!(raw(&srv, true, &[&["ZINCRBY", "z", "1", "e"]]), ",4\r\n");
    // WITHSCORES: flat in RESP2, pairs in RESP3.
    assert_eq!(
        raw(&srv, false, &[&["ZRANGE", "z", "0", "1", "WITHSCORES"]]),
        "*4\r\n$1\r\nd\r\n$4\r\n-inf\r\n$1\r\nb\r\n$19\r\n0.30000000000000004\r\n"
    );
    assert_eq!(
        raw(&srv, true, &[&["ZRANGE", "z", "0", "1", "WITHSCORES"]]),
        "*2\r\n*2\r\n$1\r\nd\r\n,-inf\r\n*2\r\n$1\r\nb\r\n,0.30000000000000004\r\n"
    );
    // ZSCAN sends scores as bulk strings in both protocols.
    let scan = raw(&srv, true, &[&["ZSCAN", "z", "0", "MATCH", "a"]]);
    assert!(scan.ends_with("*2\r\n$1\r\na\r\n$18\r\n1.1000000000000001\r\n"), "{scan}");
    let mut c3 = srv.conn3();
    assert_eq!(cmd(&mut c3, &["ZSCORE", "z", "e"]).unwrap(), Value::Double(4.0));
}

#[test]
fn reads_and_ranges() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"]).unwrap();
    assert_eq!(cmd(&mut c, &["ZCARD", "z"]).unwrap(), int(5));
    assert_eq!(cmd(&mut c, &["ZCARD", "missing"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["ZRANK", "z", "c"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZREVRANK", "z", "c"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZREVRANK", "z", "a"]).unwrap(), int(4));
    assert_eq!(cmd(&mut c, &["ZRANK", "z", "nope"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZRANK", "missing", "a"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]).unwrap(), int(5));
    assert_eq!(cmd(&mut c, &["ZCOUNT", "z", "(1", "3"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZCOUNT", "z", "3", "1"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["ZCOUNT", "z", "", "1"]).unwrap(), int(1), "an empty bound is 0, as strtod reads it");
    assert_eq!(err(&mut c, &["ZCOUNT", "z", "x", "1"]), "ERR min or max is not a float");
    assert_eq!(err(&mut c, &["ZCOUNT", "missing", "nan", "1"]), "ERR min or max is not a float");

    let q = |c: &mut redis::Connection, args: &[&str]| cmd(c, args).unwrap();
    assert_eq!(q(&mut c, &["ZRANGE", "z", "0", "-1"]), arr(&["a", "b", "c", "d", "e"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "-2", "-1"]), arr(&["d", "e"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "3", "1"]), arr(&[]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "0", "1", "REV"]), arr(&["e", "d"]));
    assert_eq!(q(&mut c, &["ZREVRANGE", "z", "0", "1"]), arr(&["e", "d"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "(1", "3", "BYSCORE"]), arr(&["b", "c"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "3", "(1", "BYSCORE", "REV"]), arr(&["c", "b"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"]), arr(&["b", "c"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"]), arr(&["b", "c", "d", "e"]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"]), arr(&[]));
    assert_eq!(q(&mut c, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "-1"]), arr(&["a", "b"]), "LIMIT x -1 is no limit");
    assert_eq!(q(&mut c, &["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "1", "5"]), arr(&["c", "d"]));
    assert_eq!(q(&mut c, &["ZREVRANGEBYSCORE", "z", "4", "2"]), arr(&["d", "c", "b"]));
    assert_eq!(q(&mut c, &["ZRANGE", "missing", "0", "-1"]), arr(&[]));
    for (args, e) in [
        (
            &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"][..],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"], "ERR syntax error"),
        (&["ZRANGE", "z", "0", "1", "REV", "REV"], "ERR syntax error"),
        (&["ZRANGE", "z", "0", "1", "LIMIT", "0"], "ERR syntax error"),
        (&["ZRANGEBYSCORE", "z", "0", "1", "REV"], "ERR syntax error"),
        (&["ZREVRANGE", "z", "0", "1", "BYSCORE"], "ERR syntax error"),
        (&["ZRANGE", "z", "x", "1"], "ERR value is not an integer or out of range"),
        (&["ZRANGE", "z", "0", "1", "LIMIT", "x", "1"], "ERR value is not an integer or out of range"),
        (&["ZRANGE", "z", "x", "1", "BYSCORE"], "ERR min or max is not a float"),
        (&["ZRANGE", "z", "a", "c", "BYLEX"], "ERR min or max not valid string range item"),
        (&["ZRANGEBYLEX", "z", "-x", "+"], "ERR min or max not valid string range item"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }

    cmd(&mut c, &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "g"]).unwrap();
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "lex", "-", "[c"]), arr(&["a", "b", "c"]));
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "lex", "-", "(c"]), arr(&["a", "b"]));
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "lex", "[aaa", "(g"]), arr(&["b", "c", "d", "e", "f"]));
    assert_eq!(q(&mut c, &["ZREVRANGEBYLEX", "lex", "+", "[b", "LIMIT", "1", "2"]), arr(&["f", "e"]));
    assert_eq!(q(&mut c, &["ZRANGE", "lex", "[f", "[b", "BYLEX", "REV"]), arr(&["f", "e", "d", "c", "b"]));
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "lex", "+", "-"]), arr(&[]));
    assert_eq!(q(&mut c, &["ZLEXCOUNT", "lex", "[b", "(f"]), int(4));
    assert_eq!(q(&mut c, &["ZLEXCOUNT", "missing", "-", "+"]), int(0));
    assert_eq!(err(&mut c, &["ZLEXCOUNT", "lex", "b", "f"]), "ERR min or max not valid string range item");
    // Mixed scores: Redis's walk (checked against Redis 7.0).
    cmd(&mut c, &["ZADD", "mix", "1", "b", "2", "a", "3", "c", "4", "d"]).unwrap();
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "mix", "[b", "[c"]), arr(&["b", "a", "c"]));
    assert_eq!(q(&mut c, &["ZREVRANGEBYLEX", "mix", "[c", "[b"]), arr(&["c"]));
}

#[test]
fn removals_and_pops() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let reset = |c: &mut redis::Connection| {
        cmd(c, &["DEL", "z"]).unwrap();
        cmd(c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"]).unwrap();
    };
    reset(&mut c);
    assert_eq!(cmd(&mut c, &["ZREM", "z", "a", "x", "a"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["ZREMRANGEBYSCORE", "z", "(2", "4"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZRANGE", "z", "0", "-1"]).unwrap(), arr(&["b", "e"]));
    reset(&mut c);
    assert_eq!(cmd(&mut c, &["ZREMRANGEBYRANK", "z", "-2", "-1"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZREMRANGEBYRANK", "z", "5", "1"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["ZREMRANGEBYLEX", "z", "[a", "(c"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZRANGE", "z", "0", "-1"]).unwrap(), arr(&["c"]));
    assert_eq!(cmd(&mut c, &["ZREMRANGEBYRANK", "z", "0", "-1"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["EXISTS", "z"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["ZREMRANGEBYSCORE", "missing", "-inf", "+inf"]).unwrap(), int(0));
    assert_eq!(err(&mut c, &["ZREMRANGEBYSCORE", "z", "x", "1"]), "ERR min or max is not a float");
    assert_eq!(err(&mut c, &["ZREMRANGEBYLEX", "z", "x", "y"]), "ERR min or max not valid string range item");
    assert_eq!(err(&mut c, &["ZREMRANGEBYRANK", "z", "x", "1"]), "ERR value is not an integer or out of range");

    reset(&mut c);
    assert_eq!(cmd(&mut c, &["ZPOPMIN", "z"]).unwrap(), arr(&["a", "1"]));
    assert_eq!(cmd(&mut c, &["ZPOPMAX", "z"]).unwrap(), arr(&["e", "5"]));
    assert_eq!(cmd(&mut c, &["ZPOPMIN", "z", "0"]).unwrap(), arr(&[]));
    assert_eq!(cmd(&mut c, &["ZPOPMAX", "z", "2"]).unwrap(), arr(&["d", "4", "c", "3"]));
    assert_eq!(cmd(&mut c, &["ZPOPMIN", "z", "10"]).unwrap(), arr(&["b", "2"]));
    assert_eq!(cmd(&mut c, &["EXISTS", "z"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["ZPOPMIN", "z"]).unwrap(), arr(&[]));
    assert_eq!(cmd(&mut c, &["ZPOPMIN", "z", "3"]).unwrap(), arr(&[]));
    assert_eq!(err(&mut c, &["ZPOPMIN", "z", "-1"]), "ERR value is out of range, must be positive");
    assert_eq!(err(&mut c, &["ZPOPMIN", "z", "1", "2"]), "ERR syntax error");
    // RESP3: flat without a count, pairs with one.
    assert_eq!(raw(&srv, true, &[&["ZADD", "p", "1", "a", "2", "b"], &["ZPOPMIN", "p"]]), "*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(raw(&srv, true, &[&["ZPOPMAX", "p", "1"]]), "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
}

#[test]
fn stores() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["ZADD", "s1", "1", "a", "2", "b", "3", "c"]).unwrap();
    cmd(&mut c, &["ZADD", "s2", "10", "b", "20", "c", "30", "d"]).unwrap();
    cmd(&mut c, &["SADD", "set", "b", "c", "e"]).unwrap();
    assert_eq!(cmd(&mut c, &["ZUNIONSTORE", "out", "2", "s1", "s2"]).unwrap(), int(4));
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("a", "1"), ("b", "12"), ("c", "23"), ("d", "30")]));
    assert_eq!(cmd(&mut c, &["ZINTERSTORE", "out", "2", "s1", "s2"]).unwrap(), int(2));
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("b", "12"), ("c", "23")]));
    assert_eq!(
        cmd(&mut c, &["ZUNIONSTORE", "out", "3", "s1", "s2", "set", "WEIGHTS", "1", "2", "3", "AGGREGATE", "MAX"])
            .unwrap(),
        int(5)
    );
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("a", "1"), ("e", "3"), ("b", "20"), ("c", "40"), ("d", "60")]));
    assert_eq!(cmd(&mut c, &["ZINTERSTORE", "out", "3", "s1", "s2", "set", "AGGREGATE", "MIN"]).unwrap(), int(2));
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("b", "1"), ("c", "1")]));
    assert_eq!(cmd(&mut c, &["ZINTERSTORE", "out", "2", "s1", "missing"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["EXISTS", "out"]).unwrap(), int(0));
    // inf × 0 counts as 0; +inf + -inf sums to 0.
    cmd(&mut c, &["ZADD", "pinf", "inf", "x"]).unwrap();
    cmd(&mut c, &["ZADD", "ninf", "-inf", "x"]).unwrap();
    assert_eq!(cmd(&mut c, &["ZUNIONSTORE", "out", "1", "pinf", "WEIGHTS", "0"]).unwrap(), int(1));
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("x", "0")]));
    assert_eq!(cmd(&mut c, &["ZUNIONSTORE", "out", "2", "pinf", "ninf"]).unwrap(), int(1));
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("x", "0")]));
    // A new member's ZINCRBY / ZADD INCR replies with the increment as given, -0 included;
    // the stored score is 0 (as in Redis's listpack). Found by redis_diff.rs.
    assert_eq!(cmd(&mut c, &["ZINCRBY", "negzero", "-0", "x"]).unwrap(), Value::BulkString(b"-0".to_vec()));
    assert_eq!(cmd(&mut c, &["ZADD", "negzero", "INCR", "-0.0", "y"]).unwrap(), Value::BulkString(b"-0".to_vec()));
    assert_eq!(cmd(&mut c, &["ZSCORE", "negzero", "x"]).unwrap(), Value::BulkString(b"0".to_vec()));
    // Also for a later source: MAX(-inf, 0 × -inf = 0) is 0 (found by redis_diff.rs).
    let args = ["ZUNIONSTORE", "out", "2", "ninf", "ninf", "WEIGHTS", "1", "0", "AGGREGATE", "MAX"];
    assert_eq!(cmd(&mut c, &args).unwrap(), int(1));
    assert_eq!(all_with_scores(&mut c, "out"), pairs(&[("x", "0")]));
    // The destination may be a source, and anything it held is replaced.
    assert_eq!(cmd(&mut c, &["ZUNIONSTORE", "s1", "2", "s1", "s2"]).unwrap(), int(4));
    cmd(&mut c, &["SET", "str", "v"]).unwrap();
    assert_eq!(cmd(&mut c, &["ZINTERSTORE", "str", "1", "s2"]).unwrap(), int(3));
    assert_eq!(cmd(&mut c, &["TYPE", "str"]).unwrap(), Value::SimpleString("zset".into()));
    cmd(&mut c, &["SET", "str", "v"]).unwrap();
    for (args, e) in [
        (&["ZUNIONSTORE", "out", "0", "s1"][..], "ERR at least 1 input key is needed for 'zunionstore' command"),
        (&["ZINTERSTORE", "out", "-1", "s1"], "ERR at least 1 input key is needed for 'zinterstore' command"),
        (&["ZUNIONSTORE", "out", "x", "s1"], "ERR value is not an integer or out of range"),
        (&["ZUNIONSTORE", "out", "3", "s1", "s2"], "ERR syntax error"),
        (&["ZUNIONSTORE", "out", "2", "s1", "s2", "WEIGHTS", "1"], "ERR syntax error"),
        (&["ZUNIONSTORE", "out", "2", "s1", "s2", "WEIGHTS", "1", "x"], "ERR weight value is not a float"),
        (&["ZUNIONSTORE", "out", "2", "s1", "s2", "AGGREGATE", "foo"], "ERR syntax error"),
        (&["ZUNIONSTORE", "out", "2", "s1", "s2", "AGGREGATE"], "ERR syntax error"),
        (&["ZUNIONSTORE", "out", "2", "s1", "s2", "WITHSCORES"], "ERR syntax error"),
        // The inputs' types are checked before the options.
        (
            &["ZUNIONSTORE", "out", "2", "s1", "str", "WEIGHTS", "x"],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }

    assert_eq!(cmd(&mut c, &["ZRANGESTORE", "dst", "s2", "0", "-1"]).unwrap(), int(3));
    assert_eq!(all_with_scores(&mut c, "dst"), pairs(&[("b", "10"), ("c", "20"), ("d", "30")]));
    assert_eq!(
        cmd(&mut c, &["ZRANGESTORE", "dst", "s2", "(10", "+inf", "BYSCORE", "LIMIT", "0", "1"]).unwrap(),
        int(1)
    );
    assert_eq!(all_with_scores(&mut c, "dst"), pairs(&[("c", "20")]));
    assert_eq!(
        cmd(&mut c, &["ZRANGESTORE", "dst", "s2", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2"]).unwrap(),
        int(2)
    );
    assert_eq!(all_with_scores(&mut c, "dst"), pairs(&[("c", "20"), ("d", "30")]));
    assert_eq!(cmd(&mut c, &["ZRANGESTORE", "dst", "s2", "[c", "+", "BYLEX"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["ZRANGESTORE", "dst", "missing", "0", "-1"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["EXISTS", "dst"]).unwrap(), int(0));
    assert_eq!(err(&mut c, &["ZRANGESTORE", "dst", "s2", "0", "-1", "WITHSCORES"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["ZRANGESTORE", "dst", "str", "0", "-1"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn wrong_type_everywhere() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "str", "v"]).unwrap();
    const WT: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for args in [
        &["ZADD", "str", "1", "a"][..],
        &["ZINCRBY", "str", "1", "a"],
        &["ZREM", "str", "a"],
        &["ZCARD", "str"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZRANK", "str", "a"],
        &["ZREVRANK", "str", "a"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZRANGE", "str", "0", "1"],
        &["ZRANGEBYSCORE", "str", "0", "1"],
        &["ZRANGEBYLEX", "str", "-", "+"],
        &["ZLEXCOUNT", "str", "-", "+"],
        &["ZREMRANGEBYRANK", "str", "0", "1"],
        &["ZREMRANGEBYSCORE", "str", "0", "1"],
        &["ZREMRANGEBYLEX", "str", "-", "+"],
        &["ZPOPMIN", "str"],
        &["ZPOPMAX", "str", "2"],
        &["BZPOPMIN", "missing", "str", "1"],
        &["ZSCAN", "str", "0"],
        &["ZRANDMEMBER", "str"],
        &["ZRANDMEMBER", "str", "2"],
        &["ZUNIONSTORE", "d", "1", "str"],
        &["ZINTERSTORE", "d", "2", "missing", "str"],
    ] {
        assert_eq!(err(&mut c, args), WT, "{args:?}");
    }
    // Argument errors come before the key is looked at.
    assert_eq!(err(&mut c, &["ZCOUNT", "str", "x", "1"]), "ERR min or max is not a float");
    assert_eq!(err(&mut c, &["ZADD", "str", "x", "a"]), "ERR value is not a valid float");
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "str", "x"]), "ERR value is not an integer or out of range");
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(srv: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.shared.blocking.count() != n {
        assert!(Instant::now() < deadline, "expected {n} blocked clients, have {}", srv.shared.blocking.count());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn blocked(srv: &TestServer, args: &'static [&'static str]) -> std::thread::JoinHandle<redis::RedisResult<Value>> {
    let url = srv.url();
    std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        cmd(&mut c, args)
    })
}

#[test]
fn bzpop_wakeups_and_timeouts() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    // Data already there: no blocking; the first non-empty key in order.
    cmd(&mut c, &["ZADD", "k2", "5", "m", "6", "n"]).unwrap();
    assert_eq!(cmd(&mut c, &["BZPOPMIN", "k1", "k2", "0"]).unwrap(), arr(&["k2", "m", "5"]));
    assert_eq!(cmd(&mut c, &["BZPOPMAX", "k1", "k2", "0"]).unwrap(), arr(&["k2", "n", "6"]));

    // ZADD wakes a blocked BZPOPMIN.
    let t = blocked(&srv, &["BZPOPMIN", "a", "b", "0"]);
    wait_blocked(&srv, 1);
    assert_eq!(cmd(&mut c, &["ZADD", "b", "3", "x", "1", "y"]).unwrap(), int(2));
    assert_eq!(t.join().unwrap().unwrap(), arr(&["b", "y", "1"]));
    wait_blocked(&srv, 0);
    assert_eq!(cmd(&mut c, &["ZRANGE", "b", "0", "-1"]).unwrap(), arr(&["x"]));
    cmd(&mut c, &["DEL", "b"]).unwrap();

    // ZINCRBY, ZUNIONSTORE/ZINTERSTORE/ZRANGESTORE destinations wake them too.
    let t = blocked(&srv, &["BZPOPMAX", "inc", "0"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["ZINCRBY", "inc", "2.5", "m"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), arr(&["inc", "m", "2.5"]));
    cmd(&mut c, &["ZADD", "src", "7", "s"]).unwrap();
    for store in [
        &["ZUNIONSTORE", "dst", "1", "src"][..],
        &["ZINTERSTORE", "dst", "1", "src"],
        &["ZRANGESTORE", "dst", "src", "0", "-1"],
    ] {
        let t = blocked(&srv, &["BZPOPMIN", "dst", "0"]);
        wait_blocked(&srv, 1);
        assert_eq!(cmd(&mut c, store).unwrap(), int(1));
        assert_eq!(t.join().unwrap().unwrap(), arr(&["dst", "s", "7"]), "{store:?}");
        wait_blocked(&srv, 0);
    }

    // First come, first served.
    let first = blocked(&srv, &["BZPOPMIN", "q", "0"]);
    wait_blocked(&srv, 1);
    let second = blocked(&srv, &["BZPOPMIN", "q", "0"]);
    wait_blocked(&srv, 2);
    cmd(&mut c, &["ZADD", "q", "1", "one"]).unwrap();
    wait_blocked(&srv, 1);
    cmd(&mut c, &["ZADD", "q", "2", "two"]).unwrap();
    assert_eq!(first.join().unwrap().unwrap(), arr(&["q", "one", "1"]));
    assert_eq!(second.join().unwrap().unwrap(), arr(&["q", "two", "2"]));

    // A timeout replies a null array (RESP2 *-1, RESP3 _).
    let start = Instant::now();
    assert_eq!(cmd(&mut c, &["BZPOPMIN", "nothing", "0.2"]).unwrap(), Value::Nil);
    assert!(start.elapsed() >= Duration::from_millis(180), "{:?}", start.elapsed());
    assert_eq!(raw(&srv, false, &[&["BZPOPMAX", "nothing", "0.05"]]), "*-1\r\n");
    assert_eq!(raw(&srv, true, &[&["BZPOPMAX", "nothing", "0.05"]]), "_\r\n");
    assert_eq!(
        raw(&srv, true, &[&["ZADD", "r3", "1.1", "m"], &["BZPOPMIN", "r3", "0"]]),
        "*3\r\n$2\r\nr3\r\n$1\r\nm\r\n,1.1000000000000001\r\n"
    );
    assert_eq!(err(&mut c, &["BZPOPMIN", "k", "-1"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BZPOPMIN", "k", "x"]), "ERR timeout is not a float or out of range");
    // Inside MULTI it does not block.
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["BZPOPMIN", "nothing", "0"]).unwrap();
    cmd(&mut c, &["ZADD", "m", "1", "a"]).unwrap();
    cmd(&mut c, &["BZPOPMAX", "m", "0"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Nil, int(1), arr(&["m", "a", "1"])]));
    // A key that turns into another type while a client waits is skipped, not an error.
    let t = blocked(&srv, &["BZPOPMIN", "wt", "ok", "0"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["SET", "wt", "v"]).unwrap();
    cmd(&mut c, &["ZADD", "ok", "1", "x"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), arr(&["ok", "x", "1"]));
}

#[test]
fn watch_sees_store_destinations() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut other = srv.conn();
    cmd(&mut c, &["ZADD", "src", "1", "a"]).unwrap();
    for (watched, write) in [
        ("d", &["ZUNIONSTORE", "d", "1", "src"][..]),
        ("d", &["ZINTERSTORE", "d", "1", "src", "WEIGHTS", "2"]),
        ("d", &["ZRANGESTORE", "d", "src", "0", "-1"]),
        // An empty result deletes the destination: a change only if it existed.
        ("e", &["ZINTERSTORE", "e", "1", "missing"]),
        ("src", &["ZPOPMIN", "src"]),
        ("src", &["ZADD", "src", "1", "a"]),
        ("src", &["BZPOPMAX", "src", "0"]),
    ] {
        if watched == "e" {
            cmd(&mut c, &["ZADD", "e", "1", "x"]).unwrap();
        }
        cmd(&mut c, &["WATCH", watched]).unwrap();
        cmd(&mut other, write).unwrap();
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["PING"]).unwrap();
        assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Nil, "{write:?} must abort a WATCH on {watched}");
    }
}

#[test]
fn zscan_and_zrandmember() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..300 {
        args.push(i.to_string());
        args.push(format!("m{i:03}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(cmd(&mut c, &a).unwrap(), int(300));
    let seen: Vec<(String, f64)> = redis::cmd("ZSCAN")
        .arg("z")
        .cursor_arg(0)
        .arg("COUNT")
        .arg(7)
        .clone()
        .iter::<(String, f64)>(&mut c)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen.len(), 300);
    assert!(seen.iter().all(|(m, s)| m[1..].parse::<f64>().unwrap() == *s));
    assert_eq!(cmd(&mut c, &["ZSCAN", "missing", "0"]).unwrap(), Value::Array(vec![bulk("0"), arr(&[])]));
    assert_eq!(err(&mut c, &["ZSCAN", "z", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["ZSCAN", "z", "0", "COUNT", "0"]), "ERR syntax error");

    let Value::BulkString(one) = cmd(&mut c, &["ZRANDMEMBER", "z"]).unwrap() else { panic!() };
    assert!(one.starts_with(b"m"));
    let Value::Array(v) = cmd(&mut c, &["ZRANDMEMBER", "z", "10", "WITHSCORES"]).unwrap() else { panic!() };
    assert_eq!(v.len(), 20);
    let distinct: BTreeSet<_> = v.iter().step_by(2).map(|m| format!("{m:?}")).collect();
    assert_eq!(distinct.len(), 10);
    let Value::Array(v) = cmd(&mut c, &["ZRANDMEMBER", "z", "-500"]).unwrap() else { panic!() };
    assert_eq!(v.len(), 500);
    let Value::Array(v) = cmd(&mut c, &["ZRANDMEMBER", "z", "1000"]).unwrap() else { panic!() };
    assert_eq!(v.len(), 300);
    assert_eq!(cmd(&mut c, &["ZRANDMEMBER", "z", "0"]).unwrap(), arr(&[]));
    assert_eq!(cmd(&mut c, &["ZRANDMEMBER", "missing"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZRANDMEMBER", "missing", "3", "WITHSCORES"]).unwrap(), arr(&[]));
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "z", "1", "FOO"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"]), "ERR value is out of range");
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "z", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        raw(&srv, true, &[&["ZADD", "one", "7", "x"], &["ZRANDMEMBER", "one", "-2", "WITHSCORES"]]),
        "*2\r\n*2\r\n$1\r\nx\r\n,7\r\n*2\r\n$1\r\nx\r\n,7\r\n"
    );
}

/// A sorted set of 200 000 members: updates, lookups and narrow ranges stay cheap.
#[test]
fn big_zset_is_updated_fine() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    const N: i64 = 200_000;
    for chunk in 0..N / 10_000 {
        let mut add = redis::cmd("ZADD");
        add.arg("big");
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            add.arg(i).arg(format!("user:{i:08}"));
        }
        let added: i64 = add.query(&mut c).unwrap();
        assert_eq!(added, 10_000);
    }
    assert_eq!(cmd(&mut c, &["ZCARD", "big"]).unwrap(), int(N));
    let start = Instant::now();
    for i in 0..200 {
        let m = format!("user:{:08}", i * 997);
        assert_eq!(cmd(&mut c, &["ZADD", "big", "XX", "CH", &format!("{}.5", i * 997), &m]).unwrap(), int(1));
        assert_eq!(cmd(&mut c, &["ZSCORE", "big", &m]).unwrap(), bulk(&format!("{}.5", i * 997)));
        assert_eq!(
            cmd(&mut c, &["ZRANGEBYSCORE", "big", "(100000", "100002"]).unwrap(),
            arr(&["user:00100001", "user:00100002"])
        );
    }
    assert_eq!(cmd(&mut c, &["ZCOUNT", "big", "1000", "(1010"]).unwrap(), int(10));
    assert_eq!(cmd(&mut c, &["ZRANK", "big", "user:00000010"]).unwrap(), int(10));
    assert_eq!(cmd(&mut c, &["ZREVRANK", "big", "user:00199990"]).unwrap(), int(9));
    assert_eq!(cmd(&mut c, &["ZRANGE", "big", "-1", "-1"]).unwrap(), arr(&["user:00199999"]));
    assert_eq!(cmd(&mut c, &["ZPOPMIN", "big"]).unwrap(), arr(&["user:00000000", "0.5"]));
    assert_eq!(cmd(&mut c, &["ZREM", "big", "user:00000001"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["ZCARD", "big"]).unwrap(), int(N - 2));
    let Value::Array(r) = cmd(&mut c, &["ZRANDMEMBER", "big", "-5"]).unwrap() else { panic!() };
    assert_eq!(r.len(), 5);
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
}

/// Writes of both families acknowledged before a SIGKILL are all there after a restart
/// (`appendfsync always`): adds, increments, pops, STORE destinations.
#[test]
fn sigkill_loses_no_acknowledged_write() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let srv = common::ServerProcess::start(&dir, &["--appendfsync", "always"]);
    let mut c = srv.conn();
    let mut fill = redis::cmd("ZADD");
    fill.arg("queue");
    for i in 0..5000 {
        fill.arg(i).arg(format!("job:{i:05}"));
    }
    let _: i64 = fill.query(&mut c).unwrap();
    let acked = Arc::new(AtomicI64::new(-1));
    let writer = {
        let mut con = srv.conn();
        let acked = acked.clone();
        std::thread::spawn(move || {
            for i in 0i64..5000 {
                let m = format!("m{i}");
                let ok = (|| -> redis::RedisResult<()> {
                    let _: i64 = redis::cmd("ZADD").arg("z").arg(i).arg(&m).query(&mut con)?;
                    let _: i64 = redis::cmd("SADD").arg("s").arg(&m).query(&mut con)?;
                    let n: f64 = redis::cmd("ZINCRBY").arg("counter").arg(1).arg("c").query(&mut con)?;
                    assert_eq!(n, (i + 1) as f64);
                    let popped: Vec<String> = redis::cmd("ZPOPMIN").arg("queue").query(&mut con)?;
                    assert_eq!(popped[0], format!("job:{i:05}"));
                    let n: i64 = redis::cmd("ZUNIONSTORE").arg("u").arg(2).arg("z").arg("s").query(&mut con)?;
                    assert_eq!(n, i + 1);
                    let n: i64 = redis::cmd("SINTERSTORE").arg("si").arg("s").query(&mut con)?;
                    assert_eq!(n, i + 1);
                    Ok(())
                })();
                if ok.is_err() {
                    return; // the server is gone
                }
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    srv.kill9();
    writer.join().unwrap();
    let last = acked.load(Ordering::SeqCst);
    assert!(last >= 200, "the writer made too little progress ({last})");

    let srv = common::ServerProcess::start(&dir, &["--appendfsync", "always"]);
    let mut c = srv.conn();
    let count = |c: &mut redis::Connection, args: &[&str]| match cmd(c, args).unwrap() {
        Value::Int(n) => n,
        other => panic!("{args:?}: {other:?}"),
    };
    // The iteration in flight at the kill may have landed in part.
    let zcard = count(&mut c, &["ZCARD", "z"]);
    assert!(zcard == last + 1 || zcard == last + 2, "ZCARD {zcard}, last acknowledged {last}");
    for i in 0..=last {
        let m = format!("m{i}");
        assert_eq!(cmd(&mut c, &["ZSCORE", "z", &m]).unwrap(), bulk(&i.to_string()), "{m}");
        assert_eq!(count(&mut c, &["SISMEMBER", "s", &m]), 1, "{m}");
    }
    let Value::BulkString(n) = cmd(&mut c, &["ZSCORE", "counter", "c"]).unwrap() else { panic!() };
    let n: i64 = String::from_utf8(n).unwrap().parse().unwrap();
    assert!(n == last + 1 || n == last + 2, "counter {n}, last acknowledged {last}");
    let left = count(&mut c, &["ZCARD", "queue"]);
    assert!(left == 5000 - (last + 1) || left == 5000 - (last + 2), "queue {left}, last acknowledged {last}");
    // Popped jobs stay popped; the ones never popped are all there.
    assert_eq!(cmd(&mut c, &["ZSCORE", "queue", &format!("job:{last:05}")]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["ZSCORE", "queue", "job:04999"]).unwrap(), bulk("4999"));
    let u = count(&mut c, &["ZCARD", "u"]);
    assert!(u == last + 1 || u == last + 2, "ZUNIONSTORE destination {u}, last acknowledged {last}");
    let si = count(&mut c, &["SCARD", "si"]);
    assert!(si == last + 1 || si == last + 2, "SINTERSTORE destination {si}, last acknowledged {last}");
    let status = srv.terminate();
    assert!(status.success(), "SIGTERM exit status {status}");
}
