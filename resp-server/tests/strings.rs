//! String commands over a real socket with redis-rs, replies and errors as Redis 7 gives them.

mod common;

use common::{cmd, err, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn set_options_and_conditions() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["SET", "k", "v1"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["SET", "k", "v2", "NX"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["SET", "k", "v2", "XX"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["SET", "other", "x", "XX"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["EXISTS", "other"]).unwrap(), Value::Int(0));
    // GET returns the old value whether or not the write happened.
    assert_eq!(cmd(&mut c, &["SET", "k", "v3", "GET"]).unwrap(), bulk("v2"));
    assert_eq!(cmd(&mut c, &["SET", "k", "v4", "NX", "GET"]).unwrap(), bulk("v3"));
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), bulk("v3"));
    assert_eq!(cmd(&mut c, &["SET", "new", "n", "GET"]).unwrap(), Value::Nil);
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "BOGUS"],
    ] {
        assert_eq!(err(&mut c, bad), "ERR syntax error", "{bad:?}");
    }
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "0"]), "ERR invalid expire time in 'set' command");
    assert_eq!(err(&mut c, &["SET", "k", "v", "PX", "-5"]), "ERR invalid expire time in 'set' command");
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "EX", "9223372036854775807"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "ten"]), "ERR value is not an integer or out of range");
}

#[test]
fn expiry_of_strings() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "k", "v", "EX", "100"]).unwrap();
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(100));
    // KEEPTTL keeps it, a plain SET clears it.
    cmd(&mut c, &["SET", "k", "v2", "KEEPTTL"]).unwrap();
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(100));
    cmd(&mut c, &["SET", "k", "v3"]).unwrap();
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(-1));
    // An absolute time in the past makes the key vanish at once.
    cmd(&mut c, &["SET", "k", "v", "PXAT", "1"]).unwrap();
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), Value::Nil);
    cmd(&mut c, &["SET", "k", "v", "PX", "150"]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["SETEX", "s", "50", "v"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["TTL", "s"]).unwrap(), Value::Int(50));
    assert_eq!(cmd(&mut c, &["PSETEX", "p", "50000", "v"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["TTL", "p"]).unwrap(), Value::Int(50));
    assert_eq!(err(&mut c, &["SETEX", "s", "0", "v"]), "ERR invalid expire time in 'setex' command");
    assert_eq!(err(&mut c, &["PSETEX", "s", "-1", "v"]), "ERR invalid expire time in 'psetex' command");
    // GETEX changes the expiry and returns the value.
    assert_eq!(cmd(&mut c, &["GETEX", "s", "EX", "500"]).unwrap(), bulk("v"));
    assert_eq!(cmd(&mut c, &["TTL", "s"]).unwrap(), Value::Int(500));
    assert_eq!(cmd(&mut c, &["GETEX", "s", "PERSIST"]).unwrap(), bulk("v"));
    assert_eq!(cmd(&mut c, &["TTL", "s"]).unwrap(), Value::Int(-1));
    assert_eq!(cmd(&mut c, &["GETEX", "s"]).unwrap(), bulk("v"));
    assert_eq!(cmd(&mut c, &["GETEX", "missing", "EX", "5"]).unwrap(), Value::Nil);
    assert_eq!(err(&mut c, &["GETEX", "s", "EX", "0"]), "ERR invalid expire time in 'getex' command");
    assert_eq!(err(&mut c, &["GETEX", "s", "PERSIST", "EX", "10"]), "ERR syntax error");
}

#[test]
fn get_set_family() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["SETNX", "k", "a"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["SETNX", "k", "b"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["GETSET", "k", "c"]).unwrap(), bulk("a"));
    assert_eq!(cmd(&mut c, &["GETSET", "fresh", "c"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["GETDEL", "k"]).unwrap(), bulk("c"));
    assert_eq!(cmd(&mut c, &["GETDEL", "k"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["MSET", "a", "1", "b", "2"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["MGET", "a", "nope", "b"]).unwrap(), Value::Array(vec![bulk("1"), Value::Nil, bulk("2")]));
    assert_eq!(err(&mut c, &["MSET", "a", "1", "b"]), "ERR wrong number of arguments for 'mset' command");
    assert_eq!(cmd(&mut c, &["MSETNX", "x", "1", "a", "9"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXISTS", "x"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["MSETNX", "x", "1", "y", "2"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["MGET", "x", "y"]).unwrap(), Value::Array(vec![bulk("1"), bulk("2")]));
    // Binary safety: every byte value round-trips.
    let all: Vec<u8> = (0..=255u8).collect();
    redis::cmd("SET").arg("bin").arg(&all).query::<()>(&mut c).unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("bin").query(&mut c).unwrap();
    assert_eq!(back, all);
    // A key of another type: GET is WRONGTYPE, MGET reads nil, SET overwrites.
    srv.shared.colls.sadd(&[&[0u8][..], b"set"].concat(), &[b"m"]).unwrap();
    assert_eq!(err(&mut c, &["GET", "set"]), "WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(cmd(&mut c, &["MGET", "set"]).unwrap(), Value::Array(vec![Value::Nil]));
    assert_eq!(
        err(&mut c, &["SET", "set", "v", "GET"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(cmd(&mut c, &["SET", "set", "v"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["TYPE", "set"]).unwrap(), Value::SimpleString("string".into()));
}

#[test]
fn ranges_and_appends() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["APPEND", "s", "Hello"]).unwrap(), Value::Int(5));
    assert_eq!(cmd(&mut c, &["APPEND", "s", " World"]).unwrap(), Value::Int(11));
    assert_eq!(cmd(&mut c, &["STRLEN", "s"]).unwrap(), Value::Int(11));
    assert_eq!(cmd(&mut c, &["STRLEN", "none"]).unwrap(), Value::Int(0));
    for (a, b, want) in [
        ("0", "4", "Hello"),
        ("-5", "-1", "World"),
        ("0", "-1", "Hello World"),
        ("6", "100", "World"),
        ("5", "2", ""),
        ("-1", "-5", ""),
        ("-100", "2", "Hel"),
        ("20", "30", ""),
    ] {
        assert_eq!(cmd(&mut c, &["GETRANGE", "s", a, b]).unwrap(), bulk(want), "{a} {b}");
    }
    assert_eq!(cmd(&mut c, &["GETRANGE", "none", "0", "-1"]).unwrap(), bulk(""));
    assert_eq!(cmd(&mut c, &["SETRANGE", "s", "6", "Redis"]).unwrap(), Value::Int(11));
    assert_eq!(cmd(&mut c, &["GET", "s"]).unwrap(), bulk("Hello Redis"));
    assert_eq!(cmd(&mut c, &["SETRANGE", "pad", "3", "ab"]).unwrap(), Value::Int(5));
    assert_eq!(cmd(&mut c, &["GET", "pad"]).unwrap(), Value::BulkString(b"\0\0\0ab".to_vec()));
    assert_eq!(cmd(&mut c, &["SETRANGE", "none2", "5", ""]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXISTS", "none2"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["SETRANGE", "s", "0", ""]).unwrap(), Value::Int(11));
    assert_eq!(err(&mut c, &["SETRANGE", "s", "-1", "x"]), "ERR offset is out of range");
    assert_eq!(
        err(&mut c, &["SETRANGE", "s", "536870911", "xx"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
}

#[test]
fn counters() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["INCR", "n"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["INCRBY", "n", "41"]).unwrap(), Value::Int(42));
    assert_eq!(cmd(&mut c, &["DECR", "n"]).unwrap(), Value::Int(41));
    assert_eq!(cmd(&mut c, &["DECRBY", "n", "-9"]).unwrap(), Value::Int(50));
    assert_eq!(cmd(&mut c, &["GET", "n"]).unwrap(), bulk("50"));
    cmd(&mut c, &["SET", "n", "100", "EX", "1000"]).unwrap();
    assert_eq!(cmd(&mut c, &["INCR", "n"]).unwrap(), Value::Int(101));
    assert_eq!(cmd(&mut c, &["TTL", "n"]).unwrap(), Value::Int(1000), "INCR keeps the TTL");
    cmd(&mut c, &["SET", "max", "9223372036854775807"]).unwrap();
    assert_eq!(err(&mut c, &["INCR", "max"]), "ERR increment or decrement would overflow");
    assert_eq!(err(&mut c, &["DECRBY", "n", "-9223372036854775808"]), "ERR decrement would overflow");
    cmd(&mut c, &["SET", "s", "abc"]).unwrap();
    for bad in [&["INCR", "s"][..], &["INCRBY", "n", "1.5"], &["INCRBY", "n", " 1"]] {
        assert_eq!(err(&mut c, bad), "ERR value is not an integer or out of range", "{bad:?}");
    }
    cmd(&mut c, &["SET", "lead", "01"]).unwrap();
    assert_eq!(err(&mut c, &["INCR", "lead"]), "ERR value is not an integer or out of range");
    assert_eq!(cmd(&mut c, &["INCRBYFLOAT", "f", "10.5"]).unwrap(), bulk("10.5"));
    assert_eq!(cmd(&mut c, &["INCRBYFLOAT", "f", "0.1"]).unwrap(), bulk("10.6"));
    assert_eq!(cmd(&mut c, &["INCRBYFLOAT", "f", "-5.6"]).unwrap(), bulk("5"));
    cmd(&mut c, &["SET", "e", "1e3"]).unwrap();
    assert_eq!(cmd(&mut c, &["INCRBYFLOAT", "e", "1"]).unwrap(), bulk("1001"));
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "s", "1"]), "ERR value is not a valid float");
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "abc"]), "ERR value is not a valid float");
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "inf"]), "ERR increment would produce NaN or Infinity");
}

#[test]
fn pipelined_writes_keep_their_order() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("k{}", i % 100)).arg(i).ignore();
        p.cmd("INCR").arg("counter").ignore();
    }
    p.cmd("GET").arg("k99").cmd("GET").arg("counter");
    let (last, count): (String, i64) = p.query(&mut c).unwrap();
    assert_eq!(last, "1999");
    assert_eq!(count, 2000);
    // Runs of blind writes (SET, MSET) are coalesced into one engine write; the effects and
    // replies stay those of the commands in order, and other commands in between see them.
    // A malformed MSET inside a run gets its own error; the writes around it still happen.
    let mut raw = std::net::TcpStream::connect(srv.addr).unwrap();
    std::io::Write::write_all(&mut raw, b"SET c x\r\nMSET c y d\r\nSET e z\r\nGET c\r\nGET e\r\n").unwrap();
    let want = "+OK\r\n-ERR wrong number of arguments for 'mset' command\r\n+OK\r\n$1\r\nx\r\n$1\r\nz\r\n";
    let mut got = vec![0u8; want.len()];
    std::io::Read::read_exact(&mut raw, &mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), want);
    let mut p = redis::pipe();
    p.cmd("SET").arg("a").arg("1").ignore();
    p.cmd("MSET").arg("a").arg("2").arg("b").arg("3").ignore();
    p.cmd("SET").arg("b").arg("4").ignore();
    p.cmd("GET").arg("a").cmd("GET").arg("b");
    let (a, b): (String, String) = p.query(&mut c).unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("2", "4"));
    let raw = cmd(&mut c, &["MGET", "a", "b"]).unwrap();
    assert_eq!(raw, Value::Array(vec![bulk("2"), bulk("4")]));
}

/// Long values are sent from the store's mapping with `writev` rather than copied into the
/// output buffer: whole, in order among short replies, in pipelines of more pieces than one
/// `writev` takes (IOV_MAX), inside MULTI/EXEC, and still intact while the key is overwritten.
#[test]
fn long_values_are_sent_whole_and_in_order() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let long: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let huge: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    redis::cmd("SET").arg("long").arg(&long).query::<()>(&mut c).unwrap();
    redis::cmd("SET").arg("huge").arg(&huge).query::<()>(&mut c).unwrap();
    redis::cmd("SET").arg("short").arg("s").query::<()>(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg("huge").query(&mut c).unwrap();
    assert!(got == huge);
    // 700 long GETs interleaved with short ones and an overwrite: > 1024 writev pieces.
    let mut p = redis::pipe();
    for i in 0..700 {
        p.cmd("GET").arg("long");
        p.cmd("GET").arg("short");
        if i == 350 {
            p.cmd("SET").arg("long").arg(&huge[..40_000]).ignore();
        }
    }
    let replies: Vec<Vec<u8>> = p.query(&mut c).unwrap();
    assert_eq!(replies.len(), 1400);
    for (i, r) in replies.iter().enumerate() {
        let want: &[u8] = match (i % 2, i / 2 <= 350) {
            (1, _) => b"s",
            (0, true) => &long,
            _ => &huge[..40_000],
        };
        assert!(r[..] == *want, "reply {i}: {} bytes", r.len());
    }
    let (a, b): (Vec<u8>, Vec<u8>) =
        redis::pipe().atomic().cmd("GET").arg("huge").cmd("GET").arg("short").query(&mut c).unwrap();
    assert!(a == huge && b == b"s");
}
