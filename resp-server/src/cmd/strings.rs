//! String commands: GET, SET, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MGET, MSET,
//! MSETNX, APPEND, STRLEN, GETRANGE, SETRANGE, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.
//!
//! A string lives in its key's metadata record, so `GET` is one zero-copy lookup and every
//! write is one engine transaction.

use bytes::Bytes;
use pmemkv::collections::{SetOptions, SetOutcome, StringForm};
use pmemkv::{Condition, Expiry};

use super::flags::*;
use super::long_double::{nan_or_infinity, LongDouble, NotFinite};
use super::{int_arg, is, Command, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::reply::MIN_SENT_IN_PLACE;

/// Largest string a command may build (`proto-max-bulk-len`'s default).
const MAX_STRING: u64 = 512 << 20;

macro_rules! string_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            group: "string",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The string family.
pub static COMMANDS: &[Command] = &[
    string_cmd!("get", 2, READONLY | FAST, 1, 1, 1, "Returns the string value of a key.", "1.0.0", get),
    string_cmd!(
        "set",
        -3,
        WRITE | DENYOOM,
        1,
        1,
        1,
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "1.0.0",
        set
    ),
    string_cmd!(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Set the string value of a key only when the key doesn't exist.",
        "1.0.0",
        setnx
    ),
    string_cmd!(
        "setex",
        4,
        WRITE | DENYOOM,
        1,
        1,
        1,
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        setex
    ),
    string_cmd!(
        "psetex",
        4,
        WRITE | DENYOOM,
        1,
        1,
        1,
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        "2.6.0",
        psetex
    ),
    string_cmd!(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Returns the previous string value of a key after setting it to a new value.",
        "1.0.0",
        getset
    ),
    string_cmd!(
        "getdel",
        2,
        WRITE | FAST,
        1,
        1,
        1,
        "Returns the string value of a key after deleting the key.",
        "6.2.0",
        getdel
    ),
    string_cmd!(
        "getex",
        -2,
        WRITE | FAST,
        1,
        1,
        1,
        "Returns the string value of a key after setting its expiration time.",
        "6.2.0",
        getex
    ),
    string_cmd!(
        "mget",
        -2,
        READONLY | FAST,
        1,
        -1,
        1,
        "Atomically returns the string values of one or more keys.",
        "1.0.0",
        mget
    ),
    string_cmd!(
        "mset",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        2,
        "Atomically creates or modifies the string values of one or more keys.",
        "1.0.1",
        mset
    ),
    string_cmd!(
        "msetnx",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        2,
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "1.0.1",
        msetnx
    ),
    string_cmd!(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        append
    ),
    string_cmd!("strlen", 2, READONLY | FAST, 1, 1, 1, "Returns the length of a string value.", "2.2.0", strlen),
    string_cmd!(
        "getrange",
        4,
        READONLY,
        1,
        1,
        1,
        "Returns a substring of the string stored at a key.",
        "2.4.0",
        getrange
    ),
    string_cmd!("substr", 4, READONLY, 1, 1, 1, "Returns a substring from a string value.", "1.0.0", getrange),
    string_cmd!(
        "setrange",
        4,
        WRITE | DENYOOM,
        1,
        1,
        1,
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        "2.2.0",
        setrange
    ),
    string_cmd!(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        incr
    ),
    string_cmd!(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        decr
    ),
    string_cmd!(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        incrby
    ),
    string_cmd!(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        decrby
    ),
    string_cmd!(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "2.6.0",
        incrbyfloat
    ),
];

/// Counts a keyspace hit or miss (`INFO stats`).
pub fn hit(ctx: &mut Ctx<'_>, found: bool) {
    if found {
        ctx.s.local.hits += 1;
    } else {
        ctx.s.local.misses += 1;
    }
}

/// ```text
/// GET key
/// ```
fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let out = &mut *ctx.out;
    let found = ctx.srv.colls.str_get_with_ref(&[&[ctx.s.db], &args[1]], MIN_SENT_IN_PLACE, |v| match v {
        Some(v) => {
            out.bulk_value(v);
            true
        }
        None => {
            out.null();
            false
        }
    })?;
    hit(ctx, found);
    Ok(())
}

/// An absolute expiry in ms from a relative or absolute amount in `unit_ms` units, with
/// Redis's error for a non-positive or overflowing time.
pub fn expiry_ms(ctx: &Ctx<'_>, arg: &[u8], unit_ms: i64, absolute: bool, command: &str) -> Result<u64, CmdError> {
    let invalid = || CmdError::err(format_args!("invalid expire time in '{command}' command"));
    let n = int_arg(arg)?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(ctx.now_ms() as i64).ok_or_else(invalid)? };
    Ok(at as u64)
}

/// The expiry option of SET/GETEX: which kind, and its argument (the last one wins when the
/// same kind is repeated, as in Redis).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpiryOpt {
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
    KeepTtl,
    Persist,
}

/// Options of SET (`for_set`) or GETEX, parsed like Redis's `parseExtendedStringArgumentsOrReply`:
/// a repeated option is accepted, conflicting ones are a syntax error.
struct StringOpts<'a> {
    condition: Condition,
    get: bool,
    expiry: ExpiryOpt,
    expiry_arg: Option<&'a [u8]>,
}

fn parse_string_opts(args: &[Bytes], for_set: bool) -> Result<StringOpts<'_>, CmdError> {
    let mut o = StringOpts { condition: Condition::Always, get: false, expiry: ExpiryOpt::None, expiry_arg: None };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let timed =
            [("EX", ExpiryOpt::Ex), ("PX", ExpiryOpt::Px), ("EXAT", ExpiryOpt::ExAt), ("PXAT", ExpiryOpt::PxAt)]
                .into_iter()
                .find(|(w, _)| is(a, w))
                .map(|(_, k)| k);
        let free_or = |k: ExpiryOpt| o.expiry == ExpiryOpt::None || o.expiry == k;
        if for_set && is(a, "NX") && o.condition != Condition::IfPresent {
            o.condition = Condition::IfAbsent;
        } else if for_set && is(a, "XX") && o.condition != Condition::IfAbsent {
            o.condition = Condition::IfPresent;
        } else if for_set && is(a, "GET") {
            o.get = true;
        } else if for_set && is(a, "KEEPTTL") && free_or(ExpiryOpt::KeepTtl) {
            o.expiry = ExpiryOpt::KeepTtl;
        } else if !for_set && is(a, "PERSIST") && free_or(ExpiryOpt::Persist) {
            o.expiry = ExpiryOpt::Persist;
        } else if let (Some(kind), Some(next)) = (timed, next) {
            if !free_or(kind) {
                return Err(CmdError::syntax());
            }
            o.expiry = kind;
            o.expiry_arg = Some(next);
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    Ok(o)
}

/// The absolute expiry (ms) an EX/PX/EXAT/PXAT option asks for, validated like Redis.
fn opt_expiry(ctx: &Ctx<'_>, o: &StringOpts<'_>, command: &str) -> Result<Option<u64>, CmdError> {
    let (unit, absolute) = match o.expiry {
        ExpiryOpt::Ex => (1000, false),
        ExpiryOpt::Px => (1, false),
        ExpiryOpt::ExAt => (1000, true),
        ExpiryOpt::PxAt => (1, true),
        _ => return Ok(None),
    };
    expiry_ms(ctx, o.expiry_arg.expect("timed option has an argument"), unit, absolute, command).map(Some)
}

/// ```text
/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | KEEPTTL]
/// ```
fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let o = parse_string_opts(&args[3..], true)?;
    let expiry = match (o.expiry, opt_expiry(ctx, &o, "set")?) {
        (ExpiryOpt::KeepTtl, _) => Expiry::Keep,
        (_, Some(at)) => Expiry::At(at),
        _ => Expiry::Never,
    };
    let opts = SetOptions { condition: o.condition, expiry, get: o.get };
    let SetOutcome { applied, old } = ctx.srv.colls.str_set(&ctx.key(&args[1]), &args[2], opts)?;
    if opts.get {
        ctx.out.opt_bulk(old.as_deref());
    } else if applied {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
    Ok(())
}

/// ```text
/// SETNX key value
/// ```
fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let opts = SetOptions { condition: Condition::IfAbsent, ..SetOptions::default() };
    let r = ctx.srv.colls.str_set(&ctx.key(&args[1]), &args[2], opts)?;
    ctx.out.int(r.applied as i64);
    Ok(())
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], unit_ms: i64, command: &str) -> CmdResult {
    let at = expiry_ms(ctx, &args[2], unit_ms, false, command)?;
    let opts = SetOptions { expiry: Expiry::At(at), ..SetOptions::default() };
    ctx.srv.colls.str_set(&ctx.key(&args[1]), &args[3], opts)?;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// SETEX key seconds value
/// ```
fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, args, 1000, "setex")
}

/// ```text
/// PSETEX key milliseconds value
/// ```
fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, args, 1, "psetex")
}

/// ```text
/// GETSET key value
/// ```
fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let opts = SetOptions { get: true, ..SetOptions::default() };
    let r = ctx.srv.colls.str_set(&ctx.key(&args[1]), &args[2], opts)?;
    ctx.out.opt_bulk(r.old.as_deref());
    Ok(())
}

/// ```text
/// GETDEL key
/// ```
fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let old = ctx.srv.colls.str_getdel(&ctx.key(&args[1]))?;
    hit(ctx, old.is_some());
    ctx.out.opt_bulk(old.as_deref());
    Ok(())
}

/// ```text
/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | PERSIST]
/// ```
fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let o = parse_string_opts(&args[2..], false)?;
    let key = ctx.key(&args[1]);
    let v = ctx.srv.colls.str_get(&key)?;
    hit(ctx, v.is_some());
    if v.is_some() {
        // As in Redis, the time is validated after the key's type (a missing key replies nil
        // and a key of another type WRONGTYPE whatever the time).
        // None: leave the expiry; Some(None): persist; Some(Some(t)): expire at t.
        let change: Option<Option<u64>> = match (o.expiry, opt_expiry(ctx, &o, "getex")?) {
            (ExpiryOpt::Persist, _) => Some(None),
            (_, Some(at)) => Some(Some(at)),
            _ => None,
        };
        match change {
            // EXAT/PXAT already past deletes the key, as in Redis (relative times must be positive).
            Some(Some(at)) if at <= ctx.now_ms() => {
                ctx.srv.colls.delete_keys(&[&key])?;
            }
            // PERSIST of a key without a TTL changes nothing (and so breaks no WATCH).
            Some(None) => {
                ctx.srv.colls.expire_if(&key, |cur| match cur {
                    Some(_) => pmemkv::collections::ExpireDecision::Set(None),
                    None => pmemkv::collections::ExpireDecision::Keep,
                })?;
            }
            Some(c) => {
                ctx.srv.colls.expire(&key, c)?;
            }
            None => {}
        }
    }
    ctx.out.opt_bulk(v.as_deref());
    Ok(())
}

/// ```text
/// MGET key [key ...]
/// ```
fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for k in &args[1..] {
        // A key of another type reads as nil, as in Redis.
        let v = match ctx.srv.colls.str_get(&ctx.key(k)) {
            Ok(v) => v,
            Err(pmemkv::Error::WrongType) => None,
            Err(e) => return Err(e.into()),
        };
        hit(ctx, v.is_some());
        ctx.out.opt_bulk(v.as_deref());
    }
    Ok(())
}

fn mset_pairs(ctx: &Ctx<'_>, args: &[Bytes], command: &str) -> Result<Vec<(Vec<u8>, Bytes)>, CmdError> {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::wrong_args(command));
    }
    Ok(args[1..].chunks(2).map(|p| (ctx.key(&p[0]), p[1].clone())).collect())
}

/// ```text
/// MSET key value [key value ...]
/// ```
fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = mset_pairs(ctx, args, "mset")?;
    ctx.srv.colls.str_mset(&pairs, false)?;
    ctx.out.ok();
    Ok(())
}

/// ```text
/// MSETNX key value [key value ...]
/// ```
fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = mset_pairs(ctx, args, "msetnx")?;
    let wrote = ctx.srv.colls.str_mset(&pairs, true)?;
    ctx.out.int(wrote as i64);
    Ok(())
}

fn too_big() -> CmdError {
    CmdError::err("string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// ```text
/// APPEND key value
/// ```
fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let add = args[2].clone();
    let len = ctx.srv.colls.str_update_as(&ctx.key(&args[1]), move |old| {
        // Appending to an existing string changes it in place: Redis then reports it `raw`.
        let form = if old.is_some() { StringForm::ChangedInPlace } else { StringForm::Plain };
        let old = old.unwrap_or_default();
        if old.len() as u64 + add.len() as u64 > MAX_STRING {
            return Err(pmemkv::Error::InvalidArgument(
                "string exceeds maximum allowed size (proto-max-bulk-len)".into(),
            ));
        }
        let mut v = Vec::with_capacity(old.len() + add.len());
        v.extend_from_slice(old);
        v.extend_from_slice(&add);
        let len = v.len() as i64;
        Ok((Some((v, form)), len))
    })?;
    ctx.out.int(len);
    Ok(())
}

/// ```text
/// STRLEN key
/// ```
fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let v = ctx.srv.colls.str_get(&ctx.key(&args[1]))?;
    ctx.out.int(v.map_or(0, |v| v.len() as i64));
    Ok(())
}

/// ```text
/// GETRANGE key start end
/// ```
fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut start, mut end) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let v = ctx.srv.colls.str_get(&ctx.key(&args[1]))?;
    let Some(v) = v else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&v[start as usize..=end as usize]);
    }
    Ok(())
}

/// ```text
/// SETRANGE key offset value
/// ```
fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = int_arg(&args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let value = args[3].clone();
    let offset = offset as u64;
    // Checked once the key is known to hold a string or nothing: WRONGTYPE comes first.
    let too_big_write = !value.is_empty() && offset + value.len() as u64 > MAX_STRING;
    let len = ctx.srv.colls.str_update_as(&ctx.key(&args[1]), move |old| {
        if too_big_write {
            return Ok((None, None));
        }
        let Some(old) = old else {
            if value.is_empty() {
                // Nothing to write and no key to create.
                return Ok((None, Some(0)));
            }
            let mut v = vec![0u8; offset as usize];
            v.extend_from_slice(&value);
            let n = v.len() as i64;
            return Ok((Some((v, StringForm::ChangedInPlace)), Some(n)));
        };
        if value.is_empty() {
            return Ok((None, Some(old.len() as i64)));
        }
        let end = offset as usize + value.len();
        let mut v = old.to_vec();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset as usize..end].copy_from_slice(&value);
        let n = v.len() as i64;
        // Changed in place: Redis reports such a string `raw` whatever its content.
        Ok((Some((v, StringForm::ChangedInPlace)), Some(n)))
    })?;
    ctx.out.int(len.ok_or_else(too_big)?);
    Ok(())
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    let n = ctx.srv.colls.str_incr_by(&ctx.key(key), delta)?;
    ctx.out.int(n);
    Ok(())
}

/// ```text
/// INCR key
/// ```
fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

/// ```text
/// DECR key
/// ```
fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

/// ```text
/// INCRBY key increment
/// ```
fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let d = int_arg(&args[2])?;
    incr_by(ctx, &args[1], d)
}

/// ```text
/// DECRBY key decrement
/// ```
fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let d = int_arg(&args[2])?;
    let d = d.checked_neg().ok_or_else(|| CmdError::err("decrement would overflow"))?;
    incr_by(ctx, &args[1], d)
}

/// ```text
/// INCRBYFLOAT key increment
/// ```
fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = LongDouble::parse(&args[2]);
    // The increment is checked after the key's type and current value, as in Redis.
    let text = ctx.srv.colls.str_update_as(&ctx.key(&args[1]), move |old| {
        let cur = match old {
            None => Ok(LongDouble::zero()),
            Some(b) => LongDouble::parse(b),
        };
        let sum = match (cur, delta) {
            (Err(NotFinite::Invalid), _) | (_, Err(NotFinite::Invalid)) => {
                Err(pmemkv::Error::InvalidArgument("value is not a valid float".into()))
            }
            (Ok(cur), Ok(delta)) => cur.add(&delta).map_err(|_| nan_or_infinity()),
            _ => Err(nan_or_infinity()),
        }?;
        let text = sum.to_human();
        // Redis stores the result as text, never integer-encoded (`OBJECT ENCODING` embstr).
        Ok((Some((text.clone().into_bytes(), StringForm::FromFloat)), text))
    })?;
    ctx.out.bulk(text.as_bytes());
    Ok(())
}
