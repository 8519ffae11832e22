//! The hash commands over a real socket, checked against Redis 7.0's replies: every command,
//! argument and type errors with Redis's exact texts, WRONGTYPE, deletion of an emptied hash,
//! expiry kept by updates, databases, RESP3 maps and nested HRANDFIELD pairs, HSCAN's integer
//! cursors (each field exactly once over thousands of fields, the compact-hash single reply),
//! HRANDFIELD's count semantics and distribution, and a 200k-field hash updated in place.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{cmd, err, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn int(v: Value) -> i64 {
    match v {
        Value::Int(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn strings(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(text).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// A flat RESP2 field/value array as a map.
fn pairs(v: Value) -> BTreeMap<String, String> {
    let items = strings(v);
    assert!(items.len().is_multiple_of(2), "{items:?}");
    items.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
}

/// `HSCAN` to the end: every field and value returned, and the number of calls.
fn hscan_all(c: &mut redis::Connection, key: &str, extra: &[&str]) -> (Vec<(String, String)>, usize) {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["HSCAN", key, &cursor];
        args.extend_from_slice(extra);
        let Value::Array(reply) = cmd(c, &args).unwrap() else { panic!("HSCAN replies with an array") };
        assert_eq!(reply.len(), 2);
        let next = text(&reply[0]);
        next.parse::<u64>().expect("integer cursors");
        let items = strings(reply[1].clone());
        out.extend(items.chunks(2).map(|p| (p[0].clone(), p[1].clone())));
        calls += 1;
        if next == "0" {
            return (out, calls);
        }
        cursor = next;
    }
}

/// Sets `n` fields `field:<i>` = `value:<i>` in batches.
fn fill(c: &mut redis::Connection, key: &str, n: usize) {
    for start in (0..n).step_by(1000) {
        let mut hset = redis::cmd("HSET");
        hset.arg(key);
        for i in start..(start + 1000).min(n) {
            hset.arg(format!("field:{i}")).arg(format!("value:{i}"));
        }
        hset.query::<i64>(c).unwrap();
    }
}

#[test]
fn set_get_and_delete() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["HSET", "h", "f", "v"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["HSET", "h", "f", "v2", "g", "w"]).unwrap(), Value::Int(1), "one new field");
    assert_eq!(cmd(&mut c, &["HSET", "h", "x", "1", "x", "2"]).unwrap(), Value::Int(1), "the last value wins");
    assert_eq!(cmd(&mut c, &["HGET", "h", "x"]).unwrap(), bulk("2"));
    assert_eq!(cmd(&mut c, &["HMSET", "h", "a", "1", "b", ""]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["HSETNX", "h", "f", "nope"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HSETNX", "h", "n", "new"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["HSETNX", "h2", "n", "new"]).unwrap(), Value::Int(1), "creates the hash");
    assert_eq!(cmd(&mut c, &["HGET", "h", "f"]).unwrap(), bulk("v2"));
    assert_eq!(cmd(&mut c, &["HGET", "h", "b"]).unwrap(), bulk(""));
    assert_eq!(cmd(&mut c, &["HGET", "h", "missing"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["HGET", "nokey", "f"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut c, &["HMGET", "h", "f", "missing", "g"]).unwrap(),
        Value::Array(vec![bulk("v2"), Value::Nil, bulk("w")])
    );
    assert_eq!(cmd(&mut c, &["HMGET", "nokey", "a", "b"]).unwrap(), Value::Array(vec![Value::Nil, Value::Nil]));
    let expected: BTreeMap<String, String> = [("f", "v2"), ("g", "w"), ("x", "2"), ("a", "1"), ("b", ""), ("n", "new")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(pairs(cmd(&mut c, &["HGETALL", "h"]).unwrap()), expected);
    let keys: BTreeSet<String> = strings(cmd(&mut c, &["HKEYS", "h"]).unwrap()).into_iter().collect();
    assert_eq!(keys, expected.keys().cloned().collect());
    let mut vals = strings(cmd(&mut c, &["HVALS", "h"]).unwrap());
    vals.sort();
    let mut exp_vals: Vec<String> = expected.values().cloned().collect();
    exp_vals.sort();
    assert_eq!(vals, exp_vals);
    // HKEYS and HVALS line up.
    let k = strings(cmd(&mut c, &["HKEYS", "h"]).unwrap());
    let v = strings(cmd(&mut c, &["HVALS", "h"]).unwrap());
    for (k, v) in k.iter().zip(&v) {
        assert_eq!(&expected[k], v);
    }
    assert_eq!(cmd(&mut c, &["HGETALL", "nokey"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["HKEYS", "nokey"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["HVALS", "nokey"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["HLEN", "h"]).unwrap(), Value::Int(6));
    assert_eq!(cmd(&mut c, &["HLEN", "nokey"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HEXISTS", "h", "b"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["HEXISTS", "h", "zz"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HEXISTS", "nokey", "b"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "n"]).unwrap(), Value::Int(3));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "b"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "zz"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "nokey", "zz"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["TYPE", "h"]).unwrap(), Value::SimpleString("hash".into()));
    // HDEL counts each removed field once; the last one deletes the hash.
    assert_eq!(cmd(&mut c, &["HDEL", "h", "f", "missing", "f"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["HDEL", "nokey", "f"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HLEN", "h"]).unwrap(), Value::Int(5));
    assert_eq!(cmd(&mut c, &["HDEL", "h", "g", "x", "a", "b", "n"]).unwrap(), Value::Int(5));
    assert_eq!(cmd(&mut c, &["EXISTS", "h"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["TYPE", "h"]).unwrap(), Value::SimpleString("none".into()));
    assert_eq!(cmd(&mut c, &["HGETALL", "h"]).unwrap(), Value::Array(vec![]));
    // Binary-safe fields and values.
    let mut bin = redis::cmd("HSET");
    bin.arg("bin").arg(&b"\x00\xff\r\n"[..]).arg(&b"\x01\x00"[..]);
    assert_eq!(bin.query::<i64>(&mut c).unwrap(), 1);
    let v: Vec<u8> = redis::cmd("HGET").arg("bin").arg(&b"\x00\xff\r\n"[..]).query(&mut c).unwrap();
    assert_eq!(v, b"\x01\x00");
}

#[test]
fn small_hashes_list_fields_in_insertion_order() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["HSET", "h", "zeta", "1", "alpha", "2", "mid", "3"]).unwrap();
    cmd(&mut c, &["HSET", "h", "alpha", "two", "beta", "4"]).unwrap();
    cmd(&mut c, &["HINCRBY", "h", "counter", "1"]).unwrap();
    cmd(&mut c, &["HINCRBYFLOAT", "h", "zeta", "0.5"]).unwrap();
    cmd(&mut c, &["HDEL", "h", "mid"]).unwrap();
    cmd(&mut c, &["HSETNX", "h", "mid", "back"]).unwrap();
    let order = ["zeta", "alpha", "beta", "counter", "mid"];
    let values = ["1.5", "two", "4", "1", "back"];
    assert_eq!(strings(cmd(&mut c, &["HKEYS", "h"]).unwrap()), order);
    assert_eq!(strings(cmd(&mut c, &["HVALS", "h"]).unwrap()), values);
    let flat: Vec<String> = order.iter().zip(values).flat_map(|(f, v)| [f.to_string(), v.to_string()]).collect();
    assert_eq!(strings(cmd(&mut c, &["HGETALL", "h"]).unwrap()), flat);
    let Value::Array(r) = cmd(&mut c, &["HSCAN", "h", "0", "COUNT", "1"]).unwrap() else { panic!() };
    assert_eq!((text(&r[0]), strings(r[1].clone())), ("0".to_string(), flat.clone()));
    assert_eq!(strings(cmd(&mut c, &["HRANDFIELD", "h", "5"]).unwrap()), order, "the whole hash, in order");
    assert_eq!(strings(cmd(&mut c, &["HRANDFIELD", "h", "9", "WITHVALUES"]).unwrap()), flat);
    let mut c3 = srv.conn3();
    let Value::Map(m) = cmd(&mut c3, &["HGETALL", "h"]).unwrap() else { panic!("a map") };
    assert_eq!(m.iter().map(|(k, _)| text(k)).collect::<Vec<_>>(), order);
    // Few distinct picks of a compact hash come in insertion order (Redis's listpack path).
    for i in 0..10 {
        cmd(&mut c, &["HSET", "h", &format!("more{i}"), "x"]).unwrap();
    }
    let all = strings(cmd(&mut c, &["HKEYS", "h"]).unwrap());
    for _ in 0..20 {
        let got = strings(cmd(&mut c, &["HRANDFIELD", "h", "3"]).unwrap());
        let pos: Vec<usize> = got.iter().map(|f| all.iter().position(|a| a == f).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{got:?} in the order of {all:?}");
    }
    let encoding = |k: &str| {
        resp_server::cmd::hashes::object_encoding(&srv.shared.colls, &resp_server::keyspace::db_key(0, k.as_bytes()))
            .unwrap()
    };
    assert_eq!(encoding("h"), "listpack");
    // A long value makes the hash a hash table in Redis: any order, HSCAN pages by COUNT.
    cmd(&mut c, &["HSET", "h", "long", &"v".repeat(65)]).unwrap();
    assert_eq!(encoding("h"), "hashtable");
    let keys: BTreeSet<String> = strings(cmd(&mut c, &["HKEYS", "h"]).unwrap()).into_iter().collect();
    assert_eq!(keys.len(), 16);
    assert!(hscan_all(&mut c, "h", &["COUNT", "2"]).1 > 1);
    // So do more than 128 fields.
    cmd(&mut c, &["HDEL", "h", "long"]).unwrap();
    fill(&mut c, "h", 129);
    assert_eq!(strings(cmd(&mut c, &["HKEYS", "h"]).unwrap()).len(), 144);
    assert_eq!(encoding("h"), "hashtable");
    let (all, calls) = hscan_all(&mut c, "h", &["COUNT", "50"]);
    assert_eq!(all.len(), 144);
    assert!(calls > 1);
}

#[test]
fn updates_keep_the_ttl_and_databases_are_separate() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["HSET", "h", "f", "1"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXPIRE", "h", "1000"]).unwrap(), Value::Int(1));
    cmd(&mut c, &["HSET", "h", "g", "2"]).unwrap();
    cmd(&mut c, &["HINCRBY", "h", "f", "1"]).unwrap();
    cmd(&mut c, &["HINCRBYFLOAT", "h", "f", "0.5"]).unwrap();
    cmd(&mut c, &["HSETNX", "h", "k", "3"]).unwrap();
    cmd(&mut c, &["HDEL", "h", "k"]).unwrap();
    let ttl = int(cmd(&mut c, &["TTL", "h"]).unwrap());
    assert!((990..=1000).contains(&ttl), "updates keep the TTL, got {ttl}");
    // Deleting every field and recreating the hash drops the TTL.
    cmd(&mut c, &["HDEL", "h", "f", "g"]).unwrap();
    cmd(&mut c, &["HSET", "h", "f", "1"]).unwrap();
    assert_eq!(cmd(&mut c, &["TTL", "h"]).unwrap(), Value::Int(-1));
    // Other databases do not see the hash.
    assert_eq!(cmd(&mut c, &["SELECT", "1"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["HGET", "h", "f"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["HSET", "h", "f", "db1"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["SELECT", "0"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["HGET", "h", "f"]).unwrap(), bulk("1"));
    assert_eq!(hscan_all(&mut c, "h", &[]).0, vec![("f".to_string(), "1".to_string())]);
}

#[test]
fn argument_errors_match_redis() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let arity = |name: &str| format!("ERR wrong number of arguments for '{name}' command");
    assert_eq!(err(&mut c, &["HSET", "h", "f"]), arity("hset"));
    assert_eq!(err(&mut c, &["HSET", "h", "f", "v", "g"]), arity("hset"));
    assert_eq!(err(&mut c, &["HMSET", "h", "f", "v", "g"]), arity("hmset"));
    assert_eq!(err(&mut c, &["HSETNX", "h", "f"]), arity("hsetnx"));
    assert_eq!(err(&mut c, &["HGET", "h"]), arity("hget"));
    assert_eq!(err(&mut c, &["HMGET", "h"]), arity("hmget"));
    assert_eq!(err(&mut c, &["HGETALL", "h", "x"]), arity("hgetall"));
    assert_eq!(err(&mut c, &["HDEL", "h"]), arity("hdel"));
    assert_eq!(err(&mut c, &["HLEN"]), arity("hlen"));
    assert_eq!(err(&mut c, &["HEXISTS", "h"]), arity("hexists"));
    assert_eq!(err(&mut c, &["HKEYS"]), arity("hkeys"));
    assert_eq!(err(&mut c, &["HVALS", "a", "b"]), arity("hvals"));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "f"]), arity("hincrby"));
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "f"]), arity("hincrbyfloat"));
    assert_eq!(err(&mut c, &["HSTRLEN", "h"]), arity("hstrlen"));
    assert_eq!(err(&mut c, &["HSCAN", "h"]), arity("hscan"));
    assert_eq!(err(&mut c, &["HRANDFIELD"]), arity("hrandfield"));
    assert_eq!(cmd(&mut c, &["EXISTS", "h"]).unwrap(), Value::Int(0), "failed commands write nothing");
}

#[test]
fn wrongtype_on_other_types() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "s", "x"]).unwrap();
    let wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for args in [
        &["HSET", "s", "f", "v"][..],
        &["HMSET", "s", "f", "v"],
        &["HSETNX", "s", "f", "v"],
        &["HGET", "s", "f"],
        &["HMGET", "s", "f"],
        &["HGETALL", "s"],
        &["HDEL", "s", "f"],
        &["HLEN", "s"],
        &["HEXISTS", "s", "f"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
        &["HSTRLEN", "s", "f"],
        &["HSCAN", "s", "0"],
        &["HSCAN", "s", "0", "COUNT", "0"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "0"],
        &["HRANDFIELD", "s", "-3", "WITHVALUES"],
    ] {
        assert_eq!(err(&mut c, args), wt, "{args:?}");
    }
    // Argument errors come first where Redis checks them first.
    assert_eq!(err(&mut c, &["HINCRBY", "s", "f", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "s", "f", "x"]), "ERR value is not a valid float");
    assert_eq!(err(&mut c, &["HSCAN", "s", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["HRANDFIELD", "s", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["HRANDFIELD", "s", "1", "x"]), "ERR syntax error");
    assert_eq!(cmd(&mut c, &["GET", "s"]).unwrap(), bulk("x"), "the string is untouched");
    // A plain SET replaces a hash (any type), and hash commands then see a string.
    cmd(&mut c, &["HSET", "h", "f", "v"]).unwrap();
    cmd(&mut c, &["SET", "h", "now a string"]).unwrap();
    assert_eq!(err(&mut c, &["HGET", "h", "f"]), wt);
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["HINCRBY", "h", "n", "5"]).unwrap(), Value::Int(5));
    assert_eq!(cmd(&mut c, &["HINCRBY", "h", "n", "-15"]).unwrap(), Value::Int(-10));
    assert_eq!(cmd(&mut c, &["HGET", "h", "n"]).unwrap(), bulk("-10"));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "n", "abc"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["HINCRBY", "h", "n", "1.5"]), "ERR value is not an integer or out of range");
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "n", "99999999999999999999"]),
        "ERR value is not an integer or out of range"
    );
    cmd(&mut c, &["HSET", "h", "max", "9223372036854775800"]).unwrap();
    assert_eq!(cmd(&mut c, &["HINCRBY", "h", "max", "7"]).unwrap(), Value::Int(i64::MAX));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "max", "1"]), "ERR increment or decrement would overflow");
    cmd(&mut c, &["HSET", "h", "min", "-9223372036854775808"]).unwrap();
    assert_eq!(err(&mut c, &["HINCRBY", "h", "min", "-1"]), "ERR increment or decrement would overflow");
    assert_eq!(cmd(&mut c, &["HINCRBY", "h", "min", "0"]).unwrap(), Value::Int(i64::MIN));
    for (v, _why) in [("hello", "text"), (" 1", "space"), ("01", "leading zero"), ("+1", "plus"), ("1.0", "float")] {
        cmd(&mut c, &["HSET", "h", "bad", v]).unwrap();
        assert_eq!(err(&mut c, &["HINCRBY", "h", "bad", "1"]), "ERR hash value is not an integer", "{v:?}");
    }
    assert_eq!(cmd(&mut c, &["HGET", "h", "bad"]).unwrap(), bulk("1.0"), "a failed increment writes nothing");

    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "fl", "1.5"]).unwrap(), bulk("1.5"));
    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "fl", "0.25"]).unwrap(), bulk("1.75"));
    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "fl", "-1.75"]).unwrap(), bulk("0"));
    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "fl", "1e3"]).unwrap(), bulk("1000"));
    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "fl", ".5"]).unwrap(), bulk("1000.5"));
    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "int", "2.5e-3"]).unwrap(), bulk("0.0025"));
    assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "h", "n", "0.5"]).unwrap(), bulk("-9.5"), "integers are floats");
    assert_eq!(cmd(&mut c, &["HGET", "h", "fl"]).unwrap(), bulk("1000.5"));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "fl"]).unwrap(), Value::Int(6));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "fl", "1"]), "ERR hash value is not an integer");
    for bad in ["abc", "nan", "", " 1", "1 "] {
        assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "fl", bad]), "ERR value is not a valid float", "{bad:?}");
    }
    for inf in ["inf", "-inf", "+inf"] {
        assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "fl", inf]), "ERR value is NaN or Infinity");
    }
}

#[test]
fn hincrbyfloat_value_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["HSET", "h", "txt", "hello", "inf", "inf", "big", "1.1e4932"]).unwrap();
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "txt", "1"]), "ERR hash value is not a float");
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "inf", "1"]), "ERR increment would produce NaN or Infinity");
    // Redis computes in the x87 long double: past f64's range is fine, past 1.19e4932 is not.
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "big", "1.1e4932"]), "ERR increment would produce NaN or Infinity");
    assert_eq!(cmd(&mut c, &["HGET", "h", "big"]).unwrap(), bulk("1.1e4932"), "nothing written");
    let Value::BulkString(sum) = cmd(&mut c, &["HINCRBYFLOAT", "h", "f64", "1.7e308"]).unwrap() else { panic!() };
    let sum = String::from_utf8(sum).unwrap();
    assert!(sum.starts_with("1700000000000000000") && sum.len() == 309, "{sum}");
    assert_eq!(cmd(&mut c, &["HLEN", "h"]).unwrap(), Value::Int(4));
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "new", "f", "x"]), "ERR value is not a valid float");
    assert_eq!(cmd(&mut c, &["EXISTS", "new"]).unwrap(), Value::Int(0));
}

#[test]
fn resp3_replies() {
    let srv = TestServer::start();
    let mut c = srv.conn3();
    cmd(&mut c, &["HSET", "h", "a", "1", "b", "2"]).unwrap();
    let Value::Map(m) = cmd(&mut c, &["HGETALL", "h"]).unwrap() else { panic!("HGETALL is a map in RESP3") };
    let m: BTreeMap<String, String> = m.iter().map(|(k, v)| (text(k), text(v))).collect();
    assert_eq!(m, [("a".into(), "1".into()), ("b".into(), "2".into())].into());
    assert_eq!(cmd(&mut c, &["HGETALL", "nokey"]).unwrap(), Value::Map(vec![]));
    assert_eq!(cmd(&mut c, &["HGET", "h", "zz"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["HMGET", "h", "a", "zz"]).unwrap(), Value::Array(vec![bulk("1"), Value::Nil]));
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "nokey"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["HEXISTS", "h", "a"]).unwrap(), Value::Int(1), "an integer, not a boolean");
    // WITHVALUES pairs are nested arrays in RESP3 (not a map: negative counts repeat).
    for count in ["-5", "1", "2", "5"] {
        let Value::Array(items) = cmd(&mut c, &["HRANDFIELD", "h", count, "WITHVALUES"]).unwrap() else {
            panic!("an array")
        };
        let n = count.parse::<i64>().unwrap().unsigned_abs().min(if count.starts_with('-') { 5 } else { 2 });
        assert_eq!(items.len() as u64, n, "HRANDFIELD h {count} WITHVALUES");
        for pair in items {
            let Value::Array(p) = pair else { panic!("nested pair") };
            assert_eq!(p.len(), 2);
            assert_eq!(m[&text(&p[0])], text(&p[1]));
        }
    }
    let Value::Array(items) = cmd(&mut c, &["HRANDFIELD", "h", "-3"]).unwrap() else { panic!("an array") };
    assert!(items.iter().all(|i| matches!(i, Value::BulkString(_))) && items.len() == 3);
    // HSCAN stays a flat array.
    let Value::Array(r) = cmd(&mut c, &["HSCAN", "h", "0"]).unwrap() else { panic!("an array") };
    assert_eq!(r[0], bulk("0"));
    assert_eq!(pairs(r[1].clone()), m);
}

#[test]
fn hscan_iterates_every_field_once() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["HSCAN", "nokey", "0"]).unwrap(), Value::Array(vec![bulk("0"), Value::Array(vec![])]));
    // Redis replies to a missing key before parsing the options.
    assert_eq!(
        cmd(&mut c, &["HSCAN", "nokey", "0", "COUNT", "0"]).unwrap(),
        Value::Array(vec![bulk("0"), Value::Array(vec![])])
    );
    assert_eq!(err(&mut c, &["HSCAN", "nokey", "x"]), "ERR invalid cursor");
    // A compact hash (≤128 small fields) comes back whole with cursor 0, whatever COUNT is.
    cmd(&mut c, &["HSET", "small", "a", "1", "b", "2", "c", "3", "ab", "4"]).unwrap();
    let (all, calls) = hscan_all(&mut c, "small", &["COUNT", "1"]);
    assert_eq!((all.len(), calls), (4, 1));
    let (m, _) = hscan_all(&mut c, "small", &["MATCH", "a*"]);
    assert_eq!(m, vec![("a".to_string(), "1".to_string()), ("ab".to_string(), "4".to_string())]);
    assert_eq!(hscan_all(&mut c, "small", &["MATCH", "z*"]).0, vec![]);
    // Unknown cursors restart the scan (like a cursor Redis never handed out on a compact hash).
    for cursor in ["12345", "-1", "", "+0"] {
        let Value::Array(r) = cmd(&mut c, &["HSCAN", "small", cursor]).unwrap() else { panic!() };
        assert_eq!(r[0], bulk("0"), "{cursor:?}");
        assert_eq!(strings(r[1].clone()).len(), 8, "{cursor:?}");
    }
    for (args, e) in [
        (&["HSCAN", "small", "x"][..], "ERR invalid cursor"),
        (&["HSCAN", "small", " 0"], "ERR invalid cursor"),
        (&["HSCAN", "small", "18446744073709551616"], "ERR invalid cursor"),
        (&["HSCAN", "small", "0", "COUNT", "0"], "ERR syntax error"),
        (&["HSCAN", "small", "0", "COUNT", "-1"], "ERR syntax error"),
        (&["HSCAN", "small", "0", "COUNT", "x"], "ERR value is not an integer or out of range"),
        (&["HSCAN", "small", "0", "COUNT"], "ERR syntax error"),
        (&["HSCAN", "small", "0", "MATCH"], "ERR syntax error"),
        (&["HSCAN", "small", "0", "TYPE", "string"], "ERR syntax error"),
        (&["HSCAN", "small", "0", "NOVALUES"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
    // A hash with a long value is not compact: COUNT applies.
    let long = "x".repeat(65);
    cmd(&mut c, &["HSET", "small", "long", &long]).unwrap();
    let (all, calls) = hscan_all(&mut c, "small", &["COUNT", "2"]);
    assert_eq!(all.len(), 5);
    assert!(calls >= 3, "paged: {calls} calls");

    // A few thousand fields: every one exactly once, with the right value, in pages.
    fill(&mut c, "big", 3000);
    for count in [&[][..], &["COUNT", "1"], &["COUNT", "7"], &["COUNT", "1000"], &["COUNT", "100000"]] {
        let (all, calls) = hscan_all(&mut c, "big", count);
        assert_eq!(all.len(), 3000, "COUNT {count:?}");
        let set: BTreeSet<&String> = all.iter().map(|(f, _)| f).collect();
        assert_eq!(set.len(), 3000, "no duplicates with {count:?}");
        for (f, v) in &all {
            assert_eq!(v, &f.replace("field:", "value:"));
        }
        if count.is_empty() {
            assert!(calls >= 300, "COUNT 10 by default: {calls} calls");
        }
    }
    // MATCH filters within pages.
    let (m, _) = hscan_all(&mut c, "big", &["MATCH", "field:1??", "COUNT", "50"]);
    let got: BTreeSet<String> = m.into_iter().map(|(f, _)| f).collect();
    let exp: BTreeSet<String> = (100..200).map(|i| format!("field:{i}")).collect();
    assert_eq!(got, exp);
    // Fields present for the whole scan come back even while others change.
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut round = 0;
    loop {
        let Value::Array(r) = cmd(&mut c, &["HSCAN", "big", &cursor, "COUNT", "100"]).unwrap() else { panic!() };
        for p in strings(r[1].clone()).chunks(2) {
            seen.insert(p[0].clone());
        }
        round += 1;
        cmd(&mut c, &["HSET", "big", &format!("extra:{round}"), "x"]).unwrap();
        cmd(&mut c, &["HDEL", "big", &format!("field:{}", 2999 - round)]).unwrap();
        cursor = text(&r[0]);
        if cursor == "0" {
            break;
        }
    }
    for i in 0..(2999 - round) {
        assert!(seen.contains(&format!("field:{i}")), "field:{i} was present throughout");
    }
    // A cursor of another hash (or of SCAN) restarts this scan instead of skipping fields.
    let Value::Array(r) = cmd(&mut c, &["HSCAN", "big", "0", "COUNT", "5"]).unwrap() else { panic!() };
    let other_cursor = text(&r[0]);
    fill(&mut c, "big2", 500);
    let Value::Array(r) = cmd(&mut c, &["HSCAN", "big2", &other_cursor, "COUNT", "5"]).unwrap() else { panic!() };
    assert_eq!(strings(r[1].clone())[0], "field:0", "restarted from the first field");
}

#[test]
fn hrandfield_counts_and_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "nokey"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "nokey", "5"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "nokey", "-5", "WITHVALUES"]).unwrap(), Value::Array(vec![]));
    let fields: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    for f in &fields {
        cmd(&mut c, &["HSET", "h", f, &format!("v{}", &f[1..])]).unwrap();
    }
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "h", "0"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "h", "0", "WITHVALUES"]).unwrap(), Value::Array(vec![]));
    let one = text(&cmd(&mut c, &["HRANDFIELD", "h"]).unwrap());
    assert!(fields.contains(&one));
    // Negative counts: exactly |count| picks, repeats allowed.
    assert_eq!(strings(cmd(&mut c, &["HRANDFIELD", "h", "-20"]).unwrap()).len(), 20);
    assert_eq!(strings(cmd(&mut c, &["HRANDFIELD", "h", "-1001"]).unwrap()).len(), 1001);
    let p = strings(cmd(&mut c, &["HRANDFIELD", "h", "-20", "WITHVALUES"]).unwrap());
    assert_eq!(p.len(), 40);
    for pair in p.chunks(2) {
        assert_eq!(pair[1], format!("v{}", &pair[0][1..]));
    }
    // Positive counts: distinct fields, at most the whole hash.
    for (count, expect) in [(1, 1), (2, 2), (8, 8), (10, 10), (20, 10)] {
        let got = strings(cmd(&mut c, &["HRANDFIELD", "h", &count.to_string()]).unwrap());
        assert_eq!(got.len(), expect, "HRANDFIELD h {count}");
        assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), expect, "distinct");
        let got = pairs(cmd(&mut c, &["HRANDFIELD", "h", &count.to_string(), "withvalues"]).unwrap());
        assert_eq!(got.len(), expect);
        assert!(got.iter().all(|(f, v)| *v == format!("v{}", &f[1..])));
    }
    // Every field comes up eventually, for each code path.
    for count in ["-3", "2", "8"] {
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            seen.extend(strings(cmd(&mut c, &["HRANDFIELD", "h", count]).unwrap()));
        }
        assert_eq!(seen.len(), 10, "HRANDFIELD h {count}");
    }
    let range = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808"]), range);
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808", "WITHVALUES"]), range);
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES"]), "ERR value is out of range");
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]), "ERR value is out of range");
    assert_eq!(pairs(cmd(&mut c, &["HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"]).unwrap()).len(), 10);
    assert_eq!(strings(cmd(&mut c, &["HRANDFIELD", "h", "9223372036854775807"]).unwrap()).len(), 10);
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "abc"]), "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "1", "withvalue"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUES", "x"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["HRANDFIELD", "nokey", "abc"]), "ERR value is not an integer or out of range");
}

/// Pearson's chi-square statistic of `counts` against a uniform spread over `n` bins.
fn chi_square(counts: &HashMap<String, u64>, n: usize) -> f64 {
    let total: u64 = counts.values().sum();
    let e = total as f64 / n as f64;
    let seen: f64 = counts.values().map(|&o| (o as f64 - e).powi(2) / e).sum();
    seen + (n - counts.len()) as f64 * e
}

#[test]
fn hrandfield_distribution() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    // A small hash (sampled exactly): Redis's own check, df = 9, 40 means p = 0.00001.
    cmd(&mut c, &["HSET", "small", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]).unwrap();
    cmd(&mut c, &["HSET", "small", "6", "f", "7", "g", "8", "h", "9", "i", "10", "j"]).unwrap();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for f in strings(cmd(&mut c, &["HRANDFIELD", "small", "-1000"]).unwrap()) {
        *counts.entry(f).or_default() += 1;
    }
    assert!(chi_square(&counts, 10) < 40.0, "{counts:?}");
    // Single picks.
    let mut counts: HashMap<String, u64> = HashMap::new();
    for _ in 0..1000 {
        *counts.entry(text(&cmd(&mut c, &["HRANDFIELD", "small"]).unwrap())).or_default() += 1;
    }
    assert!(chi_square(&counts, 10) < 40.0, "{counts:?}");
    // Distinct picks of a pair: every field equally often.
    let mut counts: HashMap<String, u64> = HashMap::new();
    for _ in 0..500 {
        for f in strings(cmd(&mut c, &["HRANDFIELD", "small", "2"]).unwrap()) {
            *counts.entry(f).or_default() += 1;
        }
    }
    assert!(chi_square(&counts, 10) < 40.0, "{counts:?}");

    // A hash too large to read whole per pick (the seek-based sampler), with field names of
    // varying width: still close to uniform (df = 1999; allow a small systematic bias).
    fill(&mut c, "big", 2000);
    let mut counts: HashMap<String, u64> = HashMap::new();
    for _ in 0..100 {
        for f in strings(cmd(&mut c, &["HRANDFIELD", "big", "-300"]).unwrap()) {
            *counts.entry(f).or_default() += 1;
        }
    }
    for _ in 0..200 {
        *counts.entry(text(&cmd(&mut c, &["HRANDFIELD", "big"]).unwrap())).or_default() += 1;
    }
    let chi2 = chi_square(&counts, 2000);
    assert_eq!(counts.len(), 2000, "every field comes up");
    assert!(chi2 < 1.3 * 1999.0 + 6.0 * (2.0f64 * 1999.0).sqrt(), "chi2 {chi2}");
    // More repeating picks than one engine call serves, with values, in both protocols.
    let got = strings(cmd(&mut c, &["HRANDFIELD", "big", "-2500", "WITHVALUES"]).unwrap());
    assert_eq!(got.len(), 5000);
    assert!(got.chunks(2).all(|p| p[1] == p[0].replace("field:", "value:")));
    let mut c3 = srv.conn3();
    let Value::Array(items) = cmd(&mut c3, &["HRANDFIELD", "big", "-1500", "WITHVALUES"]).unwrap() else { panic!() };
    assert_eq!(items.len(), 1500);
    assert!(items.iter().all(|p| matches!(p, Value::Array(p) if p.len() == 2)));
    // Distinct picks from the sampler are distinct and spread out.
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        let got = strings(cmd(&mut c, &["HRANDFIELD", "big", "100", "WITHVALUES"]).unwrap());
        assert_eq!(got.len(), 200);
        let fields: BTreeSet<&String> = got.iter().step_by(2).collect();
        assert_eq!(fields.len(), 100);
        seen.extend(fields.into_iter().cloned());
    }
    // Expected about 2000 · (1 - 0.95^20) ≈ 1283, standard deviation about 21.
    assert!(seen.len() > 1150, "{} distinct fields in 20 requests of 100", seen.len());
}

#[test]
fn a_large_hash_is_updated_in_place() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    const N: usize = 200_000;
    fill(&mut c, "big", N);
    assert_eq!(cmd(&mut c, &["HLEN", "big"]).unwrap(), Value::Int(N as i64));
    // Point updates, reads and deletes on the big hash.
    for i in (0..N).step_by(9973) {
        let f = format!("field:{i}");
        assert_eq!(cmd(&mut c, &["HGET", "big", &f]).unwrap(), bulk(&format!("value:{i}")));
        assert_eq!(cmd(&mut c, &["HSET", "big", &f, "changed"]).unwrap(), Value::Int(0));
        assert_eq!(cmd(&mut c, &["HINCRBY", "big", &format!("counter:{i}"), "3"]).unwrap(), Value::Int(3));
        assert_eq!(cmd(&mut c, &["HINCRBYFLOAT", "big", &format!("counter:{i}"), "0.5"]).unwrap(), bulk("3.5"));
        assert_eq!(cmd(&mut c, &["HSTRLEN", "big", &f]).unwrap(), Value::Int(7));
        assert_eq!(cmd(&mut c, &["HDEL", "big", &format!("field:{}", i + 1)]).unwrap(), Value::Int(1));
        assert_eq!(cmd(&mut c, &["HEXISTS", "big", &format!("field:{}", i + 1)]).unwrap(), Value::Int(0));
    }
    let touched = N.div_ceil(9973);
    assert_eq!(cmd(&mut c, &["HLEN", "big"]).unwrap(), Value::Int(N as i64));
    assert_eq!(
        cmd(&mut c, &["HMGET", "big", "field:0", "field:1", "counter:0"]).unwrap(),
        Value::Array(vec![bulk("changed"), Value::Nil, bulk("3.5")])
    );
    assert_eq!(touched, 21);
    // A scan page and random fields without reading the whole hash.
    let Value::Array(r) = cmd(&mut c, &["HSCAN", "big", "0", "COUNT", "20"]).unwrap() else { panic!() };
    assert_ne!(r[0], bulk("0"));
    assert_eq!(strings(r[1].clone()).len(), 40);
    let got = strings(cmd(&mut c, &["HRANDFIELD", "big", "10", "WITHVALUES"]).unwrap());
    assert_eq!(got.len(), 20);
    assert_eq!(got.iter().step_by(2).collect::<BTreeSet<_>>().len(), 10);
    let one = text(&cmd(&mut c, &["HRANDFIELD", "big"]).unwrap());
    assert!(one.starts_with("field:") || one.starts_with("counter:"));
    // Deleting the hash is O(1) and it is gone at once.
    assert_eq!(cmd(&mut c, &["DEL", "big"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["HLEN", "big"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HGET", "big", "field:0"]).unwrap(), Value::Nil);
}
