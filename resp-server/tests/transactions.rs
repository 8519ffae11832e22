//! MULTI/EXEC/DISCARD/WATCH over real sockets, with Redis's replies and errors, and EXEC's
//! atomicity across a SIGKILL of the real server.

mod common;

use common::{cmd, err, ServerProcess, TestServer};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn queued_commands_run_at_exec_and_see_each_other() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["MULTI"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["SET", "a", "1"]).unwrap(), Value::SimpleString("QUEUED".into()));
    assert_eq!(cmd(&mut c, &["INCR", "a"]).unwrap(), Value::SimpleString("QUEUED".into()));
    assert_eq!(cmd(&mut c, &["GET", "a"]).unwrap(), Value::SimpleString("QUEUED".into()));
    // Not yet visible to others.
    let mut other = srv.conn();
    assert_eq!(cmd(&mut other, &["GET", "a"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Okay, Value::Int(2), bulk("2")]));
    assert_eq!(cmd(&mut other, &["GET", "a"]).unwrap(), bulk("2"));
    // A runtime error replies in place; the other commands still apply.
    let mut raw = std::net::TcpStream::connect(srv.addr).unwrap();
    std::io::Write::write_all(&mut raw, b"MULTI\r\nSET s text\r\nINCR s\r\nSET t after\r\nEXEC\r\n").unwrap();
    let want =
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n";
    let mut got = vec![0u8; want.len()];
    std::io::Read::read_exact(&mut raw, &mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), want);
    assert_eq!(cmd(&mut c, &["GET", "t"]).unwrap(), bulk("after"));
    // An empty transaction.
    cmd(&mut c, &["MULTI"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![]));
}

#[test]
fn queueing_errors_abort_and_misuse_errors() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(err(&mut c, &["DISCARD"]), "ERR DISCARD without MULTI");
    cmd(&mut c, &["MULTI"]).unwrap();
    assert_eq!(err(&mut c, &["MULTI"]), "ERR MULTI calls can not be nested");
    assert_eq!(err(&mut c, &["WATCH", "x"]), "ERR WATCH inside MULTI is not allowed");
    cmd(&mut c, &["SET", "x", "1"]).unwrap();
    assert_eq!(err(&mut c, &["GET"]), "ERR wrong number of arguments for 'get' command");
    assert!(err(&mut c, &["NOSUCH"]).starts_with("ERR unknown command 'NOSUCH'"));
    assert_eq!(err(&mut c, &["EXEC"]), "EXECABORT Transaction discarded because of previous errors.");
    assert_eq!(cmd(&mut c, &["GET", "x"]).unwrap(), Value::Nil, "nothing of an aborted transaction ran");
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["SET", "x", "1"]).unwrap();
    assert_eq!(cmd(&mut c, &["DISCARD"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["GET", "x"]).unwrap(), Value::Nil);
}

#[test]
fn watch_aborts_on_change_expiry_and_flush() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut other = srv.conn();
    // Untouched: EXEC runs.
    cmd(&mut c, &["SET", "w", "1"]).unwrap();
    cmd(&mut c, &["WATCH", "w"]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["INCR", "w"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Int(2)]));
    // Modified by another client: EXEC aborts with a null reply.
    for change in [&["SET", "w", "9"][..], &["DEL", "w"], &["EXPIRE", "w", "100"], &["APPEND", "w", "x"], &["FLUSHDB"]]
    {
        cmd(&mut c, &["SET", "w", "1"]).unwrap();
        cmd(&mut c, &["WATCH", "w"]).unwrap();
        cmd(&mut other, change).unwrap();
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["SET", "w", "mine"]).unwrap();
        assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Nil, "{change:?}");
        assert_ne!(cmd(&mut c, &["GET", "w"]).unwrap(), bulk("mine"), "{change:?}");
    }
    // Expired since WATCH.
    cmd(&mut c, &["SET", "e", "1", "PX", "100"]).unwrap();
    cmd(&mut c, &["WATCH", "e"]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["SET", "e", "mine"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Nil);
    // A change in another database does not count; UNWATCH forgets.
    cmd(&mut c, &["WATCH", "w"]).unwrap();
    cmd(&mut other, &["SELECT", "1"]).unwrap();
    cmd(&mut other, &["SET", "w", "elsewhere"]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["SET", "w", "mine"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Okay]));
    cmd(&mut c, &["WATCH", "w"]).unwrap();
    cmd(&mut other, &["SELECT", "0"]).unwrap();
    cmd(&mut c, &["UNWATCH"]).unwrap();
    cmd(&mut other, &["SET", "w", "theirs"]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["SET", "w", "mine"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![Value::Okay]));
    // redis-rs's optimistic-locking helper works against it.
    cmd(&mut c, &["SET", "counter", "10"]).unwrap();
    let (n,): (i64,) = redis::transaction(&mut c, &["counter"], |con, pipe| {
        let v: i64 = redis::cmd("GET").arg("counter").query(con)?;
        pipe.cmd("SET").arg("counter").arg(v + 5).ignore().cmd("GET").arg("counter").query(con)
    })
    .unwrap();
    assert_eq!(n, 15);
}

/// Like Redis's `signalModifiedKey`, only keys a write changed break a WATCH: not the keys of
/// a DEL that were not there, not the sources of a *STORE or COPY, not a write that changed
/// nothing; the keys it did change do. (Found by `redis_diff.rs`.)
#[test]
fn watch_breaks_only_on_keys_a_write_changed() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let mut other = srv.conn();
    cmd(&mut c, &["SET", "b", "1"]).unwrap();
    cmd(&mut c, &["SADD", "src", "m"]).unwrap();
    let pong = Value::Array(vec![Value::SimpleString("PONG".into())]);
    for (watched, write, aborts) in [
        ("a", &["DEL", "a", "b"][..], false),
        ("b", &["SET", "b", "2"], true),
        ("b", &["UNLINK", "a", "b"], true),
        ("src", &["SUNIONSTORE", "dst", "src"], false),
        ("dst", &["SUNIONSTORE", "dst", "src"], true),
        ("src", &["COPY", "src", "copy"], false),
        ("copy", &["COPY", "src", "copy2"], false),
        ("src", &["SREM", "src", "absent"], false),
        ("src", &["SREM", "src", "m"], true),
        ("b", &["SET", "b", "3"], true),
        ("b", &["GETEX", "b", "PERSIST"], false),
        ("b", &["PERSIST", "b"], false),
        ("b", &["GETEX", "b", "EX", "100"], true),
        ("b", &["GETEX", "b", "PERSIST"], true),
        // A pop over many keys changes the one it pops from.
        ("w", &["RPUSH", "l", "x", "y", "z"], false),
        ("w", &["BLPOP", "w", "l", "1"], false),
        ("l", &["BLPOP", "w", "l", "1"], true),
        ("w", &["LMPOP", "2", "w", "l", "LEFT"], false),
        ("w", &["ZADD", "z", "1", "m", "2", "n"], false),
        ("w", &["BZPOPMIN", "w", "z", "1"], false),
        ("z", &["BZPOPMAX", "w", "z", "1"], true),
    ] {
        cmd(&mut c, &["WATCH", watched]).unwrap();
        cmd(&mut other, write).unwrap();
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["PING"]).unwrap();
        let want = if aborts { Value::Nil } else { pong.clone() };
        assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), want, "WATCH {watched}, then {write:?}");
    }
}

#[test]
fn a_pipelined_transaction_with_redis_rs_atomic_pipe() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let (a, b): (i64, i64) =
        redis::pipe().atomic().cmd("INCRBY").arg("x").arg(5).cmd("INCRBY").arg("y").arg(7).query(&mut c).unwrap();
    assert_eq!((a, b), (5, 7));
}

/// Every command of a transaction writes with the same engine version: a collection
/// renamed (or copied) over one created earlier in the same transaction, or one created again
/// after a DEL in it, shows only its own elements afterwards.
#[test]
fn collections_recreated_inside_one_transaction_keep_only_their_own_elements() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    cmd(&mut c, &["MULTI"]).unwrap();
    for args in [
        &["HSET", "b", "old", "1"][..],
        &["HSET", "a", "new", "2"],
        &["RENAME", "a", "b"],
        &["RPUSH", "l", "x", "y", "z"],
        &["DEL", "l"],
        &["RPUSH", "l", "w"],
        &["LTRIM", "l", "0", "0"],
        &["XADD", "s", "*", "f", "v"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["DEL", "s"],
        &["XADD", "s", "*", "f", "v"],
    ] {
        assert_eq!(cmd(&mut c, args).unwrap(), Value::SimpleString("QUEUED".into()), "{args:?}");
    }
    cmd(&mut c, &["EXEC"]).unwrap();
    assert_eq!(cmd(&mut c, &["HGETALL", "b"]).unwrap(), Value::Array(vec![bulk("new"), bulk("2")]));
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "0", "-1"]).unwrap(), Value::Array(vec![bulk("w")]));
    assert_eq!(cmd(&mut c, &["RPUSH", "l", "v"]).unwrap(), Value::Int(2));
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "0", "-1"]).unwrap(), Value::Array(vec![bulk("w"), bulk("v")]));
    assert_eq!(cmd(&mut c, &["XINFO", "GROUPS", "s"]).unwrap(), Value::Array(vec![]));
}

/// EXEC is one engine record: killed at any moment, the server comes back with every
/// transaction either wholly applied or not at all.
#[test]
fn exec_is_atomic_across_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    for round in 0..3 {
        let srv = ServerProcess::start(&dir, &["--appendfsync", "always"]);
        let url = srv.url();
        let writer = std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut acked = 0u64;
            for i in 0.. {
                let mut p = redis::pipe();
                p.atomic();
                for k in 0..20 {
                    p.cmd("SET").arg(format!("r{round}:k{k}")).arg(i).ignore();
                }
                if p.query::<()>(&mut c).is_err() {
                    break;
                }
                acked = i;
            }
            acked
        });
        std::thread::sleep(std::time::Duration::from_millis(300 + 200 * round));
        srv.kill9();
        let acked = writer.join().unwrap();
        let srv = ServerProcess::start(&dir, &[]);
        let mut c = srv.conn();
        let vals: Vec<Option<u64>> =
            (0..20).map(|k| redis::cmd("GET").arg(format!("r{round}:k{k}")).query(&mut c).unwrap()).collect();
        let first = vals[0];
        assert!(vals.iter().all(|v| *v == first), "a transaction was torn by the crash: {vals:?}");
        assert!(first.is_some_and(|v| v >= acked), "acknowledged transaction {acked} lost: {vals:?}");
        srv.terminate();
    }
}
