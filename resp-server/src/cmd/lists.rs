//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET,
//! LTRIM, and the blocking BLPOP, BRPOP.
//!
//! Lists are the task queues of the platform (RQ, Celery): pushes signal the key ready so
//! blocked poppers are served in the order they blocked (see [`crate::blocking`]).

use bytes::Bytes;

use super::flags::*;
use super::{int_arg, timeout_arg, Command, Ctx};
use crate::blocking::{BlockRequest, Served};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::db_key;
use crate::protocol::reply::Reply;
use crate::shared::Shared;

macro_rules! list_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            group: "list",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The list family.
pub static COMMANDS: &[Command] = &[
    list_cmd!("lpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", lpush),
    list_cmd!("rpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", rpush),
    list_cmd!("lpushx", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "Prepends one or more elements to a list only when the list exists.", "2.2.0", lpushx),
    list_cmd!("rpushx", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "Appends an element to a list only when the list exists.", "2.2.0", rpushx),
    list_cmd!("lpop", -2, WRITE | FAST, 1, 1, 1, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", lpop),
    list_cmd!("rpop", -2, WRITE | FAST, 1, 1, 1, "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", rpop),
    list_cmd!("llen", 2, READONLY | FAST, 1, 1, 1, "Returns the length of a list.", "1.0.0", llen),
    list_cmd!("lrange", 4, READONLY, 1, 1, 1, "Returns a range of elements from a list.", "1.0.0", lrange),
    list_cmd!("lindex", 3, READONLY, 1, 1, 1, "Returns an element from a list by its index.", "1.0.0", lindex),
    list_cmd!("lset", 4, WRITE | DENYOOM, 1, 1, 1, "Sets the value of an element in a list by its index.", "1.0.0", lset),
    list_cmd!("ltrim", 4, WRITE, 1, 1, 1, "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", ltrim),
    list_cmd!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, 1, -2, 1, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", blpop),
    list_cmd!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, 1, -2, 1, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", brpop),
];

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool, only_existing: bool) -> CmdResult {
    let key = ctx.key(&args[1]);
    let values = &args[2..];
    let c = &ctx.srv.colls;
    let n = match (left, only_existing) {
        (true, false) => c.lpush(&key, values)?,
        (false, false) => c.rpush(&key, values)?,
        (true, true) => c.lpushx(&key, values)?,
        (false, true) => c.rpushx(&key, values)?,
    };
    if n > 0 {
        ctx.signal_ready(&args[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// LPUSH key element [element ...]
/// ```
fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, false)
}

/// ```text
/// RPUSH key element [element ...]
/// ```
fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, false)
}

/// ```text
/// LPUSHX key element [element ...]
/// ```
fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, true)
}

/// ```text
/// RPUSHX key element [element ...]
/// ```
fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, true)
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => match int_arg(&args[2]) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
        _ => return Err(CmdError::wrong_args(if left { "lpop" } else { "rpop" })),
    };
    let key = ctx.key(&args[1]);
    let c = &ctx.srv.colls;
    let n = count.unwrap_or(1);
    let items = if left { c.lpop(&key, n)? } else { c.rpop(&key, n)? };
    match count {
        None => ctx.out.opt_bulk(items.first().map(Vec::as_slice)),
        // A count on a missing key is a null array, as in Redis.
        Some(_) if items.is_empty() && !c.exists(&key)? => ctx.out.null_array(),
        Some(_) => ctx.out.bulks(&items),
    }
    Ok(())
}

/// ```text
/// LPOP key [count]
/// ```
fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, true)
}

/// ```text
/// RPOP key [count]
/// ```
fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, false)
}

/// ```text
/// LLEN key
/// ```
fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.llen(&ctx.key(&args[1]))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// LRANGE key start stop
/// ```
fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let items = ctx.srv.colls.lrange(&ctx.key(&args[1]), start, stop)?;
    ctx.out.array(items.len());
    for v in &items {
        ctx.out.bulk(v);
    }
    Ok(())
}

/// ```text
/// LINDEX key index
/// ```
fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let i = int_arg(&args[2])?;
    let v = ctx.srv.colls.lindex(&ctx.key(&args[1]), i)?;
    ctx.out.opt_bulk(v.as_deref());
    Ok(())
}

/// ```text
/// LSET key index element
/// ```
fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let i = int_arg(&args[2])?;
    let key = ctx.key(&args[1]);
    if !ctx.srv.colls.exists(&key)? {
        return Err(CmdError::no_such_key());
    }
    ctx.srv.colls.lset(&key, i, &args[3])?;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// LTRIM key start stop
/// ```
fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    ctx.srv.colls.ltrim(&ctx.key(&args[1]), start, stop)?;
    ctx.out.ok();
    Ok(())
}

/// Pops one element from the first non-empty list of `keys` (in database `db`), replying
/// `[key, element]`. The building block of BLPOP/BRPOP, for the client itself and for its
/// retries while blocked.
fn pop_first(srv: &Shared, db: u8, keys: &[Bytes], left: bool, out: &mut Reply) -> Result<Served, CmdError> {
    for k in keys {
        let key = db_key(db, k);
        let items = if left { srv.colls.lpop(&key, 1)? } else { srv.colls.rpop(&key, 1)? };
        if let Some(v) = items.first() {
            out.array(2);
            out.bulk(k);
            out.bulk(v);
            return Ok(Served::Yes);
        }
    }
    Ok(Served::No)
}

fn serve_blpop(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    pop_first(srv, db, &args[1..args.len() - 1], true, out)
}

fn serve_brpop(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    pop_first(srv, db, &args[1..args.len() - 1], false, out)
}

fn blocking_pop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    let timeout = timeout_arg(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    if pop_first(ctx.srv, ctx.s.db, keys, left, ctx.out)? == Served::Yes {
        return Ok(());
    }
    ctx.block(BlockRequest {
        keys: keys.to_vec(),
        timeout,
        serve: if left { serve_blpop } else { serve_brpop },
        on_timeout: Reply::null_array,
    });
    Ok(())
}

/// ```text
/// BLPOP key [key ...] timeout
/// ```
fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, true)
}

/// ```text
/// BRPOP key [key ...] timeout
/// ```
fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, false)
}
