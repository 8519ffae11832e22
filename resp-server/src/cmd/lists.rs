//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LMPOP, LLEN, LRANGE, LINDEX, LSET,
//! LTRIM, LPOS, LINSERT, LREM, LMOVE, RPOPLPUSH, and the blocking BLPOP, BRPOP, BLMPOP,
//! BLMOVE, BRPOPLPUSH.
//!
//! Lists are the task queues of the platform (RQ, Celery): every command that pushes signals
//! the key ready so blocked clients are served in the order they blocked (see
//! [`crate::blocking`]); a served BLMOVE/BRPOPLPUSH reports its destination ready in turn, so
//! chains of blocked movers are served within the same command.
//!
//! Arguments are checked in Redis's order (e.g. `LINDEX missing notanumber` is a null, `LSET
//! string …` is WRONGTYPE whatever the index), so error replies match Redis 7.0 exactly.
//!
//! WATCH: the dispatcher touches the keys at the table's key positions after a write.
//! LMPOP/BLMPOP have no fixed key positions (`numkeys`, Redis's `movablekeys`), so they touch
//! the key they popped from themselves, as Redis does. Retries of blocked clients touch what
//! they change beyond the key whose push woke them (BLMOVE's destination, BLMPOP's key).

use bytes::Bytes;
use pmemkv::collections::{InsertWhere, ListEnd, LposOptions};

use super::flags::*;
use super::{int_arg, is, timeout_arg, Command, Ctx};
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
    list_cmd!("lmpop", -4, WRITE | MOVABLEKEYS, 0, 0, 0, "Pop elements from a list", "7.0.0", lmpop),
    list_cmd!("llen", 2, READONLY | FAST, 1, 1, 1, "Returns the length of a list.", "1.0.0", llen),
    list_cmd!("lrange", 4, READONLY, 1, 1, 1, "Returns a range of elements from a list.", "1.0.0", lrange),
    list_cmd!("lindex", 3, READONLY, 1, 1, 1, "Returns an element from a list by its index.", "1.0.0", lindex),
    list_cmd!("lset", 4, WRITE | DENYOOM, 1, 1, 1, "Sets the value of an element in a list by its index.", "1.0.0", lset),
    list_cmd!("ltrim", 4, WRITE, 1, 1, 1, "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", ltrim),
    list_cmd!("lpos", -3, READONLY, 1, 1, 1, "Return the index of matching elements on a list", "6.0.6", lpos),
    list_cmd!("linsert", 5, WRITE | DENYOOM, 1, 1, 1, "Insert an element before or after another element in a list", "2.2.0", linsert),
    list_cmd!("lrem", 4, WRITE, 1, 1, 1, "Remove elements from a list", "1.0.0", lrem),
    list_cmd!("lmove", 5, WRITE | DENYOOM, 1, 2, 1, "Pop an element from a list, push it to another list and return it", "6.2.0", lmove),
    list_cmd!("rpoplpush", 3, WRITE | DENYOOM, 1, 2, 1, "Remove the last element in a list, prepend it to another list and return it", "1.2.0", rpoplpush),
    list_cmd!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, 1, -2, 1, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", blpop),
    list_cmd!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, 1, -2, 1, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", brpop),
    list_cmd!("blmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, 0, 0, 0, "Pop elements from a list, or block until one is available", "7.0.0", blmpop),
    list_cmd!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, 1, 2, 1, "Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0", blmove),
    list_cmd!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, 1, 2, 1, "Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0", brpoplpush),
];

// ---- pushes ----------------------------------------------------------------------------------

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

// ---- pops ------------------------------------------------------------------------------------

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

/// `LEFT` or `RIGHT` (any case), else a syntax error.
fn end_arg(arg: &[u8]) -> Result<ListEnd, CmdError> {
    if is(arg, "left") {
        Ok(ListEnd::Left)
    } else if is(arg, "right") {
        Ok(ListEnd::Right)
    } else {
        Err(CmdError::syntax())
    }
}

/// The parsed tail of LMPOP/BLMPOP: `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
struct MPop<'a> {
    keys: &'a [Bytes],
    end: ListEnd,
    count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at `args[at]`, with
/// Redis's errors in Redis's order.
fn mpop_args(args: &[Bytes], at: usize) -> Result<MPop<'_>, CmdError> {
    let numkeys = match int_arg(&args[at]) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    let where_idx = (at as u64 + 1).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(CmdError::syntax());
    }
    let where_idx = where_idx as usize;
    let end = end_arg(&args[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            match int_arg(&args[j]) {
                Ok(n) if n > 0 => count = Some(n as usize),
                _ => return Err(CmdError::err("count should be greater than 0")),
            }
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    Ok(MPop { keys: &args[at + 1..where_idx], end, count: count.unwrap_or(1) })
}

/// Writes the LMPOP reply `[key, [element ...]]`.
fn mpop_reply(out: &mut Reply, key: &[u8], items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(key);
    out.bulks(items);
}

/// Pops from the first non-empty list of `m.keys` (in database `db`) and replies; touches
/// the key for WATCH. With `retry` (a blocked client's retry) keys of another type are
/// skipped rather than an error: Redis serves a blocked client only from lists.
fn mpop_first(srv: &Shared, db: u8, m: &MPop<'_>, out: &mut Reply, retry: bool) -> Result<Served, CmdError> {
    let popped = if retry {
        let mut found = None;
        for (i, k) in m.keys.iter().enumerate() {
            match srv.colls.lmpop(&[db_key(db, k)], m.end, m.count) {
                Ok(Some((_, items))) => {
                    found = Some((i, items));
                    break;
                }
                Ok(None) | Err(pmemkv::Error::WrongType) => {}
                Err(e) => return Err(e.into()),
            }
        }
        found
    } else {
        let keys: Vec<Vec<u8>> = m.keys.iter().map(|k| db_key(db, k)).collect();
        srv.colls.lmpop(&keys, m.end, m.count)?
    };
    let Some((i, items)) = popped else { return Ok(Served::No) };
    srv.watches.touch(db, &m.keys[i]);
    mpop_reply(out, &m.keys[i], &items);
    Ok(Served::Yes)
}

/// ```text
/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
/// ```
fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = mpop_args(args, 1)?;
    // `mpop_first` signals the list it pops from to WATCH; no other key changes.
    ctx.s.changed_keys = Some(Vec::new());
    if mpop_first(ctx.srv, ctx.s.db, &m, ctx.out, false)? == Served::No {
        ctx.out.null_array();
    }
    Ok(())
}

// ---- reads and in-place changes ---------------------------------------------------------------

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
    let key = ctx.key(&args[1]);
    let out = &mut *ctx.out;
    ctx.srv.colls.lrange_with(&key, start, stop, |items| out.bulks(items))?;
    Ok(())
}

/// Fails with WRONGTYPE if `key` holds something other than a list; true if it is a list.
fn is_list(ctx: &Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    match ctx.srv.colls.key_type(key)? {
        None => Ok(false),
        Some(pmemkv::collections::KeyType::List) => Ok(true),
        Some(_) => Err(CmdError::wrong_type()),
    }
}

/// ```text
/// LINDEX key index
/// ```
fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    // Redis looks the key up before parsing the index.
    if !is_list(ctx, &key)? {
        ctx.out.null();
        return Ok(());
    }
    let i = int_arg(&args[2])?;
    let v = ctx.srv.colls.lindex(&key, i)?;
    ctx.out.opt_bulk(v.as_deref());
    Ok(())
}

/// ```text
/// LSET key index element
/// ```
fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    // Redis looks the key up (no such key, WRONGTYPE) before parsing the index.
    if !is_list(ctx, &key)? {
        return Err(CmdError::no_such_key());
    }
    let i = int_arg(&args[2])?;
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

/// ```text
/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
/// ```
fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut opts = LposOptions::default();
    let mut with_count = false;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "rank") && more {
            j += 1;
            opts.rank = match int_arg(&args[j])? {
                // Redis negates the rank, which leaves LONG_MIN negative: it then counts
                // every match from the tail, like -1.
                i64::MIN => -1,
                r => r,
            };
            if opts.rank == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(&args[j], "count") && more {
            j += 1;
            opts.count = non_negative(&args[j], "COUNT can't be negative")?;
            with_count = true;
        } else if is(&args[j], "maxlen") && more {
            j += 1;
            opts.maxlen = non_negative(&args[j], "MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if !with_count {
        opts.count = 1;
    }
    let found = ctx.srv.colls.lpos(&ctx.key(&args[1]), &args[2], opts)?;
    if with_count {
        ctx.out.array(found.len());
        for i in found {
            ctx.out.int(i as i64);
        }
    } else {
        match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// A non-negative integer argument; anything else is `ERR <msg>` (Redis's
/// `getPositiveLongFromObjectOrReply` with a message).
fn non_negative(arg: &[u8], msg: &str) -> Result<u64, CmdError> {
    match int_arg(arg) {
        Ok(n) if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::err(msg)),
    }
}

/// ```text
/// LINSERT key BEFORE|AFTER pivot element
/// ```
fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = if is(&args[2], "after") {
        InsertWhere::After
    } else if is(&args[2], "before") {
        InsertWhere::Before
    } else {
        return Err(CmdError::syntax());
    };
    let n = ctx.srv.colls.linsert(&ctx.key(&args[1]), at, &args[3], &args[4])?;
    ctx.out.int(n);
    Ok(())
}

/// ```text
/// LREM key count element
/// ```
fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = int_arg(&args[2])?;
    let n = ctx.srv.colls.lrem(&ctx.key(&args[1]), count, &args[3])?;
    ctx.out.int(n as i64);
    Ok(())
}

// ---- moves -----------------------------------------------------------------------------------

/// Moves one element from `src` to `dst` (in database `db`) and replies with it (a null if
/// `src` does not exist); reports `dst` as ready and touches it for WATCH.
fn move_one(
    srv: &Shared,
    db: u8,
    src: &[u8],
    dst: &[u8],
    (from, to): (ListEnd, ListEnd),
    out: &mut Reply,
    ready: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    let Some(v) = srv.colls.lmove(&db_key(db, src), &db_key(db, dst), from, to)? else { return Ok(Served::No) };
    srv.watches.touch(db, dst);
    ready.push((db, Bytes::copy_from_slice(dst)));
    out.bulk(&v);
    Ok(Served::Yes)
}

fn lmove_generic(ctx: &mut Ctx<'_>, args: &[Bytes], from: ListEnd, to: ListEnd) -> CmdResult {
    let mut ready = Vec::new();
    if move_one(ctx.srv, ctx.s.db, &args[1], &args[2], (from, to), ctx.out, &mut ready)? == Served::No {
        ctx.out.null();
    }
    for (_, k) in ready {
        ctx.signal_ready(&k);
    }
    Ok(())
}

/// ```text
/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
/// ```
fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (from, to) = (end_arg(&args[3])?, end_arg(&args[4])?);
    lmove_generic(ctx, args, from, to)
}

/// ```text
/// RPOPLPUSH source destination
/// ```
fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, args, ListEnd::Right, ListEnd::Left)
}

// ---- blocking --------------------------------------------------------------------------------

/// The keys a blocked client's retry may serve itself from: only the key whose readiness
/// woke it when that is one of `keys` (Redis serves a waiter from the ready key), else all.
fn retry_keys(db: u8, keys: &[Bytes]) -> &[Bytes] {
    match crate::blocking::ready_key() {
        Some((d, k)) if d == db => keys.iter().position(|x| *x == k).map_or(keys, |i| &keys[i..=i]),
        _ => keys,
    }
}

/// Pops one element from the first non-empty list of `keys` (in database `db`), replying
/// `[key, element]`, and returns the position in `keys` of the list it popped from. The
/// building block of BLPOP/BRPOP, for the client itself and (`retry`) for its retries while
/// blocked, which skip keys of another type as Redis does.
fn pop_first(
    srv: &Shared,
    db: u8,
    keys: &[Bytes],
    left: bool,
    out: &mut Reply,
    retry: bool,
) -> Result<Option<usize>, CmdError> {
    for (i, k) in keys.iter().enumerate() {
        let key = db_key(db, k);
        let items = match if left { srv.colls.lpop(&key, 1) } else { srv.colls.rpop(&key, 1) } {
            Ok(items) => items,
            Err(pmemkv::Error::WrongType) if retry => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(v) = items.first() {
            out.array(2);
            out.bulk(k);
            out.bulk(v);
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn serve_blpop(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    Ok(Served::when(pop_first(srv, db, retry_keys(db, &args[1..args.len() - 1]), true, out, true)?.is_some()))
}

fn serve_brpop(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    Ok(Served::when(pop_first(srv, db, retry_keys(db, &args[1..args.len() - 1]), false, out, true)?.is_some()))
}

fn blocking_pop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    let timeout = timeout_arg(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    if let Some(i) = pop_first(ctx.srv, ctx.s.db, keys, left, ctx.out, false)? {
        // For WATCH: only the list popped from changed.
        ctx.s.changed_keys = Some(vec![keys[i].clone()]);
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

fn serve_blmpop(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    _: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    let mut m = mpop_args(args, 2)?;
    m.keys = retry_keys(db, m.keys);
    mpop_first(srv, db, &m, out, true)
}

/// ```text
/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
/// ```
fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // Redis parses the rest before the timeout.
    let m = mpop_args(args, 2)?;
    let timeout = timeout_arg(&args[1])?;
    ctx.s.changed_keys = Some(Vec::new());
    if mpop_first(ctx.srv, ctx.s.db, &m, ctx.out, false)? == Served::Yes {
        return Ok(());
    }
    ctx.block(BlockRequest { keys: m.keys.to_vec(), timeout, serve: serve_blmpop, on_timeout: Reply::null_array });
    Ok(())
}

/// The ends of a BLMOVE (`LEFT|RIGHT LEFT|RIGHT` at 3 and 4) or BRPOPLPUSH (right, left).
fn blmove_ends(args: &[Bytes]) -> Result<(ListEnd, ListEnd), CmdError> {
    if args.len() == 6 {
        Ok((end_arg(&args[3])?, end_arg(&args[4])?))
    } else {
        Ok((ListEnd::Right, ListEnd::Left))
    }
}

/// A blocked BLMOVE/BRPOPLPUSH's retry: served only once its source is a non-empty list
/// (a source of another type is not a list to serve from); a destination of another type
/// by then is a WRONGTYPE reply, as in Redis.
fn serve_blmove(
    srv: &Shared,
    db: u8,
    args: &[Bytes],
    out: &mut Reply,
    ready: &mut Vec<(u8, Bytes)>,
) -> Result<Served, CmdError> {
    let (from, to) = blmove_ends(args)?;
    if srv.colls.key_type(&db_key(db, &args[1]))? != Some(pmemkv::collections::KeyType::List) {
        return Ok(Served::No);
    }
    move_one(srv, db, &args[1], &args[2], (from, to), out, ready)
}

fn blmove_generic(ctx: &mut Ctx<'_>, args: &[Bytes], from: ListEnd, to: ListEnd, timeout_at: usize) -> CmdResult {
    let timeout = timeout_arg(&args[timeout_at])?;
    let mut ready = Vec::new();
    let served = move_one(ctx.srv, ctx.s.db, &args[1], &args[2], (from, to), ctx.out, &mut ready)?;
    for (_, k) in ready {
        ctx.signal_ready(&k);
    }
    if served == Served::No {
        if ctx.s.in_exec {
            // Not allowed to block (inside MULTI): Redis 7.0 replies a null bulk here, but a
            // null array when a blocked BLMOVE times out.
            ctx.out.null();
        } else {
            ctx.block(BlockRequest {
                keys: vec![args[1].clone()],
                timeout,
                serve: serve_blmove,
                on_timeout: Reply::null_array,
            });
        }
    }
    Ok(())
}

/// ```text
/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
/// ```
fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (from, to) = blmove_ends(args)?;
    blmove_generic(ctx, args, from, to, 5)
}

/// ```text
/// BRPOPLPUSH source destination timeout
/// ```
fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blmove_generic(ctx, args, ListEnd::Right, ListEnd::Left, 3)
}
