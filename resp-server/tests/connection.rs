//! Connection-level behaviour: authentication, HELLO, CLIENT, QUIT/RESET, raw protocol
//! (inline commands, pipelining, protocol errors, limits), idle timeout, maxclients and
//! MONITOR. Raw tests talk bytes over a TcpStream to see exactly what a client sees.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{cmd, err, TestServer};
use redis::Value;

/// A raw connection: send bytes, read replies as text.
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
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }
    /// True once the server closed the connection (reads hit EOF).
    fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        matches!(self.r.read(&mut buf), Ok(0) | Err(_))
    }
}

#[test]
fn requirepass_auth_and_hello() {
    let srv = TestServer::start_with(|c| c.requirepass = Some("s3cret".into()));
    let mut raw = Raw::connect(&srv);
    raw.send(b"GET k\r\n");
    assert_eq!(raw.line(), "-NOAUTH Authentication required.\r\n");
    raw.send(b"AUTH wrong\r\n");
    assert_eq!(raw.line(), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw.send(b"HELLO 3\r\n");
    assert!(raw.line().starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
    // Before authentication, big multibulks are refused (Redis's unauthenticated limits).
    raw.send(b"*11\r\n");
    assert_eq!(raw.line(), "-ERR Protocol error: unauthenticated multibulk length\r\n");
    assert!(raw.closed());

    let mut raw = Raw::connect(&srv);
    raw.send(b"AUTH default s3cret\r\nGET k\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "$-1\r\n");

    let mut raw = Raw::connect(&srv);
    raw.send(b"HELLO 3 AUTH default s3cret SETNAME worker-1\r\n");
    assert_eq!(raw.line(), "%7\r\n");
    let mut c = redis::Client::open(format!("redis://:s3cret@{}/", srv.addr)).unwrap().get_connection().unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(list.lines().any(|l| l.contains(" name=worker-1 ") && l.ends_with("resp=3")), "{list}");
}

#[test]
fn auth_without_password_configured() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(
        err(&mut c, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
    // The default user has no password: any password works for it, other users do not exist.
    assert_eq!(cmd(&mut c, &["AUTH", "default", "anything"]).unwrap(), Value::Okay);
    assert_eq!(err(&mut c, &["AUTH", "bob", "x"]), "WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(err(&mut c, &["HELLO", "4"]), "NOPROTO unsupported protocol version");
    assert_eq!(err(&mut c, &["HELLO", "x"]), "ERR Protocol version is not an integer or out of range");
    assert_eq!(err(&mut c, &["HELLO", "3", "BOGUS"]), "ERR Syntax error in HELLO option 'BOGUS'");
}

#[test]
fn client_subcommands() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let Value::Int(id) = cmd(&mut c, &["CLIENT", "ID"]).unwrap() else { panic!() };
    assert_eq!(cmd(&mut c, &["CLIENT", "GETNAME"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["CLIENT", "SETNAME", "ingest"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["CLIENT", "GETNAME"]).unwrap(), Value::BulkString(b"ingest".to_vec()));
    assert_eq!(
        err(&mut c, &["CLIENT", "SETNAME", "a b"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut c).unwrap();
    assert!(info.starts_with(&format!("id={id} addr=127.0.0.1:")), "{info}");
    assert!(info.contains(" name=ingest ") && info.contains(" db=0 ") && info.ends_with("resp=2\n"), "{info}");
    let mut other = srv.conn();
    let Value::Int(other_id) = cmd(&mut other, &["CLIENT", "ID"]).unwrap() else { panic!() };
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    let only: String = redis::cmd("CLIENT").arg("LIST").arg("ID").arg(other_id).query(&mut c).unwrap();
    assert!(only.starts_with(&format!("id={other_id} ")), "{only}");
    assert_eq!(cmd(&mut c, &["CLIENT", "KILL", "ID", &other_id.to_string()]).unwrap(), Value::Int(1));
    std::thread::sleep(Duration::from_millis(100));
    assert!(cmd(&mut other, &["PING"]).is_err(), "the killed client's connection is closed");
    assert_eq!(cmd(&mut c, &["CLIENT", "KILL", "ID", "999999"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["CLIENT", "KILL", "1.2.3.4:5"]), "ERR No such client");
    assert_eq!(err(&mut c, &["CLIENT", "FOO"]), "ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
    assert_eq!(cmd(&mut c, &["CLIENT", "NO-EVICT", "on"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"]).unwrap(), Value::Okay);
}

#[test]
fn raw_protocol_inline_pipelines_and_errors() {
    let srv = TestServer::start();
    let mut raw = Raw::connect(&srv);
    // Inline commands with quoting, and a pipelined batch in one write.
    raw.send(b"SET k \"a b\"\r\nGET k\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nECHO 'it''s'\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "$3\r\n");
    assert_eq!(raw.line(), "a b\r\n");
    assert_eq!(raw.line(), "$3\r\n");
    assert_eq!(raw.line(), "a b\r\n");
    assert_eq!(raw.line(), "+PONG\r\n");
    assert_eq!(raw.line(), "-ERR Protocol error: unbalanced quotes in request\r\n");
    assert!(raw.closed());
    // A command split across many writes.
    let mut raw = Raw::connect(&srv);
    for chunk in b"*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$5\r\nhello\r\n".chunks(3) {
        raw.send(chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(raw.line(), "+OK\r\n");
    // Protocol errors close only this connection.
    let mut bystander = srv.conn();
    for (input, reply) in [
        (&b"*1\r\n+GET\r\n"[..], "-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
    ] {
        let mut raw = Raw::connect(&srv);
        raw.send(input);
        assert_eq!(raw.line(), reply, "{:?}", String::from_utf8_lossy(input));
        assert!(raw.closed());
    }
    assert_eq!(cmd(&mut bystander, &["GET", "k2"]).unwrap(), Value::BulkString(b"hello".to_vec()));
    // Unknown commands and arity errors keep the connection.
    let mut raw = Raw::connect(&srv);
    raw.send(b"FOO a b\r\nGET\r\nPING\r\n");
    assert_eq!(raw.line(), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
    assert_eq!(raw.line(), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(raw.line(), "+PONG\r\n");
    // A NUL byte ends an inline line's arguments (as in `sdssplitargs`); it once made the
    // server split empty arguments until it ran out of memory.
    raw.send(b"SET nul a\0b\r\nECHO x\0\r\nGET nul\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "$1\r\n");
    assert_eq!(raw.line(), "x\r\n");
    assert_eq!(raw.line(), "$1\r\n");
    assert_eq!(raw.line(), "a\r\n");
}

#[test]
fn quit_and_reset() {
    let srv = TestServer::start();
    let mut raw = Raw::connect(&srv);
    raw.send(b"SELECT 2\r\nCLIENT SETNAME n\r\nHELLO 3\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "%7\r\n");
    // The rest of the HELLO map: 7 pairs, 25 lines.
    for _ in 0..25 {
        raw.line();
    }
    raw.send(b"RESET\r\nCLIENT INFO\r\n");
    assert_eq!(raw.line(), "+RESET\r\n");
    let _len = raw.line();
    let info = raw.line();
    assert_eq!(raw.line(), "\r\n", "the bulk string ends with the line's own newline");
    assert!(info.contains(" db=0 ") && info.contains(" name= ") && info.contains("resp=2"), "{info}");
    raw.send(b"QUIT\r\nPING\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert!(raw.closed(), "nothing after QUIT runs");
}

#[test]
fn big_values_and_query_buffer_limit() {
    let srv = TestServer::start_with(|c| c.client_query_buffer_limit = 2 << 20);
    let mut c = srv.conn();
    let big = vec![b'x'; 1 << 20];
    redis::cmd("SET").arg("big").arg(&big).query::<()>(&mut c).unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(back.len(), big.len());
    // An incomplete request larger than the limit closes the connection.
    let mut raw = Raw::connect(&srv);
    raw.send(b"*2\r\n$3\r\nGET\r\n$9000000\r\n");
    let chunk = vec![b'a'; 64 << 10];
    let mut closed = false;
    for _ in 0..64 {
        if raw.r.get_mut().write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed || raw.closed(), "the client over its query buffer limit is closed");
    assert_eq!(cmd(&mut c, &["PING"]).unwrap(), Value::SimpleString("PONG".into()));
}

#[test]
fn idle_timeout_and_maxclients() {
    let srv = TestServer::start_with(|c| {
        c.timeout = 1;
        c.maxclients = 3;
    });
    let mut idle = Raw::connect(&srv);
    let _a = srv.conn();
    let _b = srv.conn();
    // The fourth client is refused with Redis's message.
    let mut fourth = Raw::connect(&srv);
    assert_eq!(fourth.line(), "-ERR max number of clients reached\r\n");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(idle.closed(), "an idle client is closed after `timeout` seconds");
}

#[test]
fn monitor_sees_commands() {
    let srv = TestServer::start();
    let mut mon = Raw::connect(&srv);
    mon.send(b"MONITOR\r\n");
    assert_eq!(mon.line(), "+OK\r\n");
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "key with space", "v\"1"]).unwrap();
    let line = mon.line();
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains("[0 127.0.0.1:") && line.ends_with("\"SET\" \"key with space\" \"v\\\"1\"\r\n"), "{line}");
}

/// A non-loopback IPv4 address of this machine, if it has one (from `/proc/net/fib_trie`'s
/// local host routes).
fn external_ipv4() -> Option<std::net::Ipv4Addr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let lines: Vec<&str> = trie.lines().collect();
    for w in lines.windows(2) {
        if w[1].contains("/32 host LOCAL") {
            let ip: std::net::Ipv4Addr = w[0].trim().trim_start_matches("|-- ").trim().parse().ok()?;
            if !ip.is_loopback() {
                return Some(ip);
            }
        }
    }
    None
}

#[test]
fn protected_mode_refuses_non_loopback_clients_without_a_password() {
    let Some(ip) = external_ipv4() else {
        eprintln!("no non-loopback IPv4 address on this machine: protected mode cannot be exercised here");
        return;
    };
    let srv = TestServer::start_with(|c| c.bind = vec!["0.0.0.0".into()]);
    let port = srv.addr.port();
    let mut s = TcpStream::connect((ip, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("-DENIED Redis is running in protected mode"), "{reply}");
    // Loopback clients are served; with a password, outside clients are too (after AUTH).
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    assert_eq!(cmd(&mut c, &["PING"]).unwrap(), Value::SimpleString("PONG".into()));
    drop(srv);
    let srv = TestServer::start_with(|c| {
        c.bind = vec!["0.0.0.0".into()];
        c.requirepass = Some("pw".into());
    });
    let mut c =
        redis::Client::open(format!("redis://:pw@{ip}:{}/", srv.addr.port())).unwrap().get_connection().unwrap();
    assert_eq!(cmd(&mut c, &["PING"]).unwrap(), Value::SimpleString("PONG".into()));
}

/// Clients on the Unix socket are served like TCP ones (on the connection threads), listed
/// by `CLIENT LIST` with the socket's path, and the socket file goes away at shutdown.
#[test]
fn unix_socket_clients() {
    let sock_dir = tempfile::tempdir().unwrap();
    let path = sock_dir.path().join("pmemkv.sock");
    let p2 = path.clone();
    let mut srv = TestServer::start_with(move |c| {
        c.unixsocket = Some(p2);
        c.io_threads = 2;
    });
    let url = format!("redis+unix://{}", path.display());
    let mut clients: Vec<redis::Connection> =
        (0..4).map(|_| redis::Client::open(url.as_str()).unwrap().get_connection().unwrap()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(c).unwrap();
    }
    // Each client reads what the others wrote (they may live on different threads).
    for (i, c) in clients.iter_mut().enumerate() {
        let other = (i + 1) % 4;
        let v: i64 = redis::cmd("GET").arg(format!("k{other}")).query(c).unwrap();
        assert_eq!(v, other as i64);
    }
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut clients[0]).unwrap();
    let on_socket = list.lines().filter(|l| l.contains(&format!("laddr={}", path.display()))).count();
    assert_eq!(on_socket, 4, "{list}");
    // TCP still works alongside.
    let mut tcp = srv.conn();
    let v: i64 = redis::cmd("GET").arg("k3").query(&mut tcp).unwrap();
    assert_eq!(v, 3);
    drop(clients);
    srv.stop();
    assert!(!path.exists(), "the socket file is removed at shutdown");
}

/// Many small requests whose replies the client does not read for a while: the server's
/// deferred replies (see `burst.rs`) fill the socket, the rest waits for the client, and
/// every reply arrives once, in order.
#[test]
fn deferred_replies_keep_order_under_backpressure() {
    const N: usize = 150_000;
    const PER_WRITE: usize = 500;
    let srv = TestServer::start();
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // A small receive buffer, so the replies back up into the server quickly.
    rustix::net::sockopt::set_socket_recv_buffer_size(&s, 16 << 10).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut i = 0;
        while i < N {
            let mut batch = Vec::new();
            for _ in i..(i + PER_WRITE).min(N) {
                batch.extend_from_slice(b"INCR c\r\n");
            }
            w.write_all(&batch).unwrap();
            i += PER_WRITE;
            // Spaced writes: the server runs each as its own read and defers its replies.
            std::thread::sleep(Duration::from_micros(100));
        }
    });
    // Let the replies pile up in the socket buffers before reading any.
    std::thread::sleep(Duration::from_millis(1500));
    let mut r = BufReader::new(s);
    let mut line = String::new();
    for i in 0..N {
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, format!(":{}\r\n", i + 1), "reply {i}");
    }
    writer.join().unwrap();
    // The connection still answers at once.
    r.get_mut().write_all(b"PING\r\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "+PONG\r\n");
}
