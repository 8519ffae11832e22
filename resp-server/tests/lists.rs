//! The list family over real sockets (redis-rs and raw RESP): every command with Redis 7.0's
//! replies, errors and WRONGTYPE, the reply types that differ between RESP2 and RESP3, the
//! blocking variants (wake-up order, timeouts, BLMOVE chains waking clients blocked on the
//! destination, MULTI), WATCH, a 1M-element list, and acknowledged list changes surviving a
//! SIGKILL of the real binary.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cmd, err, ServerProcess, TestServer};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

fn ints(items: &[i64]) -> Value {
    Value::Array(items.iter().map(|&i| Value::Int(i)).collect())
}

fn range(c: &mut redis::Connection, key: &str) -> Value {
    cmd(c, &["LRANGE", key, "0", "-1"]).unwrap()
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(srv: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.shared.blocking.count() != n {
        assert!(Instant::now() < deadline, "expected {n} blocked clients, have {}", srv.shared.blocking.count());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a command on its own connection in a thread (for commands that block).
fn spawn(srv: &TestServer, args: &[&str]) -> std::thread::JoinHandle<redis::RedisResult<Value>> {
    let url = srv.url();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd(&mut c, &a)
    })
}

/// Sends raw RESP and reads exactly `want.len()` bytes of reply.
fn raw(srv: &TestServer, send: &str, want: &str) {
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(send.as_bytes()).unwrap();
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), want, "reply to {send:?}");
}

#[test]
fn lpos_matches_ranks_counts_and_maxlen() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]).unwrap();
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c"]).unwrap(), Value::Int(2));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "RANK", "2"]).unwrap(), Value::Int(6));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "rank", "-1"]).unwrap(), Value::Int(7));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "RANK", "1", "RANK", "2"]).unwrap(), Value::Int(6), "last wins");
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "COUNT", "0"]).unwrap(), ints(&[2, 6, 7]));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "COUNT", "2", "RANK", "-1"]).unwrap(), ints(&[7, 6]));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "COUNT", "0", "RANK", "2"]).unwrap(), ints(&[6, 7]));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "MAXLEN", "2"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "MAXLEN", "3", "COUNT", "0"]).unwrap(), ints(&[2]));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1", "COUNT", "0"]).unwrap(), ints(&[7]));
    // Redis negates LONG_MIN into itself: it behaves like -1.
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "RANK", "-9223372036854775808"]).unwrap(), Value::Int(7));
    assert_eq!(cmd(&mut c, &["LPOS", "l", "c", "RANK", "9223372036854775807"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["LPOS", "l", "zz"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["LPOS", "l", "zz", "COUNT", "0"]).unwrap(), ints(&[]));
    assert_eq!(cmd(&mut c, &["LPOS", "missing", "c"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["LPOS", "missing", "c", "COUNT", "1"]).unwrap(), ints(&[]));
    // Errors, options before the key.
    let rank0 = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "RANK", "0"]), rank0);
    assert_eq!(err(&mut c, &["LPOS", "missing", "c", "RANK", "0"]), rank0);
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "RANK", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "COUNT", "-1"]), "ERR COUNT can't be negative");
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "COUNT", "x"]), "ERR COUNT can't be negative");
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "MAXLEN", "-1"]), "ERR MAXLEN can't be negative");
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "RANK"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "FOO", "1"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["LPOS", "l"]), "ERR wrong number of arguments for 'lpos' command");
    cmd(&mut c, &["SET", "s", "x"]).unwrap();
    assert_eq!(err(&mut c, &["LPOS", "s", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LPOS", "s", "x", "RANK", "0"]), rank0);
}

#[test]
fn linsert_and_lrem() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "l", "a", "b", "c", "b"]).unwrap();
    assert_eq!(cmd(&mut c, &["LINSERT", "l", "BEFORE", "b", "x"]).unwrap(), Value::Int(5));
    assert_eq!(cmd(&mut c, &["LINSERT", "l", "after", "b", "y"]).unwrap(), Value::Int(6));
    assert_eq!(cmd(&mut c, &["LINSERT", "l", "AFTER", "b", "z"]).unwrap(), Value::Int(7));
    assert_eq!(cmd(&mut c, &["LINSERT", "l", "before", "a", "first"]).unwrap(), Value::Int(8));
    assert_eq!(cmd(&mut c, &["LINSERT", "l", "after", "nope", "q"]).unwrap(), Value::Int(-1));
    assert_eq!(range(&mut c, "l"), bulks(&["first", "a", "x", "b", "z", "y", "c", "b"]));
    assert_eq!(cmd(&mut c, &["LINSERT", "missing", "before", "a", "q"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXISTS", "missing"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["LINSERT", "l", "middle", "a", "q"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["LINSERT", "missing", "middle", "a", "q"]), "ERR syntax error");

    cmd(&mut c, &["RPUSH", "r", "x", "a", "x", "b", "x", "c", "x"]).unwrap();
    assert_eq!(cmd(&mut c, &["LREM", "r", "2", "x"]).unwrap(), Value::Int(2));
    assert_eq!(range(&mut c, "r"), bulks(&["a", "b", "x", "c", "x"]));
    assert_eq!(cmd(&mut c, &["LREM", "r", "-1", "x"]).unwrap(), Value::Int(1));
    assert_eq!(range(&mut c, "r"), bulks(&["a", "b", "x", "c"]));
    assert_eq!(cmd(&mut c, &["LREM", "r", "0", "x"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["LREM", "r", "0", "nope"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["LREM", "missing", "0", "x"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["LREM", "missing", "x", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(cmd(&mut c, &["LREM", "r", "-100", "a"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["LREM", "r", "0", "b"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["LREM", "r", "1", "c"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["EXISTS", "r"]).unwrap(), Value::Int(0), "an emptied list is deleted");

    cmd(&mut c, &["SET", "s", "x"]).unwrap();
    assert_eq!(err(&mut c, &["LINSERT", "s", "before", "a", "b"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LINSERT", "s", "middle", "a", "b"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["LREM", "s", "0", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LREM", "s", "x", "x"]), "ERR value is not an integer or out of range");
}

#[test]
fn lmove_rpoplpush_and_rotation() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "src", "1", "2", "3"]).unwrap();
    assert_eq!(cmd(&mut c, &["LMOVE", "src", "dst", "RIGHT", "LEFT"]).unwrap(), bulk("3"));
    assert_eq!(cmd(&mut c, &["LMOVE", "src", "dst", "left", "right"]).unwrap(), bulk("1"));
    assert_eq!(range(&mut c, "dst"), bulks(&["3", "1"]));
    assert_eq!(cmd(&mut c, &["RPOPLPUSH", "src", "dst"]).unwrap(), bulk("2"));
    assert_eq!(cmd(&mut c, &["EXISTS", "src"]).unwrap(), Value::Int(0));
    assert_eq!(range(&mut c, "dst"), bulks(&["2", "3", "1"]));
    assert_eq!(cmd(&mut c, &["LMOVE", "missing", "dst", "LEFT", "LEFT"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["RPOPLPUSH", "missing", "dst"]).unwrap(), Value::Nil);
    // Rotation, both ways, and onto the same end.
    assert_eq!(cmd(&mut c, &["LMOVE", "dst", "dst", "LEFT", "RIGHT"]).unwrap(), bulk("2"));
    assert_eq!(range(&mut c, "dst"), bulks(&["3", "1", "2"]));
    assert_eq!(cmd(&mut c, &["RPOPLPUSH", "dst", "dst"]).unwrap(), bulk("2"));
    assert_eq!(range(&mut c, "dst"), bulks(&["2", "3", "1"]));
    assert_eq!(cmd(&mut c, &["LMOVE", "dst", "dst", "RIGHT", "RIGHT"]).unwrap(), bulk("1"));
    assert_eq!(range(&mut c, "dst"), bulks(&["2", "3", "1"]));
    cmd(&mut c, &["RPUSH", "one", "x"]).unwrap();
    assert_eq!(cmd(&mut c, &["RPOPLPUSH", "one", "one"]).unwrap(), bulk("x"));
    assert_eq!(range(&mut c, "one"), bulks(&["x"]));
    // Errors: the ends first, then the source, then the destination.
    cmd(&mut c, &["SET", "s", "v"]).unwrap();
    assert_eq!(err(&mut c, &["LMOVE", "dst", "x", "UP", "LEFT"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["LMOVE", "s", "x", "LEFT", "DOWN"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["LMOVE", "dst", "s", "LEFT", "LEFT"]), WRONGTYPE);
    assert_eq!(range(&mut c, "dst"), bulks(&["2", "3", "1"]), "nothing was popped");
    assert_eq!(err(&mut c, &["LMOVE", "s", "dst", "LEFT", "LEFT"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["RPOPLPUSH", "s", "dst"]), WRONGTYPE);
    assert_eq!(cmd(&mut c, &["LMOVE", "missing", "s", "LEFT", "LEFT"]).unwrap(), Value::Nil);
    assert_eq!(err(&mut c, &["LMOVE", "a", "b"]), "ERR wrong number of arguments for 'lmove' command");
}

#[test]
fn lmpop_parses_like_redis_and_pops_from_the_first_list() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "b", "1", "2", "3", "4"]).unwrap();
    assert_eq!(cmd(&mut c, &["LMPOP", "2", "a", "b", "LEFT"]).unwrap(), Value::Array(vec![bulk("b"), bulks(&["1"])]));
    assert_eq!(
        cmd(&mut c, &["LMPOP", "2", "a", "b", "right", "count", "2"]).unwrap(),
        Value::Array(vec![bulk("b"), bulks(&["4", "3"])])
    );
    assert_eq!(
        cmd(&mut c, &["LMPOP", "1", "b", "LEFT", "COUNT", "10"]).unwrap(),
        Value::Array(vec![bulk("b"), bulks(&["2"])])
    );
    assert_eq!(cmd(&mut c, &["EXISTS", "b"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["LMPOP", "2", "a", "b", "LEFT"]).unwrap(), Value::Nil);
    for (args, e) in [
        (&["LMPOP", "0", "a", "LEFT"][..], "ERR numkeys should be greater than 0"),
        (&["LMPOP", "-1", "a", "LEFT"], "ERR numkeys should be greater than 0"),
        (&["LMPOP", "x", "a", "LEFT"], "ERR numkeys should be greater than 0"),
        (&["LMPOP", "2", "a", "LEFT"], "ERR syntax error"),
        (&["LMPOP", "9223372036854775807", "a", "LEFT"], "ERR syntax error"),
        (&["LMPOP", "1", "a", "MIDDLE"], "ERR syntax error"),
        (&["LMPOP", "1", "a", "LEFT", "COUNT", "0"], "ERR count should be greater than 0"),
        (&["LMPOP", "1", "a", "LEFT", "COUNT", "-1"], "ERR count should be greater than 0"),
        (&["LMPOP", "1", "a", "LEFT", "COUNT", "x"], "ERR count should be greater than 0"),
        (&["LMPOP", "1", "a", "LEFT", "COUNT"], "ERR syntax error"),
        (&["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2"], "ERR syntax error"),
        (&["LMPOP", "1", "a", "LEFT", "FOO"], "ERR syntax error"),
        (&["LMPOP", "1", "a"], "ERR wrong number of arguments for 'lmpop' command"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
    cmd(&mut c, &["SET", "s", "v"]).unwrap();
    cmd(&mut c, &["RPUSH", "l", "x", "y"]).unwrap();
    assert_eq!(err(&mut c, &["LMPOP", "2", "s", "l", "LEFT"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LMPOP", "2", "missing", "s", "LEFT"]), WRONGTYPE);
    assert_eq!(cmd(&mut c, &["LMPOP", "2", "l", "s", "RIGHT"]).unwrap(), Value::Array(vec![bulk("l"), bulks(&["y"])]));
    // COMMAND INFO: no fixed key positions, movable keys.
    let Value::Array(info) = cmd(&mut c, &["COMMAND", "INFO", "lmpop", "lmove"]).unwrap() else { panic!() };
    let Value::Array(lmpop) = &info[0] else { panic!("{info:?}") };
    assert_eq!(&lmpop[1..2], &[Value::Int(-4)]);
    assert!(format!("{:?}", lmpop[2]).contains("movablekeys"), "{:?}", lmpop[2]);
    assert_eq!(&lmpop[3..6], &[Value::Int(0), Value::Int(0), Value::Int(0)]);
    let Value::Array(lmove) = &info[1] else { panic!("{info:?}") };
    assert_eq!(&lmove[3..6], &[Value::Int(1), Value::Int(2), Value::Int(1)]);
}

#[test]
fn audited_core_commands_check_arguments_in_redis_order() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "l", "a", "b", "c"]).unwrap();
    cmd(&mut c, &["SET", "s", "x"]).unwrap();
    // LINDEX and LSET look the key up before parsing the index.
    assert_eq!(cmd(&mut c, &["LINDEX", "missing", "x"]).unwrap(), Value::Nil);
    assert_eq!(err(&mut c, &["LINDEX", "s", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LINDEX", "l", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(cmd(&mut c, &["LINDEX", "l", "-3"]).unwrap(), bulk("a"));
    assert_eq!(cmd(&mut c, &["LINDEX", "l", "-4"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["LINDEX", "l", "3"]).unwrap(), Value::Nil);
    assert_eq!(err(&mut c, &["LSET", "missing", "x", "v"]), "ERR no such key");
    assert_eq!(err(&mut c, &["LSET", "missing", "0", "v"]), "ERR no such key");
    assert_eq!(err(&mut c, &["LSET", "s", "x", "v"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LSET", "l", "x", "v"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["LSET", "l", "3", "v"]), "ERR index out of range");
    assert_eq!(err(&mut c, &["LSET", "l", "-4", "v"]), "ERR index out of range");
    assert_eq!(cmd(&mut c, &["LSET", "l", "-1", "C"]).unwrap(), Value::Okay);
    // LRANGE and LTRIM parse their indices first.
    assert_eq!(err(&mut c, &["LRANGE", "s", "x", "0"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["LRANGE", "s", "0", "1"]), WRONGTYPE);
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "-100", "100"]).unwrap(), bulks(&["a", "b", "C"]));
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "2", "1"]).unwrap(), bulks(&[]));
    assert_eq!(err(&mut c, &["LTRIM", "s", "x", "0"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["LTRIM", "s", "0", "1"]), WRONGTYPE);
    assert_eq!(cmd(&mut c, &["LTRIM", "missing", "0", "1"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["LTRIM", "l", "1", "-1"]).unwrap(), Value::Okay);
    assert_eq!(range(&mut c, "l"), bulks(&["b", "C"]));
    assert_eq!(cmd(&mut c, &["LTRIM", "l", "5", "10"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["EXISTS", "l"]).unwrap(), Value::Int(0));
    // Pops.
    assert_eq!(err(&mut c, &["LPOP", "missing", "-1"]), "ERR value is out of range, must be positive");
    assert_eq!(err(&mut c, &["LPOP", "missing", "x"]), "ERR value is out of range, must be positive");
    assert_eq!(err(&mut c, &["LPOP", "s"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LPOP", "l", "1", "2"]), "ERR wrong number of arguments for 'lpop' command");
    // Timeouts: rounded up to milliseconds, too large ones are "negative" as in Redis 7.0.
    assert_eq!(err(&mut c, &["BLPOP", "k", "inf"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BLPOP", "k", "1e400"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BLPOP", "k", "1e30"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BLPOP", "k", "nan"]), "ERR timeout is not a float or out of range");
    assert_eq!(cmd(&mut c, &["BLPOP", "k", "0.0001"]).unwrap(), Value::Nil);
}

#[test]
fn null_reply_types_match_redis_in_resp2_and_resp3() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "l", "a"]).unwrap();
    let resp2 = [
        ("*3\r\n$4\r\nLPOS\r\n$7\r\nmissing\r\n$1\r\nx\r\n", "$-1\r\n"),
        ("*5\r\n$4\r\nLPOS\r\n$1\r\nl\r\n$1\r\nx\r\n$5\r\nCOUNT\r\n$1\r\n0\r\n", "*0\r\n"),
        ("*4\r\n$5\r\nLMPOP\r\n$1\r\n1\r\n$7\r\nmissing\r\n$4\r\nLEFT\r\n", "*-1\r\n"),
        ("*5\r\n$5\r\nLMOVE\r\n$7\r\nmissing\r\n$1\r\nd\r\n$4\r\nLEFT\r\n$4\r\nLEFT\r\n", "$-1\r\n"),
        ("*3\r\n$9\r\nRPOPLPUSH\r\n$7\r\nmissing\r\n$1\r\nd\r\n", "$-1\r\n"),
        // A blocked BLMOVE that times out replies a null array (Redis 7.0's timeout reply for
        // every list command), ...
        ("*6\r\n$6\r\nBLMOVE\r\n$7\r\nmissing\r\n$1\r\nd\r\n$4\r\nLEFT\r\n$4\r\nLEFT\r\n$4\r\n0.01\r\n", "*-1\r\n"),
        ("*4\r\n$10\r\nBRPOPLPUSH\r\n$7\r\nmissing\r\n$1\r\nd\r\n$4\r\n0.01\r\n", "*-1\r\n"),
        ("*5\r\n$6\r\nBLMPOP\r\n$4\r\n0.01\r\n$1\r\n1\r\n$7\r\nmissing\r\n$4\r\nLEFT\r\n", "*-1\r\n"),
        // ... but a null bulk where it may not block (inside MULTI).
        (
            "*1\r\n$5\r\nMULTI\r\n*6\r\n$6\r\nBLMOVE\r\n$7\r\nmissing\r\n$1\r\nd\r\n$4\r\nLEFT\r\n$4\r\nLEFT\r\n$1\r\n0\r\n*4\r\n$10\r\nBRPOPLPUSH\r\n$7\r\nmissing\r\n$1\r\nd\r\n$1\r\n0\r\n*5\r\n$6\r\nBLMPOP\r\n$1\r\n0\r\n$1\r\n1\r\n$7\r\nmissing\r\n$4\r\nLEFT\r\n*1\r\n$4\r\nEXEC\r\n",
            "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n$-1\r\n$-1\r\n*-1\r\n",
        ),
    ];
    for (send, want) in resp2 {
        raw(&srv, send, want);
    }
    // RESP3: every null is `_`.
    let hello = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(hello.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"%"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    for (send, _) in &resp2[..8] {
        s.write_all(send.as_bytes()).unwrap();
        let mut got = [0u8; 3];
        s.read_exact(&mut got).unwrap();
        let want = if send.contains("COUNT") { "*0\r" } else { "_\r\n" };
        assert_eq!(String::from_utf8_lossy(&got), want, "{send:?}");
        if want == "*0\r" {
            s.read_exact(&mut [0u8; 1]).unwrap();
        }
    }
    // redis-rs over RESP3 sees them as nil.
    let mut c3 = srv.conn3();
    assert_eq!(cmd(&mut c3, &["LPOS", "missing", "x"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c3, &["LMPOP", "1", "missing", "LEFT"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c3, &["BLMOVE", "missing", "d", "LEFT", "LEFT", "0.01"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c3, &["LMPOP", "1", "l", "LEFT"]).unwrap(), Value::Array(vec![bulk("l"), bulks(&["a"])]));
}

#[test]
fn blmove_chains_wake_clients_blocked_on_the_destination() {
    let srv = TestServer::start();
    // a -> b -> c, and a BLPOP at the end of the chain.
    let m1 = spawn(&srv, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    wait_blocked(&srv, 1);
    let m2 = spawn(&srv, &["BRPOPLPUSH", "b", "c", "0"]);
    wait_blocked(&srv, 2);
    let p = spawn(&srv, &["BLPOP", "c", "0"]);
    wait_blocked(&srv, 3);
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["RPUSH", "a", "job"]).unwrap(), Value::Int(1));
    assert_eq!(m1.join().unwrap().unwrap(), bulk("job"));
    assert_eq!(m2.join().unwrap().unwrap(), bulk("job"));
    assert_eq!(p.join().unwrap().unwrap(), bulks(&["c", "job"]));
    wait_blocked(&srv, 0);
    assert_eq!(cmd(&mut c, &["EXISTS", "a", "b", "c"]).unwrap(), Value::Int(0));
    // A non-blocking LMOVE into a key someone waits on wakes them too.
    let p = spawn(&srv, &["BLMPOP", "0", "2", "x", "dst", "RIGHT", "COUNT", "5"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["RPUSH", "src", "1", "2"]).unwrap();
    assert_eq!(cmd(&mut c, &["LMOVE", "src", "dst", "LEFT", "LEFT"]).unwrap(), bulk("1"));
    assert_eq!(p.join().unwrap().unwrap(), Value::Array(vec![bulk("dst"), bulks(&["1"])]));
    // A blocked rotation (source = destination) is served once and keeps the element.
    let r = spawn(&srv, &["BLMOVE", "rot", "rot", "LEFT", "RIGHT", "0"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["RPUSH", "rot", "x", "y"]).unwrap();
    assert_eq!(r.join().unwrap().unwrap(), bulk("x"));
    assert_eq!(range(&mut c, "rot"), bulks(&["y", "x"]));
}

#[test]
fn wake_up_order_is_first_come_first_served() {
    let srv = TestServer::start();
    let mut handles = Vec::new();
    let cmds: [&[&str]; 3] = [
        &["BRPOPLPUSH", "q", "d", "0"],
        &["BLMPOP", "0", "2", "other", "q", "LEFT", "COUNT", "2"],
        &["BLPOP", "q", "0"],
    ];
    for (i, args) in cmds.iter().enumerate() {
        handles.push(spawn(&srv, args));
        wait_blocked(&srv, i + 1);
    }
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "q", "a", "b", "c"]).unwrap();
    wait_blocked(&srv, 1);
    cmd(&mut c, &["LPUSH", "q", "z"]).unwrap();
    let got: Vec<Value> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    assert_eq!(got[0], bulk("c"), "the first to block takes the tail of the first push");
    assert_eq!(got[1], Value::Array(vec![bulk("q"), bulks(&["a", "b"])]));
    assert_eq!(got[2], bulks(&["q", "z"]));
    assert_eq!(range(&mut c, "d"), bulks(&["c"]));
}

#[test]
fn blocked_retries_follow_redis_on_type_changes_and_ready_keys() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    // The destination became a string while blocked: WRONGTYPE, nothing moved.
    let m = spawn(&srv, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["SET", "dst", "string"]).unwrap();
    cmd(&mut c, &["RPUSH", "src", "x"]).unwrap();
    assert_eq!(m.join().unwrap().unwrap_err().code(), Some("WRONGTYPE"));
    assert_eq!(range(&mut c, "src"), bulks(&["x"]));
    // Another of the waiter's keys became a string: it is served from the ready list.
    let p = spawn(&srv, &["BLMPOP", "0", "2", "a", "b", "LEFT"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["SET", "a", "string"]).unwrap();
    cmd(&mut c, &["RPUSH", "b", "y"]).unwrap();
    assert_eq!(p.join().unwrap().unwrap(), Value::Array(vec![bulk("b"), bulks(&["y"])]));
    // Two of its keys ready in one EXEC: served from the one signalled first.
    let p = spawn(&srv, &["BLPOP", "k1", "k2", "0"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["RPUSH", "k2", "second-key"]).unwrap();
    cmd(&mut c, &["RPUSH", "k1", "first-key"]).unwrap();
    cmd(&mut c, &["EXEC"]).unwrap();
    assert_eq!(p.join().unwrap().unwrap(), bulks(&["k2", "second-key"]));
}

#[test]
fn blocking_variants_time_out_and_do_not_block_in_multi() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    for args in [
        &["BLMOVE", "nothing", "d", "LEFT", "RIGHT", "0.1"][..],
        &["BRPOPLPUSH", "nothing", "d", "0.1"],
        &["BLMPOP", "0.1", "1", "nothing", "LEFT"],
    ] {
        let start = Instant::now();
        assert_eq!(cmd(&mut c, args).unwrap(), Value::Nil, "{args:?}");
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(90) && waited < Duration::from_secs(5), "{args:?}: {waited:?}");
    }
    wait_blocked(&srv, 0);
    assert_eq!(cmd(&mut c, &["EXISTS", "d"]).unwrap(), Value::Int(0));
    // Errors before blocking, in Redis's order.
    assert_eq!(err(&mut c, &["BLMOVE", "a", "b", "UP", "LEFT", "x"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["BLMOVE", "a", "b", "LEFT", "LEFT", "x"]), "ERR timeout is not a float or out of range");
    assert_eq!(err(&mut c, &["BLMOVE", "a", "b", "LEFT", "LEFT", "-1"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BRPOPLPUSH", "a", "b", "x"]), "ERR timeout is not a float or out of range");
    assert_eq!(err(&mut c, &["BLMPOP", "x", "0", "a", "LEFT"]), "ERR numkeys should be greater than 0");
    assert_eq!(err(&mut c, &["BLMPOP", "x", "1", "a", "UP"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["BLMPOP", "x", "1", "a", "LEFT", "COUNT", "0"]), "ERR count should be greater than 0");
    assert_eq!(err(&mut c, &["BLMPOP", "x", "1", "a", "LEFT"]), "ERR timeout is not a float or out of range");
    cmd(&mut c, &["SET", "s", "v"]).unwrap();
    assert_eq!(err(&mut c, &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["BLMPOP", "0", "2", "nothing", "s", "LEFT"]), WRONGTYPE);
    cmd(&mut c, &["RPUSH", "q", "1"]).unwrap();
    assert_eq!(err(&mut c, &["BLMOVE", "q", "s", "LEFT", "LEFT", "0"]), WRONGTYPE);
    // A missing source blocks even with a wrong-typed destination (Redis checks it later).
    assert_eq!(cmd(&mut c, &["BLMOVE", "nothing", "s", "LEFT", "LEFT", "0.01"]).unwrap(), Value::Nil);
    // Inside MULTI nothing blocks.
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["BLMOVE", "nothing", "d", "LEFT", "RIGHT", "0"]).unwrap();
    cmd(&mut c, &["BRPOPLPUSH", "nothing", "d", "0"]).unwrap();
    cmd(&mut c, &["BLMPOP", "0", "1", "nothing", "LEFT"]).unwrap();
    cmd(&mut c, &["BLMOVE", "q", "d", "LEFT", "RIGHT", "0"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Nil, Value::Nil, Value::Nil, bulk("1")]));
    assert_eq!(range(&mut c, "d"), bulks(&["1"]));
}

#[test]
fn watch_sees_list_changes_but_not_a_command_that_only_blocked() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut other = srv.conn();
    let changes: [&[&str]; 6] = [
        &["LMPOP", "2", "none", "w", "LEFT"],
        &["LMOVE", "src", "w", "LEFT", "LEFT"],
        &["RPOPLPUSH", "w", "elsewhere"],
        &["LINSERT", "w", "BEFORE", "a", "x"],
        &["LREM", "w", "0", "a"],
        &["BLMPOP", "0", "1", "w", "RIGHT"],
    ];
    for change in changes {
        cmd(&mut c, &["DEL", "w", "src"]).unwrap();
        cmd(&mut c, &["RPUSH", "w", "a", "b"]).unwrap();
        cmd(&mut c, &["RPUSH", "src", "s"]).unwrap();
        cmd(&mut c, &["WATCH", "w"]).unwrap();
        cmd(&mut other, change).unwrap();
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["RPUSH", "w", "mine"]).unwrap();
        assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Nil, "{change:?}");
    }
    // LMPOP popping another of its keys leaves the watched one alone.
    cmd(&mut c, &["RPUSH", "x", "1"]).unwrap();
    cmd(&mut c, &["WATCH", "w"]).unwrap();
    cmd(&mut other, &["LMPOP", "2", "x", "w", "LEFT"]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["LLEN", "w"]).unwrap();
    assert_ne!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Nil);
    // A client that blocks on a watched key changes nothing.
    cmd(&mut c, &["WATCH", "empty"]).unwrap();
    let b = spawn(&srv, &["BLMOVE", "empty", "dst", "LEFT", "LEFT", "0.2"]);
    wait_blocked(&srv, 1);
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["LLEN", "empty"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Int(0)]));
    assert_eq!(b.join().unwrap().unwrap(), Value::Nil);
}

#[test]
fn a_million_element_list_stays_fast_at_both_ends() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let n = 1_000_000usize;
    let chunk = 20_000usize;
    for start in (0..n).step_by(chunk) {
        let mut p = redis::cmd("RPUSH");
        p.arg("big");
        for i in start..start + chunk {
            p.arg(i);
        }
        let len: i64 = p.query(&mut c).unwrap();
        assert_eq!(len as usize, start + chunk);
    }
    assert_eq!(cmd(&mut c, &["LLEN", "big"]).unwrap(), Value::Int(n as i64));
    assert_eq!(cmd(&mut c, &["LINDEX", "big", "500000"]).unwrap(), bulk("500000"));
    assert_eq!(cmd(&mut c, &["LINDEX", "big", "-1"]).unwrap(), bulk("999999"));
    assert_eq!(cmd(&mut c, &["LRANGE", "big", "700000", "700002"]).unwrap(), bulks(&["700000", "700001", "700002"]));
    assert_eq!(cmd(&mut c, &["LPOP", "big"]).unwrap(), bulk("0"));
    assert_eq!(cmd(&mut c, &["RPOP", "big", "2"]).unwrap(), bulks(&["999999", "999998"]));
    assert_eq!(cmd(&mut c, &["LPUSH", "big", "head"]).unwrap(), Value::Int(n as i64 - 2));
    assert_eq!(cmd(&mut c, &["LSET", "big", "-1", "tail"]).unwrap(), Value::Okay);
    // Changes near the ends renumber a few elements, not the list.
    assert_eq!(cmd(&mut c, &["LINSERT", "big", "AFTER", "3", "x"]).unwrap(), Value::Int(n as i64 - 1));
    assert_eq!(cmd(&mut c, &["LPOS", "big", "tail", "RANK", "-1"]).unwrap(), Value::Int(n as i64 - 2));
    assert_eq!(cmd(&mut c, &["LPOS", "big", "x", "MAXLEN", "10"]).unwrap(), Value::Int(4));
    assert_eq!(cmd(&mut c, &["LREM", "big", "1", "x"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["LREM", "big", "-1", "tail"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["LMOVE", "big", "big", "LEFT", "RIGHT"]).unwrap(), bulk("head"));
    assert_eq!(cmd(&mut c, &["LINDEX", "big", "0"]).unwrap(), bulk("1"));
    assert_eq!(cmd(&mut c, &["LINDEX", "big", "-1"]).unwrap(), bulk("head"));
    assert_eq!(cmd(&mut c, &["LINDEX", "big", "-2"]).unwrap(), bulk("999996"));
    assert_eq!(cmd(&mut c, &["LLEN", "big"]).unwrap(), Value::Int(n as i64 - 3));
    // Keeping a little of a huge list copies what it keeps.
    assert_eq!(cmd(&mut c, &["LTRIM", "big", "-2", "-1"]).unwrap(), Value::Okay);
    assert_eq!(range(&mut c, "big"), bulks(&["999996", "head"]));
}

#[test]
fn acknowledged_list_changes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let srv = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let mut c = srv.conn();
    cmd(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]).unwrap();
    cmd(&mut c, &["LINSERT", "l", "AFTER", "c", "c2"]).unwrap();
    cmd(&mut c, &["LREM", "l", "0", "b"]).unwrap();
    cmd(&mut c, &["LMOVE", "l", "m", "LEFT", "RIGHT"]).unwrap();
    cmd(&mut c, &["RPOPLPUSH", "l", "l"]).unwrap();
    cmd(&mut c, &["LMPOP", "1", "l", "RIGHT", "COUNT", "1"]).unwrap();
    cmd(&mut c, &["LSET", "l", "0", "E"]).unwrap();
    srv.kill9();
    let srv = ServerProcess::start(dir.path(), &[]);
    let mut c = srv.conn();
    assert_eq!(range(&mut c, "l"), bulks(&["E", "c", "c2"]));
    assert_eq!(range(&mut c, "m"), bulks(&["a"]));
}
