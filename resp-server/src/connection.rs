//! One client connection: read, parse every complete command in the buffer, run them in
//! order, make their writes durable as configured, and write all their replies at once.
//!
//! Generic over `AsyncRead + AsyncWrite`, so it serves TCP, Unix sockets and in-memory
//! duplex streams in tests alike. Pipelining falls out of the loop: one read may carry many
//! commands, and their replies leave in one write. With `appendfsync always`, the replies of
//! a batch that wrote are held back until one group-committed fsync covers every write in it.
//!
//! Limits (Redis's): the unparsed query buffer of a client may not exceed
//! `client-query-buffer-limit`; a protocol error replies `-ERR Protocol error: …` and closes
//! this connection only; an idle client is closed after `timeout` seconds; a `MONITOR` client
//! that cannot keep up with the feed is closed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

use crate::burst::BurstStream;
use crate::clients::ClientHandle;
use crate::cmd::{self, flags, Ctx};
use crate::error::CmdError;
use crate::keyspace::db_key;
use crate::protocol::reply::{Protocol, Reply};
use crate::protocol::request::{Limits, RequestParser};
use crate::session::Session;
use crate::shared::Shared;

/// Bytes reserved in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// How long a closing connection waits to send replies it deferred (see `crate::burst`).
const CLOSE_DRAIN: Duration = Duration::from_millis(500);
/// Write the reply buffer out once it holds this much, even mid-batch.
const FLUSH_AT: usize = 1 << 20;
/// Serves one client until it quits, errs, is killed, or the server shuts down.
pub async fn serve<S>(srv: Arc<Shared>, stream: S, handle: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut stream = BurstStream::new(stream);
    let stalled = stream.stall_signal();
    let auth_needed = srv.config.read().requirepass.is_some();
    let (mailbox, mut inbox) = crate::pubsub::mailbox(handle.clone());
    let mut session = Session::new(handle.clone(), !auth_needed, mailbox);
    let mut conn = Conn {
        srv: &srv,
        parser: RequestParser::new(),
        inbuf: BytesMut::with_capacity(READ_CHUNK),
        pending: Default::default(),
    };
    let mut out = Reply::new(Protocol::Resp2);
    let mut shutdown = srv.shutdown.subscribe();
    let mut monitor: Option<tokio::sync::broadcast::Receiver<Arc<str>>> = None;
    let result: std::io::Result<()> = async {
        loop {
            if let Some(req) = session.block.take() {
                if !wait_blocked(&srv, &mut session, &mut out, &mut stream, &mut conn, req, &mut shutdown).await? {
                    return Ok(());
                }
                flush(&srv, &mut stream, &mut out).await?;
                conn.process(&mut session, &mut out, &mut stream).await?;
                flush(&srv, &mut stream, &mut out).await?;
                if session.close {
                    return Ok(());
                }
                continue;
            }
            let timeout = idle_timeout(&srv, &mut session, monitor.is_some());
            if conn.inbuf.capacity() - conn.inbuf.len() < READ_CHUNK / 2 {
                conn.inbuf.reserve(READ_CHUNK);
            }
            let event = tokio::select! {
                biased;
                _ = handle.killed() => Event::Close,
                _ = shutdown.changed() => Event::Close,
                line = recv_monitor(&mut monitor) => Event::Monitor(line),
                msg = inbox.rx.recv() => Event::Push(msg),
                r = stream.read_buf(&mut conn.inbuf) => Event::Read(r?),
                _ = stalled.notified() => Event::Drain,
                _ = sleep_opt(timeout) => {
                    tracing::debug!(client = handle.id, "closing idle client (timeout)");
                    Event::Close
                }
            };
            match event {
                Event::Close | Event::Read(0) => return Ok(()),
                Event::Drain => {
                    // A burst left part of the deferred replies unsent (the client is not
                    // reading): wait until it takes them.
                    stream.flush().await?;
                    continue;
                }
                Event::Monitor(Ok(line)) => out.simple(&line),
                Event::Monitor(Err(RecvError::Lagged(_))) => {
                    tracing::warn!(client = handle.id, "MONITOR client could not keep up with the feed; closing it");
                    return Ok(());
                }
                Event::Monitor(Err(RecvError::Closed)) => return Ok(()),
                Event::Push(None) => return Ok(()),
                Event::Push(Some(msg)) => {
                    // Take whatever else is queued too, up to a bound, for one write.
                    let mut next = Some(msg);
                    let mut taken = 0;
                    while let Some(m) = next.take() {
                        taken += m.size();
                        encode_push(&mut out, &m);
                        if out.len() < FLUSH_AT {
                            next = inbox.rx.try_recv().ok();
                        }
                    }
                    flush(&srv, &mut stream, &mut out).await?;
                    let left = inbox.queued.fetch_sub(taken, Ordering::Relaxed).saturating_sub(taken);
                    handle.omem.store(left, Ordering::Relaxed);
                    continue;
                }
                Event::Read(n) => {
                    srv.stats.net_input.fetch_add(n as u64, Ordering::Relaxed);
                    handle.touch();
                    conn.process(&mut session, &mut out, &mut stream).await?;
                    handle.qbuf.store(conn.inbuf.len(), Ordering::Relaxed);
                    if conn.inbuf.len() as u64 > session.cfg.query_buffer_limit {
                        tracing::warn!(client = handle.id, addr = %handle.addr, bytes = conn.inbuf.len(),
                            "closing client that exceeded the query buffer limit");
                        return Ok(());
                    }
                    if session.start_monitor && monitor.is_none() {
                        monitor = Some(srv.monitor_tx.subscribe());
                        srv.monitors.fetch_add(1, Ordering::Relaxed);
                        handle.monitor.store(true, Ordering::Relaxed);
                    }
                    // A small reply goes out with the thread's burst, after the other ready
                    // connections ran their commands (see `crate::burst`); one that ends or
                    // changes the connection is written at once.
                    let plain = !session.close && !session.start_monitor && session.block.is_none();
                    if plain && !out.is_empty() && !out.has_spans() && stream.defer(&out.buf) {
                        srv.stats.net_output.fetch_add(out.len() as u64, Ordering::Relaxed);
                        out.clear();
                    }
                }
            }
            flush(&srv, &mut stream, &mut out).await?;
            if session.close {
                return Ok(());
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(client = handle.id, error = %e, "connection closed with an error");
    }
    if monitor.is_some() {
        srv.monitors.fetch_sub(1, Ordering::Relaxed);
    }
    for ch in &session.channels {
        srv.pubsub.unsubscribe(ch, handle.id);
    }
    for p in &session.patterns {
        srv.pubsub.punsubscribe(p, handle.id);
    }
    let watched: Vec<(u8, Bytes)> = session.watched.drain(..).map(|(db, k, _)| (db, k)).collect();
    srv.watches.unwatch(&watched, handle.id);
    // Shutting down sends the replies still deferred first; a client that does not read
    // them (a killed or idle one) gets a bounded wait, as Redis drops a freed client's
    // pending output.
    let _ = tokio::time::timeout(CLOSE_DRAIN, stream.shutdown()).await;
    srv.clients.unregister(handle.id);
}

/// What woke the connection up.
enum Event {
    Close,
    /// Deferred replies are left to write (see [`BurstStream::stall_signal`]).
    Drain,
    Read(usize),
    Monitor(Result<Arc<str>, RecvError>),
    Push(Option<crate::pubsub::Push>),
}

/// Encodes a published message for this client's protocol.
fn encode_push(out: &mut Reply, msg: &crate::pubsub::Push) {
    use crate::pubsub::Push;
    match msg {
        Push::Message { channel, payload } => {
            out.push(3);
            out.bulk(b"message");
            out.bulk(channel);
            out.bulk(payload);
        }
        Push::PMessage { pattern, channel, payload } => {
            out.push(4);
            out.bulk(b"pmessage");
            out.bulk(pattern);
            out.bulk(channel);
            out.bulk(payload);
        }
    }
}

async fn recv_monitor(rx: &mut Option<tokio::sync::broadcast::Receiver<Arc<str>>>) -> Result<Arc<str>, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The idle timeout that applies to this client now (monitors and subscribers are exempt,
/// as in Redis).
fn idle_timeout(srv: &Shared, s: &mut Session, monitor: bool) -> Option<Duration> {
    s.cfg.refresh(srv);
    let t = s.cfg.timeout;
    (t > 0 && !monitor && s.subscriptions() == 0).then(|| Duration::from_secs(t))
}

async fn flush<S: AsyncWrite + Unpin>(srv: &Shared, stream: &mut S, out: &mut Reply) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    if out.has_spans() {
        write_pieces(stream, out).await?;
    } else {
        stream.write_all(&out.buf).await?;
    }
    srv.stats.net_output.fetch_add(out.len() as u64, Ordering::Relaxed);
    out.clear();
    Ok(())
}

/// Writes a reply holding values in place with `writev`, at most [`MAX_IOVECS`] pieces per
/// call (Linux refuses more than `IOV_MAX`, 1024).
async fn write_pieces<S: AsyncWrite + Unpin>(stream: &mut S, out: &Reply) -> std::io::Result<()> {
    const MAX_IOVECS: usize = 512;
    let mut slices: Vec<std::io::IoSlice<'_>> = out.pieces().map(std::io::IoSlice::new).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = rest.len().min(MAX_IOVECS);
        let written = stream.write_vectored(&rest[..n]).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        std::io::IoSlice::advance_slices(&mut rest, written);
    }
    Ok(())
}

struct Conn<'a> {
    srv: &'a Arc<Shared>,
    parser: RequestParser,
    inbuf: BytesMut,
    /// Commands parsed but not yet run (those after a command that blocked).
    pending: std::collections::VecDeque<Vec<Bytes>>,
}

/// Most commands parsed ahead and run as one batch.
const MAX_BATCH: usize = 1024;

impl Conn<'_> {
    /// Runs every complete command in the input buffer, then waits for durability if a
    /// command wrote and `appendfsync` is `always`.
    async fn process<S: AsyncWrite + Unpin>(
        &mut self,
        session: &mut Session,
        out: &mut Reply,
        stream: &mut S,
    ) -> std::io::Result<()> {
        let srv = self.srv;
        let mut batch: Vec<Vec<Bytes>> = Vec::new();
        loop {
            session.cfg.refresh(srv);
            let max_bulk = session.cfg.max_bulk;
            let env = BatchEnv::read(srv, session);
            // Parse ahead as far as the buffer goes (one command at a time before AUTH, since
            // authenticating changes the limits the next command is parsed under).
            let mut proto_err = None;
            while batch.len() < MAX_BATCH {
                if let Some(args) = self.pending.pop_front() {
                    batch.push(args);
                    continue;
                }
                let limits = Limits { max_bulk, auth_required: !session.authenticated };
                match self.parser.parse(&mut self.inbuf, limits) {
                    Ok(Some(args)) => {
                        batch.push(args);
                        if !session.authenticated {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        proto_err = Some(e);
                        break;
                    }
                }
            }
            if batch.is_empty() && proto_err.is_none() {
                break;
            }
            let done = run_batch(srv, session, out, &batch, &env);
            // Commands after one that blocked wait for it (as in Redis).
            for args in batch.drain(done..).rev() {
                self.pending.push_front(args);
            }
            batch.clear();
            srv.stats.absorb(&mut session.local);
            if let Some((name, sub)) = session.local.last_cmd.take() {
                *session.handle.last_cmd.lock() = match sub {
                    // Containers show their subcommand, as Redis's `cmd=client|list`.
                    Some(sub) => format!("{name}|{}", String::from_utf8_lossy(&sub).to_ascii_lowercase()),
                    None => name.to_string(),
                };
            }
            if let Some(e) = proto_err {
                if !session.close {
                    tracing::info!(client = session.id(), addr = %session.handle.addr, error = %e,
                        "protocol error from client; closing it");
                    out.error(&format!("ERR {e}"));
                    session.close = true;
                }
            }
            if session.close || session.start_monitor || session.block.is_some() {
                break;
            }
            if out.len() >= FLUSH_AT {
                make_durable(srv, session, out).await;
                flush(srv, stream, out).await?;
                if session.close {
                    break;
                }
            }
        }
        make_durable(srv, session, out).await;
        Ok(())
    }
}

/// With `appendfsync always`, waits for an fsync that covers this session's writes (one
/// group commit shared by every connection waiting at the same time). If the fsync fails,
/// the batch's replies are withheld — nothing in it may be acknowledged — and the client is
/// told why and disconnected (the store is poisoned and refuses later writes).
async fn make_durable(srv: &Arc<Shared>, session: &mut Session, out: &mut Reply) {
    if !std::mem::take(&mut session.wrote) || !session.cfg.fsync_always {
        return;
    }
    let store = srv.store.clone();
    let r = tokio::task::spawn_blocking(move || store.sync()).await;
    let failure = match r {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("fsync task failed: {e}"),
    };
    tracing::error!(client = session.id(), error = %failure, "fsync failed; withholding the batch's replies");
    out.clear();
    out.error(&format!("MISCONF Errors writing to the store: {failure}"));
    session.close = true;
}

/// Settings read once per batch rather than once per command.
struct BatchEnv {
    slowlog_threshold: i64,
    slowlog_max_len: u64,
    monitors: bool,
}

impl BatchEnv {
    fn read(srv: &Shared, session: &mut Session) -> BatchEnv {
        session.cfg.refresh(srv);
        BatchEnv {
            slowlog_threshold: session.cfg.slowlog_threshold,
            slowlog_max_len: session.cfg.slowlog_max_len,
            monitors: srv.monitors.load(Ordering::Relaxed) > 0,
        }
    }
}

/// The command index of a blind string write — `SET key value` without options, or a
/// well-formed `MSET` — whose runs are written as one engine batch.
fn blind_put(args: &[Bytes]) -> Option<usize> {
    if args.len() == 3 && args[0].eq_ignore_ascii_case(b"set") {
        return Some(*SET_IDX);
    }
    if args.len() >= 3 && args.len() % 2 == 1 && args[0].eq_ignore_ascii_case(b"mset") {
        return Some(*MSET_IDX);
    }
    None
}

static SET_IDX: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| cmd::lookup(b"set").expect("SET").0);
static MSET_IDX: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| cmd::lookup(b"mset").expect("MSET").0);

/// Prefetches the strings a pipelined batch's `GET`s and `MGET`s will read (up to
/// [`PREFETCH_MAX`] keys), so that their cache misses overlap instead of each read waiting
/// for its own (the index entry and the value each miss the cache on a large store).
fn prefetch_reads(srv: &Shared, db: u8, batch: &[Vec<Bytes>]) {
    let keys = batch
        .iter()
        .flat_map(|args| match args.first() {
            Some(c) if args.len() == 2 && c.eq_ignore_ascii_case(b"get") => &args[1..],
            Some(c) if args.len() >= 2 && c.eq_ignore_ascii_case(b"mget") => &args[1..],
            _ => &[],
        })
        .take(PREFETCH_MAX)
        .map(|k| &k[..]);
    srv.colls.str_prefetch_many(&[db], keys);
}

/// Most keys [`prefetch_reads`] loads ahead: beyond a few dozen the first would be evicted
/// before their reads reach them.
const PREFETCH_MAX: usize = 64;

/// Runs a batch of commands in order. A run of blind string writes is written with one engine write
/// (one log record, one lock acquisition); each still gets its own reply, statistics, slow-log
/// and monitor line, and the order of effects is unchanged.
/// Returns how many commands of the batch ran (fewer than all when one blocked, or the
/// client is closing or became a monitor).
fn run_batch(srv: &Shared, session: &mut Session, out: &mut Reply, batch: &[Vec<Bytes>], env: &BatchEnv) -> usize {
    // One clock reading per command: each command's end is the next one's start.
    let mut clock = Instant::now();
    if batch.len() > 1 && session.authenticated {
        prefetch_reads(srv, session.db, batch);
    }
    let mut i = 0;
    while i < batch.len() {
        if session.close || session.start_monitor || session.block.is_some() {
            return i;
        }
        let run = if session.authenticated && session.multi.is_none() && session.subscriptions() == 0 {
            batch[i..].iter().take_while(|a| blind_put(a).is_some()).count()
        } else {
            0
        };
        if run >= 2 {
            run_set_batch(srv, session, out, &batch[i..i + run], env, &mut clock);
            i += run;
        } else {
            execute_with(srv, session, out, &batch[i], env, &mut clock);
            i += 1;
            if !session.ready_keys.is_empty() {
                srv.blocking.serve_ready(srv, std::mem::take(&mut session.ready_keys));
            }
        }
    }
    i
}

/// Waits while the client is blocked: for its reply (served by another connection), its
/// timeout, a kill or shutdown, or its socket closing. Data the client sends meanwhile is
/// buffered for later. Returns false if the connection must close.
async fn wait_blocked<S: AsyncRead + AsyncWrite + Unpin>(
    srv: &Arc<Shared>,
    session: &mut Session,
    out: &mut Reply,
    stream: &mut S,
    conn: &mut Conn<'_>,
    req: crate::blocking::BlockRequest,
    shutdown: &mut tokio::sync::watch::Receiver<Option<crate::shared::ShutdownMode>>,
) -> std::io::Result<bool> {
    // Replies of the commands before the blocking one go out first.
    make_durable(srv, session, out).await;
    flush(srv, stream, out).await?;
    let handle = session.handle.clone();
    let args = session.blocked_args.take().unwrap_or_default();
    let (waiter, mut rx) = srv.blocking.block(handle.id, session.db, out.proto, args, &req);
    handle.blocked.store(true, Ordering::Relaxed);
    let deadline = req.timeout.map(|t| tokio::time::Instant::now() + t);
    let result = loop {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            r = &mut rx => {
                if let Ok(reply) = r {
                    out.raw(&reply);
                    // The retry wrote on this client's behalf: its reply waits for durability.
                    session.wrote = true;
                }
                break true;
            }
            _ = handle.killed() => break false,
            _ = shutdown.changed() => break false,
            _ = sleep => {
                if srv.blocking.cancel(&waiter) {
                    (req.on_timeout)(out);
                    handle.blocked.store(false, Ordering::Relaxed);
                    return Ok(true);
                }
                // Served at the same moment: the reply is on its way.
                continue;
            }
            r = stream.read_buf(&mut conn.inbuf) => {
                match r {
                    Ok(0) | Err(_) => break false,
                    Ok(n) => {
                        srv.stats.net_input.fetch_add(n as u64, Ordering::Relaxed);
                        continue;
                    }
                }
            }
        }
    };
    handle.blocked.store(false, Ordering::Relaxed);
    if !result && !srv.blocking.cancel(&waiter) {
        // Served just as the client went away: nothing to do but drop the reply.
        tracing::debug!(client = handle.id, "blocked client left as it was served");
    }
    if result {
        make_durable(srv, session, out).await;
    }
    Ok(result)
}

/// Runs consecutive blind string writes (`SET k v`, `MSET …`) as one atomic engine write.
fn run_set_batch(
    srv: &Shared,
    session: &mut Session,
    out: &mut Reply,
    sets: &[Vec<Bytes>],
    env: &BatchEnv,
    clock: &mut Instant,
) {
    let pairs: Vec<(Vec<u8>, &[u8])> =
        sets.iter().flat_map(|a| a[1..].chunks(2).map(|p| (db_key(session.db, &p[0]), &p[1][..]))).collect();
    let result = srv.colls.str_put_many(&pairs);
    let micros = lap(clock);
    let each = micros / sets.len() as u64;
    session.wrote = true;
    session.local.last_cmd =
        Some((if blind_put(&sets[sets.len() - 1]) == Some(*SET_IDX) { "set" } else { "mset" }, None));
    match result {
        Ok(()) => {
            for a in sets {
                out.ok();
                session.local.call(blind_put(a).expect("blind put"), each, false);
            }
            session.local.writes += sets.len() as u64;
            srv.dirty.fetch_add(sets.len() as u64, Ordering::Relaxed);
            if srv.watches.any() {
                for (k, _) in &pairs {
                    srv.watches.touch(session.db, &k[1..]);
                }
            }
        }
        Err(e) => {
            let e = CmdError::from(e);
            for a in sets {
                out.error(&e.0);
                session.local.call(blind_put(a).expect("blind put"), each, true);
                session.local.errors += 1;
            }
        }
    }
    for args in sets {
        after_command(srv, session, args, each, 0, env);
    }
}

/// Runs one command: lookup, checks, the handler, statistics, slow log and monitor feed.
pub fn execute(srv: &Shared, session: &mut Session, out: &mut Reply, args: &[Bytes]) {
    let env = BatchEnv::read(srv, session);
    execute_with(srv, session, out, args, &env, &mut Instant::now());
    srv.stats.absorb(&mut session.local);
}

/// Microseconds since `clock`, which moves to now.
fn lap(clock: &mut Instant) -> u64 {
    let now = Instant::now();
    let d = now.duration_since(*clock).as_micros() as u64;
    *clock = now;
    d
}

fn execute_with(
    srv: &Shared,
    session: &mut Session,
    out: &mut Reply,
    args: &[Bytes],
    env: &BatchEnv,
    clock: &mut Instant,
) {
    // Pipelines repeat commands: try the previous one before the table.
    let cached = session.last_lookup.filter(|(_, c)| args[0].eq_ignore_ascii_case(c.name.as_bytes()));
    let Some((idx, cmd)) = cached.or_else(|| cmd::lookup(&args[0])) else {
        let mut msg = format!("unknown command '{}', with args beginning with: ", cmd::show(&args[0]));
        for a in args.iter().skip(1) {
            msg.push_str(&format!("'{}' ", cmd::show(a)));
        }
        reject(srv, session, out, CmdError::err(msg), None);
        return;
    };
    session.last_lookup = Some((idx, cmd));
    if !cmd.arity_ok(args.len()) {
        reject(srv, session, out, CmdError::wrong_args(cmd.name), Some((idx, cmd)));
        return;
    }
    if !session.authenticated && !cmd.has(flags::NO_AUTH) {
        // Redis 7.0 (the version reported) does not know CLIENT SETINFO, and rejects unknown
        // subcommands before checking authentication: redis-py ignores that error, while it
        // treats NOAUTH at connect as fatal.
        let e = if cmd.name == "client" && args.len() > 1 && args[1].eq_ignore_ascii_case(b"setinfo") {
            CmdError::unknown_subcommand(&args[1], "client")
        } else {
            CmdError::noauth()
        };
        reject(srv, session, out, e, Some((idx, cmd)));
        return;
    }
    if out.proto == crate::protocol::reply::Protocol::Resp2
        && session.subscriptions() > 0
        && !cmd.has(flags::SUBSCRIBED_OK)
    {
        let e = CmdError::err(format_args!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        ));
        reject(srv, session, out, e, Some((idx, cmd)));
        return;
    }
    if session.multi.is_some() && !cmd.has(flags::NO_MULTI) && cmd::is_container(cmd.name) {
        if let Err(e) = cmd::check_subcommand(cmd.name, args) {
            reject(srv, session, out, e, Some((idx, cmd)));
            return;
        }
    }
    if let (Some(queue), false) = (&mut session.multi, cmd.has(flags::NO_MULTI)) {
        queue.push(args.to_vec());
        session.handle.multi_len.store(queue.len(), Ordering::Relaxed);
        out.simple("QUEUED");
        return;
    }
    let sub = (cmd::is_container(cmd.name) && args.len() > 1 && args[1].len() <= 32).then(|| args[1].clone());
    if let Some(sub) = &sub {
        // Introspection (CLIENT LIST/INFO) shows the command running now, as Redis does;
        // other commands are recorded once per batch.
        *session.handle.last_cmd.lock() = format!("{}|{}", cmd.name, String::from_utf8_lossy(sub).to_ascii_lowercase());
    }
    session.local.last_cmd = Some((cmd.name, sub));
    let before = out.mark();
    // Watched keys are invalidated only by a write that changed something, as Redis's
    // `signalModifiedKey` is (a ZREM of a missing member leaves a WATCH intact). Inside EXEC
    // the group commits at its end, so there every write counts as a change.
    let commits_before =
        (cmd.has(flags::WRITE) && !session.in_exec && srv.watches.any()).then(pmemkv::Store::thread_commits);
    let result = {
        let mut ctx = Ctx { srv, s: session, out };
        // A bug in one command must not take the server down or leave the client hanging:
        // reply an error, log it, and close this connection (its state may be inconsistent).
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (cmd.run)(&mut ctx, args))) {
            Ok(r) => r,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(command = cmd.name, panic = %what, client = ctx.s.id(), "command panicked; closing the client");
                ctx.s.close = true;
                Err(CmdError::err(format_args!("internal error in '{}' (see the server log)", cmd.name)))
            }
        }
    };
    let micros = lap(clock);
    // A handler may have set rewritten arguments for its retries (XREAD's `$` resolved).
    if session.block.is_some() && session.blocked_args.is_none() {
        session.blocked_args = Some(args.to_vec());
    }
    match result {
        Ok(()) => {
            session.local.call(idx, micros, false);
            if cmd.has(flags::WRITE) {
                session.wrote = true;
                session.local.writes += 1;
                srv.dirty.fetch_add(1, Ordering::Relaxed);
                // A command that blocked changed nothing (yet).
                let changed = commits_before.is_none_or(|n| pmemkv::Store::thread_commits() != n);
                if srv.watches.any() && session.block.is_none() && changed {
                    match session.changed_keys.take() {
                        Some(keys) => keys.iter().for_each(|k| srv.watches.touch(session.db, k)),
                        None => written_key_args(cmd, args).for_each(|k| srv.watches.touch(session.db, k)),
                    }
                }
            }
        }
        Err(e) => {
            // A handler that failed part-way must not leave half a reply behind.
            out.truncate(before);
            out.error(&e.0);
            session.local.call(idx, micros, true);
            session.local.errors += 1;
            // A failed write may still have written (e.g. a poisoned store): be safe.
            if cmd.has(flags::WRITE) {
                session.wrote = true;
            }
        }
    }
    session.changed_keys = None;
    after_command(srv, session, args, micros, cmd.flags, env);
}

/// Slow log and monitor feed after a command ran.
fn after_command(srv: &Shared, session: &Session, args: &[Bytes], micros: u64, cmd_flags: u32, env: &BatchEnv) {
    if env.slowlog_threshold >= 0 && micros as i64 >= env.slowlog_threshold && cmd_flags & flags::SKIP_SLOWLOG == 0 {
        srv.add_slowlog(args, micros, &session.handle.addr, session.handle.name.lock().clone(), env.slowlog_max_len);
    }
    if env.monitors && cmd_flags & (flags::SKIP_MONITOR | flags::ADMIN) == 0 {
        let _ = srv.monitor_tx.send(monitor_line(session, args).into());
    }
}

/// The key arguments a write command may change: the destination only for the commands
/// that read their other keys (`SINTERSTORE dst src…`, `COPY src dst`), else every key.
fn written_key_args<'a>(cmd: &cmd::Command, args: &'a [Bytes]) -> Box<dyn Iterator<Item = &'a Bytes> + 'a> {
    match cmd.name {
        "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => {
            Box::new(args.get(1).into_iter())
        }
        "copy" => Box::new(args.get(2).into_iter()),
        _ => Box::new(key_args(cmd, args)),
    }
}

/// The key arguments of a command, from its key positions in the table.
pub fn key_args<'a>(cmd: &cmd::Command, args: &'a [Bytes]) -> impl Iterator<Item = &'a Bytes> {
    let n = args.len() as i32;
    let first = cmd.first_key;
    let last = if cmd.last_key < 0 { n + cmd.last_key } else { cmd.last_key.min(n - 1) };
    let step = cmd.step.max(1) as usize;
    // No keys: an empty range starting past the end.
    let (from, to) = if first > 0 && last >= first { (first, last) } else { (n, n - 1) };
    (from..=to).step_by(step).map(move |i| &args[i as usize])
}

/// Runs the commands queued by `MULTI` for `EXEC`, as one engine atomic group, writing the
/// array of their replies. If the group cannot be committed, nothing was applied and `EXEC`
/// fails with that error instead.
pub fn exec_queued(ctx: &mut Ctx<'_>, queued: &[Vec<Bytes>]) -> crate::error::CmdResult {
    let srv = ctx.srv;
    let env = BatchEnv::read(srv, ctx.s);
    let mut clock = Instant::now();
    let before = ctx.out.mark();
    ctx.out.array(queued.len());
    let session = &mut *ctx.s;
    let out = &mut *ctx.out;
    session.in_exec = true;
    let r = srv.store.atomic(|| {
        for args in queued {
            execute_with(srv, session, out, args, &env, &mut clock);
        }
        Ok(())
    });
    session.in_exec = false;
    if let Err(e) = r {
        out.truncate(before);
        return Err(e.into());
    }
    Ok(())
}

fn reject(srv: &Shared, session: &mut Session, out: &mut Reply, e: CmdError, cmd: Option<(usize, &cmd::Command)>) {
    session.local.errors += 1;
    if let Some((i, _)) = cmd {
        srv.stats.per_cmd[i].rejected.fetch_add(1, Ordering::Relaxed);
    }
    if cmd.is_some_and(|(_, c)| c.name == "exec") {
        // Redis's `rejectCommand` for EXEC (`execCommandAbort`): the transaction, if any, is
        // discarded and the error says so — also outside MULTI.
        let mut ctx = Ctx { srv, s: session, out };
        crate::cmd::multi::end_multi(&mut ctx);
        crate::cmd::multi::unwatch_all(&mut ctx);
        let why = e.0.strip_prefix("ERR ").unwrap_or(&e.0);
        out.error(&format!("EXECABORT Transaction discarded because of: {why}"));
        return;
    }
    if session.multi.is_some() {
        // Redis flags the transaction: its EXEC will fail with EXECABORT.
        session.multi_failed = true;
    }
    out.error(&e.0);
}

/// A `MONITOR` line: `1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`.
fn monitor_line(session: &Session, args: &[Bytes]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let addr = if session.handle.unix { format!("unix:{}", session.handle.laddr) } else { session.handle.addr.clone() };
    let mut line = format!("{}.{:06} [{} {}]", now.as_secs(), now.subsec_micros(), session.db, addr);
    for a in args {
        line.push(' ');
        line.push_str(&repr(a));
    }
    line
}

/// Redis's `sdscatrepr`: a quoted, escaped form of bytes.
pub fn repr(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}
