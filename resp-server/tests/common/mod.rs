//! Shared test harness: a pmemkv-server started for one test, and redis-rs clients on it.
//!
//! [`TestServer::start`] runs the server in-process (its own tokio runtime on a thread, TCP
//! port 0, a fresh temporary store) and stops it on drop. [`ServerProcess`] runs the real
//! `pmemkv-server` binary instead, for tests that kill or restart the process.
#![allow(dead_code)]

pub mod random_commands;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use resp_server::config::Config;
use resp_server::shared::{Shared, ShutdownMode};
use resp_server::Server;

/// An in-process server on an ephemeral port.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (for white-box checks).
    pub shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh store with the default configuration.
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// Starts a server after `tweak` adjusted its configuration (port and dir are set here
    /// unless `tweak` sets `dir`).
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut config = Config { port: free_port(), bind: vec!["127.0.0.1".into()], ..Config::default() };
        config.dir = tmp.path().join("data");
        tweak(&mut config);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                // The port was free a moment ago; if another test took it since, try others.
                let mut tries = 0;
                let server = loop {
                    match Server::bind(config.clone()).await {
                        Ok(s) => break s,
                        Err(e) if tries < 20 && e.to_string().contains("TCP") => {
                            tries += 1;
                            config.port = free_port();
                        }
                        Err(e) => panic!("server binds: {e}"),
                    }
                };
                let addr = server.local_addrs()[0];
                tx.send((addr, server.shared().clone())).unwrap();
                server.run(false).await.expect("server runs");
            });
        });
        let (addr, shared) = rx.recv_timeout(Duration::from_secs(30)).expect("server started");
        TestServer { addr, shared, thread: Some(thread), _dir: Some(tmp) }
    }

    /// The `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A new RESP2 connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    /// A new RESP3 connection.
    pub fn conn3(&self) -> redis::Connection {
        redis::Client::open(format!("{}?protocol=resp3", self.url())).unwrap().get_connection().unwrap()
    }

    /// Stops the server (graceful shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.request_shutdown(ShutdownMode::Save);
            t.join().expect("server thread");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends one command with raw arguments and returns the raw reply (errors included as
/// `Err`).
pub fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

/// The error text of a command that must fail (`"ERR …"` form: code then message).
pub fn err(con: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(con, args) {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or("?").to_string();
            match e.detail() {
                Some(d) => format!("{code} {d}"),
                None => code,
            }
        }
    }
}

/// A free TCP port on loopback (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real `pmemkv-server` binary, started on a data directory.
pub struct ServerProcess {
    /// The child process.
    pub child: Child,
    /// Its TCP port.
    pub port: u16,
    /// Its data directory.
    pub dir: PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `dir` with extra arguments and waits until it answers PING. The
    /// port is picked free and released before the server binds it, so a parallel test can
    /// take it first: a server that exits before answering is started again on another port.
    pub fn start(dir: &Path, extra: &[&str]) -> ServerProcess {
        for _attempt in 0..5 {
            let port = free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_pmemkv-server"))
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
                .arg(dir)
                .args(extra)
                .env("PMEMKV_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn pmemkv-server");
            let mut p = ServerProcess { child, port, dir: dir.to_path_buf() };
            if p.wait_ready() {
                return p;
            }
        }
        panic!("pmemkv-server exited before answering, five times");
    }

    /// Waits until the server answers PING (true) or exits (false).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut c) = redis::Client::open(self.url()).and_then(|c| c.get_connection()) {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return true;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                eprintln!("pmemkv-server on port {} exited before answering ({status}); retrying", self.port);
                return false;
            }
            assert!(Instant::now() < deadline, "pmemkv-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A new connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        self.child.wait().expect("wait")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
