//! Blocking pops over real sockets: wake-ups, first-come-first-served order, timeouts,
//! transactions, disconnects, and commands pipelined behind a blocked one.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cmd, err, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(srv: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.shared.blocking.count() != n {
        assert!(Instant::now() < deadline, "expected {n} blocked clients, have {}", srv.shared.blocking.count());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_push_wakes_a_blocked_pop() {
    let srv = TestServer::start();
    let url = srv.url();
    let t = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        cmd(&mut c, &["BLPOP", "empty", "jobs", "0"]).unwrap()
    });
    wait_blocked(&srv, 1);
    let mut p = srv.conn();
    assert_eq!(cmd(&mut p, &["RPUSH", "jobs", "j1", "j2"]).unwrap(), Value::Int(2));
    assert_eq!(t.join().unwrap(), Value::Array(vec![bulk("jobs"), bulk("j1")]));
    assert_eq!(cmd(&mut p, &["LRANGE", "jobs", "0", "-1"]).unwrap(), Value::Array(vec![bulk("j2")]));
    wait_blocked(&srv, 0);
    // Data already there: no blocking at all; BRPOP takes from the tail.
    assert_eq!(cmd(&mut p, &["BRPOP", "jobs", "1"]).unwrap(), Value::Array(vec![bulk("jobs"), bulk("j2")]));
}

#[test]
fn blocked_clients_are_served_in_the_order_they_blocked() {
    let srv = TestServer::start();
    let mut handles = Vec::new();
    for i in 0..3 {
        let url = srv.url();
        handles.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            cmd(&mut c, &["BLPOP", "q", "0"]).unwrap()
        }));
        wait_blocked(&srv, i + 1);
    }
    let mut p = srv.conn();
    for i in 0..3 {
        cmd(&mut p, &["LPUSH", "q", &format!("item{i}")]).unwrap();
        wait_blocked(&srv, 2 - i);
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Value::Array(vec![bulk("q"), bulk(&format!("item{i}"))]), "client {i}");
    }
    assert_eq!(cmd(&mut p, &["LLEN", "q"]).unwrap(), Value::Int(0));
}

#[test]
fn timeouts_errors_and_transactions() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let start = Instant::now();
    assert_eq!(cmd(&mut c, &["BLPOP", "nothing", "0.2"]).unwrap(), Value::Nil);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(180) && waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(err(&mut c, &["BLPOP", "k", "-1"]), "ERR timeout is negative");
    assert_eq!(err(&mut c, &["BLPOP", "k", "soon"]), "ERR timeout is not a float or out of range");
    // Inside MULTI a blocking pop does not block.
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["BLPOP", "nothing", "0"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Nil]));
    // A push inside MULTI wakes the blocked client only after EXEC.
    let url = srv.url();
    let t = std::thread::spawn(move || {
        let mut b = redis::Client::open(url).unwrap().get_connection().unwrap();
        cmd(&mut b, &["BRPOP", "tx", "0"]).unwrap()
    });
    wait_blocked(&srv, 1);
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["RPUSH", "tx", "a", "b"]).unwrap();
    cmd(&mut c, &["RPOP", "tx"]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(srv.shared.blocking.count(), 1, "nothing is served before EXEC");
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Int(2), bulk("b")]));
    assert_eq!(t.join().unwrap(), Value::Array(vec![bulk("tx"), bulk("a")]));
    // A key of the wrong type is an error, not a wait.
    cmd(&mut c, &["SET", "str", "x"]).unwrap();
    assert_eq!(
        err(&mut c, &["BLPOP", "str", "0"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn a_blocked_client_that_disconnects_leaves_no_trace() {
    let srv = TestServer::start();
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"BLPOP gone 0\r\n").unwrap();
    wait_blocked(&srv, 1);
    drop(s);
    wait_blocked(&srv, 0);
    let mut p = srv.conn();
    cmd(&mut p, &["RPUSH", "gone", "kept"]).unwrap();
    assert_eq!(cmd(&mut p, &["LRANGE", "gone", "0", "-1"]).unwrap(), Value::Array(vec![bulk("kept")]));
}

#[test]
fn commands_pipelined_after_a_blocked_one_wait_for_it() {
    let srv = TestServer::start();
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s);
    r.get_mut().write_all(b"BLPOP later 0\r\nSET after-block 1\r\nGET after-block\r\n").unwrap();
    wait_blocked(&srv, 1);
    let mut p = srv.conn();
    assert_eq!(cmd(&mut p, &["GET", "after-block"]).unwrap(), Value::Nil, "the SET waits behind the BLPOP");
    cmd(&mut p, &["LPUSH", "later", "x"]).unwrap();
    let mut got = String::new();
    for _ in 0..8 {
        r.read_line(&mut got).unwrap();
    }
    assert_eq!(got, "*2\r\n$5\r\nlater\r\n$1\r\nx\r\n+OK\r\n$1\r\n1\r\n");
}
