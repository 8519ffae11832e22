//! Pub/sub over real sockets: redis-rs subscribers, raw RESP2/RESP3 framing of pushes, the
//! subscribed-mode command restrictions, PUBSUB introspection, and the output limit that
//! disconnects a subscriber that does not read.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cmd, TestServer};
use redis::Value;

struct Raw {
    r: BufReader<TcpStream>,
}

impl Raw {
    fn connect(srv: &TestServer) -> Raw {
        let s = TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { r: BufReader::new(s) }
    }
    fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).unwrap();
    }
    fn lines(&mut self, n: usize) -> String {
        let mut s = String::new();
        for _ in 0..n {
            self.r.read_line(&mut s).unwrap();
        }
        s
    }
}

#[test]
fn redis_rs_subscriber_gets_channel_and_pattern_messages() {
    let srv = TestServer::start();
    let mut sub_con = srv.conn();
    let mut publisher = srv.conn();
    let mut ps = sub_con.as_pubsub();
    ps.subscribe("jobs").unwrap();
    ps.psubscribe("events.*").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(cmd(&mut publisher, &["PUBLISH", "jobs", "j1"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut publisher, &["PUBLISH", "events.train", "e1"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut publisher, &["PUBLISH", "nobody", "x"]).unwrap(), Value::Int(0));
    let m = ps.get_message().unwrap();
    assert_eq!((m.get_channel_name(), m.get_payload::<String>().unwrap()), ("jobs", "j1".to_string()));
    let m = ps.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "events.train");
    assert_eq!(m.get_pattern::<String>().unwrap(), "events.*");
    assert_eq!(m.get_payload::<String>().unwrap(), "e1");
    assert_eq!(
        cmd(&mut publisher, &["PUBSUB", "CHANNELS"]).unwrap(),
        Value::Array(vec![Value::BulkString(b"jobs".to_vec())])
    );
    assert_eq!(
        cmd(&mut publisher, &["PUBSUB", "NUMSUB", "jobs", "none"]).unwrap(),
        Value::Array(vec![
            Value::BulkString(b"jobs".to_vec()),
            Value::Int(1),
            Value::BulkString(b"none".to_vec()),
            Value::Int(0)
        ])
    );
    assert_eq!(cmd(&mut publisher, &["PUBSUB", "NUMPAT"]).unwrap(), Value::Int(1));
    ps.unsubscribe("jobs").unwrap();
    ps.punsubscribe("events.*").unwrap();
    drop(ps);
    assert_eq!(cmd(&mut publisher, &["PUBLISH", "jobs", "j2"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut publisher, &["PUBSUB", "NUMPAT"]).unwrap(), Value::Int(0));
}

#[test]
fn resp2_framing_and_subscribed_mode() {
    let srv = TestServer::start();
    let mut raw = Raw::connect(&srv);
    raw.send(b"SUBSCRIBE a b\r\n");
    assert_eq!(raw.lines(6), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(raw.lines(6), "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    raw.send(b"GET k\r\nPING\r\nPING hi\r\n");
    assert_eq!(
        raw.lines(1),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(raw.lines(5), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(raw.lines(5), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    let mut p = srv.conn();
    cmd(&mut p, &["PUBLISH", "b", "hello"]).unwrap();
    assert_eq!(raw.lines(7), "*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$5\r\nhello\r\n");
    raw.send(b"UNSUBSCRIBE\r\n");
    let both = raw.lines(12);
    assert!(both.contains("$1\r\na\r\n:1\r\n") && both.ends_with("$1\r\nb\r\n:0\r\n"), "{both}");
    raw.send(b"UNSUBSCRIBE\r\nGET k\r\n");
    assert_eq!(raw.lines(5), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(raw.lines(1), "$-1\r\n", "out of subscribed mode, commands run again");
}

#[test]
fn resp3_pushes_and_regular_commands_interleave() {
    let srv = TestServer::start();
    let mut raw = Raw::connect(&srv);
    raw.send(b"HELLO 3\r\n");
    // The HELLO map: its header and 7 pairs in 25 lines.
    raw.lines(26);
    raw.send(b"PSUBSCRIBE news.*\r\nSET k v\r\n");
    assert_eq!(raw.lines(6), ">3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:1\r\n");
    assert_eq!(raw.lines(1), "+OK\r\n", "RESP3 clients may run any command while subscribed");
    let mut p = srv.conn();
    cmd(&mut p, &["PUBLISH", "news.ml", "m"]).unwrap();
    assert_eq!(raw.lines(9), ">4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$7\r\nnews.ml\r\n$1\r\nm\r\n");
    raw.send(b"RESET\r\n");
    assert_eq!(raw.lines(1), "+RESET\r\n");
    assert_eq!(cmd(&mut p, &["PUBLISH", "news.ml", "m"]).unwrap(), Value::Int(0), "RESET unsubscribes");
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_not_buffered_forever() {
    let srv = TestServer::start_with(|c| {
        c.output_pubsub = resp_server::config::OutputLimit { hard: 1 << 20, soft: 0, soft_seconds: 0 };
    });
    let mut slow = Raw::connect(&srv);
    slow.send(b"SUBSCRIBE firehose\r\n");
    slow.lines(6);
    let mut p = srv.conn();
    let payload = "x".repeat(64 * 1024);
    let start = Instant::now();
    let mut delivered_to_none = false;
    for _ in 0..2000 {
        let Value::Int(n) = cmd(&mut p, &["PUBLISH", "firehose", &payload]).unwrap() else { panic!() };
        if n == 0 {
            delivered_to_none = true;
            break;
        }
    }
    assert!(delivered_to_none, "the slow subscriber was never dropped");
    assert!(start.elapsed() < Duration::from_secs(60), "publishers were slowed down");
    // Its connection is closed (after whatever was already written).
    let mut sink = Vec::new();
    let _ = slow.r.read_to_end(&mut sink);
    assert_eq!(cmd(&mut p, &["PUBSUB", "NUMSUB", "firehose"]).unwrap().as_sequence().unwrap()[1], Value::Int(0));
}
