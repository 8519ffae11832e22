//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands after `MULTI` are checked (existence, arity) and queued; `EXEC` runs them inside
//! one engine atomic group (`pmemkv::Store::atomic`), so their writes are one log record: after
//! a crash all of them are present or none. A command that fails inside `EXEC` replies with
//! its error and leaves the others applied, as in Redis. `WATCH` makes `EXEC` abort (null
//! reply) if a watched key was modified, expired or deleted since.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use pmemkv::collections::KeyTtl;

use super::flags::*;
use super::{Command, Ctx};
use crate::error::{CmdError, CmdResult};

macro_rules! tx_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: ($first != 0) as i32,
            group: "transactions",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The transactions family.
pub static COMMANDS: &[Command] = &[
    tx_cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | NO_MULTI, 0, 0, "Starts a transaction.", "1.2.0", multi),
    tx_cmd!(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | NO_MULTI,
        0,
        0,
        "Executes all commands in a transaction.",
        "1.2.0",
        exec
    ),
    tx_cmd!(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_MULTI,
        0,
        0,
        "Discards a transaction.",
        "2.0.0",
        discard
    ),
    tx_cmd!(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_MULTI,
        1,
        -1,
        "Monitors changes to keys to determine the execution of a transaction.",
        "2.2.0",
        watch
    ),
    tx_cmd!(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        0,
        0,
        "Forgets about watched keys of a transaction.",
        "2.2.0",
        unwatch
    ),
];

/// ```text
/// MULTI
/// ```
fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.s.multi.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.s.multi = Some(Vec::new());
    ctx.s.multi_failed = false;
    ctx.s.handle.in_multi.store(true, Ordering::Relaxed);
    ctx.s.handle.multi_len.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// Leaves the transaction state (queued commands, failure flag).
pub fn end_multi(ctx: &mut Ctx<'_>) {
    ctx.s.multi = None;
    ctx.s.multi_failed = false;
    ctx.s.handle.in_multi.store(false, Ordering::Relaxed);
    ctx.s.handle.multi_len.store(0, Ordering::Relaxed);
}

/// Forgets every watched key.
pub fn unwatch_all(ctx: &mut Ctx<'_>) {
    let keys: Vec<(u8, Bytes)> = ctx.s.watched.drain(..).map(|(db, k, _)| (db, k)).collect();
    ctx.srv.watches.unwatch(&keys, ctx.s.id());
    ctx.s.watch_flag.clear();
}

/// True if a watched key changed, or had an expiry that has passed, since it was watched.
fn watch_broken(ctx: &Ctx<'_>) -> bool {
    if ctx.s.watch_flag.is_dirty() {
        return true;
    }
    let now = ctx.now_ms();
    ctx.s.watched.iter().any(|(_, _, exp)| exp.is_some_and(|t| t <= now))
}

/// ```text
/// EXEC
/// ```
fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let Some(queued) = ctx.s.multi.take() else { return Err(CmdError::err("EXEC without MULTI")) };
    let failed = ctx.s.multi_failed;
    end_multi(ctx);
    if failed {
        unwatch_all(ctx);
        return Err(CmdError("EXECABORT Transaction discarded because of previous errors.".into()));
    }
    if watch_broken(ctx) {
        unwatch_all(ctx);
        ctx.out.null_array();
        return Ok(());
    }
    unwatch_all(ctx);
    crate::connection::exec_queued(ctx, &queued)
}

/// ```text
/// DISCARD
/// ```
fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.s.multi.is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    end_multi(ctx);
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// ```text
/// WATCH key [key ...]
/// ```
fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.s.multi.is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    for k in &args[1..] {
        if ctx.s.watched.iter().any(|(db, w, _)| *db == ctx.s.db && w == k) {
            continue;
        }
        let expiry = match ctx.srv.colls.ttl(&ctx.key(k))? {
            KeyTtl::ExpiresAt(t) => Some(t),
            _ => None,
        };
        ctx.srv.watches.watch(ctx.s.db, k.clone(), ctx.s.id(), &ctx.s.watch_flag);
        ctx.s.watched.push((ctx.s.db, k.clone(), expiry));
    }
    ctx.out.ok();
    Ok(())
}

/// ```text
/// UNWATCH
/// ```
fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}
