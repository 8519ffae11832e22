//! Restarts of the real `pmemkv-server` binary: everything a client was told is written is
//! there after SIGKILL (with `appendfsync always` and `everysec` alike), after SIGTERM (which
//! exits 0), and a second server on the same directory is refused by the store lock.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ServerProcess;

/// One database's acknowledged contents: key → (value, absolute expiry in ms).
type Db = BTreeMap<Vec<u8>, (Vec<u8>, Option<i64>)>;

/// What the server acknowledged, per database.
#[derive(Default, Debug)]
struct Model {
    dbs: BTreeMap<u8, Db>,
}

impl Model {
    fn db(&mut self, db: u8) -> &mut Db {
        self.dbs.entry(db).or_default()
    }
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn value(&mut self) -> Vec<u8> {
        let len = match self.below(20) {
            0 => 0,
            1 => 64 << 10,
            2..=4 => 256 + self.below(4096) as usize,
            _ => 1 + self.below(64) as usize,
        };
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn q<T: redis::FromRedisValue>(con: &mut redis::Connection, c: &redis::Cmd) -> T {
    c.query(con).unwrap_or_else(|e| panic!("{c:?} failed: {e}"))
}

fn pexpiretime(con: &mut redis::Connection, key: &[u8]) -> Option<i64> {
    let t: i64 = q(con, redis::cmd("PEXPIRETIME").arg(key));
    assert!(t != -2, "key {key:?} just written is missing");
    (t >= 0).then_some(t)
}

/// Writes through `con`: strings with and without TTLs, overwrites, deletes, renames,
/// counters, appends, MSETs, keys that expire at once, in databases 0 and 3, and pipelined
/// batches. Every reply is checked, so the model holds exactly what was acknowledged.
fn workload(con: &mut redis::Connection, model: &mut Model, seed: u64, ops: usize) {
    let mut rng = Rng(seed | 1);
    let mut db = 0u8;
    for i in 0..ops {
        let key = format!("k:{}", rng.below(400)).into_bytes();
        match rng.below(100) {
            0..=29 => {
                let v = rng.value();
                let _: () = q(con, redis::cmd("SET").arg(&key).arg(&v));
                model.db(db).insert(key, (v, None));
            }
            30..=39 => {
                let v = rng.value();
                let secs = 1000 + rng.below(100_000);
                let _: () = q(con, redis::cmd("SET").arg(&key).arg(&v).arg("EX").arg(secs));
                let at = pexpiretime(con, &key);
                assert!(at.is_some());
                model.db(db).insert(key, (v, at));
            }
            40..=44 => {
                let v = rng.value();
                let _: () = q(con, redis::cmd("PSETEX").arg(&key).arg(3_600_000).arg(&v));
                let at = pexpiretime(con, &key);
                model.db(db).insert(key, (v, at));
            }
            45..=54 => {
                let n: i64 = q(con, redis::cmd("DEL").arg(&key));
                let had = model.db(db).remove(&key).is_some();
                assert_eq!(n, had as i64, "DEL {key:?}");
            }
            55..=62 => {
                let to = format!("r:{}", rng.below(200)).into_bytes();
                let r: redis::RedisResult<()> = redis::cmd("RENAME").arg(&key).arg(&to).query(con);
                match model.db(db).remove(&key) {
                    Some(entry) => {
                        r.unwrap();
                        model.db(db).insert(to, entry);
                    }
                    None => assert!(r.is_err(), "RENAME of a missing key must fail"),
                }
            }
            63..=70 => {
                let c = format!("c:{}", rng.below(20)).into_bytes();
                let cur = model.db(db).get(&c).cloned();
                match cur {
                    Some((v, ttl)) => {
                        let n: i64 = q(con, redis::cmd("INCRBY").arg(&c).arg(7));
                        let expect: i64 = std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap() + 7;
                        assert_eq!(n, expect);
                        model.db(db).insert(c, (n.to_string().into_bytes(), ttl));
                    }
                    None => {
                        let n: i64 = q(con, redis::cmd("INCR").arg(&c));
                        assert_eq!(n, 1);
                        model.db(db).insert(c, (b"1".to_vec(), None));
                    }
                }
            }
            71..=75 => {
                let add = rng.value();
                let len: usize = q(con, redis::cmd("APPEND").arg(&key).arg(&add));
                let entry = model.db(db).entry(key).or_insert((Vec::new(), None));
                entry.0.extend_from_slice(&add);
                assert_eq!(len, entry.0.len());
            }
            76..=79 => {
                let mut c = redis::cmd("MSET");
                let mut pairs = Vec::new();
                for _ in 0..1 + rng.below(8) {
                    let k = format!("m:{}", rng.below(300)).into_bytes();
                    let v = rng.value();
                    c.arg(&k).arg(&v);
                    pairs.push((k, v));
                }
                let _: () = q(con, &c);
                for (k, v) in pairs {
                    model.db(db).insert(k, (v, None));
                }
            }
            80..=83 => {
                // Gone at once: must stay gone after the restart.
                let v = rng.value();
                let _: () = q(con, redis::cmd("SET").arg(&key).arg(&v).arg("PX").arg(1));
                std::thread::sleep(Duration::from_millis(2));
                model.db(db).remove(&key);
            }
            84..=87 => {
                let secs = 500 + rng.below(5000);
                let set: i64 = q(con, redis::cmd("EXPIRE").arg(&key).arg(secs));
                if model.db(db).contains_key(&key) {
                    assert_eq!(set, 1);
                    let at = pexpiretime(con, &key);
                    model.db(db).get_mut(&key).unwrap().1 = at;
                } else {
                    assert_eq!(set, 0);
                }
            }
            88..=90 => {
                let done: i64 = q(con, redis::cmd("PERSIST").arg(&key));
                if let Some(e) = model.db(db).get_mut(&key) {
                    assert_eq!(done, e.1.is_some() as i64);
                    e.1 = None;
                }
            }
            91..=93 => {
                // A pipelined batch: acknowledged when its replies arrive.
                let mut p = redis::pipe();
                let mut pairs = Vec::new();
                for j in 0..50 {
                    let k = format!("p:{}:{j}", rng.below(50)).into_bytes();
                    let v = rng.value();
                    p.cmd("SET").arg(&k).arg(&v).ignore();
                    pairs.push((k, v));
                }
                let _: () = p.query(con).unwrap();
                for (k, v) in pairs {
                    model.db(db).insert(k, (v, None));
                }
            }
            _ => {
                db = if db == 0 { 3 } else { 0 };
                let _: () = q(con, redis::cmd("SELECT").arg(db));
            }
        }
        if i % 500 == 499 {
            // Overwrite a big value now and then: the old one must not come back.
            let v = vec![i as u8; 200 << 10];
            let _: () = q(con, redis::cmd("SET").arg("big").arg(&v));
            model.db(db).insert(b"big".to_vec(), (v, None));
        }
    }
    let _: () = q(con, redis::cmd("SELECT").arg(0));
}

/// Reads everything back and compares it with the model, key by key.
fn verify(con: &mut redis::Connection, model: &Model) {
    for db in [0u8, 3] {
        let _: () = q(con, redis::cmd("SELECT").arg(db));
        let empty = BTreeMap::new();
        let want = model.dbs.get(&db).unwrap_or(&empty);
        let mut keys: Vec<Vec<u8>> = q(con, redis::cmd("KEYS").arg("*"));
        keys.sort();
        let want_keys: Vec<Vec<u8>> = want.keys().cloned().collect();
        if keys != want_keys {
            let missing: Vec<_> = want_keys.iter().filter(|k| !keys.contains(k)).map(|k| show(k)).collect();
            let extra: Vec<_> = keys.iter().filter(|k| !want.contains_key(*k)).map(|k| show(k)).collect();
            panic!("db {db}: key sets differ; missing {missing:?}, unexpected {extra:?}");
        }
        // Like Redis's, DBSIZE counts expired keys until they are reclaimed; the background
        // purge (Redis's active expiry) gets it to the live count within moments.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let n: usize = q(con, &redis::cmd("DBSIZE"));
            if n == want.len() {
                break;
            }
            assert!(n > want.len(), "db {db}: DBSIZE {n} below the {} live keys", want.len());
            assert!(std::time::Instant::now() < deadline, "db {db}: DBSIZE stuck at {n}, {} live keys", want.len());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        for (k, (v, at)) in want {
            let got: Option<Vec<u8>> = q(con, redis::cmd("GET").arg(k));
            let got = got.unwrap_or_else(|| panic!("db {db}: {} lost", show(k)));
            assert!(got == *v, "db {db}: {} has {} bytes, expected {} bytes", show(k), got.len(), v.len());
            let t: i64 = q(con, redis::cmd("PEXPIRETIME").arg(k));
            assert_eq!(t, at.unwrap_or(-1), "db {db}: expiry of {}", show(k));
        }
    }
    let _: () = q(con, redis::cmd("SELECT").arg(0));
}

fn show(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

fn kill9_restart_keeps_everything(appendfsync: &str, seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let flags = ["--appendfsync", appendfsync];
    let mut model = Model::default();
    let srv = ServerProcess::start(&dir, &flags);
    workload(&mut srv.conn(), &mut model, seed, 2000);
    // The workload is not trivial: both databases hold many keys, some with a TTL.
    let sizes: Vec<usize> = [0u8, 3].iter().map(|d| model.dbs.get(d).map_or(0, BTreeMap::len)).collect();
    assert!(sizes[0] > 200 && sizes[1] > 50, "model sizes {sizes:?}");
    assert!(model.dbs.values().flat_map(|m| m.values()).filter(|(_, t)| t.is_some()).count() > 20);
    srv.kill9();

    let srv = ServerProcess::start(&dir, &flags);
    verify(&mut srv.conn(), &model);
    // A second round on the recovered store, then another SIGKILL.
    workload(&mut srv.conn(), &mut model, seed.wrapping_mul(31), 1000);
    srv.kill9();
    let srv = ServerProcess::start(&dir, &flags);
    verify(&mut srv.conn(), &model);
    let status = srv.terminate();
    assert!(status.success(), "SIGTERM exit status {status}");
}

#[test]
fn sigkill_loses_nothing_acknowledged_with_appendfsync_always() {
    kill9_restart_keeps_everything("always", 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn sigkill_loses_nothing_acknowledged_with_appendfsync_everysec() {
    // A process kill (not a power loss): the written log is in the page cache already.
    kill9_restart_keeps_everything("everysec", 0xdead_beef_cafe_f00d);
}

#[test]
fn sigkill_in_the_middle_of_a_write_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let srv = ServerProcess::start(&dir, &["--appendfsync", "always"]);
    let acked = Arc::new(AtomicI64::new(-1));
    let writer = {
        let mut con = srv.conn();
        let acked = acked.clone();
        std::thread::spawn(move || {
            for i in 0i64.. {
                let set: redis::RedisResult<()> = redis::cmd("SET").arg(format!("seq:{i}")).arg(i).query(&mut con);
                let incr: redis::RedisResult<i64> = redis::cmd("INCR").arg("seq:count").query(&mut con);
                match (set, incr) {
                    (Ok(()), Ok(n)) => {
                        assert_eq!(n, i + 1);
                        acked.store(i, Ordering::SeqCst);
                    }
                    _ => return, // the server is gone
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    srv.kill9();
    writer.join().unwrap();
    let last = acked.load(Ordering::SeqCst);
    assert!(last >= 300, "the writer made too little progress ({last})");

    let srv = ServerProcess::start(&dir, &["--appendfsync", "always"]);
    let mut con = srv.conn();
    for i in 0..=last {
        let v: Option<i64> = q(&mut con, redis::cmd("GET").arg(format!("seq:{i}")));
        assert_eq!(v, Some(i), "acknowledged seq:{i} (last acknowledged {last}) lost");
    }
    // The write in flight at the kill may or may not have landed; nothing after it did.
    let count: i64 = q(&mut con, redis::cmd("GET").arg("seq:count"));
    assert!(count == last + 1 || count == last + 2, "seq:count {count}, last acknowledged {last}");
    let after: Option<i64> = q(&mut con, redis::cmd("GET").arg(format!("seq:{}", last + 2)));
    assert_eq!(after, None);
}

#[test]
fn sigterm_exits_zero_and_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut model = Model::default();
    let srv = ServerProcess::start(&dir, &["--appendfsync", "no"]);
    let mut idle = srv.conn(); // a connected, idle client must not hold up the shutdown
    let _: () = q(&mut idle, &redis::cmd("PING"));
    workload(&mut srv.conn(), &mut model, 0x1234_5678, 1500);
    let started = Instant::now();
    let status = srv.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(20), "shutdown took {:?}", started.elapsed());

    let srv = ServerProcess::start(&dir, &["--appendfsync", "no"]);
    verify(&mut srv.conn(), &model);
    assert_eq!(srv.terminate().code(), Some(0));
}

#[test]
fn shutdown_command_exits_zero_and_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut model = Model::default();
    let mut srv = ServerProcess::start(&dir, &[]);
    workload(&mut srv.conn(), &mut model, 0x5555, 500);
    let r: redis::RedisResult<redis::Value> = redis::cmd("SHUTDOWN").query(&mut srv.conn());
    assert!(r.is_err(), "SHUTDOWN replies nothing; the connection just closes (got {r:?})");
    let status = wait_exit(&mut srv.child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
    drop(srv);
    let srv = ServerProcess::start(&dir, &[]);
    verify(&mut srv.conn(), &model);
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "the server did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the binary on `dir` expecting it to fail; returns (exit status, stderr+stdout).
fn run_expecting_failure(dir: &Path) -> (std::process::ExitStatus, String) {
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pmemkv-server"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .env("PMEMKV_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pmemkv-server");
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    // It never listened.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the refused server listened on {port}");
    (status, text)
}

#[test]
fn a_second_server_on_the_same_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let srv = ServerProcess::start(&dir, &[]);
    let mut con = srv.conn();
    let _: () = q(&mut con, redis::cmd("SET").arg("owner").arg("first"));

    let (status, text) = run_expecting_failure(&dir);
    assert!(!status.success(), "a second server on {} started: {text}", dir.display());
    assert!(
        text.contains("is locked by another process") && text.contains(&dir.display().to_string()),
        "unclear error from the second server: {text}"
    );

    // The first one is unaffected.
    let v: Option<String> = q(&mut con, redis::cmd("GET").arg("owner"));
    assert_eq!(v.as_deref(), Some("first"));
    let _: () = q(&mut con, redis::cmd("SET").arg("after").arg("1"));
    assert_eq!(srv.terminate().code(), Some(0));

    // Once it is gone, the directory opens again.
    let srv = ServerProcess::start(&dir, &[]);
    let v: Option<String> = q(&mut srv.conn(), redis::cmd("GET").arg("after"));
    assert_eq!(v.as_deref(), Some("1"));
}
