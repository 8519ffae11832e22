//! Set commands over real sockets with redis-rs (and raw RESP where the exact bytes matter):
//! replies and errors as Redis 7.0 gives them, WRONGTYPE, RESP3 sets, SSCAN with numeric
//! cursors, WATCH on STORE destinations, MULTI, and a 200k-member set updated fine.

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

/// The members of an array or set reply, sorted.
fn members(v: Value) -> Vec<String> {
    let (Value::Array(items) | Value::Set(items)) = v else { panic!("not a collection: {v:?}") };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk string: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Reads one complete RESP reply and returns its bytes.
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

#[test]
fn add_remove_membership_and_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["SADD", "s", "a", "b", "c", "a"]).unwrap(), int(3));
    assert_eq!(cmd(&mut c, &["SADD", "s", "a", "d"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["SREM", "s", "a", "x"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["SREM", "missing", "a"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), int(3));
    assert_eq!(cmd(&mut c, &["SCARD", "missing"]).unwrap(), int(0));
    assert_eq!(members(cmd(&mut c, &["SMEMBERS", "s"]).unwrap()), strs(&["b", "c", "d"]));
    assert_eq!(members(cmd(&mut c, &["SMEMBERS", "missing"]).unwrap()), Vec::<String>::new());
    assert_eq!(cmd(&mut c, &["SISMEMBER", "s", "b"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["SISMEMBER", "s", "a"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SISMEMBER", "missing", "a"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SMISMEMBER", "s", "b", "zz", "c"]).unwrap(), Value::Array(vec![int(1), int(0), int(1)]));
    assert_eq!(cmd(&mut c, &["SMISMEMBER", "missing", "a"]).unwrap(), Value::Array(vec![int(0)]));
    // Removing the last member deletes the key.
    assert_eq!(cmd(&mut c, &["SREM", "s", "b", "c", "d"]).unwrap(), int(3));
    assert_eq!(cmd(&mut c, &["EXISTS", "s"]).unwrap(), int(0));
    assert_eq!(err(&mut c, &["SADD", "s"]), "ERR wrong number of arguments for 'sadd' command");
    assert_eq!(err(&mut c, &["SMISMEMBER", "s"]), "ERR wrong number of arguments for 'smismember' command");
    assert_eq!(err(&mut c, &["SINTERCARD", "1"]), "ERR wrong number of arguments for 'sintercard' command");
    assert_eq!(cmd(&mut c, &["TYPE", "s2"]).unwrap(), Value::SimpleString("none".into()));
    cmd(&mut c, &["SADD", "s2", "x"]).unwrap();
    assert_eq!(cmd(&mut c, &["TYPE", "s2"]).unwrap(), Value::SimpleString("set".into()));
}

#[test]
fn wrong_type_everywhere() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "str", "v"]).unwrap();
    cmd(&mut c, &["SADD", "s", "a"]).unwrap();
    const WT: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for args in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "-2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SINTER", "missing", "str"],
        &["SUNION", "s", "str"],
        &["SDIFF", "s", "str"],
        &["SINTERSTORE", "d", "missing", "str"],
        &["SUNIONSTORE", "d", "s", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SINTERCARD", "2", "missing", "str"],
        &["SSCAN", "str", "0"],
        &["SSCAN", "str", "0", "COUNT", "0"],
    ] {
        assert_eq!(err(&mut c, args), WT, "{args:?}");
    }
    // A missing source makes SMOVE a no-op before the destination's type is looked at.
    assert_eq!(cmd(&mut c, &["SMOVE", "missing", "str", "a"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["GET", "str"]).unwrap(), bulk("v"));
}

#[test]
fn spop_and_srandmember() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let all: Vec<String> = (0..50).map(|i| format!("m{i:02}")).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(all.iter().map(String::as_str));
    cmd(&mut c, &args).unwrap();
    let all: BTreeSet<String> = all.into_iter().collect();

    let one = members(Value::Array(vec![cmd(&mut c, &["SRANDMEMBER", "s"]).unwrap()]));
    assert!(all.contains(&one[0]));
    let five = members(cmd(&mut c, &["SRANDMEMBER", "s", "5"]).unwrap());
    assert_eq!(five.len(), 5);
    assert_eq!(five.iter().collect::<BTreeSet<_>>().len(), 5, "distinct");
    assert_eq!(members(cmd(&mut c, &["SRANDMEMBER", "s", "100"]).unwrap()).len(), 50);
    let rep = members(cmd(&mut c, &["SRANDMEMBER", "s", "-200"]).unwrap());
    assert_eq!(rep.len(), 200);
    assert!(rep.iter().all(|m| all.contains(m)));
    assert_eq!(cmd(&mut c, &["SRANDMEMBER", "s", "0"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["SRANDMEMBER", "missing"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["SRANDMEMBER", "missing", "3"]).unwrap(), Value::Array(vec![]));
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "1", "2"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), int(50));

    let mut left = all.clone();
    let popped = cmd(&mut c, &["SPOP", "s"]).unwrap();
    let Value::BulkString(p) = popped else { panic!("{popped:?}") };
    assert!(left.remove(&String::from_utf8(p).unwrap()));
    for n in [3usize, 30] {
        let got = members(cmd(&mut c, &["SPOP", "s", &n.to_string()]).unwrap());
        assert_eq!(got.len(), n);
        for m in got {
            assert!(left.remove(&m), "{m} popped twice or never there");
        }
        assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), int(left.len() as i64));
    }
    assert_eq!(cmd(&mut c, &["SPOP", "s", "0"]).unwrap(), Value::Array(vec![]));
    assert_eq!(err(&mut c, &["SPOP", "s", "-1"]), "ERR value is out of range, must be positive");
    assert_eq!(err(&mut c, &["SPOP", "s", "x"]), "ERR value is out of range, must be positive");
    assert_eq!(err(&mut c, &["SPOP", "s", "1", "2"]), "ERR syntax error");
    let rest = members(cmd(&mut c, &["SPOP", "s", "1000"]).unwrap());
    assert_eq!(rest.into_iter().collect::<BTreeSet<_>>(), left);
    assert_eq!(cmd(&mut c, &["EXISTS", "s"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SPOP", "s"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["SPOP", "s", "2"]).unwrap(), Value::Array(vec![]));
}

#[test]
fn algebra_and_stores() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SADD", "a", "1", "2", "3", "4"]).unwrap();
    cmd(&mut c, &["SADD", "b", "3", "4", "5"]).unwrap();
    cmd(&mut c, &["SADD", "c", "4", "5", "6"]).unwrap();
    let q = |c: &mut redis::Connection, args: &[&str]| members(cmd(c, args).unwrap());
    assert_eq!(q(&mut c, &["SINTER", "a", "b"]), strs(&["3", "4"]));
    assert_eq!(q(&mut c, &["SINTER", "a", "b", "c"]), strs(&["4"]));
    assert_eq!(q(&mut c, &["SINTER", "a", "missing"]), strs(&[]));
    assert_eq!(q(&mut c, &["SUNION", "a", "b", "c", "missing"]), strs(&["1", "2", "3", "4", "5", "6"]));
    assert_eq!(q(&mut c, &["SDIFF", "a", "b"]), strs(&["1", "2"]));
    assert_eq!(q(&mut c, &["SDIFF", "a", "b", "c"]), strs(&["1", "2"]));
    assert_eq!(q(&mut c, &["SDIFF", "a", "a"]), strs(&[]));
    assert_eq!(q(&mut c, &["SDIFF", "missing", "a"]), strs(&[]));

    assert_eq!(cmd(&mut c, &["SINTERSTORE", "d", "a", "b"]).unwrap(), int(2));
    assert_eq!(q(&mut c, &["SMEMBERS", "d"]), strs(&["3", "4"]));
    assert_eq!(cmd(&mut c, &["SUNIONSTORE", "d", "a", "c"]).unwrap(), int(6));
    assert_eq!(cmd(&mut c, &["SDIFFSTORE", "d", "a", "b"]).unwrap(), int(2));
    assert_eq!(q(&mut c, &["SMEMBERS", "d"]), strs(&["1", "2"]));
    assert_eq!(cmd(&mut c, &["SINTERSTORE", "d", "a", "missing"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["EXISTS", "d"]).unwrap(), int(0));
    // The destination is replaced whatever it was, and its TTL goes with it.
    cmd(&mut c, &["SET", "str", "v", "EX", "100"]).unwrap();
    assert_eq!(cmd(&mut c, &["SUNIONSTORE", "str", "b"]).unwrap(), int(3));
    assert_eq!(cmd(&mut c, &["TYPE", "str"]).unwrap(), Value::SimpleString("set".into()));
    assert_eq!(cmd(&mut c, &["TTL", "str"]).unwrap(), int(-1));
    // A source can be the destination.
    assert_eq!(cmd(&mut c, &["SDIFFSTORE", "a", "a", "b"]).unwrap(), int(2));
    assert_eq!(q(&mut c, &["SMEMBERS", "a"]), strs(&["1", "2"]));

    cmd(&mut c, &["SADD", "a", "3", "4"]).unwrap();
    assert_eq!(cmd(&mut c, &["SINTERCARD", "2", "a", "b"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "0"]).unwrap(), int(2));
    assert_eq!(cmd(&mut c, &["SINTERCARD", "1", "missing"]).unwrap(), int(0));
    for (args, e) in [
        (&["SINTERCARD", "0", "a"][..], "ERR numkeys should be greater than 0"),
        (&["SINTERCARD", "x", "a"], "ERR numkeys should be greater than 0"),
        (&["SINTERCARD", "3", "a", "b"], "ERR Number of keys can't be greater than number of args"),
        (&["SINTERCARD", "1", "a", "LIMIT", "-1"], "ERR LIMIT can't be negative"),
        (&["SINTERCARD", "1", "a", "LIMIT", "x"], "ERR LIMIT can't be negative"),
        (&["SINTERCARD", "1", "a", "LIMIT"], "ERR syntax error"),
        (&["SINTERCARD", "1", "a", "FOO", "1"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
}

#[test]
fn smove_semantics() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SADD", "a", "1", "2"]).unwrap();
    assert_eq!(cmd(&mut c, &["SMOVE", "a", "b", "1"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["SMOVE", "a", "b", "1"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SMOVE", "missing", "b", "1"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SMOVE", "a", "a", "2"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["SMOVE", "a", "a", "9"]).unwrap(), int(0));
    assert_eq!(cmd(&mut c, &["SMOVE", "a", "b", "2"]).unwrap(), int(1));
    assert_eq!(cmd(&mut c, &["EXISTS", "a"]).unwrap(), int(0));
    assert_eq!(members(cmd(&mut c, &["SMEMBERS", "b"]).unwrap()), strs(&["1", "2"]));
}

#[test]
fn sscan_with_numeric_cursors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let all: Vec<String> = (0..250).map(|i| format!("member:{i}")).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(all.iter().map(String::as_str));
    cmd(&mut c, &args).unwrap();
    // redis-rs's iterator parses the cursors as integers, as clients do.
    let seen: BTreeSet<String> = redis::cmd("SSCAN")
        .arg("s")
        .cursor_arg(0)
        .clone()
        .iter::<String>(&mut c)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen, all.iter().cloned().collect());
    // By hand, with COUNT and MATCH.
    let mut cursor = "0".to_string();
    let mut matched = BTreeSet::new();
    let mut calls = 0;
    loop {
        let Value::Array(reply) = cmd(&mut c, &["SSCAN", "s", &cursor, "MATCH", "member:1*", "COUNT", "40"]).unwrap()
        else {
            panic!()
        };
        let Value::BulkString(next) = &reply[0] else { panic!() };
        cursor = String::from_utf8(next.clone()).unwrap();
        cursor.parse::<u64>().expect("numeric cursor");
        matched.extend(members(reply[1].clone()));
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls >= 250 / 40, "COUNT bounds the work per call ({calls} calls)");
    let exp: BTreeSet<String> = all.iter().filter(|m| m.starts_with("member:1")).cloned().collect();
    assert_eq!(matched, exp);
    let empty = Value::Array(vec![bulk("0"), Value::Array(vec![])]);
    assert_eq!(cmd(&mut c, &["SSCAN", "missing", "0"]).unwrap(), empty);
    assert_eq!(cmd(&mut c, &["SSCAN", "missing", "0", "COUNT", "0"]).unwrap(), empty);
    assert_eq!(err(&mut c, &["SSCAN", "s", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "COUNT", "0"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "COUNT", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["SSCAN", "s", "0", "MATCH"]), "ERR syntax error");
    // An unknown cursor (or -1, which strtoul wraps) restarts the scan.
    let Value::Array(r) = cmd(&mut c, &["SSCAN", "s", "-1", "COUNT", "1000"]).unwrap() else { panic!() };
    assert_eq!(members(r[1].clone()).len(), 250);
}

#[test]
fn resp3_replies() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SADD", "s", "a", "b"]).unwrap();
    cmd(&mut c, &["SADD", "t", "b", "c"]).unwrap();
    for args in [&["SMEMBERS", "s"][..], &["SINTER", "s", "t"], &["SUNION", "s", "t"], &["SDIFF", "s", "t"]] {
        assert!(raw(&srv, true, &[args]).starts_with('~'), "{args:?}");
        assert!(raw(&srv, false, &[args]).starts_with('*'), "{args:?}");
    }
    assert_eq!(raw(&srv, true, &[&["SMEMBERS", "missing"]]), "~0\r\n");
    assert_eq!(raw(&srv, true, &[&["SINTER", "s", "missing"]]), "~0\r\n");
    assert_eq!(raw(&srv, true, &[&["SPOP", "missing", "2"]]), "~0\r\n");
    assert_eq!(raw(&srv, true, &[&["SPOP", "missing"]]), "_\r\n");
    assert_eq!(raw(&srv, false, &[&["SPOP", "missing"]]), "$-1\r\n");
    assert_eq!(raw(&srv, true, &[&["SRANDMEMBER", "missing", "2"]]), "*0\r\n");
    assert_eq!(raw(&srv, true, &[&["SRANDMEMBER", "s", "-3"]]).lines().next(), Some("*3"));
    assert_eq!(raw(&srv, true, &[&["SMISMEMBER", "s", "a", "z"]]), "*2\r\n:1\r\n:0\r\n");
    assert_eq!(raw(&srv, true, &[&["SADD", "p", "x", "y"], &["SPOP", "p", "1"]]).lines().next(), Some("~1"));
    let mut c3 = srv.conn3();
    assert!(matches!(cmd(&mut c3, &["SMEMBERS", "s"]).unwrap(), Value::Set(_)));
}

#[test]
fn watch_sees_store_destinations() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut other = srv.conn();
    cmd(&mut c, &["SADD", "a", "1"]).unwrap();
    for (watched, write) in [
        ("d", &["SINTERSTORE", "d", "a"][..]),
        ("d", &["SUNIONSTORE", "d", "a"]),
        ("d", &["SDIFFSTORE", "d", "a"]),
        ("dst", &["SMOVE", "a", "dst", "1"]),
        ("a", &["SMOVE", "dst", "a", "1"]),
        // An empty result deletes the destination: a change only if it existed.
        ("e", &["SINTERSTORE", "e", "missing"]),
    ] {
        if watched == "e" {
            cmd(&mut c, &["SADD", "e", "x"]).unwrap();
        }
        cmd(&mut c, &["WATCH", watched]).unwrap();
        cmd(&mut other, write).unwrap();
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["PING"]).unwrap();
        assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Nil, "{write:?} must abort a WATCH on {watched}");
    }
    // Writes that change nothing do not (Redis signals only modified keys): an empty
    // result for a destination that does not exist, a DEL or ZREM of what is not there.
    for write in
        [&["SINTERSTORE", "none", "missing"][..], &["DEL", "none"], &["ZREM", "none", "m"], &["SREM", "a", "zz"]]
    {
        let key = write[1];
        cmd(&mut c, &["WATCH", key]).unwrap();
        cmd(&mut other, write).unwrap();
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["PING"]).unwrap();
        assert_eq!(
            cmd(&mut c, &["EXEC"]).unwrap(),
            Value::Array(vec![Value::SimpleString("PONG".into())]),
            "{write:?} changed nothing: the WATCH on {key} holds"
        );
    }
    // A read does not.
    cmd(&mut c, &["WATCH", "a"]).unwrap();
    cmd(&mut other, &["SINTERCARD", "1", "a"]).unwrap();
    cmd(&mut other, &["SMEMBERS", "a"]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["PING"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::SimpleString("PONG".into())]));
}

#[test]
fn transactions_recreate_sets() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["MULTI"]).unwrap();
    for args in [
        &["SADD", "s", "a", "b"][..],
        &["DEL", "s"],
        &["SADD", "s", "c"],
        &["SUNIONSTORE", "t", "s"],
        &["SPOP", "s"],
        &["SADD", "s", "d"],
    ] {
        cmd(&mut c, args).unwrap();
    }
    let Value::Array(replies) = cmd(&mut c, &["EXEC"]).unwrap() else { panic!() };
    assert_eq!(replies, vec![int(2), int(1), int(1), int(1), bulk("c"), int(1)]);
    assert_eq!(members(cmd(&mut c, &["SMEMBERS", "s"]).unwrap()), strs(&["d"]));
    assert_eq!(members(cmd(&mut c, &["SMEMBERS", "t"]).unwrap()), strs(&["c"]));
    assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), int(1));
}

/// A set of 200 000 members: single-member updates, lookups and random draws stay cheap.
#[test]
fn big_set_is_updated_fine() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    const N: usize = 200_000;
    for chunk in 0..N / 10_000 {
        let mut pipe = redis::cmd("SADD");
        pipe.arg("big");
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            pipe.arg(format!("user:{i:08}"));
        }
        let added: i64 = pipe.query(&mut c).unwrap();
        assert_eq!(added, 10_000);
    }
    assert_eq!(cmd(&mut c, &["SCARD", "big"]).unwrap(), int(N as i64));
    let start = Instant::now();
    for i in 0..200 {
        let m = format!("extra:{i}");
        assert_eq!(cmd(&mut c, &["SADD", "big", &m]).unwrap(), int(1));
        assert_eq!(cmd(&mut c, &["SISMEMBER", "big", &m]).unwrap(), int(1));
        assert_eq!(cmd(&mut c, &["SREM", "big", &m]).unwrap(), int(1));
        assert_eq!(cmd(&mut c, &["SISMEMBER", "big", "user:00123456"]).unwrap(), int(1));
    }
    let popped = members(cmd(&mut c, &["SPOP", "big", "10"]).unwrap());
    assert_eq!(popped.len(), 10);
    assert_eq!(members(cmd(&mut c, &["SRANDMEMBER", "big", "-20"]).unwrap()).len(), 20);
    assert_eq!(cmd(&mut c, &["SCARD", "big"]).unwrap(), int(N as i64 - 10));
    // 800 single-member commands and a few draws: far from a scan of 200k members each.
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
    let Value::Array(page) = cmd(&mut c, &["SSCAN", "big", "0", "COUNT", "5"]).unwrap() else { panic!() };
    assert_eq!(members(page[1].clone()).len(), 5);
    assert_eq!(cmd(&mut c, &["SINTERCARD", "2", "big", "big", "LIMIT", "100"]).unwrap(), int(100));
}
