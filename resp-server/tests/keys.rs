//! Generic key commands over a real socket: existence, types, rename/copy, expiry with its
//! flags, KEYS patterns, SCAN's guarantee, databases.

mod common;

use std::collections::BTreeSet;

use common::{cmd, err, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn strings(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn del_exists_type_touch() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXISTS", "a", "a", "nope", "b"]).unwrap(), Value::Int(3));
    assert_eq!(cmd(&mut c, &["TOUCH", "a", "nope"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["DEL", "a", "a", "nope"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["UNLINK", "b", "c"]).unwrap(), Value::Int(2));
    assert_eq!(cmd(&mut c, &["EXISTS", "a", "b", "c"]).unwrap(), Value::Int(0));
    cmd(&mut c, &["SET", "s", "x"]).unwrap();
    assert_eq!(cmd(&mut c, &["TYPE", "s"]).unwrap(), Value::SimpleString("string".into()));
    assert_eq!(cmd(&mut c, &["TYPE", "nope"]).unwrap(), Value::SimpleString("none".into()));
    assert_eq!(cmd(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(), bulk("embstr"));
    cmd(&mut c, &["SET", "i", "12345"]).unwrap();
    assert_eq!(cmd(&mut c, &["OBJECT", "ENCODING", "i"]).unwrap(), bulk("int"));
    assert_eq!(cmd(&mut c, &["OBJECT", "ENCODING", "nope"]).unwrap(), Value::Nil);
    assert_eq!(err(&mut c, &["OBJECT", "BOGUS", "s"]), "ERR unknown subcommand 'BOGUS'. Try OBJECT HELP.");
}

#[test]
fn rename_and_copy() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "a", "1", "EX", "100"]).unwrap();
    assert_eq!(cmd(&mut c, &["RENAME", "a", "b"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["GET", "b"]).unwrap(), bulk("1"));
    assert_eq!(cmd(&mut c, &["TTL", "b"]).unwrap(), Value::Int(100), "RENAME keeps the TTL");
    assert_eq!(cmd(&mut c, &["EXISTS", "a"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["RENAME", "a", "b"]), "ERR no such key");
    assert_eq!(cmd(&mut c, &["RENAME", "b", "b"]).unwrap(), Value::Okay);
    cmd(&mut c, &["SET", "c", "3"]).unwrap();
    assert_eq!(cmd(&mut c, &["RENAMENX", "b", "c"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["RENAMENX", "b", "d"]).unwrap(), Value::Int(1));
    assert_eq!(err(&mut c, &["RENAMENX", "b", "e"]), "ERR no such key");
    assert_eq!(cmd(&mut c, &["COPY", "d", "c"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["COPY", "d", "c", "REPLACE"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["GET", "c"]).unwrap(), bulk("1"));
    assert_eq!(cmd(&mut c, &["COPY", "d", "x", "DB", "3"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["EXISTS", "x"]).unwrap(), Value::Int(0));
    cmd(&mut c, &["SELECT", "3"]).unwrap();
    assert_eq!(cmd(&mut c, &["GET", "x"]).unwrap(), bulk("1"));
    assert_eq!(err(&mut c, &["COPY", "x", "x"]), "ERR source and destination objects are the same");
    assert_eq!(err(&mut c, &["COPY", "x", "y", "DB", "16"]), "ERR DB index is out of range");
    assert_eq!(err(&mut c, &["COPY", "x", "y", "BOGUS"]), "ERR syntax error");

    // Collections are renamed and copied element by element.
    let k = |db: u8, s: &str| [&[db][..], s.as_bytes()].concat();
    srv.shared.colls.sadd(&k(3, "set"), &[b"m1", b"m2"]).unwrap();
    assert_eq!(cmd(&mut c, &["RENAME", "set", "set2"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["COPY", "set2", "set3"]).unwrap(), Value::Int(1));
    for name in ["set2", "set3"] {
        let mut m = srv.shared.colls.smembers(&k(3, name)).unwrap();
        m.sort();
        assert_eq!(m, vec![b"m1".to_vec(), b"m2".to_vec()], "{name}");
    }
    assert!(srv.shared.colls.smembers(&k(3, "set")).unwrap().is_empty());
}

#[test]
fn expire_flags_and_ttls() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(-1));
    assert_eq!(cmd(&mut c, &["TTL", "nope"]).unwrap(), Value::Int(-2));
    assert_eq!(cmd(&mut c, &["PTTL", "nope"]).unwrap(), Value::Int(-2));
    assert_eq!(cmd(&mut c, &["EXPIRETIME", "k"]).unwrap(), Value::Int(-1));
    assert_eq!(cmd(&mut c, &["EXPIRE", "nope", "10"]).unwrap(), Value::Int(0));
    // XX / GT need an existing TTL; LT treats "none" as infinite.
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "100", "XX"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "100", "GT"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "100", "LT"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "200", "NX"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "50", "GT"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "200", "GT"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "300", "LT"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "150", "XX", "LT"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(150));
    let Value::Int(pttl) = cmd(&mut c, &["PTTL", "k"]).unwrap() else { panic!() };
    assert!((149_000..=150_000).contains(&pttl), "{pttl}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    cmd(&mut c, &["EXPIREAT", "k", &(now + 1000).to_string()]).unwrap();
    assert_eq!(cmd(&mut c, &["EXPIRETIME", "k"]).unwrap(), Value::Int(now + 1000));
    assert_eq!(cmd(&mut c, &["PEXPIRETIME", "k"]).unwrap(), Value::Int((now + 1000) * 1000));
    cmd(&mut c, &["PEXPIRE", "k", "100000"]).unwrap();
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(100));
    assert_eq!(cmd(&mut c, &["PERSIST", "k"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["PERSIST", "k"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["TTL", "k"]).unwrap(), Value::Int(-1));
    // A time in the past deletes the key, and counts as set.
    assert_eq!(cmd(&mut c, &["EXPIRE", "k", "-1"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["EXISTS", "k"]).unwrap(), Value::Int(0));
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(cmd(&mut c, &["PEXPIREAT", "k", "1"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), Value::Nil);
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(err(&mut c, &["EXPIRE", "k", "10", "FOO"]), "ERR Unsupported option FOO");
    assert_eq!(err(&mut c, &["EXPIRE", "k", "9223372036854775807"]), "ERR invalid expire time in 'expire' command");
    assert_eq!(err(&mut c, &["EXPIRE", "k", "x"]), "ERR value is not an integer or out of range");
}

#[test]
fn keys_patterns() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    for k in ["user:1", "user:2", "user:10", "admin", "h?llo", "hello", "hallo", ""] {
        cmd(&mut c, &["SET", k, "v"]).unwrap();
    }
    let keys = |c: &mut redis::Connection, p: &str| -> Vec<String> {
        let mut v = strings(cmd(c, &["KEYS", p]).unwrap());
        v.sort();
        v
    };
    assert_eq!(keys(&mut c, "*").len(), 8, "a lone * lists the empty key too");
    assert_eq!(keys(&mut c, "user:*"), vec!["user:1", "user:10", "user:2"]);
    assert_eq!(keys(&mut c, "user:?"), vec!["user:1", "user:2"]);
    assert_eq!(keys(&mut c, "h[ae]llo"), vec!["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h\\?llo"), vec!["h?llo"]);
    assert_eq!(keys(&mut c, "nomatch*"), Vec::<String>::new());
}

#[test]
fn scan_returns_every_key_present_throughout() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut p = redis::pipe();
    for i in 0..3000 {
        p.cmd("SET").arg(format!("stable:{i}")).arg(i).ignore();
    }
    p.query::<()>(&mut c).unwrap();
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    let mut other = srv.conn();
    loop {
        let Value::Array(reply) = cmd(&mut c, &["SCAN", &cursor, "COUNT", "97"]).unwrap() else { panic!() };
        let Value::BulkString(next) = &reply[0] else { panic!() };
        cursor = String::from_utf8(next.clone()).unwrap();
        assert!(cursor.parse::<u64>().is_ok(), "cursors are integers: {cursor}");
        for k in strings(reply[1].clone()) {
            seen.insert(k);
        }
        // Concurrent writes and deletes of other keys must not make SCAN miss stable ones.
        cmd(&mut other, &["SET", &format!("churn:{rounds}"), "x"]).unwrap();
        cmd(&mut other, &["DEL", &format!("churn:{}", rounds / 2)]).unwrap();
        rounds += 1;
        if cursor == "0" {
            break;
        }
        assert!(rounds < 1000, "scan does not terminate");
    }
    for i in 0..3000 {
        assert!(seen.contains(&format!("stable:{i}")), "stable:{i} missed");
    }
    // MATCH and TYPE filter; COUNT is validated.
    let Value::Array(r) = cmd(&mut c, &["SCAN", "0", "MATCH", "stable:1?", "COUNT", "100000"]).unwrap() else {
        panic!()
    };
    assert_eq!(strings(r[1].clone()).len(), 10);
    assert_eq!(r[0], bulk("0"));
    let Value::Array(r) = cmd(&mut c, &["SCAN", "0", "TYPE", "hash", "COUNT", "100000"]).unwrap() else { panic!() };
    assert!(strings(r[1].clone()).is_empty());
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["SCAN", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SCAN", "0", "MATCH"]), "ERR syntax error");
}

#[test]
fn databases_are_isolated_and_flushable() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "k", "db0"]).unwrap();
    cmd(&mut c, &["SELECT", "1"]).unwrap();
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), Value::Nil);
    cmd(&mut c, &["SET", "k", "db1"]).unwrap();
    cmd(&mut c, &["SET", "k2", "db1"]).unwrap();
    assert_eq!(cmd(&mut c, &["DBSIZE"]).unwrap(), Value::Int(2));
    assert_eq!(strings(cmd(&mut c, &["KEYS", "*"]).unwrap()).len(), 2);
    let Value::BulkString(k) = cmd(&mut c, &["RANDOMKEY"]).unwrap() else { panic!("RANDOMKEY") };
    assert!(k == b"k" || k == b"k2");
    assert_eq!(cmd(&mut c, &["FLUSHDB"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["DBSIZE"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["RANDOMKEY"]).unwrap(), Value::Nil);
    cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), bulk("db0"));
    assert_eq!(cmd(&mut c, &["RANDOMKEY"]).unwrap(), bulk("k"));
    assert_eq!(err(&mut c, &["SELECT", "16"]), "ERR DB index is out of range");
    assert_eq!(err(&mut c, &["SELECT", "-1"]), "ERR DB index is out of range");
    assert_eq!(cmd(&mut c, &["FLUSHALL"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["DBSIZE"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["FLUSHALL", "NOW"]), "ERR syntax error");
}
