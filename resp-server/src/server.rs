//! The listener side: open the store, bind TCP and Unix sockets, accept clients (with
//! `maxclients` and protected mode), run background chores, and shut down cleanly.
//!
//! Shutdown (SIGTERM/SIGINT, `SHUTDOWN`): stop accepting, tell every connection to finish
//! (each completes the batch it is running and writes its replies), wait for them with a
//! bound, then make the log durable and checkpoint the store (`SHUTDOWN NOSAVE` skips the
//! checkpoint; nothing acknowledged is lost either way) and release its directory lock.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pmemkv::{Options, Store};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::ServerError;
use crate::io_pool::IoPool;
use crate::shared::{Shared, ShutdownMode};

/// How long shutdown waits for connections to finish their current batch.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Redis's reply to a non-loopback client in protected mode.
const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and \
no password is set for the default user. In this mode connections are only accepted from the loopback interface. If \
you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable \
protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis \
from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do \
so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by \
editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. \
3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a \
an authentication password for the default user. NOTE: You only need to do one of the above things in order for the \
server to start accepting connections from the outside.\r\n";

/// A bound, not yet running server.
pub struct Server {
    shared: Arc<Shared>,
    tcp: Vec<TcpListener>,
    unix: Option<UnixListener>,
}

/// Opens the store the configuration names.
pub fn open_store(config: &Config) -> Result<Store, ServerError> {
    let durability = config.appendfsync.engine_durability();
    // Background maintenance runs 10 nice levels down: requests come first (measured with
    // redis-benchmark, docs/benchmarks.md); the engine's writer fallbacks bound what it may
    // defer.
    let store = Store::open(&config.dir, Options { durability, background_nice: 10, ..Options::default() })?;
    let report = store.recovery_report();
    tracing::info!(dir = %config.dir.display(), report = ?report, "store opened");
    Ok(store)
}

impl Server {
    /// Opens the store and binds the configured sockets.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let cfg = config.clone();
        let store = tokio::task::spawn_blocking(move || open_store(&cfg))
            .await
            .map_err(|e| ServerError::Io { context: "opening the store".into(), source: std::io::Error::other(e) })??;
        let mut tcp = Vec::new();
        if config.port != 0 || config.bind.iter().any(|b| b.contains(':') && b.parse::<SocketAddr>().is_ok()) {
            for b in &config.bind {
                let (optional, host) = match b.strip_prefix('-') {
                    Some(h) => (true, h),
                    None => (false, b.as_str()),
                };
                let ip: IpAddr = match host {
                    "*" => "0.0.0.0".parse().expect("valid address"),
                    "::*" => "::".parse().expect("valid address"),
                    h => match h.parse() {
                        Ok(ip) => ip,
                        Err(_) => {
                            return Err(ServerError::Io {
                                context: format!("invalid bind address '{b}'"),
                                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                            })
                        }
                    },
                };
                match bind_tcp(SocketAddr::new(ip, config.port)) {
                    Ok(l) => tcp.push(l),
                    Err(e) if optional => {
                        tracing::debug!(address = %b, error = %e, "optional bind address unavailable")
                    }
                    Err(e) => {
                        return Err(ServerError::Io {
                            context: format!("Could not create server TCP listening socket {b}:{}", config.port),
                            source: e,
                        })
                    }
                }
            }
        }
        let unix = match &config.unixsocket {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                let l = UnixListener::bind(path).map_err(|e| ServerError::Io {
                    context: format!("binding unix socket {}", path.display()),
                    source: e,
                })?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.unixsocketperm));
                Some(l)
            }
            None => None,
        };
        if tcp.is_empty() && unix.is_none() {
            return Err(ServerError::Io {
                context: "no listening socket (set port or unixsocket)".into(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            });
        }
        let shared = Arc::new(Shared::new(Arc::new(store), config));
        if let Some(l) = tcp.first() {
            if let Ok(a) = l.local_addr() {
                shared.tcp_port.store(a.port(), Ordering::Relaxed);
            }
        }
        Ok(Server { shared, tcp, unix })
    }

    /// The addresses the TCP listeners are bound to.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.tcp.iter().filter_map(|l| l.local_addr().ok()).collect()
    }

    /// The shared state (for embedding and tests).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serves until a shutdown is requested (via [`Shared::request_shutdown`], `SHUTDOWN`,
    /// or a signal when `handle_signals`), then drains and closes the store.
    pub async fn run(self, handle_signals: bool) -> Result<(), ServerError> {
        let Server { shared, tcp, unix } = self;
        for a in tcp.iter().filter_map(|l| l.local_addr().ok()) {
            tracing::info!(address = %a, "ready to accept connections (tcp)");
        }
        let threads = match shared.config.read().io_threads {
            0 => crate::io_pool::default_threads(),
            n => n as usize,
        };
        let pool = IoPool::start(threads)
            .map_err(|e| ServerError::Io { context: "starting the connection threads".into(), source: e })?;
        tracing::info!(threads = pool.len(), "connection threads started");
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut chores = JoinSet::new();
        chores.spawn(stats_sampler(shared.clone()));
        chores.spawn(orphan_purger(shared.clone()));
        if handle_signals {
            chores.spawn(signal_watcher(shared.clone()));
        }
        let (conn_tx, mut conn_rx) = tokio::sync::mpsc::channel::<Incoming>(1024);
        for l in tcp {
            chores.spawn(accept_tcp(l, conn_tx.clone()));
        }
        if let Some(l) = unix {
            chores.spawn(accept_unix(l, conn_tx.clone()));
        }
        drop(conn_tx);
        let mut shutdown = shared.shutdown.subscribe();
        let mode = loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    break shared.shutdown.borrow().unwrap_or(ShutdownMode::Save);
                }
                Some(inc) = conn_rx.recv() => admit(&shared, inc, &mut tasks, &pool).await,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        };
        tracing::info!(?mode, clients = tasks.len(), "shutting down: no new connections, finishing in-flight replies");
        chores.abort_all();
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("clients did not finish within {DRAIN_TIMEOUT:?}; closing them");
            shared.clients.kill_all();
            tasks.shutdown().await;
        }
        while chores.join_next().await.is_some() {}
        // Every connection task has finished: the threads have nothing left to run.
        let _ = tokio::task::spawn_blocking(move || pool.stop()).await;
        let unixsocket = shared.config.read().unixsocket.clone();
        let result = tokio::task::spawn_blocking(move || finish(shared, mode))
            .await
            .map_err(|e| ServerError::Io { context: "closing the store".into(), source: std::io::Error::other(e) })?;
        if let Some(p) = unixsocket {
            let _ = std::fs::remove_file(p);
        }
        result
    }
}

/// Makes everything durable, checkpoints unless `NoSave`, and releases the store.
fn finish(shared: Arc<Shared>, mode: ShutdownMode) -> Result<(), ServerError> {
    shared.store.sync()?;
    if mode == ShutdownMode::Save {
        shared.checkpoint()?;
    }
    match Arc::try_unwrap(shared) {
        Ok(s) => {
            let Shared { store, colls, .. } = s;
            drop(colls);
            match Arc::try_unwrap(store) {
                Ok(store) if mode == ShutdownMode::Save => store.close()?,
                // NOSAVE: the log is durable; skip the final checkpoint the store's drop
                // would write, and let process exit release the lock.
                Ok(store) => std::mem::forget(store),
                Err(_) => tracing::warn!("store still referenced at shutdown; it closes when the process exits"),
            }
        }
        Err(_) => tracing::warn!("server state still referenced at shutdown"),
    }
    tracing::info!("pmemkv-server is now ready to exit, bye bye...");
    Ok(())
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(511)
}

/// A connection accepted by one of the listeners.
enum Incoming {
    Tcp(tokio::net::TcpStream, SocketAddr),
    Unix(tokio::net::UnixStream),
}

async fn accept_tcp(l: TcpListener, tx: tokio::sync::mpsc::Sender<Incoming>) {
    loop {
        match l.accept().await {
            Ok((s, a)) => {
                if tx.send(Incoming::Tcp(s, a)).await.is_err() {
                    return;
                }
            }
            Err(e) => accept_error(e).await,
        }
    }
}

async fn accept_unix(l: UnixListener, tx: tokio::sync::mpsc::Sender<Incoming>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                if tx.send(Incoming::Unix(s)).await.is_err() {
                    return;
                }
            }
            Err(e) => accept_error(e).await,
        }
    }
}

/// Classifies an accept error (axum's rule): a connection that died in the backlog is
/// ignored; anything else (EMFILE, ENFILE, ENOMEM) backs off for a moment.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Admits or refuses a new connection and starts its task on one of the connection threads.
async fn admit(shared: &Arc<Shared>, inc: Incoming, tasks: &mut JoinSet<()>, pool: &IoPool) {
    let (maxclients, protected, has_pass) = {
        let c = shared.config.read();
        (c.maxclients, c.protected_mode, c.requirepass.is_some())
    };
    let full = shared.clients.count() as u64 >= maxclients;
    match inc {
        Incoming::Tcp(mut s, peer) => {
            if full {
                shared.clients.rejected.fetch_add(1, Ordering::Relaxed);
                let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
                return;
            }
            if protected && !has_pass && !peer.ip().is_loopback() && !is_mapped_loopback(peer.ip()) {
                shared.clients.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %peer, "refused non-loopback client in protected mode");
                let _ = s.write_all(PROTECTED_MODE_DENIED.as_bytes()).await;
                return;
            }
            let _ = s.set_nodelay(true);
            let keepalive = shared.config.read().tcp_keepalive;
            if keepalive > 0 {
                let sock = socket2_keepalive(&s, keepalive);
                if let Err(e) = sock {
                    tracing::debug!(error = %e, "could not enable TCP keepalive");
                }
            }
            let laddr = s.local_addr().map(|a| a.to_string()).unwrap_or_default();
            use std::os::fd::AsRawFd;
            let fd = s.as_raw_fd() as i64;
            // The socket moves to the chosen thread's reactor: deregistered here, registered
            // there (from_std must run inside the target runtime).
            let s = match s.into_std() {
                Ok(s) => s,
                Err(e) => return tracing::warn!(error = %e, "could not hand a connection to its thread"),
            };
            let handle = shared.clients.register(peer.to_string(), laddr, fd, false);
            spawn_on_thread(shared, tasks, pool, handle, move || tokio::net::TcpStream::from_std(s));
        }
        Incoming::Unix(mut s) => {
            if full {
                shared.clients.rejected.fetch_add(1, Ordering::Relaxed);
                let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
                return;
            }
            let path = shared.config.read().unixsocket.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            use std::os::fd::AsRawFd;
            let fd = s.as_raw_fd() as i64;
            let s = match s.into_std() {
                Ok(s) => s,
                Err(e) => return tracing::warn!(error = %e, "could not hand a connection to its thread"),
            };
            let handle = shared.clients.register(format!("{path}:0"), path, fd, true);
            spawn_on_thread(shared, tasks, pool, handle, move || tokio::net::UnixStream::from_std(s));
        }
    }
}

/// Serves a connection on the next connection thread. `register` turns the socket (already
/// taken out of this runtime's reactor) into a stream of the thread's runtime: it must run
/// there, so it runs inside the spawned task.
fn spawn_on_thread<S>(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    pool: &IoPool,
    handle: Arc<crate::clients::ClientHandle>,
    register: impl FnOnce() -> std::io::Result<S> + Send + 'static,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let shared = shared.clone();
    let serve = async move {
        match register() {
            Ok(s) => crate::connection::serve(shared, s, handle).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not register a connection with its thread");
                shared.clients.unregister(handle.id);
            }
        }
    };
    tasks.spawn_on(serve, pool.next());
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

/// Enables TCP keepalive probes every `secs` seconds.
fn socket2_keepalive(s: &tokio::net::TcpStream, secs: u64) -> std::io::Result<()> {
    use rustix::net::sockopt;
    sockopt::set_socket_keepalive(s, true)?;
    let d = Duration::from_secs(secs);
    sockopt::set_tcp_keepidle(s, d)?;
    sockopt::set_tcp_keepintvl(s, Duration::from_secs((secs / 3).max(1)))?;
    Ok(())
}

async fn stats_sampler(shared: Arc<Shared>) {
    let mut t = tokio::time::interval(Duration::from_millis(100));
    loop {
        t.tick().await;
        shared.stats.sample();
    }
}

/// Deletes orphaned collection elements (of deleted, overwritten or expired collections) a
/// bounded amount at a time.
async fn orphan_purger(shared: Arc<Shared>) {
    let mut t = tokio::time::interval(Duration::from_secs(1));
    loop {
        t.tick().await;
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.colls.purge_orphans(10_000)).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(deleted = n, "purged orphaned collection elements"),
            Ok(Err(e)) => tracing::warn!(error = %e, "orphan purge failed"),
            _ => {}
        }
    }
}

async fn signal_watcher(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("could not install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::warn!("received SIGTERM, scheduling shutdown"),
        _ = int.recv() => tracing::warn!("received SIGINT, scheduling shutdown"),
    }
    shared.request_shutdown(ShutdownMode::Save);
}
