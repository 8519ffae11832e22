//! Server commands about the dataset and the process: DBSIZE, FLUSHDB, FLUSHALL, SAVE,
//! BGSAVE, LASTSAVE, TIME, SHUTDOWN, MONITOR.
//!
//! `SAVE`/`BGSAVE` map to an engine checkpoint (the log is already the persistence: a
//! checkpoint only shortens the replay at the next start).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::flags::*;
use super::{is, Command, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::shared::ShutdownMode;

macro_rules! server_cmd {
    ($name:literal, $arity:expr, $flags:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            group: "server",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The server family.
pub static COMMANDS: &[Command] = &[
    server_cmd!("dbsize", 1, READONLY | FAST, "Returns the number of keys in the database.", "1.0.0", dbsize),
    server_cmd!("flushdb", -1, WRITE, "Removes all keys from the current database.", "1.0.0", flushdb),
    server_cmd!("flushall", -1, WRITE, "Removes all keys from all databases.", "1.0.0", flushall),
    server_cmd!("save", 1, ADMIN | NOSCRIPT, "Synchronously saves the database(s) to disk.", "1.0.0", save),
    server_cmd!("bgsave", -1, ADMIN | NOSCRIPT, "Asynchronously saves the database(s) to disk.", "1.0.0", bgsave),
    server_cmd!(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        "Returns the Unix timestamp of the last successful save to disk.",
        "1.0.0",
        lastsave
    ),
    server_cmd!("time", 1, LOADING | STALE | FAST, "Returns the server time.", "2.6.0", time),
    server_cmd!(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI,
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "1.0.0",
        shutdown
    ),
    server_cmd!(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE,
        "Listens for all requests received by the server in real-time.",
        "1.0.0",
        monitor
    ),
];

/// ```text
/// DBSIZE
/// ```
fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let (n, _) = ctx.srv.colls.count_keys_in(&[ctx.s.db])?;
    ctx.out.int(n as i64);
    Ok(())
}

/// Deletes every key of database `db`, in transactions of a bounded size.
pub fn flush_db(ctx: &Ctx<'_>, db: u8) -> Result<u64, CmdError> {
    const CHUNK: usize = 10_000;
    let mut total = 0;
    loop {
        let mut keys = Vec::with_capacity(CHUNK);
        for r in ctx.srv.colls.keys_in(&[db], None).take(CHUNK) {
            keys.push(r?.0);
        }
        if keys.is_empty() {
            return Ok(total);
        }
        total += ctx.srv.colls.delete_keys(&keys)?;
    }
}

fn flush_mode(args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => Ok(()),
        2 if is(&args[1], "ASYNC") || is(&args[1], "SYNC") => Ok(()),
        _ => Err(CmdError::syntax()),
    }
}

/// ```text
/// FLUSHDB [ASYNC | SYNC]
/// ```
fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    flush_db(ctx, ctx.s.db)?;
    ctx.srv.watches.touch_all(Some(ctx.s.db));
    ctx.out.ok();
    Ok(())
}

/// ```text
/// FLUSHALL [ASYNC | SYNC]
/// ```
fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    let dbs = ctx.srv.config.read().databases;
    for db in 0..dbs {
        flush_db(ctx, db as u8)?;
    }
    ctx.srv.watches.touch_all(None);
    ctx.out.ok();
    Ok(())
}

/// ```text
/// SAVE
/// ```
fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.srv.checkpoint()?;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// BGSAVE [SCHEDULE]
/// ```
fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !is(&args[1], "SCHEDULE")) {
        return Err(CmdError::syntax());
    }
    ctx.srv.checkpoint()?;
    ctx.out.simple("Background saving started");
    Ok(())
}

/// ```text
/// LASTSAVE
/// ```
fn lastsave(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.last_save.load(Ordering::Relaxed) as i64);
    Ok(())
}

/// ```text
/// TIME
/// ```
fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk(now.as_secs().to_string().as_bytes());
    ctx.out.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// ```text
/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
/// ```
fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut mode = ShutdownMode::Save;
    for a in &args[1..] {
        if is(a, "NOSAVE") {
            mode = ShutdownMode::NoSave;
        } else if is(a, "SAVE") {
            mode = ShutdownMode::Save;
        } else if is(a, "NOW") || is(a, "FORCE") {
        } else if is(a, "ABORT") {
            return Err(CmdError::err("No shutdown in progress."));
        } else {
            return Err(CmdError::syntax());
        }
    }
    tracing::warn!(client = ctx.s.id(), ?mode, "user requested shutdown");
    ctx.srv.request_shutdown(mode);
    // Like Redis, a successful SHUTDOWN sends no reply: the connection just closes.
    ctx.s.close = true;
    Ok(())
}

/// ```text
/// MONITOR
/// ```
fn monitor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.s.start_monitor = true;
    ctx.out.ok();
    Ok(())
}
