//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, COPY, EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS, SCAN, RANDOMKEY,
//! TOUCH, OBJECT.

use bytes::Bytes;
use pmemkv::collections::{ExpireDecision, KeyTtl, KeyType, StringForm};

use super::flags::*;
use super::{int_arg, is, show, show_all, Command, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::glob::{glob_match, literal_prefix, matches_all};
use crate::keyspace::{db_key, CursorLookup};

macro_rules! key_cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $summary:literal, $since:literal, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            group: "generic",
            summary: $summary,
            since: $since,
            run: $run,
        }
    };
}

/// The generic key family.
pub static COMMANDS: &[Command] = &[
    key_cmd!("del", -2, WRITE, 1, -1, 1, "Deletes one or more keys.", "1.0.0", del),
    key_cmd!("unlink", -2, WRITE | FAST, 1, -1, 1, "Asynchronously deletes one or more keys.", "4.0.0", del),
    key_cmd!("exists", -2, READONLY | FAST, 1, -1, 1, "Determines whether one or more keys exist.", "1.0.0", exists),
    key_cmd!("type", 2, READONLY | FAST, 1, 1, 1, "Determines the type of value stored at a key.", "1.0.0", type_),
    key_cmd!("rename", 3, WRITE, 1, 2, 1, "Renames a key and overwrites the destination.", "1.0.0", rename),
    key_cmd!(
        "renamenx",
        3,
        WRITE | FAST,
        1,
        2,
        1,
        "Renames a key only when the target key name doesn't exist.",
        "1.0.0",
        renamenx
    ),
    key_cmd!("copy", -3, WRITE | DENYOOM, 1, 2, 1, "Copies the value of a key to a new key.", "6.2.0", copy),
    key_cmd!("expire", -3, WRITE | FAST, 1, 1, 1, "Sets the expiration time of a key in seconds.", "1.0.0", expire),
    key_cmd!(
        "pexpire",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        "Sets the expiration time of a key in milliseconds.",
        "2.6.0",
        pexpire
    ),
    key_cmd!(
        "expireat",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        "Sets the expiration time of a key to a Unix timestamp.",
        "1.2.0",
        expireat
    ),
    key_cmd!(
        "pexpireat",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        "2.6.0",
        pexpireat
    ),
    key_cmd!("ttl", 2, READONLY | FAST, 1, 1, 1, "Returns the expiration time in seconds of a key.", "1.0.0", ttl),
    key_cmd!(
        "pttl",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        "Returns the expiration time in milliseconds of a key.",
        "2.6.0",
        pttl
    ),
    key_cmd!(
        "expiretime",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        "Returns the expiration time of a key as a Unix timestamp.",
        "7.0.0",
        expiretime
    ),
    key_cmd!(
        "pexpiretime",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        "7.0.0",
        pexpiretime
    ),
    key_cmd!("persist", 2, WRITE | FAST, 1, 1, 1, "Removes the expiration time of a key.", "2.2.0", persist),
    key_cmd!("keys", 2, READONLY, 0, 0, 0, "Returns all key names that match a pattern.", "1.0.0", keys),
    key_cmd!("scan", -2, READONLY, 0, 0, 0, "Iterates over the key names in the database.", "2.8.0", scan),
    key_cmd!("randomkey", 1, READONLY, 0, 0, 0, "Returns a random key name from the database.", "1.0.0", randomkey),
    key_cmd!(
        "touch",
        -2,
        READONLY | FAST,
        1,
        -1,
        1,
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        "3.2.1",
        touch
    ),
    key_cmd!("object", -2, READONLY, 2, 2, 1, "A container for object introspection commands.", "2.2.3", object),
];

/// ```text
/// DEL key [key ...]
/// UNLINK key [key ...]
/// ```
fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut keys: Vec<Vec<u8>> = args[1..].iter().map(|k| ctx.key(k)).collect();
    keys.sort();
    keys.dedup();
    if ctx.srv.watches.any() {
        // For WATCH: only the keys that existed change.
        let mut existed = Vec::new();
        for k in &args[1..] {
            if ctx.srv.colls.exists(&ctx.key(k))? {
                existed.push(k.clone());
            }
        }
        ctx.s.changed_keys = Some(existed);
    }
    let n = ctx.srv.colls.delete_keys(&keys)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ```text
/// EXISTS key [key ...]
/// ```
fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for k in &args[1..] {
        n += ctx.srv.colls.exists(&ctx.key(k))? as i64;
    }
    ctx.out.int(n);
    Ok(())
}

/// ```text
/// TOUCH key [key ...]
/// ```
fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    exists(ctx, args)
}

/// ```text
/// TYPE key
/// ```
fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let t = ctx.srv.colls.key_type(&ctx.key(&args[1]))?;
    ctx.out.simple(t.map_or("none", KeyType::as_str));
    Ok(())
}

/// ```text
/// RENAME key newkey
/// ```
fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match ctx.srv.colls.rename_key(&ctx.key(&args[1]), &ctx.key(&args[2]), false)? {
        None => Err(CmdError::no_such_key()),
        Some(_) => {
            ctx.out.ok();
            Ok(())
        }
    }
}

/// ```text
/// RENAMENX key newkey
/// ```
fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match ctx.srv.colls.rename_key(&ctx.key(&args[1]), &ctx.key(&args[2]), true)? {
        None => Err(CmdError::no_such_key()),
        Some(done) => {
            ctx.out.int(done as i64);
            Ok(())
        }
    }
}

/// ```text
/// COPY source destination [DB destination-db] [REPLACE]
/// ```
fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut db = ctx.s.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "REPLACE") {
            replace = true;
        } else if is(&args[i], "DB") && i + 1 < args.len() {
            let n = int_arg(&args[i + 1])?;
            if n < 0 || n >= ctx.srv.config.read().databases as i64 {
                return Err(CmdError::err("DB index is out of range"));
            }
            db = n as u8;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let src = ctx.key(&args[1]);
    let dst = db_key(db, &args[2]);
    if src == dst {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let done = ctx.srv.colls.copy_key(&src, &dst, replace)?;
    ctx.out.int(done as i64);
    Ok(())
}

/// EXPIRE-family flags.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireFlag {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

fn expire_generic(ctx: &mut Ctx<'_>, args: &[Bytes], unit_ms: i64, absolute: bool, command: &str) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if is(a, "GT") {
            gt = true;
        } else if is(a, "LT") {
            lt = true;
        } else {
            return Err(CmdError::err(format_args!("Unsupported option {}", show_all(a))));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::err("NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(CmdError::err("GT and LT options at the same time are not compatible"));
    }
    // As in Redis, the options are checked before the time.
    let n = int_arg(&args[2])?;
    let flag = if nx {
        ExpireFlag::Nx
    } else if gt {
        ExpireFlag::Gt
    } else if lt {
        ExpireFlag::Lt
    } else if xx {
        ExpireFlag::Xx
    } else {
        ExpireFlag::None
    };
    let invalid = || CmdError::err(format_args!("invalid expire time in '{command}' command"));
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let when = if absolute { ms } else { ms.checked_add(ctx.now_ms() as i64).ok_or_else(invalid)? };
    // A time at or before the epoch is simply in the past: the key goes away at once.
    let when = when.max(1) as u64;
    let past = when <= ctx.now_ms();
    let set = ctx.srv.colls.expire_if(&ctx.key(&args[1]), |cur| {
        let ok = match (flag, cur) {
            (ExpireFlag::None, _) => true,
            (ExpireFlag::Nx, c) => c.is_none(),
            (ExpireFlag::Xx, c) => c.is_some(),
            // A persistent key has an infinite TTL: never less than, always greater than.
            (ExpireFlag::Gt, None) => false,
            (ExpireFlag::Gt, Some(c)) => when > c,
            (ExpireFlag::Lt, None) => true,
            (ExpireFlag::Lt, Some(c)) => when < c,
        };
        if xx && ok && cur.is_none() {
            return ExpireDecision::Keep;
        }
        match (ok, past) {
            // As Redis does, a time already past deletes the key (after the NX/XX/GT/LT checks).
            (true, true) => ExpireDecision::Delete,
            (true, false) => ExpireDecision::Set(Some(when)),
            (false, _) => ExpireDecision::Keep,
        }
    })?;
    ctx.out.int(set as i64);
    Ok(())
}

/// ```text
/// EXPIRE key seconds [NX | XX | GT | LT]
/// ```
fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, false, "expire")
}

/// ```text
/// PEXPIRE key milliseconds [NX | XX | GT | LT]
/// ```
fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, false, "pexpire")
}

/// ```text
/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
/// ```
fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, true, "expireat")
}

/// ```text
/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
/// ```
fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

fn ttl_generic(ctx: &mut Ctx<'_>, args: &[Bytes], ms: bool, absolute: bool) -> CmdResult {
    let t = ctx.srv.colls.ttl(&ctx.key(&args[1]))?;
    let n = match t {
        KeyTtl::Missing => -2,
        KeyTtl::Persistent => -1,
        KeyTtl::ExpiresAt(at) if absolute => {
            if ms {
                at as i64
            } else {
                (at / 1000) as i64
            }
        }
        KeyTtl::ExpiresAt(at) => {
            let left = at.saturating_sub(ctx.now_ms()) as i64;
            if ms {
                left
            } else {
                (left + 500) / 1000
            }
        }
    };
    ctx.out.int(n);
    Ok(())
}

/// ```text
/// TTL key
/// ```
fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

/// ```text
/// PTTL key
/// ```
fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

/// ```text
/// EXPIRETIME key
/// ```
fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

/// ```text
/// PEXPIRETIME key
/// ```
fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

/// ```text
/// PERSIST key
/// ```
fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let done = ctx.srv.colls.expire_if(&ctx.key(&args[1]), |cur| match cur {
        Some(_) => ExpireDecision::Set(None),
        None => ExpireDecision::Keep,
    })?;
    ctx.out.int(done as i64);
    Ok(())
}

/// ```text
/// KEYS pattern
/// ```
fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pat = &args[1];
    let db = [ctx.s.db];
    let lit = literal_prefix(pat);
    let start = db_key(ctx.s.db, &lit);
    let mut found = Vec::new();
    for r in ctx.srv.colls.keys_in(&db, Some(&start)) {
        let (k, _) = r?;
        let user = &k[1..];
        if !user.starts_with(&lit) {
            break;
        }
        if matches_all(pat) || glob_match(pat, user, false) {
            found.push(user.to_vec());
        }
    }
    ctx.out.bulks(&found);
    Ok(())
}

/// Parses a scan cursor like Redis's `parseScanCursorOrReply` (C `strtoul` in base 10):
/// optional sign (a negative number wraps around), digits; the empty string is cursor 0;
/// no leading space, no trailing bytes, no overflow. Shared by SCAN, HSCAN, SSCAN, ZSCAN.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("invalid cursor");
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul parses nothing: fine only if there was nothing at all.
        return if arg.is_empty() { Ok(0) } else { Err(invalid()) };
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        n = n.checked_mul(10).and_then(|n| n.checked_add((c - b'0') as u64)).ok_or_else(invalid)?;
    }
    Ok(if neg { n.wrapping_neg() } else { n })
}

/// ```text
/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
/// ```
fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1])?;
    let mut pattern: Option<Bytes> = None;
    let mut count = 10usize;
    let mut kind: Option<Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::syntax());
        }
        if is(&args[i], "MATCH") {
            pattern = Some(args[i + 1].clone());
        } else if is(&args[i], "COUNT") {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(CmdError::syntax());
            }
            count = n.min(1 << 20) as usize;
        } else if is(&args[i], "TYPE") {
            kind = Some(args[i + 1].clone());
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    let db = [ctx.s.db];
    let lit = pattern.as_deref().map(literal_prefix).unwrap_or_default();
    let resume = match ctx.srv.cursors.lookup(cursor) {
        CursorLookup::Start | CursorLookup::Evicted => None,
        CursorLookup::At(p) => Some(p),
        CursorLookup::Foreign => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return Ok(());
        }
    };
    let start = resume.clone().unwrap_or_else(|| db_key(ctx.s.db, &lit));
    let mut items = Vec::new();
    let mut examined = 0;
    let mut last: Option<Vec<u8>> = None;
    let mut done = true;
    for r in ctx.srv.colls.keys_in(&db, Some(&start)) {
        let (k, _) = r?;
        if resume.as_ref() == Some(&k) {
            continue;
        }
        if !k[1..].starts_with(&lit) {
            break;
        }
        if examined >= count {
            done = false;
            break;
        }
        examined += 1;
        let user = &k[1..];
        let matches = pattern.as_ref().is_none_or(|p| matches_all(p) || glob_match(p, user, false));
        let type_ok = match &kind {
            None => true,
            Some(t) if matches => {
                ctx.srv.colls.key_type(&k)?.is_some_and(|kt| kt.as_str().as_bytes().eq_ignore_ascii_case(t))
            }
            Some(_) => false,
        };
        if matches && type_ok {
            items.push(user.to_vec());
        }
        last = Some(k);
    }
    let next = match (done, last) {
        (false, Some(l)) => ctx.srv.cursors.put(l),
        _ => 0,
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.bulks(&items);
    Ok(())
}

/// ```text
/// RANDOMKEY
/// ```
fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let db = [ctx.s.db];
    // Seek to a random position in the database's key range and take the next key, wrapping
    // around to the first one. Keys after large gaps are likelier; every key can come up.
    let mut start = vec![ctx.s.db];
    start.extend_from_slice(&random_bytes());
    let first = |from: Option<&[u8]>| -> Result<Option<Vec<u8>>, CmdError> {
        match ctx.srv.colls.keys_in(&db, from).next() {
            Some(r) => Ok(Some(r?.0)),
            None => Ok(None),
        }
    };
    let k = match first(Some(&start))? {
        Some(k) => Some(k),
        None => first(None)?,
    };
    ctx.out.opt_bulk(k.as_ref().map(|k| &k[1..]));
    Ok(())
}

fn random_bytes() -> [u8; 8] {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish().to_be_bytes()
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// How Redis would encode the string at `key` (`int`, `embstr`, `raw`), and its value when
/// that is `int`.
fn string_encoding(ctx: &Ctx<'_>, key: &[u8]) -> Result<(&'static str, Option<i64>), CmdError> {
    let v = ctx.srv.colls.str_get(key)?.unwrap_or_else(|| pmemkv::ValueRef::owned(b""));
    let form = ctx.srv.colls.str_form(key)?;
    Ok(if form == StringForm::ChangedInPlace {
        // Changed in place by APPEND or SETRANGE, as Redis's dbUnshareStringValue.
        ("raw", None)
    } else if let Some(n) =
        (form == StringForm::Plain && v.len() <= 20).then(|| crate::protocol::request::parse_int(&v)).flatten()
    {
        ("int", Some(n))
    } else if v.len() <= 44 {
        ("embstr", None)
    } else {
        ("raw", None)
    })
}

/// ```text
/// OBJECT ENCODING key | IDLETIME key | REFCOUNT key | FREQ key | HELP
/// ```
fn object(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "HELP") {
        if args.len() != 2 {
            return Err(CmdError::err("wrong number of arguments for 'object|help' command"));
        }
        ctx.out.array(OBJECT_HELP.len());
        for l in OBJECT_HELP {
            ctx.out.simple(l);
        }
        return Ok(());
    }
    let known = ["ENCODING", "IDLETIME", "REFCOUNT", "FREQ"].iter().any(|s| is(sub, s));
    if !known {
        return Err(CmdError::unknown_subcommand(sub, "object"));
    }
    if args.len() != 3 {
        return Err(CmdError::err(format_args!(
            "wrong number of arguments for 'object|{}' command",
            show(sub).to_ascii_lowercase()
        )));
    }
    let key = ctx.key(&args[2]);
    let Some(t) = ctx.srv.colls.key_type(&key)? else {
        ctx.out.null();
        return Ok(());
    };
    if is(sub, "ENCODING") {
        let enc = match t {
            KeyType::String => string_encoding(ctx, &key)?.0,
            KeyType::Hash => super::hashes::object_encoding(&ctx.srv.colls, &key)?,
            KeyType::Set => super::sets::object_encoding(&ctx.srv.colls, &key)?,
            KeyType::List => "quicklist",
            KeyType::ZSet => super::zsets::object_encoding(&ctx.srv.colls, &key)?,
            KeyType::Stream => "stream",
        };
        ctx.out.bulk(enc.as_bytes());
    } else if is(sub, "IDLETIME") {
        // Access times are not tracked (reads never write); every key reads as just used.
        ctx.out.int(0);
    } else if is(sub, "REFCOUNT") {
        // Redis shares the objects of the integers 0..9999 (OBJ_SHARED_INTEGERS) among all
        // keys, with the refcount OBJ_SHARED_REFCOUNT. (Not after COPY, which gives the copy
        // an object of its own: the stored form does not record a copy, so it reads shared.)
        let shared = t == KeyType::String && string_encoding(ctx, &key)?.1.is_some_and(|n| (0..10_000).contains(&n));
        ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
    } else {
        return Err(CmdError::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    Ok(())
}
