//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER,
//! SMOVE, SINTER, SUNION, SDIFF, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, SINTERCARD, SSCAN.
//!
//! Replies follow Redis 7.0, including RESP3 sets (`~`) where Redis sends them (SMEMBERS,
//! SINTER, SUNION, SDIFF, SPOP with a count). Members come back in byte order rather than
//! Redis's hash order (clients may not rely on either). Random members (SPOP, SRANDMEMBER)
//! are drawn without loading the set; see `pmemkv::collections::member_sample` for the bias.

use bytes::Bytes;
use pmemkv::collections::SetOp;

use super::flags::*;
use super::{int_arg, is, Command, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::glob::{glob_match, matches_all};

macro_rules! set_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            group: "set",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The set family.
pub static COMMANDS: &[Command] = &[
    set_cmd!("sadd", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "Add one or more members to a set", "1.0.0", sadd),
    set_cmd!("srem", -3, WRITE | FAST, 1, 1, 1, "Remove one or more members from a set", "1.0.0", srem),
    set_cmd!("smembers", 2, READONLY, 1, 1, 1, "Get all the members in a set", "1.0.0", smembers),
    set_cmd!(
        "sismember",
        3,
        READONLY | FAST,
        1,
        1,
        1,
        "Determine if a given value is a member of a set",
        "1.0.0",
        sismember
    ),
    set_cmd!(
        "smismember",
        -3,
        READONLY | FAST,
        1,
        1,
        1,
        "Returns the membership associated with the given elements for a set",
        "6.2.0",
        smismember
    ),
    set_cmd!("scard", 2, READONLY | FAST, 1, 1, 1, "Get the number of members in a set", "1.0.0", scard),
    set_cmd!(
        "spop",
        -2,
        WRITE | FAST,
        1,
        1,
        1,
        "Remove and return one or multiple random members from a set",
        "1.0.0",
        spop
    ),
    set_cmd!(
        "srandmember",
        -2,
        READONLY,
        1,
        1,
        1,
        "Get one or multiple random members from a set",
        "1.0.0",
        srandmember
    ),
    set_cmd!("smove", 4, WRITE | FAST, 1, 2, 1, "Move a member from one set to another", "1.0.0", smove),
    set_cmd!("sinter", -2, READONLY, 1, -1, 1, "Intersect multiple sets", "1.0.0", sinter),
    set_cmd!("sunion", -2, READONLY, 1, -1, 1, "Add multiple sets", "1.0.0", sunion),
    set_cmd!("sdiff", -2, READONLY, 1, -1, 1, "Subtract multiple sets", "1.0.0", sdiff),
    set_cmd!(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        1,
        "Intersect multiple sets and store the resulting set in a key",
        "1.0.0",
        sinterstore
    ),
    set_cmd!(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        1,
        "Add multiple sets and store the resulting set in a key",
        "1.0.0",
        sunionstore
    ),
    set_cmd!(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        1,
        "Subtract multiple sets and store the resulting set in a key",
        "1.0.0",
        sdiffstore
    ),
    // Its keys follow `numkeys` (Redis's key spec has no fixed range either); it writes none.
    set_cmd!(
        "sintercard",
        -3,
        READONLY,
        0,
        0,
        0,
        "Intersect multiple sets and return the cardinality of the result",
        "7.0.0",
        sintercard
    ),
    set_cmd!("sscan", -3, READONLY, 1, 1, 1, "Incrementally iterate Set elements", "2.8.0", sscan),
];

/// Parses a `long` argument with Redis's `getRangeLongFromObjectOrReply` errors: `msg` (if
/// given) for anything invalid, else the standard integer and range messages.
pub(crate) fn long_in_range(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, CmdError> {
    let bad = |default: CmdError| msg.map_or(default, CmdError::err);
    let n = int_arg(arg).map_err(bad)?;
    if n < min || n > max {
        return Err(bad(CmdError::err(format_args!("value is out of range, value must between {min} and {max}"))));
    }
    Ok(n)
}

/// A count that must be `>= 0` (`getPositiveLongFromObjectOrReply`).
pub(crate) fn positive_count(arg: &[u8]) -> Result<u64, CmdError> {
    Ok(long_in_range(arg, 0, i64::MAX, Some("value is out of range, must be positive"))? as u64)
}

/// Parses a SCAN-family cursor like Redis's `strtoul`: decimal digits after an optional sign
/// (a negative number wraps around, as in C, and so names no position: the scan restarts),
/// no leading space, nothing after the digits, no overflow.
pub(crate) fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("invalid cursor");
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul converts nothing: the cursor is 0 if nothing follows either.
        return if arg.is_empty() { Ok(0) } else { Err(invalid()) };
    }
    let n = std::str::from_utf8(digits).ok().filter(|d| d.bytes().all(|c| c.is_ascii_digit())).ok_or_else(invalid)?;
    let n: u64 = n.parse().map_err(|_| invalid())?;
    Ok(if neg { n.wrapping_neg() } else { n })
}

/// The options of SSCAN/ZSCAN/HSCAN (`MATCH pattern`, `COUNT count`) after the cursor.
pub(crate) struct ScanOpts {
    /// The pattern, unless it matches everything.
    pub pattern: Option<Bytes>,
    /// Elements examined per call.
    pub count: usize,
}

/// Parses `[MATCH pattern] [COUNT count]` with Redis's errors.
pub(crate) fn scan_opts(args: &[Bytes]) -> Result<ScanOpts, CmdError> {
    let mut o = ScanOpts { pattern: None, count: 10 };
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - i;
        if is(&args[i], "COUNT") && more >= 2 {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(CmdError::syntax());
            }
            o.count = n.min(1 << 20) as usize;
        } else if is(&args[i], "MATCH") && more >= 2 {
            let p = args[i + 1].clone();
            o.pattern = (!matches_all(&p)).then_some(p);
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    Ok(o)
}

/// True if `item` passes the pattern of `o`.
pub(crate) fn scan_match(o: &ScanOpts, item: &[u8]) -> bool {
    o.pattern.as_ref().is_none_or(|p| glob_match(p, item, false))
}

/// The engine position of a SCAN-family cursor number (`None`: from the start; an unknown or
/// foreign cursor restarts the scan).
pub(crate) fn scan_position(ctx: &Ctx<'_>, cursor: u64) -> Vec<u8> {
    ctx.srv.cursors.get(cursor).filter(|p| p.first() == Some(&b'c')).unwrap_or_default()
}

/// The cursor number to hand out for the engine's next position.
pub(crate) fn next_cursor(ctx: &Ctx<'_>, next: Option<Vec<u8>>) -> u64 {
    next.map_or(0, |p| ctx.srv.cursors.put(p))
}

fn db_keys(ctx: &Ctx<'_>, keys: &[Bytes]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| ctx.key(k)).collect()
}

/// ```text
/// SADD key member [member ...]
/// ```
fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.sadd(&ctx.key(&args[1]), &args[2..])?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// SREM key member [member ...]
/// ```
fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.srem(&ctx.key(&args[1]), &args[2..])?;
    ctx.out.int(n as i64);
    Ok(())
}

fn reply_set(ctx: &mut Ctx<'_>, members: &[Vec<u8>]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

/// ```text
/// SMEMBERS key
/// ```
fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let members = ctx.srv.colls.set_op(SetOp::Inter, &[ctx.key(&args[1])])?;
    reply_set(ctx, &members);
    Ok(())
}

/// ```text
/// SISMEMBER key member
/// ```
fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let found = ctx.srv.colls.sismember(&ctx.key(&args[1]), &args[2])?;
    ctx.out.int(found as i64);
    Ok(())
}

/// ```text
/// SMISMEMBER key member [member ...]
/// ```
fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let found = ctx.srv.colls.smismember(&ctx.key(&args[1]), &args[2..])?;
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
    Ok(())
}

/// ```text
/// SCARD key
/// ```
fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.colls.scard(&ctx.key(&args[1]))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// SPOP key [count]
/// ```
fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::syntax());
    }
    let key = ctx.key(&args[1]);
    if args.len() == 2 {
        let popped = ctx.srv.colls.spop(&key, 1)?;
        ctx.out.opt_bulk(popped.first().map(Vec::as_slice));
        return Ok(());
    }
    let count = positive_count(&args[2])?;
    let popped = ctx.srv.colls.spop(&key, count)?;
    reply_set(ctx, &popped);
    Ok(())
}

/// ```text
/// SRANDMEMBER key [count]
/// ```
fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::syntax());
    }
    let key = ctx.key(&args[1]);
    if args.len() == 2 {
        let got = ctx.srv.colls.srandmember(&key, 1)?;
        ctx.out.opt_bulk(got.first().map(Vec::as_slice));
        return Ok(());
    }
    let count = long_in_range(&args[2], -i64::MAX, i64::MAX, None)?;
    let got = ctx.srv.colls.srandmember(&key, count)?;
    ctx.out.bulks(&got);
    Ok(())
}

/// ```text
/// SMOVE source destination member
/// ```
fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let moved = ctx.srv.colls.smove(&ctx.key(&args[1]), &ctx.key(&args[2]), &args[3])?;
    ctx.out.int(moved as i64);
    Ok(())
}

fn set_op(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp) -> CmdResult {
    let keys = db_keys(ctx, &args[1..]);
    let members = ctx.srv.colls.set_op(op, &keys)?;
    reply_set(ctx, &members);
    Ok(())
}

fn set_op_store(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp) -> CmdResult {
    let keys = db_keys(ctx, &args[2..]);
    let n = ctx.srv.colls.set_op_store(op, &ctx.key(&args[1]), &keys)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// SINTER key [key ...]
/// ```
fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Inter)
}

/// ```text
/// SUNION key [key ...]
/// ```
fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Union)
}

/// ```text
/// SDIFF key [key ...]
/// ```
fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Diff)
}

/// ```text
/// SINTERSTORE destination key [key ...]
/// ```
fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Inter)
}

/// ```text
/// SUNIONSTORE destination key [key ...]
/// ```
fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Union)
}

/// ```text
/// SDIFFSTORE destination key [key ...]
/// ```
fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Diff)
}

/// ```text
/// SINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = long_in_range(&args[1], 1, i64::MAX, Some("numkeys should be greater than 0"))? as usize;
    if numkeys > args.len() - 2 {
        return Err(CmdError::err("Number of keys can't be greater than number of args"));
    }
    let mut limit = 0u64;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if is(&args[j], "LIMIT") && j + 1 < args.len() {
            limit = long_in_range(&args[j + 1], 0, i64::MAX, Some("LIMIT can't be negative"))? as u64;
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let keys = db_keys(ctx, &args[2..2 + numkeys]);
    let n = ctx.srv.colls.sinter_card(&keys, limit)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// SSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&args[2])?;
    let key = ctx.key(&args[1]);
    // Redis looks the key up before it parses the options: a missing key ends the scan
    // whatever follows, a wrong type is reported first.
    if ctx.srv.colls.key_type(&key)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    ctx.srv.colls.scard(&key)?;
    let opts = scan_opts(&args[3..])?;
    let position = scan_position(ctx, cursor);
    let page = ctx.srv.colls.sscan(&key, &position, opts.count)?;
    let items: Vec<&Vec<u8>> = page.items.iter().filter(|m| scan_match(&opts, m)).collect();
    let next = next_cursor(ctx, page.cursor);
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len());
    for m in items {
        ctx.out.bulk(m);
    }
    Ok(())
}

/// Most members of a set of integers Redis keeps as an intset (`set-max-intset-entries`).
const INTSET_ENTRIES: u64 = 512;

/// The encoding Redis 7.0 would report for set `key` (`OBJECT ENCODING`): `intset` while it
/// holds at most 512 members that are all integers (as `string2ll` reads them), else
/// `hashtable`. Judged from the set as it is now (Redis never converts back). O(1) for a
/// large set.
pub fn object_encoding(colls: &pmemkv::Collections, key: &[u8]) -> Result<&'static str, CmdError> {
    if colls.scard(key)? > INTSET_ENTRIES {
        return Ok("hashtable");
    }
    let ints = colls.smembers(key)?.iter().all(|m| crate::protocol::request::parse_int(m).is_some());
    Ok(if ints { "intset" } else { "hashtable" })
}
